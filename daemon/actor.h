/* SPDX-License-Identifier: MIT */
/*
 * actor.h - the life of one actor, below its group's (group.h): the table
 * of actor state x event, starting an actor, and what the controller does
 * to every actor at once (stop them all, adopt those a previous controller
 * left).  Every change of an actor's state goes through hrd_actor_event();
 * a group's state is group.c's alone, and nothing here raises a group
 * event.
 */
#ifndef HRD_ACTOR_H
#define HRD_ACTOR_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct hrd;
struct hr_reg_actor;

/* What happens to an actor.  Its next state depends on the event alone
 * (the table actor_next of actor.c). */
enum hrd_actor_event {
    AE_REGISTERED, /* stopped until started */
    AE_STARTED,    /* forked */
    AE_KILLED,     /* SIGKILL sent, not reaped yet */
    AE_HALTED,     /* not running, its group stopped it */
    AE_EXITED,     /* exited after HR_EXIT_HDL */
    AE_FAILED,     /* died otherwise */
    AE_FORGOTTEN,  /* unregistered: slot free */
    AE_COUNT
};

/* Raise ev on the actor in slot: its next state, and what goes with it
 * (pid: the forked one, for AE_STARTED). */
void hrd_actor_event(struct hrd *d, int slot, enum hrd_actor_event ev, pid_t pid);
/* The table, a cell a line ("actor STATE EVENT -> NEXT"), for hrd
 * --tables and the test that checks every cell. */
void hrd_actor_table_print(FILE *f);
/* Start a registered actor with stdio (NULL: /dev/null and the console):
 * its pid once exec'd, or -errno. */
int hrd_start_actor(struct hrd *d, int slot, const int stdio[3]);
/* The actor in slot said HR_EXIT_HDL: its next exit is clean. */
void hrd_actor_exit_hdl(struct hrd *d, int slot);
/* An actor's stop timeout in ms: its own (hr arun --stop-timeout), else
 * the site's. */
uint32_t hrd_actor_stop_ms(const struct hrd *d, const struct hr_reg_actor *a);
/* How many members of group are dying (killed, not reaped yet). */
int hrd_members_dying(struct hrd *d, int group);
/* A failure of actor a (pid, its wait status) kept as its group's last;
 * logged unless quiet (the caller then says what comes of it). */
void hrd_record_failure(struct hrd *d, const struct hr_reg_actor *a, pid_t pid,
                        int status, int quiet);
/* Stop or site restart, a turn of the loop at a time (ending.c): begin
 * signals every running actor's tree (SIGTERM, its stop timeout, then
 * SIGKILL), standbys and upgrade trials killed at once; each step reaps
 * what died and sends the SIGKILLs due, and says -1 once none is left (or
 * HRD_KILL_WAIT_S after the last SIGKILL), else the ms to wait at most
 * before the next step; end ends whatever else is left. */
void hrd_kill_all_begin(struct hrd *d);
int hrd_kill_all_step(struct hrd *d);
void hrd_kill_all_end(struct hrd *d);
/* At start: end what the previous controller left running and mark every
 * actor stopped. */
void hrd_actors_adopt(struct hrd *d);

#endif
