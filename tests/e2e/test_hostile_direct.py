#!/usr/bin/env python3
"""test_hostile_direct - hostile mail straight into mailseal-milter over
the milter protocol (milter_proto.py), no MTA in between.

Each input of hostile_mail.py runs under several configurations, each in
a fresh milter (so its VmHWM is the peak of that one message):
  seal         a rule encrypts every test message (subject tag)
  word         a rule encrypts on a word of the body text (SECRET_WORD),
               which every input carries in a text part: found whatever
               the encoding around it, or left undecided by a limit
  pass         rules that match none of them (a subject tag, a body
               keyword), policy.on_incomplete: encrypt (the default)
  pass-reject  the same rules, policy.on_incomplete: reject
  seal-big / pass-big (the 100 MB body only)  limits.max_message_size
               and envelope.max_wrapper_size raised to 200 MB, so the
               100 MB body is parsed, scanned and encrypted
For each run the test checks: the milter answers within the case's time
limit; the outcome is the one docs/HOSTILE_MAIL.md documents (EXPECT
below); an encrypted body holds no plaintext; the milter's peak resident
memory stays under MEMORY_LIMIT; the process is still alive and handles
an ordinary message correctly afterwards; no sanitizer report.

Under AddressSanitizer (detected from the binary) the 100 MB body is
scaled down to 25 MB, the size limits that decide its outcome with it
(milter_config()), and memory is checked only against ASAN_MEMORY_LIMIT,
because ASan's quarantine and shadow pages count as resident memory.
Under valgrind (MAILSEAL_VALGRIND, scripts/valgrind-e2e.sh) the body is
scaled the same way, time limits are VALGRIND_SLOWDOWN times longer, and
resident memory is not checked (memcheck's own is in it; memcheck checks
the heap instead).

At the end a table of every run (outcome, seconds, peak memory) is
printed.  Needs root (the harness's Postfix check), MAILSEAL_MILTER and
MAILSEAL_CLI (to store the recipient's passphrase key)."""

import os
import signal
import subprocess
import sys
import time
import unittest

import hostile_mail as hm
import milter_proto as mp
from mailseal_e2e import E2ETestCase, Milter, milter_binary

CLI = os.environ.get("MAILSEAL_CLI")
MIB = 1 << 20
MEMORY_LIMIT = 64 * MIB            # VmHWM of the milter, whatever the message
ASAN_MEMORY_LIMIT = 1024 * MIB
VALGRIND_SLOWDOWN = 20              # memcheck runs the milter about that much slower
PASSPHRASE = "hostile mail test passphrase"

SEAL_RULES = [{"name": "seal", "if": {"subject_contains": hm.SUBJECT_TAG},
               "then": {"encrypt": {}}}]
WORD_RULES = [{"name": "word", "if": {"body_contains": hm.SECRET_WORD}, "then": {"encrypt": {}}}]
PASS_RULES = [{"name": "tag", "if": {"subject_contains": hm.PASS_TAG}, "then": {"encrypt": {}}},
              {"name": "word", "if": {"body_contains": hm.PASS_WORD}, "then": {"encrypt": {}}}]
BIG_LIMITS = {"limits": {"max_message_size": "200MB"},
              "envelope": {"max_wrapper_size": "200MB"}}

# configuration name -> (rules, extra config, outcome of the ordinary message)
CONFIGS = {
    "seal": (SEAL_RULES, {}, "encrypted"),
    "word": (WORD_RULES, {}, "encrypted"),
    "pass": (PASS_RULES, {}, "accept"),
    "pass-reject": (PASS_RULES, {"policy": {"on_incomplete": "reject"}}, "accept"),
    "seal-big": (SEAL_RULES, BIG_LIMITS, "encrypted"),
    "pass-big": (PASS_RULES, BIG_LIMITS, "accept"),
}

