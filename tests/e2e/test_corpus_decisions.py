#!/usr/bin/env python3
"""test_corpus_decisions - the milter behind Postfix and `mailseal test --json`
decide alike: every message of a small built set (the shapes the e2e tests
send: plain, tagged subject, card number in a base64 attachment, card number
in HTML entities, inline PGP) and of ../shared/corpus (when present) goes
through one Postfix and one milter with one rule set, each rule adding its own
X-Decision-* header field; the header fields added at the sink must equal the
add_header actions `mailseal test` reports for that message, a reject must be
refused at SMTP and a quarantine held.  Messages are made CRLF first (Postfix
would rewrite bare LF), and the same bytes go to both.  Every message gets its
own recipient (alternately external and internal) to find it at the sink.
Needs root, MAILSEAL_MILTER and MAILSEAL_CLI."""

import base64
import json
import os
import subprocess
import unittest

from mailseal_e2e import E2ETestCase, crlf, make_message, make_multipart, wait_until

CLI = os.environ.get("MAILSEAL_CLI")
SOURCE = os.environ.get("MAILSEAL_SOURCE_DIR",
                        os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CORPUS = os.path.normpath(os.path.join(SOURCE, "..", "shared", "corpus"))
PREFIX = "X-Decision-"


def rule(name, cond):
    """rule - a rule adding X-Decision-NAME: yes when cond holds."""
    return {"name": name, "if": cond,
            "then": {"add_header": {"name": PREFIX + name, "value": "yes"}}}


RULES = [
    rule("Subject", {"subject_contains": ["invoice", "report", "test", "hello", "encrypted"]}),
    rule("Body", {"body_contains": ["please", "attached", "thanks"]}),
    rule("Pattern", {"body_matches": r"\b(card|order) ?#?\d{3,}"}),
    rule("Extension", {"attachment_extension_is": ["pdf", "gif", "txt", "tar.gz", "zip"]}),
    rule("Card", {"sensitive_info": [{"type": "credit_card"}]}),
    rule("External", {"recipient_scope": "external"}),
    rule("Encrypted", {"already_encrypted": True}),
]

CARD = "4556 7375 8689 9855"


def built_messages():
    """built_messages - (name, bytes) of the e2e shapes."""
    att = base64.encodebytes(("Card: %s\n" % CARD).encode()).decode().rstrip("\n")
    ent = "".join("&#%d;" % ord(c) if c.isdigit() else c for c in CARD)
    return [
        ("plain", make_message(subject="nothing", body="Just words.\n")),
        ("tagged", make_message(subject="Quarterly report [tag]", body="Please see order #1234.\n")),
        ("card-attachment", make_multipart("payment", [
            (["Content-Type: text/plain"], "See attached."),
            (["Content-Type: text/plain; name=pay.txt",
              "Content-Disposition: attachment; filename=pay.txt",
              "Content-Transfer-Encoding: base64"], att)])),
        ("card-html", make_multipart("payment", [
            (["Content-Type: text/html; charset=utf-8"], "<p>Card:&nbsp;%s</p>" % ent)])),
        ("inline-pgp", make_message(subject="encrypted", body="-----BEGIN PGP MESSAGE-----\n\n"
                                    "hQIOAwTJ0obO8knpEAgA\n-----END PGP MESSAGE-----\n")),
    ]


def corpus_messages():
    """corpus_messages - (name, bytes) of ../shared/corpus, [] when absent."""
    if not os.path.isdir(CORPUS):
        return []
    out = []
    for name in sorted(os.listdir(CORPUS)):
        if name.endswith(".eml"):
            with open(os.path.join(CORPUS, name), "rb") as f:
                out.append((name, crlf(f.read())))
    return out


class CorpusDecisions(E2ETestCase):

    needs_milter = True

    def dry_run(self, config, path, rcpt):
        """dry_run - `mailseal test --json` of the file at path to rcpt: the parsed object."""
        p = subprocess.run([CLI, "test", "-c", config, "--from", "alice@example.com",
                            "--to", rcpt, "--json", path], capture_output=True, timeout=60)
        self.assertEqual(p.returncode, 0, (path, p.stderr.decode("utf-8", "replace")))
        return json.loads(p.stdout.decode("utf-8"))

    def test_milter_and_mailseal_test_decide_alike_on_every_message(self):
        if not CLI or not os.access(CLI, os.X_OK):
            self.skipTest("MAILSEAL_CLI not set")
        milter = self.start_milter(rules=RULES)
        self.start_postfix(milter=milter)
        messages = built_messages() + corpus_messages()
        self.assertGreater(len(messages), 4)
        sent = []
        for i, (name, data) in enumerate(messages):
            rcpt = "m%d@%s" % (i, "partner.test" if i % 2 == 0 else "example.com")
            path = os.path.join(self.dir, "msg%d.eml" % i)
            with open(path, "wb") as f:
                f.write(data)
            want = self.dry_run(milter.config_path, path, rcpt)
            result = self.send(data, rcpts=[rcpt])
            sent.append((name, rcpt, want, result))

        delivered = [s for s in sent if s[3].accepted and not s[2]["quarantine"]]
        arrived = wait_until(lambda: {r for m in self.sink.messages() for r in m.rcpts}
                             >= {s[1] for s in delivered}, 60)
        by_rcpt = {r: m for m in self.sink.messages() for r in m.rcpts}
        self.assertTrue(arrived, sorted({s[1] for s in delivered} - set(by_rcpt)))
        checked = 0
        decided = {name: {d["name"] for d in want["action_details"]} for name, _, want, _ in sent}
        # the built messages have known decisions (so the comparison can fail)
        self.assertIn(PREFIX + "Card", decided["card-attachment"])
        self.assertIn(PREFIX + "Card", decided["card-html"])
        self.assertIn(PREFIX + "Encrypted", decided["inline-pgp"])
        self.assertIn(PREFIX + "Pattern", decided["tagged"])
        self.assertNotIn(PREFIX + "Card", decided["plain"])
        for name, rcpt, want, result in sent:
            if want["reject"]:
                self.assertTrue(result.rejected, (name, result, want["outcome"]))
                continue
            if not result.accepted:
                # refused by Postfix itself (e.g. its size limit), not by a decision
                self.assertFalse(result.tempfailed, (name, result))
                continue
            if want["quarantine"]:
                self.assertNotIn(rcpt, by_rcpt, name)
                continue
            got = sorted(h.split(":", 1)[0] for h in header_lines(by_rcpt[rcpt].data)
                         if h.lower().startswith(PREFIX.lower()))
            expected = sorted(d["name"] for d in want["action_details"]
                              if d["action"] == "add_header")
            self.assertEqual(got, expected, "%s (%s): %s" % (name, rcpt, want["matched"]))
            checked += 1
        self.assertGreater(checked, len(messages) // 2)
        print("compared %d of %d messages" % (checked, len(messages)))


def header_lines(data):
    """header_lines - the header fields of data (folded lines joined), as str."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    out = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] += line
        else:
            out.append(line)
    return out


if __name__ == "__main__":
    unittest.main(verbosity=2)
