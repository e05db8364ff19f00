"""Traffic specs, arrival generation and trace loading (sim.traffic, sim.traces, sim.units).

Statistical tests are seeded; tolerances are a few standard deviations of the estimator, so a wrong rate,
shape or phase fails while sampling noise does not.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from sim.errors import InputError
from sim.traces import replay_trace, trace_model_indices
from sim.traffic import (
    BurstyTraffic,
    ConstantTraffic,
    DiurnalTraffic,
    OnOffTraffic,
    PoissonTraffic,
    Popularity,
    TraceTraffic,
    TrafficSpec,
    assign_models,
    generate_arrivals,
    generate_window,
    load_trace,
)
from sim.units import parse_duration_s

# Real traces from the public repository Azure/AzurePublicDataset (Azure LLM inference traces 2023 and a
# sample of the Azure Functions 2021 trace kept in vhive-serverless/invitro), in examples/traces/ (see its README),
# found by the `data_file` fixture of conftest.py: a missing file fails the test.
HOUR = 3600.0
DAY = 86400.0


def _rng(seed: int = 7) -> np.random.Generator:
    return np.random.default_rng(seed)


def _cv(times: np.ndarray) -> float:
    gaps = np.diff(times)
    return float(gaps.std() / gaps.mean())


def _check_arrivals(times: np.ndarray, horizon_s: float) -> None:
    assert times.dtype == np.float64
    assert np.all(np.diff(times) >= 0)
    assert times.size == 0 or (times[0] >= 0 and times[-1] < horizon_s)


# --- units -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("value", "seconds"), [
    (90, 90.0), (2.5, 2.5), ("90s", 90.0), ("30m", 1800.0), ("6h", 21600.0), ("7d", 604800.0),
    ("1.5h", 5400.0), ("45", 45.0), (" 2 H ", 7200.0),
])
def test_parse_duration(value, seconds):
    assert parse_duration_s(value) == seconds


@pytest.mark.parametrize("value", ["6x", "h", "", "-5m", -1, float("nan"), float("inf"), True, None, [3]])
def test_parse_duration_rejects_with_value_error(value):
    with pytest.raises(ValueError, match="expected a non-negative number of seconds"):
        parse_duration_s(value)


# --- spec validation ---------------------------------------------------------------------------------

def test_union_picks_pattern_and_converts_durations():
    adapter = TypeAdapter(TrafficSpec)
    spec = adapter.validate_python({"pattern": "on_off", "rate_rps": 5, "on_s": "30m", "off_s": "1h"})
    assert isinstance(spec, OnOffTraffic)
    assert (spec.on_s, spec.off_s) == (1800.0, 3600.0)
    bursty = adapter.validate_python({"pattern": "bursty", "rate_rps": 0, "burst_rate_rps": 9,
                                      "mean_burst_s": "90s", "mean_gap_s": 600})
    assert bursty.mean_burst_s == 90.0


def test_negative_rate_is_a_validation_error_naming_the_field():
    with pytest.raises(ValidationError) as info:
        TypeAdapter(TrafficSpec).validate_python({"pattern": "bursty", "rate_rps": -1, "burst_rate_rps": 5,
                                                  "mean_burst_s": 1, "mean_gap_s": 1})
    assert "rate_rps" in str(info.value)
    with pytest.raises(ValidationError, match="trough_rps"):
        DiurnalTraffic(trough_rps=-2, peak_rps=5)


@pytest.mark.parametrize("make", [
    lambda: PoissonTraffic(rate_rps=0),
    lambda: BurstyTraffic(rate_rps=0, burst_rate_rps=0, mean_burst_s=1, mean_gap_s=1),
    lambda: DiurnalTraffic(trough_rps=5, peak_rps=2),
    lambda: DiurnalTraffic(peak_rps=5),
    lambda: OnOffTraffic(rate_rps=1, on_s=0, off_s=5),
    lambda: OnOffTraffic(rate_rps=1, on_s="soon", off_s=5),
    lambda: PoissonTraffic(rate_rps=1, rate_multiplier=0),
    lambda: PoissonTraffic(rate_rps=1, burst=3),
    lambda: Popularity(zipf=1, weights={"a": 1}),
    lambda: Popularity(weights={"a": 0}),
    lambda: Popularity(zipf=-0.5),
])
def test_invalid_specs_are_rejected(make):
    with pytest.raises(ValidationError):
        make()


def test_specs_are_frozen():
    spec = PoissonTraffic(rate_rps=3)
    with pytest.raises(ValidationError):
        spec.rate_rps = 4


def test_diurnal_mean_form_and_precedence():
    spec = DiurnalTraffic(rate_rps=10)  # peak_to_trough defaults to 4
    assert spec.trough_rps == pytest.approx(4.0) and spec.peak_rps == pytest.approx(16.0)
    assert spec.mean_rate_rps == pytest.approx(10.0)
    spec = DiurnalTraffic(rate_rps=10, peak_to_trough=1)
    assert spec.trough_rps == spec.peak_rps == pytest.approx(10.0)
    explicit = DiurnalTraffic(trough_rps=1, peak_rps=3, rate_rps=100)  # trough/peak win over rate_rps
    assert explicit.mean_rate_rps == pytest.approx(2.0)
    assert DiurnalTraffic(trough_rps=0, peak_rps=1, peak_at_s="2h").peak_at_s == 7200.0


def test_mean_rate_includes_the_multiplier():
    assert PoissonTraffic(rate_rps=4, rate_multiplier=2.5).mean_rate_rps == pytest.approx(10.0)
    bursty = BurstyTraffic(rate_rps=1, burst_rate_rps=21, mean_burst_s=10, mean_gap_s=90)
    assert bursty.mean_rate_rps == pytest.approx(3.0)
    assert OnOffTraffic(rate_rps=8, on_s=1, off_s=3).mean_rate_rps == pytest.approx(2.0)


# --- generation --------------------------------------------------------------------------------------

@pytest.mark.statistical
def test_poisson_count_and_cv():
    rate, horizon = 12.0, 20000.0
    times = generate_arrivals(PoissonTraffic(rate_rps=rate), horizon, _rng())
    _check_arrivals(times, horizon)
    expected = rate * horizon
    assert abs(times.size - expected) < 4 * math.sqrt(expected)
    assert _cv(times) == pytest.approx(1.0, abs=0.010)  # 4 sd: the CV's sd is 0.0026 over 10 seeds


def test_constant_spacing_is_exact():
    times = generate_arrivals(ConstantTraffic(rate_rps=4), 1000.0, _rng())
    assert times.size == 4000
    assert times[0] == 0.0
    np.testing.assert_allclose(np.diff(times), 0.25, rtol=0, atol=1e-9)
    assert generate_arrivals(ConstantTraffic(rate_rps=4, rate_multiplier=0.5), 1000.0, _rng()).size == 2000


@pytest.mark.statistical
def test_diurnal_mean_rate_and_hourly_shape():
    spec = DiurnalTraffic(trough_rps=2, peak_rps=10, peak_at_s="14h")
    horizon = 7 * DAY
    times = generate_arrivals(spec, horizon, _rng())
    _check_arrivals(times, horizon)
    expected = (2 + 10) / 2 * horizon
    assert abs(times.size - expected) < 4 * math.sqrt(expected)
    # Per hour of day over 7 days: each bin's count against the intensity integrated here, independently
    # of the module (midpoint rule on one-second steps).
    counts = np.bincount((np.fmod(times, DAY) // HOUR).astype(int), minlength=24)
    t = np.arange(DAY) + 0.5
    rate = 6 + 4 * np.cos(2 * np.pi * (t - 14 * HOUR) / DAY)
    expected_bins = 7 * rate.reshape(24, 3600).sum(axis=1)
    np.testing.assert_allclose(np.diff(spec.cumulative(np.arange(25) * HOUR)), expected_bins / 7, rtol=1e-6)
    assert np.all(np.abs(counts - expected_bins) < 4.5 * np.sqrt(expected_bins))
    peak_hour_centre = (np.argmax(counts) + 0.5) * HOUR
    assert abs(peak_hour_centre - spec.peak_at_s) <= HOUR
    assert abs((np.argmin(counts) + 0.5) * HOUR - (spec.peak_at_s - DAY / 2)) <= HOUR


def test_a_constant_stretch_is_exactly_the_whole_draw_cut_to_it():
    """Drawn for a stretch alone, constant traffic gives the very points the whole horizon's draw holds there."""
    spec = ConstantTraffic(rate_rps=7, rate_multiplier=1.5)
    whole = generate_arrivals(spec, 1000.0, _rng())
    part = generate_window(spec, 1000.0, 123.4, 456.7, _rng())
    assert np.array_equal(part, whole[(whole >= 123.4) & (whole < 456.7)])


