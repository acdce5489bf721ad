"""The report's day by interval: a load run's results per interval, and a staffing plan.

Sections of `report.render_report` (drawn with its style and helpers):
service level and occupancy over the day with their 95 % bands and the
target; agents on duty drawn over busy agents, per centre; arrivals against
the configured profile; and for `callback-emu staff` the staffing chart (the
plan beside Erlang C and A and the offered load), the service level it
reaches, and the plan as a table.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from . import figures
from .report import _BLUE, _GREY, _RED, _e, _hour_axis, _render, _shade_warmup

ALL = "all"
_TARGET = re.compile(r"\s*service_level\s*(>=|>)\s*([0-9.]+)\s*$")


def target_level(text: Any) -> float | None:
    """The service level a target asks for (`service_level>=0.8` -> 0.8), if it names one."""
    for part in str(text or "").split(","):
        match = _TARGET.match(part)
        if match:
            return float(match[2])
    return None


def _figure(png: str | None, title: str, caption: str) -> str:
    if png is None:
        return ""
    return (f"<figure><img alt=\"{_e(title)}\" src=\"data:image/png;base64,{png}\">"
            f"<figcaption>{_e(caption)}</figcaption></figure>")


def _hours(rows: Sequence[Mapping[str, Any]]) -> np.ndarray:
    return np.asarray([r["from"] for r in rows] + [rows[-1]["to"]], dtype=float) / 3600.0


def _band(rows: Sequence[Mapping[str, Any]], name: str, share: bool = False) -> np.ndarray:
    """(mean, low, high) per interval; NaN where there is none."""
    out = []
    for row in rows:
        value = row.get(name) or {}
        mean = value.get("mean")
        ci = figures.clip_ci(value.get("ci95"), "service_level" if share else "busy_agents") \
            if value.get("ci95") else None
        out.append((np.nan if mean is None else mean, *(ci or (np.nan, np.nan))))
    return np.asarray(out, dtype=float)


def _steps(ax: Any, hours: np.ndarray, values: np.ndarray, **style: Any) -> None:
    ax.stairs(values, hours, baseline=None, **style)


# --- a load run's intervals ----------------------------------------------------------


def intervals_section(intervals: Mapping[str, Any], warmup: Any, target: float | None) -> str:
    """Service level and occupancy, on duty over busy, arrivals over the profile."""
    centres = intervals.get("centres") or {}
    if not centres:
        return ""
    level = _render(_draw_levels, centres, warmup, target)
    duty = _render(_draw_duty, centres, warmup)
    arrivals = _render(_draw_arrivals, centres.get(ALL) or [], intervals.get("profile"), warmup)
    minutes = float(intervals.get("interval") or 0) / 60
    parts = [_figure(level, "Service level and occupancy by interval",
                     "Each centre's callers (service level: of those who answered, the share an "
                     "agent took within sla.within) and its agents (occupancy: busy over on "
                     "duty), per interval; bands are 95% confidence intervals; dashed red: the "
                     "target."),
             _figure(duty, "Agents on duty and busy",
                     "Agents on duty (the staffing) drawn over the agents busy (ringing or "
                     "talking), mean per interval with its 95% band."),
             _figure(arrivals, "Arrivals against the configured profile",
                     "Requests per hour in each interval (mean over replications, 95% band) "
                     "and the rate the scenario configures.")]
    return (f"<section><h2>The day by interval ({minutes:g} min)</h2>{''.join(parts)}"
            f"{_interval_table(centres)}</section>")


def _draw_levels(centres: Mapping[str, Any], warmup: Any, target: float | None) -> Figure:
    fig = Figure(figsize=(11, 6.0), layout="constrained")
    axes = fig.subplots(2, 1, sharex=True)
    for ax, name, title in ((axes[0], "service_level", "Service level"),
                            (axes[1], "occupancy", "Agent occupancy")):
        _shade_warmup(ax, warmup)
        for i, (centre, rows) in enumerate(centres.items()):
            hours, band = _hours(rows), _band(rows, name, share=True)
            colour = _BLUE if centre == ALL else f"C{(i + 1) % 10}"
            mids = (hours[:-1] + hours[1:]) / 2
            ax.plot(mids, band[:, 0], color=colour, linewidth=2.0 if centre == ALL else 1.2,
                    marker="o", markersize=2.5, label=_t(centre))
            ax.fill_between(mids, band[:, 1], band[:, 2], color=colour, alpha=0.12, linewidth=0)
        if target is not None and name == "service_level":
            ax.axhline(target, color=_RED, linestyle="--", linewidth=1.3,
                       label=f"target {target:.0%}")
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylim(0, 1.05)
        ax.set_title(title, loc="left")
        ax.legend(loc="lower left", ncols=6)
    _hour_axis(axes[-1], _hours(next(iter(centres.values()))))
    return fig


def _draw_duty(centres: Mapping[str, Any], warmup: Any) -> Figure:
    names = [c for c in centres if c != ALL] or list(centres)
    fig = Figure(figsize=(11, 2.3 * len(names) + 0.4), layout="constrained")
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False).ravel()
    for ax, centre in zip(axes, names):
        rows = centres[centre]
        hours = _hours(rows)
        duty, busy = _band(rows, "on_duty"), _band(rows, "busy")
        _shade_warmup(ax, warmup)
        ax.stairs(busy[:, 0], hours, fill=True, color=_BLUE, alpha=0.35, label="busy")
        mids = (hours[:-1] + hours[1:]) / 2
        ax.fill_between(mids, busy[:, 1], busy[:, 2], color=_BLUE, alpha=0.15, linewidth=0)
        _steps(ax, hours, duty[:, 0], color="#2d3033", linewidth=1.8, label="on duty")
        ax.set_ylim(bottom=0)
        ax.set_title(_t(centre), loc="left")
        ax.set_ylabel("agents")
        ax.legend(loc="upper left", ncols=2)
    _hour_axis(axes[-1], _hours(centres[names[-1]]))
    return fig


def _draw_arrivals(rows: Sequence[Mapping[str, Any]], profile: Any, warmup: Any) -> Figure | None:
    if not rows:
        return None
    fig = Figure(figsize=(11, 2.8), layout="constrained")
    ax = fig.subplots()
    hours = _hours(rows)
    width = np.diff(hours)
    band = _band(rows, "arrivals") / width[:, None]        # per interval -> per hour
    _shade_warmup(ax, warmup)
    ax.bar(hours[:-1], band[:, 0], width=width, align="edge", color=_BLUE, alpha=0.55,
           label="arrivals, mean")
    ax.errorbar((hours[:-1] + hours[1:]) / 2, band[:, 0],
                yerr=np.abs(band[:, 1:].T - band[:, 0]), fmt="none", ecolor=_GREY, linewidth=0.8)
    if profile and len(profile) == len(rows):
        _steps(ax, hours, np.asarray(profile, dtype=float), color="#2d3033", linewidth=1.6,
               label="configured profile")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("callbacks per hour")
    ax.legend(loc="upper left", ncols=2)
    _hour_axis(ax, hours)
    return fig


def _interval_table(centres: Mapping[str, Any]) -> str:
    """Every centre's rows, folded away under a summary line each."""
    blocks = []
    for centre, rows in centres.items():
        body = "".join(
            f"<tr><td>{figures.clock(r['from'])}–{figures.clock(r['to'])}</td>"
            f"<td class=\"num\">{_mean(r, 'arrivals', 'n')}</td>"
            f"<td class=\"num\">{_mean(r, 'service_level', 'share')}</td>"
            f"<td class=\"num\">{_mean(r, 'wait_mean', 's')}</td>"
            f"<td class=\"num\">{_mean(r, 'abandoned', 'share')}</td>"
            f"<td class=\"num\">{_mean(r, 'on_duty', 'n')}</td>"
            f"<td class=\"num\">{_mean(r, 'busy', 'n')}</td>"
            f"<td class=\"num\">{_mean(r, 'occupancy', 'share')}</td></tr>" for r in rows)
        blocks.append(f"<details><summary>{_e(centre)}: every interval</summary>"
                      "<table class=\"sweep\"><thead><tr><th>interval</th><th>arrivals</th>"
                      "<th>service level</th><th>mean wait</th><th>abandoned</th><th>on duty</th>"
                      f"<th>busy</th><th>occupancy</th></tr></thead><tbody>{body}</tbody>"
                      "</table></details>")
    return "".join(blocks)


