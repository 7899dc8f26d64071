#!/usr/bin/env python3
"""mailseal_e2e - harness for end-to-end tests: the real mailseal-milter
behind a real, private Postfix that relays to an in-process SMTP sink.

    client --SMTP--> Postfix (127.0.0.1:free port) --milter--> mailseal-milter
                        |
                        +--SMTP--> Sink (127.0.0.1:free port, in this process)

Pieces (each usable alone):
  free_port()          a free TCP port on 127.0.0.1
  Sink                 a small, correct SMTP receiver (thread) keeping every
                       message (envelope + exact bytes) in memory and on disk
  Postfix              a private Postfix instance under a work directory
  Milter               the daemon with a generated config and rules file
  OpenDKIM             a real OpenDKIM signing with a generated RSA-2048 key
  send()               one SMTP transaction, returning the server's verdict
  E2ETestCase          unittest base class: a work directory, helpers that
                       start the pieces, and a cleanup that stops them by
                       PID (also when the test failed) and removes the files

Every server listens on loopback only.  Postfix must be started as root; the
tests skip with a clear message otherwise.  The daemon binary is taken from
the environment variable MAILSEAL_MILTER (set by ctest).  With
MAILSEAL_E2E_KEEP=1 the work directories are kept for inspection.

Python standard library only.
"""

import base64
import json
import os
import re
import shlex
import shutil
import signal
import smtplib
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import unittest

LOCALHOST = "127.0.0.1"
CRLF = b"\r\n"


# ---------------------------------------------------------------------------
# small helpers

def free_port():
    """free_port - a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


def port_accepts(port, host=LOCALHOST, timeout=0.5):
    """port_accepts - True when a TCP connect to host:port succeeds."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def unix_accepts(path, timeout=0.5):
    """unix_accepts - True when a connect to the unix socket path succeeds."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            return True
    except OSError:
        return False


def read_text(path):
    """read_text - a log file's text so far (UTF-8, bad bytes replaced), "" when unreadable."""
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def wait_until(predicate, timeout, interval=0.05):
    """wait_until - poll predicate until it returns a true value (returned)
    or timeout seconds pass (returns the last, false, value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def crlf(data):
    """crlf - bytes (or str, UTF-8) with every line ending made CRLF."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return re.sub(rb"\r?\n", b"\r\n", data)


