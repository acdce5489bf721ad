"""Rate limits: wrong connection codes per agent and address, and per address (codes
cannot be guessed); callback requests per phone number and per client (sliding
windows); failed sign-ins per (address, name), per address and per account,
with growing delays; chat lines per page of a room (a token bucket)."""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Callable


class Attempts:
    """At most `limit` failures (or requests) per `window` seconds for each key.

    Only keys with a failure inside the window are kept: asking about a key
    stores nothing, and each new failure sweeps out the keys whose last one
    has expired (keys are kept in order of their last failure, so the sweep
    stops at the first live one). Past `keep` live keys, the one idle the
    longest is forgotten: memory stays bounded whatever the keys are.
    """

    def __init__(self, limit: int, window: float, clock: Callable[[], float] = time.monotonic,
                 keep: int = 10_000) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.keep = keep
        self._failures: dict[str, deque[float]] = {}     # by last failure, oldest first

    def wait(self, key: str) -> float:
        """Seconds before `key` may try again (0: now)."""
        failures = self._failures.get(key)
        if failures is None:
            return 0.0
        now = self.clock()
        _expire(failures, now - self.window)
        if not failures:
            del self._failures[key]
            return 0.0
        if len(failures) < self.limit:
            return 0.0
        return max(0.0, failures[0] + self.window - now)

    def failed(self, key: str) -> None:
        """Count a failure (or a request) of `key` now."""
        now = self.clock()
        failures = self._failures.pop(key, None) or deque()
        _expire(failures, now - self.window)
        failures.append(now)
        self._failures[key] = failures              # now the most recent
        self._sweep(now - self.window)

    def __len__(self) -> int:
        """Keys held: those with a failure in the window (at most `keep`)."""
        return len(self._failures)

    def _sweep(self, cutoff: float) -> None:
        held = self._failures
        while held:
            oldest = next(iter(held))
            if held[oldest][-1] > cutoff and len(held) <= self.keep:
                return
            del held[oldest]


def _expire(failures: deque[float], cutoff: float) -> None:
    while failures and failures[0] <= cutoff:
        failures.popleft()


class RequestRefused(Exception):
    """A callback request over a limit: the field at fault, why, and how long to wait."""

    def __init__(self, field: str, message: str, wait: float) -> None:
        super().__init__(message)
        self.field, self.message, self.wait = field, message, wait


class Unavailable(Exception):
    """The system takes no request now (it is stopping, or its records store lags behind):
    nothing was placed; try again after `wait` seconds (503 with Retry-After)."""

    def __init__(self, message: str, wait: float) -> None:
        super().__init__(message)
        self.message, self.wait = message, wait


