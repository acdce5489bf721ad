"""One direction of a link: a token-bucket shaper in front of a propagation delay.

The model is the one Linux `tc tbf` applies (plus what `netem` adds): bytes
leave at `rate` once the bucket holds tokens for them; the bucket fills at
`rate` up to `burst` bytes while the link is idle, so after a pause up to
`burst` bytes leave at once. With `burst` 0 a packet of s bytes takes s·8/rate
to leave: plain serialisation on a line of that rate. Then every packet
travels `delay` ± `jitter` (uniform, like netem's default) and may be lost with
probability `loss`.

Nothing is scheduled here: a link is FIFO arithmetic on two numbers (when the
last byte accepted so far has left, and the tokens left at that moment), so a
send costs a few float operations whether it is one packet or a whole
document. Sends must come in non-decreasing time order (simulated time does).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

from ..distributions import Rng

MTU = 1500          # bytes: an Ethernet-sized packet, what access links carry


@dataclass(frozen=True, kw_only=True, slots=True)
class LinkSpec:
    """What one direction of a link is (see the module docstring)."""

    rate: float                         # bit/s
    delay: float = 0.0                  # s, one way
    jitter: float = 0.0                 # s, the delay varies uniformly by ± this
    loss: float = 0.0                   # probability that a packet is lost
    queue_bytes: float = math.inf       # bytes waiting to leave, beyond which packets drop
    queue_packets: float = math.inf     # or packets waiting
    burst: float = 0.0                  # bytes that may leave at once after a pause
    mtu: int = MTU

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"a link's rate is a finite number above 0, got {self.rate!r}")
        if self.delay < 0 or self.jitter < 0 or self.burst < 0:
            raise ValueError("a link's delay, jitter and burst are 0 or more")
        if not 0.0 <= self.loss < 1.0:
            raise ValueError(f"a link's loss is a probability below 1, got {self.loss!r}")


class Transfer(NamedTuple):
    """When a message's first and last bytes reach the far end, and what it cost."""

    first: float
    last: float
    sent: float           # bytes put on the link, resent packets included
    lost: int = 0         # packets lost (and resent) on the way


class Link:
    """One direction: person's down or up line, a server's uplink..."""

    __slots__ = ("spec", "rng", "_free_at", "_tokens", "_byte_rate", "_leaving", "carried",
                 "_uniforms")

    def __init__(self, spec: LinkSpec, rng: Rng) -> None:
        self.spec = spec
        self.rng = rng
        self._byte_rate = spec.rate / 8.0
        self._free_at = -math.inf        # when the last accepted byte has left
        self._tokens = spec.burst        # tokens at `_free_at`
        self._leaving: deque[float] | None = (deque() if math.isfinite(spec.queue_packets)
                                              else None)   # departure times, for a packet limit
        self.carried = 0.0               # bytes that left, for counters
        self._uniforms: list[float] = []  # drawn by the batch: one numpy call per 64 draws

    # -- the shaper ------------------------------------------------------------

    def backlog(self, now: float) -> float:
        """Bytes accepted but not yet left at `now`."""
        return max(0.0, (self._free_at - now) * self._byte_rate)

    def _leave(self, size: float, start: float) -> float:
        """FIFO arithmetic: when `size` bytes offered at `start` have all left."""
        start = max(start, self._free_at)
        idle = start - self._free_at
        tokens = min(self.spec.burst, self._tokens + idle * self._byte_rate) if idle > 0 \
            else self._tokens
        if tokens >= size:
            self._tokens = tokens - size
            done = start
        else:
            self._tokens = 0.0
            done = start + (size - tokens) / self._byte_rate
        self._free_at = done
        self.carried += size
        return done

    def _travel(self) -> float:
        spec = self.spec
        if spec.jitter <= 0:
            return spec.delay
        return max(0.0, spec.delay + spec.jitter * (2.0 * self._uniform() - 1.0))

    def _uniform(self) -> float:
        if not self._uniforms:
            self._uniforms = self.rng.random(64).tolist()
        return self._uniforms.pop()

    # -- what flows use ----------------------------------------------------------

    def send_packet(self, size: float, now: float) -> float | None:
        """A datagram offered at `now`: when it arrives, or None if dropped (queue full, or lost)."""
        if self._full(size, now):
            return None
        done = self._leave(size, now)
        if self._leaving is not None:
            self._leaving.append(done)
        if self.spec.loss > 0 and self._uniform() < self.spec.loss:
            return None                  # it used the line, then vanished on the way
        return done + self._travel()

    def _full(self, size: float, now: float) -> bool:
        if self.backlog(now) + size > self.spec.queue_bytes + 1e-6:   # float time -> bytes: round-off
            return True
        leaving = self._leaving
        if leaving is not None:
            while leaving and leaving[0] <= now:
                leaving.popleft()
            return len(leaving) >= self.spec.queue_packets
        return False

    def send(self, size: float, now: float, last_in: float | None = None,
             at: float | None = None) -> Transfer:
        """A reliable message (TCP-like) of `size` bytes, its first byte offered at `now`.

        `last_in` is when its last byte reaches this link (later than `now`
        when it comes from a slower link upstream): the message cannot leave
        faster than it comes. The sender's window keeps the queue within its
        limit, so nothing is dropped at the queue; a packet lost on the way
        is resent, which costs its bytes again and a round trip of this link
        (the sender hears of the loss one way later, the copy travels again).

        `at` (default `now`) is the simulated time of the send. A link further
        along a path gets the message later than it is sent: its queue is
        taken as it is `at` the send, shifted to when the message comes in,
        so that links are always fed in time order (see `path`).
        """
        spec = self.spec
        if at is None:
            at = now
        head = size if size < spec.mtu else spec.mtu          # the first packet
        lost = 0
        if spec.loss > 0:
            lost = int(self.rng.binomial(max(1, math.ceil(size / spec.mtu)), spec.loss))
        sent = size + lost * head
        # `_leave` for the whole message, noting when its first packet is through.
        rate, free_at = self._byte_rate, self._free_at
        start = at if at > free_at else free_at
        tokens = self._tokens
        if start > free_at:
            tokens = min(spec.burst, tokens + (start - free_at) * rate)
        first_out = start if tokens >= head else start + (head - tokens) / rate
        if tokens >= sent:
            last_out, self._tokens = start, tokens - sent
        else:
            last_out, self._tokens = start + (sent - tokens) / rate, 0.0
        self._free_at = last_out
        self.carried += sent
        if now > at:                       # further along a path: the queue as it was at `at`
            first_out += now - at
            last_out += now - at
        if last_in is not None and last_in > last_out:
            last_out = self._stretch(last_in, head)
        first = first_out + spec.delay
        last = last_out + self._travel() + (2.0 * spec.delay if lost else 0.0)
        return Transfer(first, last if last > first else first, sent, lost)

    def _stretch(self, last_in: float, packet: float) -> float:
        """The last packet came in late (a slower link upstream): it leaves once through.

        The line's own state keeps only the work it did: between packets that
        trickle in it idles, and other flows' packets may use it meanwhile.
        """
        return last_in + packet / self._byte_rate if self._tokens < packet else last_in
