"""Bad SIP for robustness tests: hypothesis strategies of datagrams for the PBX's port.

What a strategy here draws is a *burst*: a list of datagrams sent back to
back (a duplicate INVITE is one burst of two identical datagrams). The
kinds of burst, all built from strategies rather than a fixed list:

- random bytes, and random UTF-8 text (sippy drops non-UTF-8 datagrams
  first, so text is what reaches its parser);
- well-formed requests of every method (and unknown ones) and responses,
  with unknown Call-IDs: out-of-dialog BYE, CANCEL, ACK and the rest;
- those, mutated: truncated, bad start lines, huge / negative / non-numeric
  Content-Length, missing Via / From / To / Call-ID / CSeq, non-numeric
  CSeq, bad URIs, header folding, NUL bytes, headers of up to ~60 KB (sippy
  reads 8192 bytes of a datagram: it sees those cut short), duplicate
  headers, other line ends, random bytes spliced in;
- duplicate INVITEs: one INVITE sent twice (also followed by its CANCEL or
  an ACK), and the PBX's own INVITE of a live call replayed at it, as if the
  PBX were the phone (UAS);
- requests (BYE, re-INVITE, CANCEL, ...) and responses carrying the Call-ID
  of a live call but tags that do not make its dialog, any CSeq.

Where the PBX's answers go. sippy answers a request at its top Via (the
``rport`` parameter, when present, is replaced by the port the datagram
came from). So every Via drawn here leads back to a socket of the test:
sent-by port ours (``Target.me`` or ``Target.sink``) or 0, or an ``rport``
parameter. Nothing is sent to other processes on the machine. `kills_a_sender`
tells the datagrams that trip a known sippy bug, kept out of the fuzzing while
the bug stands (see tests/test_sip_robustness.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from hypothesis import strategies as st

CRLF = "\r\n"
METHODS = ("INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "INFO", "UPDATE",
           "PRACK", "SUBSCRIBE", "NOTIFY", "MESSAGE", "REFER", "PUBLISH")
SDP = ("v=0\r\no=fuzz 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\n"
       "t=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n")
MAX_UDP = 65507        # the largest UDP payload over IPv4


@dataclass(frozen=True)
class Target:
    """The PBX's address, and the test's two sockets that get its answers."""

    pbx: tuple[str, int]
    me: tuple[str, int]
    sink: tuple[str, int]


@dataclass(frozen=True)
class Dialog:
    """A live call as the PBX set it up (read from the phone's message log)."""

    call_id: str
    pbx_tag: str          # the PBX's tag (From of its INVITE)
    phone_tag: str        # the phone's tag (To of its 200)
    cseq: int             # the CSeq number of the PBX's INVITE
    pbx_uri: str          # From URI of the PBX's INVITE
    phone_uri: str        # To URI
    pbx_contact: str      # the PBX's Contact: the Request-URI of requests to it
    branch: str           # the branch of the PBX's INVITE
    invite: bytes         # the PBX's INVITE, byte for byte


@dataclass
class Msg:
    """A SIP message under construction: start line, ordered headers, body."""

    start: str
    headers: list[tuple[str, str | None]] = field(default_factory=list)
    """(name, value); a value of None makes the name a raw line (no colon added)."""
    body: str = ""
    content_length: bool = True        # add a correct Content-Length when rendering
    eol: str = CRLF
    blank_line: bool = True            # the empty line between headers and body

    def render(self) -> bytes:
        headers = list(self.headers)
        if self.content_length and not any(n.lower() in ("content-length", "l")
                                           for n, v in headers if v is not None):
            headers.append(("Content-Length", str(len(self.body.encode()))))
        lines = [self.start, *(n if v is None else f"{n}: {v}" for n, v in headers)]
        end = self.eol + self.eol if self.blank_line else self.eol
        return (self.eol.join(lines) + end + self.body).encode()


# -- what sippy chokes on today ------------------------------------------------------

_VIA = re.compile(r"^[ \t]*(?:via|v)[ \t]*:(.*)$", re.IGNORECASE | re.MULTILINE)


def kills_a_sender(datagram: bytes) -> bool:
    """Whether sippy would answer to a Via port outside 0-65535 (see the xfail test).

    Mirrors sippy's `SipVia.parse` / `getTAddr` loosely and errs on the side
    of True: any Via-like line whose sent-by port parses (Python `int`, as
    sippy does) outside 0..65535 without an ``rport`` parameter.
    """
    try:
        text = datagram.decode()
    except UnicodeDecodeError:
        return False                   # dropped before sippy sees it
    for match in _VIA.finditer(text.replace("\r", "\n")):
        for via in match.group(1).split(","):
            hostport, _, params = via.strip().partition(";")
            if "rport" in params:
                continue
            sent_by = hostport.split(None, 1)[-1] if hostport.split() else ""
            if sent_by.startswith("["):
                sent_by = sent_by.split("]", 1)[-1]
            _, colon, port = sent_by.partition(":")
            if not colon:
                continue
            for candidate in (port, port.split(":", 1)[0]):
                try:
                    number = int(candidate)
                except ValueError:
                    continue
                if not 0 <= number <= 65535:
                    return True
    return False


# -- building blocks ------------------------------------------------------------------

SALT = "~s~"
"""In every drawn identifier (Call-ID, tag, branch): the sender replaces it with a
value of its own per example, so that a replayed example (hypothesis replays
failing ones) is new to the PBX, not a retransmission it has seen. See `salted`."""

tokens = st.text(alphabet="0123456789abcdef", min_size=6, max_size=24).map(lambda s: s + SALT)


def salted(datagram: bytes, salt: str) -> bytes:
    """The datagram as sent: `SALT` replaced by ``salt`` (a token: letters and digits)."""
    return datagram.replace(SALT.encode(), salt.encode())
junk_text = st.text(max_size=80)
lines_text = st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\r\n"),
                     max_size=60)
