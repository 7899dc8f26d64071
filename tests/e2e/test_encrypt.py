#!/usr/bin/env python3
"""test_encrypt - the encrypt action through a real Postfix: a rule with
encrypt sends the message as the wrapper with the viewer; what the sink
receives holds no plaintext of the body or the attachment, and `mailseal
decrypt` gives back the message as the milter received it, with a stored
recipient passphrase and with the random passphrase the sender is sent.
Needs root, MAILSEAL_MILTER and MAILSEAL_CLI."""

import base64
import email
import json
import email.policy
import os
import re
import subprocess
import unittest

from mailseal_e2e import E2ETestCase, crlf

CLI = os.environ.get("MAILSEAL_CLI")
PASSPHRASE = "correct horse battery staple"
ATTACHMENT = os.urandom(3000)
BODY_MARK = "Quarterly numbers: revenue 4711 million, do not share."
BOB = "bob@partner.test"

ENCRYPT_RULE = {"name": "seal-external", "if": {"recipient_scope": "external"},
                "then": {"encrypt": {}, "add_header": {"name": "X-Sealed", "value": "yes"}}}


def mixed_message(subject):
    """mixed_message - a text body and a binary attachment (base64), CRLF bytes."""
    b64 = base64.encodebytes(ATTACHMENT).decode()
    return crlf(
        "From: Alice <alice@example.com>\n"
        "To: Bob <%s>\n"
        "Subject: %s\n"
        "Date: Tue, 25 Nov 2025 10:00:00 +0000\n"
        "Message-ID: <enc-%s@example.com>\n"
        "X-Internal-Ticket: 12345\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"b1\"\n"
        "\n"
        "--b1\n"
        "Content-Type: text/plain; charset=utf-8\n"
        "\n"
        "%s\n"
        "--b1\n"
        "Content-Type: application/octet-stream; name=\"figures.bin\"\n"
        "Content-Disposition: attachment; filename=\"figures.bin\"\n"
        "Content-Transfer-Encoding: base64\n"
        "\n"
        "%s"
        "--b1--\n" % (BOB, subject, os.urandom(6).hex(), BODY_MARK, b64))


