"""The HTML report of a load run or a sweep: `callback-emu load FILE --report out.html`
and `callback-emu sweep FILE ... --report out.html`.

One self-contained file (inline CSS, plots as base64 PNG, no external
resources) for a capacity planner to hand to a manager: the header, the key
figures with their 95% confidence intervals, the expectations, and the plots
(latency per stage, outcomes, levels over time, arrivals, a sweep's
curves). `study` is the JSON document of the run (see `write_report`); every
part but the header is optional and a missing part is left out. A study with
a "sweep" key is a sweep's document: "callbacks" is 0 there and "metrics" are
those of the chosen configuration (or empty).

Plots are drawn on `matplotlib.figure.Figure` objects with the Agg canvas,
never through pyplot, so nothing is registered globally and nothing leaks.
"""

from __future__ import annotations

import base64
import html
import io
import math
import re
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from ..measure.catalogue import COUNTED, QUALITY, STAGES, Metric
from ..units import parse_duration
from . import figures

# (label, metric) of the key-figures table, in the order a manager reads them
KEY_FIGURES = (
    ("Callback latency, median", "callback_latency.p50"),
    ("Callback latency, 95th percentile", "callback_latency.p95"),
    ("Time to agent, 95th percentile", "time_to_agent.p95"),
    ("Connected", "outcomes.connected"),
    ("No agent answered", "outcomes.no_agent"),
    ("Person hung up waiting", "outcomes.person_abandoned"),
    ("Failovers per callback", "failovers.mean"),
    ("Agent occupancy, mean", "agent_occupancy.mean"),
    ("Trunk occupancy, peak", "trunk_occupancy.max"),
    ("Concurrent rooms, peak", "concurrent_rooms.max"),
    ("Room servers' egress, peak", "room_egress.max"),
)
# Shown only when the run measured them (a scenario with a policy, staffing or `sla`)
WHEN_MEASURED = (
    ("Service level", "service_level"),
    ("Estimated wait error, median (actual minus estimated)", "ewt_error.p50"),
    ("Estimated wait error, 95th percentile", "ewt_error.p95"),
)

TITLES = {
    "latency": "Latency distribution per stage",
    "outcomes": "Outcomes of all callbacks",
    "levels": "Busy agents, open rooms, live calls, trunks in use and room egress over time",
    "arrivals": "Arrivals per hour",
    "sweep": "Sweep",
    "compare": "Variants compared",
    "quality": "Quality in the room",
}


_BLUE, _ORANGE, _GREEN, _RED, _GREY = "#3b6ea8", "#e07b24", "#3a8a4f", "#c0392b", "#8a8f98"
_STYLE: Any = {
    "font.size": 10, "axes.titlesize": 11, "axes.titleweight": "bold",
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.color": "#e3e5e8", "grid.linewidth": 0.8, "axes.axisbelow": True,
    "axes.edgecolor": "#9aa0a6", "legend.frameon": False, "legend.fontsize": 9,
}
_DPI = 110


def write_report(path: Path, study: Mapping[str, Any]) -> None:
    """Write the report of `study` (a load run's JSON document) to `path`."""
    Path(path).write_text(render_report(study), encoding="utf-8")


