"""The form server over HTTP: a whole fill of the Kita form without
JavaScript (steps, skipped step, back navigation, summary, submission,
receipt PDF read back with pdftotext), the gov.uk error pattern, tampered
and skipped steps, idempotent submission, drafts, and the office export.
Run once per backend by scripts/test-all."""
import json
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import urllib.parse

from harness import Client, Database, Server, run_cli


def seed(db):
    out = run_cli(db, "migrate")
    assert out.returncode == 0, out.stderr
    out = run_cli(db, "seed-demo")
    assert out.returncode == 0, out.stdout + out.stderr


class FormClient(Client):
    """Client that can post repeated names (checkboxes)."""

    def post_pairs(self, path, pairs):
        pairs = [("csrf_token", self.csrf)] + list(pairs)
        h = {"Origin": "http://127.0.0.1:%d" % self.server.port, "Accept-Language": self.lang,
             "Content-Type": "application/x-www-form-urlencoded"}
        return self._keep(self.server.request("POST", path, body=urllib.parse.urlencode(pairs),
                                              headers=h, cookies=self.cookies))


def shown(page):
    """The fields a step page showed, as the browser sends them back."""
    return [("shown", n) for n in re.findall(r'name="shown" value="([^"]+)"', page.text)]


def location(r):
    return r.header("location") if hasattr(r, "header") else r.headers["location"]


KIND = [("child_first_name", "Mia"), ("child_last_name", "Muster"),
        ("child_born", "2022-03-01"), ("needs_support", "nein")]
BETREUUNG = [("start_date", "2025-08-01"), ("care_type", "kita"), ("hours", "35"),
             ("wish_centre", "Kita Sonnenschein")]
ELTERN = [("parent_name", "Anna Muster"), ("address.street", "Hauptstraße"),
          ("address.number", "1"), ("address.postcode", "12345"),
          ("address.city", "Musterstadt"), ("email", "anna@example.org"),
          ("phone", "+49 170 1234567"), ("siblings.rows", "0")]


class FormsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        seed(cls.db)
        cls.server = Server(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    def start(self, c, form="kita-platz"):
        r = c.get("/formulare/" + form)
        self.assertEqual(r.status, 200, r.text[:500])
        r = c.post("/formulare/" + form)
        self.assertEqual(r.status, 303, r.text[:500])
        return r.headers["location"]

    def step(self, c, url, pairs, expect=303):
        page = c.get(url)
        self.assertEqual(page.status, 200, page.text[:2000])
        v = re.search(r'name="v" value="([0-9a-f]{64})"', page.text).group(1)
        r = c.post_pairs(url, [("v", v)] + shown(page) + list(pairs))
        self.assertEqual(r.status, expect, r.text[:3000])
        return r

    def fill_kita(self, c):
        url = self.start(c)
        self.assertTrue(url.endswith("/kind"), url)
        r = self.step(c, url, KIND)
        base = url.rsplit("/", 1)[0]
        # needs_support = nein: the support step is skipped.
        self.assertEqual(r.headers["location"], base + "/betreuung")
        r = self.step(c, base + "/betreuung", BETREUUNG)
        self.assertEqual(r.headers["location"], base + "/eltern")
        r = self.step(c, base + "/eltern", ELTERN)
        self.assertEqual(r.headers["location"], base + "/pruefen")
        return base

    def test_whole_fill_and_receipt(self):
        c = FormClient(self.server)
        base = self.fill_kita(c)
        summary = c.get(base + "/pruefen")
        self.assertEqual(summary.status, 200)
        for text in ["Mia", "01.03.2022", "Kindergarten (ab 3 Jahren)", "bis 35 Stunden",
                     "Hauptstraße 1, 12345 Musterstadt"]:
            self.assertIn(text, summary.text)
        self.assertNotIn("<h2>Förderbedarf</h2>", summary.text)
        v = re.search(r'name="v" value="([0-9a-f]{64})"', summary.text).group(1)
        r = c.post_pairs(base + "/pruefen", [("v", v)])
        self.assertEqual(r.status, 303, r.text[:2000])
        done = r.headers["location"]
        self.assertTrue(done.startswith("/formulare/eingang/"), done)
        # A retried POST (double click) gives the same submission.
        r2 = c.post_pairs(base + "/pruefen", [("v", v)])
        self.assertEqual(r2.status, 303, r2.text[:2000])
        self.assertEqual(r2.headers["location"], done)
        page = c.get(done)
        self.assertEqual(page.status, 200)
        number = re.search(r'id="submission-number">(F-\d{4}-\d{6}-\d)<', page.text).group(1)
        pdf = c.get(done + "/quittung.pdf")
        self.assertEqual(pdf.status, 200)
        self.assertEqual(pdf.headers["content-type"], "application/pdf")
        self.assertTrue(pdf.body.startswith(b"%PDF"))
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", "-", "-"], input=pdf.body,
                                  capture_output=True, check=True).stdout.decode()
            for want in [number, "Eingangsbestätigung", "Mia", "Kita Sonnenschein",
                         "Hauptstraße 1, 12345 Musterstadt", "anna@example.org"]:
                self.assertIn(want, text)
        # The draft is gone; the intake record exists exactly once.
        self.assertEqual(c.get(base + "/kind").status, 404)
        rows = self.db.sql("SELECT COUNT(*) FROM forms_case_intake i JOIN forms_submission s "
                           "ON s.id = i.submission_id WHERE s.number = '%s'" % number)
        self.assertEqual(str(rows).count("1"), 1, rows)
        # The submission became a case of the day-care workflow (src/intake), once;
        # the anonymous applicant got its number and status secret by mail.
        case = self.db.sql("SELECT number, state FROM workflow_case WHERE submission_ref = '%s'"
                           % number)
        self.assertEqual(len(case.splitlines()), 1, case)
        case_number = case.split("|")[0]
        mail = self.db.sql("SELECT body FROM mail_message WHERE recipient = 'anna@example.org' "
                           "AND body LIKE '%%%s%%'" % case_number)
        found = re.search(r"Zugangscode: ([A-Z0-9]{4}(?:-[A-Z0-9]{4}){3})", mail)
        self.assertIsNotNone(found, mail[:600])
        secret = found.group(1)
        status = FormClient(self.server)
        status.get("/antragsstatus")
        r = status.post_pairs("/antragsstatus", [("number", case_number), ("secret", secret)])
        self.assertEqual(r.status, 200, r.text[:1000])
        self.assertIn(case_number, r.text)

    def test_errors_follow_the_govuk_pattern(self):
        c = FormClient(self.server)
        url = self.start(c)
        r = self.step(c, url, [("child_first_name", "Mia"), ("child_last_name", ""),
                               ("child_born", "2022-02-30"), ("needs_support", "nein")], 400)
        self.assertIn('class="error-summary"', r.text)
        self.assertIn('href="#child_last_name"', r.text)
        self.assertIn('href="#child_born"', r.text)
        self.assertIn('id="child_born-error"', r.text)
        self.assertIn('value="Mia"', r.text)  # values kept
        self.assertIn('value="2022-02-30"', r.text)
        self.assertIn("Fehler:", r.text)

    def test_cross_field_check_and_skip_url(self):
        c = FormClient(self.server)
        url = self.start(c)
        base = url.rsplit("/", 1)[0]
        # Skipping ahead by editing the URL goes back to the open step.
        r = c.get(base + "/eltern")
        self.assertEqual(r.status, 303)
        self.assertEqual(r.headers["location"], url)
        r = c.get(base + "/pruefen")
        self.assertEqual(r.status, 303)
        self.step(c, url, KIND)
        # Krippe for a child that will be 3: the check speaks at the field.
        r = self.step(c, base + "/betreuung", [("start_date", "2025-08-01"),
                                                ("care_type", "krippe"), ("hours", "25")], 400)
        self.assertIn('href="#care_type"', r.text)
        self.assertIn("Die Krippe ist für Kinder unter 3 Jahren", r.text)
        # A start before the birth.
        r = self.step(c, base + "/betreuung", [("start_date", "2020-08-01"),
                                                ("care_type", "kita"), ("hours", "25")], 400)
        self.assertIn("Der Beginn muss nach dem Geburtsdatum liegen", r.text)
        # Back navigation keeps answers.
        page = c.get(base + "/kind")
        self.assertIn('value="Mia"', page.text)

    def test_support_step_and_required_if(self):
        c = FormClient(self.server)
        url = self.start(c)
        base = url.rsplit("/", 1)[0]
        kind = [p if p[0] != "needs_support" else ("needs_support", "ja") for p in KIND]
        r = self.step(c, url, kind)
        self.assertEqual(r.headers["location"], base + "/foerderung")
        r = self.step(c, base + "/foerderung", [("support_kind", "sprache"),
                                                 ("support_kind", "sonstiges")], 400)
        self.assertIn('href="#support_note"', r.text)
        r = self.step(c, base + "/foerderung", [("support_kind", "sprache"),
                                                 ("support_kind", "sonstiges"),
                                                 ("support_note", "Braucht Hilfe")])
        self.assertEqual(r.headers["location"], base + "/betreuung")

    def test_same_page_reveal(self):
        c = FormClient(self.server)
        url = self.start(c, "kfz-wunschkennzeichen")
        base = url.rsplit("/", 1)[0]
        self.step(c, url, [("district", "MU"), ("letters", "AB"), ("digits", "123"),
                           ("electric", "nein")])
        fz = [("vehicle", "pkw"), ("registered", "ja"), ("keeper", "Anna"),
              ("email", "anna@example.org")]
        # "registered = ja" reveals the current plate: shown again, no error yet.
        r = self.step(c, base + "/fahrzeug", fz, 200)
        self.assertNotIn("error-summary", r.text)
        self.assertIn('name="current_plate"', r.text)
        self.assertIn('value="Anna"', r.text)
        # Now it was shown (the page sent back lists it): empty is an error.
        v = re.search(r'name="v" value="([0-9a-f]{64})"', r.text).group(1)
        again = c.post_pairs(base + "/fahrzeug", [("v", v)] + shown(r) + fz)
        self.assertEqual(again.status, 400, again.text[:2000])
        self.assertIn('href="#current_plate"', again.text)
        done = c.post_pairs(base + "/fahrzeug", [("v", v)] + shown(r) + fz +
                            [("current_plate", "MU-XY 9")])
        self.assertEqual(done.status, 303, done.text[:2000])
        self.assertTrue(done.headers["location"].endswith("/pruefen"))
        self.assertIn("12,80 EUR", c.get(base + "/pruefen").text)

    def test_tampering(self):
        c = FormClient(self.server)
        url = self.start(c)
        # A value that is not one of the options, an unknown field, a
        # wrong version: clear errors, nothing stored.
        r = self.step(c, url, KIND[:3] + [("needs_support", "vielleicht")], 400)
        self.assertIn('href="#needs_support"', r.text)
        r = self.step(c, url, KIND + [("is_admin", "1")], 400)
        self.assertIn("Die Seite wurde verändert", r.text)
        r = c.post_pairs(url, [("v", "0" * 64)] + KIND)
        self.assertEqual(r.status, 409)
        self.assertNotIn('value="Mia"', c.get(url).text)

    def test_group_rows(self):
        c = FormClient(self.server)
        url = self.start(c)
        base = url.rsplit("/", 1)[0]
        self.step(c, url, KIND)
        self.step(c, base + "/betreuung", BETREUUNG)
        eltern = [p for p in ELTERN if p[0] != "siblings.rows"]
        # 10,000 rows are refused at the group's field.
        r = self.step(c, base + "/eltern", eltern + [("siblings.rows", "10000")], 400)
        self.assertIn('href="#siblings"', r.text)
        self.assertIn("Zu viele Zeilen", r.text)
        # Adding a row without JavaScript.
        r = self.step(c, base + "/eltern", eltern + [("siblings.rows", "0"),
                                                     ("action", "add:siblings")], 200)
        self.assertIn('name="siblings.0.sibling_name"', r.text)
        r = self.step(c, base + "/eltern", eltern + [("siblings.rows", "1"),
                                                     ("siblings.0.sibling_name", "Tom"),
                                                     ("siblings.0.sibling_born", "2020-01-01")])
        self.assertIn("Tom", c.get(base + "/pruefen").text)

    def test_save_and_resume_link(self):
        c = FormClient(self.server)
        url = self.start(c)
        r = self.step(c, url, KIND[:2] + [("action", "save")], 200)
        self.assertIn("Ihre Angaben sind gespeichert", r.text)
        link = re.search(r'id="resume-link">([^<]+)<', r.text).group(1)
        self.assertTrue(link.endswith(url), link)
        # Another browser with the link continues where this one stopped.
        other = FormClient(self.server)
        page = other.get(url)
        self.assertEqual(page.status, 200)
        self.assertIn('value="Mia"', page.text)

    def test_blank_pdf_and_unknown(self):
        c = FormClient(self.server)
        pdf = c.get("/formulare/kita-platz/leer.pdf")
        self.assertEqual(pdf.status, 200)
        self.assertTrue(pdf.body.startswith(b"%PDF"))
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", "-", "-"], input=pdf.body,
                                  capture_output=True, check=True).stdout.decode()
            self.assertIn("Vorname des Kindes", text)
        self.assertEqual(c.get("/formulare/gibt-es-nicht").status, 404)
        self.assertEqual(c.get("/formulare/kita-platz/" + "a" * 32 + "/kind").status, 404)
        self.assertEqual(c.get("/formulare").status, 200)




