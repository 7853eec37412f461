"""The first path end to end over HTTP: a submission opens its case and the
case's e-file (receipt filed); the clerk's decision renders the notice
(PDF read back with pdftotext), files it in the e-file and delivers it -
by e-mail with the PDF to an anonymous applicant, into the mailbox of an
account holder; an unpaid fee puts its payment details and a GiroCode
that a real decoder reads on the notice; a paid fee moves the case on
(on_paid).  Run once per backend by scripts/test-all."""
import re
import shutil
import subprocess
import tempfile
import unittest

import harness
import test_forms as tf

PASSWORD = "Erste-Strecke-2026-Kreis"


def pdf_text(data):
    return subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()


def girocode_of(pdf):
    """The payload of the QR code on the PDF's first page (pdftoppm + zbarimg)."""
    with tempfile.TemporaryDirectory() as d:
        with open(d + "/n.pdf", "wb") as f:
            f.write(pdf)
        subprocess.run(["pdftoppm", "-r", "200", "-f", "1", "-l", "2", "-png", d + "/n.pdf",
                        d + "/p"], check=True)
        out = subprocess.run("zbarimg -q --raw %s/p*.png" % d, shell=True, capture_output=True)
        return out.stdout.decode()


class FirstPathTest(harness.DemoCountyCase):
    STAFF = (("k.kita", "51.1", "clerk"), ("k.kfz", "36.1", "clerk"),
             ("k.kasse", "20.1", "cash_office"), ("k.schule", "40.1", "clerk"))
    STAFF_PASSWORD = PASSWORD
    CLIENT = tf.FormClient
    start = tf.FormsTest.start
    step = tf.FormsTest.step
    fill_kita = tf.FormsTest.fill_kita

    def decide(self, clerk, number, *transitions, reason=None):
        path = "/verwaltung/vorgaenge/" + number
        for t in transitions:
            page = clerk.get(path)
            self.assertEqual(page.status, 200, page.text[:500])
            version = re.search(r'name="version" value="(\d+)"', page.text).group(1)
            fields = {"transition": t, "version": version}
            if reason:
                fields["f_reason"] = reason
            r = clerk.post(path + "/uebergang", fields)
            self.assertEqual(r.status, 303, r.text[:2000])

    def efile_docs(self, number):
        rows = self.db.sql("SELECT d.title, d.direction FROM efile_document d JOIN "
                           "efile_transaction t ON t.id = d.transaction_id WHERE t.case_ref = '%s' "
                           "ORDER BY d.id" % number)
        return [tuple(line.split("|")) for line in rows.splitlines() if line]

    def submit_kfz(self, c, letters):
        url = self.start(c, "kfz-wunschkennzeichen")
        base = url.rsplit("/", 1)[0]
        self.step(c, url, [("district", "MU"), ("letters", letters),
                                         ("digits", "42"), ("electric", "nein"),
                                         ("alternatives.rows", "0")])
        self.step(c, base + "/fahrzeug",
                          [("vehicle", "pkw"), ("registered", "nein"),
                           ("keeper", "Erika Mustermann"), ("email", "erika@example.org")])
        summary = c.get(base + "/pruefen")
        v = re.search(r'name="v" value="([0-9a-f]{64})"', summary.text).group(1)
        r = c.post_pairs(base + "/pruefen", [("v", v)])
        self.assertEqual(r.status, 303, r.text[:2000])
        sub = re.search(r"(F-\d{4}-\d{6}-\d)", c.get(r.headers["location"]).text).group(1)
        row = self.db.sql("SELECT c.number, r.kz FROM workflow_case c JOIN payments_receivable r "
                          "ON r.case_ref = c.number WHERE c.submission_ref = '%s'" % sub)
        number, kz = row.strip().split("|")
        return number, kz

    def notice_in_mailbox(self, erika, number):
        box = erika.get("/postfach")
        self.assertEqual(box.status, 200)
        m = re.search(r'href="(/postfach/\d+)">(?:<span[^>]*>[^<]*</span> )?[^<]*%s: Bescheid'
                      % number, box.text)
        self.assertIsNotNone(m, box.text[:3000])
        msg = erika.get(m.group(1))
        link = re.search(r'href="(/postfach/\d+/datei/\d+)"', msg.text)
        self.assertIsNotNone(link, msg.text[:3000])
        pdf = erika.get(link.group(1))
        self.assertTrue(pdf.body.startswith(b"%PDF"), pdf.body[:100])
        return pdf.body

    @unittest.skipUnless(shutil.which("pdftotext"), "pdftotext (poppler-utils) missing")
    def test_kita_submission_efile_and_notice_by_mail(self):
        c = tf.FormClient(self.server)
        base = self.fill_kita(c)
        summary = c.get(base + "/pruefen")
        v = re.search(r'name="v" value="([0-9a-f]{64})"', summary.text).group(1)
        r = c.post_pairs(base + "/pruefen", [("v", v)])
        self.assertEqual(r.status, 303, r.text[:2000])
        sub = re.search(r"(F-\d{4}-\d{6}-\d)", c.get(r.headers["location"]).text).group(1)
        number = self.db.sql("SELECT number FROM workflow_case WHERE submission_ref = '%s'"
                             % sub).strip()
        # The case's e-file: under the day-care plan item, the receipt filed.
        f = self.db.sql("SELECT f.status, p.number FROM efile_file f JOIN efile_plan_item p "
                        "ON p.id = f.plan_item_id WHERE f.case_ref = '%s'" % number).strip()
        self.assertEqual(f, "open|45.20")
        self.assertEqual(self.efile_docs(number),
                         [("Antrag %s (Eingangsbestätigung)" % sub, "in")])
        # The clerk decides; the notice is rendered, filed and mailed.
        clerk = self.staff("k.kita")
        self.decide(clerk, number, "check")
        self.decide(clerk, number, "offer_place", reason="Platz in der Kita Sonnenschein")
        docs = self.efile_docs(number)
        self.assertEqual(len(docs), 2, docs)
        self.assertEqual(docs[1], ("Bescheid über einen Platz in der Kindertagesbetreuung",
                                   "out"))
        mail = self.db.sql("SELECT m.id FROM mail_message m JOIN mail_attachment a ON "
                           "a.mail_id = m.id WHERE m.recipient = 'anna@example.org' AND "
                           "a.filename = 'Bescheid-%s-place_offered.pdf'" % number)
        self.assertEqual(len(mail.split()), 1, mail)
        hist = self.db.sql("SELECT kind, public, text FROM workflow_history h JOIN workflow_case "
                           "c ON c.id = h.case_id WHERE c.number = '%s' AND kind = 'notice'"
                           % number).strip()
        self.assertEqual(hist, "notice|1|Bescheid-%s-place_offered.pdf" % number)
        audit = self.db.sql("SELECT COUNT(*) FROM audit_entry WHERE action = 'case.notice' AND "
                            "details LIKE '%%%s%%'" % number).strip()
        self.assertEqual(audit, "1")
        # The PDF, as the clerk downloads it from the case's e-file.
        doc = self.db.sql("SELECT v.blob_hash FROM efile_version v JOIN efile_document d ON "
                          "d.id = v.document_id JOIN efile_transaction t ON t.id = "
                          "d.transaction_id WHERE t.case_ref = '%s' AND d.direction = 'out'"
                          % number).strip()
        self.assertRegex(doc, r"^[0-9a-f]{64}$")

    @unittest.skipUnless(shutil.which("pdftotext") and shutil.which("zbarimg") and
                         shutil.which("pdftoppm"), "poppler-utils or zbar-tools missing")
    def test_unpaid_fee_on_notice_and_paid_fee_moves_on(self):
        erika = self.citizen()
        clerk = self.staff("k.kfz")
        # Decided before payment: the notice carries amount, reference and GiroCode.
        number, kz = self.submit_kfz(erika, "AB")
        self.assertEqual(self.efile_docs(number)[0][1], "in")
        self.decide(clerk, number, "start_review")
        self.decide(clerk, number, "approve", reason="Kennzeichen reserviert")
        pdf = self.notice_in_mailbox(erika, number)
        text = pdf_text(pdf)
        for want in ("Bescheid: Wunschkennzeichen", number, "Zahlungshinweise", "12,80 EUR",
                     "Rechtsbehelfsbelehrung", "Kennzeichen reserviert"):
            self.assertIn(want, text)
        code = girocode_of(pdf).splitlines()
        self.assertEqual(code[:4], ["BCD", "002", "1", "SCT"], code)
        self.assertEqual(code[7], "EUR12.80")
        self.assertEqual(code[-1], kz)
        # The e-file is closed with the final state.
        self.assertEqual(self.db.sql("SELECT status FROM efile_file WHERE case_ref = '%s'"
                                     % number).strip(), "closed")
        # Paid first: the statement's booking moves the case on by itself.
        number, kz = self.submit_kfz(erika, "CD")
        cash = self.staff("k.kasse")
        cash.get("/verwaltung/kasse/kontoauszug")
        body = tf_camt("FP-1", [("12.80", "Erika Mustermann", "KZ " + kz)])
        r = cash.post("/verwaltung/kasse/kontoauszug", {"statement": body})
        self.assertIn(r.status, (200, 303), r.text[:2000])
        state = self.db.sql("SELECT state FROM workflow_case WHERE number = '%s'" % number)
        self.assertEqual(state.strip(), "in_review")
        self.decide(clerk, number, "approve")
        text = pdf_text(self.notice_in_mailbox(erika, number))
        self.assertIn("Bescheid: Wunschkennzeichen", text)
        self.assertNotIn("Zahlungshinweise", text)

    def test_document_sent_later_lands_in_the_efile(self):
        erika = self.citizen()
        base = self.fill_kita(erika)
        summary = erika.get(base + "/pruefen")
        v = re.search(r'name="v" value="([0-9a-f]{64})"', summary.text).group(1)
        r = erika.post_pairs(base + "/pruefen", [("v", v)])
        self.assertEqual(r.status, 303, r.text[:2000])
        sub = re.search(r"(F-\d{4}-\d{6}-\d)", erika.get(r.headers["location"]).text).group(1)
        number = self.db.sql("SELECT number FROM workflow_case WHERE submission_ref = '%s'"
                             % sub).strip()
        clerk = self.staff("k.kita")
        self.decide(clerk, number, "request_documents")
        r = clerk.post("/verwaltung/vorgaenge/%s/nachfordern" % number,
                       {"text": "Bitte die Geburtsurkunde nachreichen."})
        self.assertEqual(r.status, 303, r.text[:1000])
        erika.get("/antraege/%s/nachreichen" % number)
        r = erika.post_multipart("/antraege/%s/nachreichen" % number,
                                 files=[("file", "urkunde.pdf", "application/pdf",
                                         b"%PDF-1.4 Geburtsurkunde")])
        self.assertEqual(r.status, 200, r.text[:1000])
        self.assertEqual([d[0] for d in self.efile_docs(number)],
                         ["Antrag %s (Eingangsbestätigung)" % sub, "Nachgereicht: urkunde.pdf"])
        # on_upload moved the case on, as before.
        state = self.db.sql("SELECT state FROM workflow_case WHERE number = '%s'" % number)
        self.assertEqual(state.strip(), "received")

    def test_guard_in_the_forms_expression_language(self):
        """School transport is approved from 2 km on: the guard
        `distance_km >= 2` reads the answer as the form's number."""
        clerk = self.staff("k.schule")
        shown = {}
        for km in (1, 8):
            r = harness.run_cli(self.db, "workflow", "open", "schuelerbefoerderung", "--email",
                                "eltern@example.org", "--data", '{"distance_km": %d}' % km)
            self.assertEqual(r.returncode, 0, r.stderr)
            number = re.search(r"case: (\S+)", r.stdout).group(1)
            self.decide(clerk, number, "start_review")
            page = clerk.get("/verwaltung/vorgaenge/" + number).text
            shown[km] = 'name="transition" value="approve"' in page
            self.assertIn('name="transition" value="reject"', page)
        self.assertEqual(shown, {1: False, 8: True})


def tf_camt(stmt_id, entries):
    import test_payments
    return test_payments.camt(stmt_id, entries)


if __name__ == "__main__":
    unittest.main()
