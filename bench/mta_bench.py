#!/usr/bin/env python3
"""mta_bench - what the gateway costs a real MTA: Postfix's own smtp-source
sends to a private Postfix on loopback, which relays to Postfix's smtp-sink,
with each milter configuration side by side in the same run (root needed).

    smtp-source -s S -d --> Postfix (127.0.0.1) --milter--> CONFIG
                               |
                               +--SMTP--> smtp-sink (127.0.0.1)

Configurations, each with its own Postfix instance (all started at once,
so every run meets the same machine):
  bare      no milter
  null      bench_null_milter: reads the body, adds one header field (the
            floor for any milter)
  null-hdr  bench_null_milter -H: the same, also taking the envelope and
            the header fields with mailseal-milter's protocol steps (the
            floor for a milter that must read the header)
  rules     mailseal-milter with 50 realistic rules that match nothing
            (bench_rules' generator: keyword lists, patterns, sensitive
            data, recipient scope)
  encrypt   mailseal-milter encrypting every message: one rule for external
            recipients, a passphrase slot from a secrets file
  dkim      OpenDKIM (Debian's package) signing every message, RSA-2048
and, for the latency table, null-inet and rules-inet: the same milters on
an inet: loopback socket (the others use unix: sockets).

Messages are bench_rules' (multipart: UTF-8 prose and a base64 text
attachment) at each size; smtp-source keeps its sessions open (-d) and
sends --messages of them (--big-messages for 1 MB).  A run's rate is the
messages divided by smtp-source's wall time, that is until Postfix accepted
the last one (the milters run before Postfix answers DATA); before the next
run the instance's queue drains to the sink.  Each figure is the median of
--reps runs, the configurations taking turns within a repetition.

Before timing, one message per configuration goes to a checking sink and
must show the configuration's work (the null milter's field, no change
from the rules, the encrypted wrapper, a DKIM signature): the benchmark
measures what it says.

Printed: per size and session count, msgs/s, the ratios to bare Postfix
and to the null milter, the milter process's CPU seconds per 1,000
messages and its peak resident memory (VmHWM; over the whole run); then
the latency one session sees (ms per message added to bare Postfix) over
unix: and inet:, and the issue's targets with PASS or MISS.

usage: bench/mta_bench.py --build DIR [--sizes KB,...] [--sessions N,...]
           [--messages N] [--big-messages N] [--reps N] [--configs a,b,...]
           [--quick] [--workdir DIR] [--keep]
"""
import argparse
import os
import shutil
import signal
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "e2e"))
import mailseal_e2e as e2e  # noqa: E402

SENDER = "ann@example.com"
RCPT = "bob@example.net"              # external: the encrypt rule applies
CHECK_RCPT = "bob@check.test"         # routed to the checking sink
PASSPHRASE = "benchmark passphrase, not a secret"
ALL_CONFIGS = ("bare", "null", "null-hdr", "rules", "encrypt", "dkim", "null-inet", "rules-inet", "encrypt-inet")
INET_SIZES = (10,)                    # the inet: configurations run at these sizes only
TICK = os.sysconf("SC_CLK_TCK")


def log(msg):
    """log - progress on stderr (the table goes to stdout)."""
    print(msg, file=sys.stderr, flush=True)


def proc_cpu(pid):
    """proc_cpu - user + system CPU seconds of pid so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_hwm_mib(pid):
    """proc_hwm_mib - peak resident memory of pid in MiB."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


class SmtpSink:
    """Postfix's smtp-sink on 127.0.0.1:free port, stopped by PID."""

    def __init__(self, directory):
        self.port = e2e.free_port()
        self.log_path = os.path.join(directory, "smtp-sink.log")
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [e2e.which("smtp-sink"), "-u", "postfix", "%s:%d" % (e2e.LOCALHOST, self.port),
             "1024"], stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        if not e2e.wait_until(lambda: e2e.port_accepts(self.port), 10):
            raise RuntimeError("smtp-sink did not start: " + e2e.read_text(self.log_path))
        return self

    def stop(self):
        stop_proc(self.proc)
        self._log.close()


