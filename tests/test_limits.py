"""Rate limits of the web app: sliding windows per key, with bounded memory; growing delays
for failed sign-ins (per pair, address and account); codes per agent; the chat's bucket."""

from __future__ import annotations

import pytest

from reference_impl.web.limits import (Attempts, Backoff, Bucket, CodeLimits, LoginLimits,
                                       RequestLimits, RequestRefused)


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


def test_backoff_gives_free_tries_then_doubles_up_to_the_cap_and_forgets() -> None:
    clock = Clock()
    backoff = Backoff(free=2, base=1.0, cap=8.0, forget=100.0, clock=clock)
    waits = []
    for _ in range(7):
        waits.append(backoff.wait("k"))
        clock.now += waits[-1]
        backoff.failed("k")
    assert waits == [0.0, 0.0, 1.0, 2.0, 4.0, 8.0, 8.0]   # two free, then doubling, capped
    clock.now += 100.0
    assert backoff.wait("k") == 0.0 and len(backoff) == 0
    for _ in range(3):
        backoff.failed("j")
    assert backoff.wait("j") == 2.0
    backoff.forgive("j")                                 # one failure fewer
    assert backoff.wait("j") == 1.0
    backoff.forgive("j")
    assert backoff.wait("j") == 0.0


def test_backoff_memory_is_bounded() -> None:
    clock = Clock()
    backoff = Backoff(free=1, base=1.0, cap=60.0, forget=60.0, clock=clock, keep=100)
    for n in range(1000):
        backoff.failed(f"10.0.{n // 256}.{n % 256}")
    assert len(backoff) == 100
    clock.now += 61.0
    backoff.failed("one more")
    assert len(backoff) == 1


def test_login_limits_hold_a_pair_then_an_address_then_an_account() -> None:
    clock = Clock()
    limits = LoginLimits(free=3, per_address=5, per_account=4, max_delay=900.0, clock=clock)
    for _ in range(3):
        limits.attempt("10.0.0.1", "bob")
    assert limits.wait("10.0.0.1", "bob") == 1.0
    assert limits.wait("10.0.0.1", "ana") == 0.0         # the same address, another agent
    limits.attempt("10.0.0.1", "eve")
    limits.attempt("10.0.0.1", "mallory")                # five from the address: its ceiling
    assert limits.wait("10.0.0.1", "ana") == 1.0
    assert limits.wait("10.0.0.2", "bob") == 0.0         # bob: 3 of his 4 free ones
    limits.attempt("10.0.0.2", "bob")
    assert limits.wait("10.0.0.3", "bob") == 1.0         # every address, now


def test_an_address_that_signed_in_is_spared_the_accounts_limit() -> None:
    clock = Clock()
    limits = LoginLimits(free=3, per_address=20, per_account=2, clock=clock)
    limits.attempt("10.0.0.1", "ana")
    limits.succeeded("10.0.0.1", "ana")                  # taken back, and trusted
    assert limits.wait("10.0.0.1", "ana") == 0.0
    for n in range(5):
        limits.attempt(f"10.9.0.{n}", "ana")
    assert limits.wait("10.9.9.9", "ana") > 0
    assert limits.wait("10.0.0.1", "ana") == 0.0


def test_codes_are_counted_per_agent_and_address_with_a_ceiling_per_address() -> None:
    clock = Clock()
    codes = CodeLimits(per_agent=2, per_address=3, window=60.0, clock=clock)
    codes.failed("ana", "10.0.0.1")
    codes.failed("ana", "10.0.0.1")
    assert codes.wait("ana", "10.0.0.1") == 60.0
    assert codes.wait("bob", "10.0.0.1") == 0.0
    codes.failed("bob", "10.0.0.1")
    assert codes.wait("carol", "10.0.0.1") == 60.0       # the address's ceiling
    assert codes.wait("ana", "10.0.0.2") == 0.0


def test_the_bucket_gives_a_burst_then_its_rate() -> None:
    clock = Clock()
    bucket = Bucket(rate=2.0, burst=5, clock=clock)
    assert [bucket.take() for _ in range(6)] == [True] * 5 + [False]
    clock.now += 1.0
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 100.0
    assert sum(bucket.take() for _ in range(10)) == 5    # never more than the burst
