"""The one catalogue of metrics: names, suffixes, titles and units.

`expect`, `--target`, the tables, the JSON, the CSV, the report and
`callback-emu metrics` all read it, so a metric is named, titled and given a
unit once. A name is a base and a suffix (`callback_latency.p95`); a
percentile suffix is any `.pNN` (`.p80`, `.p99.9`).
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from reference_impl.flow import Outcome
from reference_impl.stages import STAGE_MARKS


@dataclass(frozen=True, slots=True)
class Stage:
    """A stage latency: from one mark of a callback's record to another."""

    name: str
    start: str          # the record's time that opens it
    stop: str           # ... and the one that closes it
    title: str
    span: str           # what it spans, in words
    optional: bool = False   # only some scenarios have it (rooms, a queue)


@dataclass(frozen=True, slots=True)
class Metric:
    """A metric other than a stage: what it measures and its unit."""

    name: str
    title: str
    unit: str           # "s", "fraction", "count", "kbit/s", "Mbit/s"
    what: str


def _stage(name: str, title: str, span: str, optional: bool = False) -> Stage:
    start, stop = STAGE_MARKS[name]            # the system's own marks: one meaning of a stage
    return Stage(name, start, stop, title, span, optional)


STAGES: dict[str, Stage] = {s.name: s for s in (
    _stage("time_to_ring", "Time to ring", "request → person's phone rings"),
    _stage("time_to_person", "Time to person", "request → person answers"),
    _stage("time_to_agent", "Time to agent", "person answers → agent answers"),
    _stage("callback_latency", "Callback latency", "request → both legs bridged"),
    _stage("time_to_room", "Time to room", "bridged → person in the room", optional=True),
    _stage("agent_join_delay", "Agent join delay", "bridged → agent in the room", optional=True),
    _stage("queue_wait", "Time on hold for a desk phone",
           "on hold at a centre → a terminal is free", optional=True),
)}

# Series: a value per callback (or per room), with every suffix.
COUNTED: dict[str, Metric] = {m.name: m for m in (
    Metric("failovers", "Failovers", "count", "centres tried after the first, per callback"),
    Metric("room_wait", "Wait for a room", "s",
           "a room asked for at the bridge → a server took it (0 when one was free)"),
    Metric("attempts", "Calls to the person", "count", "calls made to the person, per callback"),
    Metric("retry_wait", "Wait between calls", "s",
           "a call to the person ended → the next call dialled (retries)"),
    Metric("scheduled_wait", "Wait for a scheduled call", "s",
           "request → the first call, for requests that waited (a time asked for, or closed)"),
    Metric("ewt_error", "Estimated wait's error", "s",
           "actual minus estimated: an agent answered → the first estimate told the person "
           "(on hold, or scheduled); negative when the wait was shorter"),
)}

# The network model's quality in the room (None without `network:`). `video_first_frame`
# is the network's share of `video_startup`, without the agent typing the code.
QUALITY: dict[str, Metric] = {m.name: m for m in (
    Metric("video_startup", "Video start-up", "s", "the person in the room → first frame"),
    Metric("video_first_frame", "First frame", "s", "the agent's video starts → first frame"),
    Metric("video_stall_ratio", "Video stalls", "fraction", "share of the stay without picture"),
    Metric("video_bitrate", "Video bit rate", "kbit/s", "delivered, per call"),
    Metric("chat_latency", "Chat latency", "s", "a message sent → shown on the other side"),
    Metric("document_delivery", "Document delivery", "s", "pushed → fully shown"),
    Metric("person_upload", "Person's upload", "kbit/s", "the person's mean upload in the room"),
)}

# Levels over time: `.mean` (time-weighted) and `.max`.
LEVELS: dict[str, Metric] = {m.name: m for m in (
    Metric("concurrent_rooms", "Concurrent rooms", "count", "rooms open at once"),
    Metric("agent_occupancy", "Agent occupancy", "fraction",
           "share of staffed desk-phone time spent ringing or talking"),
    Metric("trunk_occupancy", "Trunk occupancy", "fraction", "share of the PBX's lines in use"),
    Metric("room_egress", "Room servers' egress", "Mbit/s", "egress reserved on all room servers"),
)}

# Figures `callback-emu compare` derives from each replication's metrics.
COMPARED: dict[str, Metric] = {m.name: m for m in (
    Metric("attempts_per_connected", "Calls per connected callback", "count",
           "calls made to people, per callback that connected (attempts.mean / outcomes.connected)"),
    Metric("lines_in_use", "Lines in use", "count", "PBX lines in use, time-weighted mean"),
    Metric("extra_lines", "Extra lines in use", "count",
           "lines in use beyond the first variant's, replication by replication"),
)}

