"""The fixes sippy 2.5.0 needs, in one place. Imported only in the reactor thread."""

from __future__ import annotations

from typing import Any


def apply() -> None:
    from sippy.SipConf import SipConf
    from sippy.SipURL import SipURL

    # A Contact with `;transport=UDP` (upper case, as SIPp and many phones send
    # it) made every in-dialog request fail with "unsupported transport: UDP":
    # transport names are case-insensitive (RFC 3261 section 19.1.1).
    def get_taddr(self: Any) -> tuple[Any, str]:
        transport = self.transport if self.transport is not None else SipConf.default_transport
        if isinstance(transport, str):
            transport = transport.lower()
        return (self.getAddr(), transport)

    SipURL.getTAddr = get_taddr

    # A datagram that is not UTF-8 is not SIP (RFC 3261 section 7.3.1 text is
    # UTF-8): sippy would raise on it deep in its receive path. Drop it first.
    from sippy.SipTransactionManager import SipTransactionManager

    receive = SipTransactionManager.handleIncoming

    def handle_incoming(self: Any, data_in: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data_in, bytes):
            try:
                data_in.decode()
            except UnicodeDecodeError:
                DROPPED[0] += 1
                return None
        return receive(self, data_in, *args, **kwargs)

    SipTransactionManager.handleIncoming = handle_incoming


DROPPED = [0]   # datagrams dropped before sippy saw them