def make_message(subject="hello", sender="alice@example.com",
                 to=("bob@partner.test",), body="Hello.\n",
                 extra_headers=(), message_id=None):
    """make_message - a complete RFC 5322 message (CRLF, bytes) with From,
    To, Subject, Date and Message-ID, so Postfix adds nothing but Received.
    subject and extra header values are used as given (already encoded)."""
    if message_id is None:
        message_id = "<%s@example.com>" % base64.b32encode(os.urandom(10)).decode().lower()
    lines = [
        "From: <%s>" % sender,
        "To: %s" % ", ".join("<%s>" % r for r in to),
        "Subject: %s" % subject,
        "Date: Tue, 25 Nov 2025 10:00:00 +0000",
        "Message-ID: %s" % message_id,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    lines.extend("%s: %s" % (n, v) for n, v in extra_headers)
    return crlf("\n".join(lines) + "\n\n" + body)


def make_multipart(subject, parts, to=("bob@partner.test",)):
    """make_multipart - a multipart/mixed message (CRLF, bytes) like
    make_message()'s, of parts: each (header lines, body text)."""
    head = make_message(subject=subject, to=to, body="")
    head = head.replace(b"Content-Type: text/plain; charset=utf-8\r\n"
                        b"Content-Transfer-Encoding: 8bit\r\n",
                        b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n")
    body = ""
    for hdrs, text in parts:
        body += "--b1\n" + "\n".join(hdrs) + "\n\n" + text + "\n"
    return head + crlf(body + "--b1--\n")


def split_message(data):
    """split_message - (header block, body) of a message; the header block
    ends with its last header line's CRLF, the body starts after the blank line."""
    m = re.search(rb"\r?\n\r?\n", data)
    if m is None:
        return data, b""
    first = re.match(rb"\r?\n", m.group(0)).group(0)
    return data[:m.start()] + first, data[m.end():]


def header_fields(data):
    """header_fields - [(name, raw value)] of the message's header, in order;
    a folded value keeps its line breaks."""
    head, _ = split_message(data)
    fields = []
    for line in re.split(rb"(?<=\n)", head):
        if not line:
            continue
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += line
        else:
            name, _, value = line.partition(b":")
            fields.append([name.decode("latin-1"), value])
    return [(n, v.lstrip(b" ").rstrip(b"\r\n").decode("utf-8", "replace")) for n, v in fields]


def header_values(data, name):
    """header_values - the values of every header field called name (any case)."""
    return [v for n, v in header_fields(data) if n.lower() == name.lower()]


def remove_headers(data, names):
    """remove_headers - the message without the header fields called any of
    names (any case, continuation lines included); the rest byte for byte."""
    wanted = {n.lower() for n in names}
    head, body = split_message(data)
    sep = data[len(head):len(data) - len(body)]
    out, skipping = [], False
    for line in re.split(rb"(?<=\n)", head):
        if not line:
            continue
        if line[:1] not in (b" ", b"\t"):
            skipping = line.partition(b":")[0].decode("latin-1").strip().lower() in wanted
        if not skipping:
            out.append(line)
    return b"".join(out) + sep + body


def strip_received(data):
    """strip_received - the message without the Received fields at its top
    (the ones Postfix prepends)."""
    while re.match(rb"(?i)received:", data):
        m = re.search(rb"\r?\n(?![ \t])", data)
        if m is None:
            return b""
        data = data[m.end():]
    return data


# ---------------------------------------------------------------------------
# SMTP sink

class SinkMessage:
    """One message received by the Sink: envelope and exact bytes."""

    def __init__(self, index, helo, mail_from, rcpts, data, path):
        self.index = index
        self.helo = helo
        self.mail_from = mail_from
        self.rcpts = list(rcpts)
        self.data = data
        self.path = path

    def headers(self, name):
        """headers - the values of the header fields called name."""
        return header_values(self.data, name)

    def header(self, name):
        """header - the only value of header name, None when absent (an
        AssertionError when there are several)."""
        values = self.headers(name)
        if len(values) > 1:
            raise AssertionError("%d %s header fields: %r" % (len(values), name, values))
        return values[0] if values else None

    def without_received(self):
        """without_received - the bytes without Postfix's Received lines."""
        return strip_received(self.data)

    def __repr__(self):
        return "<SinkMessage %d from %r to %r, %d bytes>" % (
            self.index, self.mail_from, self.rcpts, len(self.data))


class _SinkServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class _SinkHandler(socketserver.StreamRequestHandler):
    """One SMTP session (RFC 5321 subset: EHLO/HELO, MAIL, RCPT, DATA,
    RSET, NOOP, QUIT; PIPELINING-safe because commands are read in order)."""

    timeout = 300
    MAX_LINE = 4096

    def reply(self, *lines):
        out = b""
        for i, line in enumerate(lines):
            code, text = line.split(" ", 1)
            sep = " " if i == len(lines) - 1 else "-"
            out += ("%s%s%s\r\n" % (code, sep, text)).encode("ascii")
        self.wfile.write(out)
        self.wfile.flush()

    def handle(self):
        sink = self.server.sink
        sink._track(self.connection, True)
        try:
            self._session(sink)
        except (OSError, ValueError):
            pass
        finally:
            sink._track(self.connection, False)

    def _session(self, sink):
        helo, mail_from, rcpts = None, None, []
        self.reply("220 sink.test ESMTP mailseal test sink")
        while True:
            line = self.rfile.readline(self.MAX_LINE + 1)
            if not line:
                return
            if not line.endswith(b"\n"):
                # overlong command line: skip the rest of it
                while line and not line.endswith(b"\n"):
                    line = self.rfile.readline(self.MAX_LINE + 1)
                self.reply("500 5.5.2 Line too long")
                continue
            cmd = line.rstrip(b"\r\n").decode("latin-1")
            verb, _, arg = cmd.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                helo, mail_from, rcpts = arg, None, []
                self.reply("250 sink.test", "250 PIPELINING", "250 8BITMIME",
                           "250 SIZE %d" % sink.max_size, "250 ENHANCEDSTATUSCODES")
            elif verb == "HELO":
                helo, mail_from, rcpts = arg, None, []
                self.reply("250 sink.test")
            elif verb == "MAIL":
                m = re.match(r"(?i)FROM:\s*<([^>]*)>", arg)
                if not m:
                    self.reply("501 5.5.4 Syntax: MAIL FROM:<address>")
                elif mail_from is not None:
                    self.reply("503 5.5.1 Nested MAIL command")
                else:
                    mail_from, rcpts = m.group(1), []
                    self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                m = re.match(r"(?i)TO:\s*<([^>]+)>", arg)
                if mail_from is None:
                    self.reply("503 5.5.1 Need MAIL command")
                elif not m:
                    self.reply("501 5.5.4 Syntax: RCPT TO:<address>")
                else:
                    rcpts.append(m.group(1))
                    self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                if mail_from is None or not rcpts:
                    self.reply("503 5.5.1 Need RCPT command")
                    continue
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data, too_big = self._read_data(sink.max_size)
                if data is None:
                    return
                if too_big:
                    self.reply("552 5.3.4 Message too big")
                else:
                    msg = sink._store(helo, mail_from, rcpts, data)
                    self.reply("250 2.0.0 Ok: queued as SINK%d" % msg.index)
                mail_from, rcpts = None, []
            elif verb == "RSET":
                mail_from, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == "NOOP":
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            elif verb == "VRFY":
                self.reply("252 2.0.0 Cannot VRFY")
            else:
                self.reply("500 5.5.2 Command not recognized")

    def _read_data(self, max_size):
        """_read_data - the message up to the final '.', dot-unstuffed, line
        endings as sent; (None, _) when the connection ends first."""
        chunks, size, too_big = [], 0, False
        while True:
            line = self.rfile.readline(65536)
            if not line:
                return None, False
            if line in (b".\r\n", b".\n"):
                return b"".join(chunks), too_big
            if line.startswith(b"."):
                line = line[1:]
            size += len(line)
            if size > max_size:
                too_big = True
                chunks = []
            elif not too_big:
                chunks.append(line)


class Sink:
    """A real SMTP server on 127.0.0.1 (a thread of this process) that
    accepts everything and keeps each message in memory and as
    DIRECTORY/NNN.eml (exact bytes) plus NNN.json (envelope)."""

    def __init__(self, directory, port=0, host=LOCALHOST, max_size=256 << 20,
                 on_message=None):
        self.directory = directory
        self.on_message = on_message  # called with each SinkMessage (session thread)
        self.host = host
        self.port = port
        self.max_size = max_size
        self._messages = []
        self._cond = threading.Condition()
        self._conns = set()
        self._server = None
        self._thread = None
        os.makedirs(directory, exist_ok=True)

    def start(self):
        """start - listen and serve in a background thread; returns self."""
        self._server = _SinkServer((self.host, self.port), _SinkHandler)
        self._server.sink = self
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1},
                                        name="sink-%d" % self.port, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """stop - close the listener and every open session."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._cond:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._server = None

    def _track(self, conn, add):
        with self._cond:
            (self._conns.add if add else self._conns.discard)(conn)

    def _store(self, helo, mail_from, rcpts, data):
        with self._cond:
            index = len(self._messages) + 1
            path = os.path.join(self.directory, "%03d.eml" % index)
            with open(path, "wb") as f:
                f.write(data)
            with open(path[:-4] + ".json", "w") as f:
                json.dump({"helo": helo, "mail_from": mail_from, "rcpts": rcpts}, f)
            msg = SinkMessage(index, helo, mail_from, rcpts, data, path)
            self._messages.append(msg)
            self._cond.notify_all()
        if self.on_message is not None:
            self.on_message(msg)
        return msg

    def messages(self):
        """messages - every message received so far, in arrival order."""
        with self._cond:
            return list(self._messages)

    def count(self):
        with self._cond:
            return len(self._messages)

    def wait_for(self, n, timeout=30):
        """wait_for - wait until at least n messages arrived; returns them
        all, raises AssertionError after timeout seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._messages) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("sink: %d of %d messages after %ss"
                                         % (len(self._messages), n, timeout))
                self._cond.wait(left)
            return list(self._messages)