SMALL = {
    "title": "Klein", "steps": [{"id": "a", "title": "A", "fields": [
        {"id": "name", "type": "text", "label": "Name", "required": True},
        {"id": "copies", "type": "number", "label": "Anzahl", "required": True}]}],
    "fee": "12.50 * copies",
}


class RoutingTest(unittest.TestCase):
    """E-mail and webhook routing, the office export, drafts of accounts
    and the resume link by mail, with forms from a directory of the test."""

    @classmethod
    def setUpClass(cls):
        import http.server
        import threading
        cls.received = []

        class Hook(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                cls.received.append((self.headers["X-Kreisel-Signature"], body))
                cls.headers = dict(self.headers)
                self.send_response(200 if len(cls.received) > 1 else 503)
                self.end_headers()

            def log_message(self, *args):
                pass

        cls.hook = http.server.HTTPServer(("127.0.0.1", 0), Hook)
        threading.Thread(target=cls.hook.serve_forever, daemon=True).start()
        cls.dir = tempfile.mkdtemp()
        root = os.path.join(os.path.dirname(__file__), "..", "..")
        shutil.copy(os.path.join(root, "forms", "kita-platz.json"), cls.dir)
        for name, routing in [("per-mail", {"type": "email", "email": "amt@example.org"}),
                              ("per-hook", {"type": "webhook", "url": "http://127.0.0.1:%d/in"
                                            % cls.hook.server_port})]:
            d = dict(SMALL, id=name, routing=routing, unit="36.1")
            with open(os.path.join(cls.dir, name + ".json"), "w") as f:
                json.dump(d, f)
        cls.db = Database()
        seed(cls.db)
        out = run_cli(cls.db, "user", "add", "--login", "k.forms", "--name", "K", "--unit",
                      "36.1", "--role", "clerk", "--password-stdin",
                      stdin="Formular-Sachbearbeitung-2026\n")
        assert out.returncode == 0, out.stderr
        out = run_cli(cls.db, "user", "add", "--login", "k.other", "--name", "O", "--unit",
                      "51.1", "--role", "clerk", "--password-stdin",
                      stdin="Formular-Sachbearbeitung-2026\n")
        assert out.returncode == 0, out.stderr
        cls.server = Server(cls.db, env={"KREISEL_FORMS_DIR": cls.dir,
                                         "KREISEL_WEBHOOK_SECRET": "geheim"})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()
        cls.hook.shutdown()
        shutil.rmtree(cls.dir)

    def submit_small(self, form, name="Anna"):
        c = FormClient(self.server)
        c.get("/formulare/" + form)
        url = c.post("/formulare/" + form).headers["location"]
        page = c.get(url)
        v = re.search(r'name="v" value="([0-9a-f]{64})"', page.text).group(1)
        r = c.post_pairs(url, [("v", v), ("name", name), ("copies", "2")] + shown(page))
        self.assertEqual(r.status, 303, r.text[:2000])
        base = url.rsplit("/", 1)[0]
        r = c.post_pairs(base + "/pruefen", [("v", v)])
        self.assertEqual(r.status, 303, r.text[:2000])
        return c, r.headers["location"]

    def test_email_routing(self):
        self.submit_small("per-mail", "Mailprobe")
        rows = self.db.sql("SELECT recipient, subject, body FROM mail_message "
                           "WHERE recipient = 'amt@example.org'")
        self.assertIn("Neuer Antrag F-", rows)
        self.assertIn("Mailprobe", rows)
        self.assertIn("25.00 EUR", rows)

    def test_webhook_routing_signed_and_retried(self):
        import hashlib
        import hmac
        import time
        self.submit_small("per-hook", "Hookprobe")
        # The first delivery gets 503 and is retried with backoff; make it due now.
        deadline = time.time() + 15
        while not self.received and time.time() < deadline:
            time.sleep(0.2)
        self.assertTrue(self.received, "no webhook delivery")
        while time.time() < deadline and self.db.sql(
                "SELECT attempts FROM webhook_outbox WHERE source = 'forms'").strip() != "1":
            time.sleep(0.1)  # the worker records the failed attempt
        self.assertIn("HTTP status 503", self.db.sql("SELECT last_error FROM webhook_outbox"))
        self.db.sql("UPDATE webhook_outbox SET next_at = 0 WHERE state = 'queued'")
        deadline = time.time() + 15
        while len(self.received) < 2 and time.time() < deadline:
            time.sleep(0.2)
        self.assertEqual(len(self.received), 2)
        sig, body = self.received[-1]
        want = "sha256=" + hmac.new(b"geheim", body, hashlib.sha256).hexdigest()
        self.assertEqual(sig, want)
        self.assertEqual(self.headers["X-Kreisel-Event"], "form.submitted")
        doc = json.loads(body)
        self.assertEqual(self.headers["X-Kreisel-Delivery"], self.db.sql(
            "SELECT id FROM webhook_outbox WHERE ref = '%s'" % doc["submission"]).strip())
        self.assertEqual(doc["form"], "per-hook")
        self.assertEqual(doc["answers"]["name"], "Hookprobe")
        self.assertEqual(doc["fee_cents"], 2500)
        deadline = time.time() + 5
        while time.time() < deadline and "sent" not in self.db.sql(
                "SELECT state FROM webhook_outbox"):
            time.sleep(0.2)
        self.assertIn("sent", self.db.sql("SELECT state FROM webhook_outbox"))

    def test_export_for_the_unit_only(self):
        self.submit_small("per-mail", "Exportprobe")
        anon = FormClient(self.server)
        self.assertEqual(anon.get("/verwaltung/formulare/per-mail/einreichungen.json").status, 401)
        other = FormClient(self.server)
        other.login("k.other", "Formular-Sachbearbeitung-2026")
        self.assertEqual(other.get("/verwaltung/formulare/per-mail/einreichungen.json").status,
                         403)
        clerk = FormClient(self.server)
        clerk.login("k.forms", "Formular-Sachbearbeitung-2026")
        r = clerk.get("/verwaltung/formulare/per-mail/einreichungen.json")
        self.assertEqual(r.status, 200, r.text[:500])
        subs = r.json()["submissions"]
        self.assertTrue(any(s["answers"]["name"] == "Exportprobe" for s in subs))
        self.assertTrue(all(s["fee_cents"] == 2500 for s in subs))
        r = clerk.get("/verwaltung/formulare/per-mail/einreichungen.csv")
        self.assertEqual(r.status, 200)
        self.assertIn('"Exportprobe"', r.text)
        self.assertTrue(r.text.startswith('"Nummer";"Eingang"'))

    def test_resume_link_by_mail(self):
        c = FormClient(self.server)
        c.get("/formulare/per-mail")
        url = c.post("/formulare/per-mail").headers["location"]
        page = c.get(url)
        v = re.search(r'name="v" value="([0-9a-f]{64})"', page.text).group(1)
        r = c.post_pairs(url, [("v", v), ("name", "Halb"), ("action", "save")])
        self.assertEqual(r.status, 200)
        base = url.rsplit("/", 1)[0]
        r = c.post_pairs(base + "/link", [("email", "kein-mail")])
        self.assertEqual(r.status, 400)
        self.assertIn('id="email-error"', r.text)
        r = c.post_pairs(base + "/link", [("email", "anna@example.org")])
        self.assertEqual(r.status, 200, r.text[:1000])
        body = self.db.sql("SELECT body FROM mail_message WHERE recipient = 'anna@example.org'")
        self.assertIn(url, body)


PDF = (b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
       b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
       b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n"
       b"trailer<</Root 1 0 R>>\n%%EOF\n")
EICAR = (b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*")


def multipart(fields, files):
    """(body, content type) of multipart/form-data; files: (name, filename, bytes)."""
    boundary = "----kreiselformstest"
    out = []
    for k, v in fields:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                    % (boundary, k, v)).encode())
    for name, filename, data in files:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                    "Content-Type: application/pdf\r\n\r\n" % (boundary, name, filename)).encode()
                   + data + b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


