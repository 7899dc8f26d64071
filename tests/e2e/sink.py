#!/usr/bin/env python3
"""sink - a standalone SMTP sink on 127.0.0.1 for the demo and for manual
tests: accepts every message and writes it to DIR/NNN.eml (exact bytes,
after dot-unstuffing) with its envelope in DIR/NNN.json, and prints one
line per message.  Runs until SIGTERM or SIGINT.

    python3 tests/e2e/sink.py --dir demo/sink [--port 0] [--port-file FILE]
"""

import argparse
import os
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mailseal_e2e import LOCALHOST, Sink  # noqa: E402


def main():
    """main - parse options, serve until a stop signal; exit status 0."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", required=True, help="where NNN.eml files are written")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free one)")
    ap.add_argument("--port-file", help="write the port number here once listening")
    args = ap.parse_args()

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def report(msg):
        subject = msg.headers("Subject")
        print("sink: %s from <%s> to %s, subject %r" % (
            os.path.relpath(msg.path), msg.mail_from,
            ", ".join("<%s>" % r for r in msg.rcpts),
            subject[0] if subject else None), flush=True)

    sink = Sink(os.path.abspath(args.dir), port=args.port, on_message=report).start()
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % sink.port)
        os.replace(tmp, args.port_file)
    print("sink: listening on %s:%d, writing to %s" % (LOCALHOST, sink.port, args.dir),
          flush=True)
    while not stop.wait(0.5):
        pass
    sink.stop()
    print("sink: stopped after %d message(s)" % sink.count(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
