"""What flows in one room while it is open, and the observer that opens and closes them.

A room session starts when the person's page has joined the room; the video
starts once the agent has joined too; everything ends when the room is
deleted. The person and the agent each have a line of their own (an access:
down and up links); the room server's line is shared by every room it hosts
(`RoomCreated.routing` names it). Video and documents go agent -> server ->
person; chat goes both ways; the person sends receiver reports while video
plays, and their own video when the room is two-way. Everything the person's
up link carries is the person's upload.
"""

from __future__ import annotations

import math
from typing import Any, Collection

from reference_impl import flow as f
from reference_impl.flow import Role
from reference_impl.records import CallbackRecord

from ..clock import Clock
from ..distributions import Rng
from .link import Link
from .path import Path
from .profiles import Access
from .quality import Quality
from .setup import NetworkSetup
from .video import Playback, VideoStream

ACK = 66              # bytes of a TCP acknowledgement on the wire (headers + options)
PACKETS_PER_ACK = 2   # delayed ACKs: one for every two full packets (RFC 1122 4.2.3.2)
WINDOW = 64_000       # bytes of a document sent per round trip: a TCP receive window's worth
REPORT_EVERY = 5.0    # s of video between two receiver reports going up
MIN_STAY = 5.0        # s: shorter stays in the room give no rates (2 kB of joining over 0.1 s
                      # would read as 160 kbit/s of upload)


class RoomSession:
    """One open room's traffic: video, chat, documents and what the person sends up."""

    def __init__(self, clock: Clock, spec: NetworkSetup, rng: Rng, *, person: Access, agent: Access,
                 server: tuple[Link, Link], quality: Quality | None, two_way: bool = False) -> None:
        self.clock, self.spec, self.rng, self.quality = clock, spec, rng, quality
        self.two_way = two_way or spec.video.two_way
        self.person_up, person_down = Link(person.up, rng), Link(person.down, rng)
        agent_up, agent_down = Link(agent.up, rng), Link(agent.down, rng)
        into_server, out_of_server = server
        self.to_person = Path([agent_up, into_server, out_of_server, person_down])
        self.to_agent = Path([self.person_up, into_server, out_of_server, agent_down])
        self.person_reports = Path([self.person_up, into_server])
        self.agent_reports = Path([agent_up, into_server])
        self.joined = clock.now()
        self.ended = False
        self.videos: list[VideoStream] = []
        self._arrivals: list[tuple[float, str, float]] = []    # (when, metric, value) in flight
        self._documents = spec.documents.count
        self._reports: list[Reports] = []
        self.person_reports.send(spec.join, self.joined)

    # -- the room's life -------------------------------------------------------------

    def agent_joined(self) -> None:
        """The agent is in: start the video (both ways if two-way), the chat and the documents."""
        if self.ended or self.videos:
            return
        self.videos.append(self._video(self.to_person, self.person_reports))
        if self.two_way:
            self.videos.append(self._video(self.to_agent, self.agent_reports))
        now = self.clock.now()
        for stream in self.videos:
            stream.start(now)
        self._next_chat()
        if self._documents > 0:
            self.clock.later(self.spec.documents.after.sample(self.rng), self._push)

    def end(self) -> None:
        """Close the room: stop the video, send the last reports, count what was shown."""
        if self.ended:
            return
        self.ended = True
        now = self.clock.now()
        playbacks = [stream.stop(now) for stream in self.videos]
        for viewer in self._reports:          # what the viewers saw last is reported too
            viewer.flush()
        if self.quality is None:
            return
        for when, name, value in self._arrivals:
            if when <= now:                   # shown before the room closed
                self.quality.add(name, value)
        stay = now - self.joined
        if playbacks and playbacks[0] is not None:
            self._record_video(playbacks[0], stay)
        if stay >= MIN_STAY:
            self.quality.add("person_upload", self.person_up.carried * 8 / 1000 / stay)

    def _record_video(self, playback: Playback, stay: float) -> None:
        assert self.quality is not None
        if playback.first_frame is not None:
            # From the person in the room, so the agent's join counts too;
            # the first frame after the video starts is the network's own share.
            self.quality.add("video_startup", playback.first_frame - self.joined)
            self.quality.add("video_first_frame", playback.first_frame - playback.started_at)
        if stay >= MIN_STAY:
            self.quality.add("video_stall_ratio", min(1.0, playback.stalled / stay))
        if playback.seconds > 0:
            self.quality.add("video_bitrate", playback.bits / playback.seconds / 1000)

    # -- flows -----------------------------------------------------------------------

    def _video(self, path: Path, reports: Path) -> VideoStream:
        video = self.spec.video
        startup = video.startup if video.startup is not None else 2 * video.segment
        viewer = Reports(self.clock, reports, video.feedback)
        self._reports.append(viewer)
        return VideoStream(self.clock, path, ladder=video.ladder, segment=video.segment,
                           startup=startup, feedback=viewer.watched)

    def _next_chat(self) -> None:
        # Each side writes every `every` on average: together, twice as often.
        gap = float(self.rng.exponential(self.spec.chat.every / 2))
        self.clock.later(gap, self._chat)

    def _chat(self) -> None:
        if self.ended:
            return
        now = self.clock.now()
        path = self.to_agent if self.rng.random() < 0.5 else self.to_person
        done = path.send(self.spec.chat.size, now)
        self.arrived(done.last, "chat_latency", done.last - now)
        self._next_chat()

    def _push(self) -> None:
        """The agent pushes a document (and, later, the next one)."""
        if self.ended:
            return
        size = self.spec.documents.size.sample(self.rng)
        Download(self, size).start()
        self._documents -= 1
        if self._documents > 0:
            self.clock.later(self.spec.documents.after.sample(self.rng), self._push)

    def acknowledge(self, size: float) -> None:
        """The person's browser acknowledges what it receives over TCP: upload too."""
        packets = math.ceil(size / self.person_up.spec.mtu)
        self.person_reports.send(math.ceil(packets / PACKETS_PER_ACK) * ACK, self.clock.now())

    def arrived(self, when: float, name: str, value: float) -> None:
        """Note a value shown at `when`: it counts only if that comes before the room ends."""
        now = self.clock.now()
        # Keep only what is still in flight, or shown: the list stays short.
        self._arrivals.append((when, name, value))
        if len(self._arrivals) > 32 and self.quality is not None:
            shown = [a for a in self._arrivals if a[0] <= now]
            self._arrivals = [a for a in self._arrivals if a[0] > now]
            for _, metric, measured in shown:
                self.quality.add(metric, measured)


