"""Live video in segments, with a bitrate ladder that adapts to the path (ABR).

The camera encodes `segment` seconds at a time; segment k is ready once it has
been filmed, `(k + 1) · segment` after the video started. The viewer fetches
segments one after the other, each as soon as it is ready and the previous
one has arrived, at the rung the ABR rule picks. Playback starts once
`startup` seconds are buffered, drains the buffer in real time, and stalls
when it runs dry until the next segment arrives. A stream that falls behind
stays behind (live video is not played faster): later segments are then
ready at once and fetched back to back.

Everything between two fetches is arithmetic: one scheduled call per segment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..clock import Clock
from .path import Path

SAFETY = 0.8          # use at most this share of the measured throughput (as dash.js does)
HISTORY = 3           # segments in the throughput estimate


def pick_rung(ladder: Sequence[float], throughput: float | None, buffer: float,
              segment: float) -> float:
    """The bit rate of the next segment (the ladder sorted, lowest first).

    The highest rung within `SAFETY` of the measured throughput whose segment
    would arrive before the buffer runs dry; with no measurement yet, or no
    rung that fits, the lowest (the soonest to arrive).
    """
    if throughput is None:
        return ladder[0]
    for rate in reversed(ladder):
        if rate <= SAFETY * throughput and rate * segment / throughput <= buffer:
            return rate
    return ladder[0]


@dataclass
class Playback:
    """What the viewer saw: filled in as segments arrive and when the stream stops."""

    started_at: float                   # the video could start (both in the room)
    first_frame: float | None = None
    stalled: float = 0.0                # seconds without picture after the first frame
    bits: float = 0.0                   # delivered video
    seconds: float = 0.0                # delivered video, in seconds of picture


class VideoStream:
    """One way of a room's live video: each segment fetched once ready, at the rung ABR picks."""

    def __init__(self, clock: Clock, path: Path, *, ladder: Sequence[float], segment: float,
                 startup: float, feedback: Callable[[float], None]) -> None:
        self.clock = clock
        self.path = path
        self.ladder = sorted(ladder)
        self.segment = segment
        self.startup = startup
        self.feedback = feedback         # told the seconds of video being fetched: the viewer reports
        self.playback: Playback | None = None
        self.stopped = False
        self._buffer = 0.0               # seconds of picture buffered at `_since`
        self._since = 0.0
        self._playing = False
        self._pending: tuple[float, float, float, float] | None = None  # arrival, bits, sent, took
        self._throughputs: list[float] = []
        self._next = 0                   # the next segment's index

    def start(self, now: float) -> None:
        """Both are in the room: the first segment is filmed and fetched `segment` from now."""
        self.playback = Playback(started_at=now)
        self._since = now
        self.clock.later(self.segment, self._fetch)

    def stop(self, now: float) -> Playback | None:
        """The room is gone: account for what arrived, and for the picture missing until now."""
        if self.stopped or self.playback is None:
            return self.playback
        self.stopped = True
        self._arrive_pending(now)
        self._drain(now)
        playback = self.playback
        if playback.first_frame is None:
            # No picture at all: missing from the earliest it could have shown.
            playback.stalled = max(0.0, now - (playback.started_at + self.segment))
        return playback

    # -- one fetch per segment ---------------------------------------------------

    def _fetch(self) -> None:
        if self.stopped:
            return
        now = self.clock.now()
        self._arrive_pending(now)
        self._drain(now)
        rate = pick_rung(self.ladder, self._estimate(), self._buffer, self.segment)
        bits = rate * self.segment
        transfer = self.path.send(bits / 8.0, now)
        self.feedback(self.segment)
        self._pending = (transfer.last, bits, now, transfer.last - now)
        self._next += 1
        assert self.playback is not None
        ready = self.playback.started_at + (self._next + 1) * self.segment
        self.clock.later(max(transfer.last, ready) - now, self._fetch)

    def _estimate(self) -> float | None:
        if not self._throughputs:
            return None
        recent = self._throughputs[-HISTORY:]
        return len(recent) / sum(1.0 / t for t in recent)      # harmonic mean: wary of dips

    def _arrive_pending(self, now: float) -> None:
        if self._pending is None or self._pending[0] > now:
            return
        arrival, bits, _, took = self._pending
        self._pending = None
        self._throughputs.append(bits / max(took, 1e-9))
        del self._throughputs[:-HISTORY]
        self._drain(arrival)
        self._buffer += self.segment
        assert self.playback is not None
        self.playback.bits += bits
        self.playback.seconds += self.segment
        if not self._playing:
            needed = self.startup if self.playback.first_frame is None else self.segment
            if self._buffer >= needed - 1e-9:
                self._playing = True
                if self.playback.first_frame is None:
                    self.playback.first_frame = arrival

    def _drain(self, now: float) -> None:
        """Play from `_since` to `now`: the buffer empties, or the picture stalls."""
        elapsed = now - self._since
        if elapsed <= 0:
            return
        assert self.playback is not None
        if self._playing:
            if self._buffer >= elapsed:
                self._buffer -= elapsed
            else:
                self.playback.stalled += elapsed - self._buffer
                self._buffer = 0.0
                self._playing = False
        elif self.playback.first_frame is not None:
            self.playback.stalled += elapsed          # already stalled
        self._since = now
