#!/usr/bin/env python3
"""milter_proto - a protocol-level milter client (the MTA's side of the
Sendmail milter protocol, version 6), Python standard library only.

It speaks straight to a milter socket, the way Postfix's milter8 client
does, so a test can hand the milter exactly the bytes it wants (bare CR,
NUL, header values of any size) and see every answer:

    with MilterClient.inet(port) as mc:          # or MilterClient.unix(path)
        mc.negotiate()                           # OPTNEG
        mc.connect_info()                        # CONNECT (+ macros)
        r = mc.message("alice@example.com", ["bob@partner.test"],
                       headers, body_chunks)     # HELO .. EOM
        r.stage, r.reply, r.code, r.actions, r.body()

Packets are a 4-byte length in network order, one command byte, and the
data.  The client honours what the milter negotiates:
  - steps the milter asks to be left out (SMFIP_NOHELO, _NOMAIL, ...) are
    not sent;
  - steps the milter asks not to answer (SMFIP_NR_HDR, _NR_BODY, ...) are
    sent without waiting for a reply;
  - a final reply before end of message (accept, reject, tempfail,
    discard, a reply code) ends the message there, with an ABORT as an MTA
    sends one; SMFIS_SKIP during the body skips to end of message.
Body chunks are at most MAX_CHUNK (65535) bytes, as libmilter expects.
A header field goes out as it is given: name NUL value NUL, the value with
its leading space when SMFIP_HDR_LEADSPC was negotiated.

Errors: ProtocolError when the milter answers what the protocol does not
allow, MilterClosed when it closes the connection, socket.timeout (an
OSError) when it does not answer within the client's timeout.
"""

import socket
import struct
import time

# -- commands (MTA to milter)
SMFIC_ABORT = b"A"
SMFIC_BODY = b"B"
SMFIC_CONNECT = b"C"
SMFIC_MACRO = b"D"
SMFIC_BODYEOB = b"E"
SMFIC_HELO = b"H"
SMFIC_QUIT_NC = b"K"
SMFIC_HEADER = b"L"
SMFIC_MAIL = b"M"
SMFIC_EOH = b"N"
SMFIC_OPTNEG = b"O"
SMFIC_QUIT = b"Q"
SMFIC_RCPT = b"R"
SMFIC_DATA = b"T"
SMFIC_UNKNOWN = b"U"

# -- replies and actions (milter to MTA)
SMFIR_ADDRCPT = b"+"
SMFIR_DELRCPT = b"-"
SMFIR_ADDRCPT_PAR = b"2"
SMFIR_SHUTDOWN = b"4"
SMFIR_ACCEPT = b"a"
SMFIR_REPLBODY = b"b"
SMFIR_CONTINUE = b"c"
SMFIR_DISCARD = b"d"
SMFIR_CHGFROM = b"e"
SMFIR_CONN_FAIL = b"f"
SMFIR_ADDHEADER = b"h"
SMFIR_INSHEADER = b"i"
SMFIR_SETSYMLIST = b"l"
SMFIR_CHGHEADER = b"m"
SMFIR_PROGRESS = b"p"
SMFIR_QUARANTINE = b"q"
SMFIR_REJECT = b"r"
SMFIR_SKIP = b"s"
SMFIR_TEMPFAIL = b"t"
SMFIR_REPLYCODE = b"y"

FINAL_REPLIES = {SMFIR_ACCEPT: "accept", SMFIR_CONTINUE: "continue",
                 SMFIR_DISCARD: "discard", SMFIR_REJECT: "reject",
                 SMFIR_TEMPFAIL: "tempfail", SMFIR_REPLYCODE: "replycode",
                 SMFIR_SKIP: "skip", SMFIR_SHUTDOWN: "shutdown",
                 SMFIR_CONN_FAIL: "connfail"}
ACTIONS = {SMFIR_ADDRCPT: "addrcpt", SMFIR_DELRCPT: "delrcpt",
           SMFIR_ADDRCPT_PAR: "addrcpt_par", SMFIR_REPLBODY: "replbody",
           SMFIR_CHGFROM: "chgfrom", SMFIR_ADDHEADER: "addheader",
           SMFIR_INSHEADER: "insheader", SMFIR_CHGHEADER: "chgheader",
           SMFIR_QUARANTINE: "quarantine"}

