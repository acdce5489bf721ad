"""What a final SIP response to an INVITE means for the call flow (RFC 3261 section 21)."""

from __future__ import annotations

from reference_impl.flow import FailReason

_REASONS: dict[int, FailReason] = {
    486: FailReason.BUSY, 600: FailReason.BUSY,
    603: FailReason.REJECTED,
    404: FailReason.INVALID_NUMBER, 484: FailReason.INVALID_NUMBER,
    604: FailReason.INVALID_NUMBER, 410: FailReason.INVALID_NUMBER,
    408: FailReason.NO_ANSWER, 480: FailReason.NO_ANSWER, 487: FailReason.NO_ANSWER,
}


def fail_reason(code: int) -> FailReason:
    """The flow's reason for a final response >= 300 to our INVITE.

    Anything not listed (a 5xx, a 403, ...) is treated as no answer: the call
    could not be completed and the flow moves on, as it does after a ring-out.
    """
    return _REASONS.get(code, FailReason.NO_ANSWER)
