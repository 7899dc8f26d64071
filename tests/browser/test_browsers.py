#!/usr/bin/env python3
"""test_browsers - the encrypted message opens in real browsers.

The envelopes are made the way a recipient gets them: messages sent through
a private Postfix whose mailseal-milter encrypts external mail (the sink of
tests/e2e/mailseal_e2e.py receives the wrappers).  Each wrapper's
message.html is written into a work directory with a manifest, every
browser driver present in this folder (DRIVERS.md) opens the pages and
reports what it saw, and every assertion is made here against the original
message objects, per engine and case.

Cases: rich (alternative text/HTML with an inline cid: image, a script and
remote content, binary, RFC 2231 and quoted-printable attachments, a nested
message), i18n (RFC 2047 B and Q words, UTF-8, ISO-2022-JP and KOI8-R
bodies), wrong (a wrong passphrase), big (~20 MB), slots50 (50 recipients'
passphrase slots), random (the random passphrase the sender is sent),
noscript (JavaScript off) and phone (360 px wide).

Needs root, MAILSEAL_MILTER and MAILSEAL_CLI (set by ctest) and the browsers
and npm modules of tests/browser/install.sh.  Environment:
  MAILSEAL_BROWSER_ENGINE     comma list of engines to run (default: all
                              whose driver exists here)
  MAILSEAL_BROWSER_ARTIFACTS  where screenshots go (ENGINE/ below it);
                              default MAILSEAL_BROWSER_BUILD_DIR/browser-artifacts
  MAILSEAL_E2E_KEEP=1         keep the work directory

Python standard library only (plus the e2e harness).
"""

import base64
import email
import email.policy
import hashlib
import html.parser
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "e2e"))

from mailseal_e2e import (Milter, Postfix, Sink, crlf, milter_binary, send,  # noqa: E402
                          split_message, wait_until, which)

CLI = os.environ.get("MAILSEAL_CLI")
SOURCE = Path(os.environ.get("MAILSEAL_SOURCE_DIR") or HERE.parent.parent)

ALICE = "alice@example.com"
BOB = "bob@partner.test"            # rich, i18n, big: one slot, default iterations
CAROL = "carol@partner.test"        # slots50: the slot we open, default iterations
EVE = "eve@partner.test"            # random: no stored secret
PASS_BOB = "correct horse battery staple"
PASS_CAROL = "Carol's own 7 passphrase"
WRONG = "not the passphrase at all"
OTHERS = ["r%02d@partner.test" % i for i in range(1, 50)]

ENCRYPT_RULE = {"name": "seal-external", "if": {"recipient_scope": "external"},
                "then": {"encrypt": {}, "add_header": {"name": "X-Sealed", "value": "yes"}}}

# engine -> (driver file, command before "DRIVER MANIFEST OUTDIR")
ENGINES = {
    "chromium": ("drive_chromium.mjs", ["node"]),
    "firefox": ("drive_firefox.mjs", ["node"]),
    "webkit": ("drive_webkit.py", ["xvfb-run", "-a", "/usr/bin/python3"]),
}
DRIVER_TIMEOUT = 600

# URLs a page may ask for besides its own file:// URL (its inline images and downloads)
ALLOWED_SCHEMES = ("data:", "blob:")


# ---------------------------------------------------------------------------
# message construction: raw bytes plus what the viewer must show of them

def png(width, height, rgb=(200, 40, 40)):
    """png - a small truecolour PNG image (bytes)."""
    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff))
    raw = b"".join(b"\0" + bytes(rgb) * width for _ in range(height))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def b64lines(data):
    """b64lines - base64 in 76-character lines, each ending with a newline."""
    return base64.encodebytes(data).decode("ascii")


def bword(text, charset="utf-8"):
    """bword - an RFC 2047 B encoded word."""
    return "=?%s?B?%s?=" % (charset.upper(), base64.b64encode(text.encode(charset)).decode())


def qword(text, charset="utf-8"):
    """qword - an RFC 2047 Q encoded word."""
    out = []
    for b in text.encode(charset):
        c = chr(b)
        if c == " ":
            out.append("_")
        elif c.isascii() and c.isalnum():
            out.append(c)
        else:
            out.append("=%02X" % b)
    return "=?%s?Q?%s?=" % (charset.upper(), "".join(out))


def qp_lines(text_bytes):
    """qp_lines - quoted-printable of CRLF text: hard breaks stay CRLF, so
    the decoded part is text_bytes itself (RFC 2045 6.7)."""
    import quopri
    return quopri.encodestring(text_bytes).decode("ascii")


def msgid(tag):
    return "<%s-%s@example.com>" % (tag, os.urandom(5).hex())


class Original:
    """A message as sent: its bytes, Message-ID, and the attachments the
    viewer must offer as [(name, decoded bytes)], built together."""

    def __init__(self, data, message_id, attachments=()):
        self.data = crlf(data) if isinstance(data, str) else data
        self.message_id = message_id
        self.attachments = list(attachments)
        self.parsed = email.message_from_bytes(self.data, policy=email.policy.default)

    def header(self, name):
        """header - the decoded header field as Python reads it, '' when absent."""
        v = self.parsed[name]
        return "" if v is None else str(v)

    def raw_header(self, name):
        """raw_header - the header field's value as written, unfolded."""
        v = email.message_from_bytes(self.data, policy=email.policy.compat32)[name]
        return "" if v is None else re.sub(r"\r?\n(?=[ \t])", "", v).strip()


