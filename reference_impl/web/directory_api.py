"""The agents' API to the directory kept in the database: list, read and change services,
centres (with their desk phones) and room templates.

Agents only, signed in as for the rest of the API (the page's session, HTTP
Basic with an account, or demo mode's key). GET reads; PUT adds or replaces an
entry (201 when it is new), PATCH changes the fields it gives (404 for an entry
that is not there). Every change is checked against the whole directory before
it is written: bad input is a 400 naming the field (an unknown centre, template
or catalogue document, a malformed colour, a logo too big), never a 500; a
database that fails is a 503. A template's change shows in the next room at
once; services and centres are read when the system starts (`takes_effect`
says so). The database work runs off the event loop.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping, NoReturn, TypeVar

from ..directory import (DeskPhoneTaken, Directory, DirectoryError, InvalidEntry,
                         NoCentreForService, RoomTemplate, UnknownTemplate)
from ..records import DirectoryStore, RecordsError
from . import jsonin
from .base import ApiError, JsonBase
from .directory_json import (catalogue_names, centre_from, centre_view, check_documents,
                             service_from, service_view, template_from, template_view)

if TYPE_CHECKING:
    from .app import WebApp

T = TypeVar("T")
NOW, RESTART = "new rooms, at once", "when the system next starts"
# A template's body may carry its logo in base64 (at most 256 kB: about 342 kB of text),
# a centre's up to 100,000 desk phones. Only agents' requests get this far.
TEMPLATE_BODY_MAX = CENTRE_BODY_MAX = 4 * 1024 * 1024
# Where a directory that would not hold together is at fault.
_FIELDS: tuple[tuple[type[DirectoryError], str], ...] = (
    (NoCentreForService, "centres"), (UnknownTemplate, "room_template"),
    (DeskPhoneTaken, "desk_phones"))


@dataclass(frozen=True, kw_only=True)
class Kind:
    """One kind of entry: where it sits in the directory, how it is read, shown and stored."""

    key: str                                              # the path's field: code or name
    what: str
    entries: Callable[[Directory], Mapping[str, Any]]
    parse: Callable[[str, Mapping[str, Any], Any], Any]   # name, body, the stored one (PATCH)
    view: Callable[[Any], dict[str, Any]]
    store: Callable[[DirectoryStore, Any], bool]
    applies: str
    body_max: int | None = None                           # None: the API's own limit
    check: Callable[["WebApp", Any], None] = lambda app, entry: None


def _documents(app: "WebApp", template: RoomTemplate) -> None:
    check_documents(template, catalogue_names(app.catalogue))


SERVICES = Kind(key="code", what="service", entries=lambda d: d.services, parse=service_from,
                view=service_view, store=DirectoryStore.put_service, applies=RESTART)
CENTRES = Kind(key="name", what="centre", entries=lambda d: d.centres, parse=centre_from,
               view=centre_view, store=DirectoryStore.put_centre, applies=RESTART,
               body_max=CENTRE_BODY_MAX)
TEMPLATES = Kind(key="name", what="room template", entries=lambda d: d.templates,
                 parse=template_from, view=template_view, store=DirectoryStore.put_template,
                 applies=NOW, body_max=TEMPLATE_BODY_MAX, check=_documents)


class DirectoryApi(JsonBase):
    """What the directory's handlers share: agents only, work off the loop, errors as 400."""

    async def prepare(self) -> None:
        """Agents only (403 otherwise); 404 when this system keeps no directory store."""
        await self.api_agent()
        if self.app.directory_store is None:
            self.fail(404, "this system keeps its directory in no database", None)

    @property
    def store(self) -> DirectoryStore:
        """The directory in the database."""
        store = self.app.directory_store
        assert store is not None                 # `prepare` answered 404 otherwise
        return store

    async def off_loop(self, work: Callable[[], T]) -> T:
        """Run database work in a thread; a 400 naming the field for a bad entry, a 503 for
        a database that fails."""
        try:
            return await asyncio.get_running_loop().run_in_executor(None, work)
        except InvalidEntry as error:
            # The field is the body's own key (`colours`); the message says where in it.
            self.fail(400, str(error), re.split(r"[.\[]", error.field, maxsplit=1)[0])
        except DirectoryError as error:
            self.refuse(error)
        except RecordsError as error:
            raise ApiError(503, f"the directory's database is not available: {error}",
                           None) from None

    def refuse(self, error: DirectoryError) -> NoReturn:
        """A directory that would not hold together: 400, naming the field at fault."""
        field = next((name for kind, name in _FIELDS if isinstance(error, kind)), None)
        self.fail(400, str(error), field)