# ---------------------------------------------------------------------------
# Postfix

def run_quiet(argv, timeout=60, tty=False):
    """run_quiet - run argv, return (exit code, stdout+stderr text).  With
    tty, under script(1), because the postfix command reports its errors to
    syslog (absent here) unless it has a terminal."""
    if tty and have_pty():
        argv = ["script", "-qec", shlex.join(argv), "/dev/null"]
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace")


_PTY = []


def have_pty():
    """have_pty - True when pseudo terminals can be made (script(1) works);
    without them commands run as they are and errors are read from logs."""
    if not _PTY:
        try:
            master, slave = os.openpty()
            os.close(master)
            os.close(slave)
            _PTY.append(bool(shutil.which("script")))
        except OSError:
            _PTY.append(False)
    return _PTY[0]


def which(name, extra=("/usr/sbin", "/usr/bin", "/sbin")):
    """which - a command's path (also in the sbin folders), or None."""
    path = shutil.which(name)
    if path:
        return path
    for d in extra:
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return None


MASTER_CF = """\
# private instance for mailseal tests: loopback only, nothing chrooted
{listen} inet  n       -       n       -       -       smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

QUEUES = ("maildrop", "incoming", "active", "deferred", "hold", "corrupt")


class Postfix:
    """A private Postfix instance under DIRECTORY: its own config directory
    (main.cf, master.cf), queue and data directories and maillog file.
    smtpd listens on 127.0.0.1:port; everything is relayed to
    [127.0.0.1]:relay_port; milter is a Postfix milter address
    ("inet:127.0.0.1:PORT" or "unix:/path") or None."""

    def __init__(self, directory, relay_port, port=None, milter=None, extra=None):
        self.directory = directory
        self.relay_port = relay_port
        self.port = port or free_port()
        self.milter = milter
        self.extra = dict(extra or {})
        self.config_dir = os.path.join(directory, "etc")
        self.queue_dir = os.path.join(directory, "queue")
        self.data_dir = os.path.join(directory, "data")
        self.log_dir = os.path.join(directory, "log")
        self.maillog_file = os.path.join(self.log_dir, "maillog")
        self.started = False
        self._master_pid = None

    # -- configuration

    def main_cf(self):
        """main_cf - {parameter: value} of the instance's main.cf."""
        conf = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": "mta.mailseal-e2e.test",
            "mydomain": "mailseal-e2e.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "relay_domains": "",
            "local_recipient_maps": "",
            "inet_interfaces": LOCALHOST,
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "smtpd_relay_restrictions": "permit_mynetworks, reject_unauth_destination",
            "relayhost": "[%s]:%d" % (LOCALHOST, self.relay_port),
            "smtp_dns_support_level": "disabled",
            "alias_maps": "",
            "alias_database": "",
            "maillog_file": self.maillog_file,
            "maillog_file_prefixes": self.log_dir,
            "local_header_rewrite_clients": "",
            "smtpd_banner": "$myhostname ESMTP",
            "biff": "no",
            "readme_directory": "no",
            "in_flow_delay": "0s",
            "message_size_limit": "209715200",
            "mailbox_size_limit": "0",
            "milter_default_action": "tempfail",
            "milter_protocol": "6",
            "smtpd_milters": self.milter or "",
            "non_smtpd_milters": self.milter or "",
            "milter_connect_timeout": "5s",
            "milter_command_timeout": "30s",
            "milter_content_timeout": "60s",
            "smtp_connect_timeout": "5s",
            "queue_run_delay": "2s",
            "minimal_backoff_time": "2s",
            "maximal_backoff_time": "4s",
            "maximal_queue_lifetime": "1h",
            "bounce_queue_lifetime": "1h",
        }
        conf.update(self.extra)
        return conf

    def _write_config(self):
        os.makedirs(self.config_dir, exist_ok=True)
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            f.write("# private Postfix instance for mailseal tests\n")
            for k, v in self.main_cf().items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write(MASTER_CF.format(listen="%s:%d" % (LOCALHOST, self.port)))

    # -- commands

    def command(self, *args, timeout=60, check=True):
        """command - run `postfix -c DIR ARGS` on a pseudo terminal; returns
        its output, raises RuntimeError (with the maillog tail) on failure."""
        argv = [which("postfix") or "postfix", "-c", self.config_dir] + list(args)
        rc, out = run_quiet(argv, timeout=timeout, tty=True)
        if rc != 0 and check:
            raise RuntimeError("%s failed (%d):\n%s\n--- maillog tail ---\n%s"
                               % (shlex.join(argv), rc, out, self.maillog()[-3000:]))
        return out

    def postconf(self, **params):
        """postconf - set main.cf parameters (postconf -e); reload yourself."""
        argv = [which("postconf") or "postconf", "-c", self.config_dir, "-e"]
        argv += ["%s=%s" % kv for kv in params.items()]
        rc, out = run_quiet(argv)
        if rc != 0:
            raise RuntimeError("postconf failed: %s" % out)

    def start(self, timeout=30):
        """start - write the configuration and start the instance; returns
        when smtpd accepts connections."""
        os.makedirs(self.directory, mode=0o755, exist_ok=True)
        os.chmod(self.directory, 0o755)
        os.makedirs(self.queue_dir, mode=0o755, exist_ok=True)
        os.makedirs(self.log_dir, mode=0o755, exist_ok=True)
        os.makedirs(self.data_dir, mode=0o700, exist_ok=True)
        shutil.chown(self.data_dir, "postfix", "postfix")
        self._write_config()
        self.command("start")
        self.started = True
        self._master_pid = self.master_pid()
        if not wait_until(lambda: port_accepts(self.port), timeout):
            raise RuntimeError("postfix smtpd on port %d does not accept connections:\n%s"
                               % (self.port, self.maillog()[-3000:]))
        return self

    def master_pid(self):
        """master_pid - the master process's PID from its pid file, or None."""
        try:
            with open(os.path.join(self.queue_dir, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def stop(self, timeout=20):
        """stop - `postfix stop`, then wait for the master to exit (SIGKILL
        by PID after timeout seconds)."""
        pid = self.master_pid() or self._master_pid
        if self.started:
            try:
                self.command("stop", check=False, timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        if pid and pid_alive(pid):
            if not wait_until(lambda: not pid_alive(pid), timeout):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                wait_until(lambda: not pid_alive(pid), 5)
        self.started = False

    def reload(self):
        """reload - `postfix reload` (re-reads main.cf and master.cf)."""
        self.command("reload")
        time.sleep(0.5)  # the master restarts its services asynchronously

    def set_milter(self, milter):
        """set_milter - point smtpd_milters and non_smtpd_milters at milter
        (a Postfix milter address, or None for none) and reload."""
        self.milter = milter
        self.postconf(smtpd_milters=milter or "", non_smtpd_milters=milter or "")
        if self.started:
            self.reload()

    def flush(self):
        """flush - attempt delivery of every queued message now."""
        argv = [which("postqueue") or "postqueue", "-c", self.config_dir, "-f"]
        rc, out = run_quiet(argv)
        if rc != 0:
            raise RuntimeError("postqueue -f failed: %s" % out)

    def postqueue(self):
        """postqueue - the `postqueue -p` listing (for messages and logs)."""
        argv = [which("postqueue") or "postqueue", "-c", self.config_dir, "-p"]
        return run_quiet(argv)[1]

    # -- queue inspection

    def queue_ids(self, queue):
        """queue_ids - the queue ids of the messages in one queue
        (hold, active, deferred, incoming, maildrop)."""
        top = os.path.join(self.queue_dir, queue)
        ids = []
        for dirpath, _, files in os.walk(top):
            ids.extend(files)
        return sorted(ids)

    def count(self, *queues):
        """count - number of messages in the named queues (default: all but hold)."""
        queues = queues or ("maildrop", "incoming", "active", "deferred")
        return sum(len(self.queue_ids(q)) for q in queues)

    def hold_count(self):
        """hold_count - messages in the hold queue (milter quarantine)."""
        return self.count("hold")

    def pending_count(self):
        """pending_count - messages still to be delivered (not held)."""
        return self.count()

    def wait_queue_empty(self, timeout=30):
        """wait_queue_empty - True once nothing waits for delivery."""
        return wait_until(lambda: self.pending_count() == 0, timeout, 0.1)

    def maillog(self):
        """maillog - the instance's log text so far."""
        return read_text(self.maillog_file)


def milter_socket(obj, transport, path, unix_scheme="unix:"):
    """milter_socket - set obj.port, obj.socket_path, obj.spec (the milter's
    own socket argument) and obj.postfix_socket (for smtpd_milters):
    transport "inet" is 127.0.0.1 on a free port (socket_path None),
    otherwise the unix socket path (port None)."""
    if transport == "inet":
        obj.port, obj.socket_path = free_port(), None
        obj.spec = "inet:%d@%s" % (obj.port, LOCALHOST)
        obj.postfix_socket = "inet:%s:%d" % (LOCALHOST, obj.port)
    else:
        obj.port, obj.socket_path = None, path
        obj.spec = unix_scheme + path
        obj.postfix_socket = "unix:" + path


# ---------------------------------------------------------------------------
# OpenDKIM, the peer milter (DKIM tests, MTA benchmark)

# the fields OpenDKIM signs (packaging/postfix/opendkim.conf.snippet has the same list)
SIGN_HEADERS = ("From,Sender,Reply-To,Subject,Date,Message-ID,To,Cc,MIME-Version,"
                "Content-Type,Content-Transfer-Encoding,In-Reply-To,References")

class OpenDKIM:
    """A real OpenDKIM in signing mode for DOMAIN with a generated RSA-2048
    key, all files in DIRECTORY (key, configuration, pid file, log), run in
    the foreground and stopped by PID.  transport "inet" listens on
    127.0.0.1:free port, "unix" on DIRECTORY/opendkim.sock."""

    def __init__(self, directory, domain="example.com", selector="mailseal-e2e",
                 transport="inet"):
        self.directory = directory
        self.domain = domain
        self.selector = selector
        milter_socket(self, transport, os.path.join(directory, "opendkim.sock"), "local:")
        self.key_path = os.path.join(directory, "dkim.key")
        self.conf_path = os.path.join(directory, "opendkim.conf")
        self.pid_path = os.path.join(directory, "opendkim.pid")
        self.log_path = os.path.join(directory, "opendkim.log")
        self.proc = None
        self._log = None
        os.makedirs(directory, mode=0o755, exist_ok=True)
        self.public_der = self._make_key()
        self._write_config()

    def _make_key(self):
        """_make_key - a fresh RSA-2048 private key (mode 0600); returns the
        public key as DER SubjectPublicKeyInfo."""
        old = os.umask(0o077)
        try:
            subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                            "rsa_keygen_bits:2048", "-out", self.key_path],
                           check=True, capture_output=True, timeout=120)
        finally:
            os.umask(old)
        return subprocess.run(["openssl", "pkey", "-in", self.key_path, "-pubout",
                               "-outform", "DER"],
                              check=True, capture_output=True, timeout=60).stdout

    def _write_config(self):
        """_write_config - opendkim.conf: sign for DOMAIN, mail from loopback."""
        with open(self.conf_path, "w") as f:
            f.write("# OpenDKIM for mailseal's DKIM e2e test: sign only, no DNS\n"
                    "Mode s\n"
                    "Domain %s\n"
                    "Selector %s\n"
                    "KeyFile %s\n"
                    "Canonicalization relaxed/relaxed\n"
                    "# OpenDKIM 2.11 signs only RFC 6376's SHOULD list by default\n"
                    "# (no Content-Type, MIME-Version, Message-ID): name them\n"
                    "SignHeaders %s\n"
                    "OversignHeaders From\n"
                    "InternalHosts 127.0.0.1,::1\n"
                    "Socket %s\n"
                    "PidFile %s\n"
                    "Background no\n"
                    "Syslog no\n"
                    "UMask 022\n"
                    "# the work directory is under /tmp (world-writable), which\n"
                    "# OpenDKIM's safe-file check refuses for the key and this file\n"
                    "RequireSafeKeys no\n"
                    % (self.domain, self.selector, self.key_path, SIGN_HEADERS,
                       self.spec, self.pid_path))

    def txt_record(self):
        """txt_record - the DNS TXT record that publishes the public key."""
        return b"v=DKIM1; k=rsa; p=" + base64.b64encode(self.public_der)

    def dnsfunc(self, name, timeout=5):
        """dnsfunc - dkimpy's DNS lookup: the TXT record for
        SELECTOR._domainkey.DOMAIN, nothing for any other name."""
        want = ("%s._domainkey.%s" % (self.selector, self.domain)).encode()
        if isinstance(name, str):
            name = name.encode()
        return self.txt_record() if name.rstrip(b".").lower() == want else None

    def start(self, timeout=20):
        """start - run opendkim -f; returns once its port accepts."""
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([which("opendkim"), "-f", "-x", self.conf_path],
                                     stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.directory)
        ok = wait_until(lambda: self.accepts() or self.proc.poll() is not None, timeout)
        if self.proc.poll() is not None or not ok:
            raise RuntimeError("opendkim did not come up on %s (exit %s):\n%s"
                               % (self.postfix_socket, self.proc.poll(), self.log()))
        if self.port is None:              # Postfix's smtpd runs as postfix
            os.chmod(self.socket_path, 0o666)
        return self

    def accepts(self):
        """accepts - True when the socket takes connections."""
        return port_accepts(self.port) if self.port else unix_accepts(self.socket_path)

    def stop(self, timeout=10):
        """stop - SIGTERM by PID, SIGKILL after timeout; reaps the process."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        if self._log:
            self._log.close()
            self._log = None

    def log(self):
        """log - what opendkim wrote to stdout/stderr (it logs nothing else here)."""
        return read_text(self.log_path)


def pid_alive(pid):
    """pid_alive - True when a process pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


# ---------------------------------------------------------------------------
# the daemon

def yaml_dump(obj, indent=0):
    """yaml_dump - obj (dict, list, str, int, bool, None) as block YAML;
    strings double-quoted with JSON escapes (valid YAML)."""
    pad = "  " * indent
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        out = ""
        for k, v in obj.items():
            if isinstance(v, (dict, list)) and v:
                out += "%s%s:\n%s" % (pad, k, yaml_dump(v, indent + 1))
            else:
                out += "%s%s: %s\n" % (pad, k, yaml_scalar(v))
        return out
    if isinstance(obj, list):
        if not obj:
            return pad + "[]\n"
        out = ""
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                body = yaml_dump(v, indent + 1)
                out += "%s- %s" % (pad, body[len(pad) + 2:])
            else:
                out += "%s- %s\n" % (pad, yaml_scalar(v))
        return out
    return pad + yaml_scalar(obj) + "\n"


def yaml_scalar(v):
    """yaml_scalar - one scalar (or empty collection) in YAML flow form."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, (dict, list)):
        return "{}" if isinstance(v, dict) else "[]"
    return json.dumps(str(v), ensure_ascii=False)


def milter_binary():
    """milter_binary - the daemon under test ($MAILSEAL_MILTER), or None."""
    path = os.environ.get("MAILSEAL_MILTER", "")
    return path if path and os.access(path, os.X_OK) else None


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


class Milter:
    """mailseal-milter run in the foreground with a generated configuration
    (DIRECTORY/mailseal.yaml) and rules file (DIRECTORY/rules.yaml); its
    stderr goes to DIRECTORY/milter.log.

    transport "inet" listens on 127.0.0.1:free port, "unix" on
    DIRECTORY/milter.sock.  config: extra top-level config sections, merged
    over the defaults (e.g. {"milter": {"user": "mailseal"}}).

    With MAILSEAL_VALGRIND=1 in the environment the daemon runs under
    valgrind's memcheck (scripts/valgrind-e2e.sh), which writes
    DIRECTORY/valgrind.PID.log; sanitizer_reports() then also returns every
    memory error and definite or indirect leak found there, so the test
    case's cleanup fails the test on any (suppressions: VALGRIND_SUPP)."""

    RELOAD_DONE = re.compile(r"reload failed|configuration generation \d+ in force")
    VALGRIND_EXIT = 97            # valgrind's exit status when it found errors
    VALGRIND_SUPP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "valgrind.supp")
    VALGRIND_SLOWDOWN = 4         # start-up timeouts are multiplied by this
    VALGRIND_EXTRA_EXIT = 120     # seconds added to the wait for the exit (leak check)

    def __init__(self, directory, rules=None, domains=("example.com",),
                 transport="inet", config=None, binary=None, create_secret=True):
        self.directory = directory
        self.binary = binary or milter_binary()
        self.transport = transport
        self.domains = list(domains)
        self.extra = config or {}
        self.config_path = os.path.join(directory, "mailseal.yaml")
        self.rules_path = os.path.join(directory, "rules.yaml")
        self.log_path = os.path.join(directory, "milter.log")
        self.secret_path = os.path.join(directory, "loop.key")
        self.spool_dir = os.path.join(directory, "spool")
        self.pid_file = os.path.join(directory, "milter.pid")
        milter_socket(self, transport, os.path.join(directory, "milter.sock"))
        self.proc = None
        self._log = None
        self.returncode = None
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o755)
        self.write_rules(rules if rules is not None else [])
        self.write_config()
        if create_secret:
            self.write_secret()

    # -- files

    def config(self):
        """config - the configuration as a dict (defaults + extra)."""
        conf = {
            "milter": {
                "socket": self.spec,
                "user": "",
                "pid_file": self.pid_file,
                "timeout": 60,
                "shutdown_timeout": 20,
                "log_level": "debug",
            },
            "organization": {"name": "Example Corp", "domains": self.domains},
            "rules": os.path.basename(self.rules_path),
            "spool": {"directory": self.spool_dir},
            "loop": {"secret_file": self.secret_path},
        }
        for k, v in self.extra.items():
            if isinstance(v, dict) and isinstance(conf.get(k), dict):
                conf[k] = dict(conf[k], **v)
            else:
                conf[k] = v
        return conf

    def user(self):
        """user - the user the daemon is configured to drop to, or None."""
        return self.config()["milter"].get("user") or None

    def write_config(self, text=None):
        """write_config - (re)write the config file: text as given, else
        generated from config()."""
        os.makedirs(self.spool_dir, mode=0o700, exist_ok=True)
        user = self.user()
        if user:
            shutil.chown(self.spool_dir, user, None)
        _write_atomic(self.config_path, text if text is not None else
                      "# mailseal e2e test configuration\n" + yaml_dump(self.config()))

    def write_rules(self, rules):
        """write_rules - (re)write the rules file atomically: a list of rule
        dicts (wrapped in "rules:"), or raw YAML text (str)."""
        if isinstance(rules, str):
            text = rules
        else:
            text = "# mailseal e2e test rules\n" + yaml_dump({"rules": rules}) if rules \
                else "rules: []\n"
        _write_atomic(self.rules_path, text)

    def write_secret(self):
        """write_secret - a fresh loop secret (64 hex digits), mode 0640,
        owned by root and the daemon user's group when it drops privileges."""
        fd = os.open(self.secret_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        user = self.user()
        if user:
            import pwd
            os.chown(self.secret_path, 0, pwd.getpwnam(user).pw_gid)
            os.chmod(self.secret_path, 0o640)

    # -- process

    def start(self, timeout=30, wait=True):
        """start - run the daemon; with wait, return once its socket accepts
        connections (RuntimeError with the log when it exits or times out)."""
        if not self.binary:
            raise RuntimeError("MAILSEAL_MILTER is not set to an executable")
        self._log = open(self.log_path, "ab")
        argv = self.valgrind_argv() + [self.binary, "-f", "-c", self.config_path, "-s", self.spec]
        if self.valgrind():
            timeout *= self.VALGRIND_SLOWDOWN
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, cwd=self.directory)
        self.returncode = None
        if wait:
            ok = wait_until(lambda: self.accepts() or self.proc.poll() is not None, timeout)
            if self.proc.poll() is not None:
                raise RuntimeError("mailseal-milter exited with %s at start:\n%s"
                                   % (self.proc.returncode, self.log()))
            if not ok:
                raise RuntimeError("mailseal-milter does not accept on %s after %ss:\n%s"
                                   % (self.spec, timeout, self.log()))
        return self

    def accepts(self):
        """accepts - True when the milter socket accepts a connection."""
        if self.transport == "inet":
            return port_accepts(self.port)
        return unix_accepts(self.socket_path)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        """signal - send sig to the daemon by PID."""
        os.kill(self.proc.pid, sig)

    def reload(self, timeout=15):
        """reload - SIGUSR1, then wait until the log reports the reload's
        result ("reload failed ..." or "... configuration generation N in
        force"); returns the log text written since the signal."""
        before = len(self.log())
        self.signal(signal.SIGUSR1)
        pat = self.RELOAD_DONE
        new = wait_until(lambda: (lambda t: t if pat.search(t) else "")(self.log()[before:]),
                         timeout)
        if not new:
            raise AssertionError("no reload result in the daemon log after %ss:\n%s"
                                 % (timeout, self.log()[before:]))
        time.sleep(0.2)  # let the rest of the report reach the log
        return self.log()[before:]

    def stop(self, timeout=None):
        """stop - SIGTERM, wait for the exit; returns the exit status
        (negative: killed by that signal), SIGKILL after the timeout."""
        if self.proc is None:
            return self.returncode
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
        return self.wait(timeout)

    def wait(self, timeout=None):
        """wait - wait for the exit (SIGKILL after timeout, default the
        configured shutdown_timeout + 15 s); returns the exit status."""
        if timeout is None:
            timeout = int(self.config()["milter"].get("shutdown_timeout", 60)) + 15
        if self.valgrind():
            timeout += self.VALGRIND_EXTRA_EXIT
        try:
            self.returncode = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close_log()
        return self.returncode

    def kill(self):
        """kill - SIGKILL by PID and reap."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.returncode = self.proc.wait(10)
        self._close_log()
        return self.returncode

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    def log(self):
        """log - everything the daemon wrote to stderr/stdout so far."""
        return read_text(self.log_path)

    def sanitizer_reports(self):
        """sanitizer_reports - the ASan/UBSan/LSan lines in the log, and
        under valgrind its reports (valgrind_reports())."""
        return [line for line in self.log().splitlines()
                if any(m in line for m in SANITIZER_MARKERS)] + self.valgrind_reports()

    # -- valgrind (MAILSEAL_VALGRIND=1)

    @staticmethod
    def valgrind():
        """valgrind - True when the daemon is to run under valgrind."""
        return os.environ.get("MAILSEAL_VALGRIND", "") not in ("", "0")

    def valgrind_argv(self):
        """valgrind_argv - the valgrind command line to put before the
        daemon's, [] when not under valgrind."""
        if not self.valgrind():
            return []
        vg = shutil.which("valgrind")
        if vg is None:
            raise RuntimeError("MAILSEAL_VALGRIND is set but valgrind is not installed")
        argv = [vg, "--tool=memcheck", "--leak-check=full",
                "--errors-for-leak-kinds=definite,indirect",
                "--show-leak-kinds=definite,indirect",
                "--error-exitcode=%d" % self.VALGRIND_EXIT, "--track-fds=no",
                "--num-callers=30", "--child-silent-after-fork=yes",
                # PCRE2's JIT writes code into anonymous memory it runs
                "--smc-check=all-non-file",
                "--log-file=" + os.path.join(self.directory, "valgrind.%p.log")]
        if os.path.exists(self.VALGRIND_SUPP):
            argv.append("--suppressions=" + self.VALGRIND_SUPP)
        return argv + shlex.split(os.environ.get("MAILSEAL_VALGRIND_ARGS", ""))

    def valgrind_logs(self):
        """valgrind_logs - the valgrind log files of this directory."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return []
        return sorted(os.path.join(self.directory, n) for n in names
                      if n.startswith("valgrind.") and n.endswith(".log"))

    VALGRIND_ERRORS = re.compile(r"ERROR SUMMARY: (\d+) errors")
    VALGRIND_LOST = re.compile(r"(definitely|indirectly) lost: ([\d,]+) bytes")

    def valgrind_reports(self):
        """valgrind_reports - one entry per valgrind log that shows a memory
        error or a definite/indirect leak (the whole log), or, for the last
        process started, that has no summary although it exited by itself
        (valgrind died).  Earlier processes may have been killed on purpose."""
        out = []
        last = "valgrind.%d.log" % self.proc.pid if self.proc is not None else None
        for path in self.valgrind_logs():
            text = read_text(path)
            errors = [int(n) for n in self.VALGRIND_ERRORS.findall(text)]
            lost = [int(n.replace(",", "")) for _, n in self.VALGRIND_LOST.findall(text)]
            if any(errors) or any(lost):
                out.append("valgrind: %s: %s error(s), %d byte(s) lost:\n%s"
                           % (path, "+".join(map(str, errors)), sum(lost), text[-20000:]))
            elif (not errors and os.path.basename(path) == last
                  and self.returncode is not None and self.returncode >= 0):
                out.append("valgrind: %s: no error summary although the daemon exited "
                           "with %s:\n%s" % (path, self.returncode, text[-4000:]))
        return out


def _write_atomic(path, text):
    """_write_atomic - replace path by text (mode 0644) in one rename."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# SMTP client