def render_report(study: Mapping[str, Any]) -> str:
    """The report of `study` as one HTML document."""
    metrics = study.get("metrics") or {}
    series = study.get("timeseries") or {}
    sweep = _is_sweep(study)
    parts = [_header(study), _key_figures(metrics, sweep), _expectations(study.get("expectations") or [])]
    if study.get("histograms"):
        parts.append(_figure_section("latency", _render(_draw_latency, study["histograms"], metrics),
                                     "Share of callbacks per bin; dashed lines mark the median "
                                     "(p50) and the 95th percentile (p95), means over replications."))
    if study.get("outcomes"):
        parts.append(_figure_section("outcomes", _render(_draw_outcomes, study["outcomes"]),
                                     "Fraction of callbacks that ended so, mean over replications."))
    if _levels_present(series):
        parts.append(_figure_section("levels", _render(_draw_levels, series, study.get("warmup")),
                                     "Simulated time in hours; the shaded band is the 95% confidence "
                                     "interval across replications where available, grey the warm-up."))
    if series.get("arrivals_per_hour"):
        duration = study.get("duration")
        over = (f"over {_duration(duration)}" if isinstance(duration, (int, float))
                and not isinstance(duration, bool) and duration > 0 else "over the run")
        parts.append(_figure_section("arrivals", _render(_draw_arrivals, series, study.get("warmup")),
                                     f"Callback requests per hour {over}."))
    if study.get("quality"):
        parts.append(_quality_section(study["quality"], metrics))
    if study.get("sweep"):
        parts.append(_sweep_section(study["sweep"]))
    if study.get("compare"):
        parts.append(_compare_section(study["compare"]))
    if study.get("intervals") or study.get("staff"):
        from . import report_day                # the day by interval, a staffing plan
        if study.get("intervals"):
            parts.append(report_day.intervals_section(
                study["intervals"], study.get("warmup"), study["intervals"].get("target")))
        if study.get("staff"):
            parts += report_day.staff_sections(study)
    kind, command = ("Sweep report", "sweep") if sweep else ("Load report", "load")
    if study.get("staff"):
        kind, command = "Staffing plan", "staff"
    if study.get("compare"):
        kind, command = "Comparison", "compare"
    title = _e(study.get("scenario") or f"{command} run")
    return (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{kind}: {title}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(p for p in parts if p)
            + f"\n<footer>Generated by callback-emu {command}.</footer>\n</main>\n</body>\n</html>\n")


def _is_sweep(study: Mapping[str, Any]) -> bool:
    """A sweep's document (`callback-emu sweep`), not a load run's."""
    return study.get("sweep") is not None


# --- HTML sections --------------------------------------------------------------


def _header(study: Mapping[str, Any]) -> str:
    sweep = _is_sweep(study)
    facts = [("Replications", _count(study.get("replications")))]
    if not sweep and not study.get("staff"):   # a sweep or a plan runs many configurations
        facts.append(("Callbacks", _count(study.get("callbacks"))))
    if not sweep or study.get("duration") is not None:
        facts.append(("Simulated", _duration(study.get("duration"))))
    if not sweep or study.get("warmup") is not None:
        facts.append(("Warm-up", _duration(study.get("warmup"))))
    sweep_doc = study.get("sweep") or {}
    if sweep and isinstance(sweep_doc.get("evaluated"), int) and isinstance(sweep_doc.get("grid"), int):
        facts.append(("Configurations", f"{sweep_doc['evaluated']} of {sweep_doc['grid']}"))
    seed = study.get("seed")
    facts.append(("Seed", "—" if seed is None else str(seed)))   # an identifier: no separators
    facts_html = "".join(f"<div><dt>{k}</dt><dd>{_e(v)}</dd></div>" for k, v in facts)
    expectations = study.get("expectations") or []
    failed = sum(1 for x in expectations if not x.get("passed"))
    verdict = ""
    if expectations:
        verdict = (f'<p class="verdict fail">{failed} of {len(expectations)} expectations failed</p>'
                   if failed else
                   f'<p class="verdict pass">All {len(expectations)} expectations held</p>')
    description = study.get("description")
    kicker, run = ("Sweep report", "sweep") if sweep else ("Load report", "load run")
    if study.get("staff"):
        kicker, run = "Staffing plan", "staffing plan"
    return (f"<header><p class=\"kicker\">{kicker}</p><h1>{_e(study.get('scenario') or run)}</h1>"
            + (f"<p class=\"description\">{_e(description)}</p>" if description else "")
            + f"<dl class=\"facts\">{facts_html}</dl>{verdict}</header>")


