"""The recommendation report: Markdown ADR sections, the JSON contract, and the HTML page in a real browser.

The HTML checks run headless Chromium (Debian's `chromium`; `scripts/setup-tests`, the start of the README's
test command, installs it): the page must render every declared chart as plotly SVG with no console output
at all (plotly logs nothing on a clean render, so any CONSOLE line, e.g. "Uncaught ...", is a failure), load
nothing from the network, and show user text as text (a `</script>` payload in the workload, model, option,
reason, config and source must not run).
"""

from __future__ import annotations

import dataclasses
import html
import json
import math
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from fitness.engine.ranking import FITNESS_KEYS
from fitness.engine.recommend import recommend
from fitness.engine.result import Headroom, Interval, Intervals, Recommendation
from fitness.report.adr import HEADERS, SECTIONS, option_rows, render_html, render_markdown, to_json
from fitness.report.plots import (
    CAPACITY_POINTS,
    CDF_POINTS,
    CDF_TAIL_POINTS,
    PLOTS,
    applicable,
    cdf_points,
    pareto_front,
    point_labels,
    step_points,
)
from fitness.text import duration_text
from fitness.workload.spec import Budget, load_workload
from sim.results import SimConfig, Timeline
from tests.markdown_check import fences, headings, unsafe_elements

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = '</script><script>console.log("INJECTED")</script><img src=x onerror="console.log(\'INJECTED\')">'
ADR = ["Context", "Options considered", "Fitness", "Decision", "Risks", "Rationale", "Sensitivity", "Right-sizing",
       "Assumptions", "How to reproduce"]


@pytest.fixture(scope="module")
def workload():
    """fraud-detection for 20 minutes, with a budget that rejects the dearer options after simulating them."""
    wl = load_workload(ROOT / "examples" / "fraud-detection.yaml")
    return wl.model_copy(update={"horizon": 1200.0, "budget": Budget(monthly_usd=60.0)})


@pytest.fixture(scope="module")
def rec(workload):
    return recommend(workload)


@pytest.fixture(scope="module")
def rich(rec, workload):
    """The same recommendation with every optional field the ranking will add."""
    best = rec.recommended
    ci = Intervals(monthly_usd=Interval(3.5, 0.5, 3), p99_ms=Interval(42.0, 1.5, 3), score=Interval(0.9, None, 1),
                   seeds=(7, 8, 9))
    opts = [dataclasses.replace(o, explanations={"cost": f"EXPLAINED-{o.option}"}, ci=ci,
                                tie_with=("multi-model",) if o.option == best else ()) for o in rec.options]
    sizing = {best: {"pinned": False, "chosen": {"instance_type": "ml.t2.medium", "instance_count": 1},
                     "tried": [{"instance_type": "ml.t2.medium", "instance_count": 1, "feasible": True,
                                "monthly_usd": 40.88, "p99_ms": 42.0, "reasons": []},
                               {"instance_type": "ml.t2.small", "instance_count": 1, "feasible": False,
                                "monthly_usd": 20.0, "p99_ms": 900.0, "reasons": ["p99 too high"]}]},
              "triton": {"pinned": True, "chosen": None, "tried": []}}
    base = {f.name: getattr(rec, f.name) for f in dataclasses.fields(Recommendation)}
    base.update(options=opts, sizing=sizing, sensitivity=[{"statement": "At x2 traffic SENSITIVE wins.",
                                                           "changes_decision": True}, {"statement": "Same at x0.5."}])
    base.update(context=workload.model_dump(mode="json"))
    return Recommendation(**base)


def _injected(rec: Recommendation) -> Recommendation:
    """`rich`-like recommendation whose user-controlled text all carries the script payload."""
    old = rec.recommended
    new = "realtime" + PAYLOAD
    opts = [dataclasses.replace(o, option=new if o.option == old else o.option, reasons=(*o.reasons, PAYLOAD),
                                config=SimConfig.from_json({**o.config.to_json(), "x": PAYLOAD}, []))
            for o in rec.options]
    runs = {new if k == old else k: v for k, v in rec.runs.items()}
    facts = [dict(a, source=PAYLOAD, note=PAYLOAD) for a in rec.assumptions]
    base = {f.name: getattr(rec, f.name) for f in dataclasses.fields(Recommendation)}
    base.update(workload="w" + PAYLOAD, recommended=new, options=opts, runs=runs, assumptions=facts,
                sensitivity=[{"statement": PAYLOAD}])
    ctx = {"models": [{"name": "m" + PAYLOAD, "kind": "model", "service_time": {"dist": PAYLOAD}}],
           "slo": {"delivery": "sync", "p99_ms": 200.0}, "budget": {"monthly_usd": None}}
    base.update(context=ctx)
    return Recommendation(**base)


