#!/usr/bin/env python3
"""test_dkim - DKIM signing after the gateway, through a real Postfix with
two milters: mailseal-milter and a real OpenDKIM (signing mode, a generated
RSA-2048 key, its own configuration, on a free loopback port).

    smtpd_milters = mailseal, opendkim     (the order packaging/postfix/
                                            dkim-after-mailseal.md documents)

Postfix hands the message to its milters one after the other at the end of
DATA, and each milter sees the header and body as changed by the ones before
it, so OpenDKIM listed after mailseal signs the wrapper that leaves.  What
the sink receives is checked with dkimpy (Debian's python3-dkim) against the
generated public key, served by a dnsfunc (no DNS).  The tests show:

  - the wrapper is signed: the signature verifies, its h= covers From,
    Subject, Content-Type and MIME-Version, it has no l= (the whole body is
    signed), and the signed body is the wrapper (message.html, no plaintext);
    one flipped byte in the wrapper body makes verification fail;
  - a message that is not encrypted (internal recipient) is signed and
    verifies too;
  - the wrong order (OpenDKIM before mailseal) leaves no valid signature on
    the wrapper; the signature OpenDKIM made over the original travels
    inside the encrypted payload and verifies there after decryption.

Needs root, MAILSEAL_MILTER, MAILSEAL_CLI, opendkim, openssl and the dkim
module; skips with a message naming what is missing.  OpenDKIM is stopped
by its PID in the cleanup, also when a test failed.
"""

import base64
import email
import email.policy
import os
import re
import signal
import subprocess
import unittest

from mailseal_e2e import (E2ETestCase, OpenDKIM, crlf, split_message, which)

try:
    import dkim
except ImportError:  # python3-dkim missing: the tests skip
    dkim = None

CLI = os.environ.get("MAILSEAL_CLI")
PASSPHRASE = "correct horse battery staple"
BODY_MARK = "Quarterly numbers: revenue 4711 million, do not share."
BOB = "bob@partner.test"
CAROL = "carol@example.com"
DOMAIN = "example.com"
SELECTOR = "mailseal-e2e"

ENCRYPT_RULE = {"name": "seal-external", "if": {"recipient_scope": "external"},
                "then": {"encrypt": {}}}


def plain_message(subject, to=BOB):
    """plain_message - a small text/plain message from alice@example.com, CRLF bytes."""
    return crlf(
        "From: Alice <alice@example.com>\n"
        "To: <%s>\n"
        "Subject: %s\n"
        "Date: Tue, 25 Nov 2025 10:00:00 +0000\n"
        "Message-ID: <dkim-%s@example.com>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "Content-Transfer-Encoding: 7bit\n"
        "\n"
        "%s\n"
        "Second line.\n" % (to, subject, os.urandom(6).hex(), BODY_MARK))


def dkim_tags(value):
    """dkim_tags - {tag: value} of a DKIM-Signature field value, folding
    whitespace removed from every value."""
    tags = {}
    for part in value.split(";"):
        name, eq, val = part.partition("=")
        if eq:
            tags[name.strip()] = re.sub(r"\s+", "", val)
    return tags


def flip_body_byte(data, needle=b"message.html"):
    """flip_body_byte - data with one byte of the body changed: the first
    byte of the first needle after the blank line (ValueError if none)."""
    head, body = split_message(data)
    at = body.find(needle)
    if at < 0:
        raise ValueError("no %r in the body" % needle)
    pos = len(data) - len(body) + at
    return data[:pos] + bytes([data[pos] ^ 0x01]) + data[pos + 1:]


