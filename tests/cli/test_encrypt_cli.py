"""test_encrypt_cli - `mailseal encrypt`, run as a black box with `mailseal decrypt` (standard
library only).

Each test writes a configuration into a temporary directory.  The tests check:
- round trips: encrypt then decrypt gives exactly the input bytes, for LF and CRLF input, a
  message with an empty body, an input without any line break, and a 5 MB message; a 30 MB
  message in bounded memory (peak RSS within 16 MB of a small message's); the
  output's line breaks follow the input's first line (no CR at all for LF input, CRLF on
  every line for CRLF input);
- keys: --passphrase-file opens the envelope (also with --address of the first recipient)
  and a wrong passphrase does not; a stored secret of a recipient (`mailseal secret set`)
  opens it without --passphrase-file; a random passphrase is printed to stderr and opens
  it; the recovery key configured opens it with --org-key;
- headers: From, To, Date, Message-ID and Subject kept as written (folding too),
  keep_headers honoured, X-Internal and X-Mailseal-Loop nowhere in the output, exactly one
  MIME-Version and Content-Type (multipart/mixed), a template subject replacing the
  original, or added when there was none;
- the viewer attachment is text/html, 7bit, ASCII, named message.html, with lines of at
  most 998 bytes (the whole output too), and the wrapper of 5 MB is less than 1.4 times
  the message plus the wrapper of an empty message;
- refusals: usage errors exit 2; no key slot possible (random passphrases off, no stored
  key) exits 1 with the reason; so does a header block over limits.max_headers; a wrapper over max_wrapper_size exits 1; a missing
  configuration, secrets store or passphrase file, or an empty passphrase, exits 1; nothing is written to stdout on failure.
"""
import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

CLI = os.environ.get("MAILSEAL_CLI", "mailseal")
SANITIZED = os.environ.get("MAILSEAL_SANITIZED", "0") == "1"
PASS = "correct horse battery staple"
STORED = "stored secret for bob"

MESSAGE = (b"Received: from client (client [192.0.2.1])\n"
           b"\tby mx.example.com; Mon, 1 Jan 2024 00:00:00 +0000\n"
           b"From: Ann <ann@example.com>\n"
           b"To: Bob <bob@partner.test>,\n"
           b"  Carol <carol@partner.test>\n"
           b"Subject: quarterly figures\n"
           b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n"
           b"Message-ID: <figures-1@example.com>\n"
           b"X-Internal: project-bluebird\n"
           b"X-Ticket-Id: T-4711\n"
           b"X-Mailseal-Loop: v=1; t=1; s=AAAA\n"
           b"MIME-Version: 1.0\n"
           b"Content-Type: text/plain; charset=utf-8\n"
           b"\n"
           b"The figures are in.\n"
           b"Line two, no trailing newline")

