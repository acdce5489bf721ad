"""The tornado application: routes, settings, and the objects every handler shares.

`web_runtime` builds a `Runtime` whose `Rooms` and `Notifier` ports are this
package's `RoomServer` and `PageNotifier`; `make_app` builds the application
around that runtime. Nothing lives at module level: two apps in one process
share nothing.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Callable, Iterable

import tornado.httpserver
import tornado.web

from ..codes import CodePool
from ..directory import Directory
from ..ports import Telephony
from ..records import RecordStore
from ..runtime import Runtime
from . import api, pages, sockets
from .documents import Catalogue
from .limits import Attempts, RequestLimits
from .notices import PageNotifier, Told
from .rooms import RoomServer
from .settings import HERE, WebSettings
from .tickets import AgentTickets
from .validation import CallbackForm


def web_runtime(*, directory: Directory, codes: CodePool,
                telephony: Callable[[Runtime], Telephony], records: RecordStore | None,
                person_ring_timeout: float = 30.0, caller_id: str = "",
                observers: Iterable[object] = (), room_capacity: int = 10_000,
                save_every_step: bool = True,
                loop: asyncio.AbstractEventLoop | None = None) -> Runtime:
    """A runtime whose rooms and notices are served by this web app.

    `save_every_step` stores each record at every step (a crash loses
    nothing); a benchmark may turn it off to store only starts and ends.
    """
    return Runtime(
        directory=directory, codes=codes, telephony=telephony,
        rooms=lambda rt: RoomServer(rt.deliver, _soon(rt.loop), capacity=room_capacity),
        notifier=PageNotifier(), records=records, person_ring_timeout=person_ring_timeout,
        caller_id=caller_id, observers=observers, save_every_step=save_every_step,
        loop=loop)


def _soon(loop: asyncio.AbstractEventLoop) -> Callable[[Callable[[], None]], None]:
    def soon(action: Callable[[], None]) -> None:
        loop.call_soon(action)
    return soon


class WebApp(tornado.web.Application):
    """The tornado application around one runtime, holding what every handler shares."""

    def __init__(self, runtime: Runtime, directory: Directory, records: RecordStore | None,
                 settings: WebSettings) -> None:
        rooms, notifier = runtime.rooms, runtime.notifier
        if not isinstance(rooms, RoomServer) or not isinstance(notifier, PageNotifier):
            raise TypeError("the runtime's rooms and notifier must be the web app's: "
                            "build it with web_runtime()")
        self.runtime = runtime
        self.switchboard = runtime.switchboard
        self.directory = directory
        self.records = records
        self.web = settings
        self.rooms: RoomServer = rooms
        self.notices: PageNotifier = notifier
        self.tickets = AgentTickets()
        self.attempts = Attempts(settings.code_attempts, settings.code_window)
        self.requests = RequestLimits(settings.callbacks_per_number, settings.number_window,
                                      settings.callbacks_per_client, settings.client_window)
        self.catalogue = Catalogue(settings.catalogue_dir, settings.upload_types)
        self.notices.listen_all(self._told)
        super().__init__(
            _routes(settings), template_path=str(HERE / "templates"),
            static_path=str(HERE / "static"), xsrf_cookies=True,
            cookie_secret=settings.cookie_secret, debug=settings.debug,
            # Signalling messages are a few kB; chat is capped lower still.
            websocket_max_message_size=64 * 1024)

    def start(self, form: CallbackForm, client: str) -> str:
        """Start a callback for `client` (an address), within the request limits
        (else `RequestRefused`); its id is unguessable, since it opens the status page."""
        self.requests.admit(form.phone, client)
        return self.switchboard.request(form.as_form(), form.phone, secrets.token_urlsafe(12))

    def _told(self, callback_id: str, told: Told) -> None:
        if told.final:
            self.tickets.drop(callback_id)

    def listen_on(self, port: int, host: str = "127.0.0.1") -> tornado.httpserver.HTTPServer:
        """Serve on `port`; bodies beyond the upload limit are cut off before they are read."""
        server = tornado.httpserver.HTTPServer(
            self, xheaders=False, max_body_size=self.web.upload_max_bytes + 256 * 1024)
        server.listen(port, address=host)
        return server


def _routes(settings: WebSettings) -> list[tuple[str, type[tornado.web.RequestHandler]]]:
    routes: list[tuple[str, type[tornado.web.RequestHandler]]] = [
        (r"/", pages.FormPage),
        (r"/callbacks/([\w-]+)", pages.StatusPage),
        (r"/callbacks/([\w-]+)/ws", sockets.StatusSocket),
        (r"/room/([\w-]+)", pages.PersonRoomPage),
        (r"/room/([\w-]+)/ws", sockets.PersonSocket),
        (r"/room/([\w-]+)/doc/([\w-]+)", pages.PersonDocument),
        (r"/agent", pages.AgentPage),
        (r"/agent/logout", pages.AgentLogout),
        (r"/agent/desks.json", pages.DeskPhones),
        (r"/agent/room/([\w-]+)", pages.AgentRoomPage),
        (r"/agent/room/([\w-]+)/ws", sockets.AgentSocket),
        (r"/agent/room/([\w-]+)/upload", pages.Upload),
        (r"/agent/room/([\w-]+)/doc/([\w-]+)", pages.AgentDocument),
        (r"/ops", pages.OpsPage),
        (r"/ops.json", pages.OpsData),
        (r"/api/openapi.json", api.OpenApi),
        (r"/api/callbacks", api.Callbacks),
        (r"/api/callbacks/([\w-]+)", api.OneCallback),
        (r"/api/rooms", api.Rooms),
    ]
    if settings.hangup is not None:
        routes.append((r"/api/callbacks/([\w-]+)/hangup", api.Hangup))
    return routes


def make_app(runtime: Runtime, directory: Directory, records: RecordStore | None,
             settings: WebSettings) -> WebApp:
    """The web app of a runtime built by `web_runtime`."""
    return WebApp(runtime, directory, records, settings)
