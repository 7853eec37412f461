/*
 * appointments_internal.h - what the files of src/appointments share and
 * nobody else uses.
 */
#ifndef KR_APPOINTMENTS_INTERNAL_H
#define KR_APPOINTMENTS_INTERNAL_H

#include "appointments/appointments.h"

#define APPT_MAX_INTERVALS 8  /* opening intervals per weekday or exception day */
#define APPT_MAX_RESOURCES 64 /* resources of one location that serve a request */

struct appt_interval {
    int opens, closes; /* minutes of the day; opens < 0: closed all day */
};

struct appt_exception {
    int64_t day;
    struct appt_interval iv;
};

/* Everything the slot computation needs for a location, a request and a
 * range of days, loaded with a handful of queries. */
struct appt_plan {
    struct appointments_location loc;
    int total_minutes; /* sum of the services' durations */
    int need_steps;    /* steps the appointment itself takes */
    int hold_steps;    /* steps claimed: duration plus buffer */
    int64_t resources[APPT_MAX_RESOURCES];
    size_t resource_count;
    struct appt_interval hours[8][APPT_MAX_INTERVALS]; /* [weekday 1-7] */
    size_t hours_count[8];
    struct appt_exception *exceptions;
    size_t exception_count;
    int64_t *holidays; /* local holiday days */
    size_t holiday_count;
    int64_t first_day, last_day;
    int steps_per_day;         /* 1440 / step_minutes + 1 */
    unsigned char *busy_all;   /* claimed: [day - first_day][resource][step] */
    const unsigned char *busy; /* the day being looked at, into busy_all */
};

/* Check want (services distinct, valid ids) and load the plan for local
 * days first..last.  KR_ERR_NOT_FOUND for an unknown location or a service
 * it does not offer. */
int appt_plan_load(struct db_conn *conn, struct arena *a, const struct appointments_want *want,
                   int64_t first, int64_t last, struct appt_plan *p,
                   struct kr_error *err) KR_MUST_CHECK;

/* The free resources (their ids, at most APPT_MAX_RESOURCES) for an
 * appointment at starts_at; 0 when it is not a slot of the plan at all
 * (closed, off the grid) or all are taken.  *on_grid tells the two apart. */
size_t appt_plan_free_at(struct appt_plan *p, int64_t starts_at, int64_t *ids, bool *on_grid);

/* Today and the last bookable day, and the bookable time range. */
void appt_window(int64_t now, const struct appointments_policy *pol, int64_t *today,
                 int64_t *last_day, int64_t *lo, int64_t *hi);

/* Fill b->title from the catalogue (the id where a service is unknown). */
int appt_titles(struct db_conn *conn, struct arena *a, struct appointments_booking *b,
                struct kr_error *err) KR_MUST_CHECK;

/* Random code "T" + 10 characters. */
void appt_code_new(char code[APPOINTMENTS_CODE_LEN]);

/* Mail texts (ical.c): subject and body in a for kind "confirm_link",
 * "confirmed", "cancelled", "moved", "reminder"; link is the URL to put
 * in (confirmation or personal link). */
int appt_mail_text(struct arena *a, const char *kind, const struct appointments_booking *b,
                   const char *link, char **subject, char **text,
                   struct kr_error *err) KR_MUST_CHECK;

/* "Dienstag, 3. März 2026, 09:15 Uhr" in local time, in a. */
char *appt_format_when(struct arena *a, int64_t t, const char *lang);

#endif
