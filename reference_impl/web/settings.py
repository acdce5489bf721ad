"""What the web app is configured with: secrets, limits, and optional hooks.

The hooks let a host (the emulator's `serve`) show the desk phones it
emulates and hang up an emulated phone; the real system leaves them unset.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping

from ..ports import DeskPhone

HERE = Path(__file__).parent

# Types an agent may upload, by the extension of the file's name; the first
# bytes must match too (see documents.sniff), so a renamed file is refused.
UPLOAD_TYPES: Mapping[str, str] = MappingProxyType({
    ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
    ".gif": "image/gif", ".webp": "image/webp", ".pdf": "application/pdf",
    ".txt": "text/plain",
})


@dataclass(frozen=True, kw_only=True, slots=True)
class Document:
    """A document pushed into a room: a name, its type, its bytes."""

    id: str
    name: str
    content_type: str
    data: bytes

    @property
    def is_image(self) -> bool:
        """Whether pages show it inline (an image) rather than as a download."""
        return self.content_type.startswith("image/")


@dataclass(frozen=True, kw_only=True)
class WebSettings:
    """The web app's secrets, limits and upload rules, and the host's optional hooks."""

    cookie_secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    agent_keys: frozenset[str] = frozenset()       # agent credentials; empty: nobody gets in
    default_region: str = "ES"                     # numbers typed without +country
    upload_max_bytes: int = 5 * 1024 * 1024
    upload_types: dict[str, str] = field(default_factory=lambda: dict(UPLOAD_TYPES))
    documents_per_room: int = 30
    chat_max_chars: int = 2000
    code_attempts: int = 5                         # wrong codes allowed per window...
    code_window: float = 60.0                      # ... of this many seconds, per client
    # Callback requests (form and API). Per number: nobody can have a stranger's
    # phone rung over and over. Per client address: nobody can flood the PBX.
    # None (or 0): no limit (a load benchmark measures the app, not the limiter).
    callbacks_per_number: int | None = 3           # per number_window seconds
    number_window: float = 600.0
    callbacks_per_client: int | None = 30          # per client_window seconds
    client_window: float = 60.0
    catalogue_dir: Path = HERE / "static" / "catalogue"
    title: str = "Call me back"
    debug: bool = False
    desk_phones: Callable[[], list[DeskPhone]] | None = None   # emulated desks (serve)
    hangup: Callable[[str], bool] | None = None               # hang up a person's phone (serve)