# -- actions the MTA offers (SMFIF_*)
SMFIF_ADDHDRS = 0x001
SMFIF_CHGBODY = 0x002
SMFIF_ADDRCPT = 0x004
SMFIF_DELRCPT = 0x008
SMFIF_CHGHDRS = 0x010
SMFIF_QUARANTINE = 0x020
SMFIF_CHGFROM = 0x040
SMFIF_ADDRCPT_PAR = 0x080
SMFIF_SETSYMLIST = 0x100
ALL_ACTIONS = 0x1ff

# -- protocol steps (SMFIP_*)
SMFIP_NOCONNECT = 0x000001
SMFIP_NOHELO = 0x000002
SMFIP_NOMAIL = 0x000004
SMFIP_NORCPT = 0x000008
SMFIP_NOBODY = 0x000010
SMFIP_NOHDRS = 0x000020
SMFIP_NOEOH = 0x000040
SMFIP_NR_HDR = 0x000080
SMFIP_NOUNKNOWN = 0x000100
SMFIP_NODATA = 0x000200
SMFIP_SKIP = 0x000400
SMFIP_RCPT_REJ = 0x000800
SMFIP_NR_CONN = 0x001000
SMFIP_NR_HELO = 0x002000
SMFIP_NR_MAIL = 0x004000
SMFIP_NR_RCPT = 0x008000
SMFIP_NR_DATA = 0x010000
SMFIP_NR_UNKN = 0x020000
SMFIP_NR_EOH = 0x040000
SMFIP_NR_BODY = 0x080000
SMFIP_HDR_LEADSPC = 0x100000
ALL_STEPS = 0x1fffff          # what Postfix 3.7 offers (no MDS_* sizes)

SMFI_PROT_VERSION = 6
MAX_CHUNK = 65535             # body bytes per SMFIC_BODY, libmilter's limit
MAX_PACKET = 64 << 20         # longest packet accepted from the milter

# step -> (flag that leaves it out, flag that leaves its reply out)
STEPS = {
    SMFIC_CONNECT: (SMFIP_NOCONNECT, SMFIP_NR_CONN),
    SMFIC_HELO: (SMFIP_NOHELO, SMFIP_NR_HELO),
    SMFIC_MAIL: (SMFIP_NOMAIL, SMFIP_NR_MAIL),
    SMFIC_RCPT: (SMFIP_NORCPT, SMFIP_NR_RCPT),
    SMFIC_DATA: (SMFIP_NODATA, SMFIP_NR_DATA),
    SMFIC_HEADER: (SMFIP_NOHDRS, SMFIP_NR_HDR),
    SMFIC_EOH: (SMFIP_NOEOH, SMFIP_NR_EOH),
    SMFIC_BODY: (SMFIP_NOBODY, SMFIP_NR_BODY),
    SMFIC_UNKNOWN: (SMFIP_NOUNKNOWN, SMFIP_NR_UNKN),
}


class ProtocolError(Exception):
    """The milter sent something the protocol does not allow here."""


class MilterClosed(ProtocolError):
    """The milter closed the connection."""


class Action:
    """One modification the milter asked for at end of message."""

    def __init__(self, code, data):
        self.code = code
        self.name = ACTIONS.get(code, repr(code))
        self.data = data

    def fields(self):
        """fields - the action's arguments: (index, name, value) for
        chgheader/insheader, (name, value) for addheader, (bytes,) for
        replbody, the NUL-separated strings otherwise."""
        if self.code in (SMFIR_CHGHEADER, SMFIR_INSHEADER):
            idx = struct.unpack("!I", self.data[:4])[0]
            name, value = _split_nul(self.data[4:], 2)
            return (idx, name, value)
        if self.code == SMFIR_REPLBODY:
            return (self.data,)
        return tuple(_split_nul(self.data, None))

    def __repr__(self):
        if self.code == SMFIR_REPLBODY:
            return "<Action replbody %d bytes>" % len(self.data)
        return "<Action %s %r>" % (self.name, self.fields())