# The terminal state of one callback, and what it means.
OUTCOMES: dict[str, str] = {
    Outcome.CONNECTED.value: "the agent answered, the legs were bridged, the call ended normally",
    Outcome.PERSON_BUSY.value: "the person's line was busy",
    Outcome.PERSON_NO_ANSWER.value: "the person's phone rang out",
    Outcome.PERSON_REJECTED.value: "the person declined the call",
    Outcome.PERSON_INVALID_NUMBER.value: "the number does not exist",
    Outcome.PERSON_ABANDONED.value: "the person hung up before an agent answered",
    Outcome.NO_AGENT.value: "every centre for the service was tried and none answered",
    Outcome.NO_TRUNK.value: "the PBX had no free line to place a leg",
    Outcome.NO_CODE.value: "every connection code was held by a live call",
    Outcome.BRIDGE_FAILED.value: "both answered, but a phone never took the bridge (its media)",
    Outcome.SYSTEM_RESTART.value: "the system stopped or died while the call was under way",
    Outcome.DUPLICATE.value: "the number already had a live or pending callback for the service",
    Outcome.CANCELLED.value: "the person cancelled before being reached",
    Outcome.ERROR.value: "the flow met an event it cannot take (a protocol error) and ended",
}

# Fractions of all callbacks (after the warm-up).
FRACTIONS: dict[str, Metric] = {m.name: m for m in (
    Metric("rooms_refused", "Rooms refused", "fraction",
           "callbacks whose room could not be opened, of those bridged"),
    Metric("queued", "Queued", "fraction", "callbacks that waited on hold for a desk phone"),
    Metric("service_level", "Service level", "fraction",
           "of the people who answered, those an agent answered within sla.within "
           "(those who gave up count as not)"),
    *(Metric(f"outcomes.{o.value}", f"Outcome {o.value}", "fraction",
             f"callbacks that ended so: {OUTCOMES[o.value]}") for o in Outcome),
)}

SERIES = (*STAGES, *COUNTED, *QUALITY)     # every base that takes the series' suffixes
SERIES_SUFFIXES = ("p50", "p95", "p99", "mean", "max", "count")
LEVEL_SUFFIXES = ("mean", "max")
_PERCENTILE = re.compile(r"^p(\d{1,2}(?:\.\d+)?|100)$")


def metric_names() -> list[str]:
    """Every metric name with its standard suffixes, in table order."""
    names = [f"{s}.{x}" for s in SERIES for x in SERIES_SUFFIXES]
    names += [f"{level}.{x}" for level in LEVELS for x in LEVEL_SUFFIXES]
    return names + list(FRACTIONS)


def split(name: str) -> tuple[str, str, str]:
    """A metric's (base, ".", suffix): `time_to_agent.p99.9` -> (time_to_agent, ., p99.9)."""
    return name.partition(".")


def percentile(suffix: str) -> float | None:
    """The percentile a suffix names (`p99.9` -> 99.9), or None if it names none."""
    match = _PERCENTILE.match(suffix)
    return float(match[1]) if match else None


def check_metric_name(name: str) -> tuple[str, str] | None:
    """None if `name` is a metric; else the problem and a hint."""
    if name in FRACTIONS:
        return None
    if name in (*SERIES, *LEVELS):
        return f"{name} needs a suffix", f"e.g. {name}.p95 or {name}.mean"
    base, _, suffix = split(name)
    if base in SERIES:
        if suffix in SERIES_SUFFIXES or percentile(suffix) is not None:
            return None
        return (f"unknown suffix {suffix!r} for {base}",
                f"use one of {', '.join(SERIES_SUFFIXES)}, or any percentile (.p80, .p99.9)")
    if base in LEVELS:
        if suffix in LEVEL_SUFFIXES:
            return None
        return f"unknown suffix {suffix!r} for {base}", f"use one of {', '.join(LEVEL_SUFFIXES)}"
    if name.startswith("outcomes."):
        return (f"unknown outcome {name.removeprefix('outcomes.')!r}",
                f"outcomes are {', '.join(o.value for o in Outcome)}")
    close = difflib.get_close_matches(name, metric_names(), n=1)
    return f"unknown metric {name!r}", (f"did you mean {close[0]!r}?" if close
                                        else "`callback-emu metrics` lists them")


def unit(name: str) -> str:
    """The unit of a metric's values: "s", "fraction", "count", "kbit/s" or "Mbit/s"."""
    if name in FRACTIONS:
        return "fraction"
    base, _, suffix = split(name)
    if suffix == "count":
        return "count"
    if base in STAGES:
        return "s"
    found = COUNTED.get(base) or QUALITY.get(base) or LEVELS.get(base) or COMPARED.get(base)
    return found.unit if found is not None else "s"


# Metrics whose values may be negative (every other one is 0 or more).
SIGNED = frozenset({"ewt_error", "extra_lines"})


def signed(name: str) -> bool:
    """Whether a metric's values may be below zero (an error, a difference)."""
    return split(name)[0] in SIGNED


def title(base: str) -> str:
    """A metric's title for tables and figures (its base name if it has none)."""
    found = STAGES.get(base) or COUNTED.get(base) or QUALITY.get(base) or LEVELS.get(base) \
        or FRACTIONS.get(base) or COMPARED.get(base)
    return found.title if found is not None else base
