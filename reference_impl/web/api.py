"""The REST API: start a callback, read one, list rooms; its OpenAPI description."""

from __future__ import annotations

from typing import Any

import tornado.web

from ..observe import CONTENT_TYPE
from .base import ApiError, Base, JsonBase
from .limits import RequestRefused, Unavailable
from .openapi import spec
from .validation import FieldError, call_at, check_request
from .views import callback_view, rooms_view, when


class OpenApi(JsonBase):
    """The API's OpenAPI description."""

    def get(self) -> None:
        """Send the description (with the hangup path when the app serves it)."""
        self.send(spec(self.app.web.title, self.app.web.hangup is not None,
                       self.app.directory.services,
                       directory=self.app.directory_store is not None))


class Callbacks(JsonBase):
    """Callbacks asked for in JSON, as the form asks for them."""

    async def post(self) -> None:
        """Start a callback: 201 with its id and status links once it is stored (200 with
        the existing one's for a duplicate); 400, 413, 415, 429 or 503 if refused."""
        data = self.body()
        try:
            form = check_request(data, self.app.directory, self.app.numbers)
        except FieldError as error:
            self.fail(400, error.message, error.field)
        try:
            callback_id, duplicate = await self.app.start(form, self.client())
        except RequestRefused as refused:
            raise ApiError(429, refused.message, refused.field, retry_after=refused.wait) from None
        except Unavailable as busy:
            raise ApiError(503, busy.message, None, retry_after=busy.wait) from None
        token = self.app.status_token(callback_id)
        self.send({"id": callback_id, "phone": form.phone, "status_token": token,
                   "duplicate": duplicate,
                   "status_page": f"/callbacks/{callback_id}/{token}",
                   "status_socket": f"/callbacks/{callback_id}/{token}/ws",
                   "status_api": f"/api/callbacks/{callback_id}?token={token}"},
                  status=200 if duplicate else 201)


class Metrics(tornado.web.RequestHandler):
    """The system's metrics in Prometheus text format, for a scraper (no secrets in it)."""

    def get(self) -> None:
        """Send the exposition."""
        self.set_header("Content-Type", CONTENT_TYPE)
        self.finish(self.application.metrics.text())      # type: ignore[attr-defined]


class OneCallback(JsonBase):
    """One callback, live or stored: for the person (its status token) or an agent."""

    async def get(self, callback_id: str) -> None:
        """Send the callback as JSON, its number masked; 404 if there is no such callback or
        the token is not its own (403 or 429 for agent credentials that fail)."""
        token = self.get_query_argument("token", None) or self.request.headers.get(
            "X-Status-Token", "")
        if not self.app.status_token_valid(callback_id, token):
            if not self.has_credentials():
                self.fail(404, "no such callback, or the token is not its own", "id")
            await self.api_agent()
        record = self.app.switchboard.record(callback_id)
        if record is None:
            self.fail(404, "no such callback, or the token is not its own", "id")
        view = callback_view(record)
        at = self.app.switchboard.next_call(callback_id)
        view["next_call"] = None if at is None else when(at, self.app.switchboard.calendar)
        view["attempts"] = len(record.attempts)       # the description promises it
        self.send(view)

    async def patch(self, callback_id: str) -> None:
        """Another time for the call the person waits for (its status token; `schedule` or
        `schedule_in` as when asking): 200 with the time it is now due; 400 for a bad time,
        404 for a wrong token, 409 when it waits for no call (being called, or over)."""
        token = self.get_query_argument("token", None) or self.request.headers.get(
            "X-Status-Token", "")
        if not self.app.status_token_valid(callback_id, token):
            self.fail(404, "no such callback, or the token is not its own", "id")
        data = self.body()
        try:
            asked = call_at(data)
        except FieldError as error:
            self.fail(400, error.message, error.field)
        if asked is None:
            self.fail(400, "Give the new time (schedule) or delay (schedule_in).", "schedule")
        switchboard = self.app.switchboard
        epoch = switchboard.epoch or 0.0
        if not switchboard.reschedule(callback_id, asked - epoch):
            self.fail(409, "this callback waits for no call to move: it is being called, "
                           "or it is over", "id")
        at = switchboard.next_call(callback_id)
        self.send({"id": callback_id, "rescheduled": True,
                   "next_call": None if at is None else when(at, switchboard.calendar)})

    async def delete(self, callback_id: str) -> None:
        """Cancel the callback (its status token): nothing more is dialled; 200 with whether
        it was cancelled (false: already answered, or over), 404 for a wrong token."""
        token = self.get_query_argument("token", None) or self.request.headers.get(
            "X-Status-Token", "")
        if not self.app.status_token_valid(callback_id, token):
            self.fail(404, "no such callback, or the token is not its own", "id")
        live = self.app.switchboard.is_live(callback_id)
        cancelled = self.app.switchboard.cancel(callback_id)
        record = self.app.switchboard.record(callback_id)
        if record is None:
            self.fail(404, "no such callback, or the token is not its own", "id")
        self.send({"id": callback_id, "cancelled": cancelled and record.outcome == "cancelled",
                   "live": live and self.app.switchboard.is_live(callback_id),
                   "outcome": record.outcome})


class Rooms(JsonBase):
    """The open rooms and the connection codes, for agents."""

    async def get(self) -> None:
        """Send the rooms and the codes in use and free; 403 unless an agent asks."""
        await self.api_agent()
        self.send({"rooms": rooms_view(self.app.rooms),
                   "codes_in_use": self.app.switchboard.codes_in_use(),
                   "codes_free": self.app.switchboard.codes_free()})


class Hangup(JsonBase):
    """Emulation only (`serve`): the person's emulated phone hangs up."""

    async def post(self, callback_id: str) -> None:
        """Hang up the person's emulated phone: 202; 403 unless an agent asks, 404 if no call."""
        await self.api_agent()
        hangup = self.app.web.hangup
        if hangup is None or not hangup(callback_id):
            self.fail(404, "no live call to hang up", "id")
        self.send({"id": callback_id, "hung_up": True}, status=202)


class NotFound(JsonBase):
    """Any path the app does not serve: JSON under /api/, a plain page elsewhere."""

    def prepare(self) -> None:
        """Answer 404 whatever the method."""
        if self.request.path.startswith("/api/"):
            self.fail(404, "no such path", None)
        raise tornado.web.HTTPError(404)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """JSON under /api/, the plain error page elsewhere."""
        if self.request.path.startswith("/api/"):
            super().write_error(status_code, **kwargs)
        else:
            Base.write_error(self, status_code, **kwargs)
