#!/usr/bin/env python3
"""test_faults - faults injected under load: no mail lost, none relayed in
plaintext that a rule selected for encryption.

    upstream Postfix --SMTP--> gateway Postfix --milter--> mailseal-milter
    (queues, retries                | milter_default_action = tempfail
     every 1-2 s, 4 at a time)      +--SMTP--> sink

1,000 messages are injected into the upstream instance (over its smtpd),
paced over 44 seconds; half carry "[seal]" in the subject, which a
rule encrypts.  Every message has a unique Message-ID, a unique plaintext
marker in its body, and, when it is to be encrypted, a secret marker that
must never reach the sink in clear.  Some are larger than the milter's
spool memory limit (they spill to spool.directory) and some larger than
the small file system mounted on the spool during one fault.  While they
are in flight, one fault after another:

  kill       SIGKILL to the milter, started again a few seconds later
  unwritable the spool directory made unwritable (mode 0500; the milter
             runs as the mailseal user), then restored
  full       a 1 MiB tmpfs mounted on the spool directory, then unmounted
  keys       the recipient key store and the loop secret made unreadable
             (mode 000) and a reload asked for: it must fail and keep the
             keys in force; restored and reloaded
  rules      a reload with a broken rules file (the old rules stay), then
             one with a good file (generation 2 of the rules)
  keys-gone  SIGKILL, the key store moved away: the milter must refuse to
             start (rather than start and refuse mail it cannot encrypt);
             put back and started

The two kills wait (up to 5 s) for a moment when the milter has a spool
file open, so a message is cut off in the middle.

Then the upstream queue is left to drain (deadline, then a flush; see
drain() for the flushes on the way), and the outcome is counted and
printed: delivered encrypted, delivered plain, still queued upstream,
lost, duplicates, and per fault what the milter logged and what the
gateway answered the upstream.  Asserted: each message is delivered
(encrypted if and only if it was selected, a plain one with its body
byte for byte) or still queued upstream; no secret marker appears in
clear anywhere at the sink; nothing is lost or bounced; a duplicate only
where the upstream log says SMTP allowed one (connection lost after the
end of data); each fault met mail in flight and was answered with a tempfail (451 4.7.1 from
Postfix for the kills, 451 4.3.0 from the milter for the spool faults);
while the rules file was broken the old rules held, and after the good
one the new ones; the two largest envelopes and one that arrived during
each fault decrypt to the message that was sent.

Needs root (Postfix, mount), MAILSEAL_MILTER and MAILSEAL_CLI.  Under a
sanitizer build (detected from the binary) or valgrind the waits are
scaled, not the message count.  MAILSEAL_FAULTS_SCALE overrides the factor.
"""

import os
import random
import re
import shutil
import signal
import smtplib
import subprocess
import threading
import time
import unittest

from mailseal_e2e import (E2ETestCase, Milter, SendingPostfix, crlf, header_values,
                          split_message, wait_until)

CLI = os.environ.get("MAILSEAL_CLI")
PASSPHRASE = "fault injection passphrase"
MESSAGES = 1000
INJECT_SECONDS = 44           # the injection is paced over this long
MEMORY_LIMIT = 32 * 1024      # spool.memory_limit: larger messages spill to the spool
BIG_SIZE = 1536 * 1024        # larger than the tmpfs of the "full" fault
TMPFS_SIZE = "1m"
RCPT = "bob@partner.test"
SENDER = "alice@example.com"
DRAIN_SECONDS = 150           # normal build; scaled by time_scale()
MIN_FAULT = 2.5               # seconds a fault lasts at least, once in place
FLUSH_IDLE = 15               # seconds without progress upstream before a flush (drain)

# (start, end) in seconds after the injection began
SCHEDULE = (
    ("kill", 4, 7),
    ("unwritable", 9, 14),
    ("full", 16, 22),
    ("keys", 24, 28),
    ("rules", 30, 34),
    ("keys-gone", 36, 39),
)


