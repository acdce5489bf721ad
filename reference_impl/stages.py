"""The stages of a callback: from one mark of its record's times to another.

The production metrics (`observe.py`) and the emulator's catalogue of metrics
both measure these, so a stage means the same in both time domains.
"""

from __future__ import annotations

STAGE_MARKS: dict[str, tuple[str, str]] = {
    "time_to_ring": ("requested", "person_ringing"),
    "time_to_person": ("requested", "person_answered"),
    "time_to_agent": ("person_answered", "agent_answered"),
    "callback_latency": ("requested", "bridged"),
    "time_to_room": ("bridged", "person_in_room"),
    "agent_join_delay": ("bridged", "agent_in_room"),
    "queue_wait": ("queued", "dequeued"),      # on hold at a centre for a free terminal
}
