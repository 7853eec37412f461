"""Integration tests: the real `kreisel serve` over HTTP.

Run by scripts/test-all once per backend (KREISEL_TEST_BACKEND=sqlite or
postgresql).  Each test class starts its own server on a free port with a
fresh database.
"""
import re
import socket
import time
import unittest

from harness import BACKEND, Database, Server, csrf_token, run_cli

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
}


def seed(db):
    out = run_cli(db, "migrate")
    assert out.returncode == 0, out.stderr
    out = run_cli(db, "seed-demo")
    assert out.returncode == 0, out.stderr
    m = re.search(r"password: (\S+)", out.stdout)
    assert m, out.stdout
    return m.group(1)


class ServerCase(unittest.TestCase):
    env = None
    seeded = True

    @classmethod
    def setUpClass(cls):
        cls.db = Database()
        cls.admin_password = seed(cls.db) if cls.seeded else None
        cls.server = Server(cls.db, cls.env)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.db.drop()

    def get(self, path, **kw):
        return self.server.request("GET", path, **kw)

    def login_page(self):
        r = self.get("/anmelden")
        self.assertEqual(r.status, 200)
        token = csrf_token(r.text)
        cookie = r.cookies()["kreisel"][0]
        return token, {"kreisel": cookie}

    def login(self, login="admin", password=None):
        token, cookies = self.login_page()
        r = self.server.request("POST", "/anmelden", cookies=cookies, body={
            "csrf_token": token, "login": login,
            "password": password or self.admin_password, "next": "/verwaltung"})
        return r, cookies


class PagesTest(ServerCase):
    def test_portal_pages_render_in_german_by_default(self):
        for path, text in [("/", "Willkommen im Serviceportal"), ("/impressum", "Impressum"),
                           ("/datenschutz", "Datenschutzerklärung"),
                           ("/barrierefreiheit", "Erklärung zur Barrierefreiheit")]:
            with self.subTest(path=path):
                r = self.get(path)
                self.assertEqual(r.status, 200)
                self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")
                self.assertIn('<html lang="de">', r.text)
                self.assertIn(text, r.text)
                self.assertIn("Landkreis Musterland", r.text)
                self.assertIn('href="#main"', r.text)  # skip link
                self.assertIn('<main id="main"', r.text)
                self.assertNotIn("<script", r.text)
                self.assertNotIn("style=", r.text)

    def test_security_headers_on_every_response(self):
        for path in ["/", "/static/kreisel.css", "/nope", "/api/v1", "/healthz"]:
            with self.subTest(path=path):
                r = self.get(path)
                for name, value in SECURITY_HEADERS.items():
                    self.assertEqual(r.headers.get(name), value)
                csp = r.headers["content-security-policy"]
                self.assertIn("frame-ancestors 'none'", csp)
                self.assertIn("default-src 'self'", csp)
                self.assertNotIn("unsafe-inline", csp)
                self.assertRegex(r.headers["x-request-id"], r"^[0-9a-f]{16}$")
                self.assertNotIn("strict-transport-security", r.headers)  # plain http

    def test_language_from_accept_language_query_and_cookie(self):
        r = self.get("/", headers={"Accept-Language": "en-GB,en;q=0.9,de;q=0.5"})
        self.assertIn('<html lang="en">', r.text)
        self.assertIn("Welcome to the service portal", r.text)
        self.assertIn("District of Musterland", r.text)
        r = self.get("/", headers={"Accept-Language": "fr, *;q=0.1"})
        self.assertIn('<html lang="de">', r.text)
        r = self.get("/impressum?lang=en")
        self.assertIn("Legal notice", r.text)
        lang = r.cookies()["lang"]
        self.assertEqual(lang[0], "en")
        self.assertIn("HttpOnly", lang[1])
        self.assertIn("SameSite=Lax", lang[1])
        r = self.get("/", cookies={"lang": "en"})
        self.assertIn('<html lang="en">', r.text)
        r = self.get("/?lang=xx")  # unknown language: ignored
        self.assertIn('<html lang="de">', r.text)
        self.assertEqual(r.header_all("Set-Cookie"), [])

    def test_head_has_headers_but_no_body(self):
        r = self.server.request("HEAD", "/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.headers["content-type"], "text/html; charset=utf-8")

    def test_anonymous_pages_set_no_cookie_and_need_no_session(self):
        r = self.get("/")
        self.assertEqual(r.header_all("Set-Cookie"), [])
        self.assertEqual(r.headers["cache-control"], "no-cache")
        self.assertEqual(r.headers["vary"], "Accept-Language, Cookie")


class StaticFilesTest(ServerCase):
    seeded = False

    def test_static_file_with_etag_and_caching(self):
        r = self.get("/static/kreisel.css")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "text/css; charset=utf-8")
        etag = r.headers["etag"]
        self.assertRegex(etag, r'^"[0-9a-f]{20}"$')
        self.assertEqual(r.headers["cache-control"], "public, max-age=3600")
        r2 = self.get("/static/kreisel.css", headers={"If-None-Match": etag})
        self.assertEqual(r2.status, 304)
        self.assertEqual(r2.body, b"")
        page = self.get("/").text
        version = re.search(r"kreisel\.css\?v=([0-9a-f]{12})", page).group(1)
        r3 = self.get("/static/kreisel.css?v=" + version)
        self.assertEqual(r3.headers["cache-control"], "public, max-age=31536000, immutable")

    def test_path_traversal_is_refused(self):
        cases = [
            (b"/static/../kreisel.conf", 400),
            (b"/static/%2e%2e/kreisel.conf", 400),
            (b"/static/..%2fkreisel.conf", 400),
            (b"/static/%2e%2e%2fmeson.build", 400),
            (b"/static/..\\meson.build", 400),
            (b"/static/./kreisel.css", 400),
            (b"/static/kreisel.conf", 404),
            (b"/static/", 308),  # trailing slash: redirected, then 404
            (b"/static", 404),
            (b"/static/.hidden", 404),
        ]
        for target, status in cases:
            with self.subTest(target=target):
                raw = self.server.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n"
                                      b"Connection: close\r\n\r\n")
                self.assertTrue(raw.startswith(b"HTTP/1.1 %d" % status), raw[:200])
                self.assertNotIn(b"listen", raw)  # no config file content


