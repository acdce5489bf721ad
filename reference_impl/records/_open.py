"""One string from configuration to a records store."""

from __future__ import annotations

import re

from ._postgres import PostgresRecords, mask_password
from ._record import ClosableRecordStore
from ._sqlite import SqliteRecords
from ._writer import WriteBehind

_SQLITE = "sqlite://"
# "name:" at the start reads as a URL scheme ("sqlite:/x.db" is a typo, not a file);
# one letter is a Windows drive.
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+:")


def open_records(url_or_path: str) -> ClosableRecordStore:
    """`postgresql://…` (or `postgres://…`): PostgreSQL; `sqlite:///path`, a plain path
    or ":memory:": SQLite. `sqlite:///` is followed by the path as is, so
    `sqlite:////var/lib/x.db` is absolute and `sqlite:///x.db` relative (as in SQLAlchemy).
    """
    if url_or_path.startswith(("postgresql://", "postgres://")):
        return PostgresRecords(url_or_path)
    return SqliteRecords(_sqlite_path(url_or_path))


def write_behind(url_or_path: str, **options: float) -> WriteBehind:
    """The store of `open_records`, written behind the event loop: one connection for
    the writer thread, another for readers (one shared for an in-memory SQLite)."""
    writer = open_records(url_or_path)
    try:
        in_memory = isinstance(writer, SqliteRecords) and writer.in_memory
        reader = writer if in_memory else open_records(url_or_path)
    except BaseException:
        writer.close()
        raise
    return WriteBehind(writer, reader, **options)  # type: ignore[arg-type]


def _sqlite_path(url_or_path: str) -> str:
    if url_or_path.startswith(_SQLITE):
        path = url_or_path[len(_SQLITE):]
        if path == "":
            return ":memory:"                    # "sqlite://", as SQLAlchemy reads it
        if not path.startswith("/") or path == "/":
            raise ValueError(f"records URL {url_or_path!r}: expected sqlite:///<path>")
        return path[1:]
    if _SCHEME.match(url_or_path):
        raise ValueError(f"records URL {mask_password(url_or_path)!r}: unknown scheme "
                         f"{url_or_path.partition(':')[0]!r}; use postgresql://…, "
                         "sqlite:///<path> or a file path (./name for one with a colon)")
    if not url_or_path.strip():
        raise ValueError("records: an empty path; give a file path, sqlite:///<path>, "
                         "postgresql://… or :memory:")
    return url_or_path
