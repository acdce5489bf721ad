"""The real SIP PBX: a B2BUA on sippy, running in its own reactor thread."""

from .messages import SipMessage
from .pbx import Dialplan, SipPbx, SipTarget, parse_sip_uri
from .responses import fail_reason

__all__ = ["Dialplan", "SipMessage", "SipPbx", "SipTarget", "fail_reason", "parse_sip_uri"]
