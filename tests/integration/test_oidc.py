"""Integration tests of the service-account login (src/oidc) against a small
fake provider in this process: configuration errors, the redirect to the
provider (PKCE, state, nonce), and every way the callback is refused.  The
whole flow with a real, certified provider is tests/oidc (Chromium)."""
import base64
import hashlib
import json
import re
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from harness import Database, Server, run_cli


class FakeProvider:
    """Discovery, an empty key set and a token endpoint whose answer the test
    sets; records the token requests."""

    def __init__(self):
        self.token_answer = (200, {"error": "invalid_grant"})
        self.token_requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def send_json(self, status, obj):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/.well-known/openid-configuration":
                    self.send_json(200, {
                        "issuer": outer.issuer,
                        "authorization_endpoint": outer.issuer + "/auth",
                        "token_endpoint": outer.issuer + "/token",
                        "jwks_uri": outer.issuer + "/jwks",
                        "code_challenge_methods_supported": ["S256"]})
                elif self.path == "/jwks":
                    self.send_json(200, {"keys": []})
                else:
                    self.send_json(404, {})

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                outer.token_requests.append((dict(self.headers), form))
                self.send_json(*outer.token_answer)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def oidc_env(issuer, **extra):
    env = {"KREISEL_OIDC_ISSUER": issuer, "KREISEL_OIDC_CLIENT_ID": "kreisel",
           "KREISEL_OIDC_CLIENT_SECRET": "s3cret:with&chars",
           "KREISEL_OIDC_ACR_MAP": "urn:x:eid=high"}
    env.update(extra)
    return env


class OidcConfigTest(unittest.TestCase):
    def test_bad_settings_stop_the_start_naming_the_key(self):
        db = Database()
        try:
            for key, value in [("OIDC_ISSUER", "ftp://id.example"),
                               ("OIDC_ISSUER", "http://id.example"),
                               ("OIDC_AUTH_METHOD", "private_key_jwt"),
                               ("OIDC_ACR_MAP", "urn:x:eid=hoch"),
                               ("OIDC_SCOPES", "email profile"),
                               ("OIDC_CLIENT_ID", "")]:
                with self.subTest(key=key, value=value):
                    env = oidc_env("https://id.example")
                    env["KREISEL_" + key] = value
                    r = run_cli(db, "serve", env=env)
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn(key.lower(), r.stderr)
        finally:
            db.drop()

    def test_off_by_default(self):
        db = Database()
        server = Server(db)
        try:
            self.assertEqual(server.request("GET", "/anmelden/servicekonto").status, 404)
            self.assertEqual(server.request("GET", "/anmelden/servicekonto/antwort").status, 404)
            self.assertNotIn("/anmelden/servicekonto", server.request("GET", "/anmelden").text)
        finally:
            server.stop()
            db.drop()


