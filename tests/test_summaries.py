"""What a run is summed up into, computed only where it is read: numpy's order statistics read off sorted
arrays or off the few values above a threshold, brief summaries for right-sizing trials.

Each shortcut must give numpy's own figures bit for bit (the recommendation and every number in the report
are the same as before it), so each is held to the direct computation it replaces.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from fitness.engine import digest, windows
from fitness.engine.run import run_option
from fitness.engine.windows import right_size
from fitness.workload.scenario import build
from fitness.workload.spec import parse_workload
from sim.metrics import (
    completed,
    sampled_percentiles,
    sorted_quantiles,
    summary,
    tail_percentile,
)
from sim.results import SERVED
from sim.traffic_stats import busiest_index, peak_window_share, per_window_counts, scaled_gaps, window_index

VALUES = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=400)
PROBS = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=20)


@settings(max_examples=200, deadline=None)
@given(values=VALUES, probs=PROBS)
@example(values=[1.0, 1.0, 2.0], probs=[0.0, 0.5, 1.0])
@example(values=[3.0], probs=[0.25])
def test_quantiles_read_off_a_sorted_array_are_numpys(values, probs):
    """`sorted_quantiles` of a sorted array: numpy's quantile of the same values, bit for bit, at every
    probability (the ends, ties and one value included), and numpy's percentile of p / 100 as numpy divides."""
    x = np.sort(np.array(values))
    assert np.array_equal(sorted_quantiles(x, probs), np.quantile(x, probs))
    pct = [p * 100 for p in probs]
    assert np.array_equal(sorted_quantiles(x, np.true_divide(pct, 100)), np.percentile(x, pct))


@settings(max_examples=200, deadline=None)
@given(values=VALUES, p=st.floats(0.0, 100.0), cut=st.floats(0.0, 1.0))
@example(values=[5.0] * 200, p=99.0, cut=0.5)  # every value on the threshold: none above it
def test_a_tail_percentile_read_off_the_values_above_a_threshold_is_numpys(values, p, cut):
    """`tail_percentile` with any threshold (a quantile of the values, or beyond them): numpy's percentile,
    bit for bit, whether the values above it hold the ranks asked for or it falls back on numpy."""
    x = np.array(values)
    before = x.copy()
    for threshold in (float(np.quantile(x, cut)), -2e6, 2e6):
        assert tail_percentile(x, p, threshold) == float(np.percentile(before, p))
    assert np.array_equal(x, before)


@settings(max_examples=150, deadline=None)
@given(gaps=st.lists(st.sampled_from([0.0, 0.5, 1.0, 7.0]), min_size=1, max_size=3000),
       length=st.sampled_from([0.0, 0.5, 1.0, 3.0, 40.0, 1e6]), noise=st.sampled_from([0.0, 1.0, 3.0]))
