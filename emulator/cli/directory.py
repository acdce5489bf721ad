"""`callback-emu directory`: the directory `serve` keeps in its records database (services,
centres and their desk phones, opening hours, room templates): list, add, edit, import."""

from __future__ import annotations

import argparse
import base64
import json
from pathlib import Path
from typing import Any, Callable

from .common import EXPECTATIONS_HELD, Help, InputRefused, duration, subcommand

KINDS = ("service", "centre", "template")
_APPLIES = {"service": "when serve next starts", "centre": "when serve next starts",
            "template": "in the next room (a running serve within 5 s)"}


def add(commands: Any) -> None:
    """The `directory` subcommand, its actions and their options."""
    from ..drivers.paths import default_db

    parser = subcommand(
        commands, "directory", "the directory serve keeps in its database: services, centres, "
        "desk phones, opening hours, room templates: list, add, edit, import",
        "callback-emu directory list --db /tmp/cb.sqlite3",
        "callback-emu directory import scenarios/serve/default.yaml --replace",
        "callback-emu directory add centre sevilla --desk-phones +34950000001,+34950000002",
        "callback-emu directory add service cards --centres sevilla --label 'Credit cards'",
        "callback-emu directory edit template advisor --title 'Mortgage advice' "
        "--accent '#1e40af' --chat off",
        "callback-emu directory edit service insurance --hours mon-fri=08:00-20:00 --holidays ES",
        handler=handle)
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", metavar="PATH",
                    help="the records database serve uses: a SQLite file or postgresql://... "
                         f"(default: {default_db()})")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    shown = actions.add_parser("list", parents=[db], formatter_class=Help,
                               help="every service, centre and room template",
                               description="List the directory.")
    shown.add_argument("--json", action="store_true",
                       help="print it as JSON (what GET /api/directory answers)")
    imported = actions.add_parser(
        "import", parents=[db], formatter_class=Help,
        help="put a scenario's services, centres and room templates in the database",
        description="Add (or replace) the scenario's services, centres and room templates.")
    imported.add_argument("scenario", type=Path, help="a scenario file")
    imported.add_argument("--replace", action="store_true",
                          help="first remove every entry the scenario does not have")
    for action, told in (("add", "add a new entry"), ("edit", "change an entry's fields")):
        kinds = actions.add_parser(action, formatter_class=Help, help=told,
                                   description=f"{told.capitalize()}: the options given.")
        chosen = kinds.add_subparsers(dest="kind", required=True, metavar="KIND")
        for kind, options in (("service", _service_options), ("centre", _centre_options),
                              ("template", _template_options)):
            one = chosen.add_parser(kind, parents=[db], formatter_class=Help,
                                    help=f"{action} a {kind}", description=f"{told}: a {kind}.")
            one.add_argument("name", help=f"the {kind}'s " + ("code" if kind == "service"
                                                              else "name"))
            options(one, required=action == "add")


def _service_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--centres", required=required, type=_names, metavar="A,B",
                        help="the centres that serve it, in failover order")
    parser.add_argument("--label", help="what the form shows (default: the code)")
    parser.add_argument("--room-template", metavar="NAME",
                        help="the room template of its rooms (default: default)")
    parser.add_argument("--hours", action="append", metavar="DAYS=HH:MM-HH:MM",
                        help="opening hours, again for each set of days "
                             "(mon-fri=08:00-20:00 --hours sat=09:00-14:00); 'always': none")
    parser.add_argument("--holidays", metavar="ES|DATES",
                        help="a country's public holidays (ES), dates (2026-12-24,2026-12-25), "
                             "or 'none'")
    parser.add_argument("--slots", metavar="EVERY/CAPACITY",
                        help="bookable slots: 15min/10 (every 15 min, 10 requests each), "
                             "or 'none'")


def _centre_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--desk-phones", required=required, type=_names, metavar="N1,N2",
                        help="the desk phones in hunting order: numbers or sip: URIs")
    parser.add_argument("--ring-timeout", type=duration, metavar="DURATION",
                        help="how long a desk phone rings (20s; default 15s)")
    parser.add_argument("--queue-max-wait", metavar="DURATION",
                        help="hold people for a free desk phone this long (60s), or 'none'")


