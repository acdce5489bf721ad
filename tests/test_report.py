"""The HTML report of a load run (`callback-emu load FILE --report out.html`)."""

from __future__ import annotations

import base64
import copy
import re
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest


from emulator.measure.catalogue import metric_names  # noqa: E402
from emulator.cli import figures, report  # noqa: E402
from emulator.cli.report import KEY_FIGURES, TITLES, render_report, write_report  # noqa: E402

NAME = "weekday <b>& three centres"
PNG = "data:image/png;base64,"
STAGE_SCALE = {"time_to_ring": 2.0, "time_to_person": 9.0, "time_to_agent": 8.0,
               "callback_latency": 17.0, "time_to_room": 3.0, "agent_join_delay": 5.0}


def _metric(mean: float, spread: float) -> dict[str, Any]:
    return {"mean": mean, "ci95": [mean - spread, mean + spread]}


def synthetic_study(seed: int = 7) -> dict[str, Any]:
    """A load run's JSON document, shaped as the lead builds it, with plausible numbers."""
    rng = np.random.default_rng(seed)
    metrics: dict[str, Any] = {name: {"mean": None, "ci95": None} for name in metric_names()}
    histograms = {}
    for stage, scale in STAGE_SCALE.items():
        samples = rng.lognormal(np.log(scale), 0.45, 20_000)
        edges = np.linspace(0, np.quantile(samples, 0.999) * 1.3, 61)
        counts, _ = np.histogram(samples, edges)
        histograms[stage] = {"edges": edges.tolist(), "counts": counts.tolist()}
        for suffix, q in (("p50", 0.5), ("p95", 0.95), ("p99", 0.99)):
            value = float(np.quantile(samples, q))
            metrics[f"{stage}.{suffix}"] = _metric(value, value * 0.02)
        metrics[f"{stage}.mean"] = _metric(float(samples.mean()), 0.1)
    outcomes = {"connected": 0.905, "person_busy": 0.031, "person_no_answer": 0.024,
                "person_rejected": 0.008, "person_invalid_number": 0.004,
                "person_abandoned": 0.012, "no_agent": 0.014, "no_trunk": 0.002}
    for outcome, share in outcomes.items():
        metrics[f"outcomes.{outcome}"] = _metric(share, share * 0.05)
    metrics.update({"failovers.mean": _metric(0.18, 0.01), "agent_occupancy.mean": _metric(0.71, 0.01),
                    "trunk_occupancy.max": _metric(0.83, 0.02), "concurrent_rooms.max": _metric(142, 3)})

    t = np.arange(0, 86_400 + 1, 300.0)
    hours = t / 3600
    day = np.clip(np.sin((hours - 7) / 12 * np.pi), 0, None) ** 1.5   # quiet nights, a daytime hump
    busy = 40 * day + rng.normal(0, 0.8, t.size).clip(-1, 1) + 1
    by_centre = {"madrid": (busy * 0.5).tolist(), "barcelona": (busy * 0.3).tolist(),
                 "sevilla": (busy * 0.2).tolist()}
    return {
        "scenario": NAME, "description": "Three centres; <i>nine-to-five</i> staffing.",
        "seed": 7, "replications": 10, "callbacks": 123_456, "duration": 86_400.0, "warmup": 1_800.0,
        "metrics": metrics, "outcomes": outcomes, "histograms": histograms,
        "timeseries": {"t": t.tolist(), "busy_agents": busy.tolist(),
                       "busy_agents_ci": np.stack([busy * 0.93, busy * 1.07], axis=1).tolist(),
                       "open_rooms": (busy * 0.9).tolist(), "live_calls": (busy * 1.6).tolist(),
                       "trunks_in_use": (busy * 1.2).tolist(),
                       "arrivals_per_hour": (400 * day + 10).tolist(), "by_centre": by_centre},
        "expectations": [
            {"expect": "callback_latency.p95 below 25", "passed": True,
             "value": metrics["callback_latency.p95"]["mean"]},
            {"expect": "outcomes.no_agent below 0.01", "passed": False, "value": 0.014},
        ],
    }


def synthetic_sweep() -> dict[str, Any]:
    terminals = list(range(2, 13, 2))
    points = []
    for n in terminals:
        no_agent = 0.4 * np.exp(-0.45 * n)
        latency = 17 + 30 * np.exp(-0.5 * n)
        points.append({"config": {"centres.madrid.terminals": n},
                       "metrics": {"outcomes.no_agent": _metric(no_agent, no_agent * 0.12),
                                   "callback_latency.p95": _metric(latency, 1.0)}})
    return {"vary": {"centres.madrid.terminals": [2, 12]},
            "metric_names": ["outcomes.no_agent", "callback_latency.p95"], "points": points,
            "target": "outcomes.no_agent<0.02", "monotone": True,
            "answer": {"config": {"centres.madrid.terminals": 8}, "met": True}}


