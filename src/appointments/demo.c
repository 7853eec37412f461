/*
 * demo.c - the appointment offices of the demo county (seed-demo): the
 * vehicle registration with four counters, the driving licence office and
 * a citizens' office, linked to the services of data/catalogue.
 */
#include "appointments/appointments_internal.h"

#include <string.h>

#include "accounts/accounts.h"

struct demo_service {
    const char *id;
    int minutes;
};

struct demo_location {
    struct appointments_new_location loc;
    const char *unit_code;
    int counters;
    const char *counter_name;
    struct demo_service services[12];
    struct {
        int weekday, opens, closes;
    } hours[10];
};

#define H(h, m) ((h)*60 + (m))

static const struct demo_location demo[] = {
    {{"zulassungsstelle", "Kfz-Zulassungsstelle Musterstadt", "Vehicle registration Musterstadt",
      "Kreishaus, Am Markt 1, 12345 Musterstadt",
      "Bus 5 und 12 bis Haltestelle Kreishaus; Parkplätze hinter dem Haus.",
      "Stufenloser Eingang, Aufzug, Behindertenparkplatz, Schalter mit Induktionsschleife.", "NI",
      0, 10, 0},
     "36.1",
     4,
     "Schalter",
     {{"kfz-zulassung", 20},
      {"kfz-umschreibung", 20},
      {"kfz-ausserbetriebsetzung", 10},
      {"kfz-wunschkennzeichen", 10},
      {"kfz-kurzzeitkennzeichen", 20},
      {"kfz-saisonkennzeichen", 20},
      {"kfz-ausfuhrkennzeichen", 20},
      {"kfz-fahrzeugpapiere-verloren", 30},
      {"kfz-oldtimer-kennzeichen", 20},
      {"kfz-adressaenderung", 10}},
     {{1, H(7, 30), H(12, 30)},
      {2, H(7, 30), H(12, 30)},
      {2, H(14, 0), H(18, 0)},
      {3, H(7, 30), H(12, 30)},
      {4, H(7, 30), H(12, 30)},
      {4, H(14, 0), H(17, 30)},
      {5, H(7, 30), H(12, 0)}}},
    {{"fuehrerscheinstelle", "Führerscheinstelle Musterstadt", "Driving licences Musterstadt",
      "Kreishaus, Am Markt 1, 12345 Musterstadt (Erdgeschoss, Raum 012)",
      "Bus 5 und 12 bis Haltestelle Kreishaus.", "Stufenloser Eingang, Aufzug.", "NI", 0, 15, 5},
     "36.2",
     2,
     "Platz",
     {{"fuehrerschein-ersterteilung", 30},
      {"fuehrerschein-umtausch", 15},
      {"fuehrerschein-international", 15},
      {"fuehrerschein-ersatz", 15},
      {"fuehrerschein-bf17", 30},
      {"fuehrerschein-neuerteilung", 30},
      {"fuehrerschein-auslaendisch", 30}},
     {{1, H(8, 0), H(12, 0)},
      {2, H(8, 0), H(12, 0)},
      {2, H(14, 0), H(18, 0)},
      {4, H(8, 0), H(12, 0)},
      {5, H(8, 0), H(12, 0)}}},
    {{"buergerbuero-nord", "Bürgerbüro Nord", "Citizens' office North",
      "Rathausplatz 3, 12399 Nordheim", "Regionalbahn bis Nordheim, 5 Minuten Fußweg.",
      "Eingang mit Rampe; bitte klingeln.", "NI", 0, 15, 0},
     "32",
     2,
     "Beratungsplatz",
     {{"verkehr-parkausweis", 15},
      {"sozial-schwerbehindertenausweis", 30},
      {"wohngeld", 30},
      {"kfz-adressaenderung", 15},
      {"abfall-sperrmuell", 15}},
     {{1, H(8, 0), H(12, 0)},
      {3, H(8, 0), H(12, 0)},
      {3, H(14, 0), H(16, 0)},
      {4, H(8, 0), H(12, 0)}}},
};

static int seed_location(struct db_conn *conn, struct arena *a, const struct demo_location *d,
                         struct kr_error *err)
{
    struct appointments_new_location l = d->loc;
    struct account_org_unit unit;
    if (accounts_org_unit_find(conn, a, d->unit_code, &unit, err) == KR_OK)
        l.unit_id = unit.id;
    int64_t id;
    int rc = appointments_location_add(conn, "cli:seed-demo", &l, &id, err);
    const char *ids[12];
    size_t n = 0;
    for (; n < 12 && d->services[n].id; n++) {
        ids[n] = d->services[n].id;
        if (rc == KR_OK)
            rc = appointments_duration_set(conn, id, ids[n], d->services[n].minutes, err);
    }
    for (int c = 1; rc == KR_OK && c <= d->counters; c++) {
        char name[64];
        (void)snprintf(name, sizeof(name), "%s %d", d->counter_name, c);
        rc = appointments_resource_add(conn, id, name, ids, n, NULL, err);
    }
    for (size_t i = 0; rc == KR_OK && i < 10 && d->hours[i].weekday; i++)
        rc = appointments_hours_add(conn, id, d->hours[i].weekday, d->hours[i].opens,
                                    d->hours[i].closes, err);
    return rc;
}

int appointments_seed_demo(struct db_conn *conn, struct kr_error *err)
{
    struct arena *a = arena_new(0);
    if (!a)
        return kr_error_set(err, KR_ERR_NOMEM, "out of memory");
    int rc = KR_OK;
    for (size_t i = 0; rc == KR_OK && i < KR_ARRAY_LEN(demo); i++)
        rc = seed_location(conn, a, &demo[i], err);
    arena_free(a);
    return rc;
}