class Reports:
    """A viewer's receiver reports (RTCP-like): `rate` bit/s of the video watched.

    They go up every `REPORT_EVERY` seconds of video, in one message: the
    same bytes as one report per segment, for a fraction of the work.
    """

    def __init__(self, clock: Clock, path: Path, rate: float) -> None:
        self.clock, self.path, self.rate = clock, path, rate
        self.owed = 0.0                  # seconds of video not reported yet

    def watched(self, seconds: float) -> None:
        """Owe a report for `seconds` more of video; send once `REPORT_EVERY` is owed."""
        self.owed += seconds
        if self.owed >= REPORT_EVERY:
            self.flush()

    def flush(self) -> None:
        """Send up what is owed, in one message."""
        if self.owed > 0:
            self.path.send(self.rate * self.owed / 8, self.clock.now())
            self.owed = 0.0


class Download:
    """A document on its way to the person, a window of `WINDOW` bytes at a time.

    Two windows are in flight; each one that arrives lets the next go. On a
    slow line that keeps the line busy, and lets video segments and chat in
    between windows, as packets of concurrent flows share a real queue,
    instead of holding them behind the whole document. One scheduled call
    per window.
    """

    def __init__(self, session: RoomSession, size: float) -> None:
        self.session = session
        self.size = size
        self.pushed = session.clock.now()
        self.offered = 0.0
        self.last = self.pushed

    def start(self) -> None:
        """Send the first two windows (one if the document fits in one)."""
        self._send()
        if self.offered < self.size:
            self._send()

    def _send(self) -> None:
        session = self.session
        if session.ended or self.offered >= self.size:
            return
        now = session.clock.now()
        window = min(WINDOW, self.size - self.offered)
        done = session.to_person.send(window, now)
        session.acknowledge(window)
        self.offered += window
        self.last = max(self.last, done.last)
        if self.offered >= self.size:
            session.arrived(self.last, "document_delivery", self.last - self.pushed)
        else:
            session.clock.later(done.last - now, self._send)


