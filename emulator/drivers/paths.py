"""Where the live system keeps its files when not told: a data folder, never the working tree."""

from __future__ import annotations

import os
from pathlib import Path


def default_db() -> Path:
    """Where `serve` keeps its records unless told: a data folder, never the working tree."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "callback-emulator" / "callbacks.sqlite3"
