#!/usr/bin/env python3
"""milter_memory - peak resident memory of mailseal-milter while it checks
large messages sent through a real, private Postfix (root needed).

Prints one line per message size: the size, the daemon's VmHWM (peak RSS)
after the message, and the time from DATA to Postfix's reply.  The spool
keeps spool.memory_limit (1 MiB by default) in memory and the rest in a
private temporary file, so the peak should stay flat as messages grow.

usage: bench/milter_memory.py [--milter PATH] [--sizes MB,MB,...]
"""
import argparse
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import mailseal_e2e as e2e  # noqa: E402


def vm_hwm_kib(pid):
    """vm_hwm_kib - peak resident set of pid in KiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


def big_message(mb):
    """big_message - a text message of about mb MiB with a base64 attachment."""
    text = (b"Quarterly figures, line of text that is long enough to matter.\r\n" * 8000)
    line = b"QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAx\r\n"
    n = max(0, (mb << 20) - len(text)) // len(line)
    return (b"From: alice@example.com\r\nTo: bob@partner.test\r\nSubject: [tag] big\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
            b"--b1\r\nContent-Type: text/plain\r\n\r\n" + text +
            b"--b1\r\nContent-Type: application/octet-stream; name=\"data.bin\"\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + line * n + b"--b1--\r\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--milter", default=os.path.join(HERE, "..", "build", "milter", "mailseal-milter"))
    ap.add_argument("--sizes", default="1,10,50")
    args = ap.parse_args()
    os.environ["MAILSEAL_MILTER"] = os.path.abspath(args.milter)
    work = tempfile.mkdtemp(prefix="mailseal-bench-")
    os.chmod(work, 0o755)
    sink = e2e.Sink(os.path.join(work, "sink"))
    sink.start()
    milter = e2e.Milter(os.path.join(work, "milter"), rules=[{
        "name": "tag", "if": {"subject_contains": "[tag]"},
        "then": {"add_header": {"name": "X-Tag", "value": "yes"}}}])
    milter.start()
    postfix = e2e.Postfix(os.path.join(work, "postfix"), sink.port, milter=milter.postfix_socket)
    postfix.start()
    try:
        print("%-10s %-16s %-10s" % ("message", "milter VmHWM", "DATA time"))
        print("%-10s %-16s %-10s" % ("(start)", "%d KiB" % vm_hwm_kib(milter.pid), "-"))
        for i, mb in enumerate(int(x) for x in args.sizes.split(",")):
            msg = big_message(mb)
            t0 = time.monotonic()
            result = e2e.send(postfix.port, "alice@example.com", ["bob@partner.test"], msg, timeout=300)
            dt = time.monotonic() - t0
            if not result.accepted:
                print("%d MiB: not accepted: %s" % (mb, result), file=sys.stderr)
                return 1
            sink.wait_for(i + 1, timeout=300)
            print("%-10s %-16s %-10s" % ("%d MiB" % mb, "%d KiB" % vm_hwm_kib(milter.pid), "%.2f s" % dt))
    finally:
        postfix.stop()
        milter.stop()
        sink.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
