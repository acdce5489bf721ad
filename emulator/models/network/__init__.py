"""Links, access profiles and what flows over them in a video room (simulated time)."""

from .link import Link, LinkSpec, Transfer
from .path import Path
from .profiles import PROFILES, Access
from .session import RoomSession, RoomSessions
from .setup import ChatSetup, DocumentsSetup, NetworkSetup, VideoSetup
from .video import VideoStream, pick_rung

__all__ = ["PROFILES", "Access", "Link", "LinkSpec", "Path", "RoomSession", "RoomSessions",
           "Transfer", "VideoStream", "pick_rung", "ChatSetup", "DocumentsSetup", "NetworkSetup",
           "VideoSetup"]
