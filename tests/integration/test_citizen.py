"""The service account end to end over HTTP with a real SMTP server:
registration with confirmation, login by e-mail, password reset, second
factor, change of address, own sessions, mailbox with read receipts and
replies, data export, deletion, and the authorization matrix (a second
citizen and a clerk of another unit reach nothing of the first citizen's).
"""
import base64
import hashlib
import hmac
import io
import json
import re
import struct
import time
import unittest
import zipfile

import harness
from smtp_sink import SmtpSink

PASSWORD = "Sonnenblume-Kreis-77"
CLERK_PASSWORD = "Zulassung-Stelle-2026"


def totp(secret, t=None, step=0):
    key = base64.b32decode(secret.replace(" ", "") + "=" * (-len(secret.replace(" ", "")) % 8))
    counter = int((t or time.time()) // 30) + step
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def link_of(msg):
    m = re.search(r"https?://[^/\s]+(/\S+)", msg.text())
    return m.group(1) if m else None


class CitizenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sink = SmtpSink()
        cls.sink.__enter__()
        cls.db = harness.Database()
        harness.run_cli(cls.db, "migrate")
        seeded = harness.run_cli(cls.db, "seed-demo").stdout
        cls.demo_citizen_password = re.search(
            r"erika\.mustermann@musterland\.example\n  password: (\S+)", seeded).group(1)
        for login, unit in (("k.zul-test", "36.1"), ("k.bau", "63")):
            r = harness.run_cli(cls.db, "user", "add", "--login", login, "--name", login,
                                "--unit", unit, "--role", "clerk", "--password-stdin",
                                stdin=CLERK_PASSWORD + "\n")
            assert r.returncode == 0, r.stderr
        cls.server = harness.Server(cls.db, env=cls.sink.env())
        # The demo citizen's welcome message sent its notification: out of
        # the way before the tests count mails.
        [note] = cls.sink.wait_for(count=1, timeout=30)
        assert note.to == ["erika.mustermann@musterland.example"], note.to
        cls.sink.clear()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()
        cls.sink.__exit__(None, None, None)

    def setUp(self):
        self.sink.clear()

    # -- helpers ----------------------------------------------------------------
    def mail_to(self, address, timeout=15):
        """The first mail to address since the test began (mail of an
        earlier test may still arrive meanwhile: it is skipped)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            for m in list(self.sink.messages):
                if address in m.to:
                    return m
            time.sleep(0.05)
        raise AssertionError("no mail to %s: %s" % (address, self.sink.messages))

    def register(self, email, name="Erika Mustermann", company=None):
        c = harness.Client(self.server)
        self.assertEqual(c.get("/registrieren").status, 200)
        fields = {"kind": "business" if company else "private", "display_name": name,
                  "email": email, "password": PASSWORD, "password_repeat": PASSWORD}
        if company:
            fields["company"] = company
        r = c.post("/registrieren", fields)
        self.assertEqual(r.status, 200, r.text)
        return c, r

    def confirmed_citizen(self, email, company=None):
        c, _ = self.register(email, company=company)
        msg = self.mail_to(email.lower())
        self.sink.clear()
        path = link_of(msg)
        self.assertEqual(c.get(path).status, 200)
        token = re.search(r"token=([0-9a-f]{64})", path).group(1)
        r = c.post("/registrieren/bestaetigen", {"token": token})
        self.assertEqual(r.status, 200, r.text)
        r = c.login(email, PASSWORD)
        self.assertEqual(r.status, 303, r.text)
        self.assertEqual(r.headers["location"], "/konto")
        return c

    def clerk(self, login):
        c = harness.Client(self.server)
        r = c.login(login, CLERK_PASSWORD)
        self.assertEqual(r.status, 303, r.text)
        return c

    def test_demo_citizen_has_a_message(self):
        c = harness.Client(self.server)
        r = c.login("erika.mustermann@musterland.example", self.demo_citizen_password)
        self.assertEqual(r.status, 303)
        self.assertIn("Willkommen im Serviceportal", c.get("/postfach").text)

    # -- registration ----------------------------------------------------------------
    def test_registration_confirmation_login(self):
        c, first = self.register("Erika.Reg@Example.org")
        msg = self.mail_to("erika.reg@example.org")
        self.assertIn("bestätigen", msg.message["Subject"])
        path = link_of(msg)
        # Not before confirmation.
        self.assertEqual(harness.Client(self.server).login("erika.reg@example.org",
                                                           PASSWORD).status, 422)
        # Opening the link shows a button; it does not confirm by itself.
        self.assertEqual(c.get(path).status, 200)
        self.assertEqual(harness.Client(self.server).login("erika.reg@example.org",
                                                           PASSWORD).status, 422)
        token = re.search(r"token=([0-9a-f]{64})", path).group(1)
        self.assertEqual(c.post("/registrieren/bestaetigen", {"token": token}).status, 200)
        self.assertEqual(c.post("/registrieren/bestaetigen", {"token": token}).status, 410)
        r = c.login("erika.reg@example.org", PASSWORD)
        self.assertEqual(r.status, 303)
        page = c.get("/konto")
        self.assertEqual(page.status, 200)
        self.assertIn("Erika Mustermann", page.text)
        # Same page, no enumeration: registering the address again says the
        # same and mails the owner instead.
        self.sink.clear()
        _, again = self.register("erika.reg@example.org", name="Somebody")
        self.assertEqual(strip_tokens(first.text), strip_tokens(again.text))
        msg = self.mail_to("erika.reg@example.org")
        self.assertIn("bereits", msg.message["Subject"])

    def test_registration_errors_keep_values_and_store_nothing(self):
        c = harness.Client(self.server)
        c.get("/registrieren")
        r = c.post("/registrieren", {"kind": "business", "display_name": "Max <b>Muster</b>",
                                     "email": "kein-at", "password": "kurz",
                                     "password_repeat": "kurz", "company": ""})
        self.assertEqual(r.status, 422)
        self.assertIn('class="error-summary"', r.text)
        for field in ("email", "company", "password"):
            self.assertIn('href="#%s"' % field, r.text)
        self.assertIn("Max &lt;b&gt;Muster&lt;/b&gt;", r.text)  # kept, escaped
        self.assertNotIn('value="kurz"', r.text)  # passwords are never echoed
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM account_user WHERE email = 'kein-at'"),
                         "0")
        # Without CSRF token: refused.
        r = harness.Client(self.server).post("/registrieren", {"email": "x@example.org"},
                                             csrf=False)
        self.assertEqual(r.status, 403)

    def test_password_reset(self):
        c = self.confirmed_citizen("reset@example.org")
        anon = harness.Client(self.server)
        anon.get("/passwort-vergessen")
        r = anon.post("/passwort-vergessen", {"email": "unknown@example.org"})
        self.assertEqual(r.status, 200)
        r2 = anon.post("/passwort-vergessen", {"email": "reset@example.org"})
        self.assertEqual(r2.status, 200)
        self.assertEqual(strip_tokens(r.text), strip_tokens(r2.text))
        msg = self.mail_to("reset@example.org")
        time.sleep(1.5)  # the sender polls every second: a second mail would be here
        self.assertEqual([m for m in self.sink.messages if "unknown@example.org" in m.to], [])
        token = re.search(r"token=([0-9a-f]{64})", link_of(msg)).group(1)
        anon.get("/passwort-neu?token=" + token)
        r = anon.post("/passwort-neu", {"token": token, "password": "zu-kurz",
                                        "password_repeat": "zu-kurz"})
        self.assertEqual(r.status, 422)
        new = "Neues-Kennwort-2026"
        r = anon.post("/passwort-neu", {"token": token, "password": new,
                                        "password_repeat": new})
        self.assertEqual(r.status, 200, r.text)
        # Single use; old sessions ended; old password gone.
        r = anon.post("/passwort-neu", {"token": token, "password": new,
                                        "password_repeat": new})
        self.assertEqual(r.status, 410)
        self.assertEqual(c.get("/konto").status, 401)
        self.assertEqual(harness.Client(self.server).login("reset@example.org", PASSWORD).status,
                         422)
        self.assertEqual(harness.Client(self.server).login("reset@example.org", new).status, 303)

    def test_second_factor(self):
        c = self.confirmed_citizen("totp@example.org")
        c.get("/konto/zwei-faktor")
        r = c.post("/konto/zwei-faktor/einrichten")
        self.assertEqual(r.status, 200)
        secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', r.text).group(1)
        r = c.post("/konto/zwei-faktor/aktivieren", {"code": "000000" if totp(secret) != "000000"
                                                     else "111111"})
        self.assertEqual(r.status, 422)
        r = c.post("/konto/zwei-faktor/einrichten")  # a new secret
        secret = re.search(r'<code class="secret">([A-Z2-7 ]+)</code>', r.text).group(1)
        r = c.post("/konto/zwei-faktor/aktivieren", {"code": totp(secret)})
        self.assertEqual(r.status, 200, r.text)
        codes = re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", r.text)
        self.assertEqual(len(codes), 10)
        # Password alone is not a login any more.
        b = harness.Client(self.server)
        r = b.login("totp@example.org", PASSWORD)
        self.assertEqual(r.status, 303)
        self.assertEqual(r.headers["location"], "/anmelden/zweiter-faktor")
        self.assertEqual(b.get("/konto").status, 401)
        b.get("/anmelden/zweiter-faktor")
        self.assertEqual(b.post("/anmelden/zweiter-faktor", {"code": "123 456"}).status, 422)
        r = b.post("/anmelden/zweiter-faktor", {"code": totp(secret, step=1)})
        self.assertEqual(r.status, 303, r.text)
        self.assertEqual(b.get("/konto").status, 200)
        # A recovery code works once.
        d = harness.Client(self.server)
        d.login("totp@example.org", PASSWORD)
        d.get("/anmelden/zweiter-faktor")
        self.assertEqual(d.post("/anmelden/zweiter-faktor", {"code": codes[0]}).status, 303)
        e = harness.Client(self.server)
        e.login("totp@example.org", PASSWORD)
        e.get("/anmelden/zweiter-faktor")
        self.assertEqual(e.post("/anmelden/zweiter-faktor", {"code": codes[0]}).status, 422)

    def test_sessions_and_email_change(self):
        a = self.confirmed_citizen("move@example.org")
        b = harness.Client(self.server)
        self.assertEqual(b.login("move@example.org", PASSWORD).status, 303)
        page = a.get("/konto/sitzungen")
        handles = re.findall(r'name="session" value="([0-9a-f]{16})"', page.text)
        self.assertEqual(len(handles), 1)  # the other one; not this device
        self.assertEqual(a.post("/konto/sitzungen/beenden", {"session": handles[0]}).status, 303)
        self.assertEqual(b.get("/konto").status, 401)
        self.assertEqual(a.get("/konto").status, 200)

        a.get("/konto/e-mail")
        r = a.post("/konto/e-mail", {"new_email": "neu@example.org", "current": "falsch-falsch"})
        self.assertEqual(r.status, 422)
        r = a.post("/konto/e-mail", {"new_email": "neu@example.org", "current": PASSWORD})
        self.assertEqual(r.status, 200)
        msg = self.mail_to("neu@example.org")
        token = re.search(r"token=([0-9a-f]{64})", link_of(msg)).group(1)
        self.sink.clear()
        a.get("/konto/e-mail/bestaetigen?token=" + token)
        self.assertEqual(a.post("/konto/e-mail/bestaetigen", {"token": token}).status, 200)
        self.mail_to("move@example.org")  # the old address is told
        self.assertEqual(harness.Client(self.server).login("neu@example.org", PASSWORD).status,
                         303)

    def test_company_members(self):
        owner = self.confirmed_citizen("chefin@korn.example", company="Bäckerei Korn GmbH")
        colleague = self.confirmed_citizen("geselle@korn.example")
        stranger = self.confirmed_citizen("fremd@korn.example")
        page = owner.get("/konto/unternehmen")
        self.assertEqual(page.status, 200)
        self.assertIn("Bäckerei Korn GmbH", page.text)
        self.assertEqual(colleague.get("/konto/unternehmen").status, 404)  # no company yet
        self.assertEqual(colleague.post("/konto/unternehmen/einladen",
                                        {"email": "x@korn.example"}).status, 403)
        r = owner.post("/konto/unternehmen/einladen", {"email": "geselle@korn.example"})
        self.assertEqual(r.status, 303)
        msg = self.mail_to("geselle@korn.example")
        path = link_of(msg)
        token = re.search(r"token=([0-9a-f]{64})", path).group(1)
        # Logged out: to the login, and back to the link afterwards.
        anon = harness.Client(self.server)
        r = anon.get(path)
        self.assertEqual(r.status, 303)
        self.assertTrue(r.headers["location"].startswith("/anmelden?next="))
        # Only the invited address can use it.
        stranger.get(path)
        self.assertEqual(stranger.post("/konto/unternehmen/beitreten", {"token": token}).status,
                         410)
        colleague.get(path)
        r = colleague.post("/konto/unternehmen/beitreten", {"token": token})
        self.assertEqual(r.status, 303)
        page = colleague.get("/konto/unternehmen")
        self.assertEqual(page.status, 200)
        self.assertIn("Bäckerei Korn GmbH", page.text)
        self.assertNotIn("/konto/unternehmen/einladen", page.text)  # members do not invite
        member_id = re.search(r'name="member" value="(\d+)"',
                              owner.get("/konto/unternehmen").text).group(1)
        self.assertEqual(colleague.post("/konto/unternehmen/entfernen",
                                        {"member": member_id}).status, 403)
        self.assertEqual(owner.post("/konto/unternehmen/entfernen",
                                    {"member": member_id}).status, 303)
        self.assertEqual(colleague.get("/konto/unternehmen").status, 404)

    # -- mailbox -------------------------------------------------------------------
    def send_message(self, clerk, to, subject="Ihr Antrag auf Zulassung",
                     text="Bitte reichen Sie die eVB-Nummer nach."):
        clerk.get("/verwaltung/postfach")
        r = clerk.post("/verwaltung/postfach", {"to": to, "subject": subject, "text": text,
                                                "case": "36.1-2026-0042"})
        self.assertEqual(r.status, 303, r.text)
        return int(r.headers["location"].rsplit("/", 1)[1])

    def test_mailbox_read_receipt_reply_archive(self):
        citizen = self.confirmed_citizen("post@example.org")
        clerk = self.clerk("k.zul-test")
        mid = self.send_message(clerk, "post@example.org")
        note = self.mail_to("post@example.org")
        # The notification has no personal content, only the link.
        self.assertNotIn("eVB", note.text())
        self.assertNotIn("Zulassung", note.text() + note.message["Subject"])
        self.assertIn("/postfach", note.text())
        inbox = citizen.get("/postfach")
        self.assertIn("Ihr Antrag auf Zulassung", inbox.text)
        self.assertIn('class="badge"', inbox.text)
        self.assertIn("nicht gelesen", clerk.get("/verwaltung/postfach/%d" % mid).text)
        msg = citizen.get("/postfach/%d" % mid)
        self.assertEqual(msg.status, 200)
        self.assertIn("eVB-Nummer", msg.text)
        self.assertNotIn("nicht gelesen", clerk.get("/verwaltung/postfach/%d" % mid).text)
        r = citizen.post("/postfach/%d/antwort" % mid, {"text": ""})
        self.assertEqual(r.status, 422)
        r = citizen.post("/postfach/%d/antwort" % mid, {"text": "Die eVB lautet ABC1234."})
        self.assertEqual(r.status, 303)
        self.assertIn("Re: Ihr Antrag", clerk.get("/verwaltung/postfach").text)
        self.assertIn("Re: Ihr Antrag", citizen.get("/postfach?ordner=gesendet").text)
        self.assertEqual(citizen.post("/postfach/%d/archiv" % mid, {"archiv": "1"}).status, 303)
        self.assertNotIn("Ihr Antrag auf Zulassung", citizen.get("/postfach").text)
        self.assertIn("Ihr Antrag auf Zulassung", citizen.get("/postfach?ordner=archiv").text)
        api = citizen.get("/api/v1/postfach?ordner=archiv")
        self.assertEqual(api.status, 200)
        self.assertEqual(api.json()["messages"][0]["id"], mid)
        self.assertEqual(citizen.get("/postfach?ordner=unsinn").status, 400)

    def test_authorization_matrix(self):
        owner = self.confirmed_citizen("owner@example.org")
        other = self.confirmed_citizen("other@example.org")
        clerk = self.clerk("k.zul-test")
        foreign_clerk = self.clerk("k.bau")
        mid = self.send_message(clerk, "owner@example.org")
        self.assertEqual(owner.get("/postfach/%d" % mid).status, 200)
        reads = ["/postfach/%d" % mid, "/api/v1/postfach/%d" % mid,
                 "/postfach/%d/datei/1" % mid]
        writes = [("/postfach/%d/antwort" % mid, {"text": "Hallo"}),
                  ("/postfach/%d/archiv" % mid, {"archiv": "1"})]
        for who, client, want in (("second citizen", other, (404,)),
                                  ("clerk of another unit", foreign_clerk, (403, 404)),
                                  ("anonymous", harness.Client(self.server), (401,))):
            for path in reads:
                r = client.get(path)
                self.assertIn(r.status, want, "%s GET %s: %d" % (who, path, r.status))
                self.assertNotIn("eVB", r.text)
            for path, fields in writes:
                r = client.post(path, fields)
                self.assertIn(r.status, want, "%s POST %s: %d" % (who, path, r.status))
            r = client.get("/verwaltung/postfach/%d" % mid)
            self.assertIn(r.status, (401, 403, 404), "%s staff view: %d" % (who, r.status))
            self.assertNotIn("eVB", r.text)
        # The other citizen's own list does not show it; nothing changed.
        self.assertNotIn("Zulassung", other.get("/postfach").text)
        self.assertEqual(self.db.sql(
            "SELECT COUNT(*) FROM mailbox_message WHERE direction = 'out'"), "0")
        # Account data and sessions of the owner: not through another login.
        self.assertEqual(other.get("/konto/daten").status, 200)  # their own export only
        data = zipfile.ZipFile(io.BytesIO(other.get("/konto/daten").body))
        self.assertNotIn("owner@example.org", data.read("konto.json").decode())
        handles = re.findall(r'name="session" value="([0-9a-f]{16})"',
                             owner.get("/konto/sitzungen").text)
        owner_b = harness.Client(self.server)
        owner_b.login("owner@example.org", PASSWORD)
        handles = re.findall(r'name="session" value="([0-9a-f]{16})"',
                             owner.get("/konto/sitzungen").text)
        self.assertEqual(len(handles), 1)
        other.get("/konto/sitzungen")
        self.assertEqual(other.post("/konto/sitzungen/beenden", {"session": handles[0]}).status,
                         404)
        self.assertEqual(owner_b.get("/konto").status, 200)
        # Staff pages are not for citizens; citizen pages not for staff.
        self.assertEqual(owner.get("/verwaltung").status, 403)
        self.assertEqual(clerk.get("/postfach").status, 403)
        self.assertEqual(clerk.get("/konto/daten").status, 403)

    def test_export_and_delete(self):
        c = self.confirmed_citizen("export@example.org", company="Bäckerei Korn GmbH")
        clerk = self.clerk("k.zul-test")
        self.send_message(clerk, "export@example.org", text="Ihr Bescheid liegt bei.")
        r = c.get("/konto/daten")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "application/zip")
        z = zipfile.ZipFile(io.BytesIO(r.body))
        account = json.loads(z.read("konto.json"))
        self.assertEqual(account["email"], "export@example.org")
        self.assertEqual(account["company"]["name"], "Bäckerei Korn GmbH")
        self.assertTrue(any(e["action"] == "account.register" for e in account["audit_log"]))
        self.assertTrue(account["sessions"])
        messages = json.loads(z.read("postfach/nachrichten.json"))
        self.assertEqual(messages[0]["text"], "Ihr Bescheid liegt bei.")
        self.assertIn("LIESMICH.txt", z.namelist())

        c.get("/konto/loeschen")
        self.assertEqual(c.post("/konto/loeschen", {"current": PASSWORD}).status, 422)
        self.assertEqual(c.post("/konto/loeschen", {"confirm": "yes",
                                                    "current": "falsch"}).status, 422)
        r = c.post("/konto/loeschen", {"confirm": "yes", "current": PASSWORD})
        self.assertEqual(r.status, 200)
        self.assertEqual(c.get("/konto").status, 401)
        self.assertEqual(harness.Client(self.server).login("export@example.org", PASSWORD).status,
                         422)
        self.assertEqual(self.db.sql(
            "SELECT COUNT(*) FROM audit_entry WHERE action = 'account.delete'"), "1")


def strip_tokens(html):
    return re.sub(r'value="[0-9a-f]{64}"', "", html)


if __name__ == "__main__":
    unittest.main()