class ClamdDouble:
    """A tiny stand-in for clamd's INSTREAM protocol on a Unix socket (the
    real clamav-daemon needs a signature database from the network)."""

    def __init__(self, path):
        import socket
        import threading
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.scans = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        import struct
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                buf = b""
                while not buf.endswith(b"\0") or len(buf) < 10:
                    buf += conn.recv(1)
                assert buf == b"zINSTREAM\0", buf
                data = b""
                while True:
                    head = b""
                    while len(head) < 4:
                        head += conn.recv(4 - len(head))
                    (n,) = struct.unpack(">I", head)
                    if n == 0:
                        break
                    chunk = b""
                    while len(chunk) < n:
                        chunk += conn.recv(n - len(chunk))
                    data += chunk
                self.scans += 1
                if EICAR in data:
                    conn.sendall(b"stream: Eicar-Test-Signature FOUND\0")
                else:
                    conn.sendall(b"stream: OK\0")


BAU = [
    [("client_name", "Anna Muster"), ("client_address.street", "Hauptstraße"),
     ("client_address.number", "1"), ("client_address.postcode", "12345"),
     ("client_address.city", "Musterstadt"), ("client_email", "anna@example.org"),
     ("architect", "B. Plan")],
    [("plot_address.street", "Feldweg"), ("plot_address.number", "7"),
     ("plot_address.postcode", "12346"), ("plot_address.city", "Musterdorf"),
     ("gemarkung", "Musterdorf"), ("flur", "3"), ("flurstueck", "12/4"), ("monument", "nein")],
    [("project", "efh"), ("floors", "2"), ("height_m", "6"), ("build_cost", "350000"),
     ("description", "Einfamilienhaus")],
]