def _mean(row: Mapping[str, Any], name: str, kind: str) -> str:
    value = (row.get(name) or {}).get("mean")
    if value is None:
        return "—"
    if kind == "share":
        return figures.percent(value)
    return f"{value:.1f} s" if kind == "s" else f"{value:.1f}"


# --- a staffing plan ------------------------------------------------------------------


def staff_sections(study: Mapping[str, Any]) -> list[str]:
    """The plan's summary, its chart, its service level, and its table."""
    plan = study.get("plan") or []
    centres = list(study.get("centres") or dict.fromkeys(r["centre"] for r in plan))
    by_centre = {c: [r for r in plan if r["centre"] == c] for c in centres}
    target = target_level(study.get("target"))
    chart = _render(_draw_plan, by_centre, study.get("shrinkage") or 0.0)
    level = _render(_draw_plan_level, by_centre, target)
    return [_plan_summary(study, by_centre),
            "<section><h2>Staffing plan</h2>" + _figure(
                chart, "Agents on duty per interval",
                "The plan (agents on duty: the fewest that meet the target with 95% "
                "confidence in the simulation), beside Erlang C and, where people give up, "
                "Erlang A for the interval's offered load (grey: the load in erlangs)."
                + (" Dotted: agents to schedule after shrinkage." if study.get("shrinkage")
                   else "")) + "</section>",
            "<section><h2>Service level with the plan</h2>" + _figure(
                level, "Service level per interval with the plan",
                "The whole day simulated with the plan: mean over replications and its "
                "95% interval per interval and centre; dashed red: the target.") + "</section>",
            _plan_table(by_centre, study)]


