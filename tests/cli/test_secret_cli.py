"""test_secret_cli - `mailseal secret set|list|remove`, run as a black box (standard library only).

Each test works on a store in a temporary directory and runs the built binary (MAILSEAL_CLI):
- set with --passphrase-file stores NAME ITERATIONS SALT KEK, mode 0640, and the stored key
  is PBKDF2-HMAC-SHA256 of the passphrase (its NFC form, trailing CR/LF removed) with the
  stored salt, computed here with hashlib; neither the passphrase nor the key is printed;
- set on a terminal (a pseudo-terminal): asks twice without echo, refuses two different ones;
- list shows names and iterations only; remove removes one entry, keeping the others and
  the comments; setting a name again replaces its entry;
- refusals: short and empty passphrases, no terminal and no file, bad names, bad options
  (exit 2), a store others can read.
"""
import hashlib
import os
import pty
import select
import stat
import subprocess
import tempfile
import time
import unicodedata
import unittest

CLI = os.environ.get("MAILSEAL_CLI", "mailseal")
PASS = "correct horse battery staple"


def run(*args):
    """Run the tool without a controlling terminal; (exit status, stdout, stderr)."""
    p = subprocess.run([CLI, *args], stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=120, start_new_session=True)
    return p.returncode, p.stdout.decode("utf-8"), p.stderr.decode("utf-8")


def entries(path):
    """The store's entries: {name: (iterations, salt bytes, kek bytes)}."""
    out = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            fields = line.split()
            if not fields or fields[0].startswith("#"):
                continue
            name, it, salt, kek = fields
            out[name] = (int(it), bytes.fromhex(salt), bytes.fromhex(kek))
    return out


def pbkdf2(passphrase, salt, iterations):
    """The recipient key of docs/ENVELOPE.md, kind 1."""
    pw = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    return hashlib.pbkdf2_hmac("sha256", pw, salt, iterations, 32)