def _key_figures(metrics: Mapping[str, Any], sweep: bool = False) -> str:
    if not metrics:                # a sweep without a chosen configuration: nothing to show
        return ""
    rows = []
    measured = tuple(f for f in WHEN_MEASURED if (metrics.get(f[1]) or {}).get("mean") is not None)
    for label, name in KEY_FIGURES + measured:
        entry = metrics.get(name) or {}
        ci_text = figures.ci_text(entry.get("ci95"), name) or "—"
        rows.append(f"<tr><th scope=\"row\">{label}<span class=\"metric\">{_e(name)}</span></th>"
                    f"<td class=\"num\">{figures.value(entry.get('mean'), name)}</td>"
                    f"<td class=\"num ci\">{ci_text}</td></tr>")
    title = "Key figures of the chosen configuration" if sweep else "Key figures"
    return (f"<section><h2>{title}</h2><table class=\"figures\"><thead><tr><th>Metric</th>"
            "<th class=\"num\">Mean</th><th class=\"num\">95% confidence interval</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>")


def _expectations(expectations: Sequence[Mapping[str, Any]]) -> str:
    if not expectations:
        return ""
    rows = []
    for item in expectations:
        passed = bool(item.get("passed"))
        text = str(item.get("expect", ""))
        name, shown_text = _expectation_text(text)
        value = item.get("value")
        shown = (figures.value(value, name) if name and isinstance(value, (int, float))
                 and not isinstance(value, bool) else _e(value if value is not None else "—"))
        rows.append(f"<tr><td><span class=\"badge {'pass' if passed else 'fail'}\">"
                    f"{'PASS' if passed else 'FAIL'}</span></td><td>{_e(shown_text)}</td>"
                    f"<td class=\"num\">{shown}</td></tr>")
    return ("<section><h2>Expectations</h2><table class=\"expectations\"><thead><tr><th>Result</th>"
            "<th>Expectation</th><th class=\"num\">Measured</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table></section>")


_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_METRIC_EXPECTATION = re.compile(
    rf"([A-Za-z_][\w.]*) (?:(below|above) ({_NUMBER})|between ({_NUMBER}) and ({_NUMBER}))")


def _expectation_text(text: str) -> tuple[str | None, str]:
    """`"callback_latency.p95 below 30"` -> the metric and `"callback_latency.p95 below 30 s"`.

    The study gives an expectation's bounds as bare numbers in the metric's base
    unit; they are shown with the unit (seconds, % for a fraction). Other text
    (a call's expectation) comes back as it is, without a metric.
    """
    match = _METRIC_EXPECTATION.fullmatch(text.strip())
    if not match:
        return None, text
    name = match[1]
    if match[2]:
        return name, f"{name} {match[2]} {_bound(float(match[3]), name)}"
    return name, f"{name} between {_bound(float(match[4]), name)} and {_bound(float(match[5]), name)}"


def _bound(value: float, name: str) -> str:
    """A bound of an expectation as written, with the metric's unit."""
    kind = figures.kind(name)
    if kind == "fraction":
        return f"{value * 100:g} %"
    if kind == "seconds":
        return f"{value:g} s"
    if kind in ("kbit/s", "Mbit/s"):
        return f"{value:g} {kind}"
    return f"{value:g}"


def _figure_section(key: str, png: str | None, caption: str) -> str:
    title = TITLES[key]
    if png is None:
        return ""
    return (f"<section><h2>{_e(title)}</h2><figure><img alt=\"{_e(title)}\" "
            f"src=\"data:image/png;base64,{png}\"><figcaption>{_e(caption)}</figcaption>"
            "</figure></section>")


def _quality_section(quality: Mapping[str, Any], metrics: Mapping[str, Any]) -> str:
    """What the person saw and sent over their line: a table and one histogram per metric."""
    rows = []
    for name, metric in QUALITY.items():
        title = metric.title
        if name not in quality:
            continue
        cells = ""
        for suffix in ("mean", "p95"):
            entry = metrics.get(f"{name}.{suffix}") or {}
            ci_text = figures.ci_text(entry.get("ci95"), f"{name}.{suffix}")
            extra = f" <span class=\"ci\">[{ci_text}]</span>" if ci_text else ""
            cells += f"<td class=\"num\">{figures.value(entry.get('mean'), f'{name}.{suffix}')}{extra}</td>"
        rows.append(f"<tr><th scope=\"row\">{_e(title)}<span class=\"metric\">{_e(name)}</span></th>"
                    f"{cells}</tr>")
    png = _render(_draw_quality, quality)
    figure = (f"<figure><img alt=\"{TITLES['quality']}\" src=\"data:image/png;base64,{png}\">"
              "<figcaption>Share of rooms per bin (of chat messages and documents for their "
              "panels), pooled over replications.</figcaption></figure>") if png else ""
    return (f"<section><h2>{TITLES['quality']}</h2><table class=\"figures\"><thead><tr>"
            "<th>Metric</th><th class=\"num\">Mean [95% CI]</th><th class=\"num\">95th percentile"
            f"</th></tr></thead><tbody>{''.join(rows)}</tbody></table>{figure}</section>")


