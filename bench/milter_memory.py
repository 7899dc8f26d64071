#!/usr/bin/env python3
"""milter_memory - peak resident memory of mailseal-milter while it
processes large messages sent through a real, private Postfix (root
needed).

Two scenarios, each in a fresh milter process (VmHWM is a process's peak
over its life), for two configurations:
  one 50 MB message          (--big MB)
  20 messages of 5 MB sent at once, on 20 SMTP sessions (--count, --each)
  rules    bench_rules' 50 realistic rules that match nothing: the message
           is spooled, parsed and scanned (limits.scan_limit, 32 MB by
           default), then passed
  encrypt  every message encrypted for its recipient (passphrase slot);
           envelope.max_wrapper_size raised to 100 MB so that the 50 MB
           message is encrypted too
The spool keeps spool.memory_limit (1 MiB by default) of each message in
memory and the rest in a private temporary file, so the peak should not
grow with the message size.  Printed: the milter's VmHWM at start and
after each scenario, the time from the first DATA to the last reply, and
the issue's targets (50 MB: <= 32 MB; 20 x 5 MB: <= 64 MB).

usage: bench/milter_memory.py [--build DIR] [--big MB] [--count N] [--each MB]
                              [--configs rules,encrypt]
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import mailseal_e2e as e2e  # noqa: E402

RCPT = "bob@partner.test"
PASSPHRASE = "benchmark passphrase, not a secret"


def vm_hwm_kib(pid):
    """vm_hwm_kib - peak resident set of pid in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def big_message(mb, tag=""):
    """big_message - a message of about mb MiB: text and a base64 attachment."""
    text = (b"Quarterly figures, line of text that is long enough to matter.\r\n" * 8000)
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"
    n = max(0, (mb << 20) - len(text)) // len(line)
    return (b"From: alice@example.com\r\nTo: " + RCPT.encode() + b"\r\nSubject: big " +
            tag.encode() + b"\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\n" + text +
            b"--b1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + line * n + b"--b1--\r\n")


class Run:
    """One fresh milter + Postfix + sink for one scenario."""

    def __init__(self, args, work, config):
        self.args = args
        self.work = work
        self.config = config

    def rules_text(self):
        d = os.path.join(self.work, "gen")
        os.makedirs(d, exist_ok=True)
        subprocess.run([os.path.join(self.args.build, "bench", "bench_rules"), "-n", "50",
                        "-s", "10", "-r", "1", "-o", d], check=True, capture_output=True)
        with open(os.path.join(d, "rules.yaml")) as f:
            return f.read()

    def secrets(self):
        path = os.path.join(self.work, "secrets")
        if not os.path.exists(path):
            passfile = os.path.join(self.work, "pass.txt")
            with open(passfile, "w") as f:
                f.write(PASSPHRASE + "\n")
            subprocess.run([os.path.join(self.args.build, "cli", "mailseal"), "secret", "set",
                            "-f", path, "--passphrase-file", passfile, "@partner.test"],
                           check=True, capture_output=True, timeout=120)
        return path

    def start(self, name):
        d = os.path.join(self.work, name)
        self.sink = e2e.Sink(os.path.join(d, "sink"))
        self.sink.start()
        conf = {"milter": {"log_level": "notice"}}
        if self.config == "encrypt":
            conf["envelope"] = {"secrets_file": self.secrets(), "random_passphrase": "never",
                                "max_wrapper_size": "100MB"}
            rules = [{"name": "seal", "if": {"recipient_scope": "external"},
                      "then": {"encrypt": {}}}]
        else:
            rules = self.rules_text()
        self.milter = e2e.Milter(os.path.join(d, "milter"), rules=rules, config=conf,
                                 transport="unix",
                                 binary=os.path.join(self.args.build, "milter", "mailseal-milter"))
        self.milter.start()
        os.chmod(self.milter.socket_path, 0o666)
        self.postfix = e2e.Postfix(os.path.join(d, "postfix"), self.sink.port,
                                   milter=self.milter.postfix_socket)
        self.postfix.start()
        return vm_hwm_kib(self.milter.pid)

    def stop(self):
        self.postfix.stop()
        self.milter.stop()
        self.sink.stop()

    def send_all(self, messages):
        """send_all - every message on its own session, all at once; seconds."""
        results = [None] * len(messages)

        def one(i):
            results[i] = e2e.send(self.postfix.port, "alice@example.com", [RCPT], messages[i],
                                  timeout=600)
        threads = [threading.Thread(target=one, args=(i,)) for i in range(len(messages))]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        dt = time.monotonic() - t0
        bad = [r for r in results if not r.accepted]
        if bad:
            raise RuntimeError("%d message(s) not accepted: %r" % (len(bad), bad[0]))
        if not self.sink.wait_for(len(messages), timeout=600):
            raise RuntimeError("not every message reached the sink")
        if self.config == "encrypt":
            for m in self.sink.messages():
                if b"name=\"message.html\"" not in m.data:
                    raise RuntimeError("a message was not encrypted")
        return dt


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--big", type=int, default=50, help="MB of the single message")
    ap.add_argument("--count", type=int, default=20, help="concurrent messages")
    ap.add_argument("--each", type=int, default=5, help="MB of each concurrent message")
    ap.add_argument("--configs", default="rules,encrypt")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    if os.geteuid() != 0:
        print("milter_memory: needs root (a private Postfix instance)", file=sys.stderr)
        return 2
    # SIGTERM (timeout, kill) unwinds through the finally blocks: no stray Postfix or milter
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    base = "/dev/shm" if os.path.isdir("/dev/shm") else None
    work = tempfile.mkdtemp(prefix="mailseal-mem-bench-", dir=base)
    os.chmod(work, 0o755)
    scenarios = [("1 x %d MB" % args.big, [big_message(args.big)], 32),
                 ("%d x %d MB" % (args.count, args.each),
                  [big_message(args.each, "#%d" % i) for i in range(args.count)], 64)]
    rows = []
    try:
        for config in args.configs.split(","):
            for name, messages, limit in scenarios:
                run = Run(args, work, config)
                start = run.start("%s-%s" % (config, name.replace(" ", "")))
                try:
                    dt = run.send_all(messages)
                    peak = vm_hwm_kib(run.milter.pid)
                finally:
                    run.stop()
                rows.append((config, name, start, peak, dt, limit))
                print("  %-8s %-10s peak %6.1f MiB" % (config, name, peak / 1024.0),
                      file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("Milter peak resident memory (VmHWM), messages through a private Postfix")
    print("%-8s %-11s %10s %10s %9s  %s" % ("config", "messages", "at start", "peak",
                                            "time", "target"))
    for config, name, start, peak, dt, limit in rows:
        print("%-8s %-11s %7.1f MiB %6.1f MiB %7.1f s  <= %d MB %s" % (
            config, name, start / 1024.0, peak / 1024.0, dt, limit,
            "PASS" if peak <= limit * 1000 * 1000 / 1024 else "MISS"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