class SendResult:
    """The outcome of one SMTP transaction.

    code/text: the reply that decided it (the DATA reply when accepted,
    else the refusal); stage: "connect", "ehlo", "mail", "rcpt", "data" or
    "sent"; refused: {recipient: (code, text)} for refused recipients;
    queue_id: Postfix's queue id from "queued as ID" when accepted."""

    def __init__(self, code, text, stage, refused=None):
        self.code = code
        self.text = text
        self.stage = stage
        self.refused = refused or {}
        m = re.search(r"queued as (\S+)", text or "")
        self.queue_id = m.group(1) if m and stage == "sent" else None

    @property
    def accepted(self):
        return self.stage == "sent" and self.code is not None and 200 <= self.code < 300

    @property
    def tempfailed(self):
        return self.code is not None and 400 <= self.code < 500

    @property
    def rejected(self):
        return self.code is not None and 500 <= self.code < 600

    def __repr__(self):
        return "<SendResult %s %s at %s%s>" % (
            self.code, self.text, self.stage,
            " refused=%r" % self.refused if self.refused else "")


def _decode(b):
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


def send(port, mail_from, rcpts, message, host=LOCALHOST, timeout=60):
    """send - one SMTP transaction to host:port: EHLO, MAIL FROM, RCPT TO
    for each of rcpts, DATA with message (bytes or str, line endings made
    CRLF).  Never raises for SMTP refusals: returns a SendResult."""
    if isinstance(rcpts, str):
        rcpts = [rcpts]
    data = crlf(message)
    stage = "connect"
    try:
        with smtplib.SMTP(host, port, local_hostname="client.mailseal-e2e.test",
                          timeout=timeout) as s:
            stage = "ehlo"
            code, resp = s.ehlo()
            if code != 250:
                return SendResult(code, _decode(resp), stage)
            stage = "mail"
            opts = ["BODY=8BITMIME"] if s.has_extn("8bitmime") else []
            code, resp = s.mail(mail_from, opts)
            if code != 250:
                return SendResult(code, _decode(resp), stage)
            stage = "rcpt"
            refused = {}
            last = None
            for r in rcpts:
                code, resp = s.rcpt(r)
                if code not in (250, 251):
                    refused[r] = (code, _decode(resp))
                    last = (code, _decode(resp))
            if len(refused) == len(rcpts):
                return SendResult(last[0], last[1], stage, refused)
            stage = "data"
            code, resp = s.data(data)
            if code != 250:
                return SendResult(code, _decode(resp), stage, refused)
            return SendResult(code, _decode(resp), "sent", refused)
    except smtplib.SMTPResponseException as e:
        # SMTPConnectError, SMTPDataError (no 354), SMTPSenderRefused, ...
        return SendResult(e.smtp_code, _decode(e.smtp_error), stage)
    except smtplib.SMTPRecipientsRefused as e:
        items = {r: (c, _decode(t)) for r, (c, t) in e.recipients.items()}
        code, text = next(iter(items.values()))
        return SendResult(code, text, "rcpt", items)
    except (smtplib.SMTPServerDisconnected, OSError) as e:
        return SendResult(None, "%s: %s" % (type(e).__name__, e), stage)


