"""The REST API: start a callback, read one, list rooms; its OpenAPI description."""

from __future__ import annotations

from .base import ApiError, JsonBase
from .limits import RequestRefused
from .openapi import spec
from .validation import FieldError, check_request
from .views import callback_view, rooms_view


class OpenApi(JsonBase):
    """The API's OpenAPI description."""

    def get(self) -> None:
        """Send the description (with the hangup path when the app serves it)."""
        self.send(spec(self.app.web.title, self.app.web.hangup is not None))


class Callbacks(JsonBase):
    """Callbacks asked for in JSON, as the form asks for them."""

    def post(self) -> None:
        """Start a callback: 201 with its id and status links; 400, 415 or 429 if refused."""
        data = self.body()
        try:
            form = check_request(data, self.app.directory, self.app.web.default_region)
        except FieldError as error:
            self.fail(400, error.message, error.field)
        try:
            callback_id = self.app.start(form, self.client())
        except RequestRefused as refused:
            raise ApiError(429, refused.message, refused.field, retry_after=refused.wait) from None
        self.send({"id": callback_id, "phone": form.phone,
                   "status_page": f"/callbacks/{callback_id}",
                   "status_socket": f"/callbacks/{callback_id}/ws"}, status=201)


class OneCallback(JsonBase):
    """One callback, live or stored."""

    def get(self, callback_id: str) -> None:
        """Send the callback as JSON; 404 if there is no such callback."""
        record = self.app.switchboard.record(callback_id)
        if record is None:
            self.fail(404, "no such callback", "id")
        self.send(callback_view(record))


class Rooms(JsonBase):
    """The open rooms and the connection codes, for agents."""

    def get(self) -> None:
        """Send the rooms and the codes in use and free; 403 unless an agent asks."""
        if not self.is_agent():
            self.fail(403, "an agent key is needed (X-Agent-Key)")
        self.send({"rooms": rooms_view(self.app.rooms),
                   "codes_in_use": self.app.switchboard.codes_in_use(),
                   "codes_free": self.app.switchboard.codes_free()})


class Hangup(JsonBase):
    """Emulation only (`serve`): the person's emulated phone hangs up."""

    def post(self, callback_id: str) -> None:
        """Hang up the person's emulated phone: 202; 403 unless an agent asks, 404 if no call."""
        if not self.is_agent():
            self.fail(403, "an agent key is needed (X-Agent-Key)")
        hangup = self.app.web.hangup
        if hangup is None or not hangup(callback_id):
            self.fail(404, "no live call to hang up", "id")
        self.send({"id": callback_id, "hung_up": True}, status=202)