def _template_options(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--title", help="the heading of the person's room page")
    parser.add_argument("--greeting", help="what the person reads when the room opens")
    for colour, what in (("accent", "buttons, links, one's own chat lines"),
                         ("background", "the page behind the cards"), ("text", "the ink")):
        parser.add_argument(f"--{colour}", metavar="#RRGGBB",
                            help=f"the colour of {what} (quote it: '#1e40af'), or 'none'")
    parser.add_argument("--logo", metavar="FILE",
                        help="a PNG, JPEG, GIF or WebP of at most 256 kB, or 'none'")
    parser.add_argument("--documents", metavar="A,B",
                        help="the catalogue documents the agent may push, or 'all'")
    parser.add_argument("--chat", choices=("on", "off"), help="whether the room has a chat")


def _names(text: str) -> list[str]:
    """A comma-separated list: its items, trimmed."""
    return [item.strip() for item in text.split(",") if item.strip()]


# -- carrying it out -----------------------------------------------------------------


def handle(args: argparse.Namespace) -> int:
    """Carry out the action; bad input or a database that fails exits 2 with one line."""
    from reference_impl.directory import DirectoryError
    from reference_impl.records import RecordsError, open_directory

    db = _db(args.db)
    try:
        store = open_directory(db)
    except (RecordsError, ValueError) as error:
        raise InputRefused(f"--db: {error}") from None
    try:
        if args.action == "list":
            _list(store.load(), db, args.json)
        elif args.action == "import":
            _import(store, args.scenario, args.replace)
        else:
            _change(store, args)
    except DirectoryError as error:
        what = " ".join(w for w in (args.action, getattr(args, "kind", ""),
                                    getattr(args, "name", "")) if w)
        raise InputRefused(f"directory {what}: {error}") from None
    except RecordsError as error:
        raise InputRefused(f"--db: {error}") from None
    finally:
        store.close()
    return EXPECTATIONS_HELD


def _db(given: str | None) -> str:
    from ..drivers.paths import default_db

    if given is None:
        path = default_db()
        path.parent.mkdir(parents=True, exist_ok=True)
        return str(path)
    if "://" not in given and given != ":memory:" and not Path(given).parent.is_dir():
        raise InputRefused(f"--db {given}: no such folder {Path(given).parent}")
    return given


def _import(store: Any, path: Path, replace: bool) -> None:
    from .. import scenario as sc
    from ..scenario import build as world

    loaded = sc.load(path)                  # a bad file: ScenarioError, file and line
    directory = world.directory(loaded.scenario)
    for template in directory.templates.values():
        _check_documents(template)
    if replace:
        store.replace_all(directory, str(path))
    else:
        store.merge(directory)
    print(f"{'replaced the directory by' if replace else 'imported'} {path}: "
          f"{len(directory.services)} services, {len(directory.centres)} centres, "
          f"{len(directory.templates)} room templates (serve takes services and centres when "
          "it next starts, templates in the next room)")


def _change(store: Any, args: argparse.Namespace) -> None:
    from reference_impl.web import directory_json as js

    parse, entries, put = {
        "service": (js.service_from, lambda d: d.services, store.put_service),
        "centre": (js.centre_from, lambda d: d.centres, store.put_centre),
        "template": (js.template_from, lambda d: d.templates, store.put_template)}[args.kind]
    existing = entries(store.load()).get(args.name)
    if args.action == "add" and existing is not None:
        raise InputRefused(f"directory add {args.kind} {args.name}: it exists already "
                           f"(change it with `callback-emu directory edit {args.kind}`)")
    if args.action == "edit" and existing is None:
        raise InputRefused(f"directory edit {args.kind} {args.name}: there is no such {args.kind} "
                           f"(add it with `callback-emu directory add {args.kind}`)")
    body = BODIES[args.kind](args)
    if args.action == "edit" and not body:
        raise InputRefused(f"directory edit {args.kind} {args.name}: give an option to change")
    entry = parse(args.name, body, existing)
    if args.kind == "template":
        _check_documents(entry)
    put(entry)
    done = "added" if args.action == "add" else "changed"
    print(f"{args.kind} {args.name} {done} in {store.where}: it applies {_APPLIES[args.kind]}")


def _check_documents(template: Any) -> None:
    from reference_impl.web.directory_json import catalogue_names, check_documents
    from reference_impl.web.documents import Catalogue
    from reference_impl.web.settings import UPLOAD_TYPES, WebSettings

    check_documents(template, catalogue_names(Catalogue(WebSettings().catalogue_dir,
                                                        UPLOAD_TYPES)))


def _service_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for option in ("centres", "label", "room_template"):
        if getattr(args, option) is not None:
            body[option] = getattr(args, option)
    if args.hours is not None:
        body["hours"] = None if args.hours == ["always"] else dict(_pair(h) for h in args.hours)
    if args.holidays is not None:
        text = args.holidays.strip()
        body["holidays"] = [] if text.lower() == "none" else \
            _names(text) if any(ch.isdigit() for ch in text) else text
    if args.slots is not None:
        body["slots"] = None if args.slots.strip().lower() == "none" else _slots(args.slots)
    return body


def _centre_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if args.desk_phones is not None:
        body["desk_phones"] = args.desk_phones
    if args.ring_timeout is not None:
        body["ring_timeout"] = args.ring_timeout
    if args.queue_max_wait is not None:
        text = args.queue_max_wait.strip()
        body["queue_max_wait"] = None if text.lower() == "none" else \
            _duration("--queue-max-wait", text)
    return body


def _template_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {key: getattr(args, key) for key in ("title", "greeting")
                            if getattr(args, key) is not None}
    colours = {key: None if value.strip().lower() == "none" else value.strip()
               for key in ("accent", "background", "text")
               if (value := getattr(args, key)) is not None}
    if colours:
        body["colours"] = colours
    if args.logo is not None:
        body["logo"] = None if args.logo.strip().lower() == "none" else _logo(Path(args.logo))
    if args.documents is not None:
        body["documents"] = None if args.documents.strip().lower() == "all" else \
            _names(args.documents)
    if args.chat is not None:
        body["chat"] = args.chat == "on"
    return body


BODIES: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "service": _service_body, "centre": _centre_body, "template": _template_body}


