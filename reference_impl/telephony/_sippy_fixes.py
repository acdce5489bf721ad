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