class Result:
    """The milter's verdict on one message.

    stage: the step that drew the final reply ("mail", "rcpt", "data",
    "header", "eoh", "body", "eom"); reply: "continue", "accept",
    "reject", "tempfail", "discard" or "replycode"; text: a reply code's
    text ("550 5.7.1 ..."); code: its number (None for the others);
    actions: the modifications (Action) in the order they came;
    seconds: wall time from MAIL to the final reply."""

    def __init__(self, stage, reply, text=None, actions=(), seconds=0.0):
        self.stage = stage
        self.reply = reply
        self.text = text
        self.code = int(text[:3]) if text and text[:3].isdigit() else None
        self.actions = list(actions)
        self.seconds = seconds

    @property
    def kind(self):
        """kind - "accept" (passed untouched), "modified" (passed with
        changes), "encrypted" (body replaced), "reject" (5xx), "tempfail"
        (4xx) or "discard"."""
        if self.reply == "replycode":
            return "reject" if self.text.startswith("5") else "tempfail"
        if self.reply in ("reject", "tempfail", "discard"):
            return self.reply
        if any(a.code == SMFIR_REPLBODY for a in self.actions):
            return "encrypted"
        return "modified" if self.actions else "accept"

    def body(self):
        """body - the replacement body (every replbody chunk joined), or None."""
        chunks = [a.data for a in self.actions if a.code == SMFIR_REPLBODY]
        return b"".join(chunks) if chunks else None

    def headers_added(self):
        """headers_added - [(name, value)] of addheader and insheader actions."""
        out = []
        for a in self.actions:
            if a.code == SMFIR_ADDHEADER:
                out.append(tuple(a.fields()[:2]))
            elif a.code == SMFIR_INSHEADER:
                out.append(tuple(a.fields()[1:]))
        return out

    def __repr__(self):
        return "<Result %s at %s%s, %d action(s), %.2fs>" % (
            self.reply, self.stage, " %r" % self.text if self.text else "",
            len(self.actions), self.seconds)


def _split_nul(data, n):
    """_split_nul - the NUL-terminated strings in data (bytes), n of them
    (None: all)."""
    parts = data.split(b"\0")
    if parts and parts[-1] == b"":
        parts.pop()
    if n is not None:
        if len(parts) < n:
            raise ProtocolError("expected %d strings in %r" % (n, data[:80]))
        parts = parts[:n - 1] + [b"\0".join(parts[n - 1:])]
    return parts


def _b(s):
    """_b - s as bytes (str is UTF-8 encoded)."""
    return s.encode("utf-8", "surrogateescape") if isinstance(s, str) else bytes(s)


