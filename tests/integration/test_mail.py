"""Integration tests of outgoing mail: the real binary sends through a real
SMTP server (aiosmtpd, see smtp_sink.py): plain and STARTTLS, attachments
and encoded headers, permanent and temporary failures, an outage of the
relay while `kreisel serve` runs, and the command line."""
import os
import re
import time
import unittest

from harness import Database, Server, run_cli
from smtp_sink import SmtpSink

ADDRESS = "buerger@example.org"


def row(db, mail_id):
    """status, attempts, last_error, next_attempt_at, last_attempt_at of a mail."""
    out = db.sql("SELECT status, attempts, COALESCE(last_error, ''), next_attempt_at, "
                 f"COALESCE(last_attempt_at, 0) FROM mail_message WHERE id = {int(mail_id)}")
    status, attempts, error, next_at, last_at = out.split("|")
    return status, int(attempts), error, int(next_at), int(last_at)


def mail_id(stdout):
    m = re.search(r"message (\d+)", stdout)
    assert m, stdout
    return int(m.group(1))


class MailCliTest(unittest.TestCase):
    """`kreisel mail send-test` sends at once: one process, no server."""

    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        r = run_cli(cls.db, "migrate")
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.db.drop()

    def count(self):
        return int(self.db.sql("SELECT COUNT(*) FROM mail_message"))

    def send(self, sink, *args, env=None):
        e = sink.env() if sink else {}
        e.update(env or {})
        return run_cli(self.db, "mail", "send-test", *args, env=e)

    def test_usage_errors_exit_2(self):
        with SmtpSink() as sink:
            before = self.count()
            for args in [["mail"], ["mail", "frob"], ["mail", "send-test"],
                         ["mail", "send-test", ADDRESS, "extra"], ["mail", "queue", "extra"],
                         ["mail", "send-test", "--bogus", ADDRESS],
                         ["mail", "send-test", "not-an-address"],
                         ["mail", "send-test", "a@b@example.org"],
                         ["mail", "send-test", "x@localhost"],
                         ["mail", "send-test", "Name <x@example.org>"],
                         ["mail", "send-test", "x@example.org\r\nBcc: y@example.org"],
                         # header injection through the subject is refused
                         ["mail", "send-test", "--subject", "Hi\r\nBcc: evil@example.org",
                          ADDRESS],
                         ["mail", "send-test", "--subject", "Hi\nX-Evil: 1", ADDRESS],
                         ["mail", "send-test", "--subject", "", ADDRESS]]:
                with self.subTest(args=args):
                    r = run_cli(self.db, *args, env=sink.env())
                    self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                    self.assertIn("usage: kreisel", r.stderr)
            self.assertEqual(self.count(), before, "nothing was queued")
            self.assertEqual(sink.messages, [])

    def test_plain_delivery_with_encoded_headers(self):
        subject = ("Ihr Antrag auf Wohngeld: Bescheid über die Gebühr für Änderungen "
                   "– Aktenzeichen 50.1-2026/0815 (ÄÖÜäöüß €)")
        text = ("Sehr geehrte Frau Müller,\n\n.\nEine Zeile mit einem Punkt davor.\r\n"
                "Grüße\n" + "x" * 200 + "\n=3D ist kein Escape.\n")
        with SmtpSink() as sink:
            r = self.send(sink, "--subject", subject, "--text", text, ADDRESS)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            [msg] = sink.wait_for(1)
        self.assertFalse(msg.tls)
        self.assertFalse(msg.authenticated)
        self.assertEqual(msg.to, [ADDRESS])
        self.assertEqual(msg.mail_from, "noreply@localhost.localdomain")
        m = msg.message
        self.assertEqual(m["Subject"], subject)
        self.assertEqual(m["To"], ADDRESS)
        self.assertEqual(m["From"].addresses[0].addr_spec, "noreply@localhost.localdomain")
        self.assertEqual(m["Auto-Submitted"], "auto-generated")
        self.assertRegex(m["Message-ID"], r"^<[0-9]+\.[0-9a-f]{32}@localhost\.localdomain>$")
        self.assertIsNotNone(m["Date"].datetime)
        self.assertEqual(m.get_content_type(), "multipart/mixed")
        # Every line of the raw message is short and ends in CRLF.
        for line in msg.data.split(b"\r\n"):
            self.assertLessEqual(len(line), 998)
        self.assertEqual(msg.text().replace("\r\n", "\n"), text.replace("\r\n", "\n"))
        self.assertEqual(row(self.db, mail_id(r.stdout))[0], "sent")

    def test_starttls_required_and_used(self):
        with SmtpSink(starttls=True, require_tls=True) as sink:
            r = self.send(sink, ADDRESS)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            [msg] = sink.wait_for(1)
            self.assertTrue(msg.tls)
            self.assertIn("Testnachricht", msg.message["Subject"])

    def test_smtps(self):
        with SmtpSink(implicit_tls=True) as sink:
            r = self.send(sink, ADDRESS)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            [msg] = sink.wait_for(1)
            self.assertEqual(msg.to, [ADDRESS])

    def test_tls_required_but_not_offered_is_temporary(self):
        with SmtpSink() as sink:
            r = self.send(sink, ADDRESS, env={"KREISEL_SMTP_TLS": "require"})
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("queued, will be retried", r.stdout)
            status, attempts, error, _, _ = row(self.db, mail_id(r.stdout))
            self.assertEqual((status, attempts), ("queued", 1))
            self.assertIn("SSL", error.upper().replace("TLS", "SSL"))
            time.sleep(0.3)
            self.assertEqual(sink.messages, [])

    def test_starttls_with_unknown_certificate_is_refused(self):
        with SmtpSink(starttls=True) as sink:
            env = sink.env()
            del env["KREISEL_SMTP_CA_FILE"]
            r = run_cli(self.db, "mail", "send-test", ADDRESS, env=env)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertEqual(row(self.db, mail_id(r.stdout))[0], "queued")
            self.assertEqual(sink.messages, [])

    def test_attachments_survive(self):
        pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\r\n.\r\n\n%%EOF\n"
        ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nSUMMARY:Termin Zulassungsstelle\r\n"
               "END:VCALENDAR\r\n").encode()
        files = {"Bescheid Müller (2026).pdf": pdf, "termin.ics": ics}
        paths = []
        for name, data in files.items():
            path = os.path.join(self.db.dir, name)
            with open(path, "wb") as f:
                f.write(data)
            paths += ["--attach", path]
        with SmtpSink() as sink:
            r = self.send(sink, *paths, ADDRESS)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            [msg] = sink.wait_for(1)
        got = msg.attachments()
        self.assertEqual([g[0] for g in got], list(files))
        self.assertEqual([g[1] for g in got], ["application/pdf", "text/calendar"])
        self.assertEqual(got[0][2], pdf)
        self.assertEqual(got[1][2], ics)
        self.assertIn("Diese Nachricht", msg.text())

    def test_permanent_failure_keeps_the_reply(self):
        with SmtpSink() as sink:
            sink.reject["nobody@example.org"] = "550 5.1.1 <nobody@example.org>: no such user"
            r = self.send(sink, "nobody@example.org")
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("failed", r.stdout)
            status, attempts, error, _, _ = row(self.db, mail_id(r.stdout))
            self.assertEqual((status, attempts), ("failed", 1))
            self.assertIn("550 5.1.1", error)
            self.assertIn("no such user", error)
            r = run_cli(self.db, "mail", "queue")
            self.assertRegex(r.stdout, r"failed: [1-9]")

    def test_temporary_failure_is_retried_later(self):
        db = Database()  # of its own, so that this mail is the oldest queued
        try:
            self.assertEqual(run_cli(db, "migrate").returncode, 0)
            with SmtpSink() as sink:
                sink.reject["busy@example.org"] = "451 4.3.0 mailbox busy, try later"
                r = run_cli(db, "mail", "send-test", "busy@example.org",
                            env=sink.env(mail_retry_first="2m"))
                self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
                mid = mail_id(r.stdout)
                status, attempts, error, next_at, last_at = row(db, mid)
                self.assertEqual((status, attempts), ("queued", 1))
                self.assertIn("451 4.3.0", error)
                self.assertIn(next_at - last_at, (120, 121))
                r = run_cli(db, "mail", "queue")
                self.assertEqual(r.returncode, 0)
                self.assertIn("queued: 1\n", r.stdout)
                self.assertIn(f"oldest queued: {mid}", r.stdout)
                self.assertIn("451 4.3.0", r.stdout)
        finally:
            db.drop()

    def test_smtp_auth(self):
        with SmtpSink(auth=("kreisel", "geheim")) as sink:
            r = self.send(sink, ADDRESS)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            [msg] = sink.wait_for(1)
            self.assertTrue(msg.authenticated)
            r = self.send(sink, ADDRESS, env={"KREISEL_SMTP_PASSWORD": "falsch"})
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("535", r.stdout)
            self.assertEqual(row(self.db, mail_id(r.stdout))[0], "queued")
            self.assertEqual(len(sink.messages), 1)

    def test_too_large_is_refused(self):
        path = os.path.join(self.db.dir, "big.pdf")
        with open(path, "wb") as f:
            f.write(b"%PDF" + b"x" * 30000)
        before = self.count()
        with SmtpSink() as sink:
            r = self.send(sink, "--attach", path, ADDRESS,
                          env={"KREISEL_MAIL_MAX_BYTES": "32k"})
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("mail_max_bytes", r.stderr)
        self.assertEqual(self.count(), before)

    def test_no_relay_configured(self):
        r = run_cli(self.db, "mail", "send-test", ADDRESS)
        self.assertEqual(r.returncode, 1)
        self.assertIn("smtp_url", r.stderr)
        r = run_cli(self.db, "mail", "queue")
        self.assertEqual(r.returncode, 0)
        self.assertIn("smtp_url is not set", r.stdout)