def stop_proc(proc, timeout=10):
    """stop_proc - SIGTERM by PID, SIGKILL after timeout."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


class NullMilter:
    """bench_null_milter on a unix: or inet: socket."""

    def __init__(self, binary, directory, transport, headers=False):
        os.makedirs(directory, exist_ok=True)
        e2e.milter_socket(self, transport, os.path.join(directory, "null.sock"))
        self.accepts = (lambda: e2e.port_accepts(self.port)) if self.port else \
            (lambda: e2e.unix_accepts(self.socket_path))
        self.binary = binary
        self.headers = headers
        self.log_path = os.path.join(directory, "null.log")
        self.proc = None

    def start(self):
        self._log = open(self.log_path, "ab")
        argv = [self.binary] + (["-H"] if self.headers else []) + [self.spec]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)
        if not e2e.wait_until(lambda: self.accepts() or self.proc.poll() is not None, 10) \
                or self.proc.poll() is not None:
            raise RuntimeError("bench_null_milter did not start: " + e2e.read_text(self.log_path))
        if self.socket_path:               # Postfix's smtpd runs as postfix
            os.chmod(self.socket_path, 0o666)
        return self

    def stop(self):
        stop_proc(self.proc)
        self._log.close()


class Bench:
    """The pieces of one benchmark run, all under workdir."""

    def __init__(self, args):
        self.args = args
        self.work = args.workdir
        self.build = args.build
        self.sink = SmtpSink(self.work)
        self.check_sink = e2e.Sink(os.path.join(self.work, "check-sink"))
        self.milters = {}          # config -> object with .proc and .postfix_socket
        self.postfix = {}          # config -> e2e.Postfix
        self.messages = {}         # size KB -> path of the LF message file
        self.rules_path = None

    # -- setup

    def prepare_messages(self):
        """prepare_messages - bench_rules' 50 rules and its message at each size."""
        for kb in self.args.sizes:
            d = os.path.join(self.work, "gen-%d" % kb)
            os.makedirs(d, exist_ok=True)
            subprocess.run([os.path.join(self.build, "bench", "bench_rules"), "-n", "50", "-s",
                            str(kb), "-r", "1", "-o", d], check=True, capture_output=True)
            with open(os.path.join(d, "message.eml"), "rb") as f:
                data = f.read().replace(b"\r\n", b"\n")
            path = os.path.join(self.work, "message-%dk.eml" % kb)
            with open(path, "wb") as f:       # smtp-source adds the CR of each line
                f.write(data)
            self.messages[kb] = path
            self.rules_path = os.path.join(d, "rules.yaml")

    def secrets(self):
        """secrets - a secrets file with a stored key for the recipients' domains."""
        path = os.path.join(self.work, "secrets")
        passfile = os.path.join(self.work, "pass.txt")
        with open(passfile, "w") as f:
            f.write(PASSPHRASE + "\n")
        cli = os.path.join(self.build, "cli", "mailseal")
        for name in ("@example.net", "@check.test"):
            subprocess.run([cli, "secret", "set", "-f", path, "--passphrase-file", passfile,
                            name], check=True, capture_output=True, timeout=120)
        return path

    def start_milters(self):
        """start_milters - one milter per configuration that has one."""
        milter_bin = os.path.join(self.build, "milter", "mailseal-milter")
        null_bin = os.path.join(self.build, "bench", "bench_null_milter")
        # the unix: socket must let the postfix user in (a test setting)
        quiet = {"milter": {"log_level": "notice", "timeout": 60, "umask": "0000"}}
        with open(self.rules_path) as f:
            rules_text = f.read()
        for name in self.args.configs:
            d = os.path.join(self.work, name)
            transport = "inet" if name.endswith("-inet") else "unix"
            base = name.split("-")[0]
            if base == "null":
                m = NullMilter(null_bin, d, transport, headers=name == "null-hdr")
            elif base == "rules":
                m = e2e.Milter(d, rules=rules_text, transport=transport, config=quiet,
                               binary=milter_bin)
            elif base == "encrypt":
                conf = dict(quiet, envelope={"secrets_file": self.secrets(),
                                             "random_passphrase": "never"})
                m = e2e.Milter(d, rules=[{"name": "seal-external",
                                          "if": {"recipient_scope": "external"},
                                          "then": {"encrypt": {}}}],
                               transport=transport, config=conf, binary=milter_bin)
            elif base == "dkim":
                m = e2e.OpenDKIM(d, transport=transport)
            else:
                continue
            m.start()
            self.milters[name] = m

    def start_postfix(self):
        """start_postfix - one private instance per configuration, relaying to
        smtp-sink, and the check domain to the checking sink."""
        for name in self.args.configs:
            m = self.milters.get(name)
            extra = {"transport_maps": "inline:{ check.test=smtp:[%s]:%d }"
                     % (e2e.LOCALHOST, self.check_sink.port),
                     "smtpd_client_connection_count_limit": "0",
                     "default_process_limit": "200"}
            pf = e2e.Postfix(os.path.join(self.work, "pf-" + name), self.sink.port,
                             milter=m.postfix_socket if m else None, extra=extra)
            pf.start()
            self.postfix[name] = pf

    def start(self):
        self.prepare_messages()
        self.sink.start()
        self.check_sink.start()
        self.start_milters()
        self.start_postfix()

    def stop(self):
        for pf in self.postfix.values():
            pf.stop()
        for m in self.milters.values():
            m.stop()
        self.check_sink.stop()
        self.sink.stop()

    # -- the check that each configuration does its work

    def check(self):
        """check - one message per configuration through the checking sink."""
        with open(self.messages[min(self.messages)], "rb") as f:
            msg = f.read().replace(b"\n", b"\r\n")
        for i, name in enumerate(self.args.configs):
            with smtplib.SMTP(e2e.LOCALHOST, self.postfix[name].port, timeout=60) as s:
                s.sendmail(SENDER, [CHECK_RCPT], msg)
            if not self.check_sink.wait_for(i + 1, timeout=60):
                raise RuntimeError("%s: the check message did not arrive" % name)
            got = self.check_sink.messages()[i].data
            base = name.split("-")[0]
            want = {"bare": lambda d: b"X-Null-Milter" not in d and b"weekly update" in d,
                    "null": lambda d: b"X-Null-Milter:" in d,
                    "rules": lambda d: b"X-Class" not in d and b"message.html" not in d
                                       and b"X-Mailseal-Loop" not in d,
                    "encrypt": lambda d: b"name=\"message.html\"" in d
                                         and b"meeting" not in d.split(b"message.html")[-1],
                    "dkim": lambda d: b"DKIM-Signature:" in d}[base]
            if not want(got):
                raise RuntimeError("%s: the check message does not show the configuration's "
                                   "work:\n%s" % (name, got[:3000].decode("utf-8", "replace")))
        log("check: every configuration does its work")

    # -- timing

    def run_point(self, name, kb, sessions):
        """run_point - one smtp-source run; (msgs/s, milter CPU seconds)."""
        pf = self.postfix[name]
        m = self.milters.get(name)
        n = self.args.big_messages if kb >= 1024 else self.args.messages
        argv = [e2e.which("smtp-source"), "-s", str(sessions), "-d", "-m", str(n),
                "-f", SENDER, "-t", RCPT, "-M", "client.example.com",
                "-F", self.messages[kb], "%s:%d" % (e2e.LOCALHOST, pf.port)]
        cpu0 = proc_cpu(m.proc.pid) if m else 0.0
        t0 = time.monotonic()
        r = subprocess.run(argv, capture_output=True, timeout=3600)
        dt = time.monotonic() - t0
        cpu = (proc_cpu(m.proc.pid) - cpu0) if m else 0.0
        if r.returncode != 0:
            raise RuntimeError("%s: smtp-source failed (%d): %s\n%s" % (
                name, r.returncode, r.stderr.decode(errors="replace"), pf.maillog()[-2000:]))
        if not e2e.wait_until(lambda: pf.pending_count() == 0, 600, 0.1):
            raise RuntimeError("%s: the queue did not drain" % name)
        if pf.count("deferred") or pf.hold_count():
            raise RuntimeError("%s: deferred or held mail" % name)
        return n / dt, cpu, n

    def points(self):
        """points - (size KB, sessions, configs) in the order they run."""
        for kb in self.args.sizes:
            for s in self.args.sessions:
                cfgs = [c for c in self.args.configs
                        if not c.endswith("-inet") or kb in INET_SIZES]
                yield kb, s, cfgs

    def run(self):
        """run - every point, --reps times; {(kb, s, config): {rates, cpu, msgs}}"""
        res = {}
        for rep in range(self.args.reps):
            for kb, s, cfgs in self.points():
                for name in cfgs:
                    rate, cpu, n = self.run_point(name, kb, s)
                    r = res.setdefault((kb, s, name), {"rates": [], "cpu": 0.0, "msgs": 0})
                    r["rates"].append(rate)
                    r["cpu"] += cpu
                    r["msgs"] += n
                    log("rep %d  %5d KB  s=%-2d  %-10s %8.1f msgs/s" % (rep + 1, kb, s, name, rate))
        return res

    # -- report

    def report(self, res):
        """report - the tables and the targets."""
        med = {k: statistics.median(v["rates"]) for k, v in res.items()}
        print("\nThrough Postfix (smtp-source -d -> private Postfix -> smtp-sink), "
              "median of %d runs" % self.args.reps)
        print("%7s %4s  %-12s %9s %8s %8s %10s %12s %10s" % (
            "size", "sess", "config", "msgs/s", "x bare", "x null", "x null-hdr", "CPU s/1000",
            "peak MiB"))
        for kb, s, cfgs in self.points():
            bare = med.get((kb, s, "bare"))
            null = med.get((kb, s, "null"))
            nullh = med.get((kb, s, "null-hdr"))
            for name in cfgs:
                rate = med[(kb, s, name)]
                m = self.milters.get(name)
                r = res[(kb, s, name)]
                print("%7s %4d  %-12s %9.1f %8s %8s %10s %12s %10s" % (
                    size_label(kb), s, name, rate,
                    "%.2f" % (rate / bare) if bare else "-",
                    "%.2f" % (rate / null) if null and m else "-",
                    "%.2f" % (rate / nullh) if nullh and m else "-",
                    "%.2f" % (r["cpu"] / r["msgs"] * 1000) if m else "-",
                    "%.1f" % proc_hwm_mib(m.proc.pid) if m else "-"))
        self.report_latency(med)
        self.report_targets(med)

    def report_latency(self, med):
        """report_latency - ms per message a milter adds to one session."""
        kb = INET_SIZES[0]
        if (kb, 1, "bare") not in med:
            return
        print("\nLatency, one session (smtp-source -s 1 -d), %s messages: "
              "ms per message added to bare Postfix" % size_label(kb))
        bare_ms = 1000.0 / med[(kb, 1, "bare")]
        print("  bare Postfix: %.2f ms per message" % bare_ms)
        for name in self.args.configs:
            if name != "bare" and (kb, 1, name) in med:
                print("  %-10s %+7.2f ms" % (name, 1000.0 / med[(kb, 1, name)] - bare_ms))

    def report_targets(self, med):
        """report_targets - the issue's targets, PASS or MISS."""
        print("\nTargets")
        rows = []
        for kb, s, cfgs in self.points():
            if "rules" in cfgs and "null" in cfgs:
                x = med[(kb, s, "rules")] / med[(kb, s, "null")]
                rows.append(("rules matching nothing >= 0.95 x null (%s, s=%d)"
                             % (size_label(kb), s), x >= 0.95, "%.2f" % x))
            if "rules" in cfgs and "null-hdr" in cfgs:
                x = med[(kb, s, "rules")] / med[(kb, s, "null-hdr")]
                rows.append(("  the same against null-hdr (%s, s=%d)" % (size_label(kb), s),
                             x >= 0.95, "%.2f" % x))
        for name in ("null", "rules", "null-inet", "rules-inet"):
            kb = INET_SIZES[0]
            if (kb, 1, name) in med and (kb, 1, "bare") in med:
                added = 1000.0 / med[(kb, 1, name)] - 1000.0 / med[(kb, 1, "bare")]
                if name.startswith("rules"):
                    rows.append(("mailseal adds <= 2 ms per message, one session, %s"
                                 % ("inet:" if name.endswith("-inet") else "unix:"),
                                 added <= 2.0, "%+.2f ms" % added))
        for s in self.args.sessions:
            k = (100, s)
            if (100, s, "encrypt") in med and (100, s, "null") in med:
                x = med[k + ("encrypt",)] / med[k + ("null",)]
                rows.append(("encrypt 100 KB >= 0.75 x null (s=%d)" % s, x >= 0.75, "%.2f" % x))
            if (100, s, "encrypt") in med and (100, s, "dkim") in med:
                x = med[k + ("encrypt",)] / med[k + ("dkim",)]
                rows.append(("encrypt 100 KB ahead of OpenDKIM (s=%d)" % s, x > 1.0,
                             "%.2f x dkim" % x))
        for what, ok, fig in rows:
            print("  %-60s %-12s %s" % (what, fig, "PASS" if ok else "MISS"))


