"""The HTTP server: tornado's, with timeouts, a header size limit and a cap on open connections.

Tornado keeps a connection as long as its peer likes unless told otherwise:
headers must arrive within `idle_connection_timeout` (which is also how long
an idle keep-alive connection is kept) and a body within `body_timeout`.
Tornado counts no connections, and websockets leave its books once upgraded,
so the cap counts every accepted stream until it closes: past the cap a new
connection is answered 503 and closed at once. A request whose Content-Length is
over the body limit is answered 413 with a JSON reason and closed, its body
never read (tornado would answer a bare 400 and no reason).
"""

from __future__ import annotations

import json
import resource
from typing import Any, Awaitable

import tornado.httputil
import tornado.httpserver
import tornado.iostream
import tornado.log

FD_RESERVE = 64                      # files kept for the database, logs, the PBX, ...
_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
         b"Retry-After: 5\r\nConnection: close\r\nContent-Length: 33\r\n\r\n"
         b"Too many connections: try again.\n")


def connection_cap(wanted: int) -> int:
    """`wanted`, or fewer: never more connections than the process may open files, less a
    reserve (past that, accepting fails anyway)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - FD_RESERVE))


class CappedHTTPServer(tornado.httpserver.HTTPServer):
    """An HTTPServer that keeps at most `max_connections` connections (websockets too)."""

    def initialize(self, *args: Any, max_connections: int = 4096, **kwargs: Any) -> None:
        """Tornado's options, and the cap on open connections."""
        super().initialize(*args, **kwargs)
        self.max_connections = max_connections
        self._streams: set[tornado.iostream.IOStream] = set()

    def handle_stream(self, stream: tornado.iostream.IOStream, address: tuple[Any, ...]) -> None:
        """Serve a new connection, or answer 503 and close it when the cap is reached."""
        if len(self._streams) >= self.max_connections:
            self._streams = {s for s in self._streams if not s.closed()}
        if len(self._streams) >= self.max_connections:
            tornado.log.gen_log.warning("connection from %s refused: %d connections open",
                                        address[0] if address else "?", len(self._streams))
            try:
                stream.write(_BUSY).add_done_callback(lambda _: stream.close())
            except tornado.iostream.StreamClosedError:
                pass
            return
        self._streams.add(stream)
        super().handle_stream(stream, address)

    def start_request(self, server_conn: object,
                      request_conn: tornado.httputil.HTTPConnection) -> Any:
        """Tornado's handling of a request, behind the body limit's (see `BodyLimit`)."""
        return BodyLimit(super().start_request(server_conn, request_conn), request_conn,
                         self.conn_params.max_body_size)

    @property
    def open_connections(self) -> int:
        """Connections open now (websockets included)."""
        self._streams = {s for s in self._streams if not s.closed()}
        return len(self._streams)


class BodyLimit(tornado.httputil.HTTPMessageDelegate):
    """A request passed on as it comes, unless its Content-Length is over `limit`: then it
    is answered 413 with the reason as the API's errors give it, and closed unread."""

    def __init__(self, delegate: tornado.httputil.HTTPMessageDelegate,
                 connection: tornado.httputil.HTTPConnection, limit: int | None) -> None:
        self.delegate, self.connection, self.limit = delegate, connection, limit

    def headers_received(self, start_line: Any,
                         headers: tornado.httputil.HTTPHeaders) -> Awaitable[None] | None:
        """Refuse a body declared too big; anything else goes on (tornado itself refuses a
        length that is not a number)."""
        length = headers.get("Content-Length", "").strip()
        if self.limit is not None and length.isdigit() and int(length) > self.limit:
            self._refuse(self.limit)
            return None
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Awaitable[None] | None:
        """Pass the body on."""
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        """Pass the end of the request on."""
        self.delegate.finish()

    def on_connection_close(self) -> None:
        """Pass the early close on."""
        self.delegate.on_connection_close()

    def _refuse(self, limit: int) -> None:
        body = json.dumps({"error": f"the body is too big: at most {limit:,} bytes",
                           "field": "body"}).encode()
        head = (f"HTTP/1.1 413 Payload Too Large\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        # Taken from tornado (allowed while the headers are being received): it reads
        # nothing more of this connection, and the answer goes out before it closes.
        stream = self.connection.detach()      # type: ignore[attr-defined]
        try:
            stream.write(head + body).add_done_callback(lambda _: stream.close())
        except tornado.iostream.StreamClosedError:
            pass
