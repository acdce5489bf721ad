"""Read-only views of the system for the pages and the API (no state of their own)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from ..records import CallbackRecord
from ..switchboard import Switchboard
from .notices import PageNotifier
from .rooms import RoomServer
from .settings import DeskPhone


def recent_callbacks(switchboard: Switchboard, notices: PageNotifier,
                     keep: int = 20) -> list[CallbackRecord]:
    """The callbacks told something most recently, live ones first."""
    found = []
    for callback_id in notices.latest(keep * 4):
        record = switchboard.record(callback_id)
        if record is not None:
            found.append(record)
    found.sort(key=lambda r: r.state == "ended")
    return found[:keep]


def callback_view(record: CallbackRecord) -> dict[str, Any]:
    """A callback as the API shows it: the number masked, as operators see it."""
    return {"id": record.id, "state": record.state, "outcome": record.outcome,
            "service": record.service_code, "phone": masked(record.person_number),
            "name": record.form.get("name", ""), "centre": record.centre,
            "terminal": record.terminal, "code": record.code, "room": record.room is not None,
            "failovers": record.failovers, "ended_by": record.ended_by, "agent": record.agent,
            "notices": list(record.notices),
            "times": {k: round(v, 3) for k, v in record.times.items()}}


def rooms_view(rooms: RoomServer) -> list[dict[str, Any]]:
    """Every room as the API and the operations page show it."""
    return [{"room": r.name, "callback": r.callback_id, "code": r.code, "template": r.template,
             "open": r.open, "present": sorted(who.value for who in r.peers),
             "agent": r.agent, "documents": len(r.documents)} for r in rooms.rooms.values()]


def desks_view(source: Callable[[], list[DeskPhone]] | None) -> list[dict[str, str]]:
    """What each desk phone shows, when the host can tell (the emulator's serve)."""
    return [{"number": d.number, "centre": d.centre, "state": d.state, "display": d.display}
            for d in (source() if source is not None else [])]


def local_time(at: float, calendar: Any) -> datetime:
    """Epoch seconds as a time in the calendar's zone (the server's own without one)."""
    zone = getattr(calendar, "zone", None)
    return datetime.fromtimestamp(at, zone) if zone is not None else datetime.fromtimestamp(at).astimezone()


def when(at: float, calendar: Any) -> str:
    """Epoch seconds as an ISO time in the calendar's zone, for pages and the API."""
    return local_time(at, calendar).isoformat(timespec="minutes")


def spoken(at: float, calendar: Any) -> str:
    """Epoch seconds as a person reads them: "Tuesday 8 December at 08:00"."""
    moment = local_time(at, calendar)
    return f"{moment:%A} {moment.day} {moment:%B} at {moment:%H:%M}"


def masked(number: str) -> str:
    """A phone number as operators see it: enough to tell calls apart."""
    return number[:4] + "•" * max(0, len(number) - 7) + number[-3:] if len(number) > 7 else number


def wait_text(position: int | None, seconds: float) -> str:
    """What the status page says of an estimated wait."""
    about = _about(seconds)
    if position is None:
        return f"An advisor should be on the line in about {about}."
    place = "next in the queue" if position == 1 else f"number {position} in the queue"
    return f"You are {place}: an advisor should be with you in about {about}."


def _about(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    hours, minutes = divmod(minutes, 60)
    text = "1 hour" if hours == 1 else f"{hours} hours"
    return text if not minutes else f"{text} {minutes} min"
