"""The directory in the records database: services, centres, desk phones, opening hours
and room templates (schema version 5).

`serve` seeds it from its scenario on the first start (`seed`), then reads it
from here (`load`). `callback-emu directory` and the agents' API change one
entry at a time (`put_service`, `put_centre`, `put_template`): each change is
checked against the whole directory (a desk phone in two centres, a service
naming a centre or template that does not exist) inside the transaction that
writes it, so the stored directory is always one `Directory` would take.
Room templates are read again for every new room (`template`, cached a few
seconds): an edit shows in the next room without a restart.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import date
from typing import Any, Callable, Iterable, Mapping

from ..directory import Centre, Colours, Directory, Logo, RoomTemplate, Service
from ._sql import Rows, Sql, SqlConnection, connect

_CENTRES = "SELECT name, ring_timeout, queue_max_wait FROM directory_centres ORDER BY position"
_PHONES = "SELECT centre, number FROM directory_desk_phones ORDER BY centre, position"
_SERVICES = ("SELECT code, label, room_template, has_hours, holidays, holiday_country, "
             "slot_every, slot_capacity FROM directory_services ORDER BY position")
_ROUTES = "SELECT service, centre FROM directory_service_centres ORDER BY service, position"
_HOURS = "SELECT service, days, windows FROM directory_hours ORDER BY service, position"
_TEMPLATE_COLUMNS = ("name, title, greeting, accent, background, ink, logo, logo_type, "
                     "documents, chat")
_TEMPLATES = f"SELECT {_TEMPLATE_COLUMNS} FROM room_templates ORDER BY name"
_TEMPLATE = f"SELECT {_TEMPLATE_COLUMNS} FROM room_templates WHERE name = ?"
_NEXT = "SELECT coalesce(max(position), -1) + 1 FROM {table}"
_POSITION = "SELECT position FROM {table} WHERE {key} = ?"
_META = ("INSERT INTO directory_meta (key, value) VALUES (?, ?) "
         "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
_WIPE = ("DELETE FROM directory_hours", "DELETE FROM directory_service_centres",
         "DELETE FROM directory_services", "DELETE FROM directory_desk_phones",
         "DELETE FROM directory_centres", "DELETE FROM room_templates")


class DirectoryStore:
    """The directory kept in the records database, on a connection of its own."""

    def __init__(self, db: SqlConnection, cache_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._db = db
        self.where = db.where
        self.cache_seconds = cache_seconds      # how stale a template another process edited may be
        self._clock = clock
        self._cache: dict[str, tuple[float, RoomTemplate | None]] = {}
        self._cache_lock = threading.Lock()

    # -- reading --------------------------------------------------------------

    def load(self) -> Directory:
        """The whole directory, as one snapshot."""
        return self._db.read(_load)

    def seeded(self) -> str | None:
        """What the directory was seeded from (None: never seeded)."""
        rows = self._db.read(lambda sql: sql.execute(
            "SELECT value FROM directory_meta WHERE key = 'seeded_from'"))
        return str(rows[0][0]) if rows else None

    def template(self, name: str) -> RoomTemplate | None:
        """A room template by name (None if there is none), read again once its cached copy
        is `cache_seconds` old: edits by another process show in the next rooms."""
        now = self._clock()
        with self._cache_lock:
            cached = self._cache.get(name)
        if cached is not None and now - cached[0] < self.cache_seconds:
            return cached[1]
        rows = self._db.read(lambda sql: sql.execute(_TEMPLATE, (name,)))
        found = _template(rows[0]) if rows else None
        with self._cache_lock:
            if len(self._cache) > 1000:          # names asked for that never existed
                self._cache.clear()
            self._cache[name] = (now, found)
        return found

    # -- writing --------------------------------------------------------------

    def seed(self, directory: Directory, source: str) -> bool:
        """Write `directory` if the database holds none yet (the first start); whether it
        did. A directory seeded once stays as it was changed, whatever `source` says now."""
        def work(sql: Sql) -> bool:
            if sql.execute("SELECT 1 FROM directory_meta WHERE key = 'seeded_from'"):
                return False
            _write_all(sql, directory, source)
            return True
        done = self._db.write(work)
        self._forget()
        return done

    def replace_all(self, directory: Directory, source: str) -> None:
        """Replace the whole directory by `directory` (importing a scenario)."""
        def work(sql: Sql) -> None:
            for statement in _WIPE:
                sql.execute(statement)
            _write_all(sql, directory, source)
        self._db.write(work)
        self._forget()

    def merge(self, directory: Directory) -> None:
        """Add or replace every entry of `directory`, keeping the others; checked whole."""
        def write(sql: Sql) -> None:
            for template in directory.templates.values():
                _put_template(sql, template)
            for centre in directory.centres.values():
                _put_centre(sql, centre)
            for service in directory.services.values():
                _put_service(sql, service)
        self._change(lambda d: (_joined(d, directory.services, directory.centres,
                                        directory.templates), False), write)
        self._forget()

    def put_service(self, service: Service) -> bool:
        """Add or replace a service; True if it is new. `DirectoryError` if the directory
        would not hold together (an unknown centre or template), `InvalidEntry` for bad hours."""
        service.check()
        return self._change(lambda d: (_joined(d, services={service.code: service}),
                                       service.code not in d.services),
                            lambda sql: _put_service(sql, service))

    def put_centre(self, centre: Centre) -> bool:
        """Add or replace a centre and its desk phones; True if it is new. `DirectoryError`
        for a desk phone another centre has."""
        return self._change(lambda d: (_joined(d, centres={centre.name: centre}),
                                       centre.name not in d.centres),
                            lambda sql: _put_centre(sql, centre))

    def put_template(self, template: RoomTemplate) -> bool:
        """Add or replace a room template; True if it is new. New rooms take it at once."""
        done = self._change(lambda d: (_joined(d, templates={template.name: template}),
                                       template.name not in d.templates),
                            lambda sql: _put_template(sql, template))
        self._forget()
        return done

    def _change(self, change: Callable[[Directory], tuple[Directory, bool]],
                write: Callable[[Sql], None]) -> bool:
        """Check the changed directory against the stored one and write the change, in one
        transaction holding the write lock; whether the entry was new."""
        def work(sql: Sql) -> bool:
            _, new = change(_load(sql))          # raises if the result would not hold together
            write(sql)
            _changed(sql)
            return new
        return self._db.write(work)

    def _forget(self) -> None:
        with self._cache_lock:
            self._cache.clear()

    def close(self) -> None:
        """Let go of the database connection."""
        self._db.close()


def open_directory(url_or_path: str, cache_seconds: float = 5.0) -> DirectoryStore:
    """The directory in the database `serve --db` takes: a SQLite path, `sqlite:///path`,
    ":memory:" or `postgresql://…`; migrated to the latest schema. `RecordsError` (or
    `ValueError` for a URL of no known kind) if it cannot be opened."""
    return DirectoryStore(connect(url_or_path), cache_seconds)


# -- rows <-> the directory -------------------------------------------------------


def _load(sql: Sql) -> Directory:
    phones: dict[str, list[str]] = {}
    for centre, number in sql.execute(_PHONES):
        phones.setdefault(str(centre), []).append(str(number))
    centres = {str(name): Centre(name=str(name), terminals=tuple(phones.get(str(name), ())),
                                 ring_timeout=float(ring), queue_max_wait=_float(wait))
               for name, ring, wait in sql.execute(_CENTRES)}
    routes = _grouped(sql.execute(_ROUTES))
    hours: dict[str, list[tuple[str, str]]] = {}
    for service, days, windows in sql.execute(_HOURS):
        hours.setdefault(str(service), []).append((str(days), str(windows)))
    services = {str(row[0]): _service(row, routes, hours) for row in sql.execute(_SERVICES)}
    templates = {str(row[0]): _template(row) for row in sql.execute(_TEMPLATES)}
    return Directory(services=services, centres=centres, templates=templates)


def _joined(stored: Directory, services: Mapping[str, Service] | None = None,
            centres: Mapping[str, Centre] | None = None,
            templates: Mapping[str, RoomTemplate] | None = None) -> Directory:
    """The stored directory with these entries added or replaced, checked whole."""
    return Directory(services={**stored.services, **(services or {})},
                     centres={**stored.centres, **(centres or {})},
                     templates={**stored.templates, **(templates or {})})


def _grouped(rows: Rows) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in rows:
        out.setdefault(str(key), []).append(str(value))
    return out


def _service(row: tuple[Any, ...], routes: dict[str, list[str]],
             hours: dict[str, list[tuple[str, str]]]) -> Service:
    code, label, template, has_hours, holidays, country, every, capacity = row
    return Service(code=str(code), centres=tuple(routes.get(str(code), ())),
                   room_template=str(template), label=str(label),
                   hours=tuple(hours.get(str(code), ())) if has_hours else None,
                   holidays=tuple(date.fromisoformat(d) for d in json.loads(holidays)),
                   holiday_country=None if country is None else str(country),
                   slot_every=_float(every), slot_capacity=int(capacity))


def _template(row: tuple[Any, ...]) -> RoomTemplate:
    name, title, greeting, accent, background, ink, logo, logo_type, documents, chat = row
    return RoomTemplate(
        name=str(name), title=str(title), greeting=str(greeting),
        colours=Colours(accent=accent, background=background, text=ink),
        logo=None if logo is None else Logo(content_type=str(logo_type), data=bytes(logo)),
        documents=None if documents is None else tuple(json.loads(documents)),
        chat=bool(chat))


def _float(value: object) -> float | None:
    return None if value is None else float(value)           # type: ignore[arg-type]


def _write_all(sql: Sql, directory: Directory, source: str) -> None:
    for template in directory.templates.values():
        _put_template(sql, template)
    for centre in directory.centres.values():
        _put_centre(sql, centre)
    for service in directory.services.values():
        _put_service(sql, service)
    sql.execute(_META, ("seeded_from", source))
    sql.execute(_META, ("seeded_at", f"{time.time():.3f}"))
    _changed(sql)


def _changed(sql: Sql) -> None:
    sql.execute(_META, ("changed_at", f"{time.time():.3f}"))


def _position(sql: Sql, table: str, key: str, value: str) -> int:
    """An entry's place in its list: kept when it is replaced, last when it is new."""
    found = sql.execute(_POSITION.format(table=table, key=key), (value,))
    return int(found[0][0]) if found else int(sql.execute(_NEXT.format(table=table))[0][0])


