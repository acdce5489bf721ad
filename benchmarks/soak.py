#!/usr/bin/env python3
"""A soak: real SIP at a steady rate through `serve`'s runtime for minutes on end.

What runs is what `callback-emu serve --pbx sip` runs, without its HTTP
listener: `emulator.drivers.serve.build` (the web app's runtime, the
switchboard, the sippy `SipPbx` keeping each leg's dialog in the records,
the desk phones, the metrics and the JSON log line per state change, here to
a file) on the write-behind SQLite records of `serve` (a file), calling one
SIPp process of the emulator's phones on loopback. Callbacks are placed by
`WebApp.start`, as the form and the API place them (the record is durable
before anything is dialled), at ``--rate`` per second for ``--minutes``.
People answer within a second (some are busy, decline, never answer or
have a wrong number), agents pick up within a second (a few never do) and
talk 3-9 s: about 350 calls are up at once at 50/s.

At the end, once every call is over:

- **lost**: callbacks acknowledged (`WebApp.start` returned) whose record in
  the database is not ended with an outcome; and requests refused;
- **leaked**: what is still held: live callbacks, the PBX's legs, connection
  codes, desk phones (terminals), rooms, the flow's timers, SIP dialogs in
  the database, calls still up on the SIPp phones;
- **RSS over time** (this process: the system; the SIPp phones apart), a
  sample every 10 s, and whether it is flat: the last minute's mean within
  10 % of the second minute's (the first minute fills the caches: records
  kept in memory for pages, sippy's transaction caches of 32-64 s);
- **set-up stages, p99 per minute** (by request time, from the records'
  stage times): dial -> the person's phone rings, the person answers -> the
  agent's desk phone rings (the route, the code, the terminal, the INVITE),
  the agent answers -> bridged (the re-INVITE), bridged -> room open; stable
  when the last minute's p99 is within 2x the second minute's, or 5 ms.

The reference, measured in the same run: the process's RSS after start-up,
before the first callback (everything imported, the PBX bound, the phones
started), beside the RSS of every minute; and each stage's p99 of the second
minute beside the later minutes'.

    .venv/bin/python benchmarks/soak.py                      # 10 minutes at 50/s
    .venv/bin/python benchmarks/soak.py --minutes 1          # a short look
    .venv/bin/python benchmarks/soak.py --minutes 0.4 --rate 20 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from array import array
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from harness import MB  # noqa: E402

RATE = 50.0            # callbacks/s, the issue's
MINUTES = 10.0
SAMPLE_EVERY = 10.0    # s between RSS samples
FLAT = 0.10            # the last minute's RSS within 10 % of the second minute's
STABLE = 2.0           # a stage's p99 in the last minute within 2x the second minute's...
STABLE_FLOOR_MS = 5.0  # ...or within 5 ms of it (p99s of a few ms move by that much)
SIPP_BUFFERS = ("-buff_size", "4194304")   # as sip_throughput.py: bursts overflow 64 KB

SCENARIO = """\
name: soak - steady traffic over real SIP
seed: 8
services:
  soak: {centres: [desk], label: Soak}
centres:
  desk: {terminals: 800, ring_timeout: 5s, agent: desk}
profiles:
  people:
    caller: {answer_delay: {uniform: [200ms, 1s]}, answer_probability: 0.97,
             busy_probability: 0.02, reject_probability: 0.01, invalid_probability: 0.005,
             reject_delay: {fixed: 500ms}}
  agents:
    desk: {pickup_delay: {uniform: [200ms, 1s]}, answer_probability: 0.98,
           talk_time: {uniform: [3s, 9s]}}
pbx: {trunks: 4000, person_ring_timeout: 5s, post_dial_delay: {fixed: 0s}}
rooms: {servers: 1, rooms_per_server: 4000}
callbacks:
  - {at: 0s, service: soak, person: caller}
