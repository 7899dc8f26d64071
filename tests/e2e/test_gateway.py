#!/usr/bin/env python3
"""test_gateway - the real mailseal-milter behind a real Postfix: each test
sends mail through Postfix and checks what the SMTP client was told, what
reached the sink, and what Postfix queued.  Needs root and MAILSEAL_MILTER."""

import base64
import email.header
import os
import pwd
import re
import resource
import signal
import time
import unittest

from mailseal_e2e import (E2ETestCase, make_message, make_multipart, open_session,
                          remove_headers, send, wait_until)

TAG_HEADER = ("X-Mailseal-Test", "tagged")

TAG_RULE = {
    "name": "tag-subject",
    "if": {"subject_contains": "[tag]"},
    "then": {"add_header": {"name": TAG_HEADER[0], "value": TAG_HEADER[1]}},
}


def header_rule(name, header, value, subject="[tag]"):
    """header_rule - a rule adding header: value when the subject contains subject."""
    return {"name": name, "if": {"subject_contains": subject},
            "then": {"add_header": {"name": header, "value": value}}}


LOOP = "X-Mailseal-Loop"


class Gateway(E2ETestCase):

    needs_milter = True

    def gateway(self, rules, **milter_kw):
        """gateway - the daemon with rules, and Postfix using it."""
        milter = self.start_milter(rules=rules, **milter_kw)
        self.start_postfix(milter=milter)
        return milter

    def assertOnlyHeadersAdded(self, original, got, names):
        """got (a SinkMessage) is original plus header fields called names
        (and the gateway's loop marker), nothing else changed."""
        self.assertEqual(remove_headers(got.without_received(), list(names) + [LOOP]),
                         original)

    # (a)
    def test_add_header_rule_adds_header(self):
        milter = self.gateway([TAG_RULE])
        msg = make_message(subject="Quarterly report [tag]", body="secret body words\n")
        result = self.send(msg)
        self.assertAccepted(result)
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.headers(TAG_HEADER[0]), [TAG_HEADER[1]])
        self.assertOnlyHeadersAdded(msg, got, [TAG_HEADER[0]])
        # the audit line carries Postfix's queue id; no content reaches the log
        log = milter.log()
        self.assertIsNotNone(result.queue_id)
        self.assertRegex(log, r"\] %s: rules matched=%s " % (result.queue_id, TAG_RULE["name"]))
        for content in ("Quarterly report", "secret body words", "alice@example.com", "bob@partner.test"):
            self.assertNotIn(content, log)
        # the pid file names the running daemon
        with open(milter.pid_file) as f:
            self.assertEqual(int(f.read()), milter.pid)

    # (b)
    def test_prepend_subject_rule_prefixes_subject(self):
        self.gateway([{"name": "prefix", "if": {"subject_contains": "[tag]"},
                       "then": {"prepend_subject": "[Secure] "}}])
        msg = make_message(subject="Quarterly report [tag]")
        self.assertAccepted(self.send(msg))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.headers("Subject"), ["[Secure] Quarterly report [tag]"])
        self.assertEqual(remove_headers(got.without_received(), ["Subject", LOOP]),
                         remove_headers(msg, ["Subject"]))

    # (c)
    def test_reject_rule_gives_client_exact_code_and_text(self):
        self.gateway([{"name": "block", "if": {"subject_contains": "[block]"},
                       "then": {"reject": {"code": 550, "status": "5.7.1",
                                           "message": "Blocked by the e2e policy"}}}])
        result = self.send(make_message(subject="please [block] this"))
        self.assertEqual(result.code, 550, result)
        self.assertEqual(result.text, "5.7.1 Blocked by the e2e policy")
        self.assertEqual(self.postfix.count("maildrop", "incoming", "active",
                                            "deferred", "hold"), 0)
        self.assertNothingDelivered()

    # (d)
    def test_quarantine_rule_holds_message_in_postfix(self):
        self.gateway([{"name": "hold", "if": {"subject_contains": "[hold]"},
                       "then": {"quarantine": "held for review"}}])
        result = self.send(make_message(subject="please [hold] this"))
        self.assertAccepted(result)
        self.assertIsNotNone(result.queue_id, result)
        held = wait_until(lambda: result.queue_id in self.postfix.queue_ids("hold"), 10)
        self.assertTrue(held, "%s not in the hold queue: %s" % (result.queue_id,
                                                               self.postfix.postqueue()))
        self.assertEqual(self.postfix.hold_count(), 1)
        self.assertNothingDelivered()
        self.assertEqual(self.postfix.queue_ids("hold"), [result.queue_id])

    # (e)
    def test_message_matching_no_rule_arrives_byte_identical(self):
        self.gateway([TAG_RULE])
        body = ("No tag here.\n.leading dot\n..two\n.\n8-bit: Grüße, naïve café\n"
                "\n  indented\ttab\n" + "x" * 900 + "\nlast line\n")
        msg = make_message(subject="Quarterly report", body=body,
                           extra_headers=[("X-Folded", "first part\n\tsecond part")])
        self.assertAccepted(self.send(msg))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.without_received(), msg)

    # (f)
    def test_recipient_scope_external_tags_only_mail_leaving_the_organization(self):
        self.gateway([{"name": "external", "if": {"recipient_scope": "external"},
                       "then": {"add_header": {"name": "X-External", "value": "yes"}}}])
        internal = make_message(subject="internal only", to=["bob@example.com"])
        self.assertAccepted(self.send(internal, rcpts=["bob@example.com"]))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.without_received(), internal)

        mixed_rcpts = ["bob@example.com", "carol@partner.test"]
        mixed = make_message(subject="mixed", to=mixed_rcpts)
        self.assertAccepted(self.send(mixed, rcpts=mixed_rcpts))
        got = self.sink.wait_for(2)[1]
        self.assertEqual(got.headers("X-External"), ["yes"])
        self.assertEqual(sorted(got.rcpts), sorted(mixed_rcpts))
        self.assertOnlyHeadersAdded(mixed, got, ["X-External"])

    # (g)
    def test_rfc2047_encoded_subject_is_matched_decoded(self):
        self.gateway([TAG_RULE])
        words = base64.b64encode("Réunion [tag] été".encode("utf-8")).decode("ascii")
        msg = make_message(subject="=?UTF-8?B?%s?=" % words)
        self.assertAccepted(self.send(msg))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.headers(TAG_HEADER[0]), [TAG_HEADER[1]])
        # the encoded tag split over two encoded words, Q encoding
        msg2 = make_message(subject="=?UTF-8?Q?R=C3=A9union_[t?= =?UTF-8?Q?ag]_=C3=A9t=C3=A9?=")
        self.assertAccepted(self.send(msg2))
        got2 = self.sink.wait_for(2)[1]
        self.assertEqual(got2.headers(TAG_HEADER[0]), [TAG_HEADER[1]])

    # (h)
    def test_reload_keeps_old_rules_on_broken_file_and_applies_good_file(self):
        milter = self.gateway([header_rule("rule-a", "X-A", "a")])
        self.assertAccepted(self.send(make_message(subject="one [tag]")))
        self.assertEqual(self.sink.wait_for(1)[0].headers("X-A"), ["a"])

        # broken YAML: "mapping values are not allowed" at line 3, column 25
        milter.write_rules('rules:\n  - name: rule-b\n    if: subject_contains: "[tag]"\n'
                           '    then:\n      add_header: {name: X-B, value: b}\n')
        report = milter.reload()
        self.assertIn("rules.yaml:3:25", report)
        self.assertTrue(milter.running())
        self.assertAccepted(self.send(make_message(subject="two [tag]")))
        got = self.sink.wait_for(2)[1]
        self.assertEqual(got.headers("X-A"), ["a"])
        self.assertEqual(got.headers("X-B"), [])

        milter.write_rules([header_rule("rule-b", "X-B", "b")])
        report = milter.reload()
        self.assertNotRegex(report, r"rules\.yaml:\d+:\d+")
        self.assertAccepted(self.send(make_message(subject="three [tag]")))
        got = self.sink.wait_for(3)[2]
        self.assertEqual(got.headers("X-B"), ["b"])
        self.assertEqual(got.headers("X-A"), [])
        self.assertEqual(milter.stop(), 0)

    # (i)
    def test_sigterm_finishes_message_in_flight_then_exits_zero(self):
        milter = self.gateway([TAG_RULE])
        session = open_session(self.postfix.port, "alice@example.com", ["bob@partner.test"])
        try:
            milter.signal(signal.SIGTERM)
            time.sleep(1.0)  # the daemon has seen the signal before DATA comes
            self.assertTrue(milter.running(), "daemon exited with a message in flight:\n"
                            + milter.log())
            msg = make_message(subject="in flight [tag]")
            code, resp = session.data(msg)
            self.assertEqual(code, 250, resp)
            session.quit()
        finally:
            session.close()
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.headers(TAG_HEADER[0]), [TAG_HEADER[1]])
        self.assertEqual(milter.wait(), 0, milter.log())

        result = self.send(make_message(subject="after stop [tag]"))
        self.assertTrue(result.tempfailed, result)
        self.assertEqual(self.sink.count(), 1)

    # (j)
    def test_daemon_started_as_root_runs_as_configured_user(self):
        user = pwd.getpwnam("mailseal")
        # started with core dumps allowed, so that turning them off shows
        core = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (core[1], core[1]))
        try:
            milter = self.gateway([TAG_RULE], config={"milter": {"user": "mailseal"}},
                                  create_secret=False)
        finally:
            resource.setrlimit(resource.RLIMIT_CORE, core)

        def ids():
            with open("/proc/%d/status" % milter.pid) as f:
                status = f.read()
            return {k: v.split() for k, v in re.findall(r"(?m)^(Uid|Gid|Groups):[ \t]*(.*)$", status)}

        wait_until(lambda: ids()["Uid"][0] == str(user.pw_uid), 5)
        found = ids()
        self.assertEqual(found["Uid"], [str(user.pw_uid)] * 4)
        self.assertEqual(found["Gid"], [str(user.pw_gid)] * 4)
        self.assertNotIn("0", found["Groups"])
        # no capability left (a switch to a non-root uid clears them)
        with open("/proc/%d/status" % milter.pid) as f:
            caps = dict(re.findall(r"(?m)^(Cap(?:Prm|Eff|Amb)):[ \t]*([0-9a-f]+)$", f.read()))
        self.assertEqual(caps, {"CapPrm": "0" * 16, "CapEff": "0" * 16, "CapAmb": "0" * 16})
        # core dumps off: RLIMIT_CORE 0/0, and not dumpable (the kernel then
        # gives the process's /proc files to root, not to the user it runs as)
        with open("/proc/%d/limits" % milter.pid) as f:
            core = re.search(r"(?m)^Max core file size +(\S+) +(\S+)", f.read())
        self.assertEqual(core.groups(), ("0", "0"))
        self.assertEqual(os.stat("/proc/%d/status" % milter.pid).st_uid, 0,
                         "daemon is dumpable")
        st = os.stat(milter.secret_path)
        self.assertEqual(st.st_mode & 0o027, 0, "loop secret writable by group or readable by others")

        self.assertAccepted(self.send(make_message(subject="as mailseal [tag]")))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.headers(TAG_HEADER[0]), [TAG_HEADER[1]])
        report = milter.reload()
        self.assertNotRegex(report, r"rules\.yaml:\d+:\d+")
        self.assertEqual(milter.stop(), 0)

    def test_unix_socket_of_service_user_is_reachable_by_postfix(self):
        # as packaging/postfix sets it up: socket owned by mailseal, mode
        # 0770 (umask 0007), user postfix in group mailseal
        milter = self.gateway([TAG_RULE], transport="unix",
                              config={"milter": {"user": "mailseal"}}, create_secret=False)
        st = os.stat(milter.socket_path)
        self.assertEqual(st.st_uid, pwd.getpwnam("mailseal").pw_uid)
        self.assertEqual(st.st_mode & 0o007, 0, "milter socket open to others")
        self.assertAccepted(self.send(make_message(subject="over unix [tag]")))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.headers(TAG_HEADER[0]), [TAG_HEADER[1]])
        self.assertEqual(milter.stop(), 0)

    # (k)
    def test_forged_loop_marker_is_removed_and_genuine_marker_passes_untouched(self):
        self.gateway([{"name": "secure", "if": {"subject_contains": "[loop]"},
                       "then": {"prepend_subject": "[Secure] ",
                                "add_header": {"name": TAG_HEADER[0], "value": TAG_HEADER[1]}}}])
        rcpts = ["bob@partner.test"]
        forged = "v=1; t=%d; s=%s" % (int(time.time()),
                                     base64.b64encode(os.urandom(32)).decode("ascii"))
        msg = make_message(subject="numbers [loop]", extra_headers=[(LOOP, forged)])
        self.assertAccepted(self.send(msg, rcpts=rcpts))
        first = self.sink.wait_for(1)[0]
        self.assertEqual(first.headers("Subject"), ["[Secure] numbers [loop]"])
        self.assertEqual(first.headers(TAG_HEADER[0]), [TAG_HEADER[1]])
        self.assertNotIn(forged, first.headers(LOOP))
        self.assertEqual(len(first.headers(LOOP)), 1, first.data)

        # the gateway's own output, sent through it again, passes untouched
        self.assertAccepted(self.send(first.data, rcpts=rcpts))
        second = self.sink.wait_for(2)[1]
        self.assertEqual(second.headers("Subject"), ["[Secure] numbers [loop]"])
        self.assertEqual(second.headers(TAG_HEADER[0]), [TAG_HEADER[1]])
        self.assertEqual(second.without_received(), first.without_received())

    # (l)
    def test_milter_down_tempfails_and_retry_succeeds_once_it_is_back(self):
        milter = self.gateway([TAG_RULE])
        self.assertEqual(milter.stop(), 0, milter.log())
        msg = make_message(subject="while down [tag]")
        result = self.send(msg)
        self.assertEqual(result.code, 451, result)
        self.assertTrue(result.text.startswith("4.7.1"), result)
        self.assertNothingDelivered(settle=1.0)

        milter.start()
        result = self.send(msg)
        self.assertAccepted(result)
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.headers(TAG_HEADER[0]), [TAG_HEADER[1]])

    # (m)
    def test_strip_subject_tag_remove_header_and_bcc(self):
        milter = self.gateway([{
            "name": "strip-encrypt-tag",
            "if": {"subject_contains": "[encrypt]"},
            "then": {"remove_subject_tag": ["[encrypt]", "[secure]"],
                     "remove_header": ["X-Internal-Id"],
                     "bcc": ["audit@example.com"],
                     "log": "encrypt tag stripped"}}])
        words = base64.b64encode("[ENCRYPT] Réunion été".encode("utf-8")).decode("ascii")
        msg = make_message(subject="=?UTF-8?B?%s?=" % words,
                           extra_headers=[("X-Internal-Id", "42"), ("X-Keep", "kept"),
                                          ("X-Internal-Id", "43")])
        result = self.send(msg, rcpts=["bob@partner.test"])
        self.assertAccepted(result)
        # the bcc address gets a copy: every recipient reaches the sink
        wanted = {"bob@partner.test", "audit@example.com"}
        arrived = wait_until(lambda: wanted <= {r for m in self.sink.messages() for r in m.rcpts}, 30)
        self.assertTrue(arrived, [m.rcpts for m in self.sink.messages()])
        for got in self.sink.messages():
            subject = str(email.header.make_header(email.header.decode_header(got.header("Subject"))))
            self.assertEqual(subject, "Réunion été")
            self.assertRegex(got.header("Subject"), r"^=\?UTF-8\?")
            self.assertEqual(got.headers("X-Internal-Id"), [])
            self.assertEqual(got.headers("X-Keep"), ["kept"])
            self.assertNotIn(b"audit@example.com", got.data)     # never in a header
            self.assertEqual(remove_headers(got.without_received(), ["Subject", LOOP]),
                             remove_headers(msg, ["Subject", "X-Internal-Id"]))
        self.assertRegex(milter.log(), r"%s: rule strip-encrypt-tag: log: encrypt tag stripped"
                         % result.queue_id)
        self.assertRegex(milter.log(), r"actions=remove_header,remove_subject_tag,bcc,log "
                         r"outcome=accept \(modified\)")

    # (n) sensitive_info through Postfix: the decoded text of every part
    CARD = "4556 7375 8689 9855"          # passes Luhn, not a published test number
    NOT_CARD = "4556 7375 8689 9856"      # fails Luhn
    CARD_RULE = {"name": "card-external",
                 "if": {"sensitive_info": [{"type": "credit_card"}],
                        "recipient_scope": "external"},
                 "then": {"add_header": {"name": "X-Card", "value": "yes"}}}

    def attachment_parts(self, number):
        """attachment_parts - a harmless body and a base64 text/plain attachment holding number."""
        att = base64.encodebytes(("Payment details\nCard: %s\nThanks\n" % number)
                                 .encode("ascii")).decode("ascii")
        return [(["Content-Type: text/plain; charset=utf-8"], "See the attached file."),
                (["Content-Type: text/plain; charset=us-ascii; name=pay.txt",
                  "Content-Disposition: attachment; filename=pay.txt",
                  "Content-Transfer-Encoding: base64"], att.rstrip("\n"))]

    def test_card_number_in_base64_attachment_to_external_recipient_gets_header(self):
        self.gateway([self.CARD_RULE])
        rcpts = ["bob@partner.test"]
        msg = make_multipart("payment", self.attachment_parts(self.CARD), to=rcpts)
        self.assertAccepted(self.send(msg, rcpts=rcpts))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.headers("X-Card"), ["yes"])
        self.assertOnlyHeadersAdded(msg, got, ["X-Card"])
        # a number failing the Luhn check is not a card
        bad = make_multipart("payment", self.attachment_parts(self.NOT_CARD), to=rcpts)
        self.assertAccepted(self.send(bad, rcpts=rcpts))
        got = self.sink.wait_for(2)[1]
        self.assertEqual(got.headers("X-Card"), [])

    def test_card_number_to_internal_recipients_only_gets_no_header(self):
        self.gateway([self.CARD_RULE])
        rcpts = ["bob@example.com", "carol@example.com"]
        msg = make_multipart("payment", self.attachment_parts(self.CARD), to=rcpts)
        self.assertAccepted(self.send(msg, rcpts=rcpts))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.headers("X-Card"), [])
        self.assertEqual(got.without_received(), msg)

    def test_card_number_written_with_html_entities_is_caught(self):
        self.gateway([self.CARD_RULE])
        rcpts = ["bob@partner.test"]
        entities = "".join("&#%d;" % ord(c) if c.isdigit() else c for c in self.CARD)
        html = "<html><body><p>Card:&nbsp;%s</p></body></html>" % entities
        msg = make_multipart("payment", [
            (["Content-Type: text/plain; charset=utf-8"], "Nothing to see."),
            (["Content-Type: text/html; charset=utf-8"], html)], to=rcpts)
        self.assertNotIn(self.CARD.encode("ascii"), msg)
        self.assertAccepted(self.send(msg, rcpts=rcpts))
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.headers("X-Card"), ["yes"])
        self.assertOnlyHeadersAdded(msg, got, ["X-Card"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