class TextOf(html.parser.HTMLParser):
    """The text of the elements with given ids in an HTML document."""

    def __init__(self, ids):
        super().__init__()
        self.ids = set(ids)
        self.text = {}
        self._open = []         # [(id, tag, depth)]
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("img", "br", "meta", "link", "input", "hr"):
            return
        self._depth += 1
        i = dict(attrs).get("id")
        if i in self.ids:
            self._open.append((i, self._depth))
            self.text.setdefault(i, "")

    def handle_endtag(self, tag):
        if tag in ("img", "br", "meta", "link", "input", "hr"):
            return
        self._open = [(i, d) for i, d in self._open if d < self._depth]
        self._depth -= 1

    def handle_data(self, data):
        for i, _ in self._open:
            self.text[i] += data


def text_of(html_text, *ids):
    """text_of - {id: its text, white space collapsed} for the given ids."""
    p = TextOf(ids)
    p.feed(html_text)
    return {i: " ".join(p.text.get(i, "").split()) for i in ids}


def rich_message():
    """rich_message - alternative text + related HTML with an inline image,
    a script and remote content; binary, RFC 2231 and QP attachments; a
    nested message."""
    pic = png(40, 20)
    binary = os.urandom(5000)
    pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n" + os.urandom(1500)
    pdf_name = "四半期報告書 2025年.pdf"
    notes = ("Notes on the figures \u2014 Gr\u00fc\u00dfe aus M\u00fcnchen.\r\n"
             "A line with = signs and trailing blanks   \r\n"
             "A long line " + "that goes on and on " * 6 + "until it needs a soft break.\r\n").encode()
    nested = crlf(
        "From: Erin <erin@example.org>\n"
        "To: Bob <bob@partner.test>\n"
        "Subject: The original figures\n"
        "Date: Mon, 24 Nov 2025 09:00:00 +0000\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "Nested body: the first draft of the figures, for reference.")
    html_part = (
        '<html><head><title>Q3</title>'
        '<link rel="stylesheet" href="http://remote.invalid/style.css">'
        '<style>p { color: #036 } .bg { background: url(http://remote.invalid/bg.png) }</style>'
        '<script>document.documentElement.dataset.pwned = "head";</script></head>\n'
        '<body><p id="greeting">Hello Bob, the Q3 figures are attached; the chart is below.</p>\n'
        '<p><a id="to-closing" href="#closing">Skip to the closing words</a></p>\n'
        '<p><img id="pic" src="cid:chart@rich.test" alt="chart" width="40" height="20"></p>\n'
        '<p><img id="remote" src="http://remote.invalid/track.png" alt="">'
        '<img id="broken" src="nothing.png" onerror="document.body.dataset.pwned = \'onerror\'"></p>\n'
        '<div style="height: 2400px">(space, so that the closing words are out of view)</div>\n'
        '<div class="bg" style="background-image: url(http://remote.invalid/bg2.png)">'
        '<p id="closing">Kind regards, Alice</p></div>\n'
        '<script>document.body.dataset.pwned = "script";'
        ' try { parent.document.body.dataset.pwned = "script"; } catch (e) {}</script>\n'
        '</body></html>\n')
    mid = msgid("rich")
    data = (
        "From: %s <alice@example.com>\n"
        "To: Bob Builder <bob@partner.test>\n"
        "Cc: Carol <carol@example.com>, dave@example.com\n"
        "Subject: Q3 figures with chart and attachments\n"
        "Date: Tue, 25 Nov 2025 10:00:00 +0000\n"
        "Message-ID: %s\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"mix-1\"\n"
        "\n"
        "This is a multi-part message in MIME format.\n"
        "--mix-1\n"
        "Content-Type: multipart/alternative; boundary=\"alt-1\"\n"
        "\n"
        "--alt-1\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "Hello Bob, the Q3 figures are attached (plain text version).\n"
        "--alt-1\n"
        "Content-Type: multipart/related; boundary=\"rel-1\"; type=\"text/html\"\n"
        "\n"
        "--rel-1\n"
        "Content-Type: text/html; charset=utf-8\n"
        "\n"
        "%s"
        "--rel-1\n"
        "Content-Type: image/png\n"
        "Content-ID: <chart@rich.test>\n"
        "Content-Disposition: inline\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "%s"
        "--rel-1--\n"
        "--alt-1--\n"
        "--mix-1\n"
        "Content-Type: application/octet-stream; name=\"random.bin\"\n"
        "Content-Disposition: attachment; filename=\"random.bin\"\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "%s"
        "--mix-1\n"
        "Content-Type: application/pdf\n"
        "Content-Disposition: attachment;\n"
        " filename*=UTF-8''%s\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "%s"
        "--mix-1\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Disposition: attachment; filename=\"notes.txt\"\n"
        "Content-Transfer-Encoding: quoted-printable\n"
        "\n"
        "%s\n"            # the line break before a delimiter is the delimiter's
        "--mix-1\n"
        "Content-Type: message/rfc822\n"
        "\n"
        % (qword("Alice \u00c5ngstr\u00f6m"), mid, html_part, b64lines(pic), b64lines(binary),
           "".join(c if c.isascii() and c.isalnum() or c in "._-" else
                   "".join("%%%02X" % b for b in c.encode()) for c in pdf_name),
           b64lines(pdf), qp_lines(notes)))
    data = crlf(data) + nested + crlf("\n--mix-1--\n")
    nested_subject = email.message_from_bytes(nested, policy=email.policy.default)["Subject"]
    o = Original(data, mid, [("random.bin", binary), (pdf_name, pdf), ("notes.txt", notes),
                             (str(nested_subject) + ".eml", nested)])
    o.pic = pic
    o.nested = email.message_from_bytes(nested, policy=email.policy.default)
    o.html = o.parsed.get_body(("html",)).get_content()
    # the same attachments as Python's parser decodes them (quoted-printable
    # aside: Python turns its CRLF line breaks into LF)
    decoded = {p.get_filename(): p.get_payload(decode=True) for p in o.parsed.iter_attachments()}
    assert decoded["random.bin"] == binary and decoded[pdf_name] == pdf, "rich message malformed"
    return o


I18N_UTF8 = ("Здравствуйте, Боб!\n"
             "Квартальный отчёт готов: «итоги» — в приложении.\n"
             "こんにちは、ボブさん。四半期報告書の準備ができました。\n"
             "漢字・ひらがな・カタカナ、全角「括弧」。")
I18N_JIS = "東京の会議は木曜日の午後三時からです。"
I18N_KOI8 = "Встреча в Москве в четверг, ёлки-палки."


def i18n_message():
    """i18n_message - RFC 2047 B and Q words, a UTF-8 body, ISO-2022-JP and
    KOI8-R parts."""
    mid = msgid("i18n")
    head = (
        "From: %s <ivan@example.com>\n"
        "To: =?UTF-8?B?%s?= <bob@partner.test>\n"
        "Subject: %s %s\n"
        "Date: Wed, 26 Nov 2025 08:30:00 +0300\n"
        "Message-ID: %s\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"i18n-1\"\n"
        "\n"
        "--i18n-1\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 8bit\n"
        "\n" % (bword("Иван Петров", "koi8-r"),
                base64.b64encode("Боб".encode()).decode(),
                bword("Отчёт за квартал: "), qword("日本語の件名とテスト"), mid))
    data = (crlf(head) + crlf(I18N_UTF8 + "\n")
            + crlf("--i18n-1\nContent-Type: text/plain; charset=ISO-2022-JP\n"
                   "Content-Transfer-Encoding: 7bit\n\n")
            + crlf(I18N_JIS.encode("iso2022_jp") + b"\n")
            + crlf("--i18n-1\nContent-Type: text/plain; charset=KOI8-R\n"
                   "Content-Transfer-Encoding: 8bit\n\n")
            + crlf(I18N_KOI8.encode("koi8-r") + b"\n")
            + crlf("--i18n-1--\n"))
    o = Original(data, mid)
    o.texts = [p.get_content() for p in o.parsed.walk() if p.get_content_type() == "text/plain"]
    assert [norm(t) for t in o.texts] == [I18N_UTF8, I18N_JIS, I18N_KOI8], o.texts
    return o


def big_message():
    """big_message - about 20 MB: a text body and a 14 MB binary attachment."""
    blob = os.urandom(14 * 1024 * 1024)
    # 1.3 MB of text: more than the viewer shows before "Show the whole text"
    text = "".join("Line %05d of the big message, long enough to be text.\n" % i
                   for i in range(24000))
    mid = msgid("big")
    data = crlf(
        "From: Alice <alice@example.com>\n"
        "To: Bob <bob@partner.test>\n"
        "Subject: The big one (20 MB)\n"
        "Date: Tue, 25 Nov 2025 11:00:00 +0000\n"
        "Message-ID: %s\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"big-1\"\n"
        "\n"
        "--big-1\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "%s"
        "--big-1\n"
        "Content-Type: application/octet-stream; name=\"data.bin\"\n"
        "Content-Disposition: attachment; filename=\"data.bin\"\n"
        "Content-Transfer-Encoding: base64\n"
        "\n" % (mid, text)) + crlf(b64lines(blob)) + b"--big-1--\r\n"
    o = Original(data, mid, [("data.bin", blob)])
    o.text = text
    return o


def slots50_message():
    """slots50_message - one message to 50 recipients."""
    mid = msgid("slots50")
    rcpts = [CAROL] + OTHERS
    to = ",\n ".join("<%s>" % r for r in rcpts)
    o = Original(
        "From: Alice <alice@example.com>\n"
        "To: %s\n"
        "Subject: Fifty recipients, fifty slots\n"
        "Date: Tue, 25 Nov 2025 12:00:00 +0000\n"
        "Message-ID: %s\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "One message for fifty recipients; each has a passphrase of their own.\n" % (to, mid), mid)
    o.rcpts = rcpts
    o.text = o.parsed.get_content()
    return o


def random_message():
    """random_message - to a recipient without a stored passphrase."""
    mid = msgid("random")
    o = Original(
        "From: Alice <alice@example.com>\n"
        "To: Eve <eve@partner.test>\n"
        "Subject: One-time passphrase message\n"
        "Date: Tue, 25 Nov 2025 13:00:00 +0000\n"
        "Message-ID: %s\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "This one opens with the random passphrase that was sent to Alice.\n" % mid, mid)
    o.text = o.parsed.get_content()
    return o


# ---------------------------------------------------------------------------
# fixtures: the envelopes, made once per run through Postfix and the milter

def norm(text):
    """norm - text with CRLF/CR line ends as LF and no trailing line ends."""
    return None if text is None else text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")


def sha(data):
    return hashlib.sha256(data).hexdigest()[:16]


def html_of(wrapper):
    """html_of - the message.html attachment of a wrapper message (bytes)."""
    msg = email.message_from_bytes(wrapper, policy=email.policy.compat32)
    for part in msg.walk():
        if part.get_filename() == "message.html":
            return part.get_payload(decode=True)
    raise AssertionError("no message.html in the wrapper")


def git_tracked(path):
    """git_tracked - True when path is committed in the source repository."""
    if not (SOURCE / ".git").exists() or not which("git"):
        return False
    r = subprocess.run(["git", "-C", str(SOURCE), "ls-files", "--error-unmatch",
                        os.path.relpath(path, SOURCE)], capture_output=True)
    return r.returncode == 0


class Fixtures:
    """The envelopes of every case and the original messages, made through
    a private Postfix and the milter in a work directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="mailseal-browser-")
        os.chmod(self.dir, 0o755)
        self.originals = {}
        self.pages = {}        # case name -> html path
        self.wrappers = {}     # case name -> wrapper bytes
        self.eml = {}          # case name -> `mailseal decrypt` of the wrapper
        self.random_passphrase = None

    def cli(self, *args):
        return subprocess.run([CLI] + list(args), capture_output=True, timeout=120)

    def passfile(self, name, passphrase):
        path = os.path.join(self.dir, "pass-%s.txt" % name)
        with open(path, "w") as f:
            f.write(passphrase + "\n")
        return path

    def store(self, secrets, address, passphrase, iterations=None):
        """store - mailseal secret set for address (default iterations when None)."""
        args = ["secret", "set", "-f", secrets, "--passphrase-file",
                self.passfile(address, passphrase)]
        if iterations:
            args += ["--iterations", str(iterations)]
        r = self.cli(*(args + [address]))
        if r.returncode != 0:
            raise AssertionError("mailseal secret set %s: %s" % (address, r.stderr.decode()))

    def make(self):
        t0 = time.monotonic()
        secrets = os.path.join(self.dir, "secrets")
        self.store(secrets, BOB, PASS_BOB)                 # the default: 600000 iterations
        self.store(secrets, CAROL, PASS_CAROL)
        for i, r in enumerate(OTHERS):
            self.store(secrets, r, "passphrase of recipient %d" % i, 100000)
        listing = self.cli("secret", "list", "-f", secrets).stdout.decode()
        for who in (BOB, CAROL):        # the slots opened in the main cases: the default
            line = [l for l in listing.splitlines() if who in l]
            if not line or "600000" not in line[0]:
                raise AssertionError("%s not stored with 600000 iterations: %r" % (who, line))
        print("browser fixtures: %d stored secrets (%s and %s with the default 600000 iterations)"
              % (len(OTHERS) + 2, BOB, CAROL), flush=True)

        o = self.originals
        o["rich"], o["i18n"], o["big"] = rich_message(), i18n_message(), big_message()
        o["slots50"], o["random"] = slots50_message(), random_message()
        sends = [("rich", [BOB]), ("i18n", [BOB]), ("big", [BOB]),
                 ("slots50", o["slots50"].rcpts), ("random", [EVE])]

        sink = Sink(os.path.join(self.dir, "sink")).start()
        milter = postfix = None
        try:
            milter = Milter(os.path.join(self.dir, "milter"), rules=[ENCRYPT_RULE],
                            config={"envelope": {"secrets_file": secrets,
                                                 "random_passphrase": "missing",
                                                 # the default 25MB wrapper refuses a 20 MB message
                                                 "max_wrapper_size": "64MB"}})
            milter.start()
            postfix = Postfix(os.path.join(self.dir, "postfix"), sink.port,
                              milter=milter.postfix_socket)
            postfix.start()
            milter.extra["notify"] = {"relay": "127.0.0.1:%d" % postfix.port,
                                      "from": "gateway@example.com", "timeout": 20}
            milter.write_config()
            milter.reload()
            for name, rcpts in sends:
                r = send(postfix.port, ALICE, rcpts, o[name].data, timeout=300)
                if not r.accepted:
                    raise AssertionError("%s not accepted: %r" % (name, r))
            ids = {o[n].message_id: n for n, _ in sends}

            def arrived():
                got = {}
                for m in sink.messages():
                    mid = m.header("Message-ID")
                    if mid in ids and m.rcpts != [ALICE]:
                        got.setdefault(ids[mid], m)
                    elif m.rcpts == [ALICE]:
                        got.setdefault("notification", m)
                return got if len(got) == len(ids) + 1 else None
            got = wait_until(arrived, 180, 0.2)
            if not got:
                raise AssertionError("the sink did not get every wrapper and the notification: %r"
                                     % sink.messages())
            postfix.wait_queue_empty(30)
        except BaseException:
            self.dump(milter, postfix)
            raise
        finally:
            if postfix is not None:
                postfix.stop()
            if milter is not None:
                if milter.running():
                    milter.stop(timeout=15)
                milter.kill()
            sink.stop()
        reports = milter.sanitizer_reports()
        if reports:
            raise AssertionError("sanitizer reports in %s:\n%s" % (milter.log_path, "\n".join(reports)))
        notes = [m for m in sink.messages() if m.rcpts == [ALICE]]
        if len(notes) != 1:
            raise AssertionError("expected one notification (random case), got %r" % notes)

        # the random passphrase, as the sender reads it in the notification
        note = email.message_from_bytes(got["notification"].data, policy=email.policy.default)
        text = note.get_body(("plain",)).get_content()
        m = re.search(r"\b([0-9A-Z]{4}(?:-[0-9A-Z]{4}){4}-[0-9A-Z]{2})\b", text)
        if m is None:
            raise AssertionError("no random passphrase in the notification:\n%s" % text)
        self.random_passphrase = m.group(1)

        for name in o:
            wrapper = got[name].data
            body = split_message(o[name].data)[1]      # (the kept header fields are plain)
            if body[len(body) // 2:len(body) // 2 + 48] in wrapper:
                raise AssertionError("%s: plaintext in the wrapper" % name)
            self.wrappers[name] = wrapper
            path = os.path.join(self.dir, "%s.html" % name)
            with open(path, "wb") as f:
                f.write(html_of(wrapper))
            self.pages[name] = path
        # what `mailseal decrypt` gives for the wrappers whose .eml is downloaded
        for name, pw in (("rich", PASS_BOB), ("big", PASS_BOB), ("random", self.random_passphrase)):
            wpath = os.path.join(self.dir, "%s-wrapper.eml" % name)
            with open(wpath, "wb") as f:
                f.write(self.wrappers[name])
            r = self.cli("decrypt", "--passphrase-file", self.passfile(name + "-open", pw), wpath)
            if r.returncode != 0:
                raise AssertionError("mailseal decrypt %s: %s" % (name, r.stderr.decode()))
            self.eml[name] = r.stdout
        print("browser fixtures: %s made in %.1f s (%s)" % (
            ", ".join("%s %.1f MB" % (n, os.path.getsize(p) / 1e6) for n, p in self.pages.items()),
            time.monotonic() - t0, self.dir), flush=True)

    def dump(self, milter, postfix):
        out = ["===== browser fixtures failed (work directory %s) =====" % self.dir]
        if milter is not None:
            out += ["--- %s ---" % milter.log_path, milter.log()[-8000:]]
        if postfix is not None:
            out += ["--- %s ---" % postfix.maillog_file, postfix.maillog()[-8000:]]
        print("\n".join(out), flush=True)

    def manifest(self):
        """manifest - the driver protocol's cases (DRIVERS.md)."""
        p = self.pages

        def case(name, html, passphrase, **kw):
            c = {"name": name, "html": html, "passphrase": passphrase, "email": None,
                 "scripts": True, "viewport": [1280, 900], "download": False,
                 "screenshots": {}, "timeout_ms": 60000}
            c.update(kw)
            return c
        return {"cases": [
            case("rich", p["rich"], PASS_BOB, download=True,
                 screenshots={"locked": "rich-locked.png", "open": "rich-open.png"},
                 fragment={"link": "to-closing", "target": "closing"}),
            case("i18n", p["i18n"], PASS_BOB, email=BOB, screenshots={"open": "i18n-open.png"}),
            case("wrong", p["rich"], WRONG, download=True, screenshots={"open": "wrong-error.png"}),
            case("big", p["big"], PASS_BOB, email=BOB, download=True, expand=True,
                 timeout_ms=180000),
            case("slots50", p["slots50"], PASS_CAROL, email=CAROL, timeout_ms=120000),
            case("random", p["random"], self.random_passphrase, download=True),
            case("noscript", p["rich"], None, scripts=False,
                 screenshots={"locked": "noscript-locked.png"}),
            case("phone", p["rich"], PASS_BOB, viewport=[360, 740],
                 screenshots={"locked": "phone-locked.png", "open": "phone-open.png"}),
            case("a11y", p["slots50"], PASS_CAROL, email=CAROL, a11y=True, timeout_ms=120000),
            case("nocrypto", p["rich"], None, no_webcrypto=True,
                 screenshots={"locked": "nocrypto.png"}),
        ]}

    @staticmethod
    def pages_url(case):
        """pages_url - the file:// URL a driver opens for a case."""
        return Path(case["html"]).as_uri()

    def remove(self):
        if os.environ.get("MAILSEAL_E2E_KEEP"):
            print("kept browser work directory %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------
# the tests: one per engine, one subtest per case and field

def selected_engines():
    value = os.environ.get("MAILSEAL_BROWSER_ENGINE", "").strip()
    return [e.strip() for e in value.split(",") if e.strip()] if value else list(ENGINES)


def artifact_dir(engine):
    base = os.environ.get("MAILSEAL_BROWSER_ARTIFACTS")
    if not base:
        build = os.environ.get("MAILSEAL_BROWSER_BUILD_DIR")
        base = os.path.join(build, "browser-artifacts") if build else \
            os.path.join(tempfile.gettempdir(), "mailseal-browser-artifacts")
    return os.path.join(base, engine)


def short(value, limit=300):
    """short - a value for a failure message, long strings cut in the middle."""
    s = repr(value)
    return s if len(s) <= limit else s[:limit // 2] + " ... " + s[-limit // 2:]


def first_difference(expected, got):
    """first_difference - where two long strings first differ, for messages."""
    if got is None:
        return "got None"
    n = next((i for i, (a, b) in enumerate(zip(expected, got)) if a != b), min(len(expected), len(got)))
    return "lengths %d/%d, first difference at %d: expected %r, got %r" % (
        len(expected), len(got), n, expected[max(0, n - 30):n + 30], got[max(0, n - 30):n + 30])


class Browsers(unittest.TestCase):
    """Each engine opens every case; failures name engine, case and field."""

    fixtures = None
    fixture_error = None

    @classmethod
    def setUpClass(cls):
        if os.geteuid() != 0:
            raise unittest.SkipTest("browser tests need root (the envelopes come through Postfix)")
        if not which("postfix"):
            raise unittest.SkipTest("postfix not installed (run scripts/install-deps.sh)")
        if not milter_binary():
            raise unittest.SkipTest("MAILSEAL_MILTER does not name the mailseal-milter binary")
        if not CLI or not os.access(CLI, os.X_OK):
            raise unittest.SkipTest("MAILSEAL_CLI does not name the mailseal tool")
        unknown = set(selected_engines()) - set(ENGINES)
        if unknown:
            raise AssertionError("MAILSEAL_BROWSER_ENGINE names unknown engines: %s (known: %s)"
                                 % (", ".join(sorted(unknown)), ", ".join(ENGINES)))

    @classmethod
    def tearDownClass(cls):
        if cls.fixtures is not None:
            cls.fixtures.remove()
            cls.fixtures = None

    @classmethod
    def get_fixtures(cls):
        """get_fixtures - the envelopes, made at the first engine that needs them."""
        if cls.fixture_error is not None:
            raise AssertionError("the envelopes could not be made: %s" % cls.fixture_error)
        if cls.fixtures is None:
            f = Fixtures()
            try:
                f.make()
            except BaseException as e:
                cls.fixture_error = e
                f.remove()
                raise
            cls.fixtures = f
        return cls.fixtures

    def test_chromium(self):
        self.run_engine("chromium")

    def test_firefox(self):
        self.run_engine("firefox")

    def test_webkit(self):
        self.run_engine("webkit")

    # -- running a driver

    def run_engine(self, engine):
        if engine not in selected_engines():
            self.skipTest("%s not selected by MAILSEAL_BROWSER_ENGINE" % engine)
        driver, prefix = ENGINES[engine]
        path = HERE / driver
        if not path.exists():
            if git_tracked(path):
                self.fail("%s: driver missing: %s is committed but not in the tree" % (engine, path))
            self.skipTest("%s: no driver yet (%s)" % (engine, driver))
        if driver.endswith(".mjs") and not (HERE / "node_modules").is_dir():
            self.fail("%s: %s missing: run tests/browser/install.sh" % (engine, HERE / "node_modules"))
        fx = self.get_fixtures()
        out = artifact_dir(engine)
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        manifest = fx.manifest()
        mpath = os.path.join(fx.dir, "manifest-%s.json" % engine)
        with open(mpath, "w") as f:
            json.dump(manifest, f, indent=1, ensure_ascii=False)
        t0 = time.monotonic()
        try:
            p = subprocess.run(prefix + [str(path), mpath, out], cwd=str(HERE), capture_output=True,
                               timeout=DRIVER_TIMEOUT)
        except subprocess.TimeoutExpired as e:
            self.fail("%s: driver still running after %d s:\n%s" % (
                engine, DRIVER_TIMEOUT, (e.stderr or b"").decode("utf-8", "replace")[-4000:]))
        log = (p.stdout + p.stderr).decode("utf-8", "replace")
        print("--- %s driver (%.1f s, exit %d) ---\n%s" % (engine, time.monotonic() - t0,
                                                         p.returncode, log[-4000:]), flush=True)
        if p.returncode == 77:
            self.fail("%s: the browser is not installed (run tests/browser/install.sh)" % engine)
        self.assertEqual(p.returncode, 0, "%s: driver failed" % engine)
        with open(os.path.join(out, "results.json"), encoding="utf-8") as f:
            results = json.load(f)
        print("%s %s; screenshots in %s" % (engine, results.get("version"), out))
        with self.subTest(engine=engine, field="engine"):
            self.assertEqual(results.get("engine"), engine, "results.json of another engine")
        failed_before = self.failure_count()
        for c in manifest["cases"]:
            name = c["name"]
            res = results.get("cases", {}).get(name)
            with self.subTest(engine=engine, case=name):
                self.assertIsNotNone(res, "%s/%s: no result from the driver" % (engine, name))
                self.assertNotIn("driver_error", res, "%s/%s: %s" % (engine, name, res.get("driver_error")))
            if res is None or "driver_error" in res:
                continue
            print("%s %s: state %s, ms_to_result %s, download %s, console errors %d" % (
                engine, name, res.get("state"), res.get("ms_to_result"), res.get("download_method"),
                len(res.get("console_errors") or [])))
            for shot in res.get("screenshots") or []:
                print("  screenshot %s" % os.path.join(out, shot))
            getattr(self, "check_" + name)(Check(self, engine, name, res, out), c)
        print("%s ms_to_result: %s" % (engine, ", ".join(
            "%s %s" % (n, (r or {}).get("ms_to_result")) for n, r in results.get("cases", {}).items())))
        if self.failure_count() == failed_before:
            shutil.rmtree(os.path.join(out, "downloads"), ignore_errors=True)

    def failure_count(self):
        result = getattr(getattr(self, "_outcome", None), "result", None)
        return len(result.failures) + len(result.errors) if result is not None else 0

    # -- the cases

    def opened(self, ck, orig, case):
        """opened - the common checks of an opened message"""
        ck.eq("state", "open", ck.res.get("state"))
        ck.eq("secure_context", True, ck.res.get("secure_context"))
        ck.eq("subtle", True, ck.res.get("subtle"))
        ck.eq("error", "", ck.res.get("error"))
        ck.eq("subject", orig.header("Subject"), ck.res.get("subject"))
        ck.eq("from", orig.header("From"), ck.res.get("from"))
        ck.eq("date", orig.raw_header("Date"), ck.res.get("date"))
        ck.true("ms_to_result", isinstance(ck.res.get("ms_to_result"), (int, float)),
                "a number of milliseconds", ck.res.get("ms_to_result"))
        ck.no_requests(self.fixtures.pages_url(case))
        ck.no_scripts()

    def check_rich(self, ck, case):
        fx = self.fixtures
        orig = fx.originals["rich"]
        self.opened(ck, orig, case)
        res = ck.res
        ck.eq("to", orig.header("To"), res.get("to"))
        ck.eq("cc", orig.header("Cc"), res.get("cc"))
        ck.eq("body_text (the HTML alternative is shown instead)", None, res.get("body_text"))
        frames = res.get("frames") or []
        body = [f for f in frames if any(i.get("id") == "pic" for i in f.get("images") or [])]
        ck.eq("frames with the inline image", 1, len(body))
        want = text_of(orig.html, "greeting", "closing")
        if body:
            f = body[0]
            for key, text in want.items():
                ck.contains("frames[body].text (%s)" % key, text, f.get("text"))
            pic = [i for i in f["images"] if i.get("id") == "pic"][0]
            width = struct.unpack(">I", orig.pic[16:20])[0]
            ck.eq("image pic complete", True, pic.get("complete"))
            ck.eq("image pic natural_width", width, pic.get("natural_width"))
            ck.eq("image pic src_scheme", "data", pic.get("src_scheme"))
            for i in f["images"]:
                if i.get("id") != "pic":
                    ck.true("image %s has no remote source" % i.get("id"),
                            i.get("src_scheme") in (None, "data", "blob"), "no http(s) src",
                            i.get("src_scheme"))
            csp = f.get("csp")
            if csp is not None:
                ck.contains("frame csp", "default-src 'none'", csp)
        if case.get("fragment"):
            # a link to a place in the message brings it into view (it
            # starts 2400 px down), in this tab: not a copy of the viewer
            # in a new one
            frag = res.get("fragment") or {}
            ck.eq("fragment link: tabs or windows opened", 0, frag.get("popups"))
            top, height = frag.get("target_top"), frag.get("viewport_height")
            ck.true("fragment link: the target is in view", top is not None and height is not None
                    and 0 <= top < height, "0 <= top < %s" % height, frag)
        nested = orig.nested
        ck.contains("parts_text (nested subject)", str(nested["Subject"]), res.get("parts_text"))
        ck.contains("parts_text (nested from)", str(nested["From"]), res.get("parts_text"))
        ck.contains("parts_text (nested body)", norm(nested.get_content()), norm(res.get("parts_text")))
        ck.attachments(orig.attachments, check_files=case["download"])
        if case["download"]:
            ck.eml(fx.eml["rich"])
            ck.eq(".eml equals the message as sent", sha(orig.data), sha(fx.eml["rich"]))

    def check_phone(self, ck, case):
        orig = self.fixtures.originals["rich"]
        self.opened(ck, orig, case)
        if ck.res.get("scroll_width") is not None:      # the engines that report it
            ck.true("scroll_width (no sideways scrolling at 360 px)",
                    ck.res["scroll_width"] <= case["viewport"][0],
                    "at most %d" % case["viewport"][0], ck.res["scroll_width"])
        ck.eq("screenshots", sorted(case["screenshots"].values()), sorted(ck.res.get("screenshots") or []))
        ck.eq("attachment names", [n for n, _ in orig.attachments],
              [a.get("name") for a in ck.res.get("attachments") or []])

    def check_a11y(self, ck, case):
        """the page prompting (with the address field of several readers)
        and opened has no serious or critical WCAG 2.1 A/AA violation
        (axe-core, run by every driver)"""
        self.opened(ck, self.fixtures.originals["slots50"], case)
        audits = ck.res.get("a11y")
        for state in ("locked", "open"):
            found = (audits or {}).get(state)
            ck.true("a11y %s audited" % state, isinstance(found, list), "a list of violations", found)
            for v in found or []:
                print("  a11y %s/%s: %s (%s, %d elements): %s" % (
                    ck.engine, state, v.get("id"), v.get("impact"), v.get("nodes", 0), v.get("help")))
            bad = [v.get("id") for v in found or [] if v.get("impact") in ("serious", "critical")]
            ck.eq("a11y %s: serious or critical violations" % state, [], bad)

    def check_nocrypto(self, ck, case):
        """a browser without WebCrypto: the page says so and how to open the
        file, and offers no passphrase form (WebKit's driver cannot take
        crypto.subtle away before the page runs: not checked there)"""
        if ck.res.get("no_webcrypto_applied") is not True:
            ck.true("no_webcrypto_applied", ck.engine == "webkit", "true (only WebKit cannot)",
                    ck.res.get("no_webcrypto_applied"))
            return
        ck.eq("subtle", False, ck.res.get("subtle"))
        ck.eq("state", "error", ck.res.get("state"))
        ck.contains("error", "WebCrypto", ck.res.get("error"))
        ck.contains("visible_text (how to open it)", "How to open this message", ck.res.get("visible_text"))
        ck.not_contains("visible_text (no passphrase form)", "Show passphrase", ck.res.get("visible_text"))
        ck.no_requests(self.fixtures.pages_url(case))

    def check_i18n(self, ck, case):
        orig = self.fixtures.originals["i18n"]
        self.opened(ck, orig, case)
        res = ck.res
        ck.eq("to", orig.header("To"), res.get("to"))
        ck.eq("body_text", norm(orig.texts[0]), norm(res.get("body_text")))
        for label, text in (("ISO-2022-JP", orig.texts[1]), ("KOI8-R", orig.texts[2])):
            ck.contains("parts_text (%s part)" % label, norm(text), norm(res.get("parts_text")))
        ck.eq("attachments", [], res.get("attachments"))

    def check_wrong(self, ck, case):
        orig = self.fixtures.originals["rich"]
        res = ck.res
        ck.eq("state", "error", res.get("state"))
        ck.true("error", bool((res.get("error") or "").strip()), "a visible error text", res.get("error"))
        for field in ("subject", "from", "to", "cc", "date"):
            ck.eq(field + " (nothing shown)", "", res.get(field) or "")
        ck.eq("body_text", None, res.get("body_text"))
        ck.eq("frames", [], res.get("frames"))
        ck.eq("attachments", [], res.get("attachments"))
        ck.not_contains("visible_text (subject)", orig.header("Subject"), res.get("visible_text"))
        ck.not_contains("visible_text (greeting)", text_of(orig.html, "greeting")["greeting"],
                        res.get("visible_text"))
        ck.no_requests(self.fixtures.pages_url(case))

    def check_big(self, ck, case):
        orig = self.fixtures.originals["big"]
        self.opened(ck, orig, case)
        ck.eq("to", orig.header("To"), ck.res.get("to"))
        # the text was clipped (one "Show the whole text" button), then shown whole
        ck.eq("expanded", 1, ck.res.get("expanded"))
        ck.eq("body_text", norm(orig.text), norm(ck.res.get("body_text")))
        ck.attachments(orig.attachments, check_files=True)
        ck.eml(self.fixtures.eml["big"])
        print("%s big: %.1f MB message opened, ms_to_result %s" % (
            ck.engine, len(orig.data) / 1e6, ck.res.get("ms_to_result")))

    def check_slots50(self, ck, case):
        orig = self.fixtures.originals["slots50"]
        self.opened(ck, orig, case)
        for r in orig.rcpts:
            ck.contains("to (%s)" % r, r, ck.res.get("to"))
        ck.eq("body_text", norm(orig.text), norm(ck.res.get("body_text")))
        print("%s slots50: 50 passphrase slots, ms_to_result %s" % (ck.engine, ck.res.get("ms_to_result")))

    def check_random(self, ck, case):
        orig = self.fixtures.originals["random"]
        self.opened(ck, orig, case)
        ck.eq("to", orig.header("To"), ck.res.get("to"))
        ck.eq("body_text", norm(orig.text), norm(ck.res.get("body_text")))
        ck.eml(self.fixtures.eml["random"])

    def check_noscript(self, ck, case):
        orig = self.fixtures.originals["rich"]
        res = ck.res
        with open(case["html"], encoding="utf-8") as f:
            page = text_of(f.read(), "howto-title", "noscript-note", "passphrase-note")
        ck.true("state", res.get("state") != "open", "not open", res.get("state"))
        visible = " ".join((res.get("visible_text") or "").split())
        ck.contains("visible_text (how-to title)", page["howto-title"], visible)
        ck.contains("visible_text (no-script note)", page["noscript-note"], visible)
        ck.not_contains("visible_text (the form's passphrase note)", page["passphrase-note"], visible)
        ck.not_contains("visible_text (subject)", orig.header("Subject"), visible)
        ck.eq("ms_to_result", None, res.get("ms_to_result"))
        ck.no_requests(self.fixtures.pages_url(case))


class Check:
    """Assertions on one case's results, each a subtest naming engine, case
    and field, with expected and got in the message."""

    def __init__(self, test, engine, case, res, outdir):
        self.test, self.engine, self.case, self.res, self.outdir = test, engine, case, res, outdir

    def _sub(self, field, ok, expected, got, detail=""):
        with self.test.subTest(engine=self.engine, case=self.case, field=field):
            if not ok:
                self.test.fail("%s / %s / %s: expected %s, got %s%s" % (
                    self.engine, self.case, field, short(expected), short(got),
                    ("\n" + detail) if detail else ""))

    def eq(self, field, expected, got):
        detail = first_difference(expected, got) if isinstance(expected, str) and \
            isinstance(got, str) and expected != got and len(expected) > 200 else ""
        self._sub(field, expected == got, expected, got, detail)

    def true(self, field, ok, expected, got):
        self._sub(field, ok, expected, got)

    def contains(self, field, needle, hay):
        self._sub(field, hay is not None and needle in hay, "text containing %r" % needle, hay)

    def not_contains(self, field, needle, hay):
        self._sub(field, hay is not None and needle not in hay, "text without %r" % needle, hay)

    def no_requests(self, page_url):
        reqs = self.res.get("requests")
        if reqs is None:
            return              # the engine cannot observe requests
        failures = self.res.get("request_failures") or {}
        other = [u for u in reqs if u != page_url and not u.startswith(ALLOWED_SCHEMES)]
        # the viewer removes every remote reference (attributes, style
        # attributes, <style>): not even a request the CSP would block
        self._sub("requests", not other, "only %s and data:/blob: URLs" % page_url,
                  [(u, failures.get(u)) for u in other])

    def no_scripts(self):
        for i, f in enumerate(self.res.get("frames") or []):
            tokens = (f.get("sandbox") or "").split()
            self._sub("frames[%d].sandbox" % i, f.get("sandbox") is not None and "allow-scripts" not in tokens,
                      "a sandbox without allow-scripts", f.get("sandbox"))
            self._sub("frames[%d].scripts_ran" % i, f.get("scripts_ran") is False, False, f.get("scripts_ran"))
        if "page_pwned" in self.res:
            self._sub("page_pwned", self.res["page_pwned"] is False, False, self.res["page_pwned"])

    def file_bytes(self, rel):
        with open(os.path.join(self.outdir, rel), "rb") as f:
            return f.read()

    def attachments(self, expected, check_files):
        got = self.res.get("attachments") or []
        self.eq("attachment names", [n for n, _ in expected], [a.get("name") for a in got])
        if not check_files:
            return
        for (name, data), a in zip(expected, got):
            if not a.get("file"):
                self._sub("attachment %s downloaded" % name, False, "a file", a)
                continue
            d = self.file_bytes(a["file"])
            self._sub("attachment %s bytes" % name, d == data,
                      "%d bytes sha256 %s" % (len(data), sha(data)), "%d bytes sha256 %s" % (len(d), sha(d)))

    def eml(self, expected):
        e = self.res.get("eml")
        if not e or not e.get("file"):
            self._sub(".eml downloaded", False, "a file", e)
            return
        d = self.file_bytes(e["file"])
        self._sub(".eml bytes (= mailseal decrypt)", d == expected,
                  "%d bytes sha256 %s" % (len(expected), sha(expected)),
                  "%d bytes sha256 %s" % (len(d), sha(d)))


if __name__ == "__main__":
    unittest.main()