class MilterClient:
    """One MTA-side connection to a milter.  timeout: seconds to wait for
    each reply (a step without reply never waits)."""

    def __init__(self, sock, timeout=60.0):
        self.sock = sock
        self.sock.settimeout(timeout)
        self.timeout = timeout
        self.version = None
        self.actions = 0
        self.protocol = 0
        self.symlists = {}
        self.sent_bytes = 0

    # -- construction

    @classmethod
    def inet(cls, port, host="127.0.0.1", timeout=60.0):
        """inet - connect to host:port."""
        s = socket.create_connection((host, port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(s, timeout)

    @classmethod
    def unix(cls, path, timeout=60.0):
        """unix - connect to the unix socket path."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(path)
        return cls(s, timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """close - QUIT (when the socket still works) and close."""
        if self.sock is None:
            return
        try:
            self.sock.settimeout(2)
            self._send(SMFIC_QUIT)
        except OSError:
            pass
        self.sock.close()
        self.sock = None

    # -- packets

    def _send(self, cmd, data=b""):
        """_send - one packet."""
        pkt = struct.pack("!I", len(data) + 1) + cmd + data
        self.sock.sendall(pkt)
        self.sent_bytes += len(pkt)

    def _recv_exact(self, n):
        """_recv_exact - exactly n bytes (MilterClosed on end of stream)."""
        buf = bytearray()
        while len(buf) < n:
            chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            if not chunk:
                raise MilterClosed("milter closed the connection (%d of %d bytes read)"
                                   % (len(buf), n))
            buf += chunk
        return bytes(buf)

    def read_packet(self):
        """read_packet - (command byte, data) of the next packet."""
        (length,) = struct.unpack("!I", self._recv_exact(4))
        if length < 1 or length > MAX_PACKET:
            raise ProtocolError("bad packet length %d" % length)
        data = self._recv_exact(length)
        return data[:1], data[1:]

    def _reply(self, actions=None):
        """_reply - read up to the final reply of a step: (reply name, text);
        modification actions go to actions (a list) when given, else they
        are a protocol error; progress packets are skipped."""
        while True:
            code, data = self.read_packet()
            if code == SMFIR_PROGRESS:
                continue
            if code in ACTIONS:
                if actions is None:
                    raise ProtocolError("action %r outside end of message" % code)
                actions.append(Action(code, data))
                continue
            if code in FINAL_REPLIES:
                text = None
                if code == SMFIR_REPLYCODE:
                    text = data.rstrip(b"\0").decode("utf-8", "replace")
                return FINAL_REPLIES[code], text
            raise ProtocolError("unknown reply %r (%d bytes)" % (code, len(data)))

    def _skipped(self, cmd):
        """_skipped - True when the milter asked the MTA to leave step cmd out."""
        flags = STEPS.get(cmd)
        return flags is not None and bool(self.protocol & flags[0])

    def _noreply(self, cmd):
        """_noreply - True when step cmd gets no reply (negotiated NR_*)."""
        flags = STEPS.get(cmd)
        return flags is not None and bool(self.protocol & flags[1])

    def step(self, cmd, data=b"", actions=None):
        """step - send one step unless it is left out; its reply, or
        ("continue", None) when it has none."""
        if self._skipped(cmd):
            return "continue", None
        self._send(cmd, data)
        if self._noreply(cmd):
            return "continue", None
        return self._reply(actions)

    def macros(self, for_cmd, pairs):
        """macros - SMFIC_MACRO for the step for_cmd: pairs {name: value};
        no reply."""
        data = for_cmd
        for k, v in pairs.items():
            data += _b(k) + b"\0" + _b(v) + b"\0"
        self._send(SMFIC_MACRO, data)

    # -- the session

    def negotiate(self, actions=ALL_ACTIONS, protocol=ALL_STEPS, version=SMFI_PROT_VERSION):
        """negotiate - OPTNEG: offer actions and protocol steps; keeps and
        returns what the milter asked for (version, actions, protocol)."""
        self._send(SMFIC_OPTNEG, struct.pack("!III", version, actions, protocol))
        code, data = self.read_packet()
        if code != SMFIC_OPTNEG or len(data) < 12:
            raise ProtocolError("bad OPTNEG reply %r %r" % (code, data[:40]))
        self.version, self.actions, self.protocol = struct.unpack("!III", data[:12])
        if self.actions & ~actions:
            raise ProtocolError("milter wants actions 0x%x, offered 0x%x" % (self.actions, actions))
        if self.protocol & ~protocol:
            raise ProtocolError("milter wants steps 0x%x, offered 0x%x" % (self.protocol, protocol))
        rest = data[12:]
        while len(rest) >= 4:                    # SMFIR_SETSYMLIST lists
            (where,) = struct.unpack("!I", rest[:4])
            names, _, rest = rest[4:].partition(b"\0")
            self.symlists[where] = names.decode("ascii", "replace")
        return self.version, self.actions, self.protocol

    def connect_info(self, hostname="client.mailseal-e2e.test", addr="127.0.0.1", port=40000,
                     macros=None):
        """connect_info - CONNECT from an IPv4 client; the reply name."""
        self.macros(SMFIC_CONNECT, macros or {"j": "mta.mailseal-e2e.test",
                                              "_": "client [%s]" % addr,
                                              "{daemon_name}": "mailseal-proto"})
        data = _b(hostname) + b"\0" + b"4" + struct.pack("!H", port) + _b(addr) + b"\0"
        return self.step(SMFIC_CONNECT, data)[0]

    def message(self, mail_from, rcpts, headers, body, qid="PROTO1", helo="client.test",
                abort_on_reject=True):
        """message - one message: HELO, MAIL, RCPT (each), DATA, the header
        fields ((name, value) pairs, bytes or str), EOH, the body (bytes, or
        an iterable of bytes: re-cut into chunks of at most MAX_CHUNK
        bytes), EOM.  A final reply before EOM ends the message (then an
        ABORT follows, as an MTA sends it).  Returns a Result."""
        t0 = time.monotonic()
        leadspc = bool(self.protocol & SMFIP_HDR_LEADSPC)
        actions = []

        def done(stage, reply):
            return Result(stage, reply[0], reply[1], actions, time.monotonic() - t0)

        def final(reply):
            return reply[0] not in ("continue",)

        if helo is not None:
            r = self.step(SMFIC_HELO, _b(helo) + b"\0")
            if final(r):
                return done("helo", r)
        self.macros(SMFIC_MAIL, {"i": qid, "{mail_addr}": mail_from})
        r = self.step(SMFIC_MAIL, b"<" + _b(mail_from) + b">\0")
        if final(r):
            return self._ended(done("mail", r), abort_on_reject)
        taken = 0
        last = r
        for rcpt in rcpts:
            self.macros(SMFIC_RCPT, {"i": qid, "{rcpt_addr}": rcpt})
            last = self.step(SMFIC_RCPT, b"<" + _b(rcpt) + b">\0")
            if last[0] == "continue":
                taken += 1
        if taken == 0:
            return self._ended(done("rcpt", last), abort_on_reject)
        self.macros(SMFIC_DATA, {"i": qid})
        r = self.step(SMFIC_DATA)
        if final(r):
            return self._ended(done("data", r), abort_on_reject)
        for name, value in headers:
            value = _b(value)
            if leadspc:
                value = b" " + value if value[:1] not in (b" ", b"\t") else value
            else:
                value = value.lstrip(b" \t")
            r = self.step(SMFIC_HEADER, _b(name) + b"\0" + value + b"\0")
            if final(r):
                return self._ended(done("header", r), abort_on_reject)
        self.macros(SMFIC_EOH, {"i": qid})
        r = self.step(SMFIC_EOH)
        if final(r):
            return self._ended(done("eoh", r), abort_on_reject)
        for chunk in _chunks(body):
            r = self.step(SMFIC_BODY, chunk)
            if r[0] == "skip":
                break
            if final(r):
                return self._ended(done("body", r), abort_on_reject)
        self.macros(SMFIC_BODYEOB, {"i": qid})
        self._send(SMFIC_BODYEOB)
        return done("eom", self._reply(actions))

    def _ended(self, result, abort):
        """_ended - a message that ended before EOM: ABORT it (no reply)."""
        if abort and result.reply != "shutdown":
            self._send(SMFIC_ABORT)
        return result

    def abort(self):
        """abort - SMFIC_ABORT (no reply)."""
        self._send(SMFIC_ABORT)


def _chunks(body):
    """_chunks - body (bytes or iterable of bytes) in pieces of at most
    MAX_CHUNK bytes, none empty."""
    if isinstance(body, (bytes, bytearray, memoryview)):
        body = [bytes(body)]
    pending = bytearray()
    for piece in body:
        pending += piece
        while len(pending) >= MAX_CHUNK:
            yield bytes(pending[:MAX_CHUNK])
            del pending[:MAX_CHUNK]
    if pending:
        yield bytes(pending)


def split_header(raw):
    """split_header - the header fields of a raw header block (bytes, up to
    but not including the empty line) as the MTA hands them to a milter:
    [(name, value)], a folded value keeping its line breaks as "\\n" plus
    the continuation's leading white space, the value with its leading
    space (the client strips it unless SMFIP_HDR_LEADSPC); a line without
    a colon is a field with an empty value."""
    fields = []
    for line in raw.replace(b"\r\n", b"\n").split(b"\n"):
        if line == b"":
            continue
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += b"\n" + line
            continue
        name, _, value = line.partition(b":")
        fields.append([name.rstrip(b" \t"), value])
    return [(n, v) for n, v in fields]


def run_message(client_factory, mail_from, rcpts, headers, body, **kw):
    """run_message - one connection (client_factory() -> MilterClient):
    negotiate, connect, one message, quit; returns (Result, client)."""
    with client_factory() as mc:
        mc.negotiate()
        mc.connect_info()
        return mc.message(mail_from, rcpts, headers, body, **kw), mc