class UploadTest(unittest.TestCase):
    """The plan upload of the building permit form: type by content, size,
    virus scan (EICAR through a clamd protocol double), receipt with SHA-256."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp()
        cls.clamd = ClamdDouble(os.path.join(cls.tmp, "clamd.sock"))
        cls.db = Database()
        seed(cls.db)
        cls.server = Server(cls.db, env={"KREISEL_FORMS_CLAMD_SOCKET":
                                         os.path.join(cls.tmp, "clamd.sock")})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()
        cls.clamd.sock.close()
        shutil.rmtree(cls.tmp)

    def upload(self, c, url, v, files, fields=(("statics_later", "nein"), ("shown", "plans"),
                                               ("shown", "photos"), ("shown", "statics_later"))):
        body, ctype = multipart([("csrf_token", c.csrf), ("v", v)] + list(fields), files)
        h = {"Origin": "http://127.0.0.1:%d" % self.server.port, "Content-Type": ctype}
        return c._keep(self.server.request("POST", url, body=body, headers=h, cookies=c.cookies))

    def test_plan_upload(self):
        import hashlib
        c = FormClient(self.server)
        c.get("/formulare/bau-baugenehmigung")
        url = c.post("/formulare/bau-baugenehmigung").headers["location"]
        base = url.rsplit("/", 1)[0]
        for step, pairs in zip(["bauherr", "grundstueck", "vorhaben"], BAU):
            page = c.get(base + "/" + step)
            v = re.search(r'name="v" value="([0-9a-f]{64})"', page.text).group(1)
            r = c.post_pairs(base + "/" + step, [("v", v)] + shown(page) + pairs)
            self.assertEqual(r.status, 303, r.text[:3000])
        page = c.get(base + "/unterlagen")
        self.assertIn('enctype="multipart/form-data"', page.text)
        v = re.search(r'name="v" value="([0-9a-f]{64})"', page.text).group(1)
        # No plan: required.
        r = self.upload(c, base + "/unterlagen", v, [])
        self.assertEqual(r.status, 400)
        self.assertIn('href="#plans"', r.text)
        # Text pretending to be a PDF: refused by content.
        r = self.upload(c, base + "/unterlagen", v, [("plans", "plan.pdf", b"just text\n" * 50)])
        self.assertEqual(r.status, 400)
        self.assertIn("nicht das erlaubte Format", r.text)
        # A zip archive named .pdf: refused (archives are never accepted).
        import io
        import zipfile
        z = io.BytesIO()
        with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("bomb.txt", b"0" * 1000000)
        r = self.upload(c, base + "/unterlagen", v, [("plans", "plan.pdf", z.getvalue())])
        self.assertEqual(r.status, 400)
        self.assertIn("nicht das erlaubte Format", r.text)
        # EICAR inside a PDF: the virus scanner finds it.
        scans = self.clamd.scans
        r = self.upload(c, base + "/unterlagen", v, [("plans", "plan.pdf", PDF + EICAR)])
        self.assertEqual(r.status, 400)
        self.assertIn("Schadsoftware", r.text)
        self.assertGreater(self.clamd.scans, scans)
        # A real PDF.
        r = self.upload(c, base + "/unterlagen", v, [("plans", "lageplan.pdf", PDF)])
        self.assertEqual(r.status, 303, r.text[:3000])
        summary = c.get(base + "/pruefen")
        self.assertIn("lageplan.pdf", summary.text)
        self.assertIn("1.750,00 EUR".replace(".", ""), summary.text.replace(".", ""))
        r = c.post_pairs(base + "/pruefen", [("v", v)])
        self.assertEqual(r.status, 303, r.text[:2000])
        pdf = c.get(r.headers["location"] + "/quittung.pdf")
        if shutil.which("pdftotext"):
            text = subprocess.run(["pdftotext", "-", "-"], input=pdf.body,
                                  capture_output=True, check=True).stdout.decode()
            self.assertIn(hashlib.sha256(PDF).hexdigest(), text)
            self.assertIn("lageplan.pdf", text)
        rows = self.db.sql("SELECT name, content_type, hash FROM forms_file")
        self.assertIn("application/pdf", rows)
        self.assertIn(hashlib.sha256(PDF).hexdigest(), rows)
        # The fee became a receivable of the building permit case, payable
        # with the GiroCode on its payment page named in the applicant's mail.
        row = self.db.sql("SELECT r.kz, r.amount_cents FROM payments_receivable r "
                          "JOIN workflow_case c ON c.number = r.case_ref "
                          "WHERE c.workflow = 'bauantrag-vereinfacht'")
        kz, cents = row.split("|")
        self.assertEqual(int(cents), 175000)
        mails = self.db.sql("SELECT body FROM mail_message WHERE body LIKE '%%%s%%'" % kz)
        self.assertIn("/zahlung/" + kz, mails)
        page = c.get("/zahlung/" + kz)
        self.assertEqual(page.status, 200)
        self.assertIn("1.750,00 EUR", page.text)
        self.assertIn("girocode.svg", page.text)


if __name__ == "__main__":
    unittest.main()
