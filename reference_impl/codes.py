"""Connection codes: the caller ID shown on the agent's desk phone.

A code is unique among live calls and goes back to the pool when the call
ends. Free codes are handed out least recently released first, so a code an
agent saw a moment ago is the last to reach another call.
"""

from __future__ import annotations

from collections import deque


class CodeError(Exception):
    """Base class of the pool's errors."""


class CodePoolExhausted(CodeError):
    """Every code is held by a live call."""


class CodeNotInUse(CodeError):
    """A code was released that no call holds."""


class CodePool:
    def __init__(self, *, digits: int = 4, first: int | None = None,
                 count: int | None = None) -> None:
        if digits < 1:
            raise ValueError("a connection code has at least one digit")
        first = 10 ** (digits - 1) if first is None else first
        count = 10 ** digits - first if count is None else count
        if first < 0 or count < 1 or first + count > 10 ** digits:
            raise ValueError(f"codes {first}..{first + count - 1} do not fit in {digits} digits")
        self._free = deque(f"{n:0{digits}d}" for n in range(first, first + count))
        self._owner: dict[str, str] = {}

    def allocate(self, owner: str) -> str:
        if not self._free:
            raise CodePoolExhausted(f"all {len(self._owner)} connection codes are in use")
        code = self._free.popleft()
        self._owner[code] = owner
        return code

    def release(self, code: str) -> None:
        if self._owner.pop(code, None) is None:
            raise CodeNotInUse(f"connection code {code} is not in use")
        self._free.append(code)

    def owner(self, code: str) -> str | None:
        """The callback holding `code`, if any."""
        return self._owner.get(code)

    @property
    def in_use(self) -> int:
        return len(self._owner)

    @property
    def free(self) -> int:
        return len(self._free)
