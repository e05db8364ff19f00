"""Charts of the recommendation report, declared as data: one `PlotSpec` per chart, in report order.

Every plotted number comes from the Recommendation (summaries, request logs, capacity timelines, cost
lines). Text that may come from the user (option configs, reasons) is HTML-escaped before it reaches plotly,
whose labels understand a subset of HTML. Large logs are downsampled so the page stays small.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import plotly.graph_objects as go

from fitness.engine import digest
from fitness.engine.digest import CDF_POINTS, CDF_TAIL_POINTS, Digest, cdf_points  # noqa: F401 (part of the charts' API)
from fitness.engine.result import RankedOption, Recommendation
from fitness.report.weights_widget import weights_html
from fitness.workload.spec import SLO
from sim.cost import HOURS_PER_MONTH, monthly_usd
from sim.results import Timeline

CAPACITY_POINTS = 4000
"""Above this many changes a capacity timeline is drawn as the maximum per time bucket."""
LOG_AXIS_SPREAD = 20.0
"""Use a log axis when the largest plotted value is this many times the smallest."""
PALETTE = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692", "#b6e880")
"""Trace colours (plotly's defaults), fixed so that two views of one option share a colour."""
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
"""Line dashes for step functions that may coincide."""
LABEL_CHARS = 40
"""Longest legend/axis label; longer names would make plotly's automatic margins grow without end."""
LABEL_MERGE = 0.04
"""Points closer than this share of the plot (both axes) share one label."""


@dataclass(frozen=True)
class PlotSpec:
    """One chart of the HTML report: anchor id, title, one-line caption, builder and when it applies."""

    id: str
    title: str
    caption: str
    build: Callable[[Recommendation], go.Figure]
    applies: Callable[[Recommendation], bool]


def esc(x: object) -> str:
    """Text for a plotly label: HTML-escaped (plotly renders a subset of HTML in labels)."""
    return html.escape(str(x))


def short(x: object) -> str:
    """A legend or axis label: escaped, cut to `LABEL_CHARS` (hover text keeps the whole name)."""
    s = str(x)
    return esc(s if len(s) <= LABEL_CHARS else s[:LABEL_CHARS - 1] + "…")


def colour(rec: Recommendation, option: str) -> str:
    """The option's colour, the same in every chart (by its place in the ranking)."""
    ids = [o.option for o in rec.options]
    return PALETTE[ids.index(option) % len(PALETTE)]


def simulated(rec: Recommendation) -> list[RankedOption]:
    """Options that ran and have numbers (feasible, or rejected by the constraints after simulating)."""
    return [o for o in rec.options if o.measured]


def _with_numbers(rec: Recommendation) -> list[RankedOption]:
    """Simulated options with a finite monthly cost and p99 (the ones a cost/latency plane can place)."""
    out = []
    for o in simulated(rec):
        c, p = o.cost_usd.monthly, o.latency_ms.p99
        if c is not None and p is not None and np.isfinite(c) and np.isfinite(p):
            out.append(o)
    return out


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Ids not dominated in (cost, latency), both minimised; sorted by cost."""
    front = [k for k, (c, p) in points.items()
             if not any(c2 <= c and p2 <= p and (c2, p2) != (c, p) for c2, p2 in points.values())]
    return sorted(front, key=lambda k: points[k])


def _log_axis(values: list[float]) -> bool:
    pos = [v for v in values if v and v > 0]
    return bool(pos) and max(pos) / min(pos) > LOG_AXIS_SPREAD


def _layout(fig: go.Figure, x: str, y: str, values_x: list[float] = (), values_y: list[float] = ()) -> go.Figure:
    """Shared look: white template, axis titles, log axes where values spread widely."""
    fig.update_layout(template="plotly_white", height=430, margin={"l": 70, "r": 20, "t": 30, "b": 60},
                      legend={"orientation": "h", "y": -0.2}, xaxis_title=x, yaxis_title=y)
    for axis, vals in (("xaxis", values_x), ("yaxis", values_y)):
        if _log_axis(vals):
            fig.update_layout({axis: {"type": "log"}})
    return fig


def point_labels(points: dict[str, tuple[float, float]], log_x: bool, log_y: bool) -> dict[str, str]:
    """One label per cluster of points closer than `LABEL_MERGE` of the plot in both axes ("a, b"), so that
    options at (almost) the same cost and latency do not print their names over each other."""
    def norm(vals: list[float], log: bool) -> list[float]:
        v = [math.log10(x) if log and x > 0 else x for x in vals]
        span = (max(v) - min(v)) or 1.0
        return [(x - min(v)) / span for x in v]
    ids = list(points)
    xs, ys = norm([points[k][0] for k in ids], log_x), norm([points[k][1] for k in ids], log_y)
    groups: dict[int, list[str]] = {}  # index of the first point of a cluster -> the ids in it
    for i, k in enumerate(ids):
        a = next((a for a in groups if abs(xs[a] - xs[i]) < LABEL_MERGE and abs(ys[a] - ys[i]) < LABEL_MERGE), i)
        groups.setdefault(a, []).append(k)
    return {k: ", ".join(groups[i]) if i in groups else "" for i, k in enumerate(ids)}


def slo_p99_ms(rec: Recommendation) -> float | None:
    """The workload's p99 SLO in ms (None without one, or for offline delivery)."""
    slo = (rec.context or {}).get("slo") or {}
    return slo.get("p99_ms") if slo.get("delivery") != "offline" else None


SLO_LINE = {"dash": "dash", "color": "#c33", "width": 1.5}
"""How an SLO is drawn: a trace, not a shape, so that it sits right on log axes too."""


def cost_latency(rec: Recommendation) -> go.Figure:
    """Monthly cost vs p99 of every simulated option; the Pareto front of the feasible ones joined."""
    opts = _with_numbers(rec)
    xy = {o.option: (o.cost_usd.monthly, o.latency_ms.p99) for o in opts}
    front = pareto_front({o.option: xy[o.option] for o in opts if o.feasible})
    log_x, log_y = _log_axis([c for c, _ in xy.values()]), _log_axis([p for _, p in xy.values()])
    labels = point_labels(xy, log_x, log_y)
    fig = go.Figure()
    fig.add_scatter(x=[xy[k][0] for k in front], y=[xy[k][1] for k in front], mode="lines",
                    line={"dash": "dot", "color": "#2a7"}, name="Pareto front", hoverinfo="skip")
    groups = (("rejected by the constraints", lambda o: not o.feasible, "x", "#c33"),  # front drawn on top
              ("feasible, dominated", lambda o: o.feasible and o.option not in front, "circle", "#36c"),
              ("on the front", lambda o: o.feasible and o.option in front, "diamond", "#2a7"))
    for name, keep, symbol, color in groups:
        sel = [o.option for o in opts if keep(o)]
        if sel:
            fig.add_scatter(x=[xy[k][0] for k in sel], y=[xy[k][1] for k in sel], mode="markers+text",
                            text=[short(labels[k]) if labels[k] else "" for k in sel], customdata=[esc(k) for k in sel],
                            textposition="top center", marker={"symbol": symbol, "size": 12, "color": color},
                            name=name, hovertemplate="%{customdata}<br>%{x:,.2f} USD/month<br>p99 %{y:,.1f} ms"
                                                     "<extra></extra>")
    slo = slo_p99_ms(rec)
    if slo is not None and xy:
        costs = [c for c, _ in xy.values()]
        fig.add_scatter(x=[min(costs), max(costs)], y=[slo, slo], mode="lines", line=SLO_LINE,
                        name=f"p99 SLO {slo:g} ms", hoverinfo="skip")
    return _layout(fig, f"USD per month (projected to {HOURS_PER_MONTH:g} h)", "p99 latency (ms)",
                   [c for c, _ in xy.values()], [p for _, p in xy.values()])


def _digest(rec: Recommendation, option: str) -> Digest | None:
    """The option's run digest (latency CDF points), under the workload the recommendation was made for."""
    if "slo" not in rec.context:
        return None
    return digest.of(rec.runs.get(option), digest.basis_for(SLO.model_validate(rec.context["slo"])))


def _has_log(rec: Recommendation, o: RankedOption) -> bool:
    d = _digest(rec, o.option) if o.feasible else None
    return d is not None and d.served


def latency_cdf(rec: Recommendation) -> go.Figure:
    """Empirical latency CDF of every feasible option (log latency axis), with a button for the tail view:
    the fraction of requests slower than x on a log axis, where p99 and beyond are readable."""
    fig = go.Figure()
    opts = [o.option for o in rec.options if _has_log(rec, o)]
    points = {option: _digest(rec, option) for option in opts}
    for tail in (False, True):
        for option in opts:
            x, y = points[option].cdf_ms, points[option].cdf_p
            what = "%{y:.4%} slower than" if tail else "%{y:.4%} within"
            fig.add_scatter(x=x, y=(1.0 - y.astype(float)).astype(np.float32) if tail else y, mode="lines",
                            name=short(option), visible=not tail,
                            line={"color": colour(rec, option)}, legendgroup=esc(option),
                            hovertemplate=esc(option) + f"<br>{what} %{{x:,.1f}} ms<extra></extra>")
    n, slo = len(opts), slo_p99_ms(rec)
    extra = [True] if slo is not None else []
    if slo is not None:  # a vertical line from near 0 (the log view's floor) to 1
        fig.add_scatter(x=[slo, slo], y=[1e-6, 1.0], mode="lines", line=SLO_LINE, name=f"p99 SLO {slo:g} ms",
                        hoverinfo="skip")
    views = (("distribution (CDF)", "fraction of served requests", "linear", [True] * n + [False] * n + extra),
             ("tail (fraction slower, log)", "fraction of served requests slower", "log",
              [False] * n + [True] * n + extra))
    fig.update_layout(updatemenus=[{"type": "buttons", "direction": "right", "x": 0, "y": 1.12, "xanchor": "left",
                                    "buttons": [{"label": label, "method": "update",
                                                 "args": [{"visible": vis}, {"yaxis.title.text": title,
                                                                             "yaxis.type": axis}]}
                                                for label, title, axis, vis in views]}])
    fig = _layout(fig, "end-to-end latency (ms, log scale)", views[0][1])
    fig.update_layout(margin={"t": 60})
    fig.update_xaxes(type="log")
    return fig


def _time_unit(horizon_s: float) -> tuple[float, str]:
    """Seconds per plotted time unit, and its name: hours for runs of hours, else minutes or seconds."""
    return (3600.0, "h") if horizon_s >= 7200 else (60.0, "min") if horizon_s >= 600 else (1.0, "s")


def step_points(tl: Timeline, horizon_s: float) -> tuple[np.ndarray, np.ndarray, bool]:
    """A step function clipped to the horizon, ending at it; bucket maxima when it has too many steps."""
    keep = tl.times_s < horizon_s
    t, v = tl.times_s[keep], tl.values[keep]
    if t.size <= CAPACITY_POINTS:
        return np.r_[t, horizon_s], np.r_[v, v[-1] if v.size else 0.0], False
    edges = np.linspace(0.0, horizon_s, CAPACITY_POINTS + 1)
    peak = tl.at(edges[:-1]).astype(float)  # the level each bucket starts at
    np.maximum.at(peak, np.minimum((t / horizon_s * CAPACITY_POINTS).astype(np.int64), CAPACITY_POINTS - 1), v)
    return edges, np.r_[peak, peak[-1]], True


def capacity(rec: Recommendation) -> go.Figure:
    """Instances (containers for serverless) over time per feasible option, as step functions."""
    div, unit = _time_unit(rec.horizon_s)
    fig = go.Figure()
    for o in rec.options:
        run = rec.runs.get(o.option)
        if o.feasible and run is not None and run.capacity is not None:
            t, v, binned = step_points(run.capacity, run.horizon_s)
            name = short(o.option) + (" (max per bucket)" if binned else "")
            k = len(fig.data)  # equal timelines overlap: dashes of different lengths keep each visible
            fig.add_scatter(x=t / div, y=v, mode="lines", line_shape="hv", name=name,
                            line={"dash": DASHES[k % len(DASHES)], "color": colour(rec, o.option), "width": 2},
                            hovertemplate=name + f"<br>%{{y:g}} at %{{x:,.2f}} {unit}<extra></extra>")
    rates, window = (rec.traffic or {}).get("rate_rps_series"), (rec.traffic or {}).get("series_window_s")
    if rates and window:  # what the fleets answer to, on its own axis
        t = np.arange(len(rates) + 1) * window
        fig.add_scatter(x=t / div, y=[*rates, rates[-1]], mode="lines", line_shape="hv", yaxis="y2",
                        name="offered req/s", line={"color": "#999", "width": 1},
                        hovertemplate=f"%{{y:,.2f}} req/s at %{{x:,.2f}} {unit}<extra></extra>")
    fig = _layout(fig, f"simulated time ({unit})", "instances / containers")
    if rates and window:
        fig.update_layout(yaxis2={"title": {"text": f"offered requests/s (per {window:g} s)"}, "overlaying": "y",
                                  "side": "right", "rangemode": "tozero", "showgrid": False})
    return fig


def cost_breakdown(rec: Recommendation) -> go.Figure:
    """Stacked monthly cost lines (instances, compute, data, ...) per simulated option."""
    opts = [o for o in simulated(rec) if o.option in rec.runs and rec.runs[o.option].cost_usd]
    lines = list(dict.fromkeys(k for o in opts for k in rec.runs[o.option].cost_usd))
    fig = go.Figure()
    for line in lines:
        ys = [monthly_usd(rec.runs[o.option].cost_usd.get(line, 0.0), rec.runs[o.option].horizon_s)
              for o in opts]
        fig.add_bar(x=[short(o.option) for o in opts], y=ys, name=short(line),
                    customdata=[esc(o.option) for o in opts],
                    hovertemplate="%{customdata}<br>" + esc(line) + ": %{y:,.2f} USD/month<extra></extra>")
    fig = _layout(fig, "option", f"USD per month (projected to {HOURS_PER_MONTH:g} h)")
    fig.update_layout(barmode="stack")
    return fig


PLOTS: list[PlotSpec] = [
    PlotSpec("pareto", "Cost vs p99 latency", "Each simulated option at its projected monthly cost and p99 "
             "latency; the dotted line joins the feasible options no other feasible option beats on both.",
             cost_latency, lambda rec: bool(_with_numbers(rec))),
    PlotSpec("latency-cdf", "Latency distribution", "Share of served requests answered within a given "
             "end-to-end latency (queueing and cold starts included), per feasible option.",
             latency_cdf, lambda rec: any(_has_log(rec, o) for o in rec.options)),
    PlotSpec("capacity", "Instances over time", "Instances (containers for serverless) serving or starting "
             "over the simulated horizon, per feasible option, beside the offered traffic (grey, right axis).",
             capacity, lambda rec: any(o.feasible and getattr(rec.runs.get(o.option), "capacity", None)
                                       is not None for o in rec.options)),
    PlotSpec("cost-breakdown", "Cost breakdown", "Projected monthly cost of each simulated option, split "
             "into the lines it is billed for.",
             cost_breakdown, lambda rec: any(getattr(rec.runs.get(o.option), "cost_usd", None)
                                             for o in simulated(rec))),
]
"""The charts of the HTML report, in order."""


def applicable(rec: Recommendation) -> list[PlotSpec]:
    """The declared charts that have data in this recommendation."""
    return [p for p in PLOTS if p.applies(rec)]


def figures(rec: Recommendation) -> dict[str, go.Figure]:
    """The report's charts as plotly Figures by id (Pareto, latency CDFs, capacity, cost breakdown)."""
    return {spec.id: spec.build(rec) for spec in applicable(rec)}


PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
"""plotly.js options: no logo link, resize with the page (the mode bar's image export works offline)."""


def plotly_script(rec: Recommendation) -> str:
    """plotly.js inlined once in a <script> (no CDN, works offline); empty when no chart applies."""
    if not applicable(rec):
        return ""
    from plotly.offline import get_plotlyjs  # plotly.js (several MB) loads only for an HTML report
    return "<script>" + get_plotlyjs().replace("</script", "<\\/script") + "</script>"


def charts_html(rec: Recommendation) -> str:
    """The weight sliders (`fitness.report.weights_widget`), then each applicable chart as a titled <section>
    with its plotly div (plotly.js itself not included)."""
    out = [weights_html(rec)]
    for p in applicable(rec):
        div = p.build(rec).to_html(full_html=False, include_plotlyjs=False, div_id=f"plot-{p.id}",
                                   config=PLOTLY_CONFIG)
        out.append(f"<section class='chart' id='chart-{p.id}'><h3>{esc(p.title)}</h3><p>{esc(p.caption)}</p>"
                   f"{div}</section>")
    return "".join(out)