class SecretCli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory(prefix="mailseal-secret-")
        self.dir = self.tmp.name
        self.store = os.path.join(self.dir, "secrets")

    def tearDown(self):
        self.tmp.cleanup()

    def passfile(self, text, name="pass"):
        path = os.path.join(self.dir, name)
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        return path

    def set(self, name, text, *extra):
        return run("secret", "set", "-f", self.store, "--passphrase-file",
                   self.passfile(text), *extra, name)

    def test_set_list_and_key_opens(self):
        rc, out, err = self.set("Ann@Example.NET", PASS + "\n", "--iterations", "100000")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, "ann@example.net: key stored in %s (100000 iterations)\n" % self.store)
        self.assertEqual(stat.S_IMODE(os.stat(self.store).st_mode), 0o640)
        e = entries(self.store)
        self.assertEqual(list(e), ["ann@example.net"])
        it, salt, kek = e["ann@example.net"]
        self.assertEqual((it, len(salt)), (100000, 16))
        self.assertEqual(kek, pbkdf2(PASS, salt, it))
        self.assertNotEqual(kek, pbkdf2(PASS + "x", salt, it))
        with open(self.store, encoding="ascii") as f:
            self.assertNotIn(PASS, f.read())

        # the default iterations; the key printed nowhere
        rc, out, err = self.set("@example.net", PASS + "\r\n")
        self.assertEqual((rc, err), (0, ""))
        it, salt, kek = entries(self.store)["@example.net"]
        self.assertEqual(it, 600000)
        self.assertEqual(kek, pbkdf2(PASS, salt, it))    # CR/LF not part of it
        self.assertNotIn(kek.hex(), out)

        rc, out, err = run("secret", "list", "-f", self.store)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, "@example.net 600000\nann@example.net 100000\n")

    def test_nfc_and_only_first_line(self):
        decomposed = "cafe\u0301 au lait, s'il vous pla\u0131t"
        rc, _, err = self.set("bob@example.org", decomposed + "\nsecond line\n",
                              "--iterations", "100000")
        self.assertEqual((rc, err), (0, ""))
        it, salt, kek = entries(self.store)["bob@example.org"]
        self.assertEqual(kek, pbkdf2(unicodedata.normalize("NFC", decomposed), salt, it))

    def test_replace_and_remove_keep_the_rest(self):
        with open(self.store, "w", encoding="ascii") as f:
            f.write("# legal team\n")
        os.chmod(self.store, 0o600)
        for name in ("ann@example.net", "bob@example.net", "ann@example.net"):
            rc, _, err = self.set(name, PASS + "\n", "--iterations", "100000")
            self.assertEqual((rc, err), (0, ""))
        with open(self.store, encoding="ascii") as f:
            lines = f.read().splitlines()
        self.assertEqual(len(lines), 3)
        self.assertEqual(lines[0], "# legal team")
        self.assertTrue(lines[1].startswith("ann@example.net 100000 "))
        self.assertTrue(lines[2].startswith("bob@example.net 100000 "))
        self.assertEqual(stat.S_IMODE(os.stat(self.store).st_mode), 0o600)

        rc, out, err = run("secret", "remove", "-f", self.store, "ANN@example.net")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, "ann@example.net: removed from %s\n" % self.store)
        with open(self.store, encoding="ascii") as f:
            self.assertEqual(f.read(), "\n".join([lines[0], lines[2]]) + "\n")
        rc, out, _ = run("secret", "list", "-f", self.store)
        self.assertEqual((rc, out), (0, "bob@example.net 100000\n"))

        rc, out, err = run("secret", "remove", "-f", self.store, "ann@example.net")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "%s: no entry ann@example.net\n" % self.store)

    def test_concurrent_sets_lose_nothing(self):
        pw = self.passfile(PASS + "\n")
        names = ["user%d@example.net" % i for i in range(8)]
        procs = [subprocess.Popen([CLI, "secret", "set", "-f", self.store, "--passphrase-file", pw,
                                   "--iterations", "100000", n],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, start_new_session=True) for n in names]
        for p in procs:
            _, err = p.communicate(timeout=120)
            self.assertEqual((p.returncode, err), (0, b""))
        self.assertEqual(sorted(entries(self.store)), sorted(names))
        self.assertEqual(sorted(os.listdir(self.dir)), ["pass", "secrets"])   # no temporary file

    def test_refused_passphrases(self):
        for text, want in (("short12\n", "too short: it needs at least 8 characters"),
                           ("\n", "the passphrase is empty"),
                           ("", "the passphrase is empty"),
                           ("x" * 1100 + "\n", "longer than 1023 bytes"),
                           ("\xe9t\xe9\xe9t\xe9\n", "too short")):   # 6 characters, 12 bytes
            rc, out, err = self.set("ann@example.net", text)
            self.assertEqual((rc, out), (1, ""), text)
            self.assertIn(want, err)
            self.assertFalse(os.path.exists(self.store))
        rc, _, err = run("secret", "set", "-f", self.store, "--passphrase-file",
                         os.path.join(self.dir, "missing"), "ann@example.net")
        self.assertEqual(rc, 1)
        self.assertIn("cannot open the passphrase file", err)

    def test_no_terminal_and_no_file(self):
        rc, out, err = run("secret", "set", "-f", self.store, "ann@example.net")
        self.assertEqual((rc, out), (1, ""))
        self.assertEqual(err, "mailseal secret set: no terminal to ask for the passphrase on: "
                              "use --passphrase-file\n")
        self.assertFalse(os.path.exists(self.store))

    def test_usage_and_bad_input(self):
        for args, want_rc, want in (
                (("secret",), 2, "usage: mailseal secret set"),
                (("secret", "frob"), 2, "unknown command 'frob'"),
                (("secret", "set", "-f", self.store), 2, "which name?"),
                (("secret", "set", "-f", self.store, "a@b.c", "d@e.f"), 2, "one name at a time"),
                (("secret", "set", "--iterations", "99999", "a@b.c"), 2,
                 "--iterations must be a number from 100000 to 10000000"),
                (("secret", "set", "--iterations", "12x456", "a@b.c"), 2, "--iterations"),
                (("secret", "list", "extra"), 2, "unexpected argument 'extra'"),
                (("secret", "remove", "-f", self.store), 2, "which name?"),
                (("secret", "set", "-f", self.store, "example.net"), 1,
                 "bad name 'example.net': the name needs an '@'"),
                (("secret", "remove", "-f", self.store, "ann@exa mple.net"), 1,
                 "space or control character"),
                (("secret", "list", "-f", self.store), 1, "cannot open the secrets store"),
        ):
            rc, _, err = run(*args)
            self.assertEqual(rc, want_rc, args)
            self.assertIn(want, err, args)
        rc, out, _ = run("secret", "-h")
        self.assertEqual(rc, 0)
        self.assertIn("mailseal secret list [-f STORE]", out)

    def test_unsafe_or_broken_store_refused_before_asking(self):
        with open(self.store, "w", encoding="ascii") as f:
            f.write("# nothing yet\n")
        os.chmod(self.store, 0o644)
        rc, _, err = run("secret", "list", "-f", self.store)
        self.assertEqual(rc, 1)
        self.assertIn("must not be readable or writable by others", err)
        rc, _, err = self.set("ann@example.net", PASS + "\n")
        self.assertEqual(rc, 1)
        self.assertIn("must not be readable or writable by others", err)
        os.chmod(self.store, 0o600)
        with open(self.store, "a", encoding="ascii") as f:
            f.write("ann@example.net 5 00 00\n")
        # no terminal here: the store's error is reported, not the missing terminal
        rc, _, err = run("secret", "set", "-f", self.store, "bob@example.net")
        self.assertEqual(rc, 1)
        self.assertEqual(err, "%s:2:17: iterations 5 below the minimum 100000\n" % self.store)

    def on_terminal(self, name, answers):
        """Run `secret set` on a pseudo-terminal, typing answers at each prompt;
        (exit status, everything the terminal showed)."""
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execv(CLI, [CLI, "secret", "set", "-f", self.store, "--iterations", "100000",
                               name])
            finally:
                os._exit(127)
        shown = b""
        pending = list(answers)
        deadline = time.monotonic() + 60
        try:
            while time.monotonic() < deadline:
                ready, _, _ = select.select([fd], [], [], 1)
                if not ready:
                    continue
                try:
                    data = os.read(fd, 4096)
                except OSError:          # EIO: the child closed the terminal
                    break
                if not data:
                    break
                shown += data
                if pending and shown.rstrip().endswith(b":"):
                    os.write(fd, pending.pop(0).encode("utf-8") + b"\n")
        finally:
            _, status = os.waitpid(pid, 0)
            os.close(fd)
        return os.waitstatus_to_exitcode(status), shown.decode("utf-8", "replace")

    def test_terminal_asks_twice_without_echo(self):
        rc, shown = self.on_terminal("Carol@Example.NET", [PASS, PASS])
        self.assertEqual(rc, 0, shown)
        self.assertIn("Passphrase for carol@example.net: ", shown)
        self.assertIn("Passphrase again: ", shown)
        self.assertNotIn(PASS, shown)
        it, salt, kek = entries(self.store)["carol@example.net"]
        self.assertEqual(kek, pbkdf2(PASS, salt, it))
        self.assertNotIn(kek.hex(), shown)

        rc, shown = self.on_terminal("dave@example.net", [PASS, PASS + "!"])
        self.assertEqual(rc, 1, shown)
        self.assertIn("the two passphrases differ", shown)
        self.assertNotIn("dave@example.net", entries(self.store))


if __name__ == "__main__":
    unittest.main()