def open_session(port, mail_from=None, rcpts=(), host=LOCALHOST, timeout=60):
    """open_session - an smtplib.SMTP connected and greeted (EHLO), with
    MAIL FROM and RCPT TO already sent when given (AssertionError if refused)."""
    s = smtplib.SMTP(host, port, local_hostname="client.mailseal-e2e.test", timeout=timeout)
    s.ehlo()
    if mail_from is not None:
        code, resp = s.mail(mail_from, ["BODY=8BITMIME"])
        if code != 250:
            s.close()
            raise AssertionError("MAIL FROM refused: %d %s" % (code, _decode(resp)))
        for r in rcpts:
            code, resp = s.rcpt(r)
            if code not in (250, 251):
                s.close()
                raise AssertionError("RCPT TO %s refused: %d %s" % (r, code, _decode(resp)))
    return s


# ---------------------------------------------------------------------------
# unittest base class

class E2ETestCase(unittest.TestCase):
    """Base class: each test gets self.dir (a fresh work directory) and the
    helpers start_sink(), start_milter(), start_postfix(); a cleanup stops
    what was started (Postfix, then the daemon, then the sink), by PID,
    whether the test passed or not, prints the logs when it failed, fails
    the test on sanitizer reports in the daemon log, and removes self.dir."""

    needs_milter = False

    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("end-to-end tests need root (Postfix is started as root)")
        if not which("postfix"):
            self.skipTest("postfix not installed (run scripts/install-deps.sh)")
        if self.needs_milter and not milter_binary():
            self.skipTest("MAILSEAL_MILTER does not name the mailseal-milter binary")
        self.dir = tempfile.mkdtemp(prefix="mailseal-e2e-%s-" % self._testMethodName[:40])
        os.chmod(self.dir, 0o755)
        self.sink = None
        self.postfix = None
        self.milters = []
        self.addCleanup(self._cleanup)

    # -- helpers

    def start_sink(self):
        self.sink = Sink(os.path.join(self.dir, "sink")).start()
        return self.sink

    def start_milter(self, rules=None, name="milter", **kw):
        """start_milter - a Milter in self.dir/name, started (kw: see Milter)."""
        m = Milter(os.path.join(self.dir, name), rules=rules, **kw)
        self.milters.append(m)
        return m.start()

    def start_postfix(self, milter=None, **kw):
        """start_postfix - Postfix relaying to self.sink; milter: a Milter,
        a Postfix milter address, or None."""
        if self.sink is None:
            self.start_sink()
        if isinstance(milter, Milter):
            milter = milter.postfix_socket
        self.postfix = Postfix(os.path.join(self.dir, "postfix"), self.sink.port,
                               milter=milter, **kw)
        self.postfix.start()
        return self.postfix

    def send(self, message, rcpts=("bob@partner.test",), mail_from="alice@example.com"):
        """send - send message through self.postfix."""
        return send(self.postfix.port, mail_from, list(rcpts), message)

    def assertAccepted(self, result):
        self.assertTrue(result.accepted, "message not accepted: %r" % (result,))

    def assertNothingDelivered(self, settle=3.0):
        """assertNothingDelivered - after Postfix's queue settles, the sink
        still has nothing."""
        self.postfix.wait_queue_empty(30)
        time.sleep(settle)
        self.assertEqual(self.sink.messages(), [])

    # -- cleanup

    def _failed(self):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        if result is None:
            return True
        bad = list(getattr(result, "errors", [])) + list(getattr(result, "failures", []))
        return any(t is self for t, _ in bad)

    def _cleanup(self):
        problems = []
        if self.postfix is not None:
            try:
                self.postfix.stop()
            except Exception as e:  # keep stopping the rest
                problems.append("postfix stop: %s" % e)
        for m in self.milters:
            if m.running():
                m.stop(timeout=15)
            m.kill()
        if self.sink is not None:
            self.sink.stop()
        if self._failed():
            self._dump_logs()
        for m in self.milters:
            reports = m.sanitizer_reports()
            if reports:
                problems.append("sanitizer reports in %s:\n%s\n--- log ---\n%s"
                                % (m.log_path, "\n".join(reports), m.log()[-8000:]))
        if os.environ.get("MAILSEAL_E2E_KEEP"):
            print("kept work directory %s" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)
        if problems:
            self.fail("\n".join(problems))

    def _dump_logs(self):
        out = ["", "===== logs of %s (work directory %s) =====" % (self.id(), self.dir)]
        for m in self.milters:
            out += ["--- %s ---" % m.log_path, m.log()[-10000:]]
        if self.postfix is not None:
            out += ["--- %s ---" % self.postfix.maillog_file, self.postfix.maillog()[-10000:]]
        if self.sink is not None:
            out += ["--- sink: %d message(s) ---" % self.sink.count()]
        print("\n".join(out), flush=True)


