"""Ending, from a fresh PBX, the dialogs a dead process left (RFC 3261 sections 9 and 15).

`SipPbx.end_dialogs` hands its stored `DialogState`s to a `DeadDialogs`,
which sends, in sippy's reactor thread, a BYE for each confirmed dialog and a
CANCEL for each early one (a phone still ringing), and collects what the
phones answered.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from .dialogs import DialogState, bye_text, next_hop

_log = logging.getLogger(__name__)


class DeadDialogs:
    """What `SipPbx.end_dialogs` sends for a dead process's dialogs, and what came back.

    `config` is the PBX's sippy configuration (its transaction manager is
    ``config["_sip_tm"]`` once started); `host` and `port` its SIP address.
    `send` and `forget` run in the reactor's thread; `finished` is set once
    every dialog has its answer.
    """

    def __init__(self, config: dict[str, Any], host: str, port: int,
                 states: list[DialogState]) -> None:
        self.config, self.host, self.port, self.states = config, host, port, states
        self._results = {state.call_id: False for state in states}
        self._left = set(self._results)
        self._lock = threading.Lock()
        self.finished = threading.Event()
        self._transactions: list[Any] = []

    def results(self) -> dict[str, bool]:
        """Call-ID -> whether its phone answered."""
        with self._lock:
            return dict(self._results)

    def _answered(self, call_id: str, ok: bool) -> None:
        with self._lock:
            if call_id in self._left:
                self._left.discard(call_id)
                self._results[call_id] = ok
                if not self._left:
                    self.finished.set()

    def send(self) -> None:
        """In the reactor: a BYE or a CANCEL for each state."""
        if any(state.early for state in self.states):
            from ._sippy_ext import forget_ignored

            forget_ignored(self.config["_sip_tm"])
        for state in self.states:
            try:
                address = next_hop(state)
                if state.early:
                    self._cancel(state, address)
                else:
                    self._bye(state, address)
            except ValueError:
                self._answered(state.call_id, False)
            except Exception:  # noqa: BLE001 - a state we cannot send is just not ended
                _log.exception("cannot end dialog %s", state.call_id)
                self._answered(state.call_id, False)

    def _bye(self, state: DialogState, address: tuple[str, int]) -> None:
        from ._sippy_ext import is_local_timeout, send_text

        text = bye_text(state, self.host, self.port)
        holder: list[Any] = []

        def on_response(resp: Any) -> None:
            if resp.getSCode()[0] >= 200:
                self._answered(state.call_id, not (holder and is_local_timeout(holder[0], resp)))
        holder.append(send_text(self.config["_sip_tm"], text, address, on_response))
        self._transactions.append(holder[0])

    def _cancel(self, state: DialogState, address: tuple[str, int]) -> None:
        from ._sippy_ext import cancel_invite, confirmed, is_local_timeout

        holder: list[Any] = []

        def on_invite(resp: Any) -> None:
            code = resp.getSCode()[0]
            if code < 200:
                return
            if holder and is_local_timeout(holder[0], resp):
                self._answered(state.call_id, False)
            elif code < 300:             # it answered before our CANCEL: hang it up
                answered = confirmed(state, resp)
                try:                     # to its Contact (or first route), as any BYE
                    self._bye(answered, next_hop(answered))
                except Exception:  # noqa: BLE001 - in sippy's callback: log, never raise
                    _log.exception("cannot hang up dialog %s", state.call_id)
                    self._answered(state.call_id, False)
            else:
                self._answered(state.call_id, True)

        def on_cancel(resp: Any) -> None:
            if resp.getSCode()[0] == 481:
                self._answered(state.call_id, True)

        invite, cancel = cancel_invite(self.config["_sip_tm"], state, address,
                                       on_invite, on_cancel)
        holder.append(invite)
        self._transactions += [invite, cancel]

    def forget(self) -> None:
        """In the reactor: stop whatever is still retransmitted or waited for."""
        from ._sippy_ext import abandon

        tm = self.config.get("_sip_tm")
        if tm is not None:
            for t in self._transactions:
                abandon(tm, t)
