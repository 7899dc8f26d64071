#!/usr/bin/env python3
"""viewer_bench - how long a recipient waits: the viewer's time from the
passphrase to the rendered message, in real browsers.

    bench/viewer_bench.py [--build DIR] [-r REPS] [--size MB]
                          [--engines chromium[,firefox,webkit]]

Pages are made with `mailseal encrypt` (the milter's own wrapper code) from
DIR/cli/mailseal (default: build/ of this checkout):
  big        a SIZE MB message (default 10: a text body and a base64
             attachment of random bytes), one passphrase slot, PBKDF2 at
             the default 600,000 iterations;
  slots50    a small message to 50 recipients, each with their own stored
             passphrase (50 slots, 600,000 iterations each), opened with
             the reader's address typed in (the viewer then tries the slot
             whose hint matches first: docs/ENVELOPE.md);
  slots50-noaddr  the same page without the address: the viewer tries the
             slots in order, one PBKDF2 derivation each.
Each page is opened REPS times (default 5) by the browser drivers of
tests/browser (DRIVERS.md): from pressing Enter in the passphrase field to
the page's state "open".  Prints the median and best milliseconds per page
and engine, and the median time the page took to load (Navigation Timing).  The issue's bounds: 10 MB readable within 1 s, 50 slots
within 2 s.

Needs the browsers and npm modules of tests/browser/install.sh; WebKit runs
under xvfb-run.  The work directory under /tmp is removed at the end.
"""

import argparse
import base64
import email
import email.policy
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BROWSER = os.path.join(ROOT, "tests", "browser")
DRIVERS = {
    "chromium": ["node", os.path.join(BROWSER, "drive_chromium.mjs")],
    "firefox": ["node", os.path.join(BROWSER, "drive_firefox.mjs")],
    "webkit": ["xvfb-run", "-a", "/usr/bin/python3", os.path.join(BROWSER, "drive_webkit.py")],
}
PASSPHRASE = "correct horse battery staple"


def run(argv, **kw):
    """run - a command that must succeed; its CompletedProcess"""
    r = subprocess.run(argv, capture_output=True, **kw)
    if r.returncode != 0:
        sys.exit("viewer_bench: %s failed (%d): %s" % (argv[0], r.returncode,
                                                        r.stderr.decode(errors="replace")))
    return r


