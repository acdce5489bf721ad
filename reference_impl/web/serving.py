"""The HTTP server: tornado's, with timeouts, a header size limit and a cap on open connections.

Tornado keeps a connection as long as its peer likes unless told otherwise:
headers must arrive within `idle_connection_timeout` (which is also how long
an idle keep-alive connection is kept) and a body within `body_timeout`.
Tornado counts no connections, and websockets leave its books once upgraded,
so the cap counts every accepted stream until it closes: past the cap a new
connection is answered 503 and closed at once.
"""

from __future__ import annotations

import resource
from typing import Any

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

    @property
    def open_connections(self) -> int:
        """Connections open now (websockets included)."""
        self._streams = {s for s in self._streams if not s.closed()}
        return len(self._streams)
