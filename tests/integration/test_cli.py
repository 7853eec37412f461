"""Integration tests of the command line: usage errors, configuration
errors, user add, seed-demo and audit verify against tampering."""
import os
import re
import subprocess
import unittest

from harness import BACKEND, BIN, Database, base_env, run_cli


class UsageTest(unittest.TestCase):
    def run_bin(self, *args, env=None):
        return subprocess.run([BIN, *args], capture_output=True, text=True, timeout=30,
                              env=env or base_env_for_usage())

    def test_usage_errors_exit_2(self):
        for args in [[], ["frobnicate"], ["serve", "--bogus"], ["migrate", "extra"],
                     ["user"], ["user", "delete"], ["user", "add", "--login", "x"],
                     ["user", "add", "--login", "x", "--name", "y", "--role", "king"],
                     ["audit"], ["audit", "fix"], ["help", "nonsense"], ["--nope", "serve"]]:
            with self.subTest(args=args):
                r = self.run_bin(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("usage: kreisel", r.stderr)

    def test_help_and_version(self):
        r = self.run_bin("help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("audit verify", r.stdout)
        r = self.run_bin("help", "config")
        self.assertIn("max_body_size = 1m", r.stdout)
        self.assertIn("KREISEL_MAX_BODY_SIZE", r.stdout)
        r = self.run_bin("version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^kreisel \d+\.\d+\.\d+ \(revision \S+; SQLite 3\.")


def base_env_for_usage():
    env = {k: v for k, v in os.environ.items() if not k.startswith("KREISEL_")}
    return env


class ConfigErrorTest(unittest.TestCase):
    def test_invalid_values_stop_the_start_naming_the_key(self):
        db = Database()
        try:
            for var, value in [("KREISEL_MAX_BODY_SIZE", "lots"),
                               ("KREISEL_LISTEN", "localhost:80"),
                               ("KREISEL_PUBLIC_URL", "ftp://x"),
                               ("KREISEL_TRUSTED_PROXIES", "10.0.0.0/99")]:
                with self.subTest(var=var):
                    r = run_cli(db, "serve", env={var: value})
                    self.assertEqual(r.returncode, 1)
                    self.assertIn(var, r.stderr)
            conf = os.path.join(db.dir, "kreisel.conf")
            with open(conf, "w") as f:
                f.write("# test\nrequest_timeout = forever\n")
            r = run_cli(db, "--config", conf, "migrate")
            self.assertEqual(r.returncode, 1)
            self.assertIn("kreisel.conf:2: request_timeout", r.stderr)
            r = run_cli(db, "migrate", "--config", os.path.join(db.dir, "missing.conf"))
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot open", r.stderr)
        finally:
            db.drop()


class CommandsTest(unittest.TestCase):
    def setUp(self):
        self.db = Database()

    def tearDown(self):
        self.db.drop()

    def test_commands_need_a_migrated_database(self):
        r = run_cli(self.db, "seed-demo")
        self.assertEqual(r.returncode, 1)
        self.assertIn("run `kreisel migrate` first", r.stderr)

    def test_migrate_twice_and_seed_once(self):
        r = run_cli(self.db, "migrate")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"schema version \d+; [1-9]\d* migrations? applied")
        r = run_cli(self.db, "migrate")
        self.assertIn("0 migrations applied", r.stdout)
        r = run_cli(self.db, "seed-demo")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"password: [A-Za-z0-9]{20}\n")
        r = run_cli(self.db, "seed-demo")
        self.assertEqual(r.returncode, 0)
        self.assertIn("set up already", r.stdout)
        self.assertNotIn("password", r.stdout)
        # admin, the demo clerk and the demo citizen, once
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM account_user"), "3")

    def test_user_add(self):
        run_cli(self.db, "migrate")
        run_cli(self.db, "seed-demo")
        r = run_cli(self.db, "user", "add", "--login", "M.Mustermann", "--name",
                    "Maria Mustermann", "--role", "clerk", "--role", "head_of_unit",
                    "--unit", "36.1", "--password-stdin", stdin="ein-sicheres-passwort\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("Password", r.stdout)
        self.assertEqual(self.db.sql(
            "SELECT role FROM account_role r JOIN account_user u ON u.id = r.user_id "
            "WHERE u.login = 'm.mustermann' ORDER BY role"), "clerk\nhead_of_unit")
        cases = [
            (["--login", "m.mustermann", "--name", "Again"], None, "taken"),
            (["--login", "x", "--name", "Short"], None, "3 to 64"),
            (["--login", "neu", "--name", "N"], "kurz\n", "at least 12"),
            (["--login", "neu", "--name", "N"], "passwort1234\n", "too common"),
            (["--login", "neu", "--name", "N", "--unit", "99"], None, "no unit"),
        ]
        for args, stdin, message in cases:
            with self.subTest(args=args):
                extra = ["--password-stdin"] if stdin else []
                r = run_cli(self.db, "user", "add", *args, *extra, stdin=stdin)
                self.assertEqual(r.returncode, 1)
                self.assertIn(message, r.stderr)
        self.assertEqual(self.db.sql("SELECT COUNT(*) FROM account_user"), "4")


class AuditVerifyTest(unittest.TestCase):
    """`kreisel audit verify` finds rows changed, deleted or inserted by hand."""

    def setUp(self):
        self.db = Database()
        self.assertEqual(run_cli(self.db, "migrate").returncode, 0)
        self.assertEqual(run_cli(self.db, "seed-demo").returncode, 0)
        r = run_cli(self.db, "audit", "verify")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.entries = int(re.search(r"intact: (\d+) entries", r.stdout).group(1))
        self.assertGreater(self.entries, 10)  # 17 units + the admin account

    def tearDown(self):
        self.db.drop()

    def drop_triggers(self):
        if BACKEND == "postgresql":
            self.db.sql("DROP TRIGGER audit_entry_no_change ON audit_entry")
        else:
            self.db.sql("DROP TRIGGER audit_entry_no_update")
            self.db.sql("DROP TRIGGER audit_entry_no_delete")

    def verify(self):
        r = run_cli(self.db, "audit", "verify")
        self.assertEqual(r.returncode, 1, r.stdout)
        return r.stdout

    def test_triggers_refuse_changes(self):
        with self.assertRaises(Exception):
            self.db.sql("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 3")
        with self.assertRaises(Exception):
            self.db.sql("DELETE FROM audit_entry WHERE seq = 3")

    def test_altered_entry(self):
        self.drop_triggers()
        self.db.sql("UPDATE audit_entry SET actor = 'mallory' WHERE seq = 5")
        out = self.verify()
        self.assertIn("BROKEN at entry 5", out)
        self.assertIn("altered", out)

    def test_altered_entry_with_recomputed_hash_breaks_the_next(self):
        self.drop_triggers()
        self.db.sql("UPDATE audit_entry SET hash = '" + "a" * 64 + "' WHERE seq = 4")
        out = self.verify()
        self.assertIn("BROKEN at entry 4", out)  # its own hash no longer matches

    def test_deleted_entry(self):
        self.drop_triggers()
        self.db.sql("DELETE FROM audit_entry WHERE seq = 7")
        out = self.verify()
        self.assertIn("BROKEN at entry 7", out)
        self.assertIn("missing (deleted)", out)

    def test_deleted_tail(self):
        self.drop_triggers()
        self.db.sql("DELETE FROM audit_entry WHERE seq = %d" % self.entries)
        out = self.verify()
        self.assertIn("BROKEN at entry %d" % self.entries, out)

    def test_inserted_entry(self):
        self.drop_triggers()
        # Make room by shifting the later entries, then insert a forged one.
        self.db.sql("UPDATE audit_entry SET seq = seq + 1000 WHERE seq >= 6")
        self.db.sql("UPDATE audit_entry SET seq = seq - 999 WHERE seq >= 1006")
        self.db.sql("INSERT INTO audit_entry (seq, created_at, actor, action, object_type, "
                    "object_id, details, prev_hash, hash) SELECT 6, created_at, 'mallory', "
                    "'account.create', 'account', '99', '{}', hash, hash FROM audit_entry "
                    "WHERE seq = 5")
        out = self.verify()
        self.assertIn("BROKEN at entry 6", out)
        self.assertEqual(run_cli(self.db, "audit", "verify").returncode, 1)


if __name__ == "__main__":
    unittest.main()