@pytest.mark.statistical
@pytest.mark.parametrize("spec", [PoissonTraffic(rate_rps=40, rate_multiplier=3),
                                  DiurnalTraffic(trough_rps=2, peak_rps=10, peak_at_s="14h", rate_multiplier=4)],
                         ids=["poisson", "diurnal"])
def test_a_stretch_drawn_alone_is_the_process_on_that_stretch(spec):
    """A Poisson process restricted to [t0, t1) is the process of the same intensity there: the count of a
    stretch drawn alone is its expected count within 4 Poisson sd, and its shape (arrivals in each tenth of
    the stretch) matches the intensity integrated over each tenth within 4.5 sd; times are sorted, in the
    stretch. Several seeds, so one lucky draw cannot pass a wrong rate."""
    t0, t1, horizon = 2 * DAY + 5 * HOUR + 17.0, 2 * DAY + 9 * HOUR, 7 * DAY
    edges = np.linspace(t0, t1, 11)
    if isinstance(spec, DiurnalTraffic):
        expected = np.diff(spec.cumulative(edges))
    else:
        expected = np.full(10, spec.rate_rps * spec.rate_multiplier * (t1 - t0) / 10)
    for seed in range(4):
        times = generate_window(spec, horizon, t0, t1, np.random.default_rng(seed))
        assert np.all(np.diff(times) >= 0) and times[0] >= t0 and times[-1] < t1
        assert abs(times.size - expected.sum()) < 4 * math.sqrt(expected.sum())
        counts = np.histogram(times, edges)[0]
        assert np.all(np.abs(counts - expected) < 4.5 * np.sqrt(expected))


