"""The e-file over HTTP: a clerk creates a file, uploads several documents
at once (one a PDF), finds a word inside the PDF, downloads a version and
closes the file; another unit sees nothing; a stale close is a conflict; a
bad plan import names its lines; with the disposal clock moved on
(efile_today), one records manager requests the handover and a second one
confirms it, and the archive package's checksums verify.  Run once per
backend by scripts/test-all."""
import hashlib
import io
import json
import re
import time
import unittest
import uuid
import zipfile

from harness import Client, Database, Server, run_cli

PASSWORD = "Aktenplan-Kreis-2026"


def make_pdf(text):
    content = b"BT /F1 18 Tf 50 700 Td (" + text.encode() + b") Tj ET"
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objs):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % (i + 1) + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 6\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size 6 /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return out


def multipart(fields, files):
    boundary = "----kreisel" + uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in fields.items():
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n"
                  f"{value}\r\n".encode())
    for name, filename, data, ctype in files:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                  f"filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n".encode())
        out.write(data + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), "multipart/form-data; boundary=" + boundary


def add_user(db, login, unit, role):
    out = run_cli(db, "user", "add", "--login", login, "--name", login, "--unit", unit, "--role",
                  role, "--password-stdin", stdin=PASSWORD + "\n")
    assert out.returncode == 0, out.stderr


class EfileTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        assert run_cli(cls.db, "migrate").returncode == 0
        out = run_cli(cls.db, "seed-demo")
        assert out.returncode == 0, out.stdout + out.stderr
        add_user(cls.db, "k.akte", "36.1", "clerk")
        add_user(cls.db, "w.wohngeld", "50.1", "clerk")
        add_user(cls.db, "r.registratur", "10", "records_manager")
        add_user(cls.db, "s.archiv", "10", "records_manager")
        add_user(cls.db, "p.personal", "36.1", "clerk")
        add_user(cls.db, "n.nachbar", "36.1", "clerk")
        cls.server = Server(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    def client(self, login, server=None):
        c = Client(server or self.server)
        r = c.login(login, PASSWORD)
        self.assertIn(r.status, (302, 303), r.text[:300])
        return c

    def upload(self, c, file_id, files, fields=None):
        c.get(f"/verwaltung/akten/{file_id}")
        body, ctype = multipart(dict(fields or {}, csrf_token=c.csrf), files)
        h = {"Origin": "http://127.0.0.1:%d" % self.server.port, "Content-Type": ctype}
        return self.server.request("POST", f"/verwaltung/akten/{file_id}/dokumente", body=body,
                                   headers=h, cookies=c.cookies)

    def plan_id(self, c, number):
        items = json.loads(c.get("/api/v1/aktenplan").text)["items"]
        return next(i["id"] for i in items if i["number"] == number)

    def create_file(self, c, number, title):
        c.get("/verwaltung/akten")
        r = c.post("/verwaltung/akten", {"plan_item": self.plan_id(c, number), "title": title})
        self.assertEqual(r.status, 303, r.text[:500])
        return int(r.headers["location"].rsplit("/", 1)[1])

    def wait_for_hit(self, c, word, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            hits = json.loads(c.get("/api/v1/akten-suche?q=" + word).text)["hits"]
            if hits:
                return hits
            time.sleep(0.3)
        return []

    def test_clerk_files_searches_closes_and_records_dispose(self):
        clerk = self.client("k.akte")
        self.assertEqual(clerk.get("/verwaltung/akten").status, 200)
        # Bad input: no title.
        r = clerk.post("/verwaltung/akten", {"plan_item": self.plan_id(clerk, "81.30"),
                                              "title": ""})
        self.assertEqual(r.status, 422)
        file_id = self.create_file(clerk, "81.30", "Verkehrsanordnung Lindenweg")
        page = clerk.get(f"/verwaltung/akten/{file_id}").text
        ref = re.search(r"<small>([^<]+)</small>", page).group(1)
        self.assertRegex(ref, r"^36\.1-81\.30-\d{4}/\d{4}$")
        pdf = make_pdf("Die Baustelleneinrichtung bleibt bis Montag")
        r = self.upload(clerk, file_id, [
            ("files", "anordnung.pdf", pdf, "application/pdf"),
            ("files", "../../etc/vermerk.txt", "Rückfrage der Polizei".encode(), "text/plain"),
        ], {"new_transaction": "Anordnung"})
        self.assertEqual(r.status, 303, r.text[:500])
        page = clerk.get(f"/verwaltung/akten/{file_id}").text
        self.assertIn("anordnung.pdf", page)
        self.assertNotIn("../", page)
        self.assertIn(hashlib.sha256(pdf).hexdigest(), page)
        # A word inside the PDF, in another inflection.
        hits = self.wait_for_hit(clerk, "Baustelleneinrichtungen")
        self.assertEqual([h["file"] for h in hits], [file_id])
        doc = hits[0]["document"]
        r = clerk.get(f"/verwaltung/dokumente/{doc}/version/1")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, pdf)
        self.assertIn("attachment", r.headers["content-disposition"])
        # Another unit sees neither the file nor the document.
        other = self.client("w.wohngeld")
        self.assertEqual(other.get(f"/verwaltung/akten/{file_id}").status, 404)
        self.assertEqual(other.get(f"/verwaltung/dokumente/{doc}/version/1").status, 404)
        self.assertEqual(json.loads(other.get("/api/v1/akten-suche?q=Baustelleneinrichtung")
                                    .text)["hits"], [])
        # A clerk may not set a legal hold (records managers and heads may).
        r = clerk.post(f"/verwaltung/akten/{file_id}/sperre", {"hold": "1", "reason": "Klage"})
        self.assertEqual(r.status, 403)
        # Close: a stale version is a conflict, the right one closes.
        data = json.loads(clerk.get(f"/api/v1/akten/{file_id}").text)
        clerk.get(f"/verwaltung/akten/{file_id}")
        r = clerk.post(f"/verwaltung/akten/{file_id}/schliessen", {"version": data["version"] - 1})
        self.assertEqual(r.status, 409)
        r = clerk.post(f"/verwaltung/akten/{file_id}/schliessen", {"version": data["version"]})
        self.assertEqual(r.status, 303)
        data = json.loads(clerk.get(f"/api/v1/akten/{file_id}").text)
        self.assertEqual(data["status"], "closed")
        due_year = int(data["disposal_at"][:4])
        self.assertEqual(due_year, int(data["closed_at"][:4]) + 11)  # 10 years (8), next Jan 1
        # The records manager sees it in the period it is due, not before.
        rm = self.client("r.registratur")
        self.assertNotIn(ref, rm.get(f"/verwaltung/aussonderung?jahr={due_year - 1}").text)
        self.assertIn(ref, rm.get(f"/verwaltung/aussonderung?jahr={due_year}").text)
        self.assertEqual(clerk.get("/verwaltung/aussonderung").status, 403)
        # With the clock moved past the date: request, four eyes, package.
        later = Server(self.db, env={"KREISEL_EFILE_TODAY": f"{due_year}-01-02"})
        try:
            rm1 = self.client("r.registratur", later)
            rm1.get(f"/verwaltung/aussonderung?jahr={due_year}")
            r = rm1.post(f"/verwaltung/aussonderung/akte/{file_id}",
                         {"action": "archive", "legal_basis": "§ 7 Landesarchivgesetz",
                          "jahr": due_year})
            self.assertEqual(r.status, 303, r.text[:500])
            page = rm1.get(f"/verwaltung/aussonderung?jahr={due_year}").text
            req = int(re.search(r"/verwaltung/aussonderung/antrag/(\d+)", page).group(1)) \
                if "/antrag/" in page else None
            self.assertIsNone(req)  # the requester gets no confirm button
            r = rm1.post(f"/verwaltung/aussonderung/antrag/1", {})
            self.assertEqual(r.status, 403)
            rm2 = self.client("s.archiv", later)
            page = rm2.get(f"/verwaltung/aussonderung?jahr={due_year}").text
            req = int(re.search(r"/verwaltung/aussonderung/antrag/(\d+)", page).group(1))
            r = rm2.post(f"/verwaltung/aussonderung/antrag/{req}", {})
            self.assertEqual(r.status, 303, r.text[:500])
            r = rm2.get(f"/verwaltung/akten/{file_id}/paket")
            self.assertEqual(r.status, 200)
            z = zipfile.ZipFile(io.BytesIO(r.body))
            sums = z.read("checksums.sha256").decode().splitlines()
            names = [n for n in z.namelist() if n != "checksums.sha256"]
            self.assertEqual(len(sums), len(names))
            self.assertEqual(len(names), 3)
            for line in sums:
                digest, name = line.split("  ", 1)
                self.assertEqual(hashlib.sha256(z.read(name)).hexdigest(), digest, name)
            xml = z.read(next(n for n in names if n.endswith(".xml"))).decode()
            self.assertIn(f"<xdomea:Kennzeichen>{ref}</xdomea:Kennzeichen>", xml)
        finally:
            later.stop()

    def test_large_download_streams_with_same_hash_and_headers(self):
        """A scan above the old 24 MiB cap goes up and comes back unchanged,
        sent from the file (zero copy) with the attachment headers."""
        clerk = self.client("k.akte")
        file_id = self.create_file(clerk, "81.30", "Grosse Scans")
        size = 31 * 1024 * 1024 + 123
        block = hashlib.sha256(b"scan").digest() * 4096  # 128 KiB, not compressible away
        data = (block * (size // len(block) + 1))[:size]
        name = "Scan groß äö;1.bin"
        r = self.upload(clerk, file_id, [("files", name, data, "application/octet-stream")],
                        {"new_transaction": "Scans"})
        self.assertEqual(r.status, 303, r.text[:500])
        view = json.loads(clerk.get(f"/api/v1/akten/{file_id}").text)
        doc = view["transactions"][0]["documents"][0]
        self.assertEqual(doc["versions"][0]["size"], size)
        for path in (f"/verwaltung/dokumente/{doc['id']}/version/1",
                     f"/api/v1/dokumente/{doc['id']}/version/0"):
            r = clerk.get(path)
            self.assertEqual(r.status, 200, path)
            self.assertEqual(len(r.body), size)
            self.assertEqual(hashlib.sha256(r.body).hexdigest(), hashlib.sha256(data).hexdigest())
            self.assertEqual(r.headers["content-length"], str(size))
            self.assertEqual(r.headers["content-type"], "application/octet-stream")
            self.assertEqual(r.headers["content-disposition"],
                             "attachment; filename*=UTF-8''Scan%20gro%C3%9F%20%C3%A4%C3%B6%3B1.bin")
            self.assertEqual(r.headers["x-content-type-options"], "nosniff")
            self.assertEqual(r.headers["cache-control"], "private, no-store")
            self.assertIn("default-src 'self'", r.headers["content-security-policy"])
            self.assertEqual(r.headers["x-frame-options"], "DENY")
        # HEAD: the headers with the length, no body.
        r = self.server.request("HEAD", f"/verwaltung/dokumente/{doc['id']}/version/1",
                                cookies=clerk.cookies)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-length"], str(size))
        self.assertEqual(r.body, b"")
        # Still no access for another unit, and a missing version is a 404 page.
        other = self.client("w.wohngeld")
        self.assertEqual(other.get(f"/verwaltung/dokumente/{doc['id']}/version/1").status, 404)
        r = clerk.get(f"/verwaltung/dokumente/{doc['id']}/version/7")
        self.assertEqual(r.status, 404)
        self.assertIn("text/html", r.headers["content-type"])

    def named_people(self, c, file_id):
        page = c.get(f"/verwaltung/akten/{file_id}/berechtigte").text
        return page

    def test_restricted_file_named_people(self):
        owner = self.client("p.personal")
        owner.get("/verwaltung/akten")
        r = owner.post("/verwaltung/akten", {"plan_item": self.plan_id(owner, "81.30"),
                                             "title": "Personalakte Muster", "restricted": "1"})
        self.assertEqual(r.status, 303, r.text[:500])
        file_id = int(r.headers["location"].rsplit("/", 1)[1])
        page = owner.get(f"/verwaltung/akten/{file_id}").text
        self.assertIn(f'href="/verwaltung/akten/{file_id}/berechtigte"', page)
        # Neither the rest of the unit nor another unit nor records managers.
        colleague = self.client("n.nachbar")
        other = self.client("w.wohngeld")
        rm = self.client("r.registratur")
        for c in (colleague, other, rm):
            self.assertEqual(c.get(f"/verwaltung/akten/{file_id}").status, 404)
            self.assertEqual(c.get(f"/verwaltung/akten/{file_id}/berechtigte").status, 404)
            self.assertEqual(c.get(f"/api/v1/akten/{file_id}").status, 404)
        # The page: nobody named yet; look the person up by part of the login.
        page = self.named_people(owner, file_id)
        self.assertIn("Berechtigte Personen", page)
        r = owner.get(f"/verwaltung/akten/{file_id}/berechtigte?person=wohn")
        self.assertEqual(r.status, 200)
        m = re.search(r'name="user" value="(\d+)"', r.text)
        self.assertIsNotNone(m, r.text[:2000])
        self.assertEqual(len(re.findall(r'name="user" value=', r.text)), 1)
        self.assertIn("w.wohngeld", r.text)
        user = m.group(1)
        # Bad input: a too short lookup, no person, a citizen-free unknown id,
        # no CSRF token; all as HTML, nothing stored.
        r = owner.get(f"/verwaltung/akten/{file_id}/berechtigte?person=w")
        self.assertEqual(r.status, 422)
        self.assertIn("error-summary", r.text)
        r = owner.post(f"/verwaltung/akten/{file_id}/berechtigte", {"user": "abc"})
        self.assertEqual(r.status, 422)
        self.assertIn("text/html", r.headers["content-type"])
        r = owner.post(f"/verwaltung/akten/{file_id}/berechtigte", {"user": "999999"})
        self.assertEqual(r.status, 422)
        self.assertIn("person", r.text)
        r = owner.post(f"/verwaltung/akten/{file_id}/berechtigte", {"user": user}, csrf=False)
        self.assertEqual(r.status, 403)
        self.assertEqual(other.get(f"/verwaltung/akten/{file_id}").status, 404)
        # Someone without access cannot name themselves.
        other.get("/verwaltung/akten")
        r = other.post(f"/verwaltung/akten/{file_id}/berechtigte", {"user": user})
        self.assertEqual(r.status, 404)
        # Granted: the person sees the file (read only: another unit).
        r = owner.post(f"/verwaltung/akten/{file_id}/berechtigte", {"user": user})
        self.assertEqual(r.status, 303, r.text[:500])
        page = self.named_people(owner, file_id)
        self.assertIn("w.wohngeld", page)
        self.assertIn(f"/berechtigte/{user}/entziehen", page)
        self.assertEqual(other.get(f"/verwaltung/akten/{file_id}").status, 200)
        data = json.loads(other.get(f"/api/v1/akten/{file_id}").text)
        self.assertFalse(data["writable"])
        page = other.get(f"/verwaltung/akten/{file_id}/berechtigte").text
        self.assertIn("w.wohngeld", page)
        self.assertNotIn("/entziehen", page)  # reading only: no forms
        r = other.post(f"/verwaltung/akten/{file_id}/berechtigte/{user}/entziehen", {})
        self.assertEqual(r.status, 403)
        self.assertEqual(colleague.get(f"/verwaltung/akten/{file_id}").status, 404)
        # Revoked: gone again; revoking twice is a 404.
        owner.get(f"/verwaltung/akten/{file_id}/berechtigte")
        r = owner.post(f"/verwaltung/akten/{file_id}/berechtigte/{user}/entziehen", {})
        self.assertEqual(r.status, 303, r.text[:500])
        self.assertEqual(other.get(f"/verwaltung/akten/{file_id}").status, 404)
        r = owner.post(f"/verwaltung/akten/{file_id}/berechtigte/{user}/entziehen", {})
        self.assertEqual(r.status, 404)
        # Both changes are in the file's history.
        actions = [h["action"] for h in json.loads(owner.get(f"/api/v1/akten/{file_id}").text)
                   ["history"]]
        self.assertIn("efile.file.grant", actions)
        self.assertIn("efile.file.revoke", actions)

    def test_plan_import_errors_and_export(self):
        rm = self.client("r.registratur")
        rm.get("/verwaltung/aktenplan")
        bad = ("number;parent;title;description;retention;event;evaluation;unit\n"
               "95;9;Neu;;10;;;\n96;77;Unbekannt;;10;;;\n97;9;Zu lang;;150;;;\n").encode()
        body, ctype = multipart({"csrf_token": rm.csrf}, [("file", "plan.csv", bad, "text/csv")])
        r = self.server.request("POST", "/verwaltung/aktenplan/import", body=body,
                                headers={"Origin": "http://127.0.0.1:%d" % self.server.port,
                                         "Content-Type": ctype}, cookies=rm.cookies)
        self.assertEqual(r.status, 422)
        self.assertIn("Zeile 3", r.text)
        self.assertIn("Zeile 4", r.text)
        csv = rm.get("/verwaltung/aktenplan/export/csv")
        self.assertEqual(csv.status, 200)
        self.assertNotIn("\n95;", csv.text)
        self.assertIn("81.10;81;Fahrzeugzulassung", csv.text)
        plan = json.loads(rm.get("/verwaltung/aktenplan/export/json").text)
        self.assertEqual(plan["format"], "kreisel-fileplan/1")
        clerk = self.client("k.akte")
        self.assertEqual(clerk.get("/api/v1/akten/999999").status, 404)
        self.assertTrue(clerk.get("/api/v1/akten/999999").headers["content-type"]
                        .startswith("application/problem+json"))


if __name__ == "__main__":
    unittest.main()