class RequestLimits:
    """Callback requests: per phone number and per client address, each optional."""

    def __init__(self, per_number: int | None, number_window: float,
                 per_client: int | None, client_window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        # None or 0: that limit is off.
        self.numbers = Attempts(per_number, number_window, clock) if per_number else None
        self.clients = Attempts(per_client, client_window, clock) if per_client else None

    def admit(self, phone: str, client: str) -> None:
        """Count this request, or raise `RequestRefused` (and count nothing) if it must wait."""
        if self.clients is not None and (wait := self.clients.wait(client)) > 0:
            raise RequestRefused("body", f"too many callback requests from this address: "
                                 f"try again in {retry_after(wait)} s", wait)
        if self.numbers is not None and (wait := self.numbers.wait(phone)) > 0:
            raise RequestRefused("phone", f"this number was asked to be called back too often: "
                                 f"try again in {_minutes(wait)}", wait)
        if self.clients is not None:
            self.clients.failed(client)
        if self.numbers is not None:
            self.numbers.failed(phone)


def _minutes(seconds: float) -> str:
    minutes = max(1, math.ceil(seconds / 60))
    return f"{minutes} minute{'s' if minutes > 1 else ''}"


def retry_after(seconds: float) -> str:
    """A Retry-After header's value: whole seconds, at least one."""
    return str(max(1, math.ceil(seconds)))


class CodeLimits:
    """Wrong connection codes: per (agent, address), and a higher ceiling per address, so
    one agent's slips never hold back the other agents behind the same address."""

    def __init__(self, per_agent: int, per_address: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.agents = Attempts(per_agent, window, clock)
        self.addresses = Attempts(per_address, window, clock)

    def wait(self, agent: str, address: str) -> float:
        """Seconds before this agent at this address may type a code again (0: now)."""
        return max(self.agents.wait(f"{agent}\n{address}"), self.addresses.wait(address))

    def failed(self, agent: str, address: str) -> None:
        """Count a code that opened nothing."""
        self.agents.failed(f"{agent}\n{address}")
        self.addresses.failed(address)


class Backoff:
    """Failures per key with growing delays: the first `free` cost nothing, then each
    next try must wait `base` seconds, doubling with every failure up to `cap`; a key is
    forgotten `forget` seconds after its last failure. Memory is bounded by `keep`."""

    def __init__(self, free: int, base: float, cap: float, forget: float,
                 clock: Callable[[], float] = time.monotonic, keep: int = 10_000) -> None:
        self.free, self.base, self.cap, self.forget = free, base, cap, forget
        self.clock = clock
        self.keep = keep
        self._held: dict[str, tuple[int, float]] = {}    # key -> (failures, last), oldest first

    def wait(self, key: str) -> float:
        """Seconds before `key` may try again (0: now)."""
        held = self._held.get(key)
        if held is None:
            return 0.0
        count, last = held
        now = self.clock()
        if now - last >= self.forget:
            del self._held[key]
            return 0.0
        if count < self.free:
            return 0.0
        delay = min(self.cap, self.base * 2.0 ** (count - self.free))
        return max(0.0, last + delay - now)

    def failed(self, key: str) -> None:
        """Count a failure of `key` now."""
        now = self.clock()
        count, last = self._held.pop(key, (0, now))
        self._held[key] = (1 if now - last >= self.forget else count + 1, now)
        while len(self._held) > self.keep or (self._held and self._stale(now)):
            del self._held[next(iter(self._held))]

    def _stale(self, now: float) -> bool:
        return now - self._held[next(iter(self._held))][1] >= self.forget

    def forgive(self, key: str) -> None:
        """Take back one failure of `key` (an attempt counted up front that succeeded)."""
        held = self._held.get(key)
        if held is not None:
            if held[0] <= 1:
                del self._held[key]
            else:
                self._held[key] = (held[0] - 1, held[1])

    def clear(self, key: str) -> None:
        """Forget `key`'s failures."""
        self._held.pop(key, None)

    def __len__(self) -> int:
        """Keys held."""
        return len(self._held)


class LoginLimits:
    """Failed sign-ins, from the agent page or an API credential.

    Three counts, each with growing delays: per (address, name), the one that
    bites first; per address, a higher ceiling (one address trying many names);
    per account from every address (many addresses trying one name), which an
    address that signed in to that account before is spared, so nobody can lock
    an agent out from elsewhere. An attempt is counted before the password is
    checked (`attempt`) and taken back if it was right (`succeeded`): parallel
    guesses cannot slip past the count.
    """

    def __init__(self, free: int = 3, per_address: int = 20, per_account: int = 10,
                 max_delay: float = 900.0, clock: Callable[[], float] = time.monotonic,
                 trust_for: float = 30 * 86400.0) -> None:
        forget = max(max_delay, 60.0)
        self.pairs = Backoff(free, 1.0, max_delay, forget, clock)
        self.addresses = Backoff(per_address, 1.0, max_delay, forget, clock)
        self.accounts = Backoff(per_account, 1.0, max_delay, forget, clock)
        self.clock = clock
        self.trust_for = trust_for
        self._trusted: dict[str, float] = {}             # pair -> last success, oldest first

    def wait(self, address: str, name: str) -> float:
        """Seconds before `address` may try to sign in as `name` again (0: now)."""
        pair = _pair(address, name)
        waits = [self.pairs.wait(pair), self.addresses.wait(address)]
        if not self._trusts(pair):
            waits.append(self.accounts.wait(name))
        return max(waits)

    def attempt(self, address: str, name: str) -> None:
        """Count an attempt as failed until `succeeded` says otherwise."""
        self.pairs.failed(_pair(address, name))
        self.addresses.failed(address)
        self.accounts.failed(name)

    def succeeded(self, address: str, name: str) -> None:
        """The attempt was right: take it back, and trust this address for this account."""
        pair = _pair(address, name)
        self.pairs.clear(pair)
        self.addresses.forgive(address)
        self.accounts.forgive(name)
        self._trusted.pop(pair, None)
        self._trusted[pair] = self.clock()
        while len(self._trusted) > 10_000:
            del self._trusted[next(iter(self._trusted))]

    def _trusts(self, pair: str) -> bool:
        since = self._trusted.get(pair)
        return since is not None and self.clock() - since < self.trust_for


def _pair(address: str, name: str) -> str:
    return f"{address}\n{name}"


class Bucket:
    """A token bucket: `burst` at once, refilled at `rate` per second."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self._tokens = float(burst)
        self._at = clock()

    def take(self) -> bool:
        """Spend one token if there is one; False (nothing spent) when the bucket is empty."""
        now = self.clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._at) * self.rate)
        self._at = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True