def test_patterns_whose_state_runs_from_the_start_are_not_drawn_by_stretch():
    """Bursty and on-off traffic carry their state from t = 0: no stretch is drawn alone (the caller cuts)."""
    assert generate_window(BurstyTraffic(rate_rps=2, burst_rate_rps=50, mean_burst_s=10, mean_gap_s=90), 1000.0,
                           10.0, 20.0, _rng()) is None
    assert generate_window(OnOffTraffic(rate_rps=2, on_s=10, off_s=5), 1000.0, 10.0, 20.0, _rng()) is None


@pytest.mark.statistical
def test_diurnal_rate_multiplier_and_short_horizon():
    spec = DiurnalTraffic(rate_rps=5, rate_multiplier=2)
    times = generate_arrivals(spec, 2 * DAY, _rng())
    expected = 10 * 2 * DAY
    assert abs(times.size - expected) < 4 * math.sqrt(expected)
    short = generate_arrivals(spec, 30.0, _rng())
    _check_arrivals(short, 30.0)


@pytest.mark.statistical
def test_bursty_long_run_rate_and_overdispersion():
    spec = BurstyTraffic(rate_rps=2, burst_rate_rps=50, mean_burst_s=10, mean_gap_s=90)
    horizon = 2e6  # 20,000 base/burst cycles
    times = generate_arrivals(spec, horizon, _rng())
    _check_arrivals(times, horizon)
    mix = (2 * 90 + 50 * 10) / (90 + 10)
    assert spec.mean_rate_rps == pytest.approx(mix)
    # The count's spread is dominated by the random time spent in bursts: sd 0.56% of the mean here
    # (measured over 10 seeds), so 4 sd, 2.3%, only fails when the mix or the sojourns are wrong.
    assert times.size / horizon == pytest.approx(mix, rel=0.023)
    assert _cv(times) > 1.5


@pytest.mark.statistical
def test_bursty_starts_in_its_stationary_state():
    # Many short runs: the rate right after t = 0 must already be the long-run mix (6.8/s), not the
    # base (2/s) or burst (50/s) rate, which a fixed starting state would give.
    spec = BurstyTraffic(rate_rps=2, burst_rate_rps=50, mean_burst_s=10, mean_gap_s=90)
    rng = _rng()
    counts = np.array([generate_arrivals(spec, 2.0, rng).size for _ in range(2000)])
    assert abs(counts.mean() - 2 * 6.8) < 4 * counts.std() / math.sqrt(counts.size)


