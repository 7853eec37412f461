"""A real SMTP server for tests: aiosmtpd on a free local port that keeps
every delivered message, so that a test can read what Kreisel sent.

    from smtp_sink import SmtpSink

    with SmtpSink() as sink:                       # plain SMTP
        server = harness.Server(db, env=sink.env())  # KREISEL_SMTP_URL etc.
        ...                                        # make Kreisel send mail
        [msg] = sink.wait_for(count=1, timeout=10)
        assert msg.to == ["citizen@example.org"]
        assert msg.message["Subject"] == "Ihr Konto"    # decoded by email
        body = msg.text()                           # the text/plain part
        link = re.search(r"https?://\\S+", body).group(0)

    SmtpSink(starttls=True)          offers STARTTLS with a throwaway
                                     self-signed certificate made by
                                     `openssl req` (env() passes it to Kreisel
                                     as smtp_ca_file)
    SmtpSink(starttls=True, require_tls=True)   refuses mail without it
    SmtpSink(auth=("user", "secret"))           offers AUTH PLAIN/LOGIN, checks
                                                the login (Delivery.authenticated)
    SmtpSink(implicit_tls=True)                 TLS from the start (smtps://)

    sink.reject["bad@example.org"] = "550 5.1.1 No such user"  # RCPT reply
    sink.reject["busy@example.org"] = "451 4.3.0 Try again later"
    sink.stop(); ...; sink.start()   an outage; start() reuses the port
    sink.clear()                     forget the messages received so far

Each delivered message is a Delivery with mail_from, to (the envelope
recipients), data (the raw bytes), tls (whether TLS was in use),
authenticated (whether the client logged in with AUTH),
message (an email.message.EmailMessage parsed with email.policy.default:
headers come out decoded), text() and attachments() (list of
(filename, content_type, bytes)).

aiosmtpd is Debian's python3-aiosmtpd (scripts/install-deps --test).  When
the python3 running the tests is not Debian's (pyenv), the Debian
dist-packages directory is searched as a fallback.
"""
import email
import email.policy
import logging
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time

try:
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult
except ImportError:  # a python3 other than Debian's: use Debian's package
    import sys
    sys.path.append("/usr/lib/python3/dist-packages")
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult

logging.getLogger("mail.log").setLevel(logging.CRITICAL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Delivery:
    """One message as the sink received it."""

    def __init__(self, mail_from, rcpt_tos, data, tls, authenticated=False):
        self.mail_from = mail_from
        self.authenticated = authenticated
        self.to = list(rcpt_tos)
        self.data = data
        self.tls = tls
        self.message = email.message_from_bytes(data, policy=email.policy.default)

    def text(self):
        """The text/plain body, decoded (str)."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content() if part is not None else ""

    def attachments(self):
        """[(filename, content_type, bytes)] in order."""
        return [(p.get_filename(), p.get_content_type(), p.get_payload(decode=True))
                for p in self.message.iter_attachments()]

    def __repr__(self):
        return f"<Delivery to={self.to} subject={self.message['Subject']!r}>"


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.sink.reject.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        tls = getattr(session, "ssl", None) is not None or self.sink.implicit_tls
        self.sink._deliver(Delivery(envelope.mail_from, envelope.rcpt_tos,
                                    envelope.original_content or envelope.content, tls,
                                    bool(getattr(session, "authenticated", False))))
        return "250 2.0.0 Message accepted"


class SmtpSink:
    def __init__(self, starttls=False, require_tls=False, auth=None, port=None,
                 implicit_tls=False):
        self.starttls = starttls
        self.implicit_tls = implicit_tls
        self.require_tls = require_tls
        self.auth = auth
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.reject = {}
        self.messages = []
        self._cond = threading.Condition()
        self._controller = None
        self._dir = tempfile.mkdtemp(prefix="kreisel-smtp-")
        self.cert_file = None
        self._tls_context = None
        if starttls or implicit_tls:
            self._make_certificate()

    # -- set-up ----------------------------------------------------------------
    def _make_certificate(self):
        key = os.path.join(self._dir, "key.pem")
        cert = os.path.join(self._dir, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
                        "-days", "2", "-subj", "/CN=localhost", "-addext",
                        "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                       check=True, capture_output=True)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(cert, key)
        self.cert_file = cert
        self._tls_context = ctx

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login.decode() == self.auth[0]
              and auth_data.password.decode() == self.auth[1])
        return AuthResult(success=ok, handled=False)  # aiosmtpd sends the 235/535

    def start(self):
        """Start listening (again) on self.port."""
        kwargs = {}
        if self.implicit_tls:
            kwargs.update(ssl_context=self._tls_context, server_hostname="localhost")
        elif self._tls_context:
            kwargs.update(tls_context=self._tls_context, require_starttls=self.require_tls)
        if self.auth:
            # AUTH offered (also without TLS), not required: tests check
            # Delivery.authenticated instead (aiosmtpd warns about the
            # combination required-without-TLS).
            kwargs.update(authenticator=self._authenticate, auth_require_tls=False)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                      **kwargs)
        deadline = time.time() + 10
        while True:  # the port of a just-stopped sink may linger briefly
            try:
                self._controller.start()
                break
            except (OSError, RuntimeError):
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        return self

    def stop(self):
        """Stop listening (an outage); messages and certificate stay."""
        if self._controller:
            self._controller.stop()
            self._controller = None

    def close(self):
        self.stop()
        shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    # -- for Kreisel -------------------------------------------------------------
    @property
    def url(self):
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"{scheme}://{self.host}:{self.port}"

    def env(self, **extra):
        """KREISEL_* variables that point Kreisel at this sink (for
        harness.Server(db, env=...) and harness.run_cli(..., env=...));
        keyword arguments add more (poll_interval="1s" becomes
        KREISEL_POLL_INTERVAL)."""
        env = {"KREISEL_SMTP_URL": self.url,
               "KREISEL_SMTP_TLS": "require" if self.starttls else "try",
               "KREISEL_MAIL_POLL_INTERVAL": "1s"}
        if self.cert_file:
            env["KREISEL_SMTP_CA_FILE"] = self.cert_file
        if self.auth:
            env["KREISEL_SMTP_USER"], env["KREISEL_SMTP_PASSWORD"] = self.auth
        for k, v in extra.items():
            env["KREISEL_" + k.upper()] = str(v)
        return env

    # -- reading -------------------------------------------------------------------
    def _deliver(self, delivery):
        with self._cond:
            self.messages.append(delivery)
            self._cond.notify_all()

    def wait_for(self, count=1, timeout=10):
        """Wait until at least count messages arrived; return all received
        (a list).  AssertionError when they do not come within timeout."""
        deadline = time.time() + timeout
        with self._cond:
            while len(self.messages) < count:
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} message(s) within {timeout}s, got "
                        f"{len(self.messages)}: {self.messages}")
                self._cond.wait(left)
            return list(self.messages)

    def clear(self):
        with self._cond:
            self.messages.clear()