# --- Chromium -------------------------------------------------------------------------------------------

def chromium() -> str:
    """The headless browser; missing is a failure, not a skip (CI installs it)."""
    exe = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
    if exe is None:
        pytest.fail("chromium is not installed: run `scripts/setup-tests` (the README's test command does). The "
                    "HTML report must be checked in a real browser.")
    return exe


def browse(page: Path, tmp: Path) -> tuple[str, list[str]]:
    """Load a page headless; return the DOM after scripts ran and the page's console lines."""
    return browse_url(page.resolve().as_uri(), tmp)


def browse_url(url: str, tmp: Path) -> tuple[str, list[str]]:
    """Load a URL headless (a page with a #fragment, say): the DOM after scripts ran, the console lines."""
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=10000", "--dump-dom", url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    console = [ln for ln in out.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    return out.stdout, console


def chart_svgs(dom: str) -> dict[str, int]:
    """Per chart section of the DOM, how many plotly main SVGs it holds."""
    parts = re.split(r'<section class="chart" id="chart-', dom)[1:]
    return {p.split('"', 1)[0]: p.split("</section>", 1)[0].count('class="main-svg"') for p in parts}


class _Loads(HTMLParser):
    """Collects every URL the page would fetch by itself (script src, link href, img/iframe/... src)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "embed", "source", "audio", "video", "track", "input") and a.get("src"):
            self.urls.append(a["src"])
        if tag == "link" and a.get("href"):
            self.urls.append(a["href"])
        if tag == "object" and a.get("data"):
            self.urls.append(a["data"])


def test_console_check_catches_page_errors(tmp_path):
    """The detector works on this Chromium: an uncaught error and a console.error are both reported."""
    page = tmp_path / "bad.html"
    page.write_text("<!DOCTYPE html><html><body><script>console.error('E1'); throw new Error('boom')</script>"
                    "</body></html>")
    _, console = browse(page, tmp_path)
    assert any("E1" in c for c in console) and any("Uncaught Error: boom" in c for c in console), console


def test_html_renders_every_chart_without_console_errors(rec, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(rec), encoding="utf-8")
    dom, console = browse(page, tmp_path)
    assert console == [], console
    svgs = chart_svgs(dom)
    assert set(svgs) == {p.id for p in PLOTS} and all(n >= 1 for n in svgs.values()), svgs
    assert rec.recommended in dom


def test_html_with_every_optional_field_renders(rich, tmp_path):
    page = tmp_path / "rich.html"
    page.write_text(render_html(rich), encoding="utf-8")
    dom, console = browse(page, tmp_path)
    assert console == [], console
    assert "SENSITIVE" in dom and "Right-sizing" in dom and "EXPLAINED-" in dom


def test_user_text_is_escaped_and_never_runs(rec, tmp_path):
    bad = _injected(rec)
    text = render_html(bad)
    assert PAYLOAD not in text and "<img src=x" not in text and '<script>console.log("INJECTED")' not in text
    assert html.escape("w" + PAYLOAD) in text  # shown, as text
    page = tmp_path / "injected.html"
    page.write_text(text, encoding="utf-8")
    dom, console = browse(page, tmp_path)
    assert console == [] and "INJECTED" not in "".join(console), console
    assert '<img src="x"' not in dom
    assert all(n >= 1 for n in chart_svgs(dom).values())


def test_html_is_offline_and_self_contained(rec):
    text = render_html(rec)
    p = _Loads()
    p.feed(text)
    assert p.urls == [], p.urls  # nothing fetched: no CDN, no stylesheet, no image
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", text, re.S)
    assert sum(len(s) > 1_000_000 for s in scripts) == 1  # plotly.js inlined exactly once
    assert len(text) < 6_000_000


# --- Markdown -------------------------------------------------------------------------------------------

def _headings(md: str) -> list[str]:
    return re.findall(r"^## (.+)$", md, re.M)


def test_markdown_has_every_adr_section(rec):
    md = render_markdown(rec)
    assert md.startswith("# ADR: hosting for fraud-detection") and "**Status:**" in md
    heads = _headings(md)
    assert [h for h in heads if h in ADR] == ADR
    decision = md.split("## Decision", 1)[1].split("\n## ", 1)[0]
    assert f"**Recommended: `{rec.recommended}`**" in decision
    for o in rec.options:  # every option, feasible or not, with its reasons
        assert o.option in md.split("## Options considered", 1)[1].split("\n## ", 1)[0]
        assert all(r in md for r in o.reasons)
    sizing = md.split("## Right-sizing", 1)[1].split("\n## ", 1)[0]
    assert all(option in sizing for option in rec.sizing)  # every option's trials are shown


def test_markdown_renders_optional_fields(rich):
    md = render_markdown(rich)
    assert "## Right-sizing" in md and "ml.t2.small" in md and "p99 too high" in md
    assert "- **Changes the decision:** At x2 traffic SENSITIVE wins." in md and "- Same at x0.5." in md
    assert "No configuration tried met the constraints. The workload pins" in md
    assert "42 ± 1.5" in md and "3.5 ± 0.5" in md and "0.9 (one run)" in md and "7, 8, 9" in md
    assert f"EXPLAINED-{rich.recommended}" in md.split("## Rationale", 1)[1]
    assert "Tied with `multi-model`" in md and "### Confidence intervals" in md
    assert "Latency SLO: p99 <= 200 ms" in md and "Budget: 60.00 USD/month" in md and "| fraud-xgb |" in md


def test_markdown_user_text_stays_inert_in_a_viewer(rec):
    """Issue 17: the Markdown report with every user-controlled text carrying HTML, a link, a heading after a
    line break and backticks: a viewer that renders raw HTML creates no element of it, and no heading but
    ours."""
    bad = _injected(rec)
    base = {f.name: getattr(bad, f.name) for f in dataclasses.fields(Recommendation)}
    base.update(workload="w`" + PAYLOAD + "\n# Owned [x](javascript:alert(1)) <javascript:alert(1)>",
                reproduce={**rec.reproduce, "command": "fitness recommend 'a```\n# Owned.yaml'"})
    md = render_markdown(Recommendation(**base))
    assert unsafe_elements(md) == []
    assert len(headings(md)) == 1 and headings(md)[0].startswith("ADR: hosting for w")
    assert "Owned" not in " ".join(headings(md, 2) + headings(md, 3))
    assert any("a```\n# Owned.yaml" in f for f in fences(md))  # the file name stays inside its code block
    assert unsafe_elements(PAYLOAD) != []  # the check sees the payload when it is not escaped


def test_markdown_numbers_come_from_the_recommendation(rec):
    md = render_markdown(rec)
    best = next(o for o in rec.options if o.option == rec.recommended)
    assert f"{best.cost_usd.monthly:,.2f} USD/month" in md
    assert duration_text(best.latency_ms.p99) in md
    assert f"{rec.scenario_requests:,} requests" in md
    assert f"{rec.traffic['mean_rps']:,.2f} req/s" in md
    weak = [a for a in rec.assumptions if a["confidence"] in ("low", "assumption")]
    assert weak and all(f"⚠ {a['path']}" in md for a in weak)


def test_markdown_without_a_feasible_option(rec):
    options = tuple(dataclasses.replace(o, feasible=False, rank=None, score=None) for o in rec.options)
    bad = dataclasses.replace(rec, recommended=None, options=options)
    md = render_markdown(bad)
    assert "No option meets the constraints" in md and "## Rationale" not in md


# --- JSON and the terminal table ------------------------------------------------------------------------

def test_json_is_the_design_contract(rec):
    obj = json.loads(to_json(rec.to_dict()))
    assert {"workload", "recommended", "options"} <= set(obj) and obj["recommended"] == rec.recommended
    for o in obj["options"]:
        assert {"option", "feasible", "reasons", "rank", "score", "fitness"} <= o.keys()
        assert set(o["fitness"]) == set(FITNESS_KEYS)
        assert all(v is None or 0.0 <= v <= 1.0 for v in o["fitness"].values())
        assert (o["rank"] is None) == (not o["feasible"])
        if o.get("requests") is not None:
            assert {"requests", "latency_ms", "queue_wait_ms", "cold_starts", "instances", "cost_usd"} <= o.keys()
    assert json.loads(to_json({"x": math.nan, "y": (1, math.inf)})) == {"x": None, "y": [1, None]}


def test_terminal_rows_keep_their_shape(rec):
    rows = option_rows(rec)
    assert len(rows) == len(rec.options) and all(len(r) == len(HEADERS) for r in rows)
    assert [s.title for s in SECTIONS][:3] == ["Context", "Options considered", "Fitness"]


# --- chart data -----------------------------------------------------------------------------------------

def test_pareto_front_and_labels():
    pts = {"a": (1.0, 10.0), "b": (2.0, 5.0), "c": (3.0, 6.0), "d": (1.0, 10.0)}
    assert pareto_front(pts) == ["a", "d", "b"]  # c is beaten by b on both; equal points both stay
    labels = point_labels(pts, False, False)
    assert labels["a"] == "a, d" and labels["d"] == "" and labels["c"] == "c"


def test_cdf_is_downsampled_but_exact_at_its_points():
    x = np.random.default_rng(1).lognormal(3.0, 0.6, 1_000_000)
    lx, ly = cdf_points(x)
    assert len(lx) <= CDF_POINTS + CDF_TAIL_POINTS and np.all(np.diff(lx) >= 0) and np.all(np.diff(ly) > 0)
    assert lx[-1] == np.float32(x.max()) and ly[-1] == 1.0
    ranks = np.round(ly.astype(float) * x.size).astype(int) - 1
    assert np.array_equal(lx, np.sort(x)[ranks].astype(np.float32))  # each point is on the empirical CDF
    assert (1 - ly[-2]) < 2e-6 and np.sum(ly >= 0.99) > CDF_TAIL_POINTS / 2  # the tail keeps its points


def test_capacity_is_clipped_to_the_horizon_and_binned_keeping_peaks():
    t, v, binned = step_points(Timeline(np.array([0.0, 5.0, 12.0]), np.array([1.0, 3.0, 2.0])), 10.0)
    assert list(t) == [0.0, 5.0, 10.0] and list(v) == [1.0, 3.0, 3.0] and not binned
    n = 3 * CAPACITY_POINTS
    times, vals = np.linspace(0, 100.0, n, endpoint=False), np.zeros(n)
    vals[n // 2] = 7.0  # one short spike among thousands of steps
    t, v, binned = step_points(Timeline(times, vals), 100.0)
    assert binned and len(t) == CAPACITY_POINTS + 1 and v.max() == 7.0 and t[-1] == 100.0


def test_charts_apply_only_with_data(rec):
    none = dataclasses.replace(rec, recommended=None, runs={},
                               options=[dataclasses.replace(o, feasible=False, rank=None, requests=None)
                                        for o in rec.options])
    assert applicable(none) == [] and "<script>" not in render_html(none)
    assert [p.id for p in applicable(rec)] == [p.id for p in PLOTS]


def test_an_interval_without_variation_is_not_shown_as_plus_or_minus_zero(rec):
    """A deterministic trace replay gives the same figures under every seed: the report says so instead of
    printing '± 0' as a 95% interval; and with nothing feasible no weight is tried ('None is still
    recommended')."""
    from fitness.engine.sensitivity import weight_sensitivity
    from fitness.report.adr import _interval

    assert _interval(Interval(5.0, 0.0, 3)) == "5 (the same in every run)"
    assert _interval(Interval(5.0, 0.25, 3)) == "5 ± 0.25"
    assert weight_sensitivity(dataclasses.replace(rec, recommended=None)) == []
    assert weight_sensitivity(rec)[0]["statement"].startswith("With only cost, ")


def test_the_risks_section_answers_the_boards_questions(rec):
    """For the recommended option and the runner-up: availability, quotas (GPU capacity on GPU types),
    blue/green and rolling deployment needs, and the features serverless lacks, each with its AWS source;
    nothing for an option that is not among the two."""
    from fitness.report.risks import option_risks
    from sim.catalog import load_catalog

    md = render_markdown(rec)
    risks = md.split("## Risks", 1)[1].split("\n## ", 1)[0]
    top = sorted((o for o in rec.options if o.feasible), key=lambda o: o.rank)[:2]
    assert [o.option for o in top] == [line.split("`")[1] for line in risks.splitlines() if line.startswith("### ")]
    by = {o.option: option_risks(o, load_catalog()) for o in rec.options if o.measured}
    assert any("lacks GPU instances, VPC configuration and network isolation" in r for r in by["serverless"])
    assert any("rolling deployments are not available on serverless" in r for r in by["serverless"])
    fleet = by["realtime"]
    assert any(r.startswith("Availability: 2.0 instances on average") for r in fleet)
    assert any("twice the fleet" in r for r in fleet) and any("Service Quotas" in r for r in fleet)
    assert not any("lacks" in r for r in fleet)
    assert any("GPU capacity" in r for r in by["triton"])


def _two_way(rec: Recommendation) -> Recommendation:
    """`rec` with two feasible options whose fitness is set by hand: serverless cheaper, real-time faster."""
    hand = {"serverless": {"cost": 1.0, "latency": 0.5, "throughput": 1.0, "complexity": 1.0, "traffic_fit": 1.0},
            "realtime": {"cost": 0.6, "latency": 1.0, "throughput": 1.0, "complexity": 0.8, "traffic_fit": 1.0}}
    opts = [dataclasses.replace(o, feasible=True, fitness=hand[o.option], rank=1 + (o.option == "realtime"))
            if o.option in hand else dataclasses.replace(o, feasible=False, rank=None) for o in rec.options]
    return dataclasses.replace(rec, options=tuple(opts), recommended="serverless")


def test_the_weight_sliders_re_rank_the_options_in_the_page(rec, tmp_path):
    """By hand, with the default weights 0.35/0.30/0.15/0.10/0.10: serverless 0.35 + 0.15 + 0.15 + 0.10 + 0.10
    = 0.85, real-time 0.21 + 0.30 + 0.15 + 0.08 + 0.10 = 0.84: serverless on top, as the report ranks. Moved
    to latency alone (the page opened with #weights=...), real-time (1.0) passes serverless (0.5)."""
    two = _two_way(rec)
    page = tmp_path / "report.html"
    page.write_text(render_html(two), encoding="utf-8")
    dom, console = browse(page, tmp_path)
    assert console == [], console
    assert re.search(r'id="live-top">serverless<', dom)
    assert re.findall(r'<li data-option="(\w+)">', dom) == ["serverless", "realtime"]
    moved = tmp_path / "moved.html"
    moved.write_text(render_html(two), encoding="utf-8")
    weights = "#weights=cost:0,latency:100,throughput:0,complexity:0,traffic_fit:0"
    dom2, console2 = browse_url(moved.resolve().as_uri() + weights, tmp_path)
    assert console2 == [], console2
    assert re.search(r'id="live-top">realtime<', dom2)
    assert re.findall(r'<li data-option="(\w+)">(\w+): ([\d.]+)<', dom2) == [("realtime", "realtime", "1.000"),
                                                                        ("serverless", "serverless", "0.500")]


def test_latency_charts_draw_the_slo_and_instances_sit_beside_the_traffic(rec):
    from fitness.report.plots import figures

    figs = figures(rec)
    slo = [t for t in figs["latency-cdf"].data if t.name.startswith("p99 SLO")]
    assert len(slo) == 1 and list(slo[0].x) == [200.0, 200.0]
    assert any(t.name == "p99 SLO 200 ms" and set(t.y) == {200.0} for t in figs["pareto"].data)
    offered = [t for t in figs["capacity"].data if t.name == "offered req/s"]
    assert len(offered) == 1 and offered[0].yaxis == "y2"
    series = rec.traffic["rate_rps_series"]
    assert len(series) == 20 and rec.traffic["series_window_s"] == 60  # 20 minutes of one-minute windows
    assert sum(series) * 60 == pytest.approx(rec.traffic["requests"], abs=1e-6 * rec.traffic["requests"] + 1)


def test_the_decision_says_why_this_size_with_headroom_and_utilisation(rich):
    """The board's questions on the size: the cheaper configuration tried and why it was refused, the
    headroom and the utilisation of the recommended option."""
    best = dataclasses.replace(rich.best, headroom=Headroom(1.7))
    rec = dataclasses.replace(rich, options=tuple(best if o is rich.best else o for o in rich.options))
    decision = render_markdown(rec).split("## Decision", 1)[1].split("\n## ", 1)[0]
    assert "Headroom: this configuration keeps the SLO up to 1.7 x today's traffic." in decision
    assert f"Utilisation: {best.utilization:.1%} of the capacity paid for does work." in decision
    assert "Why this size: instance_type=ml.t2.small, instance_count=1 was refused (p99 too high)." in decision
