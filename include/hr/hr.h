/*
 * hr/hr.h - the ChorusOS 4.0 Hot Restart interface.
 *
 * For now it carries the restart-group deletion key; the controller calls
 * (hrfexec*, HR_EXIT_HDL, hrKillGroup, hrGetActorGroup) come with the
 * controller.
 */
#ifndef CHORUS_HR_HR_H
#define CHORUS_HR_HR_H

#include <pmm/chPmm.h>

#endif