def _write(tmp_path: Path, study: dict[str, Any], name: str = "report.html") -> str:
    path = tmp_path / name
    write_report(path, study)
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The report of the synthetic study without a sweep, written once for several tests."""
    return _write(tmp_path_factory.mktemp("full"), synthetic_study())


def test_the_report_is_one_self_contained_file(tmp_path: Path) -> None:
    text = _write(tmp_path, synthetic_study())
    assert list(tmp_path.iterdir()) == [tmp_path / "report.html"]
    assert text.startswith("<!DOCTYPE html>")
    assert text.count(PNG) == 4           # latency, outcomes, levels over the day, arrivals
    for payload in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", text):
        assert base64.b64decode(payload).startswith(b"\x89PNG")
    assert not re.search(r"""(src|href)=["'](?!data:)""", text)   # nothing fetched from elsewhere
    assert "<script" not in text and "@import" not in text and "url(" not in text


def test_text_from_the_study_is_escaped(full: str) -> None:
    text = full
    assert "weekday &lt;b&gt;&amp; three centres" in text
    assert "<b>" not in text and "<i>" not in text
    assert "&lt;i&gt;nine-to-five&lt;/i&gt;" in text


def test_the_header_and_the_key_figures(full: str) -> None:
    study, text = synthetic_study(), full
    assert "123,456" in text and ">10<" in text and "24 h" in text and "30 min" in text
    for label, name in KEY_FIGURES:
        assert label in text and name in text
    p95 = study["metrics"]["callback_latency.p95"]
    assert f"{p95['mean']:,.1f} s" in text
    assert f"{p95['ci95'][0]:,.1f} s – {p95['ci95'][1]:,.1f} s" in text
    assert "90.5 %" in text                # outcomes.connected
    assert "142" in text                   # concurrent_rooms.max


def test_the_expectations_with_pass_and_fail(full: str) -> None:
    text = full
    assert "callback_latency.p95 below 25 s" in text and "outcomes.no_agent below 1 %" in text
    assert text.count('class="badge pass"') == 1 and text.count('class="badge fail"') == 1
    assert "1 of 2 expectations failed" in text


def test_every_plot_has_its_title(full: str) -> None:
    text = full
    for key in ("latency", "outcomes", "levels", "arrivals"):
        assert f"<h2>{TITLES[key]}</h2>" in text
    assert TITLES["sweep"] not in text


def test_without_the_optional_parts(tmp_path: Path) -> None:
    study = synthetic_study()
    del study["timeseries"], study["description"]
    text = _write(tmp_path, study)
    assert text.count(PNG) == 2
    assert TITLES["levels"] not in text and TITLES["arrivals"] not in text
    bare = {"scenario": NAME, "seed": 1, "replications": 1, "callbacks": 3,
            "metrics": {"callback_latency.p95": {"mean": 12.0, "ci95": None}}}
    text = _write(tmp_path, bare, "bare.html")
    assert PNG not in text and "12.0 s" in text and "Key figures" in text


def test_missing_values_and_empty_stages_are_tolerated(tmp_path: Path) -> None:
    study = synthetic_study()
    study["metrics"]["callback_latency.p50"] = {"mean": None, "ci95": None}
    study["histograms"]["time_to_room"] = {"edges": [0.0, 1.0], "counts": [0]}
    study["timeseries"].pop("busy_agents_ci")
    study["timeseries"]["by_centre"] = {}
    text = _write(tmp_path, study)
    assert text.count(PNG) == 4 and "—" in text


def test_a_sweep_section_appears_when_given(tmp_path: Path) -> None:
    study = synthetic_study()
    study["sweep"] = synthetic_sweep()
    text = _write(tmp_path, study)
    assert text.count(PNG) == 5
    assert f"{TITLES['sweep']}: centres.madrid.terminals" in text
    assert "centres.madrid.terminals = 8" in text and "outcomes.no_agent&lt;0.02" in text
    unmet = copy.deepcopy(study)
    unmet["sweep"]["answer"] = None
    unmet["sweep"]["monotone"] = False
    text = _write(tmp_path, unmet, "unmet.html")
    assert "No configuration in the range met the target" in text and "not monotone" in text


