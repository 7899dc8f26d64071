#!/usr/bin/env python3
"""test_hostile_postfix - the hostile inputs of hostile_mail.py sent over
SMTP to a private Postfix with mailseal-milter, relaying to the sink.

For each configuration of test_hostile_direct.py (seal, word, pass,
pass-reject) one Postfix and one milter are started and every input is
sent as raw bytes (line ends as generated, dot-stuffed, nothing else
changed; message_size_limit is 200 MB in the harness, above the 100 MB
body).  Checked per input:
  - the SMTP reply is the documented one (EXPECT_POSTFIX below,
    docs/HOSTILE_MAIL.md): 250 when the milter accepts or encrypts, the
    milter's 5xx when it rejects;
  - at the sink: an encrypted message arrives only as the wrapper, never
    holding SECRET in clear; a rejected one never arrives; an accepted
    one arrives;
  - the milter is alive afterwards and an ordinary message gets through
    with the configuration's usual outcome; no sanitizer report.
Under AddressSanitizer the 100 MB body is scaled to 25 MB, and the size
limits with it (as in test_hostile_direct.py).  Needs root, MAILSEAL_MILTER and MAILSEAL_CLI."""

import os
import smtplib
import sys
import time
import unittest

import hostile_mail as hm
from mailseal_e2e import E2ETestCase, header_values
from test_hostile_direct import (ACC, CLI, CONFIGS, ENC, EXPECT, MIB, SCALED,
                                 milter_config, proc_memory, store_secrets, under_asan)

# Through Postfix the outcome is the direct one, except:
#   header_1mb  Postfix cuts the field (header_size_limit; about 60 KB of
#               it reach the milter and the sink here) before the milter
#               sees it, so libmilter never meets a packet over its 64 KiB
#               limit and no field exceeds the milter's max_header_length:
#               the rules decide on a complete model
EXPECT_POSTFIX = {name: {c: o for c, o in outs.items() if c in ("seal", "word", "pass", "pass-reject")}
                  for name, outs in EXPECT.items()}
EXPECT_POSTFIX["header_1mb"] = {"seal": ENC, "word": ENC, "pass": ACC, "pass-reject": ACC}

TABLE = []


def smtp_outcome(code, text):
    """smtp_outcome - an SMTP reply as a documented outcome string."""
    if code is None:
        return "no reply: %s" % text
    if 200 <= code < 300:
        return "250"
    return "%s %d %s" % ("reject" if code >= 500 else "tempfail", code, text.split()[0])


def dot_stuffed(chunks):
    """dot_stuffed - the DATA stream for chunks: a '.' that starts a line
    (after LF, or at the very start) doubled, then the final CRLF . CRLF
    (with a CRLF first when the message does not end in LF)."""
    at_line_start = True
    last = b"\n"
    for chunk in chunks:
        if not chunk:
            continue
        out = chunk.replace(b"\n.", b"\n..")
        if at_line_start and out[:1] == b".":
            out = b"." + out
        at_line_start = out[-1:] == b"\n"
        last = out[-1:]
        yield out
    yield (b"" if last == b"\n" else b"\r\n") + b".\r\n"


def send_raw(port, mail_from, rcpt, chunks, timeout=180):
    """send_raw - one SMTP transaction with the message bytes as given (no
    line-end conversion); (code, text) of the decisive reply."""
    try:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.mailseal-e2e.test",
                          timeout=timeout) as s:
            s.ehlo()
            code, resp = s.mail(mail_from, ["BODY=8BITMIME"])
            if code != 250:
                return code, resp.decode("utf-8", "replace")
            code, resp = s.rcpt(rcpt)
            if code not in (250, 251):
                return code, resp.decode("utf-8", "replace")
            s.putcmd("data")
            code, resp = s.getreply()
            if code != 354:
                return code, resp.decode("utf-8", "replace")
            pending = bytearray()
            for piece in dot_stuffed(chunks):
                pending += piece
                if len(pending) >= (1 << 20):
                    s.sock.sendall(pending)
                    pending.clear()
            s.sock.sendall(pending)
            code, resp = s.getreply()
            return code, resp.decode("utf-8", "replace")
    except (smtplib.SMTPException, OSError) as e:
        return None, "%s: %s" % (type(e).__name__, e)