@pytest.mark.statistical
def test_bursty_with_silent_base_state():
    spec = BurstyTraffic(rate_rps=0, burst_rate_rps=20, mean_burst_s=5, mean_gap_s=45)
    times = generate_arrivals(spec, 5e5, _rng())
    _check_arrivals(times, 5e5)
    assert times.size / 5e5 == pytest.approx(2.0, rel=0.05)


@pytest.mark.statistical
def test_on_off_has_no_arrivals_when_off():
    spec = OnOffTraffic(rate_rps=30, on_s="10m", off_s="20m")
    horizon = 2 * DAY + 700.0  # ends inside an "on" period
    times = generate_arrivals(spec, horizon, _rng())
    _check_arrivals(times, horizon)
    phase = np.fmod(times, 1800.0)
    assert phase.max() < 600.0 + 1e-6
    on_time = 96 * 600.0 + 600.0
    assert abs(times.size - 30 * on_time) < 4 * math.sqrt(30 * on_time)
    # Arrivals are Poisson within "on": the first on-period holds ~rate * on_s of them.
    first = np.count_nonzero(times < 600.0)
    assert abs(first - 18000) < 4 * math.sqrt(18000)


SPECS = [
    PoissonTraffic(rate_rps=5),
    DiurnalTraffic(rate_rps=5),
    BurstyTraffic(rate_rps=1, burst_rate_rps=30, mean_burst_s=5, mean_gap_s=60),
    OnOffTraffic(rate_rps=5, on_s=60, off_s=60),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.pattern)
def test_same_seed_same_arrivals_different_seed_different(spec):
    a = generate_arrivals(spec, 3 * HOUR, _rng(11))
    b = generate_arrivals(spec, 3 * HOUR, _rng(11))
    c = generate_arrivals(spec, 3 * HOUR, _rng(12))
    np.testing.assert_array_equal(a, b)
    assert a.size != c.size or not np.array_equal(a, c)
    _check_arrivals(a, 3 * HOUR)


def test_bad_horizon_is_an_input_error():
    with pytest.raises(InputError) as info:
        generate_arrivals(PoissonTraffic(rate_rps=1), 0.0, _rng())
    assert info.value.field == "horizon"


# --- popularity and model assignment -----------------------------------------------------------------

def test_zipf_probabilities():
    names = [f"m{i}" for i in range(6)]
    p = Popularity(zipf=0.9).probabilities(names)
    assert p.sum() == pytest.approx(1.0)
    ratios = p * (np.arange(1, 7) ** 0.9)
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-12)
    np.testing.assert_allclose(Popularity(zipf=0).probabilities(names), np.full(6, 1 / 6))


def test_weights_probabilities_and_unknown_name():
    p = Popularity(weights={"b": 3, "a": 1}).probabilities(["a", "b", "c"])
    np.testing.assert_allclose(p, [0.25, 0.75, 0.0])
    with pytest.raises(InputError) as info:
        Popularity(weights={"fraud-xbg": 1}).probabilities(["fraud-xgb", "churn"])
    assert info.value.field.startswith("traffic.popularity.weights")
    assert "fraud-xgb" in str(info.value)


@pytest.mark.statistical
def test_assign_models_matches_probabilities():
    p = np.array([0.5, 0.3, 0.0, 0.2])
    n = 200_000
    idx = assign_models(p, n, _rng())
    assert idx.dtype == np.int32 and idx.shape == (n,)
    freq = np.bincount(idx, minlength=4) / n
    sd = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(freq - p) <= 4 * sd + 1e-12)
    assert freq[2] == 0.0
    np.testing.assert_array_equal(assign_models(np.array([1.0]), 5, _rng()), np.zeros(5, np.int32))


# --- traces ------------------------------------------------------------------------------------------

def _load(path: Path, **fields) -> tuple:
    spec = TraceTraffic(trace=str(path), **fields)
    return spec, load_trace(path, spec)


@pytest.mark.parametrize(("name", "n", "rate"), [
    ("AzureLLMInferenceTrace_code.csv", 8819, 2.6),
    ("AzureLLMInferenceTrace_conv.csv", 19366, 5.5),
])
def test_azure_llm_traces(name, n, rate, data_file):
    path = data_file("traces", name)
    spec, trace = _load(path)
    assert trace.n_requests == n and trace.times_s.size == n
    assert trace.times_s[0] == 0.0 and np.all(np.diff(trace.times_s) >= 0)
    assert 3300 < trace.span_s <= 3600  # about an hour
    assert trace.mean_rate_rps == pytest.approx(rate, abs=0.1)
    assert trace.source == str(path)
    times = generate_arrivals(spec, 10 * HOUR, _rng(), trace)
    np.testing.assert_array_equal(times, trace.times_s)  # no wrap-around past the span
    head = generate_arrivals(spec, 600.0, _rng(), trace)
    assert head.size == np.count_nonzero(trace.times_s < 600.0)