def _draw_quality(quality: Mapping[str, Any]) -> Figure | None:
    names = [n for n in QUALITY if _has_data(quality.get(n))]
    if not names:
        return None
    cols = min(3, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(4.0 * cols, 2.9 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, name in zip(axes, names):
        title, unit = QUALITY[name].title, _axis(QUALITY[name])
        edges, counts = _histogram(quality[name])
        ax.stairs(counts / counts.sum(), edges, fill=True, color=_GREEN, alpha=0.75)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        if name == "video_stall_ratio":
            ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_title(title)
        ax.set_xlabel(unit)
    for ax in axes[len(names):]:
        ax.set_visible(False)
    axes[0].set_ylabel("share")
    return fig


def _sweep_section(sweep: Mapping[str, Any]) -> str:
    vary = sweep.get("vary") or {}
    points = sweep.get("points") or []
    names = list(sweep.get("metric_names") or
                 dict.fromkeys(n for p in points for n in (p.get("metrics") or {})))
    keys = list(vary) or list(dict.fromkeys(k for p in points for k in (p.get("config") or {})))
    targets = _parse_targets(sweep.get("target"))
    answer = sweep.get("answer")
    ranges = ", ".join(f"{k} from {v[0]} to {v[-1]}" if isinstance(v, (list, tuple)) and v else f"{k}"
                       for k, v in vary.items())
    lines = [f"<p>Varied {_e(ranges or ', '.join(keys))}; target {_e(sweep.get('target') or 'none')}.</p>"]
    if answer and answer.get("config"):
        chosen = ", ".join(f"{k} = {v}" for k, v in answer["config"].items())
        met = answer.get("met", True)
        lines.append(f"<p class=\"answer {'pass' if met else 'fail'}\">"
                     f"{'Chosen configuration' if met else 'Best configuration (target not met)'}: "
                     f"<strong>{_e(chosen)}</strong></p>")
    elif sweep.get("target"):
        lines.append("<p class=\"answer fail\">No configuration in the range met the target.</p>")
    if sweep.get("monotone") is False:
        lines.append("<p class=\"note\">The metric is not monotone in the varied parameter: "
                     "the search may not have found the smallest configuration.</p>")
    png = _render(_draw_sweep, points, names, keys, targets, answer) if points and names else None
    figure = (f"<figure><img alt=\"{TITLES['sweep']}\" src=\"data:image/png;base64,{png}\">"
              "<figcaption>Mean over replications with its 95% confidence band; dashed red: the "
              "target; green: the chosen configuration.</figcaption></figure>") if png else ""
    return (f"<section><h2>{TITLES['sweep']}: {_e(', '.join(keys))}</h2>{''.join(lines)}{figure}"
            f"{_sweep_table(points, names, keys)}</section>")


def _compare_section(compare: Mapping[str, Any]) -> str:
    """Variants of one scenario side by side (`callback-emu compare`): a panel and a table."""
    points = [{"config": {"variant": v.get("name")}, "metrics": v.get("metrics") or {}}
              for v in compare.get("variants") or []]
    names = list(compare.get("metric_names") or [])
    png = _render(_draw_sweep, points, names, ["variant"], {}, None) if points and names else None
    figure = (f"<figure><img alt=\"{TITLES['compare']}\" src=\"data:image/png;base64,{png}\">"
              "<figcaption>Mean over replications with its 95% confidence band; every variant "
              "ran on the same replication seeds, and extra lines are the paired difference "
              "from the first variant.</figcaption></figure>") if png else ""
    changes = "".join(
        f"<li><strong>{_e(v.get('name'))}</strong>: "
        f"{_e(', '.join(f'{k} = {x}' for k, x in (v.get('setting') or {}).items()) or 'the file as it is')}</li>"
        for v in compare.get("variants") or [])
    return (f"<section><h2>{TITLES['compare']}</h2><ul>{changes}</ul>{figure}"
            f"{_sweep_table(points, names, ['variant'])}</section>")


def _sweep_table(points: Sequence[Mapping[str, Any]], names: Sequence[str], keys: Sequence[str]) -> str:
    if not points:
        return ""
    head = "".join(f"<th>{_e(k)}</th>" for k in keys) + "".join(f"<th class=\"num\">{_e(n)}</th>" for n in names)
    rows = []
    for point in points:
        config, values = point.get("config") or {}, point.get("metrics") or {}
        cells = "".join(f"<td>{_e(config.get(k, '—'))}</td>" for k in keys)
        for name in names:
            entry = values.get(name) or {}
            ci_text = figures.ci_text(entry.get("ci95"), name)
            extra = f" <span class=\"ci\">[{ci_text}]</span>" if ci_text else ""
            cells += f"<td class=\"num\">{figures.value(entry.get('mean'), name)}{extra}</td>"
        rows.append(f"<tr>{cells}</tr>")
    return f"<table class=\"sweep\"><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# --- plots ------------------------------------------------------------------------


def _render(draw: Callable[..., Figure | None], *args: Any) -> str | None:
    """Draw a figure in the report's style; its PNG as base64, or None if nothing to draw."""
    with matplotlib.rc_context(_STYLE):
        fig = draw(*args)
        if fig is None:
            return None
        FigureCanvasAgg(fig)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight", metadata={"Software": None})
        fig.clear()
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _draw_latency(histograms: Mapping[str, Any], metrics: Mapping[str, Any]) -> Figure | None:
    stages = [s for s in STAGES if s in histograms] + [s for s in histograms if s not in STAGES]
    stages = [s for s in stages if s not in STAGES or not STAGES[s].optional
              or _has_data(histograms[s])]
    if not stages:
        return None
    cols = 3 if len(stages) > 4 else min(2, len(stages))
    rows = math.ceil(len(stages) / cols)
    fig = Figure(figsize=(4.0 * cols, 2.9 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, stage in zip(axes, stages):
        title, span = (STAGES[stage].title, STAGES[stage].span) if stage in STAGES else \
            (COUNTED[stage].title, "") if stage in COUNTED else (stage, "")
        ax.set_title(_t(title))
        ax.set_xlabel(_t(f"seconds, {span}" if span else "seconds"))
        if not _has_data(histograms[stage]):
            ax.text(0.5, 0.5, "no data", ha="center", va="center", transform=ax.transAxes, color=_GREY)
            ax.set_xticks([]), ax.set_yticks([])
            continue
        edges, counts = _histogram(histograms[stage])
        share = counts / counts.sum()
        ax.stairs(share, edges, fill=True, color=_BLUE, alpha=0.75)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        for q, colour, style in (("p50", "#2d3033", "--"), ("p95", _ORANGE, "--")):
            value = _mean(metrics, f"{stage}.{q}")
            if value is None:
                value = _histogram_quantile(edges, counts, 0.5 if q == "p50" else 0.95)
            ax.axvline(value, color=colour, linestyle=style, linewidth=1.5, label=f"{q} {value:.3g} s")
        right = _histogram_quantile(edges, counts, 0.995)
        p95 = _mean(metrics, f"{stage}.p95") or 0.0
        ax.set_xlim(edges[0], min(edges[-1], max(right, p95) * 1.15 + 1e-9) if right > edges[0] else edges[-1])
        ax.legend(loc="upper right")
    for ax in axes[len(stages):]:
        ax.set_visible(False)
    axes[0].set_ylabel("share of callbacks")
    return fig


def _histogram(histogram: Mapping[str, Any] | None) -> tuple[np.ndarray, np.ndarray]:
    histogram = histogram or {}
    return (np.asarray(histogram.get("edges") or [], dtype=float),
            np.asarray(histogram.get("counts") or [], dtype=float))


def _has_data(histogram: Mapping[str, Any] | None) -> bool:
    edges, counts = _histogram(histogram)
    return len(edges) == len(counts) + 1 and len(counts) > 0 and bool(counts.sum() > 0)


def _draw_outcomes(outcomes: Mapping[str, Any]) -> Figure | None:
    items = [(k, float(v)) for k, v in outcomes.items() if isinstance(v, (int, float))]
    if not items:
        return None
    items.sort(key=lambda kv: kv[1])
    fig = Figure(figsize=(8.5, 0.42 * len(items) + 1.0), layout="constrained")
    ax = fig.subplots()
    colours = [_GREEN if k == "connected" else _RED if k in ("no_agent", "no_trunk") else _GREY
               for k, _ in items]
    bars = ax.barh([_t(k.replace("_", " ")) for k, _ in items], [v for _, v in items], color=colours)
    ax.bar_label(bars, labels=[figures.percent(v) for _, v in items], padding=4, fontsize=9)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlim(0, max(1.0, max(v for _, v in items)) * 1.08)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("share of callbacks")
    return fig


def _levels_present(series: Mapping[str, Any]) -> bool:
    return bool(series.get("t")) and any(series.get(k) for k, _ in _LEVELS)


# (time series, panel title) of the levels-over-time figure
_LEVELS = (("busy_agents", "Busy agents"), ("open_rooms", "Open rooms"), ("live_calls", "Live calls"),
           ("trunks_in_use", "Trunks in use"), ("room_egress", "Room servers' egress, Mbit/s"))


def _draw_levels(series: Mapping[str, Any], warmup: Any) -> Figure | None:
    hours = np.asarray(series["t"], dtype=float) / 3600.0
    panels = [(k, label) for k, label in _LEVELS if series.get(k) and len(series[k]) == len(hours)]
    if not panels:
        return None
    fig = Figure(figsize=(11, 2.5 * len(panels) + 0.4), layout="constrained")
    axes = fig.subplots(len(panels), 1, sharex=True, squeeze=False).ravel()
    for ax, (key, label) in zip(axes, panels):
        ax.set_title(label, loc="left")
        _shade_warmup(ax, warmup)
        values = np.asarray(series[key], dtype=float)
        band = series.get(f"{key}_ci")
        if band and len(band) == len(hours):
            lo_hi = np.asarray([b if b is not None else (np.nan, np.nan) for b in band], dtype=float)
            lo_hi = np.clip(lo_hi, 0.0, None)          # a level is never negative
            ax.fill_between(hours, lo_hi[:, 0], lo_hi[:, 1], color=_BLUE, alpha=0.2, linewidth=0,
                            label="95% CI")
        centres = {c: v for c, v in (series.get("by_centre") or {}).items()
                   if key == "busy_agents" and v and len(v) == len(hours)}
        ax.plot(hours, values, color=_BLUE, linewidth=1.6, label="all centres" if centres else "mean")
        for i, (centre, counts) in enumerate(centres.items()):
            ax.plot(hours, counts, linewidth=1.0, color=f"C{(i + 1) % 10}", label=_t(centre))
        ax.set_ylim(bottom=0)
        ax.set_ylabel(label[0].lower() + label[1:])     # keeps "Mbit/s"
        if ax is axes[0] or centres or band:
            ax.legend(loc="upper left", ncols=8)
    _hour_axis(axes[-1], hours)
    return fig


def _draw_arrivals(series: Mapping[str, Any], warmup: Any) -> Figure | None:
    rates = np.asarray(series["arrivals_per_hour"], dtype=float)
    fig = Figure(figsize=(11, 2.8), layout="constrained")
    ax = fig.subplots()
    _shade_warmup(ax, warmup)
    t = series.get("t") or []
    if len(t) == len(rates):
        hours = np.asarray(t, dtype=float) / 3600.0
        ax.fill_between(hours, rates, color=_BLUE, alpha=0.25, linewidth=0, step="post")
        ax.step(hours, rates, where="post", color=_BLUE, linewidth=1.4)
    else:                          # one value per hour from the start
        hours = np.arange(len(rates) + 1, dtype=float)
        ax.bar(hours[:-1], rates, width=0.9, align="edge", color=_BLUE, alpha=0.8)
    ax.set_ylim(bottom=0)
    ax.set_ylabel("callbacks per hour")
    _hour_axis(ax, hours)
    return fig


def _draw_sweep(points: Sequence[Mapping[str, Any]], names: Sequence[str], keys: Sequence[str],
                targets: Mapping[str, tuple[str, float]], answer: Mapping[str, Any] | None) -> Figure | None:
    numeric = len(keys) == 1 and all(isinstance((p.get("config") or {}).get(keys[0]), (int, float))
                                     for p in points)
    if numeric:
        order = sorted(points, key=lambda p: p["config"][keys[0]])
        xs = np.asarray([p["config"][keys[0]] for p in order], dtype=float)
    else:                          # several keys varied at once: one tick per configuration
        order = list(points)
        xs = np.arange(len(order), dtype=float)
    cols = min(2, len(names))
    rows = math.ceil(len(names) / cols)
    fig = Figure(figsize=(5.6 * cols, 3.3 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    chosen = (answer or {}).get("config") or {}
    for ax, name in zip(axes, names):
        entries = [(p.get("metrics") or {}).get(name) or {} for p in order]
        means = np.asarray([_num(e.get("mean")) for e in entries], dtype=float)
        ci = np.asarray([figures.clip_ci(e.get("ci95"), name) or (np.nan, np.nan) for e in entries], dtype=float)
        ax.fill_between(xs, ci[:, 0], ci[:, 1], color=_BLUE, alpha=0.2, linewidth=0, label="95% CI")
        ax.plot(xs, means, color=_BLUE, marker="o", markersize=4, linewidth=1.6, label="mean")
        if name in targets:
            op, value = targets[name]
            shown = f"{value * 100:g}%" if figures.kind(name) == "fraction" else f"{value:g}"
            ax.axhline(value, color=_RED, linestyle="--", linewidth=1.3, label=f"target {op} {shown}")
        if chosen:
            at = [x for x, p in zip(xs, order) if all((p.get("config") or {}).get(k) == v
                                                      for k, v in chosen.items())]
            if at:
                ax.axvline(at[0], color=_GREEN, linewidth=1.6,
                           label="chosen: " + ", ".join(f"{v}" for v in chosen.values()))
        if figures.kind(name) == "fraction":
            ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        ax.set_title(_t(name))
        ax.set_ylabel(figures.unit_label(name))
        if numeric:
            ax.set_xlabel(_t(keys[0]))
        else:
            ax.set_xticks(xs, [_t(", ".join(str((p.get("config") or {}).get(k)) for k in keys)) for p in order],
                          rotation=30, ha="right")
            ax.set_xlabel(_t(" / ".join(keys)))
        ax.legend(loc="best")
    for ax in axes[len(names):]:
        ax.set_visible(False)
    return fig


def _shade_warmup(ax: Any, warmup: Any) -> None:
    if isinstance(warmup, (int, float)) and warmup > 0:
        ax.axvspan(0, warmup / 3600.0, color="#9aa0a6", alpha=0.15, linewidth=0, label="warm-up")


def _hour_axis(ax: Any, hours: np.ndarray) -> None:
    if len(hours):
        span = float(hours[-1] - hours[0]) or 1.0
        step = next(s for s in (1, 2, 3, 4, 6, 12, 24, 48, 168, 10**9) if span / s <= 12)
        ax.set_xticks(np.arange(math.floor(hours[0]), math.ceil(hours[-1]) + step, step))
        ax.set_xlim(hours[0], hours[-1])
    ax.set_xlabel("hours since start")


# --- numbers and text -------------------------------------------------------------


def _histogram_quantile(edges: np.ndarray, counts: np.ndarray, q: float) -> float:
    cumulative = np.concatenate([[0.0], np.cumsum(counts)]) / counts.sum()
    return float(np.interp(q, cumulative, edges))


def _parse_targets(target: Any) -> dict[str, tuple[str, float]]:
    """`"outcomes.no_agent<0.02, callback_latency.p95<25s"` -> {metric: (op, value)}."""
    found: dict[str, tuple[str, float]] = {}
    for part in str(target or "").split(","):
        match = re.match(r"\s*([A-Za-z_][\w.]*)\s*(<=|>=|<|>)\s*(\S+)\s*$", part)
        if match:
            try:
                found[match[1]] = (match[2], parse_duration(match[3]))
            except ValueError:
                continue
    return found


def _axis(metric: Metric) -> str:
    """A quality metric's axis label: its unit, then what it measures."""
    unit = {"s": "seconds", "fraction": "", "kbit/s": "kbit/s"}.get(metric.unit, metric.unit)
    return f"{unit}, {metric.what}" if unit else metric.what


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "—"
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:.0f} h"
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    if seconds >= 60:
        return f"{seconds / 60:.0f} min" if seconds % 60 == 0 else f"{seconds / 60:.1f} min"
    return f"{seconds:g} s"


def _count(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else ("—" if value is None else str(value))


def _num(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan


def _mean(metrics: Mapping[str, Any], name: str) -> float | None:
    value = _num((metrics.get(name) or {}).get("mean"))
    return None if math.isnan(value) else value


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _t(text: Any) -> str:
    """Text from the study for a plot: no mathtext."""
    return str(text).replace("$", r"\$")


_CSS = """
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #1f2328;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 32px 40px; background: #fff; }
header { border-bottom: 1px solid #d8dce1; padding-bottom: 14px; margin-bottom: 8px; }
.kicker { margin: 0; text-transform: uppercase; letter-spacing: .08em; font-size: 12px; color: #5f6873; }
h1 { margin: 2px 0 6px; font-size: 28px; line-height: 1.2; }
h2 { margin: 30px 0 10px; font-size: 19px; border-bottom: 1px solid #e6e8eb; padding-bottom: 4px; }
.description { margin: 0 0 10px; color: #424a53; max-width: 70ch; }
.facts { display: flex; flex-wrap: wrap; gap: 8px 32px; margin: 10px 0 0; }
.facts dt { font-size: 12px; color: #5f6873; text-transform: uppercase; letter-spacing: .05em; }
.facts dd { margin: 0; font-size: 18px; font-weight: 600; font-variant-numeric: tabular-nums; }
.verdict { display: inline-block; margin: 14px 0 0; padding: 4px 12px; border-radius: 4px; font-weight: 600; }
.verdict.pass, .answer.pass { background: #e6f4ea; color: #1e6b34; }
.verdict.fail, .answer.fail { background: #fbe9e7; color: #a4281b; }
.answer { padding: 6px 12px; border-radius: 4px; }
.note { color: #8a5300; }
table { border-collapse: collapse; width: 100%; margin: 6px 0; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eceef1; vertical-align: top; }
thead th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: #5f6873;
  border-bottom: 2px solid #d8dce1; }
tbody th { font-weight: 500; }
.num { text-align: right; white-space: nowrap; }
table.figures td.num:nth-child(2) { font-weight: 600; font-size: 16px; }
.ci { color: #5f6873; }
.metric { display: block; font: 12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; color: #8a8f98; }
.badge { display: inline-block; min-width: 44px; text-align: center; padding: 1px 8px; border-radius: 3px;
  font-size: 12px; font-weight: 700; color: #fff; }
.badge.pass { background: #2f8a4a; } .badge.fail { background: #c0392b; }
figure { margin: 8px 0 0; }
figure img { display: block; max-width: 100%; height: auto; }
figcaption { font-size: 13px; color: #5f6873; margin-top: 4px; }
table.figures { max-width: 860px; }
table.sweep { font-size: 13px; margin-top: 14px; width: auto; }
table.sweep thead th { text-transform: none; letter-spacing: 0; font-family: ui-monospace, Menlo, Consolas, monospace; }
table.sweep td.num { padding-left: 28px; }
footer { margin-top: 36px; font-size: 12px; color: #8a8f98; }
"""