"""

# (name, from stage, to stage) of the records' stage times
STAGES = (("dial_to_person_ringing", "requested", "person_ringing"),
          ("person_answer_to_agent_ringing", "person_answered", "agent_ringing"),
          ("agent_answer_to_bridged", "agent_answered", "bridged"),
          ("bridged_to_room", "bridged", "room_created"))


@dataclass
class Samples:
    """What the sampler saw every `SAMPLE_EVERY` seconds."""

    t: array = field(default_factory=lambda: array("d"))
    rss: array = field(default_factory=lambda: array("d"))
    live: array = field(default_factory=lambda: array("l"))
    legs: array = field(default_factory=lambda: array("l"))
    waiting: array = field(default_factory=lambda: array("l"))    # records not yet written
    gen2: array = field(default_factory=lambda: array("l"))       # full collections so far


@dataclass
class Placed:
    """What the generator did: the callbacks acknowledged and when, those refused, its lag.

    Each acknowledged callback goes to a file as it comes: kept in memory (an id
    and a time, about 130 bytes), the soak's own note would grow the RSS it measures.
    """

    path: Path
    count: int = 0
    refused: Counter[str] = field(default_factory=Counter)
    lags: array = field(default_factory=lambda: array("d"))

    def __post_init__(self) -> None:
        self._file = self.path.open("w")

    def note(self, callback_id: str, at: float) -> None:
        """One callback acknowledged `at` seconds from the start."""
        self._file.write(f"{callback_id} {at:.6f}\n")
        self.count += 1

    def acknowledged(self) -> dict[str, float]:
        """Every callback acknowledged: id -> seconds from the start (read back once)."""
        self._file.close()
        with self.path.open() as lines:
            return {cid: float(at) for cid, at in (line.split() for line in lines)}


class GcPauses:
    """Full collections and their pauses (every thread stops meanwhile)."""

    def __init__(self) -> None:
        self.pauses = array("d")
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        """The `gc.callbacks` hook."""
        if info.get("generation") != 2:
            return
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses.append(time.perf_counter() - self._began)


def number(i: int) -> str:
    """A Spanish mobile number of its own for the i-th callback."""
    return f"+346{i % 100_000_000:08d}"


async def place(app: Any, i: int, t0: float, placed: Placed) -> None:
    """One callback as the form places it; noted as acknowledged or refused."""
    from reference_impl.web.validation import CallbackForm

    form = CallbackForm(phone=number(i), name="Soak", service="soak")
    try:
        callback_id, _ = await app.start(form, "127.0.0.1")
    except Exception as error:  # noqa: BLE001 - every refusal counts, by its kind
        placed.refused[type(error).__name__] += 1
        return
    placed.note(callback_id, time.monotonic() - t0)


async def generate(app: Any, rate: float, n: int, t0: float, placed: Placed) -> None:
    """`n` callbacks at `rate` per second, each placed in a task of its own."""
    loop = asyncio.get_running_loop()
    tasks = set()
    start = loop.time()
    for i in range(n):
        due = start + i / rate
        if (wait := due - loop.time()) > 0:
            await asyncio.sleep(wait)
        placed.lags.append(loop.time() - due)
        task = asyncio.create_task(place(app, i, t0, placed))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.gather(*tasks)


async def sample(app: Any, pbx: Any, records: Any, t0: float, samples: Samples,
                 stop: asyncio.Event) -> None:
    """RSS, live calls, legs and the records' queue every `SAMPLE_EVERY` seconds."""
    while True:
        samples.t.append(time.monotonic() - t0)
        samples.rss.append((harness.rss_bytes() or 0) / MB)
        samples.live.append(len(app.switchboard.live_ids()))
        samples.legs.append(pbx.legs_up)
        samples.waiting.append(int(getattr(records, "depth", 0)))
        samples.gen2.append(gc.get_stats()[2]["collections"])
        try:
            await asyncio.wait_for(stop.wait(), SAMPLE_EVERY)
            return
        except asyncio.TimeoutError:
            continue


async def wait_for_calls(app: Any, pbx: Any, seconds: float) -> float:
    """Wait for every callback to end and the legs to be let go; how long it took."""
    began = time.monotonic()
    while (app.switchboard.live_ids() or pbx.legs_up) and time.monotonic() - began < seconds:
        await asyncio.sleep(0.1)
    return time.monotonic() - began


