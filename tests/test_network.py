"""The network model against closed forms, its properties, and its place in a scenario."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.drivers.clock import SimClock
from emulator.drivers.simulation import simulate
from emulator.models.network import Link, LinkSpec, Path as NetPath, VideoStream, pick_rung
from emulator.models.network.profiles import PROFILES
from emulator.scenario import ScenarioError, load, loads

LADDER = [250e3, 500e3, 1000e3]


def rng(seed: int = 1) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- a document over an idle link ------------------------------------------------------

@given(size=st.floats(1, 5e6), rate=st.floats(1e4, 1e9), delay=st.floats(0, 0.5))
def test_a_document_over_an_idle_line_takes_size_over_rate_plus_delay(size: float, rate: float,
                                                                      delay: float) -> None:
    link = Link(LinkSpec(rate=rate, delay=delay), rng())
    done = link.send(size, 10.0)
    assert done.last == pytest.approx(10.0 + size * 8 / rate + delay, rel=1e-12, abs=1e-12)
    # The first packet is through after its own serialisation.
    assert done.first == pytest.approx(10.0 + min(size, 1500) * 8 / rate + delay, rel=1e-12)


@given(size=st.floats(1, 5e6), burst=st.floats(0, 1e6), rate=st.floats(1e4, 1e9))
def test_a_full_bucket_lets_the_burst_through_at_once(size: float, burst: float, rate: float) -> None:
    link = Link(LinkSpec(rate=rate, delay=0.01, burst=burst), rng())
    done = link.send(size, 0.0)
    assert done.last == pytest.approx(max(0.0, size - burst) * 8 / rate + 0.01, rel=1e-12, abs=1e-12)


@given(packets=st.integers(1, 200), burst=st.sampled_from([0.0, 3000.0, 64_000.0]),
       gap=st.floats(0, 2))
def test_a_message_leaves_when_its_packets_would(packets: int, burst: float, gap: float) -> None:
    """One send of n packets' bytes = n sends of one packet each (the same FIFO arithmetic)."""
    spec = LinkSpec(rate=1e6, delay=0.02, burst=burst)
    whole, apart = Link(spec, rng()), Link(spec, rng())
    for link in (whole, apart):
        link.send(20_000, 0.0)        # some history: the bucket is partly refilled after `gap`
    message = whole.send(packets * 1500.0, gap)
    last = max(apart.send_packet(1500.0, gap) for _ in range(packets))   # type: ignore[type-var]
    assert message.last == pytest.approx(last, rel=1e-12, abs=1e-12)


def test_a_path_is_as_slow_as_its_slowest_link_not_the_sum() -> None:
    """Pipelined: size / bottleneck + every delay, up to one packet's serialisation per link."""
    person, agent, server = PROFILES["adsl_1m_256k"], PROFILES["fibre"], PROFILES["datacentre"]
    # Rates and delays of the profiles, without their jitter, to compare with the closed form.
    path = NetPath([Link(LinkSpec(rate=s.rate, delay=s.delay), rng())
                    for s in (agent.up, server.down, server.up, person.down)])
    size = 400_000.0
    done = path.send(size, 0.0)
    delays = agent.up.delay + server.down.delay + server.up.delay + person.down.delay
    ideal = size * 8 / person.down.rate + delays
    slack = sum(1500 * 8 / s.rate for s in (agent.up, server.down, server.up))
    assert ideal <= done.last <= ideal + slack + 1e-12
    stored_and_forwarded = sum(size * 8 / s.rate for s in (agent.up, server.down, server.up,
                                                           person.down)) + delays
    assert done.last < stored_and_forwarded


# -- queueing: M/D/1 -----------------------------------------------------------------------