unknown_methods = st.from_regex(r"[A-Za-z][A-Za-z0-9.!%*_+`'~-]{0,15}", fullmatch=True).filter(
    lambda m: m.upper() not in METHODS)
methods = st.one_of(st.sampled_from(METHODS), unknown_methods)


@st.composite
def sip_uris(draw: st.DrawFn, host: str = "127.0.0.1", port: int | None = None) -> str:
    """Mostly good ``sip:`` URIs, sometimes broken ones."""
    user = draw(st.sampled_from(["pbx", "alice", "cb-answer-0-0-0", "+34910000000", ""]))
    hostport = f"{host}:{port}" if port is not None else host
    good = f"sip:{user}@{hostport}" if user else f"sip:{hostport}"
    bad = st.sampled_from([
        "sip:", "sip:@", "sip:alice@", "sips:alice@127.0.0.1", "tel:+34910000000", "http://x/",
        "sip:alice@127.0.0.1:99999", "sip:alice@127.0.0.1:port", "sip:alice@[::1",
        "sip:alice@127.0.0.1;transport=UDP", "sip:alice@127.0.0.1;transport=sctp",
        "sip:alice@127.0.0.1;lr;;;=", "sip:al ice@127.0.0.1", "sip:alice@127.0.0.1>",
        "<sip:alice@127.0.0.1", "sip:alice@@127.0.0.1", "sip:alice:secret@127.0.0.1:5",
        "*", "", "sip:alice@" + "a" * 300, "sip:%00@127.0.0.1", "sip:alice@-1",
    ])
    return draw(st.one_of(st.just(good), st.just(good), bad, junk_text))


