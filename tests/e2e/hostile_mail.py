#!/usr/bin/env python3
"""hostile_mail - generators of hostile messages for the hostile-mail
tests (test_hostile_direct.py straight into the milter, test_hostile_postfix.py
through Postfix).  Nothing is stored: each message is made on demand, the
big body in pieces.

A message is a Hostile: its name, a one-line description, its header
fields [(name, value)] (bytes; a folded value holds its line breaks as
CRLF plus white space; the value has no leading space), and a body made by
body_chunks() (an iterator of bytes).  raw_chunks() gives the whole
message as an MTA receives it over SMTP (header lines ending in eol, the
empty line, the body), for the Postfix tests; milter_headers() gives the
fields as an MTA hands them to a milter (folds as "\\n" + white space).

Every message carries SUBJECT_TAG in its Subject (the "seal" rules in the
tests encrypt on it) and SECRET, a word that must never reach the sink in
clear when the message is encrypted, in a place the milter reads as text
where the case allows, so the "word" rules (body_contains SECRET_WORD)
find it.  None carries PASS_TAG or PASS_WORD, the subject
tag and the body keyword of the "pass" rules, which therefore encrypt
only when a limit leaves them undecided (policy.on_incomplete).

CASES maps each case name to its generator; size is in bytes; scale
(0 < scale <= 1) shrinks the biggest cases (the 100 MB body) for slow
builds such as ASan, and the tests say when they use it.
"""

import base64
import os

SUBJECT_TAG = "hostile"                  # seal rules: subject_contains
PASS_TAG = "[encrypt]"                   # pass rules: subject_contains (never present)
PASS_WORD = "nightingale"                # pass rules: body_contains (never present)
SECRET = b"SECRET-4711-payroll"          # plaintext that must not leave when sealed
SECRET_WORD = "payroll"                  # word rules: body_contains (in every input's text)
SENDER = "alice@example.com"
RCPT = "bob@partner.test"
CRLF = b"\r\n"


class Hostile:
    """One hostile message (see the module comment)."""

    def __init__(self, name, desc, headers, body, size=None):
        self.name = name
        self.desc = desc
        self.headers = list(headers)
        self._body = body                  # bytes, or a function returning an iterator
        self.size = size

    def body_chunks(self):
        """body_chunks - the body as an iterator of bytes."""
        if callable(self._body):
            return self._body()
        return iter([self._body])

    def body(self):
        """body - the whole body (small messages only)."""
        return b"".join(self.body_chunks())

    def header_block(self, eol=CRLF):
        """header_block - the header lines (each ending in eol) and the empty line."""
        out = bytearray()
        for name, value in self.headers:
            out += name + b": " + value.replace(CRLF, eol) + eol
        return bytes(out + eol)

    def raw_chunks(self, eol=CRLF):
        """raw_chunks - the message as sent over SMTP, in pieces."""
        yield self.header_block(eol)
        yield from self.body_chunks()

    def milter_headers(self):
        """milter_headers - [(name, value)] as an MTA hands them to a milter:
        a folded value's CRLF becomes "\\n"."""
        return [(n, v.replace(CRLF, b"\n")) for n, v in self.headers]

    def __repr__(self):
        return "<Hostile %s: %s>" % (self.name, self.desc)


def base_headers(case, content_type=b"text/plain; charset=utf-8", extra=(), subject=None):
    """base_headers - From, To, Subject (with SUBJECT_TAG), Date, Message-ID,
    MIME-Version, Content-Type, then extra."""
    subj = subject if subject is not None else ("%s %s" % (SUBJECT_TAG, case)).encode()
    hdrs = [
        (b"From", b"Alice <" + SENDER.encode() + b">"),
        (b"To", b"Bob <" + RCPT.encode() + b">"),
        (b"Subject", subj),
        (b"Date", b"Tue, 25 Nov 2025 10:00:00 +0000"),
        (b"Message-ID", b"<hostile-" + case.encode() + b"-" + os.urandom(6).hex().encode()
         + b"@example.com>"),
        (b"MIME-Version", b"1.0"),
    ]
    if content_type is not None:
        hdrs.append((b"Content-Type", content_type))
    hdrs.extend(extra)
    return hdrs


