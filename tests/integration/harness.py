"""Start the real `kreisel` binary and talk HTTP to it.

Used by the integration tests: each test module gets a server on a free
port with its own data directory (SQLite) or its own database
(PostgreSQL), configured only through KREISEL_* environment variables.

Extra configuration goes through env: Server(db, env={...}) and
run_cli(db, ..., env={...}); for mail, smtp_sink.SmtpSink().env() gives
KREISEL_SMTP_URL and friends (see smtp_sink.py).

Environment:
  KREISEL_BIN            path of the binary (default build/kreisel)
  KREISEL_TEST_BACKEND   sqlite (default) or postgresql
  KREISEL_TEST_PG_URL    cluster URL when the backend is postgresql; a fresh
                         database is created per server
"""
import http.client
import json
import os
import re
import unittest
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("KREISEL_BIN", os.path.join(ROOT, "build", "kreisel"))
BACKEND = os.environ.get("KREISEL_TEST_BACKEND", "sqlite")


def pg_admin(sql, url=None):
    """Run SQL with psql against the test cluster (maintenance database)."""
    url = url or os.environ["KREISEL_TEST_PG_URL"]
    subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-qAt", url, "-c", sql],
                   check=True, capture_output=True, text=True)


def pg_query(url, sql):
    out = subprocess.run(["psql", "-v", "ON_ERROR_STOP=1", "-qAt", url, "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


def with_database(url, dbname):
    """The cluster URL with another database name."""
    parts = urllib.parse.urlsplit(url)
    # Built by hand: urlunsplit drops the "//" of a URI without a host
    # (postgresql:///db?host=/socket/dir), which libpq needs.
    query = "?" + parts.query if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{dbname}{query}"


class Database:
    """A fresh database for one server: a directory for SQLite, a newly
    created database in the test cluster for PostgreSQL."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="kreisel-it-")
        if BACKEND == "postgresql":
            self.name = "it_" + uuid.uuid4().hex[:12]
            pg_admin(f"CREATE DATABASE {self.name}")
            self.url = with_database(os.environ["KREISEL_TEST_PG_URL"], self.name)
        else:
            self.name = None
            self.url = "sqlite:" + os.path.join(self.dir, "kreisel.db")

    def sql(self, statement):
        """Run SQL outside Kreisel (for tampering tests); returns text rows."""
        if BACKEND == "postgresql":
            return pg_query(self.url, statement)
        import sqlite3
        con = sqlite3.connect(self.url[len("sqlite:"):])
        try:
            rows = con.execute(statement).fetchall()
            con.commit()
            return "\n".join("|".join(str(c) for c in r) for r in rows)
        finally:
            con.close()

    def drop(self):
        if self.name:
            pg_admin(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")
        shutil.rmtree(self.dir, ignore_errors=True)


def base_env(db, extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KREISEL_")}
    env.update({
        "KREISEL_DATABASE": db.url,
        "KREISEL_DATA_DIR": db.dir,
        "KREISEL_SHARE_DIR": ROOT,
        "KREISEL_LISTEN": "127.0.0.1:0",
        "KREISEL_THREADS": "4",
        "KREISEL_LOG_LEVEL": "info",
    })
    env.update(extra or {})
    return env


def run_cli(db, *args, stdin=None, env=None):
    """Run a kreisel command against db; returns CompletedProcess."""
    return subprocess.run([BIN, *args], input=stdin, capture_output=True, text=True,
                          env=base_env(db, env), timeout=120)


CITIZEN = "erika.mustermann@musterland.example"  # the demo citizen of seed-demo


def seed_demo(db):
    """migrate and seed-demo; returns {login: password} of the demo
    accounts the seed printed (admin, k.zulassung, the demo citizen)."""
    out = run_cli(db, "migrate")
    assert out.returncode == 0, out.stderr
    out = run_cli(db, "seed-demo")
    assert out.returncode == 0, out.stdout + out.stderr
    return dict(re.findall(r"login: +(\S+)\n +password: (\S+)", out.stdout))


def add_staff(db, password, *users):
    """Staff accounts: users are (login, unit code or None, role)."""
    for login, unit, role in users:
        args = ["user", "add", "--login", login, "--name", login, "--email",
                login + "@landkreis.example", "--role", role, "--password-stdin"]
        if unit:
            args += ["--unit", unit]
        r = run_cli(db, *args, stdin=password + "\n")
        assert r.returncode == 0, r.stderr


class Server:
    """`kreisel serve` in the background; log lines are collected."""

    def __init__(self, db, env=None):
        self.db = db
        self.proc = subprocess.Popen([BIN, "serve"], env=base_env(db, env),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines = []
        self.port = None
        started = threading.Event()

        def read_log():
            for line in self.proc.stderr:
                self.lines.append(line)
                if '"event":"server_started"' in line:
                    self.port = json.loads(line)["port"]
                    started.set()
            started.set()

        self.reader = threading.Thread(target=read_log, daemon=True)
        self.reader.start()
        if not started.wait(60) or self.port is None:
            self.proc.kill()
            raise RuntimeError("server did not start:\n" + "".join(self.lines))

    def log_events(self, event):
        out = []
        for line in list(self.lines):
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            if obj.get("event") == event:
                out.append(obj)
        return out

    def wait_for_log(self, event, timeout=5):
        """The log events named event, waiting up to timeout seconds for
        the first (the log is read by a thread, a moment after the
        response)."""
        deadline = time.time() + timeout
        while True:
            found = self.log_events(event)
            if found or time.time() > deadline:
                return found
            time.sleep(0.05)

    def stop(self):
        """SIGTERM, then check that the server stopped cleanly: exit 0 (under
        the sanitizers that also means no leak and no error report)."""
        if self.proc.poll() is None:
            self.proc.send_signal(15)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.reader.join(10)
        self.proc.stderr.close()
        if self.proc.returncode != 0:
            raise RuntimeError("server exited with %d:\n%s" % (
                self.proc.returncode, "".join(self.lines[-60:])))
        return self.proc.returncode

    # -- HTTP ----------------------------------------------------------------
    def alive_or_explain(self):
        """Raise with the server's last log lines when it is gone (so that a
        refused connection says why)."""
        if self.proc.poll() is not None:
            raise RuntimeError("the server is gone (exit %s):\n%s" % (
                self.proc.returncode, "".join(self.lines[-40:])))

    def request(self, method, path, body=None, headers=None, cookies=None):
        self.alive_or_explain()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        h = dict(headers or {})
        if cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        if isinstance(body, dict):
            body = urllib.parse.urlencode(body)
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        try:
            conn.request(method, path, body=body, headers=h)
        except ConnectionRefusedError:
            self.alive_or_explain()
            raise RuntimeError("connection refused by a running server; its log:\n" +
                               "".join(self.lines[-40:]))
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return Response(resp.status, resp.getheaders(), data)

    def raw(self, data, read_timeout=10):
        """Send raw bytes, return the raw response (for malformed requests)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout) as s:
            s.sendall(data)
            chunks = []
            try:
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    chunks.append(chunk)
            except (socket.timeout, ConnectionResetError):
                pass
        return b"".join(chunks)


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.header_list = headers
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body
        self.text = body.decode("utf-8", "replace")

    def header_all(self, name):
        return [v for k, v in self.header_list if k.lower() == name.lower()]

    def cookies(self):
        out = {}
        for v in self.header_all("Set-Cookie"):
            name, _, rest = v.partition("=")
            out[name] = (rest.split(";")[0], v)
        return out

    def json(self):
        return json.loads(self.body)