class RoomSessions:
    """A switchboard observer: a `RoomSession` for every room a person joins.

    Rooms joined during the warm-up carry traffic (they load the server's
    line) but are left out of the statistics.
    """

    def __init__(self, clock: Clock, spec: NetworkSetup, rng: Rng, collector: Any = None, *,
                 two_way: bool | Collection[str] = False) -> None:
        """`two_way`: the room servers' two-way rooms (`rooms.two_way`: every room, or
        these room templates) carry the person's camera too."""
        self.clock, self.spec, self.rng = clock, spec, rng
        self.two_way = two_way
        self.person, self.agent, self.server = spec.person, spec.agent, spec.server
        self.quality = Quality(collector.series if collector is not None else None)
        self.warmup = getattr(collector, "warmup", 0.0)
        self.servers: dict[str, tuple[Link, Link]] = {}
        self.sessions: dict[str, RoomSession] = {}
        self._routing: dict[str, str] = {}
        self._template: dict[str, str] = {}
        self._agent_in: set[str] = set()        # the agent joined before the person

    # -- the Observer protocol --------------------------------------------------------

    def event(self, callback_id: str, event: f.Event, now: float) -> None:
        """Note the server of a room created; open its session, or start its video, on a join."""
        kind = type(event)
        if kind is f.RoomCreated:
            self._routing[callback_id] = event.routing          # type: ignore[attr-defined]
        elif kind is f.JoinedRoom:
            if event.who is Role.PERSON:                         # type: ignore[attr-defined]
                self._person_joined(callback_id, now)
            else:
                self._agent_joined(callback_id)

    def command(self, callback_id: str, command: f.Command, now: float) -> None:
        """End the session when the room is deleted; note a room's template when it is created."""
        kind = type(command)
        if kind is f.DeleteRoom:
            self._end(callback_id)
        elif kind is f.CreateRoom and not isinstance(self.two_way, bool):
            self._template[callback_id] = command.template     # type: ignore[attr-defined]

    def closed(self, record: CallbackRecord) -> None:
        """The call has ended: end its room's session and forget the room."""
        self._end(record.id)
        self._routing.pop(record.id, None)
        self._template.pop(record.id, None)

    # -- internals -------------------------------------------------------------------

    def _person_joined(self, callback_id: str, now: float) -> None:
        if callback_id in self.sessions:
            return
        routing = self._routing.get(callback_id, "")
        session = RoomSession(self.clock, self.spec, self.rng, person=self.person, agent=self.agent,
                              server=self._server(routing),
                              quality=self.quality if now >= self.warmup else None,
                              two_way=self._two_way(callback_id))
        self.sessions[callback_id] = session
        if callback_id in self._agent_in:
            self._agent_in.discard(callback_id)
            session.agent_joined()

    def _two_way(self, callback_id: str) -> bool:
        if isinstance(self.two_way, bool):
            return self.two_way
        return self._template.get(callback_id) in self.two_way

    def _agent_joined(self, callback_id: str) -> None:
        session = self.sessions.get(callback_id)
        if session is None:
            self._agent_in.add(callback_id)
        else:
            session.agent_joined()

    def _end(self, callback_id: str) -> None:
        self._agent_in.discard(callback_id)
        session = self.sessions.pop(callback_id, None)
        if session is not None:
            session.end()

    def _server(self, routing: str) -> tuple[Link, Link]:
        links = self.servers.get(routing)
        if links is None:
            links = self.servers[routing] = (Link(self.server.down, self.rng),
                                             Link(self.server.up, self.rng))
        return links