def big_message(size):
    """big_message - about size bytes: a text body and a random attachment"""
    text = b"The quarterly figures are attached; please review them.\r\n" * (size // 2 // 58)
    att = base64.encodebytes(os.urandom(size // 2 * 3 // 4)).replace(b"\n", b"\r\n")
    return (b"From: Alice <alice@example.com>\r\nTo: Bob <bob@partner.test>\r\n"
            b"Subject: Big figures\r\nDate: Tue, 25 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <bench-big@example.com>\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\n" + text +
            b"--b\r\nContent-Type: application/octet-stream; name=figures.bin\r\n"
            b"Content-Disposition: attachment; filename=figures.bin\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n" + att + b"--b--\r\n")


def small_message():
    """small_message - a short text message"""
    return (b"From: Alice <alice@example.com>\r\nTo: Team <team@partner.test>\r\n"
            b"Subject: Fifty readers\r\nDate: Tue, 25 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <bench-50@example.com>\r\n\r\nHello all.\r\n")


def page_of(wrapper):
    """page_of - the message.html attachment of a wrapper message"""
    msg = email.message_from_bytes(wrapper, policy=email.policy.compat32)
    for part in msg.walk():
        if part.get_filename() == "message.html":
            return part.get_payload(decode=True)
    sys.exit("viewer_bench: no message.html in the wrapper")


class Bench:
    def __init__(self, cli, work):
        self.cli = cli
        self.work = work
        self.secrets = os.path.join(work, "secrets")
        self.passfile = os.path.join(work, "pass.txt")
        with open(self.passfile, "w") as f:
            f.write(PASSPHRASE + "\n")
        with open(os.path.join(work, "rules.yaml"), "w") as f:
            f.write("rules: []\n")
        with open(os.path.join(work, "loop.key"), "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        os.chmod(os.path.join(work, "loop.key"), 0o600)
        self.config = os.path.join(work, "mailseal.yaml")
        with open(self.config, "w") as f:
            f.write("organization: {name: Example, domains: [example.com]}\n"
                    "rules: rules.yaml\nloop: {secret_file: loop.key}\n"
                    "envelope: {secrets_file: secrets, random_passphrase: never,"
                    " max_wrapper_size: 100MB}\n")

    def encrypt(self, name, message, rcpts, passfile=True):
        """encrypt - the page for message to rcpts, written to WORK/name.html"""
        argv = [self.cli, "encrypt", "-c", self.config, "--from", "alice@example.com",
                "--to", ",".join(rcpts)]
        if passfile:
            argv += ["--passphrase-file", self.passfile]
        r = run(argv, input=message, timeout=600)
        path = os.path.join(self.work, name + ".html")
        with open(path, "wb") as f:
            f.write(page_of(r.stdout))
        return path

    def store(self, name, passphrase):
        """store - a recipient passphrase in the secrets store (600,000 iterations)"""
        pf = os.path.join(self.work, "p-" + name)
        with open(pf, "w") as f:
            f.write(passphrase + "\n")
        run([self.cli, "secret", "set", "-f", self.secrets, "--passphrase-file", pf, name],
            timeout=120)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("-r", "--reps", type=int, default=5)
    ap.add_argument("--size", type=float, default=10.0, help="big message size in MB")
    ap.add_argument("--engines", default="chromium")
    args = ap.parse_args()
    cli = os.path.join(args.build, "cli", "mailseal")
    if not os.access(cli, os.X_OK):
        sys.exit("viewer_bench: %s not built" % cli)
    engines = [e for e in args.engines.split(",") if e]
    for e in engines:
        if e not in DRIVERS:
            sys.exit("viewer_bench: unknown engine %s" % e)

    work = tempfile.mkdtemp(prefix="mailseal-viewer-bench-")
    try:
        b = Bench(cli, work)
        t0 = time.time()
        readers = ["reader%02d@partner.test" % i for i in range(50)]
        for i, r in enumerate(readers):
            b.store(r, "%s passphrase %d" % (PASSPHRASE, i))
        big = b.encrypt("big", big_message(int(args.size * 1e6)), ["bob@partner.test"])
        slots = b.encrypt("slots50", small_message(), readers, passfile=False)
        print("pages made in %.1f s: big %.1f MB, slots50 %.1f KB" % (
            time.time() - t0, os.path.getsize(big) / 1e6, os.path.getsize(slots) / 1e3))
        # the last reader's slot is the last one written: the worst case without the address
        last = readers[-1]
        pages = [("big", big, PASSPHRASE, "bob@partner.test"),
                 ("slots50", slots, "%s passphrase %d" % (PASSPHRASE, 49), last),
                 ("slots50-noaddr", slots, "%s passphrase %d" % (PASSPHRASE, 49), None)]
        cases = []
        for name, path, passphrase, addr in pages:
            for i in range(args.reps):
                cases.append({"name": "%s-%d" % (name, i), "html": path, "passphrase": passphrase,
                              "email": addr, "scripts": True, "download": False,
                              "timeout_ms": 120000})
        manifest = os.path.join(work, "manifest.json")
        with open(manifest, "w") as f:
            json.dump({"cases": cases}, f)
        print("%-9s %-15s %8s %8s %8s  %s" % ("engine", "page", "median", "best", "load",
                                             "(ms: Enter -> open, median and best; page load, median)"))
        for e in engines:
            out = os.path.join(work, "out-" + e)
            os.makedirs(out)
            run(DRIVERS[e] + [manifest, out], cwd=BROWSER, timeout=1800)
            with open(os.path.join(out, "results.json")) as f:
                res = json.load(f)["cases"]
            for name, _, _, _ in pages:
                ms, states, load = [], set(), []
                for i in range(args.reps):
                    c = res.get("%s-%d" % (name, i), {})
                    states.add(c.get("state"))
                    if c.get("ms_to_load") is not None:
                        load.append(c["ms_to_load"])
                    if c.get("state") == "open" and c.get("ms_to_result") is not None:
                        ms.append(c["ms_to_result"])
                if len(ms) < args.reps:
                    print("%-9s %-15s did not open every time (states %s)" % (e, name, sorted(
                        str(s) for s in states)))
                    continue
                print("%-9s %-15s %8.0f %8.0f %8s" % (e, name, statistics.median(ms), min(ms),
                                                      "%.0f" % statistics.median(load) if load else "-"))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