def csrf_token(html):
    m = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    return m.group(1) if m else None


def multipart(fields, files):
    """A multipart/form-data body and its content type."""
    boundary = "----kreisel-test-" + uuid.uuid4().hex
    out = []
    for name, value in fields.items():
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                    % (boundary, name, value)).encode())
    for field, filename, ctype, data in files:
        out.append(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                    "Content-Type: %s\r\n\r\n" % (boundary, field, filename, ctype)).encode())
        out.append(data + b"\r\n")
    out.append(("--%s--\r\n" % boundary).encode())
    return b"".join(out), "multipart/form-data; boundary=" + boundary


class Client:
    """A browser without JavaScript: keeps cookies, reads the CSRF token of
    the last page with a form, and posts forms with it and an Origin."""

    def __init__(self, server, lang="de"):
        self.server = server
        self.cookies = {}
        self.csrf = None
        self.lang = lang

    def _keep(self, resp):
        for name, (value, raw) in resp.cookies().items():
            if "Max-Age=0" in raw:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        token = csrf_token(resp.text)
        if token:
            self.csrf = token
        return resp

    def get(self, path, headers=None):
        h = {"Accept-Language": self.lang}
        h.update(headers or {})
        return self._keep(self.server.request("GET", path, headers=h, cookies=self.cookies))

    def post(self, path, fields=None, csrf=True):
        """POST a form; fetches a page first when no CSRF token is known."""
        if csrf and self.csrf is None:
            self.get("/anmelden")
        body = dict(fields or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        h = {"Origin": "http://127.0.0.1:%d" % self.server.port, "Accept-Language": self.lang}
        return self._keep(self.server.request("POST", path, body=body, headers=h,
                                              cookies=self.cookies))

    def post_multipart(self, path, fields=None, files=None):
        """POST multipart/form-data: fields {name: value}, files
        [(field, filename, content_type, bytes)], with the CSRF token."""
        if self.csrf is None:
            self.get("/anmelden")
        body, ctype = multipart(dict({"csrf_token": self.csrf}, **(fields or {})), files or [])
        h = {"Origin": "http://127.0.0.1:%d" % self.server.port, "Accept-Language": self.lang,
             "Content-Type": ctype}
        return self._keep(self.server.request("POST", path, body=body, headers=h,
                                              cookies=self.cookies))

    def login(self, login, password):
        self.get("/anmelden")
        return self.post("/anmelden", {"login": login, "password": password})


class DemoCountyCase(unittest.TestCase):
    """A test class on a seeded demo county with its own server: STAFF
    lists (login, unit, role) accounts made with STAFF_PASSWORD; CLIENT is
    the client class of staff() and citizen()."""
    STAFF = ()
    STAFF_PASSWORD = "Sachbearbeitung-2026-Kreis"
    CLIENT = None

    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.citizen_password = seed_demo(cls.db)[CITIZEN]
        add_staff(cls.db, cls.STAFF_PASSWORD, *cls.STAFF)
        cls.server = Server(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    def client(self):
        return (self.CLIENT or Client)(self.server)

    def staff(self, login):
        c = self.client()
        self.assertEqual(c.login(login, self.STAFF_PASSWORD).status, 303)
        return c

    def citizen(self):
        c = self.client()
        r = c.login(CITIZEN, self.citizen_password)
        self.assertEqual(r.status, 303, r.text)
        return c
