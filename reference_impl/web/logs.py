"""No secret in the logs: request paths carry room tokens, agent tickets and status tokens.

`masked` replaces each of them with `***`; `log_request` is the app's access
log (tornado's own, with the path masked), and `TokenFilter`, put on
tornado's loggers by `install`, masks what the warnings and errors print
(tornado writes the request's path into them, and into its tracebacks).
"""

from __future__ import annotations

import logging
import re
from typing import Iterable

import tornado.log
import tornado.web

MASK = "***"
_SECRETS = (
    re.compile(r"(/room/)[\w-]+"),                      # a person's room; /agent/room/{ticket}
    re.compile(r"(/callbacks/[\w-]+/)(?!(?:ws|hangup)\b)[\w-]+"),  # a status token
    re.compile(r"([?&;]token=)[^&\s;#]*"),              # the API's ?token=
)
LOGGERS = ("tornado.access", "tornado.application", "tornado.general")


def masked(text: str) -> str:
    """`text` with every token of a path or query replaced by ***."""
    for pattern in _SECRETS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def log_request(handler: tornado.web.RequestHandler) -> None:
    """The access log line tornado writes, with the path masked."""
    status = handler.get_status()
    if status < 400:
        log = tornado.log.access_log.info
    elif status < 500:
        log = tornado.log.access_log.warning
    else:
        log = tornado.log.access_log.error
    request = handler.request
    log("%d %s %s (%s) %.2fms", status, request.method, masked(request.uri or ""),
        request.remote_ip, 1000.0 * request.request_time())


class TokenFilter(logging.Filter):
    """Masks the tokens in a log record's message and in its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's text with its tokens masked; always keep the record."""
        try:
            text = record.getMessage()
        except Exception:                       # a malformed record: let logging say so
            return True
        record.msg, record.args = masked(text), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = masked(record.exc_text)
        return True


def install(loggers: Iterable[str] = LOGGERS) -> None:
    """Put a `TokenFilter` on each of tornado's loggers (once: calling again adds none)."""
    for name in loggers:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, TokenFilter) for existing in logger.filters):
            logger.addFilter(TokenFilter())