@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_poisson_packets_wait_as_in_md1(rho: float) -> None:
    """Poisson arrivals of fixed-size packets on a line: M/D/1, mean wait ρ/(2μ(1−ρ)).

    200 000 packets; the tolerance is four standard errors of the mean wait,
    estimated by batch means over 100 batches of 2 000 packets (each batch
    spans many busy periods at these loads, so batch means are nearly
    independent): a correct model fails this about once in 15 000 runs, a wrong
    one (FIFO broken, service time off by a packet) misses by far more.
    """
    size, rate = 1000.0, 8e6                   # 1 ms per packet: μ = 1000/s
    service = size * 8 / rate
    mu, lam = 1 / service, rho / service
    link = Link(LinkSpec(rate=rate), rng(7))
    arrivals = np.cumsum(rng(11).exponential(1 / lam, 200_000))
    waits = np.array([link.send_packet(size, float(t)) - t - service for t in arrivals])
    assert waits.min() >= -1e-12
    theory = rho / (2 * mu * (1 - rho))
    batches = waits.reshape(100, -1).mean(axis=1)
    stderr = batches.std(ddof=1) / math.sqrt(len(batches))
    assert abs(waits.mean() - theory) < 4 * stderr, (waits.mean(), theory, stderr)
    assert abs(waits.mean() - theory) / theory < 0.1


# -- loss, jitter, queue limits ------------------------------------------------------------

