"""A path: the links a message crosses, one after the other (person's down line
behind the room server's uplink behind the agent's up line...).

A message is pipelined, as packets are: it starts on the next link as soon as
its first packet arrives there, and cannot end there before its last packet
came in. So a document crosses at the pace of the slowest link, plus every
link's delay, not the sum of every link's serialisation.

Every link of the path is charged at the time of the send, in simulated-time
order, so that a message held up upstream (behind a person's own upload, say)
cannot block, on a shared server link, messages sent before it arrives. Each
link later on the path delays the message by the queue it had at the send:
exact on the first link; further on, the queue is sampled up to the delays
upstream early, a small error accepted so that a send costs a few
operations per link and schedules nothing.
"""

from __future__ import annotations

from typing import Sequence

from .link import Link, Transfer


class Path:
    """The links a message crosses, one after the other, pipelined as packets are."""

    __slots__ = ("links",)

    def __init__(self, links: Sequence[Link]) -> None:
        if not links:
            raise ValueError("a path has at least one link")
        self.links = tuple(links)

    def send(self, size: float, now: float) -> Transfer:
        """A reliable message of `size` bytes sent at `now`: when it reaches the far end."""
        first, *rest = self.links
        transfer = first.send(size, now)
        lost = transfer.lost
        for link in rest:
            transfer = link.send(size, transfer.first, last_in=transfer.last, at=now)
            lost += transfer.lost
        return transfer if lost == transfer.lost else \
            type(transfer)(first=transfer.first, last=transfer.last, sent=transfer.sent, lost=lost)