# Run in a fresh interpreter: a child's ru_maxrss also counts the memory of whatever it was
# forked from, so the probe is small and the encrypt process is its only child.
RSS_PROBE = """import resource, subprocess, sys
with open(sys.argv[1], "rb") as f:
    rc = subprocess.call(sys.argv[2:], stdin=f, stdout=subprocess.DEVNULL)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def crlf(data):
    """data with every LF preceded by CR."""
    return data.replace(b"\n", b"\r\n")


def run(*args, input_bytes=b""):
    """Run the tool; (exit status, stdout bytes, stderr text)."""
    p = subprocess.run([CLI, *args], input=input_bytes, capture_output=True, timeout=600)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def header_block(data):
    """The header block of a message, up to its empty line."""
    m = re.search(rb"\r?\n\r?\n", data)
    return data[:m.start()] if m else data


class EncryptCli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="mailseal-encrypt-")
        os.mkdir(self.path("rules.d"))
        self.write("rules.d/10.yaml", "rules: []\n")
        self.passfile = self.write("pass", PASS + "\n")
        # the store must exist once named; it holds a key for nobody the tests write to
        rc, _, err = run("secret", "set", "-f", self.path("secrets"), "--passphrase-file",
                         self.passfile, "--iterations", "100000", "nobody@elsewhere.test")
        self.assertEqual(rc, 0, err)
        self.config = self.make_config()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), "w", encoding="utf-8") as f:
            f.write(text)
        return self.path(name)

    def make_config(self, name="mailseal.yaml", random="never", extra_envelope="", extra=""):
        """A configuration: the secrets store in the directory, the given envelope settings."""
        return self.write(name, textwrap.dedent("""\
            organization: {{name: Example, domains: [example.com]}}
            rules: rules.d
            envelope:
              secrets_file: {secrets}
              random_passphrase: {random}
              keep_headers: [X-Ticket-Id]
            {extra_envelope}{extra}""").format(secrets=self.path("secrets"), random=random,
                                                extra_envelope=textwrap.indent(extra_envelope, "  "),
                                                extra=extra))

    def encrypt(self, data, *args, config=None, to="bob@partner.test,carol@partner.test",
                passphrase=True):
        """Run mailseal encrypt; (exit status, stdout, stderr)."""
        argv = ["encrypt", "-c", config or self.config, "--from", "ann@example.com", "--to", to]
        if passphrase:
            argv += ["--passphrase-file", self.passfile]
        return run(*argv, *args, input_bytes=data)

    def decrypt(self, wrapper, *args, passphrase=PASS):
        """Run mailseal decrypt on the wrapper; (exit status, stdout, stderr)."""
        out = self.path("wrapper.eml")
        with open(out, "wb") as f:
            f.write(wrapper)
        pf = self.write("decrypt-pass", passphrase + "\n")
        return run("decrypt", "--passphrase-file", pf, *args, out)

    def round_trip(self, data):
        """Encrypt data, check it decrypts to exactly data; the wrapper."""
        rc, out, err = self.encrypt(data)
        self.assertEqual((rc, err), (0, ""))
        rc, plain, err = self.decrypt(out)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(plain, data)
        return out

    # -- round trips and line breaks

    def test_round_trip_lf(self):
        out = self.round_trip(MESSAGE)
        self.assertNotIn(b"\r", out)
        self.assertTrue(out.endswith(b"--\n"))

    def test_round_trip_crlf(self):
        data = crlf(MESSAGE)
        out = self.round_trip(data)
        self.assertEqual(out.count(b"\n"), out.count(b"\r\n"))
        self.assertNotIn(b"\r\r", out)
        self.assertTrue(out.endswith(b"--\r\n"))

    def test_round_trip_empty_body(self):
        for data in (b"From: ann@example.com\nSubject: nothing\n\n",
                     b"From: ann@example.com\nSubject: no separator\n", b""):
            with self.subTest(data=data):
                self.round_trip(data)

    def test_no_line_break_gives_crlf(self):
        out = self.round_trip(b"Subject: one line only")
        self.assertEqual(out.count(b"\n"), out.count(b"\r\n"))
        self.assertIn(b"\r\nSubject: one line only\r\n", b"\r\n" + out)

    def test_round_trip_5mb(self):
        line = b"x" * 70 + b"\r\n"
        body = os.urandom(2 * 1024 * 1024).hex().encode()  # 4 MiB of text, one long line
        data = crlf(MESSAGE.split(b"\n\n")[0]) + b"\r\n\r\n" + line * 15000 + body
        self.assertGreater(len(data), 5 * 1000 * 1000)
        out = self.round_trip(data)
        rc, empty, err = self.encrypt(b"")
        self.assertEqual(rc, 0, err)
        self.assertLess(len(out), 1.4 * len(data) + len(empty))
        self.assertLessEqual(max(len(x) for x in out.split(b"\r\n")), 998)

    def peak_rss_kib(self, message, config):
        """Run mailseal encrypt on the file message under RSS_PROBE; its peak RSS in KiB."""
        p = subprocess.run([sys.executable, "-c", RSS_PROBE, message, CLI, "encrypt", "-c", config,
                            "--from", "ann@example.com", "--to", "bob@partner.test",
                            "--passphrase-file", self.passfile], capture_output=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr)
        rc, rss = p.stdout.split()
        self.assertEqual(rc, b"0", p.stderr)
        return int(rss)

    def test_memory_bounded(self):
        config = self.make_config("big.yaml", extra_envelope="max_wrapper_size: 100MB\n")
        small, big = self.path("small.eml"), self.path("big.eml")
        with open(small, "wb") as f:
            f.write(MESSAGE)
        with open(big, "wb") as f:
            f.write(MESSAGE)
            for _ in range(30):
                f.write(os.urandom(512 * 1024).hex().encode())
        base, peak = self.peak_rss_kib(small, config), self.peak_rss_kib(big, config)
        self.assertLess(peak, base + 16 * 1024)
        if not SANITIZED:
            self.assertLess(peak, 40 * 1024)

    # -- keys

    def test_wrong_passphrase(self):
        rc, out, err = self.encrypt(MESSAGE)
        self.assertEqual(rc, 0, err)
        rc, plain, err = self.decrypt(out, passphrase="not the passphrase")
        self.assertEqual((rc, plain), (1, b""))
        self.assertIn("wrong passphrase (no key slot opens)", err)

    def test_passphrase_hint_of_first_recipient(self):
        rc, out, err = self.encrypt(MESSAGE, to="Bob@Partner.test,carol@partner.test")
        self.assertEqual(rc, 0, err)
        rc, plain, err = self.decrypt(out, "--address", "bob@partner.test")
        self.assertEqual((rc, plain, err), (0, MESSAGE, ""))

    def test_stored_secret_opens(self):
        pf = self.write("stored-pass", STORED + "\n")
        for name in ("bob@partner.test", "@partner.test"):
            rc, _, err = run("secret", "set", "-f", self.path("secrets"), "--passphrase-file", pf,
                             "--iterations", "100000", name)
            self.assertEqual(rc, 0, err)
        rc, out, err = self.encrypt(MESSAGE, passphrase=False)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(self.decrypt(out, passphrase=STORED), (0, MESSAGE, ""))
        self.assertEqual(self.decrypt(out)[:2], (1, b""))   # no --passphrase-file slot

    def test_random_passphrase_printed(self):
        config = self.make_config("random.yaml", random="missing")
        rc, out, err = self.encrypt(MESSAGE, config=config, passphrase=False)
        self.assertEqual(rc, 0, err)
        m = re.fullmatch(r"random passphrase: ([0-9A-Z]{4}(?:-[0-9A-Z]{1,4}){5})\n", err)
        self.assertIsNotNone(m, err)
        rc, plain, err = self.decrypt(out, passphrase=m.group(1).lower())
        self.assertEqual((rc, plain, err), (0, MESSAGE, ""))
        # with --passphrase-file every recipient has a key: no random one under "missing"
        rc, out, err = self.encrypt(MESSAGE, config=config)
        self.assertEqual((rc, err), (0, ""))
        # "always" adds one besides
        config = self.make_config("always.yaml", random="always")
        rc, out, err = self.encrypt(MESSAGE, config=config)
        self.assertEqual(rc, 0, err)
        self.assertRegex(err, r"^random passphrase: [0-9A-Z-]{27}\n$")
        self.assertEqual(self.decrypt(out)[:2], (0, MESSAGE))

    def test_recovery_key_opens(self):
        key, pub = self.path("recovery.key"), self.path("recovery.pub")
        try:
            subprocess.run(["openssl", "genpkey", "-algorithm", "X25519", "-out", key],
                           check=True, capture_output=True)
            subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub],
                           check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            self.skipTest("no openssl command")
        os.chmod(key, 0o600)
        config = self.make_config("recovery.yaml", extra_envelope="recovery_public_key: %s\n" % pub)
        rc, out, err = self.encrypt(MESSAGE, config=config)
        self.assertEqual(rc, 0, err)
        w = self.path("recovered.eml")
        with open(w, "wb") as f:
            f.write(out)
        self.assertEqual(run("decrypt", "--org-key", key, w), (0, MESSAGE, ""))

    # -- headers and the attachment

    def test_headers(self):
        rc, out, err = self.encrypt(MESSAGE)
        self.assertEqual(rc, 0, err)
        head = header_block(out)
        for kept in (b"Received: from client (client [192.0.2.1])\n"
                     b"\tby mx.example.com; Mon, 1 Jan 2024 00:00:00 +0000\n",
                     b"From: Ann <ann@example.com>\n",
                     b"To: Bob <bob@partner.test>,\n  Carol <carol@partner.test>\n",
                     b"Subject: quarterly figures\n",
                     b"Date: Mon, 1 Jan 2024 00:00:00 +0000\n",
                     b"Message-ID: <figures-1@example.com>\n",
                     b"X-Ticket-Id: T-4711\n"):
            self.assertIn(kept, head + b"\n")
        for gone in (b"X-Internal", b"project-bluebird", b"X-Mailseal-Loop", b"text/plain; charset=utf-8\n"
                     b"\n", b"figures are in"):
            self.assertNotIn(gone, out)
        self.assertEqual(head.count(b"MIME-Version: 1.0\n"), 1)
        self.assertEqual(len(re.findall(rb"(?im)^content-type:", head)), 1)
        msg = email.message_from_bytes(out, policy=email.policy.default)
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        self.assertEqual(msg["Subject"], "quarterly figures")
        self.assertEqual(len(msg.get_all("Subject")), 1)

    def test_template_subject(self):
        extra = "templates:\n  default: {subject: \"Verschlüsselte Nachricht\"}\n"
        config = self.make_config("subject.yaml", extra=extra)
        for data in (MESSAGE, MESSAGE.replace(b"Subject: quarterly figures\n", b""),
                     MESSAGE.replace(b"Subject:", b"Subject: one\nSubject:")):
            with self.subTest(data=data[:200]):
                rc, out, err = self.encrypt(data, config=config)
                self.assertEqual(rc, 0, err)
                msg = email.message_from_bytes(out, policy=email.policy.default)
                self.assertEqual(msg.get_all("Subject"), ["Verschlüsselte Nachricht"])
                self.assertNotIn(b"quarterly", out)
                self.assertEqual(self.decrypt(out)[:2], (0, data))

    def test_viewer_attachment(self):
        rc, out, err = self.encrypt(crlf(MESSAGE) + os.urandom(100000))
        self.assertEqual(rc, 0, err)
        self.assertLessEqual(max(len(x) for x in out.split(b"\r\n")), 998)
        msg = email.message_from_bytes(out, policy=email.policy.default)
        parts = [p for p in msg.walk() if p.get_filename() == "message.html"]
        self.assertEqual(len(parts), 1)
        part = parts[0]
        self.assertEqual(part.get_content_type(), "text/html")
        self.assertEqual(part["Content-Transfer-Encoding"], "7bit")
        self.assertEqual(part.get_content_disposition(), "attachment")
        raw = part.get_payload(decode=True)
        raw.decode("ascii")
        self.assertIn(b'id="mailseal-envelope"', raw)
        self.assertLessEqual(max(len(x) for x in raw.split(b"\n")), 998)

    # -- refusals

    def test_usage_errors(self):
        base = ["encrypt", "-c", self.config]
        for args, why in (([], "--from is required"),
                          (["--from", "a@example.com"], "--to is required"),
                          (["--to", "b@partner.test"], "--from is required"),
                          (["--from", "a@example.com", "--to", "b@partner.test", "in.eml"],
                           "no operands"),
                          (["--from", "a@example.com", "--to", "b@partner.test,"], "empty address"),
                          (["--from", "a@example.com", "--to", "b@partner.test", "--bogus"],
                           "usage:")):
            with self.subTest(args=args):
                rc, out, err = run(*base, *args, input_bytes=MESSAGE)
                self.assertEqual((rc, out), (2, b""))
                self.assertIn(why, err)
        rc, out, err = run("encrypt", "-h")
        self.assertEqual(rc, 0)
        self.assertIn(b"usage: mailseal encrypt", out)

    def test_no_key_slot(self):
        rc, out, err = self.encrypt(MESSAGE, passphrase=False)
        self.assertEqual((rc, out), (1, b""))
        self.assertEqual(err, "mailseal encrypt: no key slot for every recipient: a recipient has no "
                              "passphrase and random passphrases are off (give --passphrase-file)\n")

    def test_too_big(self):
        config = self.make_config("small.yaml", extra_envelope="max_wrapper_size: 200KB\n")
        rc, out, err = self.encrypt(MESSAGE, config=config)   # a small message fits
        self.assertEqual(rc, 0, err)
        rc, out, err = self.encrypt(MESSAGE + b"x" * 200000, config=config)
        self.assertEqual((rc, out), (1, b""))
        self.assertEqual(err, "mailseal encrypt: the encrypted message would be bigger than "
                              "envelope.max_wrapper_size (204800 bytes)\n")

    def test_header_block_over_limits(self):
        config = self.make_config("limits.yaml", extra="limits: {max_headers: 8}\n")
        rc, out, err = self.encrypt(MESSAGE, config=config)
        self.assertEqual((rc, out), (1, b""))
        self.assertEqual(err, "mailseal encrypt: the message's header block is over "
                              "limits.max_headers or limits.max_header_length\n")
        rc, out, err = self.encrypt(b"From: a@example.com\nTo: b@partner.test\n\nhi\n",
                                    config=config)
        self.assertEqual((rc, err), (0, ""))

    def test_bad_config_and_passphrase_file(self):
        rc, out, err = self.encrypt(MESSAGE, config=self.path("missing.yaml"))
        self.assertEqual((rc, out), (1, b""))
        self.assertIn("missing.yaml", err)
        rc, out, err = run("encrypt", "-c", self.config, "--from", "a@example.com", "--to",
                           "b@partner.test", "--passphrase-file", self.path("nope"),
                           input_bytes=MESSAGE)
        self.assertEqual((rc, out), (1, b""))
        self.assertIn("cannot open the passphrase file", err)
        config = self.write("nostore.yaml", open(self.config).read().replace(
            self.path("secrets"), self.path("no-such-store")))
        rc, out, err = self.encrypt(MESSAGE, config=config)
        self.assertEqual((rc, out), (1, b""))
        self.assertIn("no-such-store: cannot open the secrets store", err)
        empty = self.write("empty-pass", "\n")
        rc, out, err = run("encrypt", "-c", self.config, "--from", "a@example.com", "--to",
                           "b@partner.test", "--passphrase-file", empty, input_bytes=MESSAGE)
        self.assertEqual((rc, out), (1, b""))
        self.assertIn("first line is empty", err)


if __name__ == "__main__":
    unittest.main()
