/*
 * appointments_http.h - the appointment pages, staff pages and JSON API.
 *
 * Public (no JavaScript; one choice per page):
 *   /termine                                   services that can be booked
 *   /termine/orte?leistungen=a,b               locations offering them
 *   /termine/tage?ort=X&leistungen=a,b         days with free slots
 *   /termine/zeiten?ort=X&leistungen=..&tag=D  free times of a day
 *   /termine/angaben?...&beginn=T              details form; POST /termine/buchen
 *   /termine/bestaetigen/:code?token=          confirm (button, POST)
 *   /termine/buchung/:code?s=SIG               the personal link: cancel, move,
 *                                              .ics (termin.ics)
 *   /termine/meine                             an account's appointments, feed
 *   /termine/feed/:account/:sig                the account's iCalendar feed
 * Staff (clerk of the location's unit, or admin):
 *   /verwaltung/termine[/:ort[?tag=D]]         day view, check-in, no-show,
 *                                              block, book for a caller
 *   /verwaltung/termine-statistik              figures
 * API (problem+json errors):
 *   GET /api/appointments/locations[?service=]
 *   GET /api/appointments/slots?location=&services=a,b[&day=]
 *   POST /api/appointments/bookings            JSON body, anonymous (e-mail
 *                                              confirmation); 409 with next_free
 *   GET /api/appointments/bookings             the session user's bookings
 *   GET/DELETE /api/appointments/bookings/:code?s=SIG
 */
#ifndef KR_APPOINTMENTS_APPOINTMENTS_HTTP_H
#define KR_APPOINTMENTS_APPOINTMENTS_HTTP_H

#include "appointments/appointments.h"
#include "http/http.h"

struct http_server;

int appointments_http_routes(struct http_server *s, struct kr_error *err) KR_MUST_CHECK;

/* ---- Shared by the three files of the HTTP layer ----------------------------- */

/* The policy from the request's configuration. */
void appt_http_policy(struct http_request *req, struct appointments_policy *out);

/* Parse "a,b" (1-5 distinct service ids) into w->services (arena copies);
 * KR_ERR_NOT_FOUND for a missing or malformed list. */
int appt_http_services(struct http_request *req, const char *text, struct appointments_want *w,
                       struct kr_error *err) KR_MUST_CHECK;

/* The catalogue title of service id in the request's language (the id when
 * the catalogue does not know it). */
const char *appt_http_title(struct http_request *req, struct db_conn *conn, const char *id);

/* A booking as JSON for pages and the API (times as RFC 3339 and as local
 * text). */
json_t *appt_http_booking_json(struct http_request *req, const struct appointments_booking *b);

/* The slots as JSON (id = start in Unix seconds, local time text). */
json_t *appt_http_slots_json(struct http_request *req, const struct appointments_slot *s, size_t n);

/* http_render after adding "has_X" (true/false) next to every array X of
 * ctx, at every depth, for the templates' "is the list empty" tests. */
int appt_http_render(struct http_request *req, unsigned status, const char *name,
                     json_t *ctx) KR_MUST_CHECK;

#endif
