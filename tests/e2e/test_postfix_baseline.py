#!/usr/bin/env python3
"""test_postfix_baseline - the test rig itself, without the gateway's rules:
a private Postfix relays to the sink byte for byte, and Postfix's milter
settings fail closed (451 4.7.1, nothing delivered) while no milter
listens.  The part that needs a listening milter uses the real daemon when
MAILSEAL_MILTER names it and is skipped otherwise."""

import os
import unittest

from mailseal_e2e import (E2ETestCase, free_port, make_message, milter_binary)


class PostfixBaseline(E2ETestCase):

    def test_relays_message_byte_identical(self):
        self.start_postfix()
        body = ("Plain line\n.one leading dot\n..two leading dots\n.\n"
                "8-bit: Grüße, naïve café\n\n  indented\ttab\nlast line\n")
        msg = make_message(subject="baseline relay", body=body,
                           extra_headers=[("X-Folded", "first part\n\tsecond part")])
        result = self.send(msg)
        self.assertAccepted(result)
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.mail_from, "alice@example.com")
        self.assertEqual(got.rcpts, ["bob@partner.test"])
        self.assertEqual(len(got.headers("Received")), 1)
        self.assertEqual(got.without_received(), msg)

    def test_relays_each_recipient_and_message(self):
        self.start_postfix()
        rcpts = ["bob@partner.test", "carol@example.com", "dave@other.test"]
        msg1 = make_message(subject="first", to=rcpts)
        msg2 = make_message(subject="second")
        self.assertAccepted(self.send(msg1, rcpts=rcpts))
        self.assertAccepted(self.send(msg2))
        got = self.sink.wait_for(2)
        by_subject = {m.header("Subject"): m for m in got}
        self.assertEqual(sorted(by_subject), ["first", "second"])
        self.assertEqual(sorted(r for m in got if m.header("Subject") == "first"
                                for r in m.rcpts), sorted(rcpts))
        self.assertEqual(by_subject["second"].without_received(), msg2)

    def test_milter_not_listening_tempfails_and_delivers_nothing(self):
        port = free_port()  # nothing listens here
        self.start_postfix(milter="inet:127.0.0.1:%d" % port)
        result = self.send(make_message(subject="milter down"))
        self.assertEqual(result.code, 451, result)
        self.assertTrue(result.text.startswith("4.7.1"), result)
        self.assertEqual(self.postfix.count("maildrop", "incoming", "active",
                                            "deferred", "hold"), 0)
        self.assertNothingDelivered()

        if not milter_binary():
            self.skipTest("second half (a milter now listens) needs MAILSEAL_MILTER")
        milter = self.start_milter(rules=[])
        self.postfix.set_milter(milter.postfix_socket)
        msg = make_message(subject="milter back")
        result = self.send(msg)
        self.assertAccepted(result)
        got = self.sink.wait_for(1)[0]
        self.assertEqual(got.header("Subject"), "milter back")


if __name__ == "__main__":
    unittest.main(verbosity=2)
