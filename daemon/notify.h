/* SPDX-License-Identifier: MIT */
/*
 * notify.h - the controller's word to its own service manager, by the
 * sd_notify(3) protocol: one datagram to $NOTIFY_SOCKET, a path or an
 * abstract name ('@').  Nothing is sent when it is not set.
 *
 *   STATUS=starting...            when the controller starts
 *   READY=1 + STATUS=running...   once it serves and sysadm.ini is done
 *   STATUS=running: N groups...   whenever the count of groups or actors
 *                                 changes
 *   STATUS=site restart...        before a site restart's fresh controller
 *   STOPPING=1 + STATUS=...       when it stops: asked to, or the site failed
 *
 * Actors never see the manager's socket: spawn.c gives them the site's.
 */
#ifndef HRD_NOTIFY_H
#define HRD_NOTIFY_H

struct hrd;

/* One message (lines of KEY=VALUE) to $NOTIFY_SOCKET; best effort. */
void hrd_notify(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* STATUS=running: N groups, M actors, if that changed since last said. */
void hrd_notify_status(const struct hrd *d);

#endif