class ErrorsTest(ServerCase):
    seeded = False

    def test_unknown_route_is_404_page_or_problem(self):
        r = self.get("/gibt-es-nicht")
        self.assertEqual(r.status, 404)
        self.assertIn("Seite nicht gefunden", r.text)
        self.assertIn(r.headers["x-request-id"], r.text)
        r = self.get("/api/v1/gibt-es-nicht")
        self.assertEqual(r.status, 404)
        self.assertEqual(r.headers["content-type"], "application/problem+json")
        p = r.json()
        self.assertEqual(p["status"], 404)
        self.assertEqual(p["title"], "Not Found")
        self.assertEqual(p["type"], "about:blank")
        self.assertEqual(p["instance"], "/api/v1/gibt-es-nicht")
        self.assertEqual(p["request_id"], r.headers["x-request-id"])

    def test_wrong_method_is_405_with_allow(self):
        r = self.server.request("POST", "/impressum", body="", headers={
            "Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers["allow"], "GET, HEAD")
        r = self.server.request("DELETE", "/api/v1")
        self.assertEqual(r.status, 405)
        self.assertEqual(r.headers["content-type"], "application/problem+json")
        r = self.server.request("OPTIONS", "/anmelden")
        self.assertEqual(r.status, 204)
        self.assertEqual(r.headers["allow"], "GET, HEAD, POST, OPTIONS")
        r = self.server.request("BREW", "/")
        self.assertEqual(r.status, 405)

    def test_trailing_slash_redirects(self):
        r = self.get("/impressum/")
        self.assertEqual(r.status, 308)
        self.assertEqual(r.headers["location"], "/impressum")
        r = self.get("//evil.example/")  # never an open redirect
        self.assertNotIn("location", r.headers)

    def test_malformed_percent_encoding_and_utf8(self):
        for target in [b"/impressum?x=%zz", b"/impressum?x=%", b"/%zz", b"/%C0%AF",
                       b"/impressum?name=%FF", b"/impressum?a=%00", b"/x%0Ay"]:
            with self.subTest(target=target):
                raw = self.server.raw(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n"
                                      b"Connection: close\r\n\r\n")
                self.assertTrue(raw.startswith(b"HTTP/1.1 400"), raw[:120])
                self.assertIn("Die Anfrage ist fehlerhaft".encode(), raw)

    def test_oversized_body_is_413_before_reading(self):
        raw = self.server.raw(b"POST /anmelden HTTP/1.1\r\nHost: x\r\n"
                              b"Content-Type: application/x-www-form-urlencoded\r\n"
                              b"Content-Length: 2000000\r\nConnection: close\r\n\r\nlogin=a")
        self.assertTrue(raw.startswith(b"HTTP/1.1 413"), raw[:120])

    def test_oversized_chunked_body_is_refused(self):
        with socket.create_connection(("127.0.0.1", self.server.port), timeout=10) as s:
            s.sendall(b"POST /anmelden HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
            chunk = b"x" * 65536
            try:
                for _ in range(40):  # 2.5 MiB against a 1 MiB limit
                    s.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                s.sendall(b"0\r\n\r\n")
                answer = s.recv(4096)
            except (BrokenPipeError, ConnectionResetError):
                answer = b""  # closed by the server: also a refusal
        self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 413"), answer[:120])

    def test_oversized_headers_are_431(self):
        raw = self.server.raw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70000 +
                              b"\r\nConnection: close\r\n\r\n")
        self.assertTrue(raw.startswith(b"HTTP/1.1 431"), raw[:120])

    def test_unsupported_content_type(self):
        token_page = self.get("/anmelden")
        cookies = {"kreisel": token_page.cookies()["kreisel"][0]}
        r = self.server.request("POST", "/anmelden", body='{"login":"a"}', cookies=cookies,
                                headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 400)


class ProbesTest(ServerCase):
    seeded = False

    def test_health_ready_metrics(self):
        self.assertEqual(self.get("/healthz").text, "ok\n")
        self.assertEqual(self.get("/readyz").text, "ready\n")
        self.get("/")
        self.get("/nope")
        # A request is counted when MHD completes it, which may be just after
        # the client has read the response: give both requests a moment.
        wanted = ('{route="(none)",status="4xx"}', '{route="/",status="2xx"}')
        deadline = time.time() + 5
        while True:
            r = self.get("/metrics")
            if all(w in r.text for w in wanted) or time.time() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers["content-type"].startswith("text/plain; version=0.0.4"))
        self.assertIn('kreisel_http_requests_total{route="/",status="2xx"}', r.text)
        self.assertIn('kreisel_http_requests_total{route="(none)",status="4xx"}', r.text)
        self.assertIn('kreisel_http_request_duration_seconds_bucket{route="/",le="+Inf"}', r.text)
        self.assertIn("kreisel_db_pool_connections{state=\"max\"}", r.text)
        self.assertRegex(r.text, r'kreisel_build_info\{version="[^"]+",revision="[^"]+",backend="%s"\} 1'
                         % BACKEND)

    def test_access_log_is_json_with_request_id(self):
        r = self.get("/impressum?secret=personal")
        rid = r.headers["x-request-id"]
        deadline = time.time() + 5
        while time.time() < deadline:
            lines = [e for e in self.server.log_events("request") if e["request_id"] == rid]
            if lines:
                break
            time.sleep(0.05)
        self.assertEqual(len(lines), 1)
        line = lines[0]
        self.assertEqual(line["route"], "/impressum")
        self.assertEqual(line["path"], "/impressum")  # no query string in logs
        self.assertEqual(line["status"], 200)
        self.assertEqual(line["method"], "GET")
        self.assertGreater(line["duration_ms"], 0)
        self.assertEqual(line["ip"], "127.0.0.1")


class MetricsAccessTest(ServerCase):
    seeded = False
    env = {"KREISEL_METRICS_ALLOW": "10.0.0.0/8"}

    def test_metrics_refused_from_other_addresses(self):
        self.assertEqual(self.get("/metrics").status, 403)


class SessionTest(ServerCase):
    def test_login_logout_flow(self):
        token, anon = self.login_page()
        self.assertRegex(anon["kreisel"], r"^[0-9a-f]{64}$")
        r, _ = self.login(password="wrong-password-123")
        self.assertEqual(r.status, 422)
        self.assertIn("Anmeldedaten oder Passwort sind nicht korrekt", r.text)
        self.assertIn('value="admin"', r.text)  # login kept, password not
        r, anon = self.login()
        self.assertEqual(r.status, 303)
        self.assertEqual(r.headers["location"], "/verwaltung")
        session = r.cookies()["kreisel"]
        self.assertNotEqual(session[0], anon["kreisel"])  # new id after login
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/"]:
            self.assertIn(flag, session[1])
        self.assertNotIn("Secure", session[1])
        cookies = {"kreisel": session[0]}
        page = self.get("/verwaltung", cookies=cookies)
        self.assertEqual(page.status, 200)
        self.assertEqual(page.headers["cache-control"], "private, no-store")
        self.assertIn("Angemeldet als Administrator", page.text)
        self.assertIn("Straßenverkehrsamt", page.text)
        self.assertIn("account.login", page.text)  # admins see the audit log
        # The anonymous session is gone.
        self.assertEqual(self.get("/verwaltung", cookies=anon).status, 401)
        token = csrf_token(page.text)
        r = self.server.request("POST", "/abmelden", cookies=cookies, body={"csrf_token": token})
        self.assertEqual(r.status, 303)
        self.assertIn("Max-Age=0", r.cookies()["kreisel"][1])
        self.assertEqual(self.get("/verwaltung", cookies=cookies).status, 401)

    def test_login_redirect_stays_local(self):
        token, cookies = self.login_page()
        r = self.server.request("POST", "/anmelden", cookies=cookies, body={
            "csrf_token": token, "login": "admin", "password": self.admin_password,
            "next": "//evil.example/phish"})
        self.assertEqual(r.status, 303)
        self.assertEqual(r.headers["location"], "/verwaltung")

    def test_protected_page_needs_login(self):
        r = self.get("/verwaltung")
        self.assertEqual(r.status, 401)
        self.assertIn("/anmelden?next=/verwaltung", r.text)

    def test_csrf_missing_wrong_or_cross_site(self):
        token, cookies = self.login_page()
        cases = [
            ({"login": "admin", "password": "x"}, cookies, {}),
            ({"csrf_token": "0" * 64, "login": "admin", "password": "x"}, cookies, {}),
            ({"csrf_token": token, "login": "admin", "password": "x"}, {}, {}),
            ({"csrf_token": token, "login": "admin", "password": "x"}, cookies,
             {"Origin": "https://evil.example"}),
        ]
        before = self.db.sql("SELECT COUNT(*) FROM account_login_attempt")
        for body, c, headers in cases:
            with self.subTest(body=body, cookies=c, headers=headers):
                r = self.server.request("POST", "/anmelden", body=body, cookies=c,
                                        headers=headers)
                self.assertEqual(r.status, 403)
        # Nothing happened: not even a login attempt was recorded.
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM account_login_attempt"), before)
        # The same origin is fine.
        r = self.server.request("POST", "/anmelden", cookies=cookies, body={
            "csrf_token": token, "login": "nobody", "password": "irrelevant-pass"},
            headers={"Origin": "http://127.0.0.1:%d" % self.server.port,
                     "Host": "127.0.0.1:%d" % self.server.port})
        self.assertEqual(r.status, 422)

    def test_expired_session(self):
        r, _ = self.login()
        cookies = {"kreisel": r.cookies()["kreisel"][0]}
        page = self.get("/verwaltung", cookies=cookies)
        token = csrf_token(page.text)
        # Let the session age past the idle timeout.
        self.db.sql("UPDATE account_session SET last_seen_at = last_seen_at - 7200")
        r = self.server.request("POST", "/abmelden", cookies=cookies, body={"csrf_token": token})
        self.assertEqual(r.status, 403)
        self.assertIn("session has expired", r.text)
        self.assertIn("Max-Age=0", r.cookies()["kreisel"][1])

    def test_expired_session_on_page(self):
        r, _ = self.login()
        cookies = {"kreisel": r.cookies()["kreisel"][0]}
        self.db.sql("UPDATE account_session SET expires_at = 1")
        r = self.get("/verwaltung", cookies=cookies)
        self.assertEqual(r.status, 401)
        self.assertIn("your session has expired", r.text)

    def test_invalid_utf8_in_form_is_400_and_stores_nothing(self):
        token, cookies = self.login_page()
        before = self.db.sql("SELECT COUNT(*) FROM account_login_attempt")
        r = self.server.request("POST", "/anmelden", cookies=cookies,
                                body="csrf_token=%s&login=%%FF%%FE&password=x" % token,
                                headers={"Content-Type": "application/x-www-form-urlencoded"})
        self.assertEqual(r.status, 400)
        self.assertIn("login", r.text)  # names the field
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM account_login_attempt"), before)


class RateLimitTest(ServerCase):
    env = {"KREISEL_LOGIN_MAX_FAILURES": "3"}

    def test_login_rate_limit(self):
        for _ in range(3):
            r, _ = self.login(password="wrong-password-123")
            self.assertEqual(r.status, 422)
        r, _ = self.login()  # even the right password is refused now
        self.assertEqual(r.status, 429)
        self.assertEqual(r.headers["retry-after"], "900")
        self.assertIn("Zu viele fehlgeschlagene Anmeldeversuche", r.text)


class ProxyTest(ServerCase):
    seeded = False
    env = {"KREISEL_TRUSTED_PROXIES": "127.0.0.1"}

    def test_forwarded_headers_from_trusted_proxy(self):
        r = self.get("/anmelden", headers={"X-Forwarded-For": "203.0.113.7, 127.0.0.1",
                                           "X-Forwarded-Proto": "https"})
        self.assertIn("max-age=31536000", r.headers["strict-transport-security"])
        name, (value, full) = next(iter(r.cookies().items()))
        self.assertEqual(name, "__Host-kreisel")
        self.assertIn("Secure", full)
        rid = r.headers["x-request-id"]
        time.sleep(0.2)
        line = [e for e in self.server.log_events("request") if e["request_id"] == rid][0]
        self.assertEqual(line["ip"], "203.0.113.7")


class UntrustedProxyTest(ServerCase):
    seeded = False

    def test_forwarded_headers_ignored_from_others(self):
        r = self.get("/", headers={"X-Forwarded-For": "203.0.113.7",
                                   "X-Forwarded-Proto": "https"})
        self.assertNotIn("strict-transport-security", r.headers)
        rid = r.headers["x-request-id"]
        time.sleep(0.2)
        line = [e for e in self.server.log_events("request") if e["request_id"] == rid][0]
        self.assertEqual(line["ip"], "127.0.0.1")


class InternalErrorTest(ServerCase):
    def test_500_shows_request_id_not_internals(self):
        token, cookies = self.login_page()
        self.db.sql("DROP TABLE account_login_attempt")
        r = self.server.request("POST", "/anmelden", cookies=cookies, body={
            "csrf_token": token, "login": "admin", "password": "whatever-it-is"})
        self.assertEqual(r.status, 500)
        rid = r.headers["x-request-id"]
        self.assertIn(rid, r.text)
        self.assertIn("Ein interner Fehler ist aufgetreten", r.text)
        for secret in ["account_login_attempt", "SQL", "sqlite", "relation", "table"]:
            self.assertNotIn(secret, r.text)
        time.sleep(0.2)
        logged = [e for e in self.server.log_events("request_failed")
                  if e.get("request_id") == rid]
        self.assertEqual(len(logged), 1)
        self.assertIn("account_login_attempt", logged[0]["detail"])


class ShutdownTest(unittest.TestCase):
    def test_sigterm_lets_requests_in_flight_finish(self):
        db = Database()
        try:
            server = Server(db)
            s = socket.create_connection(("127.0.0.1", server.port), timeout=10)
            body = b"login=a&password=b"
            s.sendall(b"POST /anmelden HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: %d\r\n\r\n" % len(body))
            time.sleep(0.3)  # the request is in flight, its body not yet sent
            server.proc.send_signal(15)
            time.sleep(0.5)
            self.assertIsNone(server.proc.poll())  # still waiting for us
            # Stopping began: the listening socket is closed.
            with self.assertRaises(OSError):
                socket.create_connection(("127.0.0.1", server.port), timeout=2)
            s.sendall(body)
            answer = s.recv(4096)
            s.close()
            self.assertTrue(answer.startswith(b"HTTP/1.1 403"), answer[:100])  # no session
            self.assertEqual(server.proc.wait(20), 0)
            server.stop()  # collects the log; checks the exit status again
            self.assertTrue(server.log_events("shutdown_drained"))
        finally:
            db.drop()


if __name__ == "__main__":
    unittest.main()