@st.composite
def vias(draw: st.DrawFn, t: Target, branch: str | None = None) -> str:
    """A top Via whose answers come back to the test (see the module doc)."""
    me_host, me_port = t.me
    branch = branch or "z9hG4bK" + draw(tokens)
    kind = draw(st.sampled_from([
        "me", "me_rport", "sink", "host_rport", "no_port_rport", "double_port",
        "port0", "no_branch", "old_branch", "transport", "version", "params", "ipv6"]))
    if kind == "me":
        return f"SIP/2.0/UDP {me_host}:{me_port};branch={branch}"
    if kind == "me_rport":
        return f"SIP/2.0/UDP {me_host}:{me_port};rport;branch={branch}"
    if kind == "sink":
        return f"SIP/2.0/UDP {t.sink[0]}:{t.sink[1]};branch={branch}"
    if kind == "host_rport":
        host = draw(st.sampled_from(["localhost", "pbx.invalid", "256.1.1.1", "a" * 300,
                                     "ex ample", "-", "127.0.0.1.", ""]))
        return f"SIP/2.0/UDP {host}:{me_port};branch={branch};rport"
    if kind == "no_port_rport":
        return f"SIP/2.0/UDP {me_host};branch={branch};rport"
    if kind == "double_port":
        return f"SIP/2.0/UDP {me_host}:{me_port}:{me_port};branch={branch}"
    if kind == "port0":
        return f"SIP/2.0/UDP {me_host}:0;branch={branch}"
    if kind == "no_branch":
        return f"SIP/2.0/UDP {me_host}:{me_port};rport"
    if kind == "old_branch":            # RFC 2543: no magic cookie
        return f"SIP/2.0/UDP {me_host}:{me_port};rport;branch={draw(tokens)}"
    if kind == "transport":
        transport = draw(st.sampled_from(["TCP", "TLS", "WS", "WSS", "SCTP", "udp", "X", ""]))
        return f"SIP/2.0/{transport} {me_host}:{me_port};rport;branch={branch}"
    if kind == "version":
        version = draw(st.sampled_from(["SIP/3.0", "SIP", "HTTP/1.1", "", "SIP/2.0/"]))
        return f"{version}/UDP {me_host}:{me_port};rport;branch={branch}"
    if kind == "params":
        junk = draw(st.sampled_from([";ttl=999", ";maddr=", ";=", ";;;", ";rport=99999",
                                     ";received", ";branch", ";branch=", ";x=" + "y" * 500]))
        return f"SIP/2.0/UDP {me_host}:{me_port};rport;branch={branch}{junk}"
    return f"SIP/2.0/UDP [::1]:{me_port};rport;branch={branch}"


def _addr(uri: str, tag: str | None, display: str = "") -> str:
    value = f"{display} <{uri}>" if display else f"<{uri}>"
    return value + (f";tag={tag}" if tag is not None else "")


@st.composite
def requests(draw: st.DrawFn, t: Target, *, method: str | None = None,
             call_id: str | None = None, from_uri: str | None = None,
             from_tag: str | None | bool = True, to_uri: str | None = None,
             to_tag: str | None = None, cseq: int | None = None, ruri: str | None = None,
             via: str | None = None) -> Msg:
    """A well-formed request to the PBX (unknown Call-ID unless given).

    ``from_tag=True`` draws a fresh tag; None leaves the tag out.
    """
    method = method or draw(methods)
    ruri = ruri or draw(st.one_of(st.just(f"sip:pbx@{t.pbx[0]}:{t.pbx[1]}"), sip_uris()))
    call_id = call_id or draw(tokens) + draw(st.sampled_from(["", "@127.0.0.1", "@fuzz"]))
    tag = draw(tokens) if from_tag is True else from_tag if isinstance(from_tag, str) else None
    number = cseq if cseq is not None else draw(st.integers(1, 2**31 - 1))
    headers: list[tuple[str, str | None]] = [
        ("Via", via or draw(vias(t))),
        ("Max-Forwards", draw(st.sampled_from(["70", "70", "0", "1", "-1", "x", "99999999999"]))),
        ("From", _addr(from_uri or f"sip:fuzz@{t.me[0]}", tag,
                       draw(st.sampled_from(["", '"Fuzz"', "Fuzz", '"\\"quoted\\""'])))),
        ("To", _addr(to_uri or f"sip:pbx@{t.pbx[0]}", to_tag)),
        ("Call-ID", call_id),
        ("CSeq", f"{number} {'INVITE' if method == 'ACK' and draw(st.booleans()) else method}"),
    ]
    body = ""
    if method in ("INVITE", "UPDATE", "ACK", "PRACK") and draw(st.booleans()):
        headers += [("Contact", f"<sip:fuzz@{t.me[0]}:{t.me[1]}>")]
        body = draw(st.sampled_from([SDP, SDP + "a=sendonly\r\n", "v=0\r\n", "not sdp"]))
        headers += [("Content-Type", draw(st.sampled_from(
            ["application/sdp", "application/SDP", "text/plain", "multipart/mixed;boundary=x",
             "", "application/sdp;;"])))]
    elif method in ("SUBSCRIBE", "NOTIFY", "REFER", "REGISTER"):
        headers += [("Contact", f"<sip:fuzz@{t.me[0]}:{t.me[1]}>"),
                    ("Expires", draw(st.sampled_from(["0", "3600", "-1", "x"])))]
        if method == "REFER":
            headers += [("Refer-To", draw(sip_uris()))]
        if method in ("SUBSCRIBE", "NOTIFY"):
            headers += [("Event", draw(st.sampled_from(["presence", "dialog", "refer", ""])))]
    if draw(st.booleans()):
        headers += [("User-Agent", draw(st.sampled_from(["fuzz", ""]))),
                    ("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS")]
    return Msg(f"{method} {ruri} SIP/2.0", headers, body)


