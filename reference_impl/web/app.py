"""The tornado application: routes, settings, and the objects every handler shares.

`web_runtime` builds a `Runtime` whose `Rooms` and `Notifier` ports are this
package's `RoomServer` and `PageNotifier`; `make_app` builds the application
around that runtime. Nothing lives at module level: two apps in one process
share nothing.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
import weakref
from typing import Any, Callable, Iterable

import tornado.httpserver
import tornado.web

from ..codes import CodePool
from ..directory import Directory
from ..estimate import Wait, WaitEstimator
from ..flow import CallbackPolicy
from ..observe import StateLog, SystemMetrics
from ..ports import Telephony
from ..records import DirectoryStore, RecordStore
from ..runtime import Runtime
from ..switchboard import Calendar
from . import api, directory_api, logs, looks, pages, sockets
from .documents import Catalogue
from .limits import CodeLimits, LoginLimits, RequestLimits, Unavailable
from .notices import PageNotifier, Told
from .rooms import RoomServer, Templates
from .serving import CappedHTTPServer, connection_cap
from .settings import HERE, WebSettings
from .signin import SignIn
from .tickets import AgentTickets
from .validation import CallbackForm, NumberRules


def web_runtime(*, directory: Directory, codes: CodePool,
                telephony: Callable[[Runtime], Telephony], records: RecordStore | None,
                person_ring_timeout: float = 30.0, caller_id: str = "",
                observers: Iterable[object] = (), room_capacity: int = 10_000,
                save_every_step: bool = True,
                loop: asyncio.AbstractEventLoop | None = None,
                policy: CallbackPolicy | None = None, calendar: Calendar | None = None,
                dedupe: bool = False, templates: Templates | None = None) -> Runtime:
    """A runtime whose rooms and notices are served by this web app.

    `save_every_step` stores each record at every step (a crash loses
    nothing); a benchmark may turn it off to store only starts and ends.
    `policy`, `calendar` and `dedupe`: see `Switchboard`. `templates` looks a room
    template up by name when a room is created (default: the directory's own).
    """
    looks = templates or directory.templates.get
    return Runtime(
        directory=directory, codes=codes, telephony=telephony,
        rooms=lambda rt: RoomServer(rt.deliver, _soon(rt.loop), capacity=room_capacity,
                                    templates=looks),
        notifier=PageNotifier(), records=records, person_ring_timeout=person_ring_timeout,
        caller_id=caller_id, observers=observers, save_every_step=save_every_step,
        loop=loop, policy=policy, calendar=calendar, dedupe=dedupe)


def _soon(loop: asyncio.AbstractEventLoop) -> Callable[[Callable[[], None]], None]:
    def soon(action: Callable[[], None]) -> None:
        loop.call_soon(action)
    return soon


class WebApp(tornado.web.Application):
    """The tornado application around one runtime, holding what every handler shares."""

    def __init__(self, runtime: Runtime, directory: Directory, records: RecordStore | None,
                 settings: WebSettings, directory_store: DirectoryStore | None = None) -> None:
        rooms, notifier = runtime.rooms, runtime.notifier
        if not isinstance(rooms, RoomServer) or not isinstance(notifier, PageNotifier):
            raise TypeError("the runtime's rooms and notifier must be the web app's: "
                            "build it with web_runtime()")
        self.runtime = runtime
        self.switchboard = runtime.switchboard
        self.directory = directory
        self.records = records
        self.directory_store = directory_store   # the directory in the database: its API
        self.web = settings
        self.rooms: RoomServer = rooms
        self.notices: PageNotifier = notifier
        self.tickets = AgentTickets()
        self.attempts = CodeLimits(settings.code_attempts, settings.code_attempts_per_address,
                                   settings.code_window)
        self.requests = RequestLimits(settings.callbacks_per_number, settings.number_window,
                                      settings.callbacks_per_client, settings.client_window)
        self.signin = SignIn(settings.accounts, settings.agent_keys, LoginLimits(
            settings.login_free_tries, settings.login_address_tries,
            settings.login_account_tries, settings.login_max_delay),
            settings.agent_session_seconds)
        # The system's own numbers are never called back: every desk phone of the directory.
        own = {t for centre in directory.centres.values() for t in centre.terminals
               if t.startswith("+")}
        self.numbers = NumberRules.of(settings.default_region, settings.allowed_regions,
                                      settings.allowed_number_types, own)
        self.catalogue = Catalogue(settings.catalogue_dir, settings.upload_types)
        self._status_key = hashlib.sha256(b"status-page\0" + settings.cookie_secret.encode()).digest()
        self.notices.listen_all(self._told)
        self.sockets: weakref.WeakSet[Any] = weakref.WeakSet()   # the pages' open websockets
        self.reconciled: list[Any] = []      # what a restart finished (lifecycle.Reconciled)
        self.metrics = self._metrics()
        self.switchboard.watch(self.metrics)
        # What the status pages say of a wait: from the live queues and handling times.
        self.waits = WaitEstimator({name: len(c.terminals) for name, c in directory.centres.items()},
                                   on_duty=self.switchboard.terminals.on_duty)
        self.switchboard.watch(self.waits)
        self.switchboard.watch(StateLog())
        logs.install()
        super().__init__(
            _routes(settings, directory_store is not None), template_path=str(HERE / "templates"),
            static_path=str(HERE / "static"), xsrf_cookies=True,
            cookie_secret=settings.cookie_secret, debug=settings.debug,
            serve_traceback=False, log_function=logs.log_request,
            default_handler_class=api.NotFound,
            # Our own limit (settings.websocket_max_bytes) closes with 1009 and a reason;
            # tornado's, four times higher, drops whatever is bigger still unread.
            websocket_max_message_size=4 * settings.websocket_max_bytes,
            websocket_ping_interval=settings.websocket_ping_interval)

    async def start(self, form: CallbackForm, client: str) -> tuple[str, bool]:
        """Place a callback for `client` (an address), within the request limits (else
        `RequestRefused`): its record is stored before anything is dialled and before this
        returns, so an acknowledged request survives a crash (else `Unavailable`, nothing
        placed). The id of the callback that will call (unguessable: it opens the status
        page), and whether it was another's already (a duplicate, under `dedupe`)."""
        runtime, records = self.runtime, self.records
        if not runtime.accepting:
            raise Unavailable("the service is restarting; please ask again in a moment", 30.0)
        if getattr(records, "backlogged", False):
            raise Unavailable("the service is busy; please ask again in a moment", 10.0)
        self.requests.admit(form.phone, client)
        epoch = self.switchboard.epoch
        schedule_at = None if form.call_at is None or epoch is None else form.call_at - epoch
        callback_id = self.switchboard.accept(form.as_form(), form.phone,
                                              secrets.token_urlsafe(12), schedule_at)
        durable = getattr(records, "durable", None)
        if durable is not None:
            try:
                await asyncio.wait_for(asyncio.wrap_future(durable(callback_id)),
                                       self.web.durable_timeout)
            except asyncio.TimeoutError:
                self.switchboard.withdraw(callback_id, "the records store did not take it in time")
                raise Unavailable("the service is slow to take requests; please ask again",
                                  30.0) from None
        calling = self.switchboard.start(callback_id)
        return calling, calling != callback_id

    def wait_of(self, callback_id: str) -> Wait | None:
        """A waiting callback's place and estimated wait (on hold, or for its call's time)."""
        due = self.switchboard.next_call(callback_id)
        return self.waits.wait_of(callback_id, None if due is None else due - time.time())

    def status_token(self, callback_id: str) -> str:
        """The token of a callback's status page link (and of the API's view of it)."""
        digest = hmac.new(self._status_key, callback_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()

    def status_token_valid(self, callback_id: str, token: str | None) -> bool:
        """Whether `token` is the status token of `callback_id` (compared in constant time)."""
        return bool(token) and hmac.compare_digest(
            self.status_token(callback_id).encode(), (token or "").encode("utf-8", "replace"))

    def goodbye(self, reason: str) -> int:
        """Tell every open page the system is going away and close its socket (1001)."""
        told = 0
        for socket in list(self.sockets):
            if not socket.closing():
                socket.send({"type": "closed", "reason": reason})
                socket.close(1001, reason)
                told += 1
        return told

    def _metrics(self) -> SystemMetrics:
        """Prometheus metrics of this system, its gauges read at each scrape."""
        metrics, sb, records = SystemMetrics(), self.switchboard, self.records
        telephony = self.runtime.telephony
        metrics.gauge("callbacks_live", "Callbacks under way (accepted ones included)",
                      lambda: len(sb.live_ids()))
        metrics.gauge("rooms_open", "Video rooms open", lambda: len(self.rooms.rooms))
        metrics.gauge("codes_in_use", "Connection codes held by live calls",
                      lambda: len(sb.codes_in_use()))
        metrics.gauge("codes_free", "Connection codes that can be handed out", sb.codes_free)
        metrics.gauge("records_waiting", "Records and dialogs not yet written to the database",
                      lambda: float(getattr(records, "depth", 0)))
        metrics.gauge("sip_retransmissions", "SIP retransmissions the PBX sent or received",
                      lambda: float(getattr(telephony, "retransmissions", 0)))
        metrics.gauge("sip_legs_up", "Call legs the PBX holds",
                      lambda: float(getattr(telephony, "legs_up", 0)))
        return metrics

    def _told(self, callback_id: str, told: Told) -> None:
        if told.final:
            self.tickets.drop(callback_id)

    def http_server(self, **options: Any) -> tornado.httpserver.HTTPServer:
        """The app's HTTP server, not yet listening: bodies beyond the upload limit cut off
        before they are read; the timeouts, header size and connection cap of the settings."""
        web = self.web
        return CappedHTTPServer(
            self, xheaders=False, max_body_size=web.upload_max_bytes + 256 * 1024,
            idle_connection_timeout=web.idle_connection_timeout, body_timeout=web.body_timeout,
            max_header_size=web.max_header_size,
            max_connections=connection_cap(web.max_connections), **options)

    def listen_on(self, port: int, host: str = "127.0.0.1") -> tornado.httpserver.HTTPServer:
        """Serve on `port` (see `http_server`)."""
        server = self.http_server()
        server.listen(port, address=host)
        return server


def _routes(settings: WebSettings,
            stored_directory: bool = False) -> list[tuple[str, type[tornado.web.RequestHandler]]]:
    routes: list[tuple[str, type[tornado.web.RequestHandler]]] = [
        (r"/", pages.FormPage),
        (r"/metrics", api.Metrics),
        (r"/callbacks/([\w-]+)", pages.StatusPage),
        (r"/callbacks/([\w-]+)/([\w-]+)", pages.StatusPage),
        (r"/callbacks/([\w-]+)/([\w-]+)/ws", sockets.StatusSocket),
        (r"/callbacks/([\w-]+)/([\w-]+)/cancel", pages.CancelCallback),
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
    routes.extend(looks.ROUTES)
    if stored_directory:
        routes.extend(directory_api.ROUTES)
    if settings.hangup is not None:
        routes.append((r"/api/callbacks/([\w-]+)/hangup", api.Hangup))
    return routes


def make_app(runtime: Runtime, directory: Directory, records: RecordStore | None,
             settings: WebSettings, directory_store: DirectoryStore | None = None) -> WebApp:
    """The web app of a runtime built by `web_runtime`; with `directory_store`, the agents'
    API to the directory in the database (/api/directory/...)."""
    return WebApp(runtime, directory, records, settings, directory_store)
