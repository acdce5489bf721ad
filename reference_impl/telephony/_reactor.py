"""sippy's event loop in a thread of its own.

sippy's reactor (`ED2`) belongs to the thread that first imports sippy, and
`ED2.loop()` blocks; so this module never imports sippy itself: the reactor
thread does, and everyone else talks to it with `call(fn, *args)`, which runs
`fn` in that thread (ED2.callFromThread). One reactor serves the process.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

_lock = threading.Lock()
_reactor: "Reactor | None" = None


class Reactor:
    """sippy's loop in a thread of its own; `call` and `call_sync` run code there."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._ed2: Any = None
        self.escaped = 0            # errors that escaped sippy's loop (it was restarted)
        self.thread = threading.Thread(target=self._run, name="sippy-reactor", daemon=True)
        self.thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise RuntimeError(f"sippy could not start: {self._error}") from self._error
        if self._ed2 is None:
            raise RuntimeError("sippy's reactor did not start within 30 s")

    def _run(self) -> None:
        try:
            from sippy.Core.EventDispatcher import ED2  # first import: ED2 is ours

            from . import _sippy_fixes
            _sippy_fixes.apply()
            self._ed2 = ED2
        except BaseException as error:  # noqa: BLE001 - reported to the starting thread
            self._error = error
            self._ready.set()
            return
        # A periodic no-op keeps the loop alive while no call is up.
        from sippy.Time.Timeout import Timeout
        Timeout(lambda: None, 1.0, -1)
        self._ready.set()
        while True:
            # sippy reports its handlers' errors itself; one that escapes (or its
            # report failing) must not end the thread every PBX of the process uses.
            try:
                ED2.loop()
            except Exception:  # noqa: BLE001
                self.escaped += 1

    def call(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run `fn(*args)` in the reactor thread, soon."""
        self._ed2.callFromThread(fn, *args)

    def call_sync(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` in the reactor thread and return its result."""
        if threading.current_thread() is self.thread:
            return fn(*args)
        return self._ed2.callFromThreadSync(fn, *args)


def reactor() -> Reactor:
    """The process's sippy reactor, started on first use."""
    global _reactor
    with _lock:
        if _reactor is None:
            _reactor = Reactor()
        return _reactor
