"""The real SIP PBX: a B2BUA on sippy, running in its own reactor thread.

`reactor()` is the process's sippy reactor: `call(fn)` and `call_sync(fn)` run
code in its thread (a profiler, say). `DialogState` is a dialog (early or confirmed) as
`SipPbx(on_dialog=...)` hands it out, for `SipPbx.end_dialogs` after a restart.
"""

from ._reactor import Reactor, reactor
from .dialogs import DialogState
from .messages import MessageTap, SipMessage
from .pbx import Dialplan, SipPbx, SipTarget, parse_sip_uri
from .responses import fail_reason

__all__ = ["DialogState", "Dialplan", "MessageTap", "Reactor", "SipMessage", "SipPbx", "SipTarget",
           "fail_reason", "parse_sip_uri", "reactor"]
