"""End-to-end test of the service-account login (OpenID Connect).

Starts the provider (provider.mjs, npm oidc-provider) and a Kreisel configured
for it on free loopback ports, lets Chromium click through (driver.mjs), then
checks what Kreisel stored: one citizen account for two logins, the identity
link, the sessions' method and level of assurance, the audit entries.

The SQLite run uses client_secret_basic and RS256 ID tokens, the PostgreSQL
run client_secret_post and ES256, so that both settings meet a real provider.
Run by ./run (after npm ci); uses tests/integration/harness.py for the
database and the server.
"""
import json
import os
import secrets
import socket
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

ACR_EID = "urn:kreisel:test:eid"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Provider:
    def __init__(self, redirect, secret, auth_method, alg):
        env = dict(os.environ, REDIRECT_URI=redirect, CLIENT_SECRET=secret,
                   AUTH_METHOD=auth_method, ID_TOKEN_ALG=alg)
        self.proc = subprocess.Popen(["node", os.path.join(HERE, "provider.mjs")], env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("provider did not start:\n" + self.proc.stderr.read())
        self.issuer = json.loads(line)["issuer"]
        self.log = []
        threading.Thread(target=lambda: self.log.extend(self.proc.stderr), daemon=True).start()

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def check(cond, what, failures):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def check_database(db, failures):
    one = lambda sql: db.sql(sql).strip()  # noqa: E731
    # The demo seed has a registered citizen too: count only the accounts
    # that logins through the provider made.
    check(one("SELECT COUNT(*) FROM account_user WHERE kind = 'citizen' "
              "AND id IN (SELECT user_id FROM oidc_identity)") == "1",
          "two logins of one person made one citizen account", failures)
    row = one("SELECT login, display_name, email FROM account_user WHERE kind = 'citizen' "
              "AND id IN (SELECT user_id FROM oidc_identity)")
    login, name, email = (row.split("|") + ["", "", ""])[:3]
    check(login.startswith("oidc-") and len(login) == 37, f"generated login {login}", failures)
    check(name == "Erika Mustermann", f"name from the claims ({name})", failures)
    check(email == "erika.mustermann@example.org", f"e-mail from userinfo ({email})", failures)
    link = one("SELECT subject, email_verified, last_acr FROM oidc_identity")
    check(link == f"bundid-pseudonym-4711|1|{ACR_EID}", f"identity link ({link})", failures)
    # Three successful logins (the third with a foreign return path).
    sessions = one("SELECT COUNT(*) FROM account_session s JOIN account_user u "
                   "ON u.id = s.user_id WHERE u.kind = 'citizen' "
                   "AND s.auth_method = 'oidc' AND s.assurance = 'high'")
    check(sessions == "3", f"sessions with method oidc and assurance high ({sessions})", failures)
    created = one("SELECT COUNT(*) FROM audit_entry WHERE action = 'account.create' "
                  "AND actor = 'oidc'")
    logins = one("SELECT COUNT(*) FROM audit_entry WHERE action = 'oidc.login'")
    check(created == "1" and logins == "3", f"audit: {created} created, {logins} logins", failures)
    leaked = one("SELECT COUNT(*) FROM audit_entry WHERE details LIKE '%bundid-pseudonym%'")
    check(leaked == "0", "the subject stays out of the audit log", failures)
    # The replayed and the cancelled logins were used up; the tampered one's
    # real state is still pending (until it expires).
    check(one("SELECT COUNT(*) FROM oidc_pending") == "1", "pending logins left: 1", failures)


def main():
    postgres = harness.BACKEND == "postgresql"
    auth_method = "client_secret_post" if postgres else "client_secret_basic"
    alg = "ES256" if postgres else "RS256"
    print(f"oidc end-to-end: {harness.BACKEND}, {auth_method}, {alg}")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    secret = secrets.token_urlsafe(24)
    provider = Provider(base + "/anmelden/servicekonto/antwort", secret, auth_method, alg)
    db = harness.Database()
    server = None
    failures = []
    try:
        env = {"KREISEL_LISTEN": f"127.0.0.1:{port}", "KREISEL_PUBLIC_URL": base,
               "KREISEL_OIDC_ISSUER": provider.issuer, "KREISEL_OIDC_CLIENT_ID": "kreisel",
               "KREISEL_OIDC_CLIENT_SECRET": secret, "KREISEL_OIDC_AUTH_METHOD": auth_method,
               "KREISEL_OIDC_ACR_MAP": f"{ACR_EID}=high, urn:kreisel:test:basic=low"}
        for cmd in (["migrate"], ["seed-demo"]):
            res = harness.run_cli(db, *cmd, env=env)
            if res.returncode != 0:
                raise RuntimeError(f"kreisel {cmd[0]} failed:\n{res.stderr}")
        server = harness.Server(db, env=env)
        drv = subprocess.run(["node", os.path.join(HERE, "driver.mjs"), base, provider.issuer],
                             text=True, capture_output=True, timeout=300)
        sys.stdout.write(drv.stdout)
        sys.stderr.write(drv.stderr)
        check(drv.returncode == 0, "Chromium went through every case", failures)
        check_database(db, failures)
        # Replay, tampered state, cancel, and the replay and cancel pages
        # loaded once more for axe.
        fails = server.log_events("oidc_login_failed")
        check(len(fails) == 5 and all(f.get("reason") for f in fails),
              f"failed logins logged with a reason ({len(fails)}, want 5)", failures)
    finally:
        if server:
            server.stop()
        provider.stop()
        db.drop()
    if failures:
        if server:
            sys.stderr.write("".join(server.lines[-40:]))
        sys.stderr.write("".join(provider.log[-20:]))
        print(f"{len(failures)} check(s) failed")
        return 1
    print("oidc end-to-end: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
