"""Integration tests of e-invoice validation: `kreisel invoice validate` and
POST /api/v1/invoices/validate, with our own invoices from tests/einvoice/.
They pass with and without the XML schemas in ../shared (the XSD layer is
then reported as not checked)."""
import calendar
import json
import os
import shutil
import tempfile
import time
import unittest

import harness
from harness import ROOT, Client, Database, Server, csrf_token, run_cli

OWN = os.path.join(ROOT, "tests", "einvoice")


def own(name):
    with open(os.path.join(OWN, name), "rb") as f:
        return f.read()


def add_staff(db, login, unit, roles, password="Geheim-Passwort-2026!"):
    args = ["user", "add", "--login", login, "--name", login.title(), "--unit", unit,
            "--password-stdin"]
    for role in roles:
        args += ["--role", role]
    r = run_cli(db, *args, stdin=password + "\n")
    assert r.returncode == 0, r.stderr


def broken_ubl():
    return own("ubl-invoice.xml").replace(
        b"<cbc:BuyerReference>04011000-12345-67</cbc:BuyerReference>", b"")


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.tmp = tempfile.mkdtemp()
        cls.rejected = os.path.join(cls.tmp, "rejected.xml")
        with open(cls.rejected, "wb") as f:
            f.write(broken_ubl())
        cls.garbage = os.path.join(cls.tmp, "garbage.xml")
        with open(cls.garbage, "wb") as f:
            f.write(b"%PDF-1.7 not an invoice")

    @classmethod
    def tearDownClass(cls):
        cls.db.drop()

    def test_accepted_invoices_exit_0(self):
        r = run_cli(self.db, "invoice", "validate", os.path.join(OWN, "ubl-invoice.xml"),
                    os.path.join(OWN, "cii-invoice.xml"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stdout.count("ACCEPTED"), 2)

    def test_rejected_exit_1_with_rule_and_location(self):
        r = run_cli(self.db, "invoice", "validate", os.path.join(OWN, "ubl-invoice.xml"),
                    self.rejected)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("REJECTED", r.stdout)
        self.assertIn("BR-DE-15", r.stdout)

    def test_unreadable_exit_2(self):
        for path in [self.garbage, os.path.join(self.tmp, "missing.xml")]:
            with self.subTest(path=path):
                r = run_cli(self.db, "invoice", "validate", self.rejected, path)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertIn("UNREADABLE", r.stdout)

    def test_zugferd_pdfs(self):
        r = run_cli(self.db, "invoice", "validate", os.path.join(OWN, "zugferd-basic.pdf"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("profile BASIC", r.stdout)
        r = run_cli(self.db, "invoice", "validate", os.path.join(OWN, "zugferd-minimum.pdf"))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("MINIMUM is not an invoice under EN 16931", r.stdout)
        r = run_cli(self.db, "invoice", "validate", os.path.join(OWN, "pdf-no-attachment.pdf"))
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)

    def test_json(self):
        r = run_cli(self.db, "invoice", "validate", "--json", self.rejected,
                    os.path.join(OWN, "cii-invoice.xml"))
        self.assertEqual(r.returncode, 1)
        reports = json.loads(r.stdout)
        self.assertEqual([x["verdict"] for x in reports], ["reject", "accept"])
        self.assertEqual(reports[0]["scenario"], "xr-cius")
        self.assertEqual(reports[0]["file"], self.rejected)
        rules = {f["rule"]: f for f in reports[0]["findings"]}
        self.assertEqual(rules["BR-DE-15"]["severity"], "fatal")
        self.assertTrue(rules["BR-DE-15"]["location"].startswith("/Invoice[1]"))

    def test_receive_stores_once(self):
        db = Database()
        try:
            self.assertEqual(run_cli(db, "migrate").returncode, 0)
            ubl = os.path.join(OWN, "ubl-invoice.xml")
            r = run_cli(db, "invoice", "receive", ubl)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("(formally_valid)", r.stdout)
            r = run_cli(db, "invoice", "receive", ubl, self.rejected)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("DUPLICATE", r.stdout)
            r = run_cli(db, "invoice", "receive", os.path.join(OWN, "pdf-no-attachment.pdf"))
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            r = run_cli(db, "audit", "verify")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            db.drop()

    def test_usage(self):
        for args in [["invoice"], ["invoice", "check", "x"], ["invoice", "validate"],
                     ["invoice", "validate", "--bogus", "x"], ["invoice", "receive"]]:
            with self.subTest(args=args):
                r = run_cli(self.db, *args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("usage: kreisel", r.stderr)


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        out = run_cli(cls.db, "migrate")
        assert out.returncode == 0, out.stderr
        cls.server = Server(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    def post(self, body, ctype="application/xml"):
        headers = {"Content-Type": ctype} if ctype else {}
        return self.server.request("POST", "/api/v1/invoices/validate", body=body,
                                   headers=headers)

    def test_accepted_and_rejected_are_reports(self):
        r = self.post(own("cii-invoice.xml"))
        self.assertEqual(r.status, 200, r.body)
        report = json.loads(r.body)
        self.assertEqual(report["verdict"], "accept")
        self.assertEqual(report["syntax"], "cii")
        r = self.post(broken_ubl())
        self.assertEqual(r.status, 200, r.body)
        report = json.loads(r.body)
        self.assertEqual(report["verdict"], "reject")
        self.assertIn("BR-DE-15", [f["rule"] for f in report["findings"]])

    def test_zugferd_pdf(self):
        r = self.post(own("zugferd-xrechnung.pdf"), "application/pdf")
        self.assertEqual(r.status, 200, r.body)
        report = json.loads(r.body)
        self.assertEqual((report["verdict"], report["container"], report["profile"]),
                         ("accept", "pdf", "XRECHNUNG"))
        self.assertEqual(report["attachment"], "xrechnung.xml")
        r = self.post(own("pdf-two-invoices.pdf"), "application/pdf")
        self.assertEqual(r.status, 400, r.body)
        self.assertIn("ambiguous", json.loads(r.body)["detail"])

    def test_bad_input_is_problem_json(self):
        bomb = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
                b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><l>&b;</l>')
        for body, ctype, needle in [(b"", "application/xml", "empty"),
                                    (b"not xml at all", "application/xml", "cannot be read"),
                                    (bomb, "application/xml", "DOCTYPE"),
                                    (b"<Order/>", "text/xml", "unknown root"),
                                    (own("ubl-invoice.xml"), "application/json", "application/xml"),
                                    (b"%PDF-1.4 broken", "application/pdf", "not a readable PDF")]:
            with self.subTest(needle=needle):
                r = self.post(body, ctype)
                self.assertEqual(r.status, 400, r.body)
                self.assertEqual(r.headers["content-type"], "application/problem+json")
                problem = json.loads(r.body)
                self.assertEqual(problem["status"], 400)
                self.assertIn(needle, problem["detail"])

    def test_size_limit(self):
        raw = self.server.raw(b"POST /api/v1/invoices/validate HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: application/xml\r\n"
                              b"Content-Length: 2000000\r\nConnection: close\r\n\r\n<x>")
        self.assertTrue(raw.startswith(b"HTTP/1.1 413"), raw[:120])
        self.assertIn(b"application/problem+json", raw)

    def test_get_not_allowed(self):
        r = self.server.request("GET", "/api/v1/invoices/validate")
        self.assertEqual(r.status, 405)


class WorkflowApiTest(unittest.TestCase):
    """Reception over the API and the approval steps with roles and four eyes."""

    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        assert run_cli(cls.db, "migrate").returncode == 0
        assert run_cli(cls.db, "seed-demo").returncode == 0
        for login, roles in [("alice", ["clerk", "head_of_unit"]),
                             ("bob", ["head_of_unit", "cash_office"])]:
            add_staff(cls.db, login, "10.2", roles)
        cls.server = Server(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    def login(self, login):
        r = self.server.request("GET", "/anmelden")
        cookies = {"kreisel": r.cookies()["kreisel"][0]}
        r = self.server.request("POST", "/anmelden", cookies=cookies, body={
            "csrf_token": csrf_token(r.text), "login": login,
            "password": "Geheim-Passwort-2026!", "next": "/verwaltung"})
        self.assertEqual(r.status, 303, r.text[:300])
        return {"kreisel": r.cookies()["kreisel"][0]}

    def step(self, cookies, invoice, step, body=b"{}"):
        return self.server.request("POST", "/api/v1/invoices/%d/%s" % (invoice, step),
                                   body=body, cookies=cookies,
                                   headers={"Content-Type": "application/json"})

    def test_receive_and_approve(self):
        r = self.server.request("POST", "/api/v1/invoices", body=own("cii-invoice.xml"),
                                headers={"Content-Type": "application/xml"})
        self.assertEqual(r.status, 401)
        alice, bob = self.login("alice"), self.login("bob")
        r = self.server.request("POST", "/api/v1/invoices", body=own("cii-invoice.xml"),
                                cookies=alice, headers={"Content-Type": "application/xml"})
        self.assertEqual(r.status, 201, r.text)
        invoice = json.loads(r.body)
        self.assertEqual(invoice["status"], "formally_valid")
        r = self.server.request("POST", "/api/v1/invoices", body=own("zugferd-xrechnung.pdf"),
                                cookies=alice, headers={"Content-Type": "application/pdf"})
        self.assertEqual(r.status, 409, r.text)
        self.assertIn("duplicate", json.loads(r.body)["detail"])
        n = invoice["id"]
        self.assertEqual(self.step(alice, n, "release").status, 409)
        self.assertEqual(self.step(bob, n, "factual").status, 403)  # bob is no clerk
        self.assertEqual(self.step(alice, n, "factual").status, 200)
        self.assertEqual(self.step(alice, n, "arithmetic").status, 200)
        self.assertEqual(self.step(alice, n, "release").status, 403)  # four eyes
        r = self.step(bob, n, "release")
        self.assertEqual((r.status, json.loads(r.body)["status"]), (200, "released"))
        self.assertEqual(self.step(bob, n, "export").status, 200)
        self.assertEqual(self.step(alice, n, "nonsense").status, 404)
        r = self.server.request("POST", "/api/v1/invoices/%d/factual" % n, body=b"x=1",
                                cookies=alice,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 400)


class StaffPagesTest(unittest.TestCase):
    """The pages: upload, list, the invoice for people, steps by the ordering
    unit with four eyes, rejection mail to the supplier, accounting export."""

    PASSWORD = "Geheim-Passwort-2026!"

    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        assert run_cli(cls.db, "migrate").returncode == 0
        assert run_cli(cls.db, "seed-demo").returncode == 0
        for login, unit, roles in [("carla", "10.2", ["clerk"]), ("dora", "10.2", ["head_of_unit"]),
                                   ("emil", "20.1", ["cash_office"]), ("fred", "36.1", ["clerk"])]:
            add_staff(cls.db, login, unit, roles)
        cls.server = Server(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    def client(self, login):
        c = Client(self.server)
        r = c.login(login, self.PASSWORD)
        self.assertEqual(r.status, 303, r.text[:300])
        return c

    def upload(self, c, data, name="rechnung.xml", ctype="application/xml"):
        c.get("/verwaltung/rechnungen")
        return c.post_multipart("/verwaltung/rechnungen", files=[("invoice", name, ctype, data)])

    def test_upload_view_steps_export(self):
        carla, dora, emil, fred = (self.client(n) for n in ("carla", "dora", "emil", "fred"))
        r = self.upload(carla, own("ubl-invoice.xml"))
        self.assertEqual(r.status, 303, r.text[:500])
        page = r.headers["location"]
        r = carla.get(page)
        self.assertEqual(r.status, 200)
        for text in ["Stadtwerke", "04011000-12345-67", "Positionen", "Umsatzsteuer",
                     "Sachlich richtig bestätigen"]:
            self.assertIn(text, r.text)
        self.assertNotIn("Zur Zahlung anordnen", r.text)
        # Another unit's clerk sees the invoice but may not decide it.
        r = fred.get(page)
        self.assertNotIn("Sachlich richtig bestätigen", r.text)
        self.assertEqual(fred.post(page, {"step": "factual"}).status, 403)
        # The same invoice again is refused at the field.
        r = self.upload(carla, own("ubl-invoice.xml"))
        self.assertEqual(r.status, 409)
        self.assertIn('aria-invalid="true"', r.text)
        self.assertEqual(carla.post(page, {"step": "factual"}).status, 303)
        self.assertEqual(carla.post(page, {"step": "arithmetic"}).status, 303)
        self.assertEqual(carla.post(page, {"step": "release"}).status, 403)  # not her role
        dora.get(page)
        r = dora.post(page, {"step": "release"})
        self.assertEqual(r.status, 303, r.text[-2500:])
        r = emil.get("/verwaltung/rechnungen")
        self.assertIn("Exportieren", r.text)
        r = emil.post("/verwaltung/rechnungen/export", {"format": "csv"})
        self.assertEqual(r.status, 200, r.text[:300])
        self.assertIn("attachment", r.headers["content-disposition"])
        lines = r.text.strip().split("\r\n")
        self.assertEqual(lines[0].split(",")[:3], ["invoice_id", "invoice_number", "seller_name"])
        self.assertEqual(len(lines), 2)
        # Exported now: a second export is empty, the invoice says so.
        r = emil.post("/verwaltung/rechnungen/export", {"format": "json"})
        self.assertEqual(json.loads(r.body), [])
        self.assertIn("exportiert", carla.get(page).text)
        self.assertEqual(carla.post("/verwaltung/rechnungen/export", {"format": "csv"}).status, 403)

    def test_rejections_mail_the_supplier(self):
        carla = self.client("carla")
        r = self.upload(carla, broken_ubl().replace(b"SW-2026-0815", b"SW-2026-0816"))
        self.assertEqual(r.status, 303, r.text[:500])
        r = carla.get(r.headers["location"])
        self.assertIn("BR-DE-15", r.text)
        self.assertIn("abgelehnt", r.text)
        mails = self.db.sql("SELECT recipient, subject, body FROM mail_message "
                            "WHERE subject LIKE 'Rechnung%abgelehnt%'")
        self.assertIn("abrechnung@stadtwerke-musterhausen.example", mails)
        self.assertIn("BR-DE-15", mails)
        # A valid invoice rejected by hand: the reason goes to the supplier.
        r = self.upload(carla, own("cii-invoice.xml"))
        page = r.headers["location"]
        self.assertEqual(carla.post(page, {"step": "reject", "reason": ""}).status, 422)
        r = carla.post(page, {"step": "reject", "reason": "Leistung nicht erbracht"})
        self.assertEqual(r.status, 303)
        mails = self.db.sql("SELECT recipient, body FROM mail_message")
        self.assertIn("erika@druckerei.example", mails)
        self.assertIn("Leistung nicht erbracht", mails)

    def test_bad_uploads(self):
        carla = self.client("carla")
        r = self.upload(carla, b"not an invoice at all")
        self.assertEqual(r.status, 422)
        self.assertIn('aria-invalid="true"', r.text)
        carla.get("/verwaltung/rechnungen")
        r = carla.post_multipart("/verwaltung/rechnungen")
        self.assertEqual(r.status, 422)
        # Citizens and anonymous visitors do not see invoices.
        self.assertIn(Client(self.server).get("/verwaltung/rechnungen").status, (303, 401))
        self.assertEqual(carla.get("/verwaltung/rechnungen/999999").status, 404)


class IntakeDirectoryTest(unittest.TestCase):
    """The server takes invoices from einvoice_intake_dir (done/, failed/
    with a note) and escalates Skonto deadlines to the ordering unit."""

    PASSWORD = "Geheim-Passwort-2026!"

    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        assert run_cli(cls.db, "migrate").returncode == 0
        assert run_cli(cls.db, "seed-demo").returncode == 0
        harness.add_staff(cls.db, cls.PASSWORD, ("carla", "10.2", "clerk"),
                          ("dora", "10.2", "head_of_unit"), ("fred", "36.1", "clerk"))
        cls.dir = tempfile.mkdtemp(prefix="kreisel-intake-")
        cls.server = Server(cls.db, env={"KREISEL_EINVOICE_INTAKE_DIR": cls.dir,
                                         "KREISEL_EINVOICE_INTAKE_INTERVAL": "1s"})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def client(self, login):
        c = Client(self.server)
        r = c.login(login, self.PASSWORD)
        self.assertEqual(r.status, 303, r.text[:300])
        return c

    def wait_for(self, path, timeout=20):
        deadline = time.time() + timeout
        while not os.path.exists(path) and time.time() < deadline:
            time.sleep(0.2)
        return os.path.exists(path)

    def test_drop_list_escalate(self):
        # A writer's convention: write name.tmp, rename when complete.
        tmp = os.path.join(self.dir, "rechnung.xml.tmp")
        with open(tmp, "wb") as f:
            f.write(own("cii-invoice.xml"))
        os.rename(tmp, os.path.join(self.dir, "rechnung.xml"))
        with open(os.path.join(self.dir, "kaputt.xml"), "wb") as f:
            f.write(b"<?xml version='1.0'?><kein-xml")
        with open(os.path.join(self.dir, ".versteckt.xml"), "wb") as f:
            f.write(own("cii-invoice.xml"))
        self.assertTrue(self.wait_for(os.path.join(self.dir, "done", "rechnung.xml.txt")),
                        "".join(self.server.lines[-20:]))
        self.assertTrue(self.wait_for(os.path.join(self.dir, "failed", "kaputt.xml.txt")))
        with open(os.path.join(self.dir, "failed", "kaputt.xml.txt"), encoding="utf-8") as f:
            self.assertIn("nicht gespeichert", f.read())
        self.assertTrue(os.path.exists(os.path.join(self.dir, ".versteckt.xml")))
        carla = self.client("carla")
        r = carla.get("/verwaltung/rechnungen")
        self.assertEqual(r.status, 200)
        self.assertIn("DR-77", r.text)
        self.assertNotIn("badge escalated", r.text)
        self.assertEqual(self.db.sql("SELECT channel FROM einvoice_invoice"), "directory")
        # Three days before the Skonto deadline (2026-11-19, 2 %): the unit
        # is told once; the list marks the invoice and filters by it.
        at = str(calendar.timegm((2026, 11, 16, 12, 0, 0)))
        out = run_cli(self.db, "invoice", "deadlines", "--at", at)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(out.stdout.strip(), "1 invoice deadline escalated.")
        again = run_cli(self.db, "invoice", "deadlines", "--at", at)
        self.assertEqual(again.stdout.strip(), "0 invoice deadlines escalated.")
        mails = self.db.sql("SELECT recipient FROM mail_message WHERE subject LIKE '%Skonto%' "
                            "ORDER BY recipient").split("\n")
        self.assertEqual(mails, ["carla@landkreis.example", "dora@landkreis.example"])
        r = carla.get("/verwaltung/rechnungen?due=soon")
        self.assertEqual(r.status, 200)
        self.assertIn("DR-77", r.text)
        self.assertIn("Skonto bis 19.11.2026", r.text)
        self.assertEqual(carla.get("/verwaltung/rechnungen?due=bald").status, 400)
        self.assertEqual(self.db.sql(
            "SELECT count(*) FROM audit_entry WHERE action = 'einvoice.escalate'"), "1")
        # Released: no longer due soon.
        page = "/verwaltung/rechnungen/" + self.db.sql("SELECT id FROM einvoice_invoice")
        carla.get(page)
        self.assertEqual(carla.post(page, {"step": "factual"}).status, 303)
        self.assertEqual(carla.post(page, {"step": "arithmetic"}).status, 303)
        dora = self.client("dora")
        dora.get(page)
        self.assertEqual(dora.post(page, {"step": "release"}).status, 303)
        self.assertNotIn("DR-77", carla.get("/verwaltung/rechnungen?due=soon").text)
        self.assertEqual(run_cli(self.db, "audit", "verify").returncode, 0)


if __name__ == "__main__":
    unittest.main()