def test_azure_functions_end_minus_duration(data_file):
    path = data_file("traces", "azure-functions-2021-sample.csv")
    _, trace = _load(path)
    # The file holds 199 data rows (`wc -l` shows 198: there is no final newline); every row is a valid
    # invocation.
    assert trace.n_requests == 199
    frame = pd.read_csv(path)
    arrivals = np.sort((frame["end_timestamp"] - frame["duration"]).to_numpy())
    np.testing.assert_allclose(trace.times_s, arrivals - arrivals[0], atol=1e-9)
    assert trace.span_s == pytest.approx(arrivals[-1] - arrivals[0])
    _, by_func = _load(path, model_column="func")
    assert by_func.models.shape == (199,) and set(by_func.models) == set(frame["func"])


@pytest.mark.statistical
@pytest.mark.parametrize("m", [0.5, 2.0, 2.5])
def test_trace_rate_multiplier_scales_count(m, data_file):
    spec, trace = _load(data_file("traces", "AzureLLMInferenceTrace_code.csv"), rate_multiplier=m)
    times = generate_arrivals(spec, 2 * HOUR, _rng(), trace)
    _check_arrivals(times, 2 * HOUR)
    n = trace.n_requests
    frac = m - math.floor(m)
    sd = math.sqrt(n * (m * (1 - m) if m < 1 else frac * (1 - frac)))
    assert abs(times.size - m * n) <= 4 * sd + 0.5
    if m == 2.0:
        assert times.size == 2 * n  # whole multiples are exact