def size_label(kb):
    """size_label - 10 KB, 100 KB, 1 MB."""
    return "%d MB" % (kb // 1024) if kb >= 1024 and kb % 1024 == 0 else "%d KB" % kb


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build", default=os.path.join(HERE, "..", "build"),
                   help="the build directory (default: build/)")
    p.add_argument("--sizes", default="10,100,1024", help="message sizes in KB")
    p.add_argument("--sessions", default="1,10", help="parallel SMTP sessions")
    p.add_argument("--messages", type=int, default=2000, help="messages per point")
    p.add_argument("--big-messages", type=int, default=200,
                   help="messages per point of 1 MB and more")
    p.add_argument("--reps", type=int, default=3, help="repetitions (median)")
    p.add_argument("--configs", default=",".join(ALL_CONFIGS))
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: 200 messages (20 of 1 MB), one repetition")
    p.add_argument("--workdir", help="work directory (default: fresh, under /dev/shm)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    a = p.parse_args(argv)
    a.sizes = [int(x) for x in a.sizes.split(",")]
    a.sessions = [int(x) for x in a.sessions.split(",")]
    a.configs = [c for c in a.configs.split(",") if c]
    unknown = set(a.configs) - set(ALL_CONFIGS)
    if unknown:
        p.error("unknown configuration(s): " + ", ".join(sorted(unknown)))
    if a.quick:
        a.messages, a.big_messages, a.reps = 200, 20, 1
    a.build = os.path.abspath(a.build)
    return a


def main(argv):
    args = parse_args(argv)
    if os.geteuid() != 0:
        print("mta_bench: needs root (a private Postfix instance)", file=sys.stderr)
        return 2
    for tool in ("smtp-source", "smtp-sink", "postfix") + (
            ("opendkim",) if "dkim" in args.configs else ()):
        if not e2e.which(tool):
            print("mta_bench: %s missing (scripts/install-deps.sh installs it)" % tool,
                  file=sys.stderr)
            return 2
    # SIGTERM (timeout, kill) unwinds through the finally below: no stray Postfix or milter
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    made = args.workdir is None
    if made:
        base = "/dev/shm" if os.path.isdir("/dev/shm") else None
        args.workdir = tempfile.mkdtemp(prefix="mailseal-mta-bench-", dir=base)
    os.chmod(args.workdir, 0o755)
    bench = Bench(args)
    try:
        bench.start()
        bench.check()
        bench.report(bench.run())
        return 0
    finally:
        bench.stop()
        if made and not args.keep:
            shutil.rmtree(args.workdir, ignore_errors=True)
        elif made:
            log("work directory kept: " + args.workdir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
