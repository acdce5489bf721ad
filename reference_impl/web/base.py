"""What every handler shares: the app's objects, safety headers, the agent's credential."""

from __future__ import annotations

import hmac
import json
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, NoReturn, cast

import tornado.web

from .limits import retry_after

if TYPE_CHECKING:
    from .app import WebApp

AGENT_COOKIE = "agent"

# Pages load only our own scripts and styles; media and documents come from
# us or from the peer connection (blob:). Room links carry secrets: never
# send them on as a Referer.
_HEADERS: Mapping[str, str] = MappingProxyType({
    "Content-Security-Policy": ("default-src 'self'; img-src 'self' data: blob:; "
                                "media-src 'self' blob:; connect-src 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
})


class Base(tornado.web.RequestHandler):
    """What every page and API handler shares: the app, safety headers, the agent's credential."""

    @property
    def app(self) -> "WebApp":
        """The application, typed as the `WebApp` it is."""
        return cast("WebApp", self.application)

    def set_default_headers(self) -> None:
        """Send the safety headers (CSP, no framing, no Referer) on every response."""
        for name, value in _HEADERS.items():
            self.set_header(name, value)

    def valid_key(self, key: str) -> bool:
        """Whether `key` is one of the agent keys (compared in constant time)."""
        return any(hmac.compare_digest(key.encode(), k.encode()) for k in self.app.web.agent_keys)

    def is_agent(self) -> bool:
        """Signed in on the agent page (a signed cookie), or the key in `X-Agent-Key`."""
        if self.get_signed_cookie(AGENT_COOKIE, max_age_days=1) == b"1":
            return True
        return self.valid_key(self.request.headers.get("X-Agent-Key", ""))

    def sign_in(self) -> None:
        """Set the agent's signed cookie, good for a day."""
        self.set_signed_cookie(AGENT_COOKIE, "1", expires_days=1, httponly=True,
                               samesite="Strict")

    def client(self) -> str:
        """The client's address, for the rate limits."""
        return self.request.remote_ip or "unknown"

    def xsrf_value(self) -> str:
        """The XSRF token, for the page's forms and scripts."""
        return self.xsrf_token.decode()


class ApiError(tornado.web.HTTPError):
    """An API request refused: the status, a message, and the field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(status, message)
        self.message = message
        self.field = field
        self.retry_after = retry_after         # seconds, sent as Retry-After (429)


class JsonBase(Base):
    """API handlers: JSON in and out, errors as JSON with the field at fault."""

    def check_xsrf_cookie(self) -> None:
        """Skip tornado's XSRF check: a cross-site form cannot send the JSON the API reads."""
        # The API takes JSON only (see `body`): a cross-site form cannot send
        # that without a CORS preflight, which this app never grants.
        return None

    def body(self) -> dict[str, Any]:
        """The request's JSON object; 415 unless sent as JSON, 400 unless a JSON object."""
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/json":
            self.fail(415, "send the body as JSON (Content-Type: application/json)", "body")
        try:
            data = json.loads(self.request.body or b"null")
        except (UnicodeDecodeError, ValueError):
            self.fail(400, "the body is not valid JSON", "body")
        if not isinstance(data, dict):
            self.fail(400, "the body must be a JSON object", "body")
        return cast(dict[str, Any], data)

    def fail(self, status: int, message: str, field: str | None = None) -> NoReturn:
        """Refuse the request with `status`, a message and the field at fault."""
        raise ApiError(status, message, field)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Send an error as JSON: the message and the field (and Retry-After, for a 429)."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        body: dict[str, Any] = {"error": self._reason, "field": None}
        if isinstance(error, ApiError):
            body = {"error": error.message, "field": error.field}
            if error.retry_after is not None:
                self.set_header("Retry-After", retry_after(error.retry_after))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def send(self, data: Any, status: int = 200) -> None:
        """Send `data` as JSON with `status`."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))