ENC = "encrypted"
ACC = "accept"
INCOMPLETE = "reject 550 5.7.1"      # on_incomplete: reject
TOO_BIG = "reject 552 5.3.4"         # the wrapper would exceed max_wrapper_size
CLOSED = "closed"                    # libmilter drops a packet over 65535 bytes

# case -> {configuration: documented outcome} (docs/HOSTILE_MAIL.md)
EXPECT = {
    "parts_10k": {"seal": ENC, "word": ENC, "pass": ENC, "pass-reject": INCOMPLETE},
    "nest_1000": {"seal": ENC, "word": ENC, "pass": ENC, "pass-reject": INCOMPLETE},
    "rfc822_1000": {"seal": ENC, "word": ENC, "pass": ENC, "pass-reject": INCOMPLETE},
    "no_boundary": {"seal": ENC, "word": ENC, "pass": ENC, "pass-reject": INCOMPLETE},
    "header_1mb": {"seal": CLOSED, "word": CLOSED, "pass": CLOSED},
    "headers_50k": {"seal": ENC, "word": ENC, "pass": ENC, "pass-reject": INCOMPLETE},
    "nul_bytes": {"seal": ENC, "word": ENC, "pass": ACC, "pass-reject": ACC},
    "bare_lf": {"seal": ENC, "word": ENC, "pass": ACC, "pass-reject": ACC},
    "bare_cr": {"seal": ENC, "word": ENC, "pass": ENC, "pass-reject": INCOMPLETE},
    "bad_base64": {"seal": ENC, "word": ENC, "pass": ACC, "pass-reject": ACC},
    "bad_qp": {"seal": ENC, "word": ENC, "pass": ACC, "pass-reject": ACC},
    "charsets": {"seal": ENC, "word": ENC, "pass": ACC, "pass-reject": ACC},
    "unclosed": {"seal": ENC, "word": ENC, "pass": ACC, "pass-reject": ACC},
    "rfc2047": {"seal": ENC, "word": ENC, "pass": ACC, "pass-reject": ACC},
    "body_100mb": {"seal": TOO_BIG, "word": TOO_BIG, "pass": TOO_BIG, "pass-reject": INCOMPLETE,
                   "seal-big": ENC, "pass-big": ENC},
}

# the inputs in which the word rules cannot see the word: it lies past
# max_mime_depth, in a multipart without parts, or past max_message_size
WORD_UNDECIDED = ("nest_1000", "rfc822_1000", "bare_cr", "no_boundary", "body_100mb")

# seconds a case may take from MAIL to the final reply
TIME_LIMIT = {"body_100mb": 60.0}
DEFAULT_TIME_LIMIT = 20.0

_ASAN = []


def under_asan():
    """under_asan - True when the milter binary is built with AddressSanitizer."""
    if not _ASAN:
        try:
            with open(milter_binary(), "rb") as f:
                _ASAN.append(b"__asan_init" in f.read())
        except (OSError, TypeError):
            _ASAN.append(False)
    return _ASAN[0]