def _pair(text: str) -> tuple[str, str]:
    days, sep, windows = text.partition("=")
    if not sep:
        raise InputRefused(f"--hours {text}: write DAYS=HH:MM-HH:MM (mon-fri=08:00-20:00)")
    return days.strip(), windows.strip()


def _slots(text: str) -> dict[str, Any]:
    every, sep, capacity = text.partition("/")
    if not sep or not capacity.strip().isdigit():
        raise InputRefused(f"--slots {text}: write EVERY/CAPACITY (15min/10)")
    return {"every": _duration("--slots", every.strip()), "capacity": int(capacity)}


def _duration(option: str, text: str) -> float:
    try:
        return duration(text)
    except argparse.ArgumentTypeError as error:
        raise InputRefused(f"{option} {text}: {error}") from None


def _logo(path: Path) -> dict[str, str]:
    from reference_impl.directory import LOGO_MAX_BYTES

    try:
        with path.open("rb") as handle:
            data = handle.read(LOGO_MAX_BYTES + 1)
    except OSError as error:
        raise InputRefused(f"--logo {path}: cannot read it ({error.strerror})") from None
    return {"data": base64.b64encode(data).decode()}


# -- listing --------------------------------------------------------------------------


def _list(directory: Any, db: str, as_json: bool) -> None:
    from reference_impl.web.directory_json import centre_view, service_view, template_view

    if as_json:
        print(json.dumps({"services": [service_view(s) for s in directory.services.values()],
                          "centres": [centre_view(c) for c in directory.centres.values()],
                          "templates": [template_view(t)
                                        for t in directory.templates.values()]}, indent=2))
        return
    if not directory.services and not directory.centres:
        print(f"no directory in {db} yet: serve seeds it from its scenario on its first start, "
              "or `callback-emu directory import SCENARIO`")
        return
    _table(f"services ({len(directory.services)})", ("code", "label", "centres", "template",
                                                     "open"),
           [(s.code, s.label, " > ".join(s.centres), s.room_template, _opening(s))
            for s in directory.services.values()])
    _table(f"centres ({len(directory.centres)})", ("name", "ring", "queue", "desk phones"),
           [(c.name, f"{c.ring_timeout:g}s", "-" if c.queue_max_wait is None
             else f"{c.queue_max_wait:g}s", ", ".join(c.terminals))
            for c in directory.centres.values()])
    _table(f"room templates ({len(directory.templates)})",
           ("name", "title", "colours", "logo", "documents", "chat"),
           [(t.name, t.title, " ".join(t.colours.given().values()) or "-",
             f"{t.logo.content_type} {len(t.logo.data):,} B" if t.logo else "-",
             "all" if t.documents is None else ", ".join(t.documents) or "none",
             "on" if t.chat else "off") for t in directory.templates.values()])


def _opening(service: Any) -> str:
    parts = ["; ".join(f"{d} {w}" for d, w in service.hours) if service.hours else "always"]
    if service.holiday_country or service.holidays:
        parts.append(f"closed {service.holiday_country or len(service.holidays)} holidays")
    if service.slot_every:
        parts.append(f"slots {service.slot_every:g}s x{service.slot_capacity}")
    return ", ".join(parts)


def _table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    print(title)
    if not rows:
        print("  none")
        return
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]
    for row in (header, *rows):
        print("  " + "  ".join(f"{cell:<{w}}" for cell, w in zip(row, widths)).rstrip())