# ---------------------------------------------------------------------------
# an upstream MTA: a second, sending Postfix (fault-injection tests)

class SendingPostfix(Postfix):
    """A private Postfix that plays the upstream MTA in front of a gateway:
    it queues whatever it is given (over SMTP on 127.0.0.1:port) and relays
    everything to [127.0.0.1]:relay_port with at most concurrency
    deliveries at a time, retrying a deferred message every retry to
    2 * retry seconds, as a real upstream MTA does after a 4xx.  No
    milter.  Its myhostname differs from the gateway's: Postfix's SMTP
    client refuses a server that greets with its own name ("mail ...
    loops back to myself").  Each delivery opens its own connection: a
    gateway smtpd session that began while its milter was down answers
    451 4.7.1 to every later MAIL FROM, so a cached connection would keep
    failing long after the milter is back."""

    MSGID_LINE = re.compile(r"\b([0-9A-Za-z]{6,}): message-id=<([^>]*)>")
    TWICE_LINE = re.compile(r"\b([0-9A-Za-z]{6,}): .*may be sent more than once")

    def __init__(self, directory, relay_port, port=None, retry=1, concurrency=4,
                 extra=None):
        conf = {
            "myhostname": "upstream.mailseal-e2e.test",
            "queue_run_delay": "%ds" % retry,
            "minimal_backoff_time": "%ds" % retry,
            "maximal_backoff_time": "%ds" % (2 * retry),
            "default_destination_concurrency_limit": str(concurrency),
            "smtp_destination_concurrency_limit": str(concurrency),
            "smtp_connection_cache_on_demand": "no",
        }
        conf.update(extra or {})
        super().__init__(directory, relay_port, port=port, milter=None, extra=conf)

    def queued_ids(self):
        """queued_ids - {queue id: queue name} of every message still in the
        instance, held and corrupt ones included."""
        return {qid: q for q in QUEUES for qid in self.queue_ids(q)}

    def message_ids(self):
        """message_ids - {queue id: Message-ID without <>} from cleanup's log lines."""
        return dict(self.MSGID_LINE.findall(self.maillog()))

    def sent_maybe_twice(self):
        """sent_maybe_twice - the queue ids whose delivery lost the
        connection after the end of data, so that SMTP allows a duplicate
        ("message may be sent more than once")."""
        return set(self.TWICE_LINE.findall(self.maillog()))


