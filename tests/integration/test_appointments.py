"""Online appointments over HTTP against the real server: the public steps
without JavaScript, e-mail confirmation (twice), the signed personal link
(tampered, cancel, move, calendar file), bookings of an account and its
feed, the staff day view with check-in, bad input, the JSON API, and 200
concurrent bookings of one slot of capacity 1: exactly one wins, 199 get
"slot just taken" with the next free slots.  Run once per backend by
scripts/test-all."""
import concurrent.futures
import json
import re
import threading
import unittest
import urllib.parse

from harness import Client, Database, Server, run_cli


def seed(db):
    out = run_cli(db, "migrate")
    assert out.returncode == 0, out.stderr
    out = run_cli(db, "seed-demo")
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


class AppointmentsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        out = seed(cls.db)
        cls.clerk_password = re.search(r"k\.zulassung\n  password: (\S+)", out).group(1)
        cls.citizen_password = re.search(
            r"erika\.mustermann@musterland\.example\n  password: (\S+)", out).group(1)
        # One counter only at the driving licence office: capacity 1.
        cls.db.sql("UPDATE appointment_resource SET active = 0 WHERE name = 'Platz 2'")
        cls.server = Server(cls.db, env={"KREISEL_TRUSTED_PROXIES": "127.0.0.1",
                                         "KREISEL_THREADS": "8"})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    # -- helpers ---------------------------------------------------------------
    def api(self, path, status=200):
        r = self.server.request("GET", path)
        self.assertEqual(r.status, status, r.text[:300])
        return r.json()

    def first_day(self, location, services):
        body = self.api("/api/appointments/slots?location=%s&services=%s" % (location, services))
        self.assertTrue(body["days"], body)
        return body["days"]

    def slots(self, location, services, day):
        return self.api("/api/appointments/slots?location=%s&services=%s&day=%s"
                        % (location, services, day))["slots"]

    def post_json(self, path, obj, ip="203.0.113.9"):
        return self.server.request("POST", path, body=json.dumps(obj),
                                   headers={"Content-Type": "application/json",
                                            "X-Forwarded-For": ip})

    def mail_body(self, address):
        return self.db.sql("SELECT body FROM mail_message WHERE recipient = '%s' ORDER BY id"
                           % address)

    def status_of(self, code):
        return self.db.sql("SELECT status FROM appointment_booking WHERE code = '%s'" % code)

    # -- the public steps -----------------------------------------------------
    def test_web_booking_confirm_cancel(self):
        c = Client(self.server)
        r = c.get("/termine")
        self.assertEqual(r.status, 200)
        self.assertIn("/termine/orte?leistungen=kfz-zulassung", r.text)
        r = c.get("/termine/orte?leistungen=kfz-zulassung")
        self.assertIn("/termine/tage?ort=zulassungsstelle", r.text)
        r = c.get("/termine/tage?ort=zulassungsstelle&leistungen=kfz-zulassung")
        days = re.findall(r"tag=(\d{4}-\d\d-\d\d)", r.text)
        self.assertTrue(days)
        r = c.get("/termine/zeiten?ort=zulassungsstelle&leistungen=kfz-zulassung&tag=" + days[-1])
        starts = re.findall(r"beginn=(\d+)", r.text)
        self.assertTrue(starts)
        r = c.get("/termine/angaben?ort=zulassungsstelle&leistungen=kfz-zulassung&beginn="
                  + starts[0])
        self.assertEqual(r.status, 200)
        form = {"ort": "zulassungsstelle", "leistungen": "kfz-zulassung", "beginn": starts[0],
                "name": "Max Mustermann", "email": "max.web@example.org", "phone": ""}
        r = c.post("/termine/buchen", form)
        self.assertEqual(r.status, 200, r.text[:500])
        code = re.search(r"(T[A-Z0-9]{10})", r.text).group(1)
        self.assertEqual(self.status_of(code), "pending")
        body = self.mail_body("max.web@example.org")
        link = re.search(r"https?://\S+/termine/bestaetigen/(\S+)", body).group(0)
        path = urllib.parse.urlsplit(link)
        token = urllib.parse.parse_qs(path.query)["token"][0]
        # A wrong token changes nothing.
        r = c.get(path.path + "?token=" + token)
        self.assertEqual(r.status, 200)
        r = c.post(path.path, {"token": "0" * 64})
        self.assertEqual(r.status, 404)
        self.assertEqual(self.status_of(code), "pending")
        r = c.post(path.path, {"token": token})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.status_of(code), "confirmed")
        manage = re.search(r'href="(/termine/buchung/[^"]+)"', r.text).group(1).replace("&amp;",
                                                                                         "&")
        # The second click: nothing changed, a clear message.
        r = c.post(path.path, {"token": token})
        self.assertEqual(r.status, 200)
        self.assertIn("bereits bestätigt", r.text)
        self.assertEqual(self.db.sql(
            "SELECT COUNT(*) FROM mail_message WHERE recipient = 'max.web@example.org'"), "2")
        # The confirmation mail carries a calendar.
        ics = self.db.sql("SELECT COUNT(*) FROM mail_attachment a JOIN mail_message m "
                          "ON m.id = a.mail_id WHERE m.recipient = 'max.web@example.org'")
        self.assertEqual(ics, "1")
        # The personal link: a tampered signature is refused and changes nothing.
        sig = urllib.parse.parse_qs(urllib.parse.urlsplit(manage).query)["s"][0]
        bad = manage.replace(sig, ("1" if sig[0] != "1" else "2") + sig[1:])
        self.assertEqual(c.get(bad).status, 403)
        r = c.post("/termine/buchung/%s/absagen" % code, {"s": "f" * 64})
        self.assertEqual(r.status, 403)
        self.assertEqual(self.status_of(code), "confirmed")
        r = c.get(manage)
        self.assertEqual(r.status, 200)
        self.assertIn(code, r.text)
        r = c.get("/termine/buchung/%s/termin.ics?s=%s" % (code, sig))
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/calendar"))
        self.assertIn("BEGIN:VEVENT\r\n", r.text)
        # Move, then cancel (twice: the second is refused).
        r = c.get("/termine/buchung/%s/verlegen?s=%s&tag=%s" % (code, sig, days[-1]))
        self.assertEqual(r.status, 200)
        other = [s for s in re.findall(r'name="beginn" value="(\d+)"', r.text) if s != starts[0]]
        r = c.post("/termine/buchung/%s/verlegen" % code, {"s": sig, "beginn": other[-1]})
        self.assertEqual(r.status, 303, r.text[:300])
        self.assertEqual(self.db.sql("SELECT starts_at FROM appointment_booking WHERE code = '%s'"
                                     % code), other[-1])
        r = c.post("/termine/buchung/%s/absagen" % code, {"s": sig})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.status_of(code), "cancelled")
        r = c.post("/termine/buchung/%s/absagen" % code, {"s": sig})
        self.assertEqual(r.status, 409)

    def test_bad_input(self):
        c = Client(self.server)
        self.assertEqual(c.get("/termine/orte?leistungen=gibt-es-nicht").status, 404)
        self.assertEqual(c.get("/termine/orte?leistungen=../etc").status, 404)
        self.assertEqual(c.get("/termine/tage?ort=nirgendwo&leistungen=kfz-zulassung").status,
                         404)
        self.assertEqual(c.get("/termine/zeiten?ort=zulassungsstelle&leistungen=kfz-zulassung"
                               "&tag=2020-01-01").status, 400)
        self.assertEqual(c.get("/termine/zeiten?ort=zulassungsstelle&leistungen=kfz-zulassung"
                               "&tag=2099-01-01").status, 400)
        self.assertEqual(c.get("/termine/zeiten?ort=zulassungsstelle&leistungen=kfz-zulassung"
                               "&tag=2025-02-30").status, 400)
        c.get("/termine")
        before = self.db.sql("SELECT COUNT(*) FROM appointment_booking")
        for start in ("123", "99999999999", "abc", ""):
            r = c.post("/termine/buchen", {"ort": "zulassungsstelle", "leistungen":
                                           "kfz-zulassung", "beginn": start, "name": "X",
                                           "email": "x.bad@example.org"})
            self.assertIn(r.status, (400, 422), (start, r.status))
        day = self.first_day("zulassungsstelle", "kfz-zulassung")[-1]["day"]
        slot = self.slots("zulassungsstelle", "kfz-zulassung", day)[0]["id"]
        r = c.post("/termine/buchen", {"ort": "zulassungsstelle", "leistungen": "kfz-zulassung",
                                       "beginn": str(slot + 60), "name": "X",
                                       "email": "x.bad@example.org"})
        self.assertEqual(r.status, 422)
        r = c.post("/termine/buchen", {"ort": "zulassungsstelle", "leistungen": "kfz-zulassung",
                                       "beginn": str(slot), "name": "X", "email": "kein-at"})
        self.assertEqual(r.status, 422)
        self.assertIn('role="alert"', r.text)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM appointment_booking"), before)
        r = self.post_json("/api/appointments/bookings", {"location": "zulassungsstelle"})
        self.assertEqual(r.status, 404)
        self.assertTrue(r.headers["content-type"].startswith("application/problem+json"))
        r = self.server.request("POST", "/api/appointments/bookings", body="{nope",
                                headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)
        self.assertEqual(self.server.request("GET", "/api/appointments/bookings/TAAAAAAAAAA?s="
                                             + "0" * 64).status, 403)

    def test_account_booking_feed_and_staff(self):
        c = Client(self.server)
        r = c.login("erika.mustermann@musterland.example", self.citizen_password)
        self.assertIn(r.status, (200, 303))
        day = self.first_day("zulassungsstelle", "kfz-umschreibung")[-2]["day"]
        slot = self.slots("zulassungsstelle", "kfz-umschreibung", day)[0]["id"]
        c.get("/termine/angaben?ort=zulassungsstelle&leistungen=kfz-umschreibung&beginn=%d"
              % slot)
        r = c.post("/termine/buchen", {"ort": "zulassungsstelle", "leistungen":
                                       "kfz-umschreibung", "beginn": str(slot),
                                       "name": "Erika Mustermann", "email": ""})
        self.assertEqual(r.status, 303, r.text[:300])
        code = re.search(r"/termine/buchung/(T[A-Z0-9]{10})", r.headers["location"]).group(1)
        self.assertEqual(self.status_of(code), "confirmed")
        r = c.get("/termine/meine")
        self.assertIn(code, r.text)
        feed = re.search(r'value="https?://[^/"]+(/termine/feed/[^"]+)"', r.text).group(1)
        r = self.server.request("GET", feed)
        self.assertEqual(r.status, 200)
        self.assertIn("UID:%s@" % code, r.text)
        self.assertEqual(self.server.request("GET", feed.replace("/feed/", "/feed/9")).status,
                         403)
        api = self.server.request("GET", "/api/appointments/bookings",
                                  cookies=c.cookies).json()
        self.assertIn(code, [b["code"] for b in api["items"]])
        # Staff of the vehicle registration: day view and check-in.
        s = Client(self.server)
        s.login("k.zulassung", self.clerk_password)
        r = s.get("/verwaltung/termine/zulassungsstelle?tag=" + day)
        self.assertEqual(r.status, 200)
        self.assertIn("Erika Mustermann", r.text)
        r = s.post("/verwaltung/termine/zulassungsstelle/status",
                   {"code": code, "status": "checked_in", "tag": day})
        self.assertEqual(r.status, 200)
        self.assertEqual(self.status_of(code), "checked_in")
        r = s.post("/verwaltung/termine/zulassungsstelle/status",
                   {"code": code, "status": "no_show", "tag": day})
        self.assertEqual(r.status, 409)
        r = s.post("/verwaltung/termine/zulassungsstelle/buchen",
                   {"leistungen": "kfz-zulassung", "zeit": "07:30", "tag": day,
                    "name": "Anrufer", "phone": "0511 1234"})
        self.assertIn(r.status, (200, 409))
        self.assertEqual(s.get("/verwaltung/termine/fuehrerscheinstelle").status, 403)
        self.assertEqual(s.get("/verwaltung/termine-statistik").status, 200)
        self.assertEqual(c.get("/verwaltung/termine/zulassungsstelle").status, 403)

    # -- integrity under load ------------------------------------------------------
    def test_200_concurrent_bookings_of_one_slot(self):
        service = "fuehrerschein-umtausch"
        day = self.first_day("fuehrerscheinstelle", service)[-1]["day"]
        slots = self.slots("fuehrerscheinstelle", service, day)
        self.assertEqual(slots[0]["free"], 1)
        slot = slots[0]["id"]
        barrier = threading.Barrier(200)

        def book(i):
            barrier.wait()
            r = self.post_json("/api/appointments/bookings",
                               {"location": "fuehrerscheinstelle", "services": [service],
                                "slot": slot, "name": "Race %d" % i,
                                "email": "race%d@example.org" % i},
                               ip="198.51.%d.%d" % (i // 250, i % 250 + 1))
            return r.status, r.json()

        with concurrent.futures.ThreadPoolExecutor(200) as pool:
            results = list(pool.map(book, range(200)))
        statuses = [s for s, _ in results]
        self.assertEqual(statuses.count(201), 1, sorted(set(statuses)))
        self.assertEqual(statuses.count(409), 199)
        for status, body in results:
            if status == 409:
                self.assertTrue(body["next_free"])
                self.assertNotIn(slot, [s["id"] for s in body["next_free"]])
        self.assertEqual(self.db.sql(
            "SELECT COUNT(*) FROM appointment_booking b JOIN appointment_resource r "
            "ON r.id = b.resource_id WHERE b.starts_at = %d AND r.name = 'Platz 1' "
            "AND b.status = 'pending'" % slot), "1")


if __name__ == "__main__":
    unittest.main()
