"""What the web app is configured with: secrets, limits, and optional hooks.

Agents sign in with accounts (`accounts`, from `reference_impl.accounts`);
`agent_keys` is demo mode's one shared key, and when it is set the agent page
asks for the key instead. The hooks let a host (the emulator's `serve`) show
the desk phones it emulates and hang up an emulated phone; the real system
leaves them unset.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Mapping

from ..ports import DeskPhone

if TYPE_CHECKING:
    from ..accounts import AgentAccounts

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
    # Agents: accounts (name and password; sessions in the same database), or demo
    # mode's shared key(s). Neither: nobody gets in.
    accounts: "AgentAccounts | None" = None
    agent_keys: frozenset[str] = frozenset()       # demo mode only: one shared key
    agent_session_seconds: float = 12 * 3600.0     # a sign-in lasts a working day at most
    # Phone numbers: those typed without +country are read in `default_region`;
    # only numbers of `allowed_regions` (None: the default region alone) and of
    # `allowed_number_types` (names of phonenumbers.PhoneNumberType, lower case;
    # "fixed_line_or_mobile" passes when either is allowed) are called.
    default_region: str = "ES"
    allowed_regions: frozenset[str] | None = None
    allowed_number_types: frozenset[str] = frozenset({"fixed_line", "mobile"})
    upload_max_bytes: int = 5 * 1024 * 1024
    upload_types: dict[str, str] = field(default_factory=lambda: dict(UPLOAD_TYPES))
    documents_per_room: int = 30
    chat_max_chars: int = 2000
    chat_rate: float | None = 1.0                  # chat lines per second, each page of a room...
    chat_burst: int = 10                           # ... after a burst of this many; None: no limit
    code_attempts: int = 5                         # wrong codes allowed per window...
    code_window: float = 60.0                      # ... of this many seconds, per agent and address
    code_attempts_per_address: int = 30            # and per address, whoever the agents are
    # Failed sign-ins (the agent page, X-Agent-Key, HTTP Basic on the API): free
    # tries, then waits doubling from 1 s up to login_max_delay, per (address,
    # name); a higher ceiling per address, and one per account from everywhere
    # (which spares an address the account signed in from before).
    login_free_tries: int = 3
    login_address_tries: int = 20
    login_account_tries: int = 10
    login_max_delay: float = 900.0
    # HTTP: headers must arrive within idle_connection_timeout (also how long an
    # idle keep-alive connection is kept), a body within body_timeout; at most
    # max_connections open at once (never more than the process may open files,
    # less a reserve): past it a new connection gets 503 and is closed.
    idle_connection_timeout: float = 20.0
    body_timeout: float = 60.0
    max_header_size: int = 16 * 1024
    max_connections: int = 4096
    # JSON in: the API's body and each websocket message, in size and nesting.
    api_body_max_bytes: int = 16 * 1024
    websocket_max_bytes: int = 64 * 1024
    json_max_depth: int = 8
    websocket_ping_interval: float | None = 30.0   # finds dead pages; None: no pings
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
    durable_timeout: float = 30.0       # s a request waits for its record to be stored
    desk_phones: Callable[[], list[DeskPhone]] | None = None   # emulated desks (serve)
    hangup: Callable[[str], bool] | None = None               # hang up a person's phone (serve)
