"""Payments over HTTP: the cash office's pages (open items, search,
statement import with matching, unmatched queue, cancellation, dunning
with reminder PDF, CSV export), the JSON API with problem+json errors,
the public payment page with its GiroCode (decoded with zbarimg), and
signed, idempotent provider notifications."""
import hashlib
import hmac
import json
import os
import re
import subprocess
import tempfile
import unittest

import harness

CASH_PASSWORD = "Kasse-Passwort-2026!"
SECRET = "s" * 40
IBAN = "DE02120300000000202051"


def camt(stmt_id, entries):
    """A camt.053.001.02 statement; entries are (amount, name, remittance)."""
    ntry = "".join(
        f'<Ntry><Amt Ccy="EUR">{a}</Amt><CdtDbtInd>CRDT</CdtDbtInd><BookgDt><Dt>2026-11-20'
        f'</Dt></BookgDt><AcctSvcrRef>{stmt_id}-{i}</AcctSvcrRef><NtryDtls><TxDtls><RltdPties>'
        f'<Dbtr><Nm>{n}</Nm></Dbtr></RltdPties><RmtInf><Ustrd>{r}</Ustrd></RmtInf></TxDtls>'
        f'</NtryDtls></Ntry>' for i, (a, n, r) in enumerate(entries))
    return ('<?xml version="1.0"?><Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
            f'<BkToCstmrStmt><Stmt><Id>{stmt_id}</Id><Acct><Id><IBAN>{IBAN}</IBAN></Id></Acct>'
            f'{ntry}</Stmt></BkToCstmrStmt></Document>')


def mt940(ref, entries):
    """An MT940 statement; entries are (amount "7,50", name, remittance)."""
    lines = [":20:" + ref, ":25:12030000/0000202051", ":28C:00001/001", ":60F:C261120EUR0,00"]
    for i, (a, n, r) in enumerate(entries):
        lines += [f":61:2611201120CR{a}NTRFNONREF//{ref}-{i}", f":86:166?00GUTSCHRIFT?20{r}?32{n}"]
    return "\r\n".join(lines + [":62F:C261120EUR0,00", "-"]) + "\r\n"


class PaymentsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.db = harness.Database()
        harness.run_cli(cls.db, "migrate")
        harness.run_cli(cls.db, "seed-demo")
        for login, role in (("k.kasse", "cash_office"), ("k.sach", "clerk")):
            r = harness.run_cli(cls.db, "user", "add", "--login", login, "--name", login,
                                "--role", role, "--password-stdin", stdin=CASH_PASSWORD + "\n")
            assert r.returncode == 0, r.stderr
        cls.server = harness.Server(cls.db, env={"KREISEL_PAYMENTS_CALLBACK_SECRET": SECRET})

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    def cash(self):
        c = harness.Client(self.server)
        r = c.login("k.kasse", CASH_PASSWORD)
        self.assertEqual(r.status, 303, r.text[:300])
        return c

    def demo(self, c, amount):
        """Kassenzeichen and id of the demo receivable with that amount."""
        r = c.get("/api/payments/receivables?amount=" + amount)
        self.assertEqual(r.status, 200, r.text)
        [item] = r.json()["receivables"]
        return item["kassenzeichen"], item["id"]

    def receivable(self, c, kz):
        r = c.get("/api/payments/receivables/" + kz)
        self.assertEqual(r.status, 200, r.text)
        return r.json()

    def test_access(self):
        anon = harness.Client(self.server)
        self.assertEqual(anon.get("/verwaltung/kasse").status, 401)
        r = anon.get("/api/payments/receivables")
        self.assertEqual(r.status, 401)
        self.assertTrue(r.headers["content-type"].startswith("application/problem+json"))
        clerk = harness.Client(self.server)
        clerk.login("k.sach", CASH_PASSWORD)
        self.assertEqual(clerk.get("/verwaltung/kasse").status, 403)
        self.assertEqual(clerk.get("/verwaltung/kasse/export.csv").status, 403)

    def test_open_items_and_search(self):
        c = self.cash()
        r = c.get("/verwaltung/kasse")
        self.assertEqual(r.status, 200)
        self.assertIn("Erika Mustermann", r.text)
        self.assertIn("Wunschkennzeichen", r.text)
        r = c.get("/verwaltung/kasse?betrag=13%2C00")
        self.assertIn("Führungszeugnis", r.text)
        self.assertNotIn("Wunschkennzeichen", r.text)
        r = c.get("/verwaltung/kasse?betrag=12.345")
        self.assertEqual(r.status, 200)
        self.assertIn('aria-invalid="true"', r.text)
        kz, rid = self.demo(c, "13.00")
        typed = "kz " + kz[:4] + "-" + kz[4:8] + " " + kz[8:]
        r = c.get("/verwaltung/kasse?q=" + harness.urllib.parse.quote(typed))
        self.assertIn(f"/verwaltung/kasse/forderung/{rid}", r.text)

    def test_public_page_and_girocode(self):
        c = self.cash()
        kz, _ = self.demo(c, "12.80")
        anon = harness.Client(self.server)
        r = anon.get("/zahlung/" + kz)
        self.assertEqual(r.status, 200)
        self.assertIn("DE02120300000000202051", r.text)
        self.assertIn("12,80 EUR", r.text)
        self.assertIn("12.80 EUR", harness.Client(self.server, lang="en").get("/zahlung/" + kz).text)
        self.assertNotIn("Erika", r.text)  # nothing beyond the reference
        self.assertNotIn("Wunschkennzeichen", r.text)
        self.assertEqual(anon.get("/zahlung/202600000000").status, 404)
        self.assertEqual(anon.get("/zahlung/%3Cscript%3E").status, 404)
        png = anon.get(f"/zahlung/{kz}/girocode.png")
        self.assertEqual(png.headers["content-type"], "image/png")
        svg = anon.get(f"/zahlung/{kz}/girocode.svg")
        self.assertTrue(svg.text.startswith("<svg "))
        with tempfile.NamedTemporaryFile(suffix=".png") as f:
            f.write(png.body)
            f.flush()
            out = subprocess.run(["zbarimg", "--raw", "-q", "-Sbinary", f.name],
                                 capture_output=True, check=True).stdout.decode()
        lines = out.rstrip("\n").split("\n")
        self.assertEqual(lines[:4], ["BCD", "002", "1", "SCT"])
        self.assertEqual(lines[5], "Landkreis Musterland")
        self.assertEqual(lines[6], IBAN)
        self.assertEqual(lines[7], "EUR12.80")
        self.assertEqual(lines[10], kz)

    def test_statement_matching_and_queue(self):
        c = self.cash()
        kz, rid = self.demo(c, "30.00")
        c.get("/verwaltung/kasse/kontoauszug")
        body = camt("IT-1", [("10.00", "Erika Mustermann", "KZ " + kz[:6] + " " + kz[6:]),
                             ("20.00", "Unbekannt", "Rechnung 4711")])
        r = c.post("/verwaltung/kasse/kontoauszug", {"statement": body})
        self.assertEqual(r.status, 303, r.text[:500])
        page = c.get(r.headers["location"])
        self.assertIn("kassenzeichen", page.text)
        self.assertEqual(self.receivable(c, kz)["status"], "partly_paid")
        # The same statement again books nothing.
        r = c.post("/verwaltung/kasse/kontoauszug", {"statement": body})
        self.assertEqual(r.status, 422)
        self.assertEqual(self.receivable(c, kz)["paid_cents"], 1000)
        # Hostile and broken statements: clear errors, nothing booked.
        for bad in ('<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                    '<d>&x;</d>', camt("IT-2", [("1.001", "X", kz)]),
                    camt("IT-3", [("5.00", "X", kz)]).replace("EUR", "USD"), "nonsense"):
            c.get("/verwaltung/kasse/kontoauszug")
            r = c.post("/verwaltung/kasse/kontoauszug", {"statement": bad})
            self.assertEqual(r.status, 422, bad[:80])
            self.assertNotIn("root:", r.text)
        self.assertEqual(self.receivable(c, kz)["paid_cents"], 1000)
        # The unknown payment waits in the queue; assign it by hand.
        q = c.get("/verwaltung/kasse/offene-posten")
        m = re.search(r'action="/verwaltung/kasse/offene-posten/(\d+)/zuordnen"', q.text)
        self.assertIsNotNone(m, q.text[:2000])
        r = c.post(f"/verwaltung/kasse/offene-posten/{m.group(1)}/zuordnen",
                   {"kassenzeichen": "999999999999"})
        self.assertIn("fehler=zuordnung", r.headers["location"])
        r = c.post(f"/verwaltung/kasse/offene-posten/{m.group(1)}/zuordnen",
                   {"kassenzeichen": kz})
        self.assertEqual(r.headers["location"], "/verwaltung/kasse/offene-posten")
        self.assertEqual(self.receivable(c, kz)["status"], "paid")
        # The export lists both bookings.
        csv = c.get("/verwaltung/kasse/export.csv")
        self.assertTrue(csv.headers["content-type"].startswith("text/csv"))
        self.assertTrue(csv.text.startswith("booking_id;booking_date;kassenzeichen;amount"))
        self.assertEqual(csv.text.count(kz), 2)
        self.assertEqual(c.get("/verwaltung/kasse/export.csv?von=gestern").status, 400)

    def upload(self, c, name, data, status):
        """Upload a statement file on the cash office page; the response."""
        c.get("/verwaltung/kasse/kontoauszug")
        files = [("datei", name, "application/octet-stream", data)] if data is not None else []
        r = c.post_multipart("/verwaltung/kasse/kontoauszug", files=files)
        self.assertEqual(r.status, status, r.text[:500])
        if status != 303:  # the form again, the error at the file field
            self.assertIn('id="statement-file"', r.text)
            self.assertIn('aria-invalid="true"', r.text)
        return r

    def test_statement_file_upload(self):
        c = self.cash()
        form = c.get("/verwaltung/kasse/kontoauszug").text
        self.assertIn('enctype="multipart/form-data"', form)
        self.assertIn('type="file"', form)
        kz1, _ = self.api_create(c, "Datei Camt", "41.00")
        kz2, _ = self.api_create(c, "Datei Swift", "17.25")
        xml = camt("UP-1", [("41.00", "Datei Camt", "kz-" + kz1)]).encode()
        r = self.upload(c, "auszug.xml", xml, 303)
        page = c.get(r.headers["location"])
        self.assertIn("kassenzeichen", page.text)
        self.assertIn("41,00 EUR", page.text)
        self.assertEqual(self.receivable(c, kz1)["status"], "paid")
        swift = mt940("UP-2", [("10,00", "Datei Swift", "KZ " + kz2[:4] + " " + kz2[4:])])
        self.upload(c, "auszug.sta", swift.encode("latin-1"), 303)
        self.assertEqual(self.receivable(c, kz2)["paid_cents"], 1000)
        self.assertEqual(self.receivable(c, kz2)["status"], "partly_paid")
        queue = c.get("/api/payments/unmatched").json()["entries"]
        # The same files again book nothing twice, and say so.
        self.upload(c, "auszug.xml", xml, 422)
        self.upload(c, "nochmal.sta", swift.encode("latin-1"), 422)
        self.assertEqual(self.receivable(c, kz1)["paid_cents"], 4100)
        self.assertEqual(self.receivable(c, kz2)["paid_cents"], 1000)
        self.assertEqual(c.get("/api/payments/unmatched").json()["entries"], queue)
        # Bad files: the form again with the error, nothing booked.
        self.upload(c, "leer.xml", b"", 422)
        self.upload(c, "bild.png", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), 422)
        self.upload(c, "brief.txt", b"Sehr geehrte Damen und Herren,\n", 422)
        self.upload(c, "", b"", 422)  # no file chosen: the browser sends an empty part
        self.upload(c, "gross.xml", b"<" + b" " * (20 * 1024 * 1024), 413)
        c.get("/verwaltung/kasse/kontoauszug")
        r = c.post_multipart("/verwaltung/kasse/kontoauszug", {"statement": swift},
                             [("datei", "auszug.sta", "text/plain", swift.encode())])
        self.assertEqual(r.status, 422)  # a file and pasted text: which one?
        self.assertEqual(self.receivable(c, kz2)["paid_cents"], 1000)

    def test_cancel_and_dunning(self):
        c = self.cash()
        r = c.post("/api/payments/receivables", None)  # no CSRF header: refused
        self.assertEqual(r.status, 403)
        kz, rid = self.api_create(c, "Max Muster", "45.50", due_at=1700000000)
        dunning = c.get("/verwaltung/kasse/mahnungen")
        self.assertIn(f"/verwaltung/kasse/forderung/{rid}", dunning.text)
        self.assertIn("45,50 EUR", dunning.text)
        self.assertIn("5,00 EUR", dunning.text)  # the reminder fee
        r = c.post(f"/verwaltung/kasse/forderung/{rid}/mahnung")
        self.assertEqual(r.status, 303)
        pdf = c.get(r.headers["location"])
        self.assertEqual(pdf.headers["content-type"], "application/pdf")
        self.assertTrue(pdf.body.startswith(b"%PDF"))
        text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=pdf.body,
                              capture_output=True, check=True).stdout.decode()
        self.assertRegex(text, r"Forderung +45,50 EUR")
        self.assertRegex(text, r"Mahngebühren +5,00 EUR")
        self.assertRegex(text, r"Offener Betrag +50,50 EUR")
        self.assertEqual(self.receivable(c, kz)["fee_cents"], 500)
        c.get(f"/verwaltung/kasse/forderung/{rid}")
        r = c.post(f"/verwaltung/kasse/forderung/{rid}/storno", {"reason": ""})
        self.assertEqual(r.status, 422)
        r = c.post(f"/verwaltung/kasse/forderung/{rid}/storno",
                   {"reason": "Bescheid aufgehoben", "art": "storno"})
        self.assertEqual(r.status, 303)
        self.assertEqual(self.receivable(c, kz)["status"], "cancelled")
        self.assertNotIn(f"/verwaltung/kasse/forderung/{rid}\"",
                         c.get("/verwaltung/kasse/mahnungen").text)

    def api_create(self, c, name, amount, due_at=0, expect=201):
        c.get("/verwaltung/kasse")
        body = {"debtor_name": name, "purpose": "Gebühr", "amount": amount}
        if due_at:
            body["due_at"] = due_at
        r = self.server.request("POST", "/api/payments/receivables", body=json.dumps(body),
                                headers={"Content-Type": "application/json",
                                         "X-CSRF-Token": c.csrf}, cookies=c.cookies)
        self.assertEqual(r.status, expect, r.text)
        if expect != 201:
            return r
        return r.json()["kassenzeichen"], r.json()["id"]

    def test_amounts_for_people(self):
        """Pages show "1.750,00 EUR" (German) or "1,750.00 EUR" (English);
        the API keeps the machine format."""
        c = self.cash()
        kz, rid = self.api_create(c, "Gross Zahler", "1750.00")
        got = self.receivable(c, kz)
        self.assertEqual((got["amount"], got["amount_cents"]), ("1750.00", 175000))
        for lang, shown, zero in (("de", "1.750,00 EUR", "0,00 EUR"),
                                  ("en", "1,750.00 EUR", "0.00 EUR")):
            staff = harness.Client(self.server, lang=lang)
            staff.login("k.kasse", CASH_PASSWORD)
            page = staff.get(f"/verwaltung/kasse?q={kz}").text
            self.assertIn(f"<td class=\"num\">{shown}</td>", page)
            page = staff.get(f"/verwaltung/kasse/forderung/{rid}").text
            self.assertIn(f"<dd>{shown}</dd>", page)
            self.assertIn(f"<dd>{zero}</dd>", page)  # fees, paid
            page = harness.Client(self.server, lang=lang).get("/zahlung/" + kz).text
            self.assertIn(f"<dd>{shown}</dd>", page)
            self.assertNotIn("1750.00", page)

    def test_api_errors(self):
        c = self.cash()
        for amount in ("1.234", "-5", "0", "1000000000.00", "abc"):
            r = self.api_create(c, "X", amount, expect=400)
            self.assertTrue(r.headers["content-type"].startswith("application/problem+json"))
            self.assertEqual(r.json()["status"], 400)
        r = c.get("/api/payments/receivables/123")
        self.assertEqual(r.status, 404)
        self.assertTrue(r.headers["content-type"].startswith("application/problem+json"))

    def test_provider_notification(self):
        c = self.cash()
        kz, _ = self.api_create(c, "Online Zahler", "19.99")
        r = self.server.request("POST", "/api/payments/pay/" + kz,
                                body=json.dumps({"provider": "bank_transfer"}),
                                headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 201, r.text)
        ref = r.json()["payment_ref"]
        self.assertEqual(r.json()["redirect"], "/zahlung/" + kz)
        body = json.dumps({"event_id": "ev-1", "payment_ref": ref, "status": "paid",
                           "amount_cents": 1999}).encode()
        sig = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

        def notify(signature):
            return self.server.request("POST", "/api/payments/providers/bank_transfer/notify",
                                       body=body, headers={"X-Payment-Signature": signature,
                                                           "Content-Type": "application/json"})
        self.assertEqual(notify("0" * 64).status, 403)
        self.assertEqual(self.receivable(c, kz)["status"], "open")
        r = notify(sig)
        self.assertEqual(r.status, 200, r.text)
        self.assertFalse(r.json()["duplicate"])
        self.assertTrue(notify(sig).json()["duplicate"])
        got = self.receivable(c, kz)
        self.assertEqual((got["status"], got["paid_cents"]), ("paid", 1999))


if __name__ == "__main__":
    unittest.main()
