"""Rate limits of the web app: sliding windows per key, with bounded memory."""

from __future__ import annotations

import pytest

from reference_impl.web.limits import Attempts, RequestLimits, RequestRefused


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_key_waits_until_its_oldest_failure_leaves_the_window() -> None:
    clock = Clock()
    attempts = Attempts(3, 60.0, clock)
    for step in range(3):
        assert attempts.wait("a") == 0.0
        attempts.failed("a")
        clock.now += 10.0
    assert attempts.wait("a") == 30.0          # the first failure, at 1000, leaves at 1060
    assert attempts.wait("b") == 0.0           # other keys are not held back
    clock.now = 1060.0
    assert attempts.wait("a") == 0.0


def test_asking_stores_nothing() -> None:
    attempts = Attempts(3, 60.0, Clock())
    for n in range(1000):
        assert attempts.wait(f"+3461{n:07d}") == 0.0
    assert len(attempts) == 0


def test_expired_keys_are_swept_out() -> None:
    clock = Clock()
    attempts = Attempts(3, 60.0, clock)
    for n in range(20_000):                     # callers choose the keys: phone numbers
        attempts.failed(f"+3461{n:07d}")
    assert len(attempts) == 10_000              # the cap: the keys idle longest went first
    clock.now += 61.0
    attempts.failed("+34699999999")
    assert len(attempts) == 1
    clock.now += 61.0
    assert attempts.wait("+34699999999") == 0.0 and len(attempts) == 0


def test_a_held_key_is_kept_while_it_is_recent() -> None:
    clock = Clock()
    attempts = Attempts(1, 60.0, clock, keep=3)
    attempts.failed("locked")
    clock.now += 1.0
    attempts.failed("x")
    attempts.failed("y")
    assert attempts.wait("locked") == 59.0
    attempts.failed("locked")                   # a new failure makes it the most recent
    attempts.failed("z")                        # past `keep`: "x" goes, not "locked"
    assert attempts.wait("locked") == 59.0 and len(attempts) == 3
    assert attempts.wait("x") == 0.0 and attempts.wait("y") == 60.0


def test_requests_refused_by_one_limit_are_not_counted_by_either() -> None:
    clock = Clock()
    limits = RequestLimits(1, 600.0, 2, 60.0, clock)
    limits.admit("+34611111111", "10.0.0.1")
    with pytest.raises(RequestRefused) as refused:              # the number's limit
        limits.admit("+34611111111", "10.0.0.1")
    assert (refused.value.field, refused.value.wait) == ("phone", 600.0)
    limits.admit("+34622222222", "10.0.0.1")                    # the refusal was not counted
    with pytest.raises(RequestRefused) as refused:              # now the address's limit
        limits.admit("+34633333333", "10.0.0.1")
    assert refused.value.field == "body" and "60 s" in refused.value.message
    limits.admit("+34633333333", "10.0.0.2")


def test_a_limit_of_none_or_zero_is_off() -> None:
    limits = RequestLimits(None, 600.0, 0, 60.0, Clock())
    for _ in range(100):
        limits.admit("+34611111111", "10.0.0.1")                # never raises