def test_the_busiest_stretch_is_the_one_numpy_finds_counting_every_stretch(gaps, length, noise):
    """`busiest_index` counts only the blocks of arrivals whose bound reaches the top: the same position as
    counting every stretch with `searchsorted` (ties, empty stretches, the horizon's end and several blocks
    of 1,024 arrivals included)."""
    a = np.cumsum(np.array(gaps, dtype=float))
    horizon = float(a[-1]) + 1.0
    counts = np.searchsorted(a, np.minimum(a + length, horizon)) - np.arange(a.size)
    top = counts.max()
    assert busiest_index(a, length, horizon, noise) == int(np.argmax(counts >= top - noise * math.sqrt(top)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(3200, 30000),
       kind=st.sampled_from(["lognormal", "rounded", "mostly-zero", "constant", "two-values", "with-inf"]),
       p=st.lists(st.floats(0.0, 100.0), min_size=1, max_size=4))
@example(seed=0, n=3200, kind="mostly-zero", p=[50.0, 95.0, 99.0])
def test_sampled_percentiles_are_numpys(seed, n, kind, p):
    """`sampled_percentiles` brackets each rank with a sample and sorts what lies inside: numpy's percentiles
    bit for bit on large arrays of every shape a run gives (heavy ties, a constant, infinities), NaN where
    numpy gives NaN."""
    rng = np.random.default_rng(seed)
    x = {"lognormal": lambda: rng.lognormal(3, 1, n), "rounded": lambda: np.round(rng.exponential(5, n)),
         "mostly-zero": lambda: np.where(rng.random(n) < 0.8, 0.0, rng.exponential(3, n)),
         "constant": lambda: np.full(n, 2.5), "two-values": lambda: rng.choice([1.0, 9.0], n),
         "with-inf": lambda: np.r_[rng.uniform(size=n), [np.inf] * 3]}[kind]()
    before = x.copy()
    assert np.array_equal(sampled_percentiles(x, p), np.percentile(before, p), equal_nan=True)
    assert np.array_equal(x, before)


def test_a_nan_makes_every_quantile_nan_as_numpy_does():
    """A NaN sorts last, and numpy then answers NaN for every quantile: so does the shortcut."""
    x = np.sort(np.array([1.0, np.nan, 2.0]))
    assert np.isnan(sorted_quantiles(x, [0.1, 0.9])).all() and np.isnan(np.quantile(x, [0.1, 0.9])).all()


@settings(max_examples=100, deadline=None)
@given(gaps=st.lists(st.floats(0.0, 100.0), min_size=2, max_size=300), window=st.floats(0.5, 120.0))
def test_scaled_gaps_are_numpys_expression(gaps, window):
    """The compiled `scaled_gaps` gives the values of numpy's `diff(a) * counts[window of a[1:]] / window`."""
    a = np.cumsum(np.array(gaps))
    horizon = float(a[-1]) + 1.0
    counts = per_window_counts(a, horizon, window)
    expected = np.diff(a) * counts[window_index(a[1:], window, counts.size)] / window
    assert np.array_equal(scaled_gaps(a, counts, window), expected)


def _workload(**slo):
    return parse_workload({
        "name": "s", "horizon": "20m", "seed": 11, "replications": 1, "sensitivity": False,
        "models": [{"name": "m", "memory_mb": 300, "service_time": {"dist": "lognormal", "p50_ms": 20,
                                                                      "p99_ms": 90}}],
        "traffic": {"pattern": "diurnal", "trough_rps": 20, "peak_rps": 60},
        "slo": {"p99_ms": 250, "max_error_rate": 0.001, **slo}})


@pytest.fixture(scope="module")
def run():
    wl = _workload()
    wl = wl.model_copy(update={"options": {"realtime": {"instance_type": "ml.c5.large", "instance_count": 2}}})
    return run_option(wl, build(wl), "realtime")


@pytest.mark.parametrize("since_s", [0.0, 300.0])
def test_a_brief_summary_completed_is_the_full_summary(run, since_s):
    """A brief summary leaves out the queue wait and the p99 interval; completed, it equals the summary made
    whole at once, field for field (from the start of the run and after a lead)."""
    brief = summary(run.result, since_s, brief=True)
    assert brief.queue_wait_ms is None and brief.p99_interval_ms is None and brief.latency_ms.p99 is not None
    full = summary(run.result, since_s)
    assert full.queue_wait_ms is not None and full.p99_interval_ms is not None
    assert completed(brief, run.result, since_s) == full
    assert completed(full, run.result, since_s) is full


def test_the_summary_and_the_digest_give_numpys_figures(run):
    """The latency figures read off a sorted copy are numpy's percentiles of the served latencies, and the
    digest's SLO share, CDF points and p99 of each half are those computed directly from the log."""
    log = run.result.log
    ok = log.status == SERVED
    lat = (log.finish_s[ok] - log.arrival_s[ok]) * 1000.0
    s = run.summary
    expected = tuple(float(v) for v in np.percentile(lat, (50, 95, 99)))
    assert (s.latency_ms.p50, s.latency_ms.p95, s.latency_ms.p99) == expected
    assert s.latency_ms.mean == float(lat.mean()) and s.latency_ms.max == float(lat.max())
    d = digest.compute(run.result, digest.Basis(250.0, "sync", 99.0))
    assert d.slo_attainment == float(np.mean(lat <= 250.0))
    x = np.sort(lat.astype(np.float32))
    assert np.array_equal(d.cdf_ms, x[np.clip(np.round(d.cdf_p * x.size).astype(int) - 1, 0, x.size - 1)])
    first = log.arrival_s < run.result.horizon_s / 2
    all_ms = (log.finish_s - log.arrival_s) * 1000.0
    assert d.p99_halves_ms == tuple(float(np.percentile(all_ms[ok & h], 99)) for h in (first, ~first))


def test_right_sizing_judges_brief_trials_and_reports_the_complete_run(monkeypatch):
    """Trials (and their failure drills) are summed up briefly, but the run a sizing returns has its complete
    summary, equal to the one made whole at once."""
    from fitness.engine import drill, sizing

    briefs = []

    def spy(real):
        def run(*args, brief=False, **kwargs):
            briefs.append(brief)
            return real(*args, brief=brief, **kwargs)
        return run

    monkeypatch.setattr(sizing, "run_option", spy(sizing.run_option))
    monkeypatch.setattr(drill, "run_option", spy(drill.run_option))
    wl = _workload()
    sc = build(wl)
    sz = right_size(wl, sc, "realtime")
    assert sz.chosen is not None and briefs and all(briefs)
    assert sz.run.summary.queue_wait_ms is not None and sz.run.summary.p99_interval_ms is not None
    whole = run_option(wl.model_copy(update={"options": {"realtime": sz.chosen}}), sc, "realtime")
    assert sz.run.summary == whole.summary


def test_an_option_that_cannot_deliver_is_not_searched(monkeypatch):
    """An option that cannot deliver what the SLO asks (async for a waiting caller) is tried once, as the
    workload gives it, to say why: its search (closed forms, trials) is never started."""
    called = []
    real = windows.unit
    monkeypatch.setattr(windows, "unit", lambda oid: dataclasses.replace(real(oid), search=lambda *a: called.append(a)))
    wl = _workload()
    sz = right_size(wl, build(wl), "async")
    assert not called and sz.chosen is None and len(sz.tried) == 1
    assert "cannot deliver" in sz.tried[0].reasons[0]
    right_size(wl, build(wl), "realtime")
    assert called  # the spy does see a search that is started


@settings(max_examples=100, deadline=None)
@given(times=st.lists(st.floats(0.0, 600.0), min_size=0, max_size=500), ordered=st.booleans(),
       window=st.sampled_from([0.7, 1.0, 60.0]), peak=st.floats(0.0, 5.0), seed=st.integers(0, 9))
def test_window_counts_and_the_peak_share_are_numpys(times, ordered, window, peak, seed):
    """`per_window_counts` counted by runs, and `peak_window_share`: numpy's bincount of each arrival's window
    and its count of bad requests in the windows reaching the peak, sorted arrivals or not."""
    a = np.array(times, dtype=float)
    a = np.sort(a) if ordered else a
    counts = per_window_counts(a, 600.0, window)
    bins = max(1, int(np.ceil(600.0 / window)))
    assert np.array_equal(counts, np.bincount(window_index(a, window, bins), minlength=bins))
    bad = np.random.default_rng(seed).random(a.size) < 0.3
    in_peak = counts[window_index(a, window, counts.size)] >= peak
    assert peak_window_share(a, bad, counts, peak, window) == (int(in_peak.sum()), int(bad[in_peak].sum()))


def test_a_digest_without_the_cdf_gives_every_other_figure_alike(run):
    """A what-if's or a replication's digest skips the CDF (the sort of every latency): the SLO share, the
    burst loss and the p99 of each half are those of the full digest, and the run still counts as served."""
    basis = digest.Basis(250.0, "sync", 99.0)
    full, brief = digest.compute(run.result, basis), digest.compute(run.result, basis, cdf=False)
    assert full.cdf_ms.size and not brief.cdf_ms.size and brief.served and full.served
    assert (brief.slo_attainment, brief.burst_loss, brief.p99_halves_ms) == \
        (full.slo_attainment, full.burst_loss, full.p99_halves_ms)
    light = digest.light(run.result, basis, cdf=False)
    assert digest.of(light, basis).slo_attainment == full.slo_attainment and light.log is None


@settings(max_examples=100, deadline=None)
@given(n=st.integers(0, 300), since=st.floats(0.0, 100.0), seed=st.integers(0, 99))
def test_the_served_pass_is_numpys_masks(n, since, seed):
    """`served_latencies_ms`: the latencies of numpy's mask of served requests arriving from `since`, in the
    log's order and bit for bit, with numpy's counts by status and of cold starts."""
    from sim.metrics import served_latencies_ms
    from sim.results import RequestLog

    rng = np.random.default_rng(seed)
    arrival = rng.uniform(0, 100, n)
    status = rng.choice(np.array([0, 0, 0, 1, 2], np.int8), n)
    finish = np.where(status == 1, np.nan, arrival + rng.exponential(0.1, n))
    log = RequestLog(arrival, arrival.copy(), finish, status, rng.random(n) < 0.2, np.zeros(n, np.int32))
    lat, by, cold = served_latencies_ms(log, since)
    ok = (arrival >= since) & (status == SERVED)
    assert np.array_equal(lat, (finish[ok] - arrival[ok]) * 1000.0)
    assert by.tolist() == [int(np.sum(status[arrival >= since] == s)) for s in (0, 1, 2)]
    assert cold == int(np.sum(log.cold[ok]))
