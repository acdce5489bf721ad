"""A SIP call leg's dialog, as the PBX keeps it for a restart (RFC 3261 sections 9 and 12).

`DialogState` is what a PBX process needs to end, from outside, a call leg it
placed: after a crash or a restart a new process has none of sippy's state,
but with these fields it can still send what the phone expects
(`SipPbx.end_dialogs`): a BYE for a confirmed dialog, a CANCEL for a phone
still ringing (an early state: our INVITE has had no final response).
`SipPbx(on_dialog=...)` hands one out when a leg's INVITE is sent, when its
dialog is confirmed and whenever our CSeq for it moves; the caller stores it
(as JSON, `to_json`) and reads it back after a restart (`from_json`).

Nothing here imports sippy: the requests are built as text (`bye_text`,
`invite_text`) and given to sippy by the PBX in its reactor thread.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, fields

_VERSION = 1


@dataclass(frozen=True)
class DialogState:
    """One dialog of the PBX (the UAC side): enough to send an in-dialog BYE, or,
    while it is early, the CANCEL of its INVITE.

    - ``call_id``: the dialog's Call-ID.
    - ``local_tag`` / ``remote_tag``: our From tag and the phone's To tag.
    - ``local_uri`` / ``remote_uri``: the URIs of our From and our To (no tags).
    - ``remote_target``: the phone's Contact URI, the Request-URI of our
      in-dialog requests.
    - ``route_set``: the Route header values, in order (the reversed
      Record-Route of the 2xx), each as ``<uri>``; empty without proxies.
    - ``cseq``: the last CSeq number we sent in this dialog (the next request
      carries ``cseq + 1``).
    - ``local_host`` / ``local_port``: where the PBX's SIP socket was; a BYE
      is sent from there, so the phone sees the same peer.
    - ``branch``: while the dialog is early (the phone rings, our INVITE has
      no final response), the INVITE's Via branch, which its CANCEL must
      repeat (RFC 3261 section 9.1); ``remote_target`` is then the INVITE's
      Request-URI, ``remote_tag`` empty. Empty once the dialog is confirmed.
    """

    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    route_set: tuple[str, ...]
    cseq: int
    local_host: str
    local_port: int
    branch: str = ""

    @property
    def early(self) -> bool:
        """Whether the INVITE has had no final response yet (end it with a CANCEL)."""
        return bool(self.branch)

    def to_json(self) -> str:
        """The state as one line of JSON (with a format version), for `from_json`."""
        data = asdict(self)
        data["route_set"] = list(self.route_set)
        data["version"] = _VERSION
        return json.dumps(data, sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "DialogState":
        """The state `to_json` wrote; ValueError if a field is missing or of the wrong type."""
        data = json.loads(text)
        if not isinstance(data, dict):
            raise ValueError("a dialog state is a JSON object")
        version = data.pop("version", _VERSION)
        if version != _VERSION:
            raise ValueError(f"dialog state version {version!r}, expected {_VERSION}")
        names = {f.name for f in fields(cls)}
        data.setdefault("branch", "")        # states stored before early ones were
        missing, unknown = names - data.keys(), data.keys() - names
        if missing or unknown:
            raise ValueError(f"dialog state: missing {sorted(missing)}, unknown {sorted(unknown)}")
        route_set = data["route_set"]
        if not isinstance(route_set, list) or not all(isinstance(r, str) for r in route_set):
            raise ValueError("dialog state: route_set must be a list of strings")
        for name in ("call_id", "local_tag", "remote_tag", "local_uri", "remote_uri",
                     "remote_target", "local_host", "branch"):
            if not isinstance(data[name], str):
                raise ValueError(f"dialog state: {name} must be a string")
        for name in ("cseq", "local_port"):
            if not isinstance(data[name], int) or isinstance(data[name], bool):
                raise ValueError(f"dialog state: {name} must be an integer")
        data["route_set"] = tuple(route_set)
        return cls(**data)


def _bracketed(uri: str) -> str:
    uri = uri.strip()
    return uri if uri.startswith("<") else f"<{uri}>"


def bye_text(state: DialogState, host: str, port: int, branch: str | None = None) -> str:
    """The BYE that ends `state`'s dialog, sent from ``host:port`` (RFC 3261 section 12.2.1.1).

    Request-URI: the remote target; Route: the route set; From and To with
    the dialog's tags; the same Call-ID; CSeq one above the last we sent; a
    new Via branch (``branch``, random if not given).
    """
    if state.early:
        raise ValueError(f"dialog {state.call_id} is early: it is ended with a CANCEL")
    return _request(state, "BYE", host, port, branch or "z9hG4bK" + uuid.uuid4().hex,
                    f";tag={state.remote_tag}", state.cseq + 1)


def invite_text(state: DialogState) -> str:
    """The early dialog's INVITE as far as its transaction goes (RFC 3261 section 17.1.3):
    Request-URI, the Via with its branch as the dead PBX sent it, From with its tag,
    To, Call-ID and CSeq; no body. sippy builds the CANCEL and the ACK from it."""
    if not state.early:
        raise ValueError(f"dialog {state.call_id} is confirmed: it has no INVITE to cancel")
    return _request(state, "INVITE", state.local_host, state.local_port, state.branch, "",
                    state.cseq)


def _request(state: DialogState, method: str, host: str, port: int, branch: str,
             to_tag: str, cseq: int) -> str:
    """A request of the dialog as text, without a body."""
    target = state.remote_target.strip().strip("<>")
    sent_by = f"[{host}]" if ":" in host else host
    lines = [f"{method} {target} SIP/2.0",
             f"Via: SIP/2.0/UDP {sent_by}:{port};rport;branch={branch}",
             "Max-Forwards: 70"]
    lines += [f"Route: {_bracketed(route)}" for route in state.route_set]
    lines += [f"From: {_bracketed(state.local_uri)};tag={state.local_tag}",
              f"To: {_bracketed(state.remote_uri)}{to_tag}",
              f"Call-ID: {state.call_id}",
              f"CSeq: {cseq} {method}",
              "Content-Length: 0"]
    return "\r\n".join(lines) + "\r\n\r\n"


def next_hop(state: DialogState) -> tuple[str, int]:
    """Where the BYE goes: the first route's host and port if any, else the remote target's."""
    uri = state.route_set[0] if state.route_set else state.remote_target
    uri = uri.strip().strip("<>").split(">", 1)[0]
    if ":" not in uri:
        raise ValueError(f"not a SIP URI: {uri!r}")
    rest = uri.split(":", 1)[1]
    rest = rest.split("@", 1)[1] if "@" in rest else rest
    hostport = rest.split(";", 1)[0].split("?", 1)[0]
    if hostport.startswith("["):
        host, _, tail = hostport[1:].partition("]")
        port = tail[1:] if tail.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    if not host or (port and not port.isdigit()):
        raise ValueError(f"not a SIP URI: {uri!r}")
    return host, int(port) if port else 5060
