"""Errors of the call flow, named after the condition.

As in h11, misuse by our own driver (`LocalProtocolError`) and misbehaviour
of the outside world (`RemoteProtocolError`) are different classes. Either
leaves the callback in its terminal state; `commands` holds the clean-up the
driver must still carry out (hang up legs, release the code, delete the room).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from .commands import Command


class FlowError(Exception):
    """Base class of the flow's errors; `commands` is the clean-up the driver still owes."""

    def __init__(self, message: str, commands: Sequence["Command"] = ()) -> None:
        super().__init__(message)
        self.commands: list["Command"] = list(commands)


class LocalProtocolError(FlowError):
    """Our driver fed the flow something it never asked for."""


class RemoteProtocolError(FlowError):
    """The PBX, a phone, a room server or an agent did something out of turn."""


class CallAlreadyEnded(LocalProtocolError):
    """A callback that reached its terminal state was asked to start again."""


class OutOfTurn(LocalProtocolError):
    """A reply (route, code, terminal) the flow was not waiting for."""


class UnexpectedEvent(RemoteProtocolError):
    """A world event that the callback's state does not allow."""


class UnknownLeg(RemoteProtocolError):
    """An event about a leg this callback never dialled."""