@unittest.skipUnless(CLI, "MAILSEAL_CLI not set")
class Encrypt(E2ETestCase):

    needs_milter = True

    def cli(self, *args, stdin=None):
        """cli - run the mailseal tool; CompletedProcess (bytes)."""
        return subprocess.run([CLI] + list(args), input=stdin, capture_output=True, timeout=120)

    def store_secret(self, path, name):
        """store_secret - mailseal secret set NAME with PASSPHRASE into path."""
        pf = os.path.join(self.dir, "pass.txt")
        with open(pf, "w") as f:
            f.write(PASSPHRASE + "\n")
        r = self.cli("secret", "set", "-f", path, "--passphrase-file", pf, "--iterations",
                     "100000", name)
        self.assertEqual(r.returncode, 0, r.stderr)
        return pf

    def gateway(self, envelope):
        """gateway - Postfix with the milter encrypting external mail; the
        notifications go back into the same Postfix."""
        self.start_sink()
        milter = self.start_milter(rules=[ENCRYPT_RULE], config={"envelope": envelope})
        self.start_postfix(milter=milter)
        milter.extra["notify"] = {"relay": "127.0.0.1:%d" % self.postfix.port,
                                  "from": "gateway@example.com", "timeout": 20}
        milter.write_config()
        milter.reload()
        return milter

    def decrypt(self, wrapper, passfile):
        """decrypt - mailseal decrypt of the wrapper bytes; the plaintext."""
        path = os.path.join(self.dir, "wrapper-%d.eml" % len(os.listdir(self.dir)))
        with open(path, "wb") as f:
            f.write(wrapper)
        r = self.cli("decrypt", "--passphrase-file", passfile, path)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def assertWrapper(self, got, original):
        """the sink's message is a wrapper: no plaintext, the kept fields,
        the viewer attachment travelling as 7bit ASCII"""
        data = got.data
        self.assertNotIn(BODY_MARK.encode(), data)
        self.assertNotIn(base64.encodebytes(ATTACHMENT)[:60], data)
        self.assertNotIn(ATTACHMENT[:32], data)
        self.assertNotIn(b"X-Internal-Ticket", data)
        self.assertEqual(got.header("X-Sealed"), "yes")
        self.assertIsNotNone(got.header("X-Mailseal-Loop"))
        for name in ("From", "To", "Date", "Message-ID", "Subject"):
            self.assertEqual(got.headers(name), [v for v in
                             email.message_from_bytes(original).get_all(name)])
        msg = email.message_from_bytes(data, policy=email.policy.compat32)
        self.assertEqual(msg.get_content_type(), "multipart/mixed")
        parts = msg.get_payload()
        self.assertEqual(parts[0].get_content_type(), "multipart/alternative")
        att = parts[1]
        self.assertEqual(att.get_filename(), "message.html")
        self.assertEqual(att["Content-Transfer-Encoding"], "7bit")
        html = att.get_payload().encode()
        self.assertTrue(all(b < 0x80 for b in html))
        self.assertLessEqual(max(len(l) for l in html.split(b"\n")), 998)
        self.assertIn(b'id="mailseal-envelope"', html)
        # the wrapper stays small: under 1.4 x the original plus the template
        self.assertLess(len(data), 1.4 * len(original) + 120000)

    def assertOriginal(self, plain, original):
        """the decrypted bytes are the message exactly as it was sent (Postfix
        hands its milters the message without its own Received field)"""
        self.assertEqual(plain, original)

    def test_stored_passphrase_opens_and_nothing_leaks(self):
        secrets = os.path.join(self.dir, "secrets")
        passfile = self.store_secret(secrets, BOB)
        self.gateway({"secrets_file": secrets, "random_passphrase": "never"})
        original = mixed_message("Q3 figures")
        self.assertAccepted(self.send(original, rcpts=[BOB]))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.rcpts, [BOB])
        self.assertWrapper(got, original)
        self.assertOriginal(self.decrypt(got.data, passfile), original)
        wrong = os.path.join(self.dir, "wrong.txt")
        with open(wrong, "w") as f:
            f.write("not the passphrase\n")
        path = os.path.join(self.dir, "w.eml")
        with open(path, "wb") as f:
            f.write(got.data)
        r = self.cli("decrypt", "--passphrase-file", wrong, path)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stdout, b"")
        self.assertAlreadyEncrypted(path, True)
        orig = os.path.join(self.dir, "original.eml")
        with open(orig, "wb") as f:
            f.write(original)
        self.assertAlreadyEncrypted(orig, False)

    def assertAlreadyEncrypted(self, path, want):
        """`mailseal test` with the gateway's configuration and a rule
        `already_encrypted: true` matches the message at path (or not)"""
        rules = os.path.join(self.dir, "enc-rules.yaml")
        with open(rules, "w") as f:
            f.write("rules:\n  - name: enc\n    if: {already_encrypted: true}\n"
                    "    then: {log: wrapped}\n")
        r = self.cli("test", "-c", self.milters[0].config_path, "--rules", rules,
                     "--from", "alice@example.com", "--to", BOB, "--json", path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["matched"], ["enc"] if want else [], r.stdout)

    def test_internal_recipient_is_not_encrypted(self):
        secrets = os.path.join(self.dir, "secrets")
        self.store_secret(secrets, BOB)
        self.gateway({"secrets_file": secrets, "random_passphrase": "never"})
        original = mixed_message("internal")
        self.assertAccepted(self.send(original, rcpts=["carol@example.com"]))
        got = self.sink.wait_for(1)[0]
        self.assertIn(BODY_MARK.encode(), got.data)
        self.assertIsNone(got.header("X-Sealed"))

    def test_no_passphrase_and_random_off_rejects(self):
        self.gateway({"random_passphrase": "never"})
        result = self.send(mixed_message("no key"), rcpts=[BOB])
        self.assertFalse(result.accepted)
        self.assertEqual(result.code, 550)
        self.assertIn("5.7.1", result.text)
        self.assertNothingDelivered(settle=1.0)

    def test_random_passphrase_goes_to_the_sender_and_opens(self):
        self.gateway({"random_passphrase": "missing"})
        original = mixed_message("=?UTF-8?B?0J7RgtGH0ZHRgiDQl9CQ?= [encrypt]")
        self.assertAccepted(self.send(original, rcpts=[BOB]))
        msgs = self.sink.wait_for(2)
        wrapper = [m for m in msgs if m.rcpts == [BOB]]
        notes = [m for m in msgs if m.rcpts == ["alice@example.com"]]
        self.assertEqual((len(wrapper), len(notes)), (1, 1), msgs)
        self.assertWrapper(wrapper[0], original)
        note = email.message_from_bytes(notes[0].data, policy=email.policy.default)
        self.assertIn("Отчёт ЗА", str(note["Subject"]))
        self.assertIsNotNone(notes[0].header("X-Mailseal-Loop"))
        text = note.get_body(("plain",)).get_content()
        m = re.search(r"\b([0-9A-Z]{4}(?:-[0-9A-Z]{4}){4}-[0-9A-Z]{2})\b", text)
        self.assertIsNotNone(m, text)
        self.assertNotIn(m.group(1).encode(), wrapper[0].data)
        passfile = os.path.join(self.dir, "random.txt")
        with open(passfile, "w") as f:
            f.write(m.group(1).lower().replace("-", " ") + "\n")
        self.assertOriginal(self.decrypt(wrapper[0].data, passfile), original)


if __name__ == "__main__":
    unittest.main()
