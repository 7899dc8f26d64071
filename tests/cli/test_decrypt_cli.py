"""test_decrypt_cli - `mailseal decrypt`, run as a black box (standard library only).

Envelopes are made by the test helper make_envelope (MAILSEAL_MAKE_ENVELOPE, C, using the
real envelope and viewer writers): a bare page, or a wrapper message with the page as its
7bit, quoted-printable or base64 message.html attachment, or named otherwise behind a
decoy HTML attachment.  The tests check:
- round trips of 0, 1 and 100,000 bytes in every input form, from a file, a pipe, a
  redirected file, to stdout and with -o (mode 0600, no temporary file left);
- a 2.5 MB message, whose page holds the envelope in several script blocks, in every input
  form and re-wrapped by hand as a base64 and a quoted-printable message.html; white space
  and end tags in any case between blocks are accepted, while a damaged continuation tag
  (or another element after a block) ends the envelope early: damaged, -o OUT not created;
- 30 MB: the plaintext comes back and the peak RSS of the decrypt process (os.wait4)
  stays bounded (under 40 MB, and within 16 MB of the same run on a 1-byte message);
- refusals with exit 1 and their one-line reason: wrong passphrase, a flipped byte
  or a character that is not base64 (damaged), a truncated page or message (damaged,
  -o OUT not created), no envelope, an envelope of version 2, a missing INPUT; a failure
  after some plaintext reached stdout says the output is incomplete; SIGTERM while -o
  OUT is being written leaves no file behind;
- the random passphrase typed in lower case with spaces, the organisation key
  (--org-key; one that others can read is refused), CRLF in the passphrase file;
- usage errors exit 2.
"""
import base64
import binascii
import hashlib
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

CLI = os.environ.get("MAILSEAL_CLI", "mailseal")
MAKE = os.environ.get("MAILSEAL_MAKE_ENVELOPE", "make_envelope")
SANITIZED = os.environ.get("MAILSEAL_SANITIZED", "0") == "1"
PASS = "correct horse battery staple"
TAG = b'<script type="application/x-mailseal-envelope" id="mailseal-envelope">'
MORE = b'<script type="application/x-mailseal-envelope">'
SEP = b"</script>\r\n" + MORE + b"\r\n"
END_TAG = re.compile(rb"</script>", re.I)
GAP_MORE = re.compile(rb"[ \t\r\n]*" + re.escape(MORE))
FORMS = ("html", "eml", "eml-qp", "eml-base64", "eml-other")

WRONG = "wrong passphrase (no key slot opens)"
DAMAGED = "the envelope is damaged or truncated"
NOENV = "no mailseal envelope found in the input"
VERSION = "unsupported envelope version"
INCOMPLETE = "the output is incomplete and must be discarded"

# Run in a fresh interpreter: a child's ru_maxrss also counts the memory of whatever it was
# forked from, so the probe is small and the decrypt process is its only child.
RSS_PROBE = """import resource, subprocess, sys
rc = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL)
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def decrypt(*args, stdin=None, input_bytes=None):
    """Run mailseal decrypt; (exit status, stdout bytes, stderr text)."""
    p = subprocess.run([CLI, "decrypt", *args], stdin=stdin,
                       input=input_bytes, capture_output=True, timeout=600)
    return p.returncode, p.stdout, p.stderr.decode("utf-8")


def file_digest(path):
    """SHA-256 of a file, read in pieces."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for piece in iter(lambda: f.read(1 << 20), b""):
            h.update(piece)
    return h.hexdigest()


def envelope_blocks(page):
    """[(start, end)] of the texts of the envelope's blocks, by the reader rule of
    docs/ENVELOPE.md: the first block after TAG up to </script> (any case), then each
    block whose MORE follows the end tag before it after optional white space."""
    blocks, at = [], page.index(TAG) + len(TAG)
    while True:
        end = END_TAG.search(page, at)
        blocks.append((at, end.start()))
        more = GAP_MORE.match(page, end.end())
        if more is None:
            return blocks
        at = more.end()