class OidcFlowTest(unittest.TestCase):
    def setUp(self):
        self.provider = FakeProvider()
        self.db = Database()
        self.server = Server(self.db, env=oidc_env(self.provider.issuer))

    def tearDown(self):
        self.server.stop()
        self.db.drop()
        self.provider.stop()

    def start(self, path="/anmelden/servicekonto?zurueck=/impressum"):
        r = self.server.request("GET", path)
        self.assertEqual(r.status, 302, r.text)
        self.assertEqual(r.headers.get("cache-control"), "no-store")
        cookie = next(iter(r.cookies().items()))
        loc = urllib.parse.urlsplit(r.headers["location"])
        return {cookie[0]: cookie[1][0]}, loc, urllib.parse.parse_qs(loc.query)

    def callback(self, cookies, **params):
        return self.server.request(
            "GET", "/anmelden/servicekonto/antwort?" + urllib.parse.urlencode(params),
            cookies=cookies)

    def test_login_page_offers_the_service_account(self):
        r = self.server.request("GET", "/anmelden")
        self.assertIn('href="/anmelden/servicekonto"', r.text)

    def test_redirect_carries_pkce_state_nonce_and_acr(self):
        _, loc, q = self.start()
        self.assertEqual(f"{loc.scheme}://{loc.netloc}{loc.path}", self.provider.issuer + "/auth")
        self.assertEqual(q["response_type"], ["code"])
        self.assertEqual(q["client_id"], ["kreisel"])
        self.assertEqual(q["scope"], ["openid email profile"])
        self.assertEqual(q["code_challenge_method"], ["S256"])
        self.assertEqual(q["acr_values"], ["urn:x:eid"])
        self.assertTrue(q["redirect_uri"][0].endswith("/anmelden/servicekonto/antwort"))
        for name in ("state", "nonce", "code_challenge"):
            self.assertRegex(q[name][0], r"^[A-Za-z0-9_-]{43}$")
        self.assertNotEqual(q["state"], q["nonce"])
        # Only the hash of state is stored.
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM oidc_pending"), "1")
        self.assertEqual(self.db.sql(
            f"SELECT COUNT(*) FROM oidc_pending WHERE state_hash = '{q['state'][0]}'"), "0")

    def test_token_request_and_refused_token(self):
        cookies, _, q = self.start()
        # A token without signature (alg none) must never log anyone in.
        none = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
        claims = base64.urlsafe_b64encode(json.dumps({"iss": self.provider.issuer, "sub": "x",
                                                      "aud": "kreisel"}).encode())
        token = none + "." + claims.rstrip(b"=").decode() + "."
        self.provider.token_answer = (200, {"id_token": token, "token_type": "Bearer"})
        r = self.callback(cookies, code="abc", state=q["state"][0])
        self.assertEqual(r.status, 400)
        self.assertIn("konnte nicht bestätigt werden", r.text)
        headers, form = self.provider.token_requests[-1]
        self.assertEqual(form["grant_type"], ["authorization_code"])
        self.assertEqual(form["code"], ["abc"])
        verifier = form["code_verifier"][0]
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        self.assertEqual(challenge, q["code_challenge"][0])
        # client_secret_basic, id and secret form-encoded first (RFC 6749 2.3.1).
        basic = base64.b64decode(headers["Authorization"].split(" ")[1]).decode()
        self.assertEqual(basic, "kreisel:s3cret%3Awith%26chars")
        self.assertNotIn("client_secret", form)
        # Replayed: the pending login is gone.
        r = self.callback(cookies, code="abc", state=q["state"][0])
        self.assertEqual(r.status, 400)
        self.assertIn("bereits verwendet", r.text)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM account_user"), "0")

    def test_refusals(self):
        cookies, _, q = self.start()
        state = q["state"][0]
        bent = state[:-1] + ("A" if state[-1] != "A" else "B")
        cases = [
            ({}, dict(code="abc", state=state), 400),              # another browser
            (cookies, dict(code="abc"), 400),                       # no state
            (cookies, dict(state=state), 400),                      # no code
            (cookies, dict(code="x" * 3000, state=state), 400),     # code too long
            (cookies, dict(code="abc", state=state, iss="http://evil.example"), 400),
            (cookies, dict(code="abc", state=bent), 400),           # tampered state
        ]
        for c, params, status in cases:
            with self.subTest(params=params):
                r = self.callback(c, **params)
                self.assertEqual(r.status, status, r.text)
                self.assertIn("Servicekonto", r.text)
        # None of those used up the real pending login, or asked the provider.
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM oidc_pending"), "1")
        self.assertEqual(self.provider.token_requests, [])
        # The provider refuses the code.
        self.provider.token_answer = (400, {"error": "invalid_grant"})
        r = self.callback(cookies, code="abc", state=state)
        self.assertEqual(r.status, 400)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM oidc_pending"), "0")

    def test_cancelled_politely(self):
        cookies, _, q = self.start()
        r = self.server.request(
            "GET", "/anmelden/servicekonto/antwort?error=access_denied&state=" + q["state"][0],
            cookies=cookies, headers={"Accept-Language": "en"})
        self.assertEqual(r.status, 403)
        self.assertIn("You cancelled the login", r.text)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM oidc_pending"), "0")
        r = self.callback(cookies, error="server_error")
        self.assertEqual(r.status, 502)

    def test_provider_down(self):
        self.provider.stop()
        # The discovery document is cached once fetched; this server never
        # fetched it, so the start finds the provider gone.
        r = self.server.request("GET", "/anmelden/servicekonto")
        self.assertEqual(r.status, 502)
        self.assertIn("nicht erreichbar", r.text)
        self.assertTrue(self.server.wait_for_log("oidc_login_failed"))
        self.provider = FakeProvider()  # for tearDown


if __name__ == "__main__":
    unittest.main()