def _plan_summary(study: Mapping[str, Any], by_centre: Mapping[str, list[Any]]) -> str:
    rows = []
    interval = float(study.get("interval") or 1800.0)
    for centre, plan in by_centre.items():
        hours = sum(r["agents"] for r in plan) * interval / 3600
        erlang = sum(r["erlang_c"] or 0 for r in plan) * interval / 3600
        counts = {s: sum(r["status"] == s for r in plan) for s in ("met", "unsure", "missed")}
        rows.append(f"<tr><th scope=\"row\">{_e(centre)}</th>"
                    f"<td class=\"num\">{max(r['agents'] for r in plan)}</td>"
                    f"<td class=\"num\">{hours:.1f}</td><td class=\"num\">{erlang:.1f}</td>"
                    f"<td class=\"num\">{max(r['scheduled'] for r in plan)}</td>"
                    f"<td class=\"num\">{counts['met']}</td><td class=\"num\">{counts['unsure']}</td>"
                    f"<td class=\"num\">{counts['missed']}</td></tr>")
    return ("<section><h2>The answer</h2><p>Target: <strong>" + _e(study.get("target"))
            + f"</strong> in every {interval / 60:g}-minute interval, with 95% confidence "
            f"over {_e(study.get('replications'))} replications; shrinkage "
            f"{figures.percent(float(study.get('shrinkage') or 0))}.</p>"
            "<table class=\"figures\"><thead><tr><th>Centre</th><th class=\"num\">Peak on duty"
            "</th><th class=\"num\">Agent-hours</th><th class=\"num\">Erlang C agent-hours</th>"
            "<th class=\"num\">Peak to schedule</th><th class=\"num\">Intervals met</th>"
            "<th class=\"num\">unsure</th><th class=\"num\">missed</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table><p class=\"note\">Unsure: the interval's "
            "95% interval holds the target (too few calls to tell; more replications "
            "would).</p></section>")