def split_page(page):
    """(before, envelope bytes, after) of a viewer page: before ends with the first start
    tag, after starts with the last block's end tag."""
    blocks = envelope_blocks(page)
    text = b"".join(page[s:e] for s, e in blocks)
    return page[:blocks[0][0]], base64.b64decode(b"".join(text.split())), page[blocks[-1][1]:]


def wrap_page(page, cte):
    """A wrapper message with page as its message.html attachment in transfer encoding cte."""
    if cte == "base64":
        body = base64.encodebytes(page).replace(b"\n", b"\r\n")
    else:
        body = binascii.b2a_qp(page, istext=True)
    return (b"From: a@example.com\r\nTo: b@example.net\r\nSubject: re-wrapped\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b0\"\r\n\r\n"
            b"--b0\r\nContent-Type: text/plain\r\n\r\nOpen the attachment.\r\n"
            b"--b0\r\nContent-Type: text/html; charset=us-ascii\r\n"
            b"Content-Disposition: attachment; filename=\"message.html\"\r\n"
            b"Content-Transfer-Encoding: " + cte.encode() + b"\r\n\r\n" + body
            + b"\r\n--b0--\r\n")


def join_page(before, env, after):
    """A page around env, in base64 lines of 76 characters ending in CRLF."""
    b64 = base64.b64encode(env)
    lines = b"".join(b64[i:i + 76] + b"\r\n" for i in range(0, len(b64), 76))
    return before + b"\r\n" + lines + after


class DecryptCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="mailseal-decrypt-")
        cls.dir = cls.tmp.name
        cls.passfile = cls.path("pass")
        with open(cls.passfile, "w", encoding="utf-8") as f:
            f.write(PASS + "\n")
        cls.plain = {}
        for size in (0, 1, 100000):
            cls.plain[size] = cls.path("plain-%d" % size)
            with open(cls.plain[size], "wb") as f:
                f.write(os.urandom(size))

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    @classmethod
    def path(cls, name):
        return os.path.join(cls.dir, name)

    def setUp(self):
        self.work = tempfile.mkdtemp(dir=self.dir)

    def tearDown(self):
        shutil.rmtree(self.work, ignore_errors=True)

    def wpath(self, name):
        return os.path.join(self.work, name)

    def make(self, plain, form="html", passphrase=True, random_out=None, recovery=None,
             name="msg"):
        """An envelope of the file plain in the given form; its path."""
        out = self.wpath(name + "." + form)
        args = [MAKE, "--form", form]
        if passphrase:
            args += ["--passphrase-file", self.passfile]
        if random_out:
            args += ["--random-out", random_out]
        if recovery:
            args += ["--recovery", recovery]
        subprocess.run(args + [plain, out], check=True, timeout=600)
        return out

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def write(self, name, data):
        path = self.wpath(name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def assertRefused(self, result, reason):
        rc, out, err = result
        self.assertEqual(rc, 1, err)
        self.assertIn("mailseal decrypt: " + reason + "\n", err)
        return out, err

    def assertNoOutputFiles(self, out):
        """Neither OUT nor a temporary file beside it."""
        d, base = os.path.split(out)
        self.assertEqual([n for n in os.listdir(d) if n.startswith(base)], [])

    # round trips

    def test_round_trip_every_size_and_form(self):
        for size, plain in self.plain.items():
            for form in FORMS:
                with self.subTest(size=size, form=form):
                    env = self.make(plain, form)
                    rc, out, err = decrypt("--passphrase-file", self.passfile, env)
                    self.assertEqual((rc, err), (0, ""))
                    self.assertEqual(out, self.read(plain))

    def test_stdin_pipe_redirect_and_output_file(self):
        plain = self.plain[100000]
        want = self.read(plain)
        for form in ("html", "eml-qp"):
            env = self.make(plain, form)
            with self.subTest(form=form, via="pipe"):
                rc, out, err = decrypt("--passphrase-file", self.passfile,
                                       input_bytes=self.read(env))
                self.assertEqual((rc, err, out), (0, "", want))
            with self.subTest(form=form, via="redirect"), open(env, "rb") as f:
                rc, out, err = decrypt("--passphrase-file", self.passfile, "-", stdin=f)
                self.assertEqual((rc, err, out), (0, "", want))
            with self.subTest(form=form, via="-o"):
                dest = self.wpath("out-" + form)
                rc, out, err = decrypt("--passphrase-file", self.passfile, "-o", dest, env)
                self.assertEqual((rc, err, out), (0, "", b""))
                self.assertEqual(self.read(dest), want)
                self.assertEqual(stat.S_IMODE(os.stat(dest).st_mode), 0o600)
                self.assertEqual(sorted(n for n in os.listdir(self.work)
                                        if n.startswith("out-" + form)), ["out-" + form])

    def big_plain(self):
        """A 2.5 MB plaintext (its envelope takes five blocks); its path."""
        return self.write("big-plain", os.urandom(2500 * 1024))

    def test_multi_block_page_every_form(self):
        plain = self.big_plain()
        want = self.read(plain)
        page = self.read(self.make(plain, "html", name="page"))
        blocks = envelope_blocks(page)
        self.assertEqual(len(blocks), 5)
        self.assertEqual(page.count(SEP), 4)
        for s, e in blocks:
            self.assertLessEqual(page[s:e].count(b"\r\n"), 10001)
        self.assertEqual(split_page(page)[1][:8], b"MSEALENV")
        inputs = {form: self.make(plain, form) for form in FORMS}
        inputs["re-wrapped base64"] = self.write("wrapped-b64.eml", wrap_page(page, "base64"))
        inputs["re-wrapped qp"] = self.write("wrapped-qp.eml", wrap_page(page, "quoted-printable"))
        for what, path in inputs.items():
            with self.subTest(input=what):
                dest = self.wpath("out")
                rc, out, err = decrypt("--passphrase-file", self.passfile, "-o", dest, path)
                self.assertEqual((rc, err, out), (0, "", b""))
                self.assertEqual(self.read(dest), want)
                os.unlink(dest)
        # what may stand between blocks
        for what, sep in (("no line break", b"</script>" + MORE),
                          ("white space", b"</SCRIPT> \t\n\r\n" + MORE + b"\t")):
            with self.subTest(between=what):
                same = self.write("same.html", page.replace(SEP, sep))
                self.assertEqual(decrypt("--passphrase-file", self.passfile, same), (0, want, ""))

    def test_damaged_continuation_tag(self):
        page = self.read(self.make(self.big_plain(), "html"))
        first = page.index(SEP)
        damaged = {
            "continuation tag changed": MORE[:-3] + b"X\">",
            "continuation tag with an id": MORE[:-1] + b' id="x">',
            "continuation tag in upper case": MORE.upper(),
            "another element first": b"</div>" + MORE,
            "a partial tag, then the tag": b"<script\r\n" + MORE,
            "form feed between blocks": b"\f" + MORE,
        }
        for what, tag in damaged.items():
            bad_page = page[:first] + b"</script>\r\n" + tag + page[first + len(SEP) - 2:]
            self.assertEqual(len(envelope_blocks(bad_page)), 1)
            for form, data in (("html", bad_page), ("eml-base64", wrap_page(bad_page, "base64")),
                               ("eml-qp", wrap_page(bad_page, "quoted-printable"))):
                with self.subTest(what=what, form=form):
                    bad = self.write("bad." + form, data)
                    dest = self.wpath("out")
                    self.assertRefused(decrypt("--passphrase-file", self.passfile, "-o", dest, bad),
                                       DAMAGED)
                    self.assertNoOutputFiles(dest)
        # to stdout, the blocks before it were plaintext already: said to be incomplete
        bad = self.write("bad.html", page[:first] + b"</script>\r\n</div>" + page[first + len(SEP) - 2:])
        out, err = self.assertRefused(decrypt("--passphrase-file", self.passfile, bad), DAMAGED)
        self.assertIn("mailseal decrypt: " + INCOMPLETE + "\n", err)

    def peak_rss_kib(self, args):
        """Run mailseal decrypt (stdout to /dev/null) under RSS_PROBE; its peak RSS in KiB."""
        p = subprocess.run([sys.executable, "-c", RSS_PROBE, CLI, "decrypt", *args],
                           capture_output=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stderr)
        rc, rss = p.stdout.split()
        self.assertEqual(int(rc), 0, p.stderr)
        return int(rss)

    def test_30_mb_in_bounded_memory(self):
        # this process stays small too: nothing of 30 MB is held here
        big = self.wpath("big")
        with open(big, "wb") as f:
            for _ in range(30):
                f.write(os.urandom(1024 * 1024))
        want = file_digest(big)
        small_env = self.make(self.plain[1], "eml-base64", name="small")
        base = self.peak_rss_kib(["--passphrase-file", self.passfile, small_env])
        for form in ("html", "eml-base64"):
            with self.subTest(form=form):
                env = self.make(big, form, name="big")
                self.assertGreater(os.path.getsize(env), 40 * 1024 * 1024)
                dest = self.wpath("big.out")
                peak = self.peak_rss_kib(["--passphrase-file", self.passfile, "-o", dest, env])
                self.assertEqual(file_digest(dest), want)
                os.unlink(dest)
                os.unlink(env)
                self.assertLess(peak - base, 16 * 1024, "peak %d KiB, 1-byte run %d KiB" % (peak, base))
                if not SANITIZED:
                    self.assertLess(peak, 40 * 1024)
        with self.subTest(via="pipe"):
            env = self.make(big, "html", name="big")
            dest = self.wpath("big.out")
            with open(env, "rb") as f, open(dest, "wb") as out:
                p = subprocess.Popen([CLI, "decrypt", "--passphrase-file", self.passfile],
                                     stdin=subprocess.PIPE, stdout=out, stderr=subprocess.PIPE)
                shutil.copyfileobj(f, p.stdin, 1 << 16)
                p.stdin.close()
                err = p.stderr.read()
                p.stderr.close()
                self.assertEqual((p.wait(timeout=600), err), (0, b""))
            self.assertEqual(file_digest(dest), want)

    # refusals

    def test_wrong_passphrase(self):
        env = self.make(self.plain[100000], "eml")
        other = self.write("other", b"correct horse battery stapler\n")
        self.assertRefused(decrypt("--passphrase-file", other, env), WRONG)
        dest = self.wpath("out")
        out, _ = self.assertRefused(decrypt("--passphrase-file", other, "-o", dest, env), WRONG)
        self.assertEqual(out, b"")
        self.assertNoOutputFiles(dest)

    def test_flipped_byte_is_damage(self):
        env = self.make(self.plain[100000], "html")
        page = self.read(env)
        start = page.index(TAG) + len(TAG)
        end = page.index(b"</script>", start)
        for what, pos, new in (("flipped", (start + end) // 2, None),
                               ("not base64", (start + end) // 2, b"!"),
                               ("in the last line", end - 10, None)):
            with self.subTest(what=what):
                i = pos
                while page[i:i + 1] in (b"\r", b"\n", b"="):
                    i += 1
                ch = new if new is not None else (b"B" if page[i:i + 1] == b"A" else b"A")
                bad = self.write("bad.html", page[:i] + ch + page[i + 1:])
                dest = self.wpath("out")
                self.assertRefused(decrypt("--passphrase-file", self.passfile, "-o", dest, bad),
                                   DAMAGED)
                self.assertNoOutputFiles(dest)

    def test_damage_after_output_says_incomplete(self):
        plain = self.write("five-chunks", os.urandom(5 * 65536 + 100))
        env = self.make(plain, "html")
        page = self.read(env)
        end = page.index(b"</script>")
        i = end - 200
        while page[i:i + 1] in (b"\r", b"\n"):
            i += 1
        ch = b"B" if page[i:i + 1] == b"A" else b"A"
        bad = self.write("bad.html", page[:i] + ch + page[i + 1:])
        out, err = self.assertRefused(decrypt("--passphrase-file", self.passfile, bad), DAMAGED)
        self.assertEqual(out, self.read(plain)[:4 * 65536])
        self.assertIn("mailseal decrypt: " + INCOMPLETE + "\n", err)

    def test_truncated_is_damage(self):
        plain = self.plain[100000]
        for form in ("html", "eml", "eml-base64"):
            with self.subTest(form=form):
                data = self.read(self.make(plain, form))
                cut = self.write("cut." + form, data[:len(data) * 6 // 10])
                dest = self.wpath("out")
                out, err = self.assertRefused(
                    decrypt("--passphrase-file", self.passfile, "-o", dest, cut), DAMAGED)
                self.assertNoOutputFiles(dest)
                self.assertNotIn(INCOMPLETE, err)
        with self.subTest(what="at a chunk boundary, end tag kept"):
            plain = self.write("three-chunks", os.urandom(3 * 65536))
            before, env, after = split_page(self.read(self.make(plain, "html")))
            cut = self.write("cut.html", join_page(before, env[:len(env) - 65536 - 16], after))
            out, err = self.assertRefused(decrypt("--passphrase-file", self.passfile, cut), DAMAGED)
            self.assertEqual(out, self.read(plain)[:65536])
            self.assertIn(INCOMPLETE, err)

    def test_signal_removes_unfinished_output(self):
        env = self.read(self.make(self.plain[100000], "html"))
        dest = self.wpath("out")
        p = subprocess.Popen([CLI, "decrypt", "--passphrase-file", self.passfile, "-o", dest],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            p.stdin.write(env[:len(env) // 2])
            p.stdin.flush()
            deadline = time.monotonic() + 30
            while not [n for n in os.listdir(self.work) if n.startswith("out.tmp-")]:
                self.assertLess(time.monotonic(), deadline, "no temporary output appeared")
                time.sleep(0.02)
            p.send_signal(signal.SIGTERM)
            self.assertEqual(p.wait(timeout=30), -signal.SIGTERM)
        finally:
            p.stdin.close()
            if p.poll() is None:
                p.kill()
                p.wait()
        self.assertNoOutputFiles(dest)

    def test_missing_input(self):
        dest = self.wpath("out")
        rc, out, err = decrypt("--passphrase-file", self.passfile, "-o", dest, self.wpath("nope"))
        self.assertEqual((rc, out), (1, b""))
        self.assertIn("mailseal decrypt: cannot read " + self.wpath("nope") + ": ", err)
        self.assertNoOutputFiles(dest)

    def test_no_envelope(self):
        cases = {
            "plain message": b"From: a@example.com\r\nTo: b@example.net\r\nSubject: hi\r\n\r\nhello\r\n",
            "html without the tag": b"<!DOCTYPE html>\r\n<html><body>hello</body></html>\r\n",
            "empty": b"",
            "tag in the message body, not an attachment":
                b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n" + TAG + b"TVNFQUxFTlY=</script>\r\n",
        }
        for what, data in cases.items():
            with self.subTest(what=what):
                self.assertRefused(decrypt("--passphrase-file", self.passfile,
                                           self.write("in", data)), NOENV)
                self.assertRefused(decrypt("--passphrase-file", self.passfile,
                                           input_bytes=data), NOENV)

    def test_unsupported_version(self):
        before, env, after = split_page(self.read(self.make(self.plain[1], "html")))
        v2 = self.write("v2.html", join_page(before, env[:8] + b"\x02" + env[9:], after))
        self.assertRefused(decrypt("--passphrase-file", self.passfile, v2), VERSION)
        same = self.write("same.html", join_page(before, env, after))
        self.assertEqual(decrypt("--passphrase-file", self.passfile, same),
                         (0, self.read(self.plain[1]), ""))

    # keys

    def test_random_passphrase_typed_loosely(self):
        shown_file = self.wpath("shown")
        env = self.make(self.plain[100000], "eml-qp", passphrase=False, random_out=shown_file)
        with open(shown_file, encoding="ascii") as f:
            shown = f.read().strip()
        self.assertEqual(len(shown), 27)
        typed = self.write("typed", (" " + shown.lower().replace("-", " ") + " \r\n").encode())
        rc, out, err = decrypt("--passphrase-file", typed, env)
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, self.read(self.plain[100000]))
        other = shown[:-1] + ("0" if shown[-1] != "0" else "1")
        self.assertRefused(decrypt("--passphrase-file", self.write("other", other.encode()), env),
                           WRONG)
        # the recipient passphrase still works next to a random slot
        both = self.make(self.plain[1], "html", random_out=self.wpath("shown2"), name="both")
        self.assertEqual(decrypt("--passphrase-file", self.passfile, "--address", "Ann@Example.NET",
                                 both), (0, self.read(self.plain[1]), ""))
        self.assertEqual(decrypt("--passphrase-file", self.wpath("shown2"), both),
                         (0, self.read(self.plain[1]), ""))

    def test_passphrase_file_with_crlf(self):
        env = self.make(self.plain[1], "html")
        crlf = self.write("crlf", (PASS + "\r\nsecond line\r\n").encode())
        self.assertEqual(decrypt("--passphrase-file", crlf, env), (0, self.read(self.plain[1]), ""))
        empty = self.write("empty", b"\n" + PASS.encode())
        rc, _, err = decrypt("--passphrase-file", empty, env)
        self.assertEqual(rc, 1)
        self.assertIn("empty", err)

    @unittest.skipUnless(shutil.which("openssl"), "openssl not installed")
    def test_org_key(self):
        keys = {}
        for k in ("org", "other"):
            priv, pub = self.wpath(k + ".pem"), self.wpath(k + ".pub.pem")
            subprocess.run(["openssl", "genpkey", "-algorithm", "X25519", "-out", priv], check=True)
            subprocess.run(["openssl", "pkey", "-in", priv, "-pubout", "-out", pub], check=True)
            os.chmod(priv, 0o600)
            keys[k] = (priv, pub)
        plain = self.plain[100000]
        for form in ("html", "eml-base64"):
            with self.subTest(form=form):
                env = self.make(plain, form, recovery=keys["org"][1])
                rc, out, err = decrypt("--org-key", keys["org"][0], env)
                self.assertEqual((rc, err), (0, ""))
                self.assertEqual(out, self.read(plain))
                self.assertRefused(decrypt("--org-key", keys["other"][0], env),
                                   "the organisation key opens no key slot")
        os.chmod(keys["org"][0], 0o644)
        rc, out, err = decrypt("--org-key", keys["org"][0], env)
        self.assertEqual((rc, out), (1, b""))
        self.assertIn(keys["org"][0], err)

    def test_usage_errors(self):
        env = self.make(self.plain[1], "html")
        for args in ((env,),
                     ("--passphrase-file", self.passfile, "--org-key", self.passfile, env),
                     ("--passphrase-file", self.passfile, env, env),
                     ("--passphrase-file", self.passfile, "--bogus", env),
                     ("--org-key", self.passfile, "--address", "a@example.net", env),
                     ("--passphrase-file",)):
            with self.subTest(args=args):
                rc, out, err = decrypt(*args)
                self.assertEqual((rc, out), (2, b""), err)
                self.assertIn("usage: mailseal decrypt", err)
        rc, out, _ = decrypt("-h")
        self.assertEqual(rc, 0)
        self.assertIn(b"usage: mailseal decrypt", out)


if __name__ == "__main__":
    unittest.main()