def test_no_figure_is_left_open(tmp_path: Path) -> None:
    import matplotlib.pyplot as plt
    before = plt.get_fignums()
    study = synthetic_study()
    study["sweep"] = synthetic_sweep()
    _write(tmp_path, study)
    assert plt.get_fignums() == before


CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium not installed")
def test_chromium_renders_the_report(tmp_path: Path) -> None:
    study = synthetic_study()
    study["sweep"] = synthetic_sweep()
    page = tmp_path / "report.html"
    write_report(page, study)
    shot = tmp_path / "report.png"
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1280,5200", page.as_uri()],
                   check=True, capture_output=True, timeout=120)
    assert shot.read_bytes().startswith(b"\x89PNG")


# --- the reviewer's findings ------------------------------------------------------------


def _sweep_document(metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """A sweep's JSON document, shaped as `callback-emu sweep` builds it."""
    sweep = synthetic_sweep()
    sweep.update({"evaluated": 6, "grid": 6})
    return {"scenario": NAME, "description": "Sizing madrid.", "seed": 20240611, "replications": 5,
            "callbacks": 0, "metrics": metrics or {}, "expectations": [], "sweep": sweep}


def _titles(fig: Any) -> list[str]:
    return [ax.get_title() or ax.get_title(loc="left") for ax in fig.axes if ax.get_visible()]


def _texts(fig: Any) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


@pytest.mark.parametrize("name", metric_names())
def test_the_kind_of_every_metric_comes_from_one_rule(name: str) -> None:
    base = name.split(".", 1)[0]
    if name.endswith(".count") or base in ("concurrent_rooms", "failovers", "attempts"):
        wanted = {"number"}
    elif base == "outcomes" or name in ("rooms_refused", "queued", "service_level") \
            or base.endswith("_occupancy"):
        wanted = {"fraction"}
    elif base in ("video_stall_ratio", "video_bitrate", "person_upload"):   # quality: not timed
        wanted = {"fraction", "kbit/s"}
    elif base == "room_egress":                     # reserved on the room servers
        wanted = {"Mbit/s"}
    else:
        wanted = {"seconds"}
    assert figures.kind(name) in wanted


def test_fractions_are_shown_as_percent(tmp_path: Path) -> None:
    study = synthetic_study()
    study["expectations"] = [
        {"expect": "queued below 0.05", "passed": True, "value": 0.02},
        {"expect": "rooms_refused below 0.01", "passed": True, "value": 0.004},
        {"expect": "outcomes.person_busy below 0.1", "passed": True, "value": 0.031},
    ]
    text = _write(tmp_path, study)
    assert "0.02 s" not in text and "2.00 %" in text and "0.40 %" in text and "3.10 %" in text


def test_confidence_intervals_are_clipped_at_0_and_100_percent(tmp_path: Path) -> None:
    study = synthetic_study()
    study["metrics"]["outcomes.no_agent"] = {"mean": 0.0001, "ci95": [-0.0001, 0.0003]}
    study["metrics"]["outcomes.connected"] = {"mean": 0.995, "ci95": [0.98, 1.01]}
    study["metrics"]["callback_latency.p50"] = {"mean": 1.0, "ci95": [-1.0, 3.0]}
    study["metrics"]["failovers.mean"] = {"mean": 0.01, "ci95": [-0.02, 0.04]}
    study["sweep"] = synthetic_sweep()
    study["sweep"]["points"][-1]["metrics"]["outcomes.no_agent"] = {"mean": 0.0, "ci95": [-0.001, 0.001]}
    text = _write(tmp_path, study)
    assert "0.00 % – 0.03 %" in text
    assert "98.0 % – 100.0 %" in text and "101" not in text
    assert "0.00 s – 3.00 s" in text and "0.00 – 0.04" in text
    assert "[0.00 % – 0.10 %]" in text
    cells = re.findall(r'<td class="num[^"]*">(.*?)</td>', text)
    assert cells and not [c for c in cells if re.search(r"-\d", c)]


def test_queue_wait_has_a_title_and_an_empty_optional_stage_is_left_out() -> None:
    study = synthetic_study()
    histograms = study["histograms"]
    histograms["queue_wait"] = {"edges": [0.0, 10.0, 20.0], "counts": [30.0, 10.0]}
    fig = report._draw_latency(histograms, study["metrics"])
    assert fig is not None and "Time on hold for a desk phone" in _titles(fig)
    assert "queue_wait" not in _titles(fig)
    for stage in ("queue_wait", "time_to_room", "agent_join_delay"):   # no queue, no rooms
        histograms[stage] = {"edges": [], "counts": []}
    fig = report._draw_latency(histograms, study["metrics"])
    assert fig is not None
    titles = _titles(fig)
    assert "Time on hold for a desk phone" not in titles and "Time to room" not in titles
    assert "Agent join delay" not in titles and len(titles) == 4 and "no data" not in _texts(fig)
    histograms["time_to_agent"] = {"edges": [], "counts": []}     # not optional: shown empty
    fig = report._draw_latency(histograms, study["metrics"])
    assert fig is not None and "Time to agent" in _titles(fig) and "no data" in _texts(fig)
    only_optional: dict[str, Any] = {"queue_wait": {"edges": [], "counts": []}}
    assert report._draw_latency(only_optional, {}) is None


def test_the_seed_is_printed_plain(tmp_path: Path) -> None:
    study = synthetic_study()
    study["seed"] = 20240611
    text = _write(tmp_path, study)
    assert "<dd>20240611</dd>" in text and "20,240,611" not in text


def test_expectation_bounds_keep_their_units(tmp_path: Path) -> None:
    study = synthetic_study()
    study["expectations"] = [
        {"expect": "callback_latency.p95 below 30", "passed": True, "value": 21.5},
        {"expect": "outcomes.no_agent below 0.02", "passed": True, "value": 0.014},
        {"expect": "time_to_agent.p50 between 2 and 10", "passed": True, "value": 7.25},
        {"expect": "concurrent_rooms.max below 200", "passed": True, "value": 142},
        {"expect": "agent_occupancy.mean above 0.6", "passed": True, "value": 0.71},
    ]
    text = _write(tmp_path, study)
    assert "callback_latency.p95 below 30 s</td><td class=\"num\">21.5 s<" in text
    assert "outcomes.no_agent below 2 %</td><td class=\"num\">1.40 %<" in text
    assert "time_to_agent.p50 between 2 s and 10 s</td><td class=\"num\">7.25 s<" in text
    assert "concurrent_rooms.max below 200</td><td class=\"num\">142<" in text
    assert "agent_occupancy.mean above 60 %</td><td class=\"num\">71.0 %<" in text
    assert "below 30<" not in text


def test_the_arrivals_caption_gives_the_duration(tmp_path: Path) -> None:
    study = synthetic_study()
    study["duration"] = 105 * 3600.0
    text = _write(tmp_path, study)
    assert "Callback requests per hour over 105 h." in text and "simulated day" not in text
    del study["duration"]
    text = _write(tmp_path, study, "no-duration.html")
    assert "Callback requests per hour over the run." in text


def test_trunks_in_use_are_plotted_over_time() -> None:
    study = synthetic_study()
    fig = report._draw_levels(study["timeseries"], study["warmup"])
    assert fig is not None and "Trunks in use" in _titles(fig)
    series = {"t": study["timeseries"]["t"], "trunks_in_use": study["timeseries"]["trunks_in_use"]}
    assert report._levels_present(series)
    fig = report._draw_levels(series, None)
    assert fig is not None and _titles(fig) == ["Trunks in use"]


def test_a_sweep_report(tmp_path: Path) -> None:
    document = _sweep_document()
    text = _write(tmp_path, document)
    assert "<title>Sweep report:" in text and ">Sweep report<" in text and "Load report" not in text
    assert "Key figures" not in text and "Callbacks" not in text and "Simulated" not in text
    assert "Generated by callback-emu sweep." in text and "callback-emu load" not in text
    assert "<dd>20240611</dd>" in text and "<dd>6 of 6</dd>" in text
    assert text.count(PNG) == 1 and f"{TITLES['sweep']}: centres.madrid.terminals" in text
    chosen = synthetic_study()["metrics"]
    text = _write(tmp_path, _sweep_document(chosen), "chosen.html")
    assert "Key figures of the chosen configuration" in text and "90.5 %" in text
    assert "Callbacks" not in text


def test_the_sweep_plots_show_the_listed_metrics() -> None:
    sweep = synthetic_sweep()
    sweep["metric_names"] = ["callback_latency.p95"]
    fig = report._draw_sweep(sweep["points"], sweep["metric_names"], ["centres.madrid.terminals"],
                             report._parse_targets(sweep["target"]), sweep["answer"])
    assert fig is not None and _titles(fig) == ["callback_latency.p95"]


def test_a_load_report_still_names_load(full: str) -> None:
    assert "Load report" in full and "Sweep report" not in full
    assert "Generated by callback-emu load." in full and "over 24 h" in full
    assert render_report(synthetic_study()) == full
