"""The REST API: start a callback, read one, list rooms; its OpenAPI description."""

from __future__ import annotations

from .base import ApiError, JsonBase
from .limits import RequestRefused
from .openapi import spec
from .validation import FieldError, check_request
from .views import callback_view, rooms_view


class OpenApi(JsonBase):
    def get(self) -> None:
        self.send(spec(self.app.web.title, self.app.web.hangup is not None))


class Callbacks(JsonBase):
    def post(self) -> None:
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
    def get(self, callback_id: str) -> None:
        record = self.app.switchboard.record(callback_id)
        if record is None:
            self.fail(404, "no such callback", "id")
        self.send(callback_view(record))


class Rooms(JsonBase):
    def get(self) -> None:
        if not self.is_agent():
            self.fail(403, "an agent key is needed (X-Agent-Key)")
        self.send({"rooms": rooms_view(self.app.rooms),
                   "codes_in_use": self.app.switchboard.codes_in_use(),
                   "codes_free": self.app.switchboard.codes.free})


class Hangup(JsonBase):
    """Emulation only (`serve`): the person's emulated phone hangs up."""

    def post(self, callback_id: str) -> None:
        if not self.is_agent():
            self.fail(403, "an agent key is needed (X-Agent-Key)")
        hangup = self.app.web.hangup
        if hangup is None or not hangup(callback_id):
            self.fail(404, "no live call to hang up", "id")
        self.send({"id": callback_id, "hung_up": True}, status=202)