class DirectoryIndex(DirectoryApi):
    """The whole directory, at /api/directory."""

    async def get(self) -> None:
        """Every service, centre and room template."""
        directory = await self.off_loop(self.store.load)
        self.send({"services": [service_view(s) for s in directory.services.values()],
                   "centres": [centre_view(c) for c in directory.centres.values()],
                   "templates": [template_view(t) for t in directory.templates.values()]})


class Entries(DirectoryApi):
    """Every entry of one kind, at /api/directory/{services,centres,templates}."""

    kind: Kind

    async def get(self) -> None:
        """Every entry of the kind, in the directory's order."""
        directory = await self.off_loop(self.store.load)
        self.send([self.kind.view(e) for e in self.kind.entries(directory).values()])


class Entry(DirectoryApi):
    """One entry, at /api/directory/{kind}/{code or name}."""

    kind: Kind

    async def get(self, name: str) -> None:
        """The entry; 404 if there is none."""
        self.send(self.kind.view(await self.found(name)))

    async def put(self, name: str) -> None:
        """Add or replace the entry (fields left out take their defaults): 201 if it is new."""
        await self.save(name, self.entry_body(), None)

    async def patch(self, name: str) -> None:
        """Change the fields given; 404 if there is no such entry."""
        base = await self.found(name)
        await self.save(name, self.entry_body(), base)

    async def found(self, name: str) -> Any:
        """The stored entry, or 404 naming the path's field."""
        directory = await self.off_loop(self.store.load)
        entry = self.kind.entries(directory).get(name)
        if entry is None:
            self.fail(404, f"no {self.kind.what} {name!r}", self.kind.key)
        return entry

    async def save(self, name: str, body: Mapping[str, Any], base: Any) -> None:
        """Build the entry from the body, check it, store it; answer it as stored and when
        the change applies."""
        kind, app = self.kind, self.app

        def work() -> tuple[Any, bool]:
            entry = kind.parse(name, body, base)
            kind.check(app, entry)
            return entry, kind.store(self.store, entry)
        entry, new = await self.off_loop(work)
        self.send({**kind.view(entry), "takes_effect": kind.applies}, status=201 if new else 200)

    def entry_body(self) -> dict[str, Any]:
        """The body's JSON object, within the kind's limit (a template's holds its logo)."""
        limit = self.kind.body_max
        if limit is None:
            return self.body()
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/json":
            self.fail(415, "send the body as JSON (Content-Type: application/json)", "body")
        try:
            data = jsonin.parse(self.request.body or b"null", limit, self.app.web.json_max_depth)
        except jsonin.JsonRefused as refused:
            self.fail(413 if refused.too_big else 400, f"the body is {refused.message}", "body")
        if not isinstance(data, dict):
            self.fail(400, "the body must be a JSON object", "body")
        return data


class ServiceEntries(Entries):
    """Every service, at /api/directory/services."""

    kind = SERVICES


class ServiceEntry(Entry):
    """One service, at /api/directory/services/{code}."""

    kind = SERVICES


class CentreEntries(Entries):
    """Every centre and its desk phones, at /api/directory/centres."""

    kind = CENTRES


class CentreEntry(Entry):
    """One centre, at /api/directory/centres/{name}."""

    kind = CENTRES


class TemplateEntries(Entries):
    """Every room template, at /api/directory/templates."""

    kind = TEMPLATES


class TemplateEntry(Entry):
    """One room template, at /api/directory/templates/{name}."""

    kind = TEMPLATES


ROUTES: tuple[tuple[str, type[DirectoryApi]], ...] = (
    (r"/api/directory", DirectoryIndex),
    (r"/api/directory/services", ServiceEntries), (r"/api/directory/services/([^/]+)", ServiceEntry),
    (r"/api/directory/centres", CentreEntries), (r"/api/directory/centres/([^/]+)", CentreEntry),
    (r"/api/directory/templates", TemplateEntries),
    (r"/api/directory/templates/([^/]+)", TemplateEntry))