@st.composite
def responses(draw: st.DrawFn, t: Target, *, call_id: str | None = None,
              from_uri: str | None = None, from_tag: str | None = None,
              to_uri: str | None = None, to_tag: str | None = None,
              cseq: int | None = None, method: str | None = None,
              branch: str | None = None, via_host: tuple[str, int] | None = None) -> Msg:
    """A response, as if to a request the PBX sent (none is pending: all stray)."""
    code = draw(st.one_of(
        st.sampled_from([100, 180, 183, 200, 202, 302, 401, 407, 408, 481, 486, 487, 500, 503,
                         603, 699, 99, 0, 1000]),
        st.integers(-10, 10**6)))
    reason = draw(st.sampled_from(["OK", "Ringing", "Busy Here", "", "Ünïcödé", "x" * 300]))
    host, port = via_host or t.pbx
    branch = branch or "z9hG4bK" + draw(tokens)
    headers: list[tuple[str, str | None]] = [
        ("Via", f"SIP/2.0/UDP {host}:{port};rport={port};branch={branch}"),
        ("From", _addr(from_uri or f"sip:pbx@{t.pbx[0]}", from_tag or draw(tokens))),
        ("To", _addr(to_uri or f"sip:fuzz@{t.me[0]}", to_tag if to_tag is not None
                     else draw(st.one_of(st.none(), tokens)))),
        ("Call-ID", call_id or draw(tokens)),
        ("CSeq", f"{cseq if cseq is not None else draw(st.integers(1, 2**31 - 1))} "
                 f"{method or draw(methods)}"),
    ]
    body = ""
    if 200 <= code < 300 and draw(st.booleans()):
        headers += [("Contact", f"<sip:fuzz@{t.me[0]}:{t.me[1]};transport=UDP>"),
                    ("Content-Type", "application/sdp")]
        body = SDP
    if code in (401, 407):
        headers += [("WWW-Authenticate" if code == 401 else "Proxy-Authenticate",
                     draw(st.sampled_from(['Digest realm="x", nonce="y"', "Digest", "Basic", ""])))]
    if code in (301, 302):
        headers += [("Contact", draw(sip_uris()))]
    return Msg(f"SIP/2.0 {code} {reason}", headers, body)


# -- mutations ------------------------------------------------------------------------

ESSENTIAL = ("via", "from", "to", "call-id", "cseq", "max-forwards", "content-length",
             "contact", "content-type")
BAD_START = ["", " ", "INVITE", "INVITE sip:pbx@127.0.0.1", "INVITE sip:pbx@127.0.0.1 SIP/3.0",
             "INVITE sip:pbx@127.0.0.1 HTTP/1.1", "INVITE  sip:pbx@127.0.0.1  SIP/2.0",
             " INVITE sip:pbx@127.0.0.1 SIP/2.0", "invite sip:pbx@127.0.0.1 SIP/2.0",
             "INVITE sip:pbx@127.0.0.1 SIP/2.0 extra", "SIP/2.0", "SIP/2.0 ", "SIP/2.0 OK",
             "SIP/2.0 abc OK", "SIP/2.0 -1 Minus", "SIP/2.0 99999999999999999999 Big",
             "SIP/2.0 2OO OK", "SIP/2.0 200", "SIP/1.0 200 OK", "SIP/2.0  200  OK",
             "GET / HTTP/1.1", "\x00", "BYE", "ACK * SIP/2.0", "SIP/2.0 ٢٠٠ OK"]
BAD_CONTENT_LENGTH = ["99999999999999999999", "-1", "-99999", "abc", "", " ", "1e3", "0x10",
                      "4294967296", "1, 2", "٣", "1_0", "10 20"]
BAD_CSEQ = ["abc INVITE", "-1 INVITE", "4294967296 INVITE", "99999999999999999999 BYE", "1",
            "", "INVITE", "1 INVITE extra", "1 ", " 1 BYE", "1.5 BYE", "0x1 BYE", "٣ BYE",
            "1_0 BYE", "1  BYE", "-0 ACK"]


def _set(headers: list[tuple[str, str | None]], name: str,
         value: str) -> list[tuple[str, str | None]]:
    out = [(n, v) for n, v in headers if n.lower() != name.lower()]
    return out + [(name, value)]


