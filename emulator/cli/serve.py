"""`callback-emu serve`: the reference web app on one machine, with emulated phones."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from .common import INPUT_REFUSED, sip_ready, subcommand


def default_db() -> Path:
    """Where `serve` keeps its records unless told: a data folder, never the working tree."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "callback-emulator" / "callbacks.sqlite3"


def add(commands: Any) -> None:
    """The `serve` subcommand and its options."""
    parser = subcommand(
        commands, "serve", "the reference web app on one machine, with the emulated PBX in "
        "real time",
        "callback-emu serve",
        "callback-emu serve --port 9000 --scenario my.yaml --db /tmp/cb.sqlite3 --agent-key demo",
        "callback-emu serve --pbx sip --db postgresql://user@localhost/callbacks",
        handler=handle)
    parser.add_argument("--scenario", type=Path, metavar="FILE",
                        help="services, centres and phone behaviour "
                             "(default: scenarios/serve/default.yaml)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument("--db", metavar="PATH",
                        help=f"records: a SQLite file or postgresql://... (default: {default_db()})")
    parser.add_argument("--agent-key", metavar="KEY",
                        help="the agents' credential (default: a random one, printed)")
    parser.add_argument("--no-request-limits", action="store_true",
                        help="take callback requests without the limits per number (3 in 10 "
                             "minutes) and per address (30 a minute): for load tests")
    parser.add_argument("--pbx", choices=("sim", "sip"), default="sim",
                        help="sim: the emulated PBX in real time; sip: the real SIP "
                             "PBX (sippy) calling SIPp phones that behave as the scenario says")


def handle(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM."""
    from ..drivers.serve import run

    if args.pbx == "sip" and not sip_ready():
        return INPUT_REFUSED
    db = args.db
    if db is None:
        path = default_db()
        path.parent.mkdir(parents=True, exist_ok=True)
        db = str(path)
    return run(args.scenario, args.host, args.port, db, args.agent_key, args.pbx,
               not args.no_request_limits)