def _put_centre(sql: Sql, centre: Centre) -> None:
    position = _position(sql, "directory_centres", "name", centre.name)
    sql.execute("INSERT INTO directory_centres (name, ring_timeout, queue_max_wait, position) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "ring_timeout = excluded.ring_timeout, queue_max_wait = excluded.queue_max_wait",
                (centre.name, centre.ring_timeout, centre.queue_max_wait, position))
    sql.execute("DELETE FROM directory_desk_phones WHERE centre = ?", (centre.name,))
    _insert_many(sql, "INSERT INTO directory_desk_phones (number, centre, position) "
                 "VALUES (?, ?, ?)", ((n, centre.name, i) for i, n in enumerate(centre.terminals)))


def _put_service(sql: Sql, service: Service) -> None:
    position = _position(sql, "directory_services", "code", service.code)
    sql.execute(
        "INSERT INTO directory_services (code, label, room_template, has_hours, holidays, "
        "holiday_country, slot_every, slot_capacity, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (code) DO UPDATE SET label = excluded.label, "
        "room_template = excluded.room_template, has_hours = excluded.has_hours, "
        "holidays = excluded.holidays, holiday_country = excluded.holiday_country, "
        "slot_every = excluded.slot_every, slot_capacity = excluded.slot_capacity",
        (service.code, service.label, service.room_template, service.hours is not None,
         json.dumps([d.isoformat() for d in service.holidays]), service.holiday_country,
         service.slot_every, service.slot_capacity, position))
    for table in ("directory_service_centres", "directory_hours"):
        sql.execute(f"DELETE FROM {table} WHERE service = ?", (service.code,))
    _insert_many(sql, "INSERT INTO directory_service_centres (service, position, centre) "
                 "VALUES (?, ?, ?)", ((service.code, i, c) for i, c in enumerate(service.centres)))
    _insert_many(sql, "INSERT INTO directory_hours (service, position, days, windows) "
                 "VALUES (?, ?, ?, ?)",
                 ((service.code, i, days, windows)
                  for i, (days, windows) in enumerate(service.hours or ())))


def _put_template(sql: Sql, template: RoomTemplate) -> None:
    colours, logo = template.colours, template.logo
    sql.execute(
        f"INSERT INTO room_templates ({_TEMPLATE_COLUMNS}, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
        "title = excluded.title, greeting = excluded.greeting, accent = excluded.accent, "
        "background = excluded.background, ink = excluded.ink, logo = excluded.logo, "
        "logo_type = excluded.logo_type, documents = excluded.documents, chat = excluded.chat, "
        "updated_at = excluded.updated_at",
        (template.name, template.title, template.greeting, colours.accent, colours.background,
         colours.text, logo.data if logo else None, logo.content_type if logo else None,
         None if template.documents is None else json.dumps(list(template.documents)),
         template.chat, time.time()))


def _insert_many(sql: Sql, statement: str, rows: Iterable[tuple[object, ...]]) -> None:
    for row in rows:
        sql.execute(statement, row)
