"""The recommendation report: Markdown ADR sections, the JSON contract, and the HTML page in a real browser.

The HTML checks run headless Chromium (Debian's `chromium`; `.ci/run` installs it): the page must render
every declared chart as plotly SVG with no console output at all (plotly logs nothing on a clean render,
so any CONSOLE line, e.g. "Uncaught ...", is a failure), load nothing from the network, and show user text
as text (a `</script>` payload in the workload, model, option, reason, config and source must not run).
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
from fitness.engine.result import Interval, Intervals, Recommendation
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

ROOT = Path(__file__).resolve().parents[1]
PAYLOAD = '</script><script>console.log("INJECTED")</script><img src=x onerror="console.log(\'INJECTED\')">'
ADR = ["Context", "Options considered", "Fitness", "Decision", "Rationale", "Sensitivity", "Right-sizing",
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
        pytest.fail("chromium is not installed: `apt-get install -y chromium` (Debian; .ci/run does this). The "
                    "HTML report must be checked in a real browser.")
    return exe


def browse(page: Path, tmp: Path) -> tuple[str, list[str]]:
    """Load a page headless; return the DOM after scripts ran and the page's console lines."""
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()]
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