def rules_gen(gen):
    """rules_gen - the rules of generation gen: encrypt "[seal]" mail, stamp
    every message with X-Fault-Rules: gen-N so the generation shows at the sink."""
    return [
        {"name": "seal", "if": {"subject_contains": "[seal]"},
         "then": {"encrypt": {}, "add_header": {"name": "X-Sealed", "value": "yes"}}},
        {"name": "stamp", "if": {"recipient_scope": "external"},
         "then": {"add_header": {"name": "X-Fault-Rules", "value": "gen-%d" % gen}}},
    ]


# well-formed until the seal rule, which is cut off: a loader that kept the
# part it could read would stamp gen-broken and encrypt nothing
BROKEN_RULES = ('rules:\n'
                '  - name: stamp\n'
                '    if: {recipient_scope: external}\n'
                '    then: {add_header: {name: X-Fault-Rules, value: gen-broken}}\n'
                '  - name: seal\n'
                '    if: {subject_contains: "[seal]"\n'
                '    then: {encrypt: {}\n')


def time_scale():
    """time_scale - how much slower the daemon under test is: 6 under
    valgrind (MAILSEAL_VALGRIND), 3 for a sanitizer build, 1 otherwise
    (MAILSEAL_FAULTS_SCALE overrides)."""
    if os.environ.get("MAILSEAL_FAULTS_SCALE"):
        return float(os.environ["MAILSEAL_FAULTS_SCALE"])
    if getattr(Milter, "valgrind", lambda: False)():
        return 6.0
    try:
        with open(os.environ.get("MAILSEAL_MILTER", ""), "rb") as f:
            return 3.0 if b"__asan_init" in f.read() else 1.0
    except OSError:
        return 1.0