@unittest.skipUnless(CLI, "MAILSEAL_CLI not set")
@unittest.skipUnless(dkim is not None, "python module dkim missing (apt-get install python3-dkim)")
@unittest.skipUnless(which("opendkim"), "opendkim missing (apt-get install opendkim opendkim-tools)")
@unittest.skipUnless(which("openssl"), "openssl missing")
class DkimAfterGateway(E2ETestCase):

    needs_milter = True

    def setUp(self):
        super().setUp()
        self.opendkim = None

    def start_opendkim(self):
        """start_opendkim - OpenDKIM in self.dir/opendkim, stopped by PID at cleanup."""
        self.opendkim = OpenDKIM(os.path.join(self.dir, "opendkim"))
        self.addCleanup(self._stop_opendkim)
        return self.opendkim.start()

    def _stop_opendkim(self):
        """_stop_opendkim - cleanup: stop OpenDKIM, show its output when the test failed."""
        self.opendkim.stop()
        if self._failed():
            print("--- %s ---\n%s" % (self.opendkim.log_path, self.opendkim.log()[-5000:]),
                  flush=True)

    def cli(self, *args, stdin=None):
        """cli - run the mailseal tool; CompletedProcess (bytes)."""
        return subprocess.run([CLI] + list(args), input=stdin, capture_output=True, timeout=120)

    def store_secret(self):
        """store_secret - BOB's passphrase in a secrets file; returns (secrets, passfile)."""
        secrets = os.path.join(self.dir, "secrets")
        passfile = os.path.join(self.dir, "pass.txt")
        with open(passfile, "w") as f:
            f.write(PASSPHRASE + "\n")
        r = self.cli("secret", "set", "-f", secrets, "--passphrase-file", passfile,
                     "--iterations", "100000", BOB)
        self.assertEqual(r.returncode, 0, r.stderr)
        return secrets, passfile

    def gateway(self, dkim_first=False):
        """gateway - the sink, OpenDKIM, the milter encrypting external mail
        (BOB's stored passphrase), Postfix with both milters in the asked
        order; returns the passphrase file."""
        secrets, passfile = self.store_secret()
        self.start_sink()
        signer = self.start_opendkim()
        milter = self.start_milter(rules=[ENCRYPT_RULE],
                                   config={"envelope": {"secrets_file": secrets,
                                                        "random_passphrase": "never"}})
        order = [milter.postfix_socket, signer.postfix_socket]
        if dkim_first:
            order.reverse()
        self.start_postfix(milter=", ".join(order))
        return passfile

    def verify(self, data):
        """verify - dkimpy's verdict on data's first DKIM-Signature, the key
        taken from the generated TXT record."""
        return dkim.verify(data, dnsfunc=self.opendkim.dnsfunc)

    def decrypt(self, wrapper, passfile):
        """decrypt - mailseal decrypt of the wrapper bytes; the plaintext."""
        path = os.path.join(self.dir, "wrapper.eml")
        with open(path, "wb") as f:
            f.write(wrapper)
        r = self.cli("decrypt", "--passphrase-file", passfile, path)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def assertWrapper(self, data):
        """the message is mailseal's wrapper: the viewer attached, no plaintext"""
        self.assertNotIn(BODY_MARK.encode(), data)
        self.assertIsNotNone(re.search(rb"(?mi)^x-mailseal-loop:", data))
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        self.assertEqual(msg.get_payload()[1].get_filename(), "message.html")
        _, body = split_message(data)
        self.assertIn(b"message.html", body)

    def assertSignedByUs(self, got):
        """one DKIM-Signature from OpenDKIM for DOMAIN with SELECTOR over the
        whole body and the fields that say what the message is; returns its tags"""
        sigs = got.headers("DKIM-Signature")
        self.assertEqual(len(sigs), 1, sigs)
        tags = dkim_tags(sigs[0])
        self.assertEqual((tags["d"], tags["s"], tags["a"]), (DOMAIN, SELECTOR, "rsa-sha256"))
        self.assertEqual(tags["c"], "relaxed/relaxed")
        self.assertNotIn("l", tags)
        signed = {h.lower() for h in tags["h"].split(":")}
        for name in ("from", "subject", "content-type", "mime-version", "to", "date",
                     "message-id"):
            self.assertIn(name, signed, tags["h"])
        return tags

    def test_signature_after_the_gateway_covers_the_wrapper(self):
        self.gateway()
        self.assertAccepted(self.send(plain_message("Q3 figures"), rcpts=[BOB]))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.rcpts, [BOB])
        self.assertWrapper(got.data)
        self.assertSignedByUs(got)
        self.assertTrue(self.verify(got.data), "the signature on the wrapper does not verify")
        # the signature is over these bytes: one changed byte in the body breaks it
        self.assertFalse(self.verify(flip_body_byte(got.data)))
        # and over the signed header fields: a changed Subject breaks it
        self.assertFalse(self.verify(got.data.replace(b"Subject: Q3 figures",
                                                      b"Subject: Q4 figures", 1)))

    def test_internal_message_is_signed_in_clear(self):
        self.gateway()
        self.assertAccepted(self.send(plain_message("lunch", to=CAROL), rcpts=[CAROL]))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.rcpts, [CAROL])
        self.assertIn(BODY_MARK.encode(), got.data)
        self.assertNotIn(b"message.html", got.data)
        self.assertSignedByUs(got)
        self.assertTrue(self.verify(got.data), "the signature on the clear message does not verify")
        self.assertFalse(self.verify(flip_body_byte(got.data, BODY_MARK.encode())))

    def test_signing_before_the_gateway_leaves_no_valid_signature(self):
        passfile = self.gateway(dkim_first=True)
        original = plain_message("Q3 figures")
        self.assertAccepted(self.send(original, rcpts=[BOB]))
        got = self.sink.wait_for(1)[0]
        self.assertWrapper(got.data)
        # mailseal saw OpenDKIM's DKIM-Signature (Postfix shows each milter the
        # changes of the ones before it) and, like every field it does not
        # keep, moved it into the encrypted payload: the wrapper is unsigned
        self.assertEqual(got.headers("DKIM-Signature"), [])
        self.assertFalse(self.verify(got.data),
                         "a signature made before the gateway verified on the wrapper")
        # OpenDKIM's signature was made over the original, so it verifies there
        plain = self.decrypt(got.data, passfile)
        self.assertIn(BODY_MARK.encode(), plain)
        sig = re.findall(rb"(?mi)^dkim-signature:.*\r?\n(?:[ \t].*\r?\n)*", plain)
        self.assertEqual(len(sig), 1, plain[:2000])
        self.assertTrue(self.verify(plain), "the signature inside the payload does not verify")
        # and put back on the wrapper it fails: it does not cover the wrapper
        self.assertFalse(self.verify(sig[0] + got.data))


if __name__ == "__main__":
    unittest.main()