# ---------------------------------------------------------------------------
# command line (used by scripts/demo.sh): one Postfix configuration for all

def main(argv=None):
    """main - `postfix-start DIR --port P --relay-port R [--milter M]` and
    `postfix-stop DIR`: a private Postfix instance under DIR."""
    import argparse
    ap = argparse.ArgumentParser(prog="mailseal_e2e.py",
                                 description="private Postfix instance for tests and the demo")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("postfix-start", help="write the configuration and start")
    st.add_argument("dir")
    st.add_argument("--port", type=int, required=True, help="smtpd port on 127.0.0.1")
    st.add_argument("--relay-port", type=int, required=True, help="sink port on 127.0.0.1")
    st.add_argument("--milter", default=None, help="Postfix milter address")
    sp = sub.add_parser("postfix-stop", help="stop the instance (by its master PID)")
    sp.add_argument("dir")
    args = ap.parse_args(argv)
    try:
        if args.cmd == "postfix-start":
            pf = Postfix(os.path.abspath(args.dir), args.relay_port, port=args.port,
                         milter=args.milter)
            pf.start()
            print("postfix: master pid %s, smtpd on %s:%d, log %s"
                  % (pf.master_pid(), LOCALHOST, pf.port, pf.maillog_file))
        else:
            pf = Postfix(os.path.abspath(args.dir), 0)
            pf.started = os.path.exists(os.path.join(pf.config_dir, "main.cf"))
            pf.stop()
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        print("mailseal_e2e.py %s: %s" % (args.cmd, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