class Load:
    """The 1,000 messages: Message-ID fault-NNNN-RUN@example.com, a plaintext
    marker PLAIN-<hex> in every body and a secret marker SECRET-<hex> in
    the bodies of the ones to encrypt ("[seal]" in the subject)."""

    SECRET_RE = re.compile(rb"SECRET-[0-9a-f]{24}")
    MSGID_RE = re.compile(r"fault-(\d{4})-[0-9a-f]{8}@example\.com")

    def __init__(self, count, seed):
        rnd = random.Random(seed)
        self.run = "%08x" % rnd.getrandbits(32)
        self.items = []
        for i in range(count):
            seal = i % 2 == 0
            if i % 25 == 7:
                size = BIG_SIZE + rnd.randrange(64 * 1024)
            else:
                size = rnd.randrange(1024, 2 * MEMORY_LIMIT)
            self.items.append(self._make(i, seal, size, rnd))

    def _make(self, i, seal, size, rnd):
        """_make - one message: {i, seal, msgid, plain, secret, data}."""
        msgid = "fault-%04d-%s@example.com" % (i, self.run)
        plain = "PLAIN-%024x" % rnd.getrandbits(96)
        secret = "SECRET-%024x" % rnd.getrandbits(96) if seal else None
        head = ("From: <%s>\nTo: <%s>\nSubject: load %d%s\n"
                "Date: Tue, 25 Nov 2025 10:00:00 +0000\nMessage-ID: <%s>\n"
                "MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\n"
                % (SENDER, RCPT, i, " [seal]" if seal else "", msgid))
        top = "Message %d. Marker %s.\n" % (i, plain)
        if secret:
            top += "Secret figures: %s.\n" % secret
        line = "%x" % rnd.getrandbits(304) + "\n"          # 76 hex digits
        filler = line * max(0, (size - len(head) - 2 * len(top)) // len(line))
        data = crlf(head + top + filler + top)
        return {"i": i, "seal": seal, "msgid": msgid, "plain": plain.encode(),
                "secret": secret.encode() if secret else None, "data": data}


@unittest.skipUnless(CLI, "MAILSEAL_CLI not set")
class Faults(E2ETestCase):

    needs_milter = True

    # -- set-up

    def setUp(self):
        super().setUp()
        self.scale = time_scale()
        self.mounted = False
        self.addCleanup(self._unmount)

    def _unmount(self):
        """_unmount - take the tmpfs off the spool if a failure left it there."""
        if self.mounted:
            subprocess.run(["umount", "-l", self.milter.spool_dir], capture_output=True)
            self.mounted = False

    def make_secrets(self):
        """make_secrets - a key store with a passphrase for @partner.test,
        readable by the mailseal group (root:mailseal 0640); its path."""
        path = os.path.join(self.dir, "secrets")
        self.passfile = os.path.join(self.dir, "pass.txt")
        with open(self.passfile, "w") as f:
            f.write(PASSPHRASE + "\n")
        r = subprocess.run([CLI, "secret", "set", "-f", path, "--passphrase-file",
                            self.passfile, "--iterations", "100000", "@partner.test"],
                           capture_output=True, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        shutil.chown(path, "root", "mailseal")
        os.chmod(path, 0o640)
        return path

    def build(self):
        """build - sink, milter (as mailseal), gateway Postfix, upstream Postfix."""
        self.secrets = self.make_secrets()
        self.start_sink()
        self.arrived = {}       # sink index -> time.monotonic() of arrival
        self.sink.on_message = lambda msg: self.arrived.__setitem__(msg.index, time.monotonic())
        self.milter = self.start_milter(
            rules=rules_gen(1),
            config={"milter": {"user": "mailseal", "log_level": "info",
                               "shutdown_timeout": 10},
                    "spool": {"memory_limit": "%dKB" % (MEMORY_LIMIT // 1024)},
                    "envelope": {"secrets_file": self.secrets, "random_passphrase": "never"}})
        self.gateway = self.start_postfix(milter=self.milter)
        self.assertEqual(self.gateway.main_cf()["milter_default_action"], "tempfail")
        self.upstream = SendingPostfix(os.path.join(self.dir, "upstream"), self.gateway.port,
                                       retry=1, concurrency=4)
        self.upstream.start()
        self.addCleanup(self.upstream.stop)

    # -- load

    def inject(self, load, errors):
        """inject - submit every message to the upstream instance over SMTP,
        paced over INJECT_SECONDS; failures go to errors."""
        t0 = time.monotonic()
        s = None
        for n, m in enumerate(load.items):
            delay = t0 + INJECT_SECONDS * n / len(load.items) - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            for attempt in range(3):
                try:
                    if s is None:
                        s = smtplib.SMTP("127.0.0.1", self.upstream.port, timeout=60)
                        s.ehlo("client.mailseal-e2e.test")
                    s.sendmail(SENDER, [RCPT], m["data"])
                    break
                except (smtplib.SMTPException, OSError) as e:
                    if s is not None:
                        s.close()
                    s = None
                    if attempt == 2:
                        errors.append("message %d not injected: %s" % (m["i"], e))
        if s is not None:
            try:
                s.quit()
            except (smtplib.SMTPException, OSError):
                pass

    # -- faults

    def log_mark(self):
        """log_mark - where the milter's and the upstream's logs end now."""
        return (len(self.milter.log()), len(self.upstream.maillog()))

    MILTER_LINE = re.compile(r"^mailseal-milter\[(\w+)\] (\S+): (.*)$")
    UPSTREAM_REPLY = re.compile(r"said: (\d\d\d \d\.\d\.\d) .*\(in reply to (.*?) command\)")

    def answers(self, since):
        """answers - what happened since a log_mark, counted: the milter's
        lines other than per-message ones (paths cut to their last part,
        pids dropped) and its outcomes; the gateway's refusals as the
        upstream received them (reply code, in reply to which command) and
        the messages it took."""
        out = {}

        def count(key):
            out[key] = out.get(key, 0) + 1

        for line in self.milter.log()[since[0]:].splitlines():
            m = self.MILTER_LINE.match(line)
            if m is None:
                continue
            level, text = m.group(1), m.group(3)
            if "rules matched" in text:
                count("milter: outcome " + text.rsplit("outcome=", 1)[-1])
            elif level != "info":
                text = re.sub(r"/\S*/([^/\s]+)", r"\1", text)
                text = re.sub(r"pid \d+", "pid N", text)
                count("milter %s: %s" % (level, text[:140]))
        ulog = self.upstream.maillog()[since[1]:]
        for code, stage in self.UPSTREAM_REPLY.findall(ulog):
            count("gateway answered %s to %s" % (code, stage))
        out["gateway took (upstream status=sent)"] = ulog.count("status=sent")
        return out

    def fault(self, name, phase):
        """fault - start (phase "on") or end ("off") fault name."""
        m = self.milter
        if name == "kill":
            if phase == "on":
                self.kill_mid_message("kill")
            else:
                m.start(timeout=30 * self.scale)
        elif name == "unwritable":
            os.chmod(m.spool_dir, 0o500 if phase == "on" else 0o700)
        elif name == "full":
            if phase == "on":
                r = subprocess.run(["mount", "-t", "tmpfs", "-o",
                                    "size=%s,mode=0700,uid=%d,gid=%d"
                                    % (TMPFS_SIZE, self.uid, self.gid),
                                    "mailseal-faults", m.spool_dir], capture_output=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.mounted = True
            else:
                r = subprocess.run(["umount", "-l", m.spool_dir], capture_output=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.mounted = False
        elif name == "keys":
            for path in (self.secrets, m.secret_path):
                os.chmod(path, 0o000 if phase == "on" else 0o640)
            text = m.reload(timeout=15 * self.scale)
            want = "reload failed" if phase == "on" else "in force"
            self.assertIn(want, text)
            self.notes.append("keys %s: reload said: %s" % (phase, self._reload_line(text)))
        elif name == "keys-gone":
            if phase == "on":
                self.kill_mid_message("keys-gone")
                os.rename(self.secrets, self.secrets + ".away")
                m.start(wait=False)
                rc = m.wait(30 * self.scale)        # SIGKILL if it does not exit
                self.assertNotIn(rc, (0, -9), "the milter started without its key store")
                self.notes.append("keys-gone: start without the key store exited %d" % rc)
            else:
                os.rename(self.secrets + ".away", self.secrets)
                m.start(timeout=30 * self.scale)
        elif name == "rules":
            if phase == "on":
                m.write_rules(BROKEN_RULES)
            else:
                m.write_rules(rules_gen(2))
            self.reloaded[phase] = time.monotonic()
            text = m.reload(timeout=15 * self.scale)
            self.assertIn("reload failed" if phase == "on" else "in force", text)
            self.notes.append("rules %s: reload said: %s" % (phase, self._reload_line(text)))

    def spooling(self):
        """spooling - how many spool files the milter has open: messages
        larger than the memory limit that it is taking in right now."""
        fds = "/proc/%d/fd" % self.milter.pid
        n = 0
        for fd in os.listdir(fds) if os.path.isdir(fds) else ():
            try:
                n += os.readlink(os.path.join(fds, fd)).startswith(self.milter.spool_dir + "/")
            except OSError:
                pass
        return n

    def frozen_spooling(self):
        """frozen_spooling - spooling() of the milter stopped (SIGSTOP, every
        thread seen stopped): a spool file open then means a message whose
        end-of-message reply was not sent yet, as the milter closes it
        before answering. Leaves the milter stopped when one is open."""
        pid = self.milter.pid
        os.kill(pid, signal.SIGSTOP)

        def stopped():
            try:
                tasks = os.listdir("/proc/%d/task" % pid)
                for t in tasks:
                    with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
                        if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t", "Z", "X"):
                            return False
            except OSError:
                return True         # gone: nothing to wait for
            return True

        wait_until(stopped, 5, 0.001)
        n = self.spooling()
        if not n:
            os.kill(pid, signal.SIGCONT)
        return n

    def kill_mid_message(self, name):
        """kill_mid_message - SIGKILL to the milter while it takes in a
        message (a spool file open; waits up to 5 s for one). The milter is
        stopped while its open files are looked at, so what is seen is what
        the kill meets: polling a running milter could see a message that
        is answered before the kill lands."""
        n = wait_until(lambda: self.spooling() and self.frozen_spooling(), 5, 0.002)
        self.milter.kill()
        self.killed_spooling[name] = n
        self.notes.append("%s: SIGKILL with %d message(s) spooling, exit status %s"
                          % (name, n, self.milter.returncode))

    @staticmethod
    def _reload_line(text):
        """_reload_line - the reload's result line of a log excerpt."""
        m = re.search(r"[^\n]*(reload failed|in force)[^\n]*", text)
        return m.group(0).strip() if m else text.strip()[-200:]

    def run_faults(self, t0):
        """run_faults - the SCHEDULE, timed from t0 (a fault that took long
        to put in place still lasts MIN_FAULT, later ones start late);
        {fault: answers}."""
        seen = {}
        for name, start, end in SCHEDULE:
            time.sleep(max(0.0, t0 + start - time.monotonic()))
            mark = self.log_mark()
            self.fault(name, "on")
            on = time.monotonic()
            time.sleep(max(0.0, t0 + end - time.monotonic(), on + MIN_FAULT - time.monotonic()))
            self.windows[name] = (on, time.monotonic())
            self.fault(name, "off")
            time.sleep(1.0)          # replies to messages taken during the fault
            seen[name] = self.answers(mark)
        return seen

    # -- outcome

    def drained(self):
        """drained - True when neither Postfix has mail waiting for delivery
        (held mail never leaves by itself: it counts as queued)."""
        return self.upstream.pending_count() + self.gateway.pending_count() == 0

    def drain(self, deadline):
        """drain - wait until drained() or deadline seconds pass; the upstream
        queue is flushed whenever nothing left it for FLUSH_IDLE seconds.
        Postfix with a 1 s backoff can take a deferred message back while
        its smtp process still holds the file's lock: qmgr logs "skipped,
        still being delivered", puts it into the incoming queue for 60 s,
        and after that only a new arrival or a flush makes it look again."""
        end = time.monotonic() + deadline
        last, flushes = None, 0
        while time.monotonic() < end and not self.drained():
            pending = self.upstream.pending_count()
            if pending != last:
                last, idle = pending, time.monotonic() + FLUSH_IDLE
            elif time.monotonic() > idle:
                self.upstream.flush()
                flushes += 1
                idle = time.monotonic() + FLUSH_IDLE
            time.sleep(0.5)
        stuck = len(re.findall(r"skipped, still being delivered", self.upstream.maillog()))
        self.notes.append("drain: %d flush(es) of the upstream queue; upstream qmgr "
                          "\"skipped, still being delivered\" %d time(s)" % (flushes, stuck))
        if not self.drained():
            print("\nnot drained after %gs; upstream queue:\n%s\ngateway queue:\n%s"
                  % (deadline, self.upstream.postqueue()[-3000:],
                     self.gateway.postqueue()[-3000:]), flush=True)

    def classify(self, load):
        """classify - the sink's messages sorted out: (by index: [SinkMessage],
        others, secrets seen in clear)."""
        by_i, others, leaked = {}, [], set()
        for msg in self.sink.messages():
            leaked.update(Load.SECRET_RE.findall(msg.data))
            ids = header_values(msg.data, "Message-ID")
            m = Load.MSGID_RE.search(ids[0]) if len(ids) == 1 else None
            if m is None or m.group(0) != load.items[int(m.group(1))]["msgid"]:
                others.append(msg)
                continue
            by_i.setdefault(int(m.group(1)), []).append(msg)
        return by_i, others, leaked

    def decrypt(self, data):
        """decrypt - mailseal decrypt of an envelope at the sink; the plaintext."""
        path = os.path.join(self.dir, "envelope.eml")
        with open(path, "wb") as f:
            f.write(data)
        r = subprocess.run([CLI, "decrypt", "--passphrase-file", self.passfile, path],
                           capture_output=True, timeout=120 * self.scale)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def test_faults_under_load_lose_nothing_and_leak_nothing(self):
        import pwd
        pw = pwd.getpwnam("mailseal")
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        self.notes = []
        self.windows = {}        # fault -> (on, off), time.monotonic()
        self.reloaded = {}       # "on"/"off" -> when the rules reload was asked for
        self.killed_spooling = {}
        load = Load(MESSAGES, seed=0x5ea1)
        self.build()
        errors = []
        t0 = time.monotonic()
        injector = threading.Thread(target=self.inject, args=(load, errors), daemon=True)
        injector.start()
        seen = self.run_faults(t0)
        injector.join(INJECT_SECONDS * 3)
        self.assertFalse(injector.is_alive(), "injection did not finish")
        self.assertEqual(errors, [])
        injected = time.monotonic()

        # drain: the upstream queue empty (or the deadline), then a flush
        self.drain(min(DRAIN_SECONDS * self.scale, 600))    # ctest's TIMEOUT is 900
        self.upstream.flush()
        wait_until(self.drained, 10 * self.scale, 0.5)
        time.sleep(2)
        drained = time.monotonic()

        by_i, others, leaked = self.classify(load)
        queued_qids = self.upstream.queued_ids()
        qid_msgid = self.upstream.message_ids()
        queued = {}
        for qid, queue in queued_qids.items():
            m = Load.MSGID_RE.search(qid_msgid.get(qid, ""))
            queued[int(m.group(1)) if m else qid] = queue
        twice = {qid_msgid.get(q, "") for q in self.upstream.sent_maybe_twice()}

        enc, plain, wrong, lost, dups, bad_dups = [], [], [], [], [], []
        for item in load.items:
            i = item["i"]
            got = by_i.get(i, [])
            if not got:
                if i not in queued:
                    lost.append(i)
                continue
            if len(got) > 1:
                dups.append(i)
                if item["msgid"] not in twice:
                    bad_dups.append(i)
            for msg in got:
                sealed = (b'id="mailseal-envelope"' in msg.data
                          and item["plain"] not in msg.data)
                _, body = split_message(msg.data)
                clear = body == split_message(item["data"])[1]
                (enc if sealed else plain).append(i)
                if sealed != item["seal"] or (not sealed and not clear):
                    wrong.append(i)
                gens = msg.headers("X-Fault-Rules")
                if len(gens) != 1 or gens[0] not in ("gen-1", "gen-2"):
                    wrong.append(i)
        secrets = {item["secret"] for item in load.items if item["secret"]}
        leaked &= secrets

        print("\nfaults under load: %d messages (%d to encrypt), time scale %g, "
              "injection %.0f s, drain %.0f s"
              % (len(load.items), len(secrets), self.scale, injected - t0, drained - injected))
        for name, start, end in SCHEDULE:
            print("  %s (%d-%d s):" % (name, start, end))
            for key, n in sorted(seen[name].items()):
                print("      %5d  %s" % (n, key))
        for note in self.notes:
            print("  " + note)
        print("  delivered encrypted: %d" % len(set(enc)))
        print("  delivered plain:     %d" % len(set(plain)))
        print("  queued upstream:     %d %s" % (len(queued), sorted(
            set(queued.values())) if queued else ""))
        print("  queued at gateway:   %d" % self.gateway.pending_count())
        print("  lost:                %d %s" % (len(lost), lost[:20]))
        print("  duplicates:          %d %s (allowed by SMTP: %d)"
              % (len(dups), dups[:20], len(dups) - len(bad_dups)))
        print("  wrong (encrypted != selected, altered, or rules generation): %d %s"
              % (len(set(wrong)), sorted(set(wrong))[:20]))
        print("  secret markers in clear at the sink: %d" % len(leaked))
        print("  other messages at the sink (bounces, ...): %d" % len(others), flush=True)

        self.assertEqual(len(leaked), 0, "secret markers in clear at the sink")
        self.assertEqual(lost, [], "messages lost")
        self.assertEqual(sorted(set(wrong)), [], "delivered wrongly")
        self.assertEqual(bad_dups, [], "duplicates SMTP does not explain")
        self.assertEqual(others, [], "unexpected messages (bounces?) at the sink")
        self.assertEqual(self.gateway.pending_count(), 0)
        self.assertEqual(len(set(enc)) + len(set(plain)) + len(queued), len(load.items))
        # every fault was met by messages in flight, and answered with a tempfail
        for name in ("unwritable", "full"):
            self.assertTrue(any(k.startswith("milter error: spool write") for k in seen[name]),
                            "%s: no spool write fault seen: %r" % (name, seen[name]))
            self.assertIn("gateway answered 451 4.3.0 to end of DATA", seen[name])
        for name in ("kill", "keys-gone"):
            self.assertTrue(any(k.startswith("gateway answered 451 4.7.1") for k in seen[name]),
                            "%s: the gateway tempfailed nothing: %r" % (name, seen[name]))
        for name, n in self.killed_spooling.items():
            if n:       # the message the milter was taking in when killed
                self.assertIn("gateway answered 451 4.7.1 to end of DATA", seen[name],
                              "%s: the message being taken in was not tempfailed" % name)
        # while the broken rules file was there the old rules (gen-1) held;
        # well after the good one was loaded every message has gen-2
        broken, good = self.reloaded["on"], self.reloaded["off"]
        settle = 3           # from the milter through the gateway's queue to the sink
        gens = {"during": {}, "after": {}}
        for i, msgs in by_i.items():
            for msg in msgs:
                at = self.arrived.get(msg.index, 0)
                when = ("during" if broken + 1 < at < good else
                        "after" if at > good + settle else None)
                if when:
                    gen = (msg.headers("X-Fault-Rules") or ["none"])[0]
                    gens[when][gen] = gens[when].get(gen, 0) + 1
        print("  rules generation of messages arriving while the rules file was broken: %r; "
              "%gs after the good reload: %r" % (gens["during"], settle, gens["after"]))
        self.assertEqual(set(gens["during"]), {"gen-1"})
        self.assertLessEqual(set(gens["after"]), {"gen-2"})
        # envelopes open to what was sent: the two largest, and one that
        # arrived during each fault
        sample = sorted(set(enc), key=lambda i: -len(load.items[i]["data"]))[:2]
        for name, _, _ in SCHEDULE:
            on, off = self.windows[name]
            during = [i for i in sorted(set(enc))
                      if on < self.arrived.get(by_i[i][0].index, 0) < off + 1]
            if not during and Milter.valgrind():
                # memcheck's slow restart can leave a short window (keys-gone)
                # without an arrival; nothing else depends on one
                print("  under valgrind no encrypted message arrived during %s" % name)
                continue
            self.assertTrue(during, "no encrypted message arrived during %s" % name)
            sample.append(during[len(during) // 2])
        for i in sample:
            opened = self.decrypt(by_i[i][0].data)
            self.assertEqual(split_message(opened)[1], split_message(load.items[i]["data"])[1])
            self.assertEqual(header_values(opened, "Message-ID"),
                             ["<%s>" % load.items[i]["msgid"]])


if __name__ == "__main__":
    unittest.main()
