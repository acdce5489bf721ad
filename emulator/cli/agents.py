"""`callback-emu agents`: the agents' accounts `serve` signs in with: add, list, remove."""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path
from typing import Any

from .common import EXPECTATIONS_HELD, Help, InputRefused, subcommand


def add(commands: Any) -> None:
    """The `agents` subcommand, its actions and their options."""
    from .serve import default_db

    parser = subcommand(
        commands, "agents", "agents' accounts for the agent page of serve: add, list, remove",
        "callback-emu agents add ana.garcia                      # asks for the password twice",
        "callback-emu agents add ana.garcia --password-stdin < password.txt",
        "callback-emu agents list --db /tmp/cb.sqlite3",
        "callback-emu agents remove ana.garcia --db postgresql://user@localhost/callbacks",
        handler=handle)
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", metavar="PATH",
                    help=f"the records database serve uses: a SQLite file or postgresql://... "
                         f"(default: {default_db()})")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    made = actions.add_parser("add", parents=[db], formatter_class=Help,
                              help="make an account (the password: at least 12 characters)",
                              description="Make an agent's account; the password is asked "
                                          "twice, or read from standard input.")
    made.add_argument("name", help="2 to 64 letters, digits, '.', '_', '-' or '@' "
                                   "(kept in lower case)")
    made.add_argument("--password-stdin", action="store_true",
                      help="read the password from the first line of standard input")
    actions.add_parser("list", parents=[db], formatter_class=Help,
                       help="the accounts, when each was made, its open sessions",
                       description="List the agents' accounts.")
    gone = actions.add_parser("remove", parents=[db], formatter_class=Help,
                              help="delete an account and end its sessions at once",
                              description="Delete an agent's account; its sessions end.")
    gone.add_argument("name", help="the agent's name")


def handle(args: argparse.Namespace) -> int:
    """Carry out the action; a bad name, password or database exits 2 with one line."""
    from reference_impl.accounts import AccountError, AccountsError, clean_name, open_accounts

    from .serve import default_db

    db = args.db
    if db is None:
        path = default_db()
        path.parent.mkdir(parents=True, exist_ok=True)
        db = str(path)
    elif "://" not in db and db != ":memory:" and not Path(db).parent.is_dir():
        raise InputRefused(f"--db {db}: no such folder {Path(db).parent}")
    if args.action == "add":
        try:
            clean_name(args.name)                  # before asking for a password
        except AccountError as error:
            raise InputRefused(f"agents add: {error}") from None
    password = _password(args) if args.action == "add" else ""
    try:
        accounts = open_accounts(db)
    except AccountsError as error:
        raise InputRefused(f"--db: {error}") from None
    try:
        if args.action == "add":
            name = accounts.add(args.name, password)
            print(f"agent {name} added ({db})")
        elif args.action == "remove":
            print(f"agent {accounts.remove(args.name)} removed; its sessions are over")
        else:
            _list(accounts.agents(), db)
    except AccountError as error:
        raise InputRefused(f"agents {args.action}: {error}") from None
    except AccountsError as error:
        raise InputRefused(f"--db: {error}") from None
    finally:
        accounts.close()
    return EXPECTATIONS_HELD


def _password(args: argparse.Namespace) -> str:
    """The new password: from standard input's first line, or asked twice on the terminal."""
    from reference_impl.accounts import AccountError, check_password

    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise InputRefused("agents add: no terminal to ask the password on: "
                               "use --password-stdin")
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("The same password again: ") != password:
            raise InputRefused("agents add: the two passwords differ")
    try:
        return check_password(password)
    except AccountError as error:
        raise InputRefused(f"agents add: {error}") from None


def _list(agents: list[Any], db: str) -> None:
    if not agents:
        print(f"no agents in {db}: add one with `callback-emu agents add NAME`")
        return
    width = max(len("name"), *(len(a.name) for a in agents))
    print(f"{'name':<{width}}  created              open sessions")
    for agent in agents:
        made = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(agent.created))
        print(f"{agent.name:<{width}}  {made}  {agent.sessions}")