@unittest.skipUnless(CLI, "MAILSEAL_CLI not set")
class HostilePostfix(E2ETestCase):

    needs_milter = True

    @classmethod
    def tearDownClass(cls):
        if TABLE:
            lines = ["", "hostile mail through Postfix%s:" %
                     (" (ASan build: 100 MB scaled to 25 MB)" if under_asan() else ""),
                     "%-12s %-12s %-22s %-10s %8s %9s" % ("case", "config", "SMTP", "sink",
                                                          "seconds", "VmHWM MiB")]
            for row in TABLE:
                lines.append("%-12s %-12s %-22s %-10s %8.2f %9.1f" % row)
            print("\n".join(lines), file=sys.stderr, flush=True)

    def scale(self):
        """scale - how much of the 100 MB body is sent (ASan: a quarter)."""
        return 0.25 if under_asan() else 1.0

    def secrets(self):
        """secrets - a key store with a passphrase key for the recipient's domain."""
        return store_secrets(self.dir)

    def gateway(self, config):
        """gateway - sink, milter (configuration config), Postfix; under
        ASan the size limits shrink with the 100 MB body (milter_config()),
        which leaves the outcome of the small inputs as it is."""
        conf = milter_config(config, self.secrets(), SCALED[0], self.scale())
        self.start_sink()
        milter = self.start_milter(rules=CONFIGS[config][0], transport="unix", config=conf)
        os.chmod(milter.socket_path, 0o666)      # Postfix's smtpd runs as postfix
        # 100 MB and some: the harness's 200 MB; milter_content_timeout for the big body
        self.start_postfix(milter=milter, extra={"message_size_limit": str(200 << 20),
                                                 "milter_content_timeout": "120s"})
        return milter

    def check_config(self, config):
        """check_config - every input through Postfix under config."""
        milter = self.gateway(config)
        scale = self.scale()
        sent = []                       # (name, message id, outcome)
        for name, outs in EXPECT_POSTFIX.items():
            msg = hm.make(name, scale)
            mid = dict(msg.headers)[b"Message-ID"].decode()
            t0 = time.monotonic()
            code, text = send_raw(self.postfix.port, hm.SENDER, hm.RCPT, msg.raw_chunks())
            seconds = time.monotonic() - t0
            got = smtp_outcome(code, text)
            expected = outs[config]
            want = "250" if expected in (ENC, ACC) else smtp_outcome(
                int(expected.split()[1]), expected.split(None, 2)[2])
            sent.append((name, mid, expected, got, seconds))
            with self.subTest(case=name):
                self.assertTrue(milter.running(), "milter died on %s:\n%s"
                                % (name, milter.log()[-3000:]))
                self.assertEqual(got, want, "%s/%s: %s %s" % (name, config, code, text))
        # an ordinary message after all of them
        normal = hm.normal()
        code, text = send_raw(self.postfix.port, hm.SENDER, hm.RCPT, normal.raw_chunks())
        self.assertEqual(code, 250, text)
        nmid = dict(normal.headers)[b"Message-ID"].decode()
        delivered = [s for s in sent if s[3] == "250"] + [("normal", nmid, CONFIGS[config][2],
                                                             "250", 0.0)]
        self.sink.wait_for(len(delivered), timeout=120)
        self.postfix.wait_queue_empty(60)
        time.sleep(1)
        by_id = {}
        for m in self.sink.messages():
            for v in header_values(m.data, "Message-ID"):
                by_id.setdefault(v.strip(), []).append(m)
        hwm = proc_memory(milter.pid)["VmHWM"] / MIB
        for name, mid, expected, got, seconds in sent + [delivered[-1]]:
            arrived = by_id.get(mid, [])
            with self.subTest(case=name, at="sink"):
                if expected == ENC:
                    self.assertEqual(len(arrived), 1, "%s: %d at the sink" % (name, len(arrived)))
                    self.assertNotIn(hm.SECRET, arrived[0].data,
                                     "%s/%s: plaintext at the sink" % (name, config))
                    self.assertIn(b'id="mailseal-envelope"', arrived[0].data)
                    state = "wrapper"
                elif expected == ACC:
                    self.assertEqual(len(arrived), 1, "%s: %d at the sink" % (name, len(arrived)))
                    state = "as sent"
                else:
                    self.assertEqual(arrived, [], "%s/%s: rejected, yet delivered" % (name, config))
                    state = "nothing"
            if name != "normal":
                TABLE.append((name, config, got, state, seconds, hwm))
        self.assertEqual(self.sink.count(), len(delivered))
        self.assertTrue(milter.running())

    def test_seal(self):
        """test_seal - a rule encrypts every input."""
        self.check_config("seal")

    def test_word(self):
        """test_word - a rule encrypts on a word of every input's body text."""
        self.check_config("word")

    def test_pass(self):
        """test_pass - rules that match no input; on_incomplete: encrypt."""
        self.check_config("pass")

    def test_pass_reject(self):
        """test_pass_reject - rules that match no input; on_incomplete: reject."""
        self.check_config("pass-reject")


if __name__ == "__main__":
    unittest.main()
