"""Case processing over HTTP: the clerk's inbox and case page (claim,
decide, stale decisions refused), authorisation between units, the
applicant's public timeline without internal notes, the anonymous status
lookup with its rate limit, escalation when the clock passes a deadline
(`kreisel workflow deadlines --at`), documents requested and uploaded,
and the figures for heads of unit."""
import json
import re
import time
import unittest
import uuid

import harness

PASSWORD = "Sachbearbeitung-2026-Kreis"


class WorkflowTest(harness.DemoCountyCase):
    STAFF = (("k.kita1", "51.1", "clerk"), ("k.kita2", "51.1", "clerk"),
             ("h.kita", "51.1", "head_of_unit"), ("k.verkehr", "36.1", "clerk"))
    STAFF_PASSWORD = PASSWORD

    def new_case(self, workflow="kita-anmeldung", data='{"care": "full"}'):
        """A fresh anonymous case (paper intake); returns number and secret."""
        r = harness.run_cli(self.db, "workflow", "open", workflow, "--email",
                            "antrag@example.org", "--data", data)
        self.assertEqual(r.returncode, 0, r.stderr)
        m = re.search(r"case: (\S+)\nsecret: (\S+)", r.stdout)
        return m.group(1), m.group(2)

    def erika_kita_case(self):
        """The demo citizen's day-care case (opened by seed-demo)."""
        r = self.citizen().get("/antraege")
        m = re.search(r"Vorgang (\d{4}-\d{6}): Anmeldung Kindertagesbetreuung", r.text)
        self.assertTrue(m, r.text)
        return m.group(1)

    def version_of(self, page):
        return re.search(r'name="version" value="(\d+)"', page).group(1)

    def test_claim_decide_and_stale_decision(self):
        one, two = self.staff("k.kita1"), self.staff("k.kita2")
        number, _ = self.new_case()
        self.assertIn(number, one.get("/verwaltung/vorgaenge?zustaendig=niemand").text)
        path = "/verwaltung/vorgaenge/" + number
        self.assertEqual(one.post(path + "/zuweisen", {}).status, 303)
        # The second clerk cannot claim it any more.
        two.get(path)
        r = two.post(path + "/zuweisen", {})
        self.assertEqual(r.status, 409, r.text)
        page = one.get(path)
        self.assertEqual(page.status, 200)
        self.assertIn("k.kita1", page.text)
        version = self.version_of(page.text)
        # Both clerks saw the same version; the first decision wins.
        two.get(path)
        r = one.post(path + "/uebergang", {"transition": "check", "version": version})
        self.assertEqual(r.status, 303, r.text)
        r = two.post(path + "/uebergang", {"transition": "to_waiting_list", "version": version,
                                           "f_reason": "voll"})
        self.assertEqual(r.status, 409, r.text)
        self.assertIn("reload", r.text)
        # A required reason is enforced.
        page = one.get(path)
        r = one.post(path + "/uebergang", {"transition": "to_waiting_list",
                                           "version": self.version_of(page.text)})
        self.assertEqual(r.status, 400, r.text)
        # Another unit's clerk does not see the case at all.
        other = self.staff("k.verkehr")
        other.get("/verwaltung/vorgaenge")
        self.assertEqual(other.get(path).status, 404)
        self.assertEqual(other.post(path + "/notiz", {"note": "x"}).status, 404)
        self.assertNotIn(number, other.get("/verwaltung/vorgaenge").text)

    def test_citizen_timeline_has_no_internal_notes(self):
        clerk = self.staff("k.kita2")
        number = self.erika_kita_case()
        path = "/verwaltung/vorgaenge/" + number
        secret_note = "INTERN-" + uuid.uuid4().hex
        self.assertEqual(clerk.get(path).status, 200)
        self.assertEqual(clerk.post(path + "/notiz", {"note": secret_note}).status, 303)
        self.assertIn(secret_note, clerk.get(path).text)
        erika = self.citizen()
        r = erika.get("/antraege")
        self.assertEqual(r.status, 200, r.text)
        self.assertIn(number, r.text)
        self.assertIn("Eingegangen", r.text)
        self.assertNotIn(secret_note, r.text)
        self.assertNotIn("k.kita2", r.text)
        # Staff pages are not for citizens, and anonymous users must log in.
        self.assertEqual(erika.get(path).status, 403)
        self.assertEqual(harness.Client(self.server).get("/antraege").status, 401)

    def test_anonymous_status_lookup_is_rate_limited(self):
        number, secret = self.new_case("fischereischein", '{"exam_passed": true}')
        c = harness.Client(self.server)
        self.assertEqual(c.get("/antragsstatus").status, 200)
        r = c.post("/antragsstatus", {"number": number, "secret": secret.lower()})
        self.assertEqual(r.status, 200, r.text)
        self.assertIn("Eingegangen", r.text)
        self.assertIn("Fischereischein", r.text)
        statuses = []
        for i in range(25):
            r = c.post("/antragsstatus", {"number": "2099-000001", "secret": "AAAA-BBBB-CCCC-DDD%d" % i})
            statuses.append(r.status)
        self.assertEqual(statuses[0], 404)
        self.assertIn(429, statuses)

    def test_escalation_when_clock_passes_deadline(self):
        head = self.staff("h.kita")
        r = head.get("/verwaltung/vorgaenge?ueberfaellig=1")
        self.assertEqual(r.status, 200)
        self.assertNotIn("eskaliert", r.text)
        later = int(time.time()) + 120 * 86400
        out = harness.run_cli(self.db, "workflow", "deadlines", "--at", str(later))
        self.assertEqual(out.returncode, 0, out.stderr)
        n = int(re.match(r"(\d+) overdue", out.stdout).group(1))
        self.assertGreater(n, 0)
        r = head.get("/verwaltung/vorgaenge?ueberfaellig=1")
        self.assertIn("eskaliert", r.text)
        again = harness.run_cli(self.db, "workflow", "deadlines", "--at", str(later))
        self.assertTrue(again.stdout.startswith("0 overdue"), again.stdout)
        # Figures: heads of unit only.
        self.assertEqual(head.get("/verwaltung/vorgaenge/kennzahlen").status, 200)
        api = head.get("/api/workflow/metrics")
        self.assertEqual(api.status, 200)
        units = api.json()["per_unit"]
        self.assertTrue(any(u["overdue"] > 0 for u in units), units)
        self.assertEqual(self.staff("k.kita1").get("/verwaltung/vorgaenge/kennzahlen").status, 403)
        # The same figures as series on /metrics for the county's monitoring.
        scrape = harness.Client(self.server).get("/metrics")
        self.assertEqual(scrape.status, 200)
        self.assertIn("# TYPE kreisel_workflow_cases_open gauge", scrape.text)
        self.assertRegex(scrape.text, r'kreisel_workflow_cases_overdue\{unit="[^"]+"\} [1-9]')
        self.assertIn("# TYPE kreisel_workflow_state_seconds summary", scrape.text)

    def test_paper_intake(self):
        clerk = self.staff("k.kita1")
        page = clerk.get("/verwaltung/vorgaenge/neu")
        self.assertEqual(page.status, 200)
        self.assertIn('name="workflow"', page.text)
        good = {"workflow": "kita-anmeldung", "name": "Paula Papier",
                "email": "paula@example.org", "note": "Krippenplatz ab 1.8."}
        r = clerk.post("/verwaltung/vorgaenge/neu", dict(good, name=""))
        self.assertEqual(r.status, 422)
        self.assertIn('href="#name"', r.text)
        self.assertIn("Krippenplatz ab 1.8.", r.text)  # values kept
        r = clerk.post("/verwaltung/vorgaenge/neu", dict(good, email="kein-at"))
        self.assertEqual(r.status, 422)
        self.assertIn('href="#email"', r.text)
        r = clerk.post("/verwaltung/vorgaenge/neu", dict(good, workflow="gibt-es-nicht"))
        self.assertEqual(r.status, 422)
        # Another unit's procedure: refused, nothing stored.
        before = self.db.sql("SELECT COUNT(*) FROM workflow_case")
        r = self.staff("k.verkehr").post("/verwaltung/vorgaenge/neu", good)
        self.assertEqual(r.status, 403)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM workflow_case"), before)
        r = clerk.post("/verwaltung/vorgaenge/neu", good)
        self.assertEqual(r.status, 200, r.text[:1000])
        number = re.search(r'id="new-number">(\d{4}-\d{6})<', r.text).group(1)
        secret = re.search(r'id="new-secret">([A-Z0-9-]{19})<', r.text).group(1)
        page = clerk.get("/verwaltung/vorgaenge/" + number)
        self.assertIn("Paula Papier", page.text)
        self.assertIn("paper", page.text)
        anon = harness.Client(self.server)
        anon.get("/antragsstatus")
        r = anon.post("/antragsstatus", {"number": number, "secret": secret})
        self.assertEqual(r.status, 200)
        self.assertIn("Eingegangen", r.text)

    def test_request_and_upload_document(self):
        clerk = self.staff("k.kita1")
        number = self.erika_kita_case()
        path = "/verwaltung/vorgaenge/" + number
        page = clerk.get(path)
        r = clerk.post(path + "/uebergang", {"transition": "request_documents",
                                             "version": self.version_of(page.text)})
        self.assertEqual(r.status, 303, r.text)
        r = clerk.post(path + "/nachfordern", {"text": "Bitte Geburtsurkunde nachreichen."})
        self.assertEqual(r.status, 303, r.text)
        erika = self.citizen()
        r = erika.get("/antraege")
        self.assertIn("Geburtsurkunde", r.text)
        self.assertIn("/antraege/%s/nachreichen" % number, r.text)
        form = erika.get("/antraege/%s/nachreichen" % number)
        self.assertEqual(form.status, 200)
        boundary = "----kreisel" + uuid.uuid4().hex
        body = ("--%s\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n%s\r\n"
                "--%s\r\nContent-Disposition: form-data; name=\"file\"; filename=\"urkunde.pdf\"\r\n"
                "Content-Type: application/pdf\r\n\r\n%%PDF-1.4 demo\r\n--%s--\r\n"
                % (boundary, erika.csrf, boundary, boundary)).encode()
        h = {"Origin": "http://127.0.0.1:%d" % self.server.port,
             "Content-Type": "multipart/form-data; boundary=" + boundary}
        r = self.server.request("POST", "/antraege/%s/nachreichen" % number, body=body,
                                headers=h, cookies=erika.cookies)
        self.assertEqual(r.status, 200, r.text)
        # The state's on_upload transition moved the case back on.
        page = clerk.get(path)
        self.assertIn("urkunde.pdf", page.text)
        self.assertIn("Eingang", page.text)
        # The clerk offers a place; the citizen sees it and accepts it herself.
        for transition in ("check", "offer_place"):
            page = clerk.get(path)
            r = clerk.post(path + "/uebergang", {"transition": transition,
                                                 "version": self.version_of(page.text)})
            self.assertEqual(r.status, 303, r.text)
        page = erika.get("/antraege")
        self.assertIn("Platz angeboten", page.text)
        self.assertIn("Platz annehmen", page.text)
        version = re.search(r'/antraege/%s/entscheiden".*?name="version" value="(\d+)"' % number,
                            page.text, re.S).group(1)
        r = erika.post("/antraege/%s/entscheiden" % number,
                       {"transition": "accept", "version": version})
        self.assertEqual(r.status, 303, r.text)
        mine = erika.get("/antraege").text
        self.assertIn("Platz angenommen", mine)
        self.assertIn("Unterlagen eingereicht", mine)
        self.assertIn("Angenommen", clerk.get(path).text)
        # A stale or foreign decision is refused.
        erika.get("/antraege")
        r = erika.post("/antraege/%s/entscheiden" % number,
                       {"transition": "decline", "version": version})
        self.assertEqual(r.status, 409, r.text)
        # Someone else's case: not found.
        other = harness.Client(self.server)
        other.get("/antragsstatus")
        r = other.post("/antraege/%s/nachreichen" % number, {"secret": "X"})
        self.assertIn(r.status, (400, 404))


if __name__ == "__main__":
    unittest.main()
