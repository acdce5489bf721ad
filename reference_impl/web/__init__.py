"""The reference web app: form, status page, one-way video room, agent page,
operations page and REST API, on tornado.

Nothing here decides anything about a call: handlers turn HTTP and websocket
messages into switchboard calls (`request`, `enter_code`), and `RoomServer`
and `PageNotifier` are the real `Rooms` and `Notifier` ports. All state hangs
off the application object that `make_app` builds. Agents sign in with the
accounts of `reference_impl.accounts` (`signin.py`), or demo mode's shared
key; input is bounded (`serving.py`, `jsonin.py`, `limits.py`), and tokens
are masked in the logs (`logs.py`).
"""

from .app import WebApp, make_app, web_runtime
from .notices import PageNotifier
from .rooms import RoomServer
from .settings import DeskPhone, Document, WebSettings

__all__ = ["WebApp", "make_app", "web_runtime", "PageNotifier", "RoomServer",
           "DeskPhone", "Document", "WebSettings"]