def held(app: Any, pbx: Any) -> dict[str, int]:
    """What the system still holds (all 0 once every call is over)."""
    sb, runtime = app.switchboard, app.runtime
    return {"live_callbacks": len(sb.live_ids()), "legs": pbx.legs_up,
            "codes": len(sb.codes_in_use()),
            "terminals": sum(sb.terminals.busy(c) for c in app.directory.centres),
            "rooms": len(app.rooms.rooms), "timers": runtime.timers.live}


async def soak(minutes: float, rate: float, work: Path) -> dict[str, Any]:
    """The whole soak in this process; every figure."""
    from emulator import scenario as sc
    from emulator.drivers.serve import build
    from emulator.models.pbx.sipp import SippPhones
    from reference_impl.records import write_behind

    scenario = sc.loads(SCENARIO).scenario
    db = work / "records.db"
    log = logging.getLogger("callback")          # serve's JSON line per state change
    handler = logging.FileHandler(work / "states.jsonl")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    records = write_behind(str(db))
    n = max(1, round(rate * minutes * 60))
    placed, samples, pauses = Placed(work / "acknowledged.txt"), Samples(), GcPauses()
    try:
        with SippPhones(extra_args=SIPP_BUFFERS) as phones:
            app, emulated = build(scenario, records, "soak-key", loop=asyncio.get_running_loop(),
                                  phones=phones, request_limits=False)
            pbx = emulated.pbx
            rss_start = (harness.rss_bytes() or 0) / MB
            gc.callbacks.append(pauses)
            meter = harness.CpuMeter({"sipp": phones.pid})
            t0 = time.monotonic()
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample(app, pbx, records, t0, samples, stop))
            await generate(app, rate, n, t0, placed)
            generated = time.monotonic() - t0
            drain_s = await wait_for_calls(app, pbx, 60.0)
            stop.set()
            await sampler
            cpu = meter.stop()
            gc.callbacks.remove(pauses)
            left = held(app, pbx)
            retransmissions = (pbx.retransmissions_sent, pbx.retransmissions_received)
            records.flush(60.0)
            left["dialogs_stored"] = len(records.dialogs())
            await asyncio.sleep(1.2)                  # SIPp writes its counts once a second
            pbx.stop()
            phones_open = phones.counts().current
        counts = phones.counts()
    finally:
        records.close()
        log.removeHandler(handler)
        handler.close()
    left["calls_up_on_phones"] = phones_open
    stored = read_records(db)
    acknowledged = placed.acknowledged()
    return {
        "callbacks_offered": n, "minutes": minutes, "rate": rate,
        "generated_s": round(generated, 1), "drain_s": round(drain_s, 1),
        "generator_lag": harness.percentiles_ms(placed.lags),
        "acknowledged": len(acknowledged), "refused": dict(placed.refused),
        "lost": lost(acknowledged, stored),
        "leaked": left,
        "outcomes": dict(Counter(r["outcome"] or "none" for r in stored.values())),
        "rss": rss_figures(samples, rss_start, minutes),
        "stages": stage_figures(acknowledged, stored, minutes),
        "samples": {"t_s": list(samples.t), "rss_mb": [round(x, 1) for x in samples.rss],
                    "live": list(samples.live), "legs": list(samples.legs),
                    "records_waiting": list(samples.waiting)},
        "gc_full": {"count": len(pauses.pauses),
                    "max_ms": round(1000 * max(pauses.pauses), 1) if pauses.pauses else 0.0,
                    "total_ms": round(1000 * sum(pauses.pauses), 1)},
        "sip_retransmissions": {"sent": retransmissions[0], "received": retransmissions[1]},
        "sipp": {"successful": counts.successful, "failed": counts.failed,
                 "retransmissions": counts.retransmissions},
        "cpu": {"process_cores": cpu.cores(cpu.own), "sipp_cores": cpu.cores(cpu.procs["sipp"]),
                "other_load_cores": cpu.cores(cpu.other(cpu.own, cpu.procs["sipp"])),
                "ms_per_callback": round(1000 * cpu.own / max(1, n), 2)},
    }


