"""What a scenario's `network:` says, as plain values the room sessions read."""

from __future__ import annotations

from dataclasses import dataclass

from ..distributions import Distribution, Fixed, Uniform
from .profiles import DEFAULT_AGENT, DEFAULT_PERSON, DEFAULT_SERVER, PROFILES, Access


@dataclass(frozen=True, slots=True)
class VideoSetup:
    """The agent's video: its bit-rate ladder, segments, and the person's camera."""

    ladder: tuple[float, ...] = (250e3, 500e3, 1000e3)   # bit/s
    two_way: bool = False              # the person's camera too (the product is one-way)
    segment: float = 1.0               # seconds of video per segment
    startup: float | None = None       # video buffered before the first frame; None: two segments
    feedback: float = 4800.0           # bit/s of receiver reports while video plays


@dataclass(frozen=True, slots=True)
class ChatSetup:
    """Chat: how often each side writes, and how big a message is."""

    every: float = 30.0                # s between one side's messages, on average
    size: float = 200.0                # bytes


@dataclass(frozen=True, slots=True)
class DocumentsSetup:
    """Documents the agent pushes: how many, how big, and when."""

    count: int = 1
    size: Distribution = Fixed(400e3)                 # bytes
    after: Distribution = Uniform(10.0, 60.0)         # the agent joined (or the last push) -> a push


@dataclass(frozen=True, slots=True)
class NetworkSetup:
    """Who sits behind which line, and what flows in the room."""

    person: Access = PROFILES[DEFAULT_PERSON]
    agent: Access = PROFILES[DEFAULT_AGENT]
    server: Access = PROFILES[DEFAULT_SERVER]
    video: VideoSetup = VideoSetup()
    chat: ChatSetup = ChatSetup()
    documents: DocumentsSetup = DocumentsSetup()
    join: float = 2000.0               # bytes of the person's page joining (HTTP, websocket, SDP)