def proc_memory(pid):
    """proc_memory - {"VmRSS": bytes, "VmHWM": bytes} of process pid."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(line.split()[1]) * 1024
    return out


def store_secrets(directory):
    """store_secrets - the key store in directory, with a passphrase key for
    the recipient's domain (made by `mailseal secret set` the first time);
    RuntimeError when the command fails."""
    path = os.path.join(directory, "secrets")
    if not os.path.exists(path):
        pf = os.path.join(directory, "pass.txt")
        with open(pf, "w") as f:
            f.write(PASSPHRASE + "\n")
        r = subprocess.run([CLI, "secret", "set", "-f", path, "--passphrase-file", pf,
                            "--iterations", "100000", "@" + hm.RCPT.split("@")[1]],
                           capture_output=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError("mailseal secret set: %s" % r.stderr.decode(errors="replace"))
    return path


def milter_config(config, secrets, name=None, scale=1.0):
    """milter_config - the milter's configuration (beyond the harness's)
    for configuration config: the recipient key store, random passphrases
    off, the configuration's extras.  When the input name is scaled down
    (scale < 1, the 100 MB body under ASan), every size limit that decides
    its outcome is scaled with it (max_message_size, scan_limit,
    max_wrapper_size), so the scaled body meets the same limits."""
    conf = {"milter": {"log_level": "info"},
            "envelope": {"secrets_file": secrets, "random_passphrase": "never"}}
    extra = CONFIGS[config][1]
    if name in SCALED and scale < 1.0:
        mb = lambda n: "%dMB" % max(1, int(n * scale))
        big = "limits" in extra and "max_message_size" in extra["limits"]
        extra = {"limits": {"max_message_size": mb(200 if big else 100), "scan_limit": mb(32)},
                 "envelope": {"max_wrapper_size": mb(200 if big else 25)},
                 "policy": dict(extra.get("policy", {}))}
    for k, v in extra.items():
        conf[k] = dict(conf.get(k, {}), **v)
    return conf


# the inputs whose size scales (under ASan), with the limits that matter to them
SCALED = ("body_100mb",)


def outcome_of(result):
    """outcome_of - a Result as one of the documented outcome strings."""
    if result.kind == "reject" and result.text:
        return "reject " + " ".join(result.text.split()[:2])
    if result.kind == "tempfail" and result.text:
        return "tempfail " + " ".join(result.text.split()[:2])
    return result.kind


TABLE = []


@unittest.skipUnless(CLI, "MAILSEAL_CLI not set")
class HostileDirect(E2ETestCase):

    needs_milter = True

    @classmethod
    def setUpClass(cls):
        cls.scale = 0.25 if under_asan() or Milter.valgrind() else 1.0

    @classmethod
    def tearDownClass(cls):
        if TABLE:
            lines = ["", "hostile mail, straight into the milter%s:" %
                     (" (ASan build: 100 MB scaled to 25 MB)" if under_asan() else ""),
                     "%-12s %-12s %-20s %8s %9s" % ("case", "config", "outcome", "seconds",
                                                    "VmHWM MiB")]
            for row in TABLE:
                lines.append("%-12s %-12s %-20s %8.2f %9.1f" % row)
            print("\n".join(lines), file=sys.stderr, flush=True)

    def secrets(self):
        """secrets - a key store with a passphrase key for @partner.test."""
        return store_secrets(self.dir)

    def fresh_milter(self, config, tag, name=None):
        """fresh_milter - a new milter for one run under configuration
        config (for input name, with its limits scaled: milter_config())."""
        conf = milter_config(config, self.secrets(), name, self.scale)
        return self.start_milter(rules=CONFIGS[config][0], name=tag, transport="unix",
                                 config=conf)

    def client(self, milter, timeout):
        """client - a negotiated, connected protocol client to milter."""
        c = mp.MilterClient.unix(milter.socket_path, timeout=timeout)
        c.negotiate()
        c.connect_info()
        return c

    def run_case(self, msg, milter, limit):
        """run_case - send msg; (outcome, Result or None, seconds)."""
        t0 = time.monotonic()
        try:
            with self.client(milter, limit) as c:
                self.assertTrue(c.protocol & mp.SMFIP_NR_HDR and c.protocol & mp.SMFIP_NR_BODY,
                                "the milter no longer asks for SMFIP_NR_HDR|SMFIP_NR_BODY")
                r = c.message(hm.SENDER, [hm.RCPT], msg.milter_headers(), msg.body_chunks())
        except (mp.MilterClosed, BrokenPipeError, ConnectionResetError):
            return CLOSED, None, time.monotonic() - t0
        return outcome_of(r), r, time.monotonic() - t0

    def check_run(self, name, config, milter):
        """check_run - one hostile message into milter (started under
        configuration config), then an ordinary one: outcome, time,
        memory, liveness."""
        expected = EXPECT[name][config]
        msg = hm.make(name, self.scale)
        limit = TIME_LIMIT.get(name, DEFAULT_TIME_LIMIT)
        if Milter.valgrind():
            limit *= VALGRIND_SLOWDOWN
        log_at = len(milter.log())
        got, result, seconds = self.run_case(msg, milter, limit)
        self.assertTrue(milter.running(), "milter died on %s/%s:\n%s"
                        % (name, config, milter.log()[-3000:]))
        mem = proc_memory(milter.pid)
        TABLE.append((name, config, got, seconds, mem["VmHWM"] / MIB))
        self.assertLess(seconds, limit, "%s/%s took %.1fs" % (name, config, seconds))
        self.assertEqual(got, expected, "%s/%s: %r\n%s" % (name, config, result,
                                                          milter.log()[-2000:]))
        if got == ENC and config == "word":
            # the word is found whatever the encoding around it, unless a
            # limit (or a multipart without parts) leaves it undecided
            decided = milter.log()[log_at:]
            self.assertIn("rules matched=-" if name in WORD_UNDECIDED else "rules matched=word",
                          decided, "%s/word" % name)
        if got == ENC:
            body = result.body()
            self.assertIn(b'id="mailseal-envelope"', body)
            self.assertNotIn(hm.SECRET, body)
            for _, value in result.headers_added():
                self.assertNotIn(hm.SECRET, value)
        elif got == ACC:
            self.assertEqual(result.actions, [], "%s/%s" % (name, config))
        # under valgrind the resident memory is valgrind's own as much as
        # the milter's: memcheck checks the heap there instead
        if not Milter.valgrind():
            limit_mem = ASAN_MEMORY_LIMIT if under_asan() else MEMORY_LIMIT
            self.assertLess(mem["VmHWM"], limit_mem, "%s/%s: peak %.1f MiB"
                            % (name, config, mem["VmHWM"] / MIB))
        # still alive and correct on an ordinary message
        normal = hm.normal()
        with self.client(milter, 30) as c:
            r = c.message(hm.SENDER, [hm.RCPT], normal.milter_headers(), normal.body_chunks())
        self.assertEqual(r.kind, CONFIGS[config][2], "ordinary message after %s/%s: %r"
                         % (name, config, r))
        self.assertTrue(milter.running())

    def stop_all(self, milters):
        """stop_all - SIGTERM every milter at once (libmilter takes about
        5 s to notice), then each must exit 0 without sanitizer reports."""
        for m in milters:
            if m.running():
                m.signal(signal.SIGTERM)
        for m in milters:
            self.assertEqual(m.wait(30), 0, m.log()[-2000:])
            self.assertEqual(m.sanitizer_reports(), [])

    def check_big(self, name):
        """check_big - a big input: a fresh milter per configuration, so
        its VmHWM is the peak of this message."""
        milters = []
        try:
            for config in EXPECT[name]:
                with self.subTest(config=config):
                    m = self.fresh_milter(config, "%s-%s" % (name, config), name)
                    milters.append(m)
                    self.check_run(name, config, m)
        finally:
            self.stop_all(milters)

    def test_small_inputs(self):
        """test_small_inputs - the small inputs one after another, one
        milter per configuration (its VmHWM is the peak so far)."""
        milters = []
        try:
            for config in ("seal", "word", "pass", "pass-reject"):
                m = self.fresh_milter(config, "small-%s" % config)
                milters.append(m)
                for name in SMALL:
                    with self.subTest(case=name, config=config):
                        self.check_run(name, config, m)
        finally:
            self.stop_all(milters)


# the inputs that get fresh milters; the rest share one per configuration
BIG = ("parts_10k", "nest_1000", "header_1mb", "headers_50k", "body_100mb")
SMALL = [n for n in EXPECT if n not in BIG]


def _make_test(name):
    def test(self):
        self.check_big(name)
    test.__doc__ = "test_%s - the big input %s in fresh milters" % (name, name)
    return test


for _name in BIG:
    setattr(HostileDirect, "test_" + _name, _make_test(_name))


if __name__ == "__main__":
    unittest.main()