def _draw_plan(by_centre: Mapping[str, list[Any]], shrinkage: float) -> Figure | None:
    if not by_centre:
        return None
    fig = Figure(figsize=(11, 2.6 * len(by_centre) + 0.4), layout="constrained")
    axes = fig.subplots(len(by_centre), 1, sharex=True, squeeze=False).ravel()
    for ax, (centre, plan) in zip(axes, by_centre.items()):
        hours = _hours(plan)
        load = np.asarray([r["offered_load"] for r in plan], dtype=float)
        ax.stairs(load, hours, fill=True, color=_GREY, alpha=0.25, label="offered load, E")
        _steps(ax, hours, np.asarray([r["agents"] for r in plan], dtype=float), color=_BLUE,
               linewidth=2.2, label="plan: agents on duty")
        for key, style, label in (("erlang_c", "--", "Erlang C"), ("erlang_a", ":", "Erlang A")):
            values = [r[key] for r in plan]
            if any(v is not None for v in values):
                _steps(ax, hours, np.asarray([np.nan if v is None else v for v in values],
                                             dtype=float),
                       color="#e07b24", linestyle=style, linewidth=1.4, label=label)
        if shrinkage:
            _steps(ax, hours, np.asarray([r["scheduled"] for r in plan], dtype=float),
                   color=_BLUE, linestyle=":", linewidth=1.2, label="to schedule")
        top = max(max(r["scheduled"] for r in plan), max(r["agents"] for r in plan), 1)
        ax.set_ylim(0, top * 1.35)            # room for the legend above the lines
        ax.set_title(_t(centre), loc="left")
        ax.set_ylabel("agents")
        ax.legend(loc="upper left", ncols=5)
    _hour_axis(axes[-1], _hours(next(iter(by_centre.values()))))
    return fig


def _draw_plan_level(by_centre: Mapping[str, list[Any]], target: float | None) -> Figure | None:
    if not by_centre:
        return None
    rows = {c: [{"from": r["from"], "to": r["to"], "service_level": r.get("service_level")}
                for r in plan] for c, plan in by_centre.items()}
    fig = Figure(figsize=(11, 3.2), layout="constrained")
    ax = fig.subplots()
    for i, (centre, plan) in enumerate(rows.items()):
        hours, band = _hours(plan), _band(plan, "service_level", share=True)
        mids = (hours[:-1] + hours[1:]) / 2
        colour = f"C{(i + 1) % 10}"
        ax.plot(mids, band[:, 0], color=colour, marker="o", markersize=2.5, linewidth=1.2,
                label=_t(centre))
        ax.fill_between(mids, band[:, 1], band[:, 2], color=colour, alpha=0.12, linewidth=0)
    if target is not None:
        ax.axhline(target, color=_RED, linestyle="--", linewidth=1.3, label=f"target {target:.0%}")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, 1.05)
    ax.legend(loc="lower left", ncols=6)
    _hour_axis(ax, _hours(next(iter(rows.values()))))
    return fig


def _plan_table(by_centre: Mapping[str, list[Any]], study: Mapping[str, Any]) -> str:
    centres = list(by_centre)
    count = len(next(iter(by_centre.values()))) if by_centre else 0
    head = "".join(f"<th class=\"num\">{_e(c)}<br>agents (Erlang C)</th>"
                   f"<th class=\"num\">service level</th>" for c in centres)
    body = []
    for index in range(count):
        first = by_centre[centres[0]][index]
        cells = ""
        for centre in centres:
            row = by_centre[centre][index]
            level = (row.get("service_level") or {}).get("mean")
            mark = {"met": "", "unsure": " ?", "missed": " ✗", "no_calls": ""}[row["status"]]
            erl = "—" if row["erlang_c"] is None else row["erlang_c"]
            cells += (f"<td class=\"num\"><strong>{row['agents']}</strong> ({erl})</td>"
                      f"<td class=\"num\">{'—' if level is None else figures.percent(level)}"
                      f"{mark}</td>")
        body.append(f"<tr><td>{figures.clock(first['from'])}–{figures.clock(first['to'])}</td>"
                    f"{cells}</tr>")
    return ("<section><h2>The plan, interval by interval</h2><table class=\"sweep\"><thead><tr>"
            f"<th>interval</th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            "<p class=\"note\">? unsure (too few calls to tell at 95%); ✗ missed.</p></section>")


def _t(text: Any) -> str:
    return str(text).replace("$", r"\$")
