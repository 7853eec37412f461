/*
 * fault.h - fault injection for tests (after SQLite's malloc/IO fault hooks).
 *
 * The allocator (arena, buf) and the storage layer ask kr_fault_hit() before
 * they act.  A test arms a site with a countdown N: the Nth call from then on
 * fails as if memory or the database had failed, and every later call
 * succeeds again.  Unarmed, kr_fault_hit() is one relaxed atomic load.
 * The state is process-global and meant for single-threaded unit tests.
 */
#ifndef KR_CORE_FAULT_H
#define KR_CORE_FAULT_H

#include <stdbool.h>

enum kr_fault_site {
    KR_FAULT_ALLOC,   /* arena_alloc, buf growth */
    KR_FAULT_DB_STEP, /* db_step and db_exec fail with KR_ERR_DB */
    KR_FAULT_SITE_COUNT
};

/* Make the countdown-th call (1 = the next) at site fail once. */
void kr_fault_arm(enum kr_fault_site site, long countdown);

/* Disarm all sites. */
void kr_fault_disarm(void);

/* True if this call at site must fail.  Cheap when nothing is armed. */
bool kr_fault_hit(enum kr_fault_site site);

/* How many times an armed fault fired since the last arm (tests check that
 * the Nth call was actually reached). */
long kr_fault_fired(enum kr_fault_site site);

#endif