@given(loss=st.floats(0.0, 0.5), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_loss_drops_about_that_share_of_packets(loss: float, seed: int) -> None:
    n = 4000
    link = Link(LinkSpec(rate=1e9, loss=loss), rng(seed))
    dropped = sum(link.send_packet(100.0, i * 1e-3) is None for i in range(n))
    sigma = math.sqrt(n * loss * (1 - loss))
    assert abs(dropped - n * loss) <= 5 * sigma + 1e-9      # 5σ: a false alarm 1 run in 3.5 M


@given(delay=st.floats(0.0, 0.2), jitter=st.floats(0.0, 0.1), seed=st.integers(0, 2**32 - 1))
@settings(max_examples=25, deadline=None)
def test_jitter_spreads_the_delay_within_its_bounds(delay: float, jitter: float, seed: int) -> None:
    link = Link(LinkSpec(rate=1e9, delay=delay, jitter=jitter), rng(seed))
    service = 100 * 8 / 1e9
    extra = np.array([link.send_packet(100.0, float(i)) - i - service for i in range(2000)])
    assert extra.min() >= max(0.0, delay - jitter) - 1e-12
    assert extra.max() <= delay + jitter + 1e-12
    if jitter <= delay:            # uniform on [delay − jitter, delay + jitter]: centred on delay
        assert abs(extra.mean() - delay) <= 5 * jitter / math.sqrt(3 * 2000) + 1e-12
        if jitter > 1e-4:
            assert extra.std() > 0.4 * jitter        # it does vary (std of the uniform: 0.58·jitter)


@given(limit=st.integers(1, 50), offered=st.integers(1, 120), size=st.integers(40, 1500))
def test_a_packet_limit_keeps_that_many_and_drops_the_rest(limit: int, offered: int,
                                                            size: int) -> None:
    link = Link(LinkSpec(rate=1e6, queue_packets=limit), rng())
    kept = sum(link.send_packet(size, 0.0) is not None for _ in range(offered))
    assert kept == min(limit, offered)
    # Once the line has drained, there is room again.
    assert link.send_packet(size, 1e3) is not None


@given(limit=st.integers(1500, 200_000), offered=st.integers(1, 200), size=st.integers(40, 1500))
def test_a_byte_limit_keeps_what_fits(limit: int, offered: int, size: int) -> None:
    link = Link(LinkSpec(rate=1e6, queue_bytes=limit), rng())
    kept = sum(link.send_packet(size, 0.0) is not None for _ in range(offered))
    assert kept == min(offered, limit // size)


def test_a_lossy_line_resends_and_takes_longer() -> None:
    clean = Link(LinkSpec(rate=1e6, delay=0.05), rng(3)).send(1e6, 0.0)
    lossy = Link(LinkSpec(rate=1e6, delay=0.05, loss=0.02), rng(3)).send(1e6, 0.0)
    assert lossy.lost > 0
    assert lossy.sent == 1e6 + lossy.lost * 1500
    assert lossy.last == pytest.approx(clean.last + lossy.lost * 1500 * 8 / 1e6 + 0.1)


# -- adaptive video ------------------------------------------------------------------------

def test_the_ladder_is_climbed_only_as_far_as_the_throughput_allows() -> None:
    assert pick_rung(LADDER, None, 10.0, 1.0) == 250e3                 # nothing measured yet
    assert pick_rung(LADDER, 5e6, 10.0, 1.0) == 1000e3
    assert pick_rung(LADDER, 700e3, 10.0, 1.0) == 500e3                # 0.8 · 700k = 560k
    assert pick_rung(LADDER, 600e3, 10.0, 1.0) == 250e3                # 480k < 500k
    assert pick_rung(LADDER, 5e6, 0.1, 1.0) == 500e3                   # 1000k would arrive too late
    assert pick_rung(LADDER, 100e3, 10.0, 1.0) == 250e3                # nothing fits: the lowest


def watch(rate: float, seconds: float = 120.0, ladder: list[float] = LADDER):  # type: ignore[no-untyped-def]
    env = simpy.Environment()
    down = Link(LinkSpec(rate=rate, delay=0.02), rng())
    reports: list[float] = []
    stream = VideoStream(SimClock(env), NetPath([down]), ladder=ladder, segment=1.0, startup=2.0,
                         feedback=reports.append)
    stream.start(0.0)
    env.run(until=seconds)
    return stream.stop(seconds), reports


def test_a_thin_line_gets_a_lower_rung_and_no_stall() -> None:
    fat, _ = watch(20e6)
    thin, _ = watch(700e3)
    assert fat.bits / fat.seconds > 950e3             # the top rung, after a cautious start
    assert 400e3 < thin.bits / thin.seconds < 520e3   # mostly the middle rung
    assert fat.stalled == thin.stalled == 0.0
    # Two segments buffered: the first at the lowest rung, the second at the middle one
    # (0.8 x the 663 kbit/s measured on the first), ready 2 s in.
    assert thin.first_frame == pytest.approx(2.0 + 0.02 + 500e3 / 700e3)


def test_when_even_the_lowest_rung_does_not_fit_the_picture_stalls() -> None:
    playback, reports = watch(200e3)                  # 250 kbit/s of video on a 200 kbit/s line
    assert playback.bits / playback.seconds == pytest.approx(250e3)
    # Each 1 s segment takes 1.25 s: a quarter of the time without picture, in the long run.
    stall_share = playback.stalled / (120.0 - playback.first_frame)
    assert 0.12 < stall_share < 0.25
    assert len(reports) > 50                          # the viewer kept reporting


# -- in a scenario -------------------------------------------------------------------------

CALL = """\
name: one call with a room
seed: 5
services: {mortgages: {centres: [madrid]}}
centres:
  madrid: {terminals: 1, agent: {pickup_delay: {fixed: 3s}, talk_time: {fixed: 3min},
                                 code_entry_delay: {fixed: 5s}}}
callbacks: [{at: 0s, service: mortgages, person: {answer_delay: {fixed: 2s}}}]
"""


def quality(text: str) -> dict[str, float | None]:
    return simulate(loads(text).scenario).metrics


def test_without_a_network_the_quality_metrics_stay_empty() -> None:
    metrics = quality(CALL)
    assert all(metrics[f"{name}.mean"] is None for name in
               ("video_startup", "video_bitrate", "person_upload", "chat_latency"))


def test_the_person_uploads_little_one_way_and_much_two_way() -> None:
    one_way = quality(CALL + "network: {person_link: adsl_8m_1m}\n")
    two_way = quality(CALL + "network: {person_link: adsl_8m_1m, video: {two_way: true}}\n")
    assert one_way["person_upload.mean"] is not None and two_way["person_upload.mean"] is not None
    assert 1.0 < one_way["person_upload.mean"] < 16.0
    # The camera at the middle rung (0.8 x the 1 Mbit/s up line), averaged over the whole stay
    # in the room, the seconds before the agent joined included.
    assert two_way["person_upload.mean"] > 300.0
    assert one_way["video_bitrate.mean"] > 900          # the person's 8 Mbit/s carry the top rung
    assert one_way["video_stall_ratio.mean"] == 0.0


def test_a_thin_line_shows_in_the_quality() -> None:
    fast = quality(CALL + "network: {person_link: fibre}\n")
    slow = quality(CALL + "network: {person_link: 3g, documents: {count: 2, size: 1MB}}\n")
    for name in ("video_startup.mean", "chat_latency.mean", "document_delivery.mean"):
        assert slow[name] > fast[name], name            # type: ignore[operator]
    assert slow["video_bitrate.mean"] < fast["video_bitrate.mean"]  # type: ignore[operator]
    assert slow["video_stall_ratio.mean"] > 0.0         # type: ignore[operator]
    assert slow["document_delivery.count"] == 2


def test_a_document_still_on_its_way_when_the_room_closes_is_not_counted() -> None:
    short = CALL.replace("{fixed: 3min}", "{fixed: 30s}")
    text = short + ("network: {person_link: 3g, documents: {count: 1, size: 5MB, "
                    "after: {fixed: 1s}}}\n")      # 5 MB at 384 kbit/s: ~100 s, the call lasts 30 s
    metrics = quality(text)
    assert metrics["document_delivery.count"] == 0
    assert metrics["video_startup.count"] == 1


def test_a_custom_link_and_the_server_line_are_used() -> None:
    network = ("network:\n  person_link: my_dsl\n"
               "  links: {my_dsl: {down: 600kbit/s, up: 128kbit/s, delay: 30ms}}\n")
    metrics = quality(CALL + network)
    assert metrics["video_bitrate.mean"] < 500      # 0.8 · 600k leaves only the lowest rung mostly
    thin_server = quality(CALL + network + "  server_link: {down: 1Gbit/s, up: 200kbit/s}\n")
    assert thin_server["video_stall_ratio.mean"] > 0.0   # type: ignore[operator]


# -- scenario errors -----------------------------------------------------------------------

@pytest.mark.parametrize("network,line,key,words", [
    ("network: {person_link: adsl_8m_1n}", 8, "network.person_link", "did you mean 'adsl_8m_1m'"),
    ("network:\n  links: {dsl: {down: 2MB/s, up: 1Mbit/s}}", 9, "network.links.dsl.down", "bit/s"),
    ("network:\n  links: {dsl: {down: 2Mbit/s, up: 1Mbit/s, queue: 64kb}}", 9,
     "network.links.dsl.queue", "sizes are in bytes"),
    ("network:\n  video: {ladder: [250kbit/s, fast]}", 9, "network.video.ladder[1]", "bit rate"),
    ("network:\n  video: {two_wya: true}", 9, "network.video.two_wya", "did you mean 'two_way'"),
    ("network:\n  documents: {size: {lognormal: {median: 400kB, sigma: x}}}", 9,
     "network.documents.size", "not a number"),
    ("network:\n  links: {dsl: {down: 2Mbit/s, up: 1Mbit/s, loss: 1.5}}", 9,
     "network.links.dsl.loss", "less than 1"),
    ("network:\n  chat: {every: 0s}", 9, "network.chat.every", "greater than 0"),
    ("network: adsl_8m_1m", 8, "network", "write a mapping"),
    ("network:\n  video: {two_way: maybe}", 9, "network.video.two_way", "true or false"),
])
def test_a_bad_network_names_its_line_and_key(tmp_path: Path, network: str, line: int, key: str,
                                              words: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(CALL + network + "\n")
    with pytest.raises(ScenarioError) as caught:
        load(path)
    text = str(caught.value)
    assert text.startswith(f"{path}:{line}: {key}:"), text
    assert words in text, text


def test_the_short_form_of_the_contract_still_loads() -> None:
    network = loads(CALL + "network: {person_link: adsl_8m_1m}\n").scenario.network
    assert network is not None and network.person_link == "adsl_8m_1m"


def test_a_message_held_up_upstream_does_not_block_a_shared_line_meanwhile() -> None:
    """A person's report stuck behind their own upload must not hold the server's line for others."""
    server = Link(LinkSpec(rate=1e9, delay=0.001), rng())
    thin_up = Link(LinkSpec(rate=64e3, delay=0.08), rng())
    fast_up = Link(LinkSpec(rate=300e6, delay=0.003), rng())
    thin_up.send(125_000, 0.0)                       # ~15.6 s of the person's own upload queued
    stuck = NetPath([thin_up, server]).send(600, 0.1)
    assert stuck.last > 15.0
    other = NetPath([fast_up, server]).send(31_250, 0.2)
    assert other.last < 0.2 + 0.01                   # through at once, as on an idle line


# -- load runs and the report ---------------------------------------------------------------

LOAD = """\
name: half an hour of calls with a network
seed: 8
services: {mortgages: {centres: [madrid]}}
centres: {madrid: {terminals: 4, agent: typical}}
arrivals: {rate: 60/h, person: typical, duration: 30min}
network: {person_link: adsl_1m_256k}
"""


def test_a_load_run_carries_the_quality_metrics_with_intervals_into_the_report() -> None:
    from emulator.studies.load import run_replications, study
    from emulator.cli.report import render_report
    scenario = loads(LOAD).scenario
    runs = run_replications(scenario, 2, workers=1, progress=False)
    document = study(scenario, runs, 60.0)
    upload = document["metrics"]["person_upload.mean"]
    assert upload["mean"] is not None and 1.0 < upload["mean"] < 16.0
    assert upload["ci95"] is not None
    assert set(document["quality"]) >= {"video_bitrate", "person_upload", "chat_latency"}
    page = render_report(document)
    assert "<h2>Quality in the room</h2>" in page
    section = page[page.index("Quality in the room"):]
    assert "data:image/png;base64," in section and "person_upload" in section
    without = LOAD.replace("network: {person_link: adsl_1m_256k}\n", "")
    plain = run_replications(loads(without).scenario, 1, progress=False)
    assert study(loads(without).scenario, plain, 60.0)["quality"] == {}
    assert "Quality in the room" not in render_report({"scenario": "x", "quality": {}})


# -- the observer: rooms opening and closing ------------------------------------------------

def sessions(env: simpy.Environment, text: str = "network: {person_link: fibre}\n"):  # type: ignore[no-untyped-def]
    from emulator.measure.collector import Collector
    from emulator.models.network import RoomSessions
    from emulator.scenario import build
    network = build.network(loads(CALL + text).scenario)
    assert network is not None
    collector = Collector()
    return RoomSessions(SimClock(env), network, rng(), collector), collector


def test_the_video_waits_for_both_whichever_joins_first() -> None:
    from types import SimpleNamespace
    from reference_impl import flow as f
    from reference_impl.flow import Role
    env = simpy.Environment()
    observer, collector = sessions(env)
    observer.event("1", f.RoomCreated(room="room-1", routing="server-1"), 0.0)
    observer.event("1", f.JoinedRoom(who=Role.AGENT), 0.0)        # the agent is in first
    assert not observer.sessions                                 # no room traffic without the person
    env.run(until=3.0)
    observer.event("1", f.JoinedRoom(who=Role.PERSON), 3.0)
    env.run(until=60.0)
    observer.command("1", f.DeleteRoom(room="room-1"), 60.0)
    assert not observer.sessions
    startup = collector.series["video_startup"]
    assert startup.count == 1 and 2.0 < startup.mean < 2.1         # two 1 s segments, from 3 s on
    assert collector.series["person_upload"].count == 1
    observer.closed(SimpleNamespace(id="1"))                      # type: ignore[arg-type]
    assert collector.series["video_startup"].count == 1           # ended once, counted once


def test_a_room_closed_without_delete_ends_with_the_call_and_rooms_share_a_server_line() -> None:
    from types import SimpleNamespace
    from reference_impl import flow as f
    from reference_impl.flow import Role
    env = simpy.Environment()
    observer, collector = sessions(env)
    for call, server in (("1", "server-1"), ("2", "server-1"), ("3", "server-2")):
        observer.event(call, f.RoomCreated(room=f"room-{call}", routing=server), 0.0)
        observer.event(call, f.JoinedRoom(who=Role.PERSON), 0.0)
    assert len(observer.servers) == 2
    assert observer.sessions["1"].to_person.links[2] is observer.sessions["2"].to_person.links[2]
    assert observer.sessions["1"].to_person.links[2] is not observer.sessions["3"].to_person.links[2]
    env.run(until=10.0)
    for call in ("1", "2", "3"):
        observer.closed(SimpleNamespace(id=call))                 # type: ignore[arg-type]
    assert not observer.sessions
    assert collector.series["person_upload"].count == 3
    assert collector.series["video_startup"].count == 0           # no agent: no video


# -- the shaper's properties -----------------------------------------------------------------

PACKETS = st.lists(st.tuples(st.floats(0, 0.05), st.integers(40, 1500)), min_size=1, max_size=60)


@given(packets=PACKETS, rate=st.floats(1e5, 1e8))
def test_a_line_without_burst_is_a_fifo_queue(packets: list[tuple[float, int]], rate: float) -> None:
    """Without a bucket, the n-th packet leaves at max over k of (t_k + service of k..n):
    the closed form of Lindley's recursion for a FIFO queue with one server."""
    link = Link(LinkSpec(rate=rate), rng())
    now, arrivals, done = 0.0, [], []
    for gap, size in packets:
        now += gap
        arrivals.append((now, size))
        left = link.send_packet(size, now)
        assert left is not None
        done.append(left)
    for n in range(len(arrivals)):
        closed = max(t + sum(s for _, s in arrivals[k:n + 1]) * 8 / rate
                     for k, (t, _) in enumerate(arrivals[:n + 1]))
        assert done[n] == pytest.approx(closed, rel=1e-9, abs=1e-12)


@given(packets=PACKETS, rate=st.floats(1e5, 1e8), burst=st.integers(0, 20_000))
def test_what_leaves_a_bucket_never_exceeds_burst_plus_rate(packets: list[tuple[float, int]],
                                                            rate: float, burst: int) -> None:
    """tbf's promise: over any span the bytes out are at most the bucket plus rate x span."""
    link = Link(LinkSpec(rate=rate, burst=burst), rng())
    now, out = 0.0, []
    for gap, size in packets:
        now += gap
        left = link.send_packet(size, now)
        assert left is not None and left >= now
        out.append((left, size))
    for i in range(len(out)):
        for j in range(i, len(out)):
            sent = sum(size for _, size in out[i:j + 1])
            allowed = max(burst, out[i][1]) + rate / 8 * (out[j][0] - out[i][0])
            assert sent <= allowed * (1 + 1e-9) + 1e-6


TWO_SERVICES = """\
name: two services, one with two-way rooms
seed: 5
services:
  mortgages: {centres: [madrid], room_template: advisor}
  insurance: {centres: [barcelona], room_template: claims}
centres:
  madrid: {terminals: 1, agent: {pickup_delay: {fixed: 3s}, talk_time: {fixed: 2min},
                                 code_entry_delay: {fixed: 5s}}}
  barcelona: {terminals: 1, agent: {pickup_delay: {fixed: 3s}, talk_time: {fixed: 2min},
                                    code_entry_delay: {fixed: 5s}}}
callbacks:
  - {at: 0s, service: mortgages, person: {answer_delay: {fixed: 2s}}}
  - {at: 0s, service: insurance, person: {answer_delay: {fixed: 2s}}}
network: {person_link: adsl_8m_1m}
"""


@pytest.mark.parametrize("rooms,uploads_high", [
    ("", 0),
    ("rooms: {two_way: [claims]}\n", 1),        # the claims rooms only
    ("rooms: {two_way: true}\n", 2),
])
def test_two_way_rooms_on_the_servers_carry_the_person_s_camera(rooms: str, uploads_high: int) -> None:
    result = simulate(loads(TWO_SERVICES + rooms).scenario)
    assert result.collector is not None
    uploads = result.collector.series["person_upload"].quantiles([0, 100])
    assert sum(u > 100 for u in uploads) == uploads_high, uploads
