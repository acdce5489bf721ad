"""What every handler shares: the app's objects, safety headers, the agent's session and
credentials, and errors that never show a traceback."""

from __future__ import annotations

import base64
import binascii
import html
import json
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, NoReturn, cast

import tornado.web

from . import jsonin
from .limits import retry_after

if TYPE_CHECKING:
    from .app import WebApp

AGENT_COOKIE = "agent"            # holds a session's token; the session names the agent
_NO_AGENT = ("agent credentials are needed: a signed-in session, HTTP Basic "
             "(name and password), or X-Agent-Key in demo mode")

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

    _agent: str | None = None
    _agent_known = False

    def agent(self) -> str | None:
        """The agent this request's session cookie signs in, or None (asked once per request)."""
        if not self._agent_known:
            self._agent = self.app.signin.session_agent(self.get_cookie(AGENT_COOKIE))
            self._agent_known = True
        return self._agent

    def is_agent(self) -> bool:
        """Whether an agent's session cookie came with the request."""
        return self.agent() is not None

    def sign_in(self, agent: str) -> None:
        """Open a session for `agent` and set its cookie: HttpOnly, SameSite=Strict, and
        Secure when the request came over TLS."""
        session = self.app.signin.open_session(agent)
        self.set_cookie(AGENT_COOKIE, session.token, expires=session.expires, httponly=True,
                        samesite="Strict", secure=self.request.protocol == "https")
        self._agent, self._agent_known = agent, True

    def sign_out(self) -> None:
        """Revoke this request's session and drop its cookie."""
        self.app.signin.revoke(self.get_cookie(AGENT_COOKIE))
        self.clear_cookie(AGENT_COOKIE)
        self._agent, self._agent_known = None, True

    async def api_agent(self) -> str:
        """The agent behind an API request: its session cookie, HTTP Basic (an account's
        name and password) or X-Agent-Key (demo mode); `ApiError` 403 without, 429 after
        too many failures (each limited as a sign-in is)."""
        agent = self.agent()
        if agent is not None:
            return agent
        signin, address = self.app.signin, self.client()
        key = self.request.headers.get("X-Agent-Key")
        authorization = self.request.headers.get("Authorization", "")
        if key is not None:
            verdict = signin.key(address, key)
        elif authorization[:6].lower() == "basic ":
            name, password = _basic(authorization[6:])
            verdict = await signin.password(address, name, password)
        else:
            raise ApiError(403, _NO_AGENT)
        if verdict.wait > 0:
            raise ApiError(429, f"too many failed sign-ins: try again in "
                           f"{retry_after(verdict.wait)} s", retry_after=verdict.wait)
        if verdict.agent is None:
            raise ApiError(403, _NO_AGENT)
        return verdict.agent

    def has_credentials(self) -> bool:
        """Whether the request carries an agent credential of any kind."""
        headers = self.request.headers
        return (self.is_agent() or "X-Agent-Key" in headers
                or headers.get("Authorization", "")[:6].lower() == "basic ")

    def client(self) -> str:
        """The client's address, for the rate limits."""
        return self.request.remote_ip or "unknown"

    def xsrf_value(self) -> str:
        """The XSRF token, for the page's forms and scripts."""
        return self.xsrf_token.decode()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """A plain error page: the status and a sentence, never a traceback."""
        message = ("Something went wrong on our side. Please try again in a moment."
                   if status_code >= 500 else self._reason)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\">"
                    f"<title>{status_code}</title><p>{html.escape(message)}</p></html>")


def _basic(encoded: str) -> tuple[str, str]:
    """The name and password of an HTTP Basic credential ("", "" when malformed)."""
    try:
        text = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return "", ""
    name, _, password = text.partition(":")
    return name, password


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
        """The request's JSON object; 415 unless sent as JSON, 413 if too big, 400 unless a
        JSON object nested no deeper than the limit."""
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/json":
            self.fail(415, "send the body as JSON (Content-Type: application/json)", "body")
        web = self.app.web
        try:
            data = jsonin.parse(self.request.body or b"null", web.api_body_max_bytes,
                                web.json_max_depth)
        except jsonin.JsonRefused as refused:
            self.fail(413 if refused.too_big else 400, f"the body is {refused.message}", "body")
        if not isinstance(data, dict):
            self.fail(400, "the body must be a JSON object", "body")
        return cast(dict[str, Any], data)

    def fail(self, status: int, message: str, field: str | None = None) -> NoReturn:
        """Refuse the request with `status`, a message and the field at fault."""
        raise ApiError(status, message, field)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Send an error as JSON: the message and the field (and Retry-After, for a 429)."""
        error = kwargs.get("exc_info", (None, None, None))[1]
        reason = "internal server error" if status_code >= 500 else self._reason
        body: dict[str, Any] = {"error": reason, "field": None}
        if isinstance(error, ApiError):
            body = {"error": error.message, "field": error.field}
            if error.retry_after is not None:
                self.set_header("Retry-After", retry_after(error.retry_after))
        if status_code == 405:           # RFC 9110 section 15.5.6: say which methods there are
            self.set_header("Allow", ", ".join(
                m for m in self.SUPPORTED_METHODS if getattr(type(self), m.lower(), None)
                is not getattr(tornado.web.RequestHandler, m.lower(), None)))
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def send(self, data: Any, status: int = 200) -> None:
        """Send `data` as JSON with `status`."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))
