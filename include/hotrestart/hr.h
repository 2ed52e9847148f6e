/*
 * hotrestart/hr.h - native interface to a site's Hot Restart Controller.
 *
 * Every call talks to the controller of a site (NULL: $HR_SITE or the
 * default site) over its control socket and returns a value >= 0 or a
 * negative code: -errno (-ECONNREFUSED or -ENOENT when no controller runs,
 * -EPERM for a caller without the right, -ESRCH for an unknown actor or
 * group, -ENOEXEC for a file that cannot be run, -EBADMSG for a garbled
 * exchange, -EAGAIN when the controller did not answer within 30 s) or a
 * K_E... code from the persistent memory manager.
 *
 * Inside an actor the controller sets HR_SITE, HR_GROUP, HR_ACTOR (its
 * name) and HR_RESTARTS (how often its group has been restarted).
 */
#ifndef HOTRESTART_HR_H
#define HOTRESTART_HR_H

#include <stddef.h>
#include <sys/types.h>

#include <hotrestart/pmm.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The controller's pid if it runs. */
PMM_API int hr_ping(const char *site);
/* Start a direct actor in group: the file at path (opened by the caller, so
 * with the caller's rights) is stored as the actor's image; argv and envp
 * are stored too and replayed at every restart.  Returns its pid. */
PMM_API int hr_arun(const char *site, int group, const char *path,
                    char *const argv[], char *const envp[]);
/* hrfexec: start (or, after a group restart, start again from its stored
 * image) the indirect actor `name` in the caller's group, with the caller's
 * standard streams.  Only an actor may call it.  Returns its pid. */
PMM_API int hr_spawn(const char *name, const char *path, char *const argv[],
                     char *const envp[]);
/* Mark the calling actor's next exit as clean. */
PMM_API int hr_exit_hdl(void);
/* Kill group for good; its images and HR_GROUP_KEY blocks are freed.  An
 * unused group is not an error. */
PMM_API int hr_kill_group(const char *site, int group);
/* The group of a running actor. */
PMM_API int hr_actor_group(const char *site, pid_t pid);
/* Kill an actor as a failure: its group restarts. */
PMM_API int hr_akill(const char *site, pid_t pid);
/* Groups and actors into buf, as JSON or (text != 0) as a table; returns
 * its length. */
PMM_API int hr_ps(const char *site, int text, char *buf, size_t cap);
/* Stop every actor and the controller; persistent memory is kept. */
PMM_API int hr_stop(const char *site);
/* Restart the site: every actor stops, a fresh controller runs the start-up
 * file (without its arun lines) and starts every group again.  Returns once
 * asked; the new controller's generation is one more. */
PMM_API int hr_site_restart(const char *site);
/* The controller's state and counters as JSON: state, controller_pid,
 * generation, group_restarts, site_restarts, groups, max_badness, interval. */
PMM_API int hr_info(const char *site, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
