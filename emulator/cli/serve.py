"""`callback-emu serve`: the reference web app on one machine, with emulated phones."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..drivers.paths import default_db
from .common import INPUT_REFUSED, duration, sip_ready, subcommand


def add(commands: Any) -> None:
    """The `serve` subcommand and its options."""
    parser = subcommand(
        commands, "serve", "the reference web app on one machine, with the emulated PBX in "
        "real time",
        "callback-emu agents add ana.garcia && callback-emu serve   # agents sign in with accounts",
        "callback-emu serve --demo                  # one shared agent key, random and printed",
        "callback-emu serve --port 9000 --scenario my.yaml --db /tmp/cb.sqlite3 --agent-key demo",
        "callback-emu serve --pbx sip --db postgresql://user@localhost/callbacks",
        "callback-emu serve --pbx sip --phones 127.0.0.1:5070   # SIPp phones started elsewhere",
        handler=handle)
    parser.add_argument("--scenario", type=Path, metavar="FILE",
                        help="services, centres and phone behaviour "
                             "(default: scenarios/serve/default.yaml)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on")
    parser.add_argument("--db", metavar="PATH",
                        help=f"records: a SQLite file or postgresql://... (default: {default_db()})")
    parser.add_argument("--demo", action="store_true",
                        help="demo mode: agents sign in with one shared key (printed) instead "
                             "of their accounts (callback-emu agents add NAME)")
    parser.add_argument("--agent-key", metavar="KEY",
                        help="demo mode's shared key (implies --demo; default: a random one)")
    parser.add_argument("--no-request-limits", action="store_true",
                        help="take callback requests without the limits per number (3 in 10 "
                             "minutes) and per address (30 a minute), and chat without its "
                             "rate limit: for load tests")
    parser.add_argument("--pbx", choices=("sim", "sip"), default="sim",
                        help="sim: the emulated PBX in real time; sip: the real SIP "
                             "PBX (sippy) calling SIPp phones that behave as the scenario says")
    parser.add_argument("--phones", metavar="HOST:PORT",
                        help="with --pbx sip: dial SIPp phones (emulator/models/pbx/phone.xml) "
                             "already running at HOST:PORT instead of starting its own, so they "
                             "outlive serve (default: serve starts them as its child)")
    parser.add_argument("--drain-grace", type=duration, default=20.0, metavar="DURATION",
                        help="on SIGTERM, how long calls under way get to finish before they "
                             "are ended politely (default: 20s)")


def handle(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM."""
    from ..drivers.serve import run
    from ..models.pbx.sipp import PhonesAt, parse_phones

    phones: PhonesAt | None = None
    if args.phones is not None:
        if args.pbx != "sip":
            print("callback-emu serve: --phones needs --pbx sip (the emulated PBX has no "
                  "SIP phones)", file=sys.stderr)
            return INPUT_REFUSED
        try:
            phones = parse_phones(args.phones)
        except ValueError as error:
            print(f"callback-emu serve: --phones: {error}", file=sys.stderr)
            return INPUT_REFUSED
    elif args.pbx == "sip" and not sip_ready():
        return INPUT_REFUSED
    db = args.db
    if db is None:
        path = default_db()
        path.parent.mkdir(parents=True, exist_ok=True)
        db = str(path)
    return run(args.scenario, args.host, args.port, db, args.agent_key, args.pbx,
               not args.no_request_limits, demo=args.demo or args.agent_key is not None,
               phones=phones, drain_grace=args.drain_grace)