def text_line(i):
    """text_line - one line of ordinary text, numbered."""
    return b"Line %d of the quarterly report, nothing to see here.\r\n" % i


# ---------------------------------------------------------------------------
# the cases

def many_parts(n=10000):
    """many_parts - multipart/mixed with n text parts (past max_parts)."""
    def body():
        yield b"--p\r\nContent-Type: text/plain\r\n\r\n" + SECRET + b"\r\n"
        piece = []
        for i in range(1, n):
            piece.append(b"--p\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i)
            if len(piece) == 1000:
                yield b"".join(piece)
                piece = []
        yield b"".join(piece) + b"--p--\r\n"
    return Hostile("parts_10k", "%d MIME parts in one multipart" % n,
                   base_headers("parts_10k", b'multipart/mixed; boundary="p"'), body)


def deep_nesting(depth=1000):
    """deep_nesting - depth nested multipart/mixed containers, text at the bottom."""
    def body():
        out = bytearray()
        for d in range(1, depth):
            out += b"--n%d\r\nContent-Type: multipart/mixed; boundary=\"n%d\"\r\n\r\n" % (d - 1, d)
        out += b"--n%d\r\nContent-Type: text/plain\r\n\r\n" % (depth - 1) + SECRET + b"\r\n"
        for d in range(depth - 1, -1, -1):
            out += b"--n%d--\r\n" % d
        yield bytes(out)
    return Hostile("nest_1000", "MIME nesting %d deep" % depth,
                   base_headers("nest_1000", b'multipart/mixed; boundary="n0"'), body)


def rfc822_nesting(depth=1000):
    """rfc822_nesting - message/rfc822 parts nested depth deep, text at the bottom."""
    out = bytearray()
    for d in range(1, depth):
        out += b"Subject: inner %d\r\nContent-Type: message/rfc822\r\n\r\n" % d
    out += b"Content-Type: text/plain\r\n\r\n" + SECRET + b"\r\n"
    return Hostile("rfc822_1000", "message/rfc822 nested %d deep" % depth,
                   base_headers("rfc822_1000", b"message/rfc822"), bytes(out))


def no_boundary():
    """no_boundary - a multipart whose boundary occurs nowhere (CRLF line ends)."""
    body = (b"--other\r\nContent-Type: text/plain\r\n\r\n" + SECRET + b"\r\n--other--\r\n")
    return Hostile("no_boundary", "a multipart whose boundary never occurs",
                   base_headers("no_boundary", b'multipart/mixed; boundary="declared"'), body)


def long_header_line(size=1 << 20):
    """long_header_line - one header field of size bytes on one line."""
    value = (b"a" * 63 + b" ") * (size // 64)
    return Hostile("header_1mb", "one header line of %d bytes" % size,
                   base_headers("header_1mb", extra=[(b"X-Long", value)]),
                   SECRET + b"\r\n")


def many_headers(n=50000):
    """many_headers - n header fields (past max_headers), Subject first."""
    extra = [(b"X-Filler-%d" % i, b"value %d" % i) for i in range(n)]
    return Hostile("headers_50k", "%d header fields" % n,
                   base_headers("headers_50k", extra=extra), SECRET + b"\r\n")


def nul_bytes():
    """nul_bytes - NUL bytes in a header value and in the body."""
    extra = [(b"X-Nul", b"before\0after"), (b"Comments", b"\0\0\0")]
    body = b"text \0 with NUL\r\n\0\0\0\0\r\n" + SECRET + b"\0" + SECRET + b"\r\n" + b"\0" * 5000 + b"\r\n"
    return Hostile("nul_bytes", "NUL bytes in headers and body",
                   base_headers("nul_bytes", extra=extra), body)


def bare_lf():
    """bare_lf - body lines ending in bare LF, a multipart with LF-only boundaries."""
    body = (b"--l\nContent-Type: text/plain\n\n" + SECRET + b"\nsecond line\n"
            b"--l\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\n"
            b"soft=\nbreak\n--l--\n")
    return Hostile("bare_lf", "bare LF line ends in the body and its MIME structure",
                   base_headers("bare_lf", b'multipart/mixed; boundary="l"',
                                extra=[(b"X-Bare-LF", b"one\ntwo")]), body)


def bare_cr():
    """bare_cr - body lines ending in bare CR (no LF at all), mixed endings."""
    body = (b"--c\rContent-Type: text/plain\r\r" + SECRET + b"\r" * 3 + b"mixed\n\r\n\r\r\n"
            b"--c\rContent-Type: text/plain\r\r" + b"x\r" * 20000 + b"--c--\r")
    return Hostile("bare_cr", "bare CR line ends in the body (never a LF)",
                   base_headers("bare_cr", b'multipart/mixed; boundary="c"',
                                extra=[(b"X-Bare-CR", b"one\rtwo")]), body)


def bad_base64():
    """bad_base64 - base64 parts that are not base64."""
    body = (b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode(SECRET) + b"\r\n!!!!####$$$$\r\nQQ=Q=Q==\r\nQ\r\n=\r\n"
            b"\xff\xfe\x80garbage\r\n" + b"A" * 5000 + b"\r\n"
            b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + b"====\r\n" * 1000 + b"abc\r\n"
            b"--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            b"PGI+PC9i\r\n\r\n--b--\r\n")
    return Hostile("bad_base64", "invalid base64 in text, attachment and HTML parts",
                   base_headers("bad_base64", b'multipart/mixed; boundary="b"'), body)


def bad_qp():
    """bad_qp - quoted-printable that is not."""
    body = (b"--q\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            + SECRET + b"=ZZ=4=\r\n=G0=\xff=\r\n" + b"=" * 3000 + b"\r\n" + b"a" * 100000 + b"=\r\n"
            b"=3D=3=\r\n"
            b"--q\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
            b"<p =\r\n=\r\n=\r\nclass=3D\"x\">=E2=82</p>=\r\n"
            b"--q--\r\n=")
    return Hostile("bad_qp", "invalid quoted-printable, soft breaks up to the end",
                   base_headers("bad_qp", b'multipart/mixed; boundary="q"'), body)


def lying_charsets():
    """lying_charsets - UTF-8 that is Latin-1, ISO-2022-JP that is garbage,
    an unknown charset and an absurd one."""
    junk = bytes(range(256)) * 40
    body = (b"--s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            b"Gr\xfc\xdfe aus K\xf6ln, \xe9t\xe9 \xe0 Paris " + SECRET + b"\r\n"
            b"--s\r\nContent-Type: text/plain; charset=iso-2022-jp\r\n\r\n"
            b"\x1b$B" + junk + b"\x1b(B\x1b$(D\x1b$)C\x0e\x0f\x1b\x1b\x1b$\r\n"
            b"--s\r\nContent-Type: text/plain; charset=x-no-such-charset\r\n\r\n"
            b"caf\xe9 \xc3\xa9 " + SECRET + b"\r\n"
            b"--s\r\nContent-Type: text/plain; charset=\"" + b"u" * 5000 + b"\"\r\n\r\nabc\r\n"
            b"--s\r\nContent-Type: text/html; charset=utf-16\r\n\r\n\xff\xfe<\x00b\x00\x00\xd8\r\n"
            b"--s--\r\n")
    return Hostile("charsets", "lying and unknown charsets (UTF-8 that is Latin-1, "
                   "ISO-2022-JP garbage, unknown, 5000-byte, odd UTF-16)",
                   base_headers("charsets", b'multipart/mixed; boundary="s"'), body)


def unclosed_boundaries():
    """unclosed_boundaries - nested multiparts whose boundaries never close."""
    body = (b"--u1\r\nContent-Type: multipart/alternative; boundary=\"u2\"\r\n\r\n"
            b"--u2\r\nContent-Type: text/plain\r\n\r\n" + SECRET + b"\r\n"
            b"--u2\r\nContent-Type: multipart/related; boundary=\"u3\"\r\n\r\n"
            b"--u3\r\nContent-Type: text/html\r\n\r\n<p>open\r\n"
            b"--u3\r\nContent-Type: message/rfc822\r\n\r\n"
            b"Subject: inner\r\nContent-Type: multipart/mixed; boundary=\"u4\"\r\n\r\n"
            b"--u4\r\nContent-Type: text/plain\r\n\r\n" + text_line(1) * 2000)
    return Hostile("unclosed", "boundaries that never close (4 levels, one inside message/rfc822)",
                   base_headers("unclosed", b'multipart/mixed; boundary="u1"'), body)


def huge_body(size=100 << 20, name="body_100mb"):
    """huge_body - a text/plain body of size bytes, made in 1 MiB pieces."""
    line = b"Quarterly figures, a line of text long enough to matter here, number 0000.\r\n"
    mib = line * ((1 << 20) // len(line))
    mib += b"x" * ((1 << 20) - len(mib) - 2) + CRLF

    def body():
        yield SECRET + CRLF
        left = size - len(SECRET) - 2
        while left > 0:
            piece = mib if left >= len(mib) else mib[:left]
            left -= len(piece)
            yield piece
    return Hostile(name, "a %d MiB text body" % (size >> 20),
                   base_headers(name), body, size=size)


def rfc2047_invalid():
    """rfc2047_invalid - encoded words whose bytes are not valid UTF-8."""
    def b64(raw):
        return b"=?UTF-8?B?" + base64.b64encode(raw) + b"?="
    words = [b64(b"\xff\xfe\xfd"), b64(b"\xc0\xaf"), b64(b"\xed\xa0\x80"), b64(b"\xe2\x82"),
             b64(b"\xf4\x90\x80\x80"), b"=?UTF-8?Q?=E2=82?= =?UTF-8?Q?=FF?=",
             b"=?ISO-8859-1?B?" + b"!!!!" + b"?=", b"=?x-unknown?Q?=C3=A9?=",
             b"=?UTF-8*en?Q?a=00b?=", b"=?UTF-8?Q?" + b"=C3" * 4000 + b"?="]
    subject = (SUBJECT_TAG + " rfc2047 ").encode() + b" ".join(words)
    extra = [(b"X-Words", b"\r\n ".join(words)),
             (b"Reply-To", b64(b"\x80\x80") + b" <r@example.com>")]
    body = (b"--w\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + SECRET + b"\r\n"
            b"--w\r\nContent-Type: application/octet-stream; name=\"" + b64(b"\xff.txt") + b"\"\r\n"
            b"Content-Disposition: attachment; filename*=UTF-8''%FF%C0%AF.bin\r\n\r\nxx\r\n--w--\r\n")
    return Hostile("rfc2047", "RFC 2047 encoded words decoding to invalid UTF-8 "
                   "(subject, fields, file names)",
                   base_headers("rfc2047", b'multipart/mixed; boundary="w"', extra=extra,
                                subject=subject), body)


def normal():
    """normal - an ordinary message, the control after each hostile one."""
    return Hostile("normal", "an ordinary message",
                   base_headers("normal"), b"Hello Bob,\r\n\r\n" + SECRET + b"\r\n")


# name -> function(scale) -> Hostile
CASES = {
    "parts_10k": lambda scale=1.0: many_parts(),
    "nest_1000": lambda scale=1.0: deep_nesting(),
    "rfc822_1000": lambda scale=1.0: rfc822_nesting(),
    "no_boundary": lambda scale=1.0: no_boundary(),
    "header_1mb": lambda scale=1.0: long_header_line(),
    "headers_50k": lambda scale=1.0: many_headers(),
    "nul_bytes": lambda scale=1.0: nul_bytes(),
    "bare_lf": lambda scale=1.0: bare_lf(),
    "bare_cr": lambda scale=1.0: bare_cr(),
    "bad_base64": lambda scale=1.0: bad_base64(),
    "bad_qp": lambda scale=1.0: bad_qp(),
    "charsets": lambda scale=1.0: lying_charsets(),
    "unclosed": lambda scale=1.0: unclosed_boundaries(),
    "rfc2047": lambda scale=1.0: rfc2047_invalid(),
    "body_100mb": lambda scale=1.0: huge_body(max(1, int(100 * scale)) << 20),
}


def make(name, scale=1.0):
    """make - the Hostile called name (KeyError when unknown)."""
    return CASES[name](scale)