class MailServerTest(unittest.TestCase):
    """`kreisel serve` sends queued mail in the background."""

    def setUp(self):
        self.db = Database()
        self.sink = SmtpSink().start()
        self.server = Server(self.db, env=self.sink.env(mail_retry_first="1s"))

    def tearDown(self):
        try:
            self.server.stop()
        finally:
            self.sink.close()
            self.db.drop()

    def queue(self, address=ADDRESS):
        r = run_cli(self.db, "mail", "send-test", "--queue-only", address, env=self.sink.env())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return mail_id(r.stdout)

    def wait_row(self, mid, pred, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            r = row(self.db, mid)
            if pred(r):
                return r
            time.sleep(0.1)
        self.fail(f"mail {mid} never reached the expected state: {row(self.db, mid)}")

    def test_sender_delivers_and_counts(self):
        mid = self.queue()
        [msg] = self.sink.wait_for(1, timeout=15)
        self.assertEqual(msg.to, [ADDRESS])
        self.wait_row(mid, lambda r: r[0] == "sent")
        deadline = time.time() + 5  # counted just after the row is updated
        while True:
            metrics = self.server.request("GET", "/metrics").text
            if re.search(r"kreisel_mail_sent_total 1\b", metrics) or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertRegex(metrics, r"kreisel_mail_sent_total 1\b")
        self.assertRegex(metrics, r"kreisel_mail_failed_total 0\b")
        self.assertTrue(self.server.log_events("mail_sender_started"))

    def test_outage_loses_nothing_and_delivers_once(self):
        self.sink.stop()
        mid = self.queue()
        status, attempts, error, next_at, last_at = self.wait_row(
            mid, lambda r: r[1] >= 1 and r[2] != "")
        self.assertEqual(status, "queued")
        self.assertGreater(next_at, last_at - 1)
        self.assertTrue(self.server.log_events("mail_retry"))
        self.sink.start()
        [msg] = self.sink.wait_for(1, timeout=30)
        self.wait_row(mid, lambda r: r[0] == "sent")
        time.sleep(2.5)  # a few more polls: nothing is sent twice
        self.assertEqual(len(self.sink.messages), 1)
        self.assertEqual(msg.to, [ADDRESS])
        self.assertEqual(self.server.log_events("mail_sent")[0]["mail_id"], mid)


if __name__ == "__main__":
    unittest.main()
