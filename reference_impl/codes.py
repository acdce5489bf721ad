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
    """The codes `first` .. `first + count - 1`, written with `digits` digits.

    Codes never handed out come first, in order, then released ones in the
    order they came back; the never-used ones are counted, not listed, so a
    pool of 12-digit codes costs no more than one of 4.
    """

    def __init__(self, *, digits: int = 4, first: int | None = None,
                 count: int | None = None) -> None:
        if digits < 1:
            raise ValueError("a connection code has at least one digit")
        first = 10 ** (digits - 1) if first is None else first
        count = 10 ** digits - first if count is None else count
        if first < 0 or count < 1 or first + count > 10 ** digits:
            raise ValueError(f"codes {first}..{first + count - 1} do not fit in {digits} digits")
        self._digits = digits
        self._next, self._end = first, first + count      # never handed out yet
        self._free: deque[str] = deque()                   # released, oldest first
        self._owner: dict[str, str] = {}
        self._skip: set[int] = set()                       # never used, but reserved

    def allocate(self, owner: str) -> str:
        """A free code for `owner`: one never used, else the least recently released."""
        while self._next in self._skip:
            self._skip.discard(self._next)
            self._next += 1
        if self._next < self._end:
            code = f"{self._next:0{self._digits}d}"
            self._next += 1
        elif self._free:
            code = self._free.popleft()
        else:
            raise CodePoolExhausted(f"all {len(self._owner)} connection codes are in use")
        self._owner[code] = owner
        return code

    def reserve(self, code: str, owner: str) -> bool:
        """Hold `code` for `owner` though no live call was given it (a crashed call's, until
        it is reconciled); False if it is held already or is no code of this pool."""
        if code in self._owner or not code.isdigit() or len(code) != self._digits:
            return False
        number = int(code)
        if self._next <= number < self._end:
            self._skip.add(number)
        elif code in self._free:
            self._free.remove(code)
        else:
            return False
        self._owner[code] = owner
        return True

    def release(self, code: str) -> None:
        """Give `code` back; `CodeNotInUse` if no call holds it."""
        if self._owner.pop(code, None) is None:
            raise CodeNotInUse(f"connection code {code} is not in use")
        self._free.append(code)

    def owner(self, code: str) -> str | None:
        """The callback holding `code`, if any."""
        return self._owner.get(code)

    @property
    def in_use(self) -> int:
        """Codes held by live calls."""
        return len(self._owner)

    @property
    def free(self) -> int:
        """Codes that can be handed out."""
        return self._end - self._next - len(self._skip) + len(self._free)