def read_records(db: Path) -> dict[str, dict[str, Any]]:
    """Every record in the database as the next start would find it: id -> state,
    outcome, stage times."""
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        rows = conn.execute("SELECT id, state, outcome, times FROM callbacks").fetchall()
    return {row["id"]: {"state": row["state"], "outcome": row["outcome"],
                        "times": json.loads(row["times"] or "{}")} for row in rows}


def lost(acknowledged: dict[str, float], stored: dict[str, dict[str, Any]]) -> dict[str, int]:
    """Acknowledged callbacks whose record is missing, or not ended with an outcome."""
    missing = sum(1 for cid in acknowledged if cid not in stored)
    unfinished = sum(1 for cid in acknowledged if cid in stored
                     and (stored[cid]["state"] != "ended" or not stored[cid]["outcome"]))
    return {"no_record": missing, "not_ended": unfinished}


def minute_of(t: float, minutes: float) -> int:
    """The 0-based minute `t` seconds falls in (the last one holds the tail)."""
    return min(int(t // 60), max(0, math.ceil(minutes) - 1))


def rss_figures(samples: Samples, rss_start: float, minutes: float) -> dict[str, Any]:
    """The RSS per minute (mean of its samples), its peak, and whether it stayed flat."""
    by_minute: dict[int, list[float]] = {}
    for t, rss in zip(samples.t, samples.rss):
        by_minute.setdefault(minute_of(t, minutes), []).append(rss)
    means = {m: round(sum(v) / len(v), 1) for m, v in sorted(by_minute.items())}
    second, last = means.get(1), means.get(max(means)) if means else None
    growth = (last - second) / second if second and last is not None else None
    return {"start_mb": round(rss_start, 1), "per_minute_mb": list(means.values()),
            "peak_mb": round(max(samples.rss), 1) if samples.rss else None,
            "last_vs_second_minute": None if growth is None else round(growth, 4),
            "flat": None if growth is None else abs(growth) <= FLAT}


def stage_figures(acknowledged: dict[str, float], stored: dict[str, dict[str, Any]],
                  minutes: float) -> dict[str, Any]:
    """Each set-up stage's p99 per minute of request, and whether it stayed stable."""
    spans: dict[str, dict[int, list[float]]] = {name: {} for name, _, _ in STAGES}
    for cid, at in acknowledged.items():
        times = stored.get(cid, {}).get("times", {})
        for name, start, end in STAGES:
            if start in times and end in times:
                spans[name].setdefault(minute_of(at, minutes), []).append(times[end] - times[start])
    out: dict[str, Any] = {}
    for name, per_minute in spans.items():
        p99 = {m: round(1000 * (harness.percentile(v, 99) or 0.0), 2)
               for m, v in sorted(per_minute.items())}
        second, last = p99.get(1), p99.get(max(p99)) if p99 else None
        stable = (None if second is None or last is None
                  else last <= max(STABLE * second, second + STABLE_FLOOR_MS))
        out[name] = {"p99_ms_per_minute": list(p99.values()), "stable": stable,
                     "all": harness.percentiles_ms([x for v in per_minute.values() for x in v])}
    return out


def verdict(res: dict[str, Any]) -> dict[str, bool | None]:
    """The soak's criteria, each held or not (None: the run was too short to tell)."""
    stable = [s["stable"] for s in res["stages"].values()]
    return {"nothing_lost": not any(res["lost"].values()) and not res["refused"],
            "nothing_leaked": not any(res["leaked"].values()),
            "rss_flat": res["rss"]["flat"],
            "setup_p99_stable": None if None in stable else all(stable)}


def summary_lines(res: dict[str, Any]) -> list[str]:
    """The framed summary's lines."""
    ok = res["verdict"]
    word = {True: "yes", False: "NO", None: "n/a (under 2 minutes)"}
    rss = res["rss"]
    lines = [
        f"traffic    {res['rate']:g} callbacks/s for {res['minutes']:g} min: "
        f"{res['callbacks_offered']} offered, {res['acknowledged']} acknowledged, "
        f"refused {res['refused'] or 0}; generator lag {harness.fmt_percentiles(res['generator_lag'])}",
        "outcomes   " + ", ".join(f"{k} {v}" for k, v in sorted(res["outcomes"].items(),
                                                               key=lambda kv: -kv[1])),
        f"lost       {sum(res['lost'].values())} ({json.dumps(res['lost'])}): "
        f"{'none' if ok['nothing_lost'] else 'SOME LOST'}",
        f"leaked     {sum(res['leaked'].values())} ({json.dumps(res['leaked'])}): "
        f"{'none' if ok['nothing_leaked'] else 'LEAKS'}",
        f"RSS        reference, after start-up before the first callback: {rss['start_mb']} MB; "
        f"per minute: {', '.join(f'{x:g}' for x in rss['per_minute_mb'])} MB; peak "
        f"{rss['peak_mb']} MB",
        f"           last minute vs second: "
        + ("n/a" if rss["last_vs_second_minute"] is None
           else f"{100 * rss['last_vs_second_minute']:+.1f} %")
        + f" (flat within {100 * FLAT:g} %: {word[ok['rss_flat']]})",
        "set-up p99 per minute (ms), by request time:"]
    for name, s in res["stages"].items():
        lines.append(f"  {name:32s} {', '.join(f'{x:g}' for x in s['p99_ms_per_minute'])}"
                     f"  (all: {harness.fmt_percentiles(s['all'])})")
    lines += [
        f"           stable (last minute within {STABLE:g}x or {STABLE_FLOOR_MS:g} ms of the "
        f"second): {word[ok['setup_p99_stable']]}",
        f"SIP        retransmissions sent {res['sip_retransmissions']['sent']}, received "
        f"{res['sip_retransmissions']['received']}; SIPp phones: {res['sipp']['successful']} "
        f"calls ok, {res['sipp']['failed']} failed",
        f"GC         {res['gc_full']['count']} full collections, longest "
        f"{res['gc_full']['max_ms']} ms, {res['gc_full']['total_ms']} ms in all",
        f"CPU        the system {res['cpu']['process_cores']} of a core "
        f"({res['cpu']['ms_per_callback']} ms/callback), SIPp phones {res['cpu']['sipp_cores']}, "
        f"other processes {res['cpu']['other_load_cores']} cores; drain {res['drain_s']} s"]
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line."""
    p = harness.make_parser(__doc__, description="A soak over real SIP through serve's runtime: "
                                                 "lost, leaked, RSS and set-up p99 per minute.")
    p.add_argument("--minutes", type=float, default=MINUTES,
                   help="how long callbacks are placed (default %(default)g)")
    p.add_argument("--rate", type=float, default=RATE,
                   help="callbacks per second (default %(default)g)")
    args = p.parse_args(argv)
    if not args.minutes > 0 or not args.rate > 0:
        p.error("--minutes and --rate must be above 0")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 0 when nothing was lost or leaked, 1 otherwise (the figures either way)."""
    from emulator.models.pbx.sipp import sipp_path

    args = parse_args(argv)
    if sipp_path() is None:
        print("soak: SIPp not found (Debian package sip-tester)", file=sys.stderr)
        return 2
    say = harness.Say()
    command = harness.command_line("soak.py", sys.argv[1:] if argv is None else argv)
    m = harness.machine()
    say(f"soak: {args.rate:g} callbacks/s for {args.minutes:g} min over real SIP, "
        f"{m['cpus_usable']} CPUs, load average {os.getloadavg()[0]:.2f}")
    work = Path(tempfile.mkdtemp(prefix="soak-"))
    try:
        res = asyncio.run(soak(args.minutes, args.rate, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["verdict"] = verdict(res)
    res["command"] = command
    res["machine"] = {"cpus_usable": m["cpus_usable"], "python": m["python_version"],
                      "load_average_at_end": harness.load_average()}
    harness.print_block("Soak: callbacks over real SIP through serve's runtime",
                        summary_lines(res), say.elapsed(), command)
    if args.json:
        harness.write_json(args.json, res)
    return 0 if res["verdict"]["nothing_lost"] and res["verdict"]["nothing_leaked"] else 1


if __name__ == "__main__":
    sys.exit(main())