def test_trace_model_column_follows_replication(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("t,model\n0,a\n1,b\n2,a\n3,b\n")
    spec, trace = _load(path, model_column="model", rate_multiplier=3)
    times, models = replay_trace(trace, 100.0, _rng(), spec.rate_multiplier)
    assert times.size == models.size == 12
    np.testing.assert_array_equal(np.floor(times), np.repeat([0, 1, 2, 3], 3))
    np.testing.assert_array_equal(models, np.repeat(["a", "b", "a", "b"], 3))
    np.testing.assert_array_equal(trace_model_indices(models, ["b", "a"]), np.repeat([1, 0, 1, 0], 3))
    with pytest.raises(InputError, match="Did you mean 'a'"):
        trace_model_indices(np.array(["A"], dtype=object), ["a", "b"], source=str(path))


def test_unsorted_numeric_trace_is_sorted(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("arrival_s,model\n105.5,x\n100,y\n103,z\n")
    _, trace = _load(path, model_column="model")
    np.testing.assert_allclose(trace.times_s, [0.0, 3.0, 5.5])
    np.testing.assert_array_equal(trace.models, ["y", "z", "x"])
    assert trace.span_s == 5.5


def test_time_column_choice(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("id,when,Time\n9,50,7\n8,10,8\n")
    _, by_name = _load(path)
    np.testing.assert_allclose(by_name.times_s, [0.0, 1.0])  # "Time" matched case-insensitively
    _, explicit = _load(path, time_column="when")
    np.testing.assert_allclose(explicit.times_s, [0.0, 40.0])
    with pytest.raises(InputError) as info:
        _load(path, time_column="wehn")
    assert info.value.field == "traffic.time_column" and "when" in str(info.value)


def _write_counts(path: Path, counts: list[int], header: str = "Timestamp,Invocations") -> None:
    rows = [f"2024-03-01 10:{i:02d}:00,{c}" for i, c in enumerate(counts)]
    path.write_text(header + "\n" + "\n".join(rows) + "\n")


@pytest.mark.parametrize("header", ["Timestamp,Invocations", "timestamp,count"])
def test_count_trace_regenerates_exact_counts_inside_each_minute(tmp_path, header):
    counts = [3, 0, 17, 250, 1, 40]
    path = tmp_path / "invocations.csv"
    _write_counts(path, counts, header)
    spec, trace = _load(path)
    assert trace.is_counts and trace.times_s is None
    assert trace.interval_s == 60.0 and trace.span_s == 360.0 and trace.n_requests == sum(counts)
    times = generate_arrivals(spec, DAY, _rng(), trace)
    _check_arrivals(times, DAY)
    assert times.size == sum(counts)
    np.testing.assert_array_equal((times // 60).astype(int), np.repeat(np.arange(6), counts))
    other = generate_arrivals(spec, DAY, _rng(99), trace)
    assert not np.array_equal(times, other)


@pytest.mark.statistical
def test_count_trace_uniform_within_interval_and_multiplier(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("minute,n\n" + "\n".join(f"{60 * i},{1000}" for i in range(30)) + "\n")
    spec, trace = _load(path, count_column="n", time_column="minute", rate_multiplier=0.5)
    times = generate_arrivals(spec, DAY, _rng(), trace)
    assert abs(times.size - 15000) <= 4 * math.sqrt(30000 * 0.25)
    offsets = np.fmod(times, 60.0) / 60.0
    assert offsets.mean() == pytest.approx(0.5, abs=4 * math.sqrt(1 / 12 / times.size))
    spec2 = TraceTraffic(trace=str(path), count_column="n", rate_multiplier=2)
    assert generate_arrivals(spec2, DAY, _rng(), trace).size == 60000


def test_count_trace_explicit_interval_and_unsorted_rows(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("t,Sum\n600,2\n0,5\n300,1\n")
    spec, trace = _load(path, interval_s="5m")
    times = generate_arrivals(spec, DAY, _rng(), trace)
    np.testing.assert_array_equal((times // 300).astype(int), [0] * 5 + [1] + [2] * 2)
    assert trace.span_s == 900.0


def test_missing_file_is_an_input_error(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(InputError) as info:
        _load(path)
    assert info.value.field == "traffic.trace"
    assert info.value.source == str(path)
    assert str(path) in str(info.value)


def test_text_time_column_is_an_input_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("timestamp,user\n2024-01-01 00:00:00,ann\nnot a time,bob\n")
    with pytest.raises(InputError) as info:
        _load(path)
    assert info.value.field == "traffic.trace" and info.value.source == str(path)
    assert "not a time" in str(info.value) and "timestamps" in str(info.value)
    with pytest.raises(InputError) as info:
        _load(path, time_column="user")
    assert info.value.field == "traffic.time_column" and info.value.source == str(path)


@pytest.mark.parametrize(("text", "fields", "field"), [
    ("", {}, "traffic.trace"),
    ("timestamp\n", {}, "traffic.trace"),
    ("Timestamp,Invocations\n0,5\n60,-2\n", {}, "traffic.trace"),
    ("Timestamp,Invocations\n0,5\n60,2.5\n", {}, "traffic.trace"),
    ("Timestamp,Invocations\n0,5\n", {}, "traffic.interval_s"),
    ("t,n\n0,5\n60,x\n", {"count_column": "n"}, "traffic.count_column"),
    ("t,n\n0,5\n", {"count_column": "calls"}, "traffic.count_column"),
    ("t,model\n0,a\n1,\n", {"model_column": "model"}, "traffic.model_column"),
    ("t\n0\n\n1\nNaN\n", {}, "traffic.trace"),
])
def test_bad_trace_files(tmp_path, text, fields, field):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        _load(path, **fields)
    assert info.value.field == field
    assert info.value.source == str(path)


def test_trace_spec_needs_a_loaded_trace():
    with pytest.raises(ValueError, match="load_trace"):
        generate_arrivals(TraceTraffic(trace="x.csv"), 10.0, _rng())


@given(st.lists(st.integers(0, 6), max_size=300), st.integers(7, 9))
def test_requests_per_model_are_the_scan_s(idx, models):
    """`Scenario.for_model` groups the requests by model once; each group must be exactly the requests naming
    that model, in arrival order, and empty for a model nobody names."""
    from sim.catalog import load_catalog
    from sim.distributions import Constant
    from sim.model import ModelSpec
    from sim.scenario import build_scenario

    ms = [ModelSpec(name=f"m{i}", service_time=Constant(value_ms=1)) for i in range(models)]
    mi = np.asarray(idx, np.int32)
    sc = build_scenario(ms, np.arange(mi.size, dtype=float), mi, float(mi.size + 1), load_catalog(), 0)
    for i in range(models):
        assert np.array_equal(sc.for_model(i), np.flatnonzero(mi == i))