@st.composite
def mutate_msg(draw: st.DrawFn, msg: Msg) -> Msg:
    """One structural mutation of a message."""
    kind = draw(st.sampled_from([
        "drop", "start", "content_length", "cseq", "fold", "nul", "long", "duplicate",
        "no_colon", "value", "eol", "body", "compact", "no_blank", "ruri", "empty_value"]))
    headers = list(msg.headers)
    proper = [i for i, (_, v) in enumerate(headers) if v is not None]   # not raw lines

    def pick() -> tuple[int, str, str]:
        i = draw(st.sampled_from(proper))
        name, value = headers[i]
        return i, name, value or ""
    if kind == "drop":
        names = draw(st.lists(st.sampled_from(ESSENTIAL), min_size=1, max_size=3, unique=True))
        msg = replace(msg, headers=[(n, v) for n, v in headers
                                    if v is None or n.lower() not in names],
                      content_length="content-length" not in names and msg.content_length)
    elif kind == "start":
        msg = replace(msg, start=draw(st.one_of(st.sampled_from(BAD_START), lines_text)))
    elif kind == "content_length":
        body_len = len(msg.body.encode())
        value = draw(st.one_of(st.sampled_from(BAD_CONTENT_LENGTH),
                               st.integers(-5, body_len + 5000).map(str)))
        msg = replace(msg, headers=_set(headers, "Content-Length", value))
    elif kind == "cseq":
        msg = replace(msg, headers=_set(headers, "CSeq", draw(st.one_of(
            st.sampled_from(BAD_CSEQ), st.tuples(st.integers(-2**40, 2**40), methods).map(
                lambda p: f"{p[0]} {p[1]}")))))
    elif kind == "fold" and proper:
        i, name, value = pick()
        cut = draw(st.integers(0, len(value)))
        ws = draw(st.sampled_from([" ", "\t", "   "]))
        headers[i] = (name, value[:cut] + CRLF + ws + value[cut:])
        msg = replace(msg, headers=headers)
    elif kind == "nul":
        where = draw(st.sampled_from(["start", "header", "body"]))
        nuls = "\x00" * draw(st.integers(1, 3))
        if where == "start":
            cut = draw(st.integers(0, len(msg.start)))
            msg = replace(msg, start=msg.start[:cut] + nuls + msg.start[cut:])
        elif where == "header" and proper:
            i, name, value = pick()
            cut = draw(st.integers(0, len(value)))
            headers[i] = (name, value[:cut] + nuls + value[cut:])
            msg = replace(msg, headers=headers)
        else:
            msg = replace(msg, body=msg.body + nuls)
    elif kind == "long":
        size = draw(st.sampled_from([1000, 8000, 8200, 30000, 60000]))
        unit = draw(st.sampled_from(["a", "x;", "sip:a@b, ", "\u00e9"]))
        filler = (unit * (size // len(unit.encode()) + 1))[:size // len(unit.encode())]
        name = draw(st.sampled_from(["X-Long", "Subject", "From", "Via", "Call-ID", "Contact",
                                     "Route", "To"]))
        if name in ("From", "To"):
            value = f'"{filler}" <sip:a@127.0.0.1>;tag=1'
        elif name == "Via":
            value = f"SIP/2.0/UDP 127.0.0.1:{0};rport;branch=z9hG4bK{filler}"
        else:
            value = filler
        at = draw(st.integers(0, len(headers)))
        headers.insert(at, (name, value))
        msg = replace(msg, headers=headers)
    elif kind == "duplicate" and proper:
        i, name, value = pick()
        other = draw(st.one_of(st.just(value), lines_text))
        headers.insert(draw(st.integers(0, len(headers))), (name, other))
        msg = replace(msg, headers=headers)
    elif kind == "no_colon" and proper:
        i, name, value = pick()
        form = draw(st.sampled_from(["nocolon", "space", "emptyname", "tabname", "colons"]))
        headers[i] = {"nocolon": (f"{name} {value}", None), "space": (name + " ", value),
                      "emptyname": ("", value), "tabname": (f"{name}\t", value),
                      "colons": (f"{name}:::", value)}[form]
        msg = replace(msg, headers=headers)
    elif kind == "value" and proper:
        i = pick()[0]
        headers[i] = (headers[i][0], draw(lines_text))
        msg = replace(msg, headers=headers)
    elif kind == "eol":
        msg = replace(msg, eol=draw(st.sampled_from(["\n", "\r", "\n\r", "\r\r\n"])))
    elif kind == "body":
        msg = replace(msg, body=draw(st.one_of(
            junk_text, st.sampled_from(["v=0\r\nm=audio x RTP/AVP\r\n", "v=1\r\n",
                                        "v=0\r\no=\r\nc=IN IP4\r\nm=audio 99999999 RTP/AVP 0\r\n",
                                        "--x\r\n\r\n--x--"]))))
        if draw(st.booleans()):
            msg = replace(msg, headers=_set(headers, "Content-Type", "application/sdp"))
    elif kind == "compact":
        compact = {"via": "v", "from": "f", "to": "t", "call-id": "i", "contact": "m",
                   "content-length": "l", "content-type": "c", "subject": "s"}
        upper = draw(st.booleans())
        msg = replace(msg, headers=[(n if v is None else compact.get(n.lower(), n).upper()
                                     if upper else compact.get(n.lower(), n), v)
                                    for n, v in headers])
    elif kind == "no_blank":
        msg = replace(msg, blank_line=False)
    elif kind == "ruri" and msg.start.count(" ") >= 2 and not msg.start.startswith("SIP/"):
        method, _, rest = msg.start.partition(" ")
        version = rest.rsplit(" ", 1)[-1]
        msg = replace(msg, start=f"{method} {draw(sip_uris())} {version}")
    elif kind == "empty_value" and proper:
        i = pick()[0]
        headers[i] = (headers[i][0], "")
        msg = replace(msg, headers=headers)
    return msg


@st.composite
def mutate_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    """One byte-level mutation of a rendered message."""
    kind = draw(st.sampled_from(["truncate", "splice", "flip", "append", "delete", "chunk"]))
    if not data:
        return draw(st.binary(max_size=64))
    at = draw(st.integers(0, len(data)))
    if kind == "truncate":
        return data[:at]
    if kind == "splice":
        return data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    if kind == "flip":
        at = min(at, len(data) - 1)
        return data[:at] + bytes([data[at] ^ draw(st.integers(1, 255))]) + data[at + 1:]
    if kind == "append":
        return data + draw(st.one_of(st.binary(max_size=64), st.just(b"\r\n\r\n"),
                                     st.just(data)))
    if kind == "delete":
        end = draw(st.integers(at, min(len(data), at + 64)))
        return data[:at] + data[end:]
    # a repeated chunk (a header line or so) ...
    end = draw(st.integers(at, min(len(data), at + 200)))
    return data[:end] + data[at:end] * draw(st.integers(1, 50)) + data[end:]


@st.composite
def mutated(draw: st.DrawFn, msgs: st.SearchStrategy[Msg]) -> bytes:
    """A message with 1 to 3 structural mutations, then maybe byte mutations."""
    msg = draw(msgs)
    for _ in range(draw(st.integers(1, 3))):
        msg = draw(mutate_msg(msg))
    data = msg.render()
    for _ in range(draw(st.integers(0, 2))):
        data = draw(mutate_bytes(data))
    return data[:MAX_UDP]


# -- bursts ---------------------------------------------------------------------------

def _maybe_mutated(msgs: st.SearchStrategy[Msg]) -> st.SearchStrategy[bytes]:
    return st.one_of(msgs.map(Msg.render), mutated(msgs))


@st.composite
def random_datagrams(draw: st.DrawFn) -> list[bytes]:
    data = draw(st.one_of(
        st.binary(max_size=1500),
        st.text(max_size=1500).map(str.encode),
        st.tuples(st.sampled_from(["INVITE sip:a@b SIP/2.0\r\n", "SIP/2.0 200 OK\r\n",
                                   "OPTIONS sip:pbx@127.0.0.1 SIP/2.0\r\nVia: ", "\r\n\r\n",
                                   "Via: SIP/2.0/UDP 127.0.0.1:0;branch=z9hG4bK\r\n"]),
                  st.text(max_size=400)).map(lambda p: (p[0] + p[1]).encode()),
        st.sampled_from([b"", b"\r\n", b"\r\n\r\n", b"\x00" * 40, b"\xff" * 40, b"jaK" * 20,
                         b"SIP/2.0 " * 10, b"a" * 8192, b"a" * MAX_UDP]),
    ))
    return [data]


@st.composite
def out_of_dialog(draw: st.DrawFn, t: Target) -> list[bytes]:
    """Requests of any method or responses, with a Call-ID no call has."""
    msgs = st.one_of(
        requests(t, method=draw(st.sampled_from(["BYE", "CANCEL", "ACK"]))),
        requests(t, to_tag=draw(st.one_of(st.none(), tokens))),
        responses(t))
    return [draw(_maybe_mutated(msgs))]


@st.composite
def duplicate_invites(draw: st.DrawFn, t: Target) -> list[bytes]:
    """One INVITE, sent twice (maybe more), then maybe its CANCEL or an ACK."""
    branch = "z9hG4bK" + draw(tokens)
    call_id, tag, cseq = draw(tokens), draw(tokens), draw(st.integers(1, 2**31 - 1))
    via = f"SIP/2.0/UDP {t.me[0]}:{t.me[1]};rport;branch={branch}"
    invite = draw(requests(t, method="INVITE", call_id=call_id, from_tag=tag, cseq=cseq, via=via,
                           to_tag=draw(st.one_of(st.none(), st.none(), tokens))))
    data = draw(st.one_of(st.just(invite.render()), mutated(st.just(invite))))
    burst = [data] * draw(st.integers(2, 4))
    then = draw(st.sampled_from(["nothing", "cancel", "ack"]))
    if then != "nothing":
        method = then.upper()
        follow = Msg(f"{method} {invite.start.split(' ')[1]} SIP/2.0", [
            ("Via", via), ("Max-Forwards", "70"),
            *[(n, v) for n, v in invite.headers if n in ("From", "To", "Call-ID")],
            ("CSeq", f"{cseq} {method}")])
        burst.append(follow.render())
    return burst


@st.composite
def dialog_spoofs(draw: st.DrawFn, t: Target, dialogs: list[Dialog]) -> list[bytes]:
    """Requests and responses with a live call's Call-ID but not its dialog.

    Never both of the right tags in the right places: that would be a true
    in-dialog request, which the PBX must honour.
    """
    d = draw(st.sampled_from(dialogs))
    kind = draw(st.sampled_from(["request", "request", "response", "replay"]))
    if kind == "replay":
        # The PBX's own INVITE sent back to it, as if it were the phone.
        invite = d.invite
        how = draw(st.sampled_from(["same", "new_branch", "to_tag", "no_rport", "mutated"]))
        if how == "new_branch":
            invite = invite.replace(d.branch.encode(), ("z9hG4bK" + draw(tokens)).encode())
        elif how == "to_tag":
            head, sep, body = invite.partition(b"\r\n\r\n")
            head = re.sub(rb"(?m)^(To: [^\r\n]*)", lambda m: m.group(1) + b";tag="
                          + d.phone_tag.encode(), head, count=1)
            invite = head + sep + body
        elif how == "no_rport":           # answers go to the PBX itself
            invite = invite.replace(b";rport", b"")
        elif how == "mutated":
            invite = draw(mutate_bytes(invite))
        return [invite] * draw(st.integers(1, 3))
    if kind == "response":
        msgs = responses(
            t, call_id=d.call_id, from_uri=d.pbx_uri, from_tag=draw(st.sampled_from(
                [d.pbx_tag, d.phone_tag, "x" + d.pbx_tag])),
            to_uri=d.phone_uri, to_tag=draw(st.sampled_from([d.phone_tag, d.pbx_tag, ""])),
            cseq=draw(st.sampled_from([d.cseq, d.cseq + 1, d.cseq - 1, 1])),
            method=draw(st.sampled_from(["INVITE", "BYE", "ACK", "CANCEL"])),
            branch=draw(st.sampled_from([d.branch, "z9hG4bK" + draw(tokens)])))
        return [draw(_maybe_mutated(msgs))]
    wrong = "x" + draw(tokens)
    from_tag, to_tag = draw(st.sampled_from([
        (wrong, "y" + draw(tokens)),     # strangers
        (None, None),                    # no tags at all
        (d.pbx_tag, d.phone_tag),        # swapped: the PBX's own request looped back
        (d.phone_tag, wrong),            # the phone's From tag, a wrong To tag
        (wrong, d.pbx_tag),              # a wrong From tag, the PBX's To tag
        (d.phone_tag, None),             # the phone's tag, no To tag
        (d.pbx_tag, None),               # the PBX's tag, no To tag
    ]))
    assert (from_tag, to_tag) != (d.phone_tag, d.pbx_tag)
    method = draw(st.sampled_from(["BYE", "INVITE", "CANCEL", "ACK", "UPDATE", "INFO",
                                   "PRACK", "REFER", "NOTIFY", "OPTIONS", "MESSAGE"]))
    cseq = draw(st.one_of(st.sampled_from([d.cseq, d.cseq + 1, d.cseq - 1, 1, 0]),
                          st.integers(0, 2**32 - 1)))
    msgs = requests(t, method=method, call_id=d.call_id, from_uri=d.phone_uri,
                    from_tag=from_tag, to_uri=d.pbx_uri, to_tag=to_tag, cseq=cseq,
                    ruri=draw(st.sampled_from([d.pbx_contact, d.phone_uri,
                                               f"sip:pbx@{t.pbx[0]}:{t.pbx[1]}"])))
    data = draw(_maybe_mutated(msgs))
    return [data] * draw(st.integers(1, 2))


def bursts(t: Target, dialogs: list[Dialog], *, exclude_known_bugs: bool) -> st.SearchStrategy[list[bytes]]:
    """Any burst of bad SIP (see the module doc)."""
    kinds: list[st.SearchStrategy[list[bytes]]] = [
        random_datagrams(),
        out_of_dialog(t),
        st.builds(lambda m: [m], mutated(st.one_of(requests(t), responses(t)))),
        duplicate_invites(t),
    ]
    if dialogs:
        kinds.append(dialog_spoofs(t, dialogs))
    strategy = st.one_of(kinds)
    if exclude_known_bugs:
        strategy = strategy.filter(lambda burst: not any(kills_a_sender(d) for d in burst))
    return strategy


# -- the phone's message log -----------------------------------------------------------

_ENTRY = re.compile(rb"-{40,} [^\n]*\nUDP message (received \[(\d+)\] bytes :|sent \((\d+) bytes\):)\n\n")


def sipp_messages(log: bytes) -> list[tuple[str, bytes]]:
    """(``"in"`` or ``"out"``, message bytes) from a SIPp ``-trace_msg`` log."""
    out = []
    for match in _ENTRY.finditer(log):
        size = int(match.group(2) or match.group(3))
        out.append(("in" if match.group(2) else "out", log[match.end():match.end() + size]))
    return out


def _header(msg: bytes, name: str) -> str | None:
    head = msg.split(b"\r\n\r\n", 1)[0].decode(errors="replace")
    for line in head.split("\r\n")[1:]:
        key, colon, value = line.partition(":")
        if colon and key.strip().lower() == name.lower():
            return value.strip()
    return None


def _tag(value: str | None) -> str | None:
    found = re.search(r";\s*tag=([^;>\s]+)", value or "")
    return found.group(1) if found else None


def _uri(value: str | None) -> str:
    value = value or ""
    return value.split("<", 1)[1].split(">", 1)[0] if "<" in value else value.split(";")[0].strip()


def dialogs_from_sipp_log(log: bytes, call_ids: set[str]) -> dict[str, Dialog]:
    """The dialogs of ``call_ids``: the PBX's INVITE, the phone's 200 to it."""
    invites: dict[str, bytes] = {}
    phone_tags: dict[str, str] = {}
    for direction, msg in sipp_messages(log):
        call_id = _header(msg, "Call-ID")
        if call_id not in call_ids:
            continue
        if direction == "in" and msg.startswith(b"INVITE ") and _tag(_header(msg, "To")) is None:
            invites.setdefault(call_id, msg)
        elif direction == "out" and msg.startswith(b"SIP/2.0 200 ") and \
                (_header(msg, "CSeq") or "").endswith("INVITE"):
            tag = _tag(_header(msg, "To"))
            if tag:
                phone_tags.setdefault(call_id, tag)
    found = {}
    for call_id, invite in invites.items():
        if call_id not in phone_tags:
            continue
        via = _header(invite, "Via") or ""
        branch = re.search(r"branch=([^;\s,]+)", via)
        found[call_id] = Dialog(
            call_id=call_id, pbx_tag=_tag(_header(invite, "From")) or "",
            phone_tag=phone_tags[call_id],
            cseq=int((_header(invite, "CSeq") or "0 INVITE").split()[0]),
            pbx_uri=_uri(_header(invite, "From")), phone_uri=_uri(_header(invite, "To")),
            pbx_contact=_uri(_header(invite, "Contact")),
            branch=branch.group(1) if branch else "", invite=invite)
    return found
