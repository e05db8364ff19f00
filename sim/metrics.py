"""Metrics of a simulated option: pure functions of the result, units in the names.

`summary` assembles the result object of DESIGN §3 (`sim.summary.Summary`, whose `to_json()` is the
`simulate --format json` contract).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from sim.cost import monthly_usd, per_million_usd
from sim.jit import kernel, warm_up
from sim.results import FAILED, SERVED, THROTTLED, RequestLog, SimResult
from sim.summary import Backlog, ColdStarts, Cost, Instances, Latency, Requests, Summary, Wait

PERCENTILES = (50, 95, 99)
SECTIONS = 10
"""Equal spans of arrival time a run is cut into for the interval on its p99 (`p99_interval_ms`)."""
T_975_9 = 2.2622
"""Student's t quantile 0.975 with SECTIONS - 1 = 9 degrees of freedom: a two-sided 95% interval."""
MIN_SECTION = 100
"""Served requests a section needs for its p99 to mean anything (at least one request above it)."""


def _window(log: RequestLog, since_s: float) -> np.ndarray:
    """Mask of requests arriving at or after `since_s` (warm-up removal)."""
    return log.arrival_s >= since_s


def request_counts(log: RequestLog, since_s: float = 0.0) -> Requests:
    """Offered, served, throttled and failed request counts; offered = served + throttled + failed."""
    return _counts(log.status[_window(log, since_s)])


def _counts(st: np.ndarray) -> Requests:
    """`request_counts` of the statuses of the requests counted."""
    codes = st.view(np.uint8) if st.dtype == np.int8 else st.astype(np.intp)  # statuses are 0, 1, 2
    by = np.bincount(codes, minlength=3) if st.size else np.zeros(3, np.int64)  # one pass, not three
    return Requests(int(st.size), int(by[SERVED]), int(by[THROTTLED]), int(by[FAILED]))


def latency_s(log: RequestLog, since_s: float = 0.0) -> np.ndarray:
    """End-to-end latency of served requests: finish_s - arrival_s, seconds."""
    m = _window(log, since_s) & (log.status == SERVED)
    return log.finish_s[m] - log.arrival_s[m]


def queue_wait_s(log: RequestLog, since_s: float = 0.0) -> np.ndarray:
    """Wait before service starts for served requests: start_s - arrival_s, seconds (cold starts included)."""
    m = _window(log, since_s) & (log.status == SERVED)
    return log.start_s[m] - log.arrival_s[m]


def distribution_ms(values_s: np.ndarray) -> Latency:
    """mean, p50, p95, p99 and max of seconds, reported in milliseconds; None when empty."""
    return _distribution(values_s * 1000.0)


def _ranks(n: int, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """numpy's linear-method ranks of quantiles `q` among n sorted values: (lower, upper, weight), the ranks
    clipped to the array as numpy clips them (-1: the last)."""
    virtual = (n - 1) * q
    below = np.floor(virtual)
    nxt = below + 1
    top = virtual >= n - 1
    below[top], nxt[top] = -1, -1
    bottom = virtual < 0
    below[bottom], nxt[bottom] = 0, 0
    lo = below.astype(np.intp)
    return lo, nxt.astype(np.intp), np.asanyarray(virtual - lo, dtype=virtual.dtype)


def _lerp(a: np.ndarray, b: np.ndarray, gamma: np.ndarray) -> np.ndarray:
    """numpy's interpolation between order statistics: from the nearer end, so that weight 1 gives b exactly."""
    diff = b - a
    out = np.add(a, diff * gamma)
    np.subtract(b, diff * (1 - gamma), out=out, where=gamma >= 0.5)
    return out


def sorted_quantiles(ordered: np.ndarray, q) -> np.ndarray:
    """`np.quantile(ordered, q)` (its default, linear method) of values already sorted ascending, by numpy's
    own formulas, bit for bit: rank (n - 1) q, its floor and the next rank clipped to the array, and numpy's
    two-sided interpolation between them. No selection pass: on a sorted array numpy's still costs as much
    as the sort (500 ranks of 864,000 values: 14.7 ms -> 0.05 ms, 2026-12-08)."""
    lo, hi, gamma = _ranks(ordered.size, np.array(q, dtype=np.float64, ndmin=1))
    out = _lerp(ordered[lo], ordered[hi], gamma)
    if ordered.size and np.isnan(ordered[-1]):
        out[...] = np.nan  # numpy's answer for an array holding a NaN (sorted last)
    return out


def tail_percentile(values: np.ndarray, p: float, threshold: float) -> float:
    """`np.percentile(values, p)` of unsorted values for a high `p`, bit for bit, from the values at or above
    `threshold` when they hold its two ranks (`_bracketed`: a p99 over a 95th percentile sorts 5% of them);
    else numpy's own. Reorders nothing."""
    q = np.true_divide(np.array([p], dtype=np.float64), 100)
    return float(_bracketed(values, q, lambda k, rank: (threshold, math.inf))[0])


SAMPLE_STRIDE = 64
"""`sampled_percentiles` places its brackets on every 64th value, sorted."""


def sampled_percentiles(values: np.ndarray, p) -> np.ndarray:
    """`np.percentile(values, p)` of unsorted values, bit for bit, without sorting them all: a sample of every
    `SAMPLE_STRIDE`-th value, sorted, brackets each rank asked between two of its values, four standard
    deviations of the sample's rank apart (`_bracketed`). A small array: numpy's own answer, from a sort
    (864,000 latencies, p50, p95 and p99: a quarter of a sort's time, 2026-12-08)."""
    q = np.true_divide(np.array(p, dtype=np.float64, ndmin=1), 100)
    n = values.size
    if n < 50 * SAMPLE_STRIDE:
        return sorted_quantiles(np.sort(values), q)
    sample = np.sort(values[::SAMPLE_STRIDE])
    m = sample.size

    def bracket(k: int, rank: int) -> tuple[float, float]:
        at = rank / (n - 1) * (m - 1)
        half = 4.0 * math.sqrt(max(q[k] * (1 - q[k]) * m, 1.0)) + 2.0
        return sample[max(0, int(at - half))], sample[min(m - 1, int(math.ceil(at + half)))]

    return _bracketed(values, q, bracket)


def _bracketed(values: np.ndarray, q: np.ndarray, bracket) -> np.ndarray:
    """`np.quantile(values, q)` bit for bit, each quantile's two ranks read among the values inside
    `bracket(k, lower rank)` -> [low, high] alone: those below are counted, those inside sorted (none when
    low == high: they are all that value). A bracket that misses its ranks, or a NaN (numpy then answers
    NaN): numpy's answer from a sort."""
    n = values.size
    if not n or np.isnan(values).any():
        return sorted_quantiles(np.sort(values), q)
    lo, hi, gamma = _ranks(n, q)
    lo, hi = np.where(lo < 0, n + lo, lo), np.where(hi < 0, n + hi, hi)
    a, b = np.empty(q.size), np.empty(q.size)
    for k in range(q.size):
        low, high = bracket(k, int(lo[k]))
        below = int(np.count_nonzero(values < low))
        inside = values[(values >= low) & (values <= high)] if low < high else None
        size = inside.size if inside is not None else int(np.count_nonzero(values == low))
        if not below <= lo[k] <= hi[k] < below + size:
            return sorted_quantiles(np.sort(values), q)
        if inside is None:
            a[k] = b[k] = low
        else:
            part = np.sort(inside)
            a[k], b[k] = part[lo[k] - below], part[hi[k] - below]
    return _lerp(a, b, gamma)


def _distribution(ms: np.ndarray) -> Latency:
    """`distribution_ms` of values already in milliseconds."""
    if ms.size == 0:
        return Latency(None, None, None, None, None)
    p50, p95, p99 = (float(v) for v in sampled_percentiles(ms, PERCENTILES))
    return Latency(float(ms.mean()), p50, p95, p99, float(ms.max()))


def p99_interval_ms(log: RequestLog, horizon_s: float, since_s: float = 0.0,
                    p99_ms: float | None = None) -> tuple[float, float] | None:
    """A 95% interval on the p99 latency of a run by sectioning (Asmussen and Glynn, Stochastic Simulation,
    2007, ch. III.5), ms: the p99 of the served requests arriving from `since_s`, plus and minus
    t(0.975, 9) x sd(p99 of each of `SECTIONS` equal spans of arrival time) / sqrt(SECTIONS).

    It measures how much the p99 moves between parts of the run, not the bias of a short run at a high load
    (a run that has not settled yet is low in every section alike: `fitness.engine.horizon` warns about
    that); traffic that changes over the run makes the sections differ by the traffic too, so the
    interval is then wider than the noise alone. None when a section has fewer than `MIN_SECTION` served
    requests; (p99, p99) when every section has the same p99 (nothing random). `p99_ms`: the run's p99 when
    the caller has it already (`summary`)."""
    m = _window(log, since_s) & (log.status == SERVED)
    return _sectioned(log.arrival_s[m], (log.finish_s[m] - log.arrival_s[m]) * 1000.0, horizon_s, since_s, p99_ms)


def _sectioned(arrival: np.ndarray, lat_ms: np.ndarray, horizon_s: float, since_s: float,
               p99_ms: float | None, p95_ms: float | None = None) -> tuple[float, float] | None:
    """`p99_interval_ms` of the served requests' arrivals (sorted) and latencies (ms); `p99_ms`, `p95_ms`: the
    run's, when known."""
    cuts = np.searchsorted(arrival, np.linspace(since_s, horizon_s, SECTIONS + 1)[1:-1])  # arrivals are sorted
    parts = np.split(lat_ms, cuts)
    if min(p.size for p in parts) < MIN_SECTION:
        return None
    center = float(np.percentile(lat_ms, 99)) if p99_ms is None else p99_ms
    # each section's p99 from its values above the run's p95 (`tail_percentile`: numpy's, fewer values sorted)
    rough = float(np.percentile(lat_ms, 95)) if p95_ms is None else p95_ms
    sections = np.array([tail_percentile(p, 99, rough) for p in parts])
    half = T_975_9 * float(sections.std(ddof=1)) / math.sqrt(SECTIONS)
    return center - half, center + half


def wait_ms(values_s: np.ndarray) -> Wait:
    """mean, p50, p95 and p99 of seconds, reported in milliseconds; None when empty."""
    d = distribution_ms(values_s)
    return Wait(d.mean, d.p50, d.p95, d.p99)


def cold_starts(log: RequestLog, since_s: float = 0.0) -> ColdStarts:
    """Cold starts met by served requests: count, and fraction = count / served."""
    m = _window(log, since_s) & (log.status == SERVED)
    count = int(np.sum(log.cold[m]))
    served = int(np.sum(m))
    return ColdStarts(count, count / served if served else 0.0)


def cost_summary(result: SimResult, served: int) -> Cost:
    """Total over the horizon, monthly projection (730 h), per million served, and the breakdown; USD."""
    total = float(sum(result.cost_usd.values()))
    return Cost(total, monthly_usd(total, result.horizon_s), per_million_usd(total, served),
                {k: float(v) for k, v in result.cost_usd.items()})


def instances(result: SimResult, since_s: float = 0.0) -> Instances:
    """Mean and max instances (containers for serverless).

    Options billed per instance report `instance_seconds`: their mean is instance_seconds / horizon, the
    instances paid for on average (launching ones and a batch job run at the horizon included). Others
    use the time-average of the capacity timeline. The max covers the whole run.
    """
    cap = result.capacity
    peak = cap.max(math.inf) if cap is not None else 0.0
    seconds = result.figures.instance_seconds
    if seconds is not None and since_s == 0.0:
        return Instances(seconds / result.horizon_s, peak)
    return Instances(cap.mean(result.horizon_s, since_s) if cap is not None else 0.0, peak)


def served_latencies_ms(log: RequestLog, since_s: float = 0.0) -> tuple[np.ndarray, np.ndarray, int]:
    """(end-to-end latency (ms) of each served request arriving from `since_s` on, in the log's order; the
    requests arriving then counted by status (served, throttled, failed); the served ones that met a cold
    start): numpy's `(finish[ok] - arrival[ok]) * 1000` and counts, in one compiled pass over the log."""
    out, by = np.empty(log.n), np.zeros(3, np.int64)
    served, cold = _served_pass(log.arrival_s, log.finish_s, log.status, log.cold, float(since_s), out, by)
    return out[:served], by, int(cold)


@kernel
def _served_pass(arrival_s, finish_s, status, cold, since_s, out, by):
    served, colds = 0, 0
    for i in range(arrival_s.size):
        if arrival_s[i] >= since_s:
            st = status[i]
            by[st] += 1
            if st == 0:  # SERVED
                out[served] = (finish_s[i] - arrival_s[i]) * 1000.0
                served += 1
                colds += cold[i]
    return served, colds


@warm_up
def _warm() -> None:
    """The kernel once, with the types a request log holds."""
    served_latencies_ms(RequestLog.empty(np.zeros(2), np.zeros(2, np.int32)))


def summary(result: SimResult, since_s: float = 0.0, brief: bool = False) -> Summary:
    """The DESIGN §3 result of one option, over the requests arriving from `since_s` on (None where nothing
    was measured).

    `utilization` (an addition to the contract) is busy worker-seconds / paid worker-seconds over the
    whole horizon: the share of capacity paid for that did work. `brief`: without the queue wait and the
    interval on the p99 (`completed` adds them), which only the configuration reported needs: a
    right-sizing trial is judged on the rest.
    """
    head = Summary(result.option, result.feasible, tuple(result.reasons), result.config)
    if not result.feasible or result.log is None:
        return head
    log = result.log
    backlog, jobs = result.figures.backlog, result.figures.jobs
    lat_ms, by, cold = served_latencies_ms(log, since_s)
    counts = Requests(int(by.sum()), int(by[SERVED]), int(by[THROTTLED]), int(by[FAILED]))
    latency = _distribution(lat_ms)
    s = replace(
        head, requests=counts, latency_ms=latency,
        cold_starts=ColdStarts(cold, cold / counts.served if counts.served else 0.0),
        instances=instances(result, since_s), cost_usd=cost_summary(result, counts.served),
        utilization=result.figures.utilization, cache=result.cache,
        # options with a queue: requests waiting or in process over time
        backlog=Backlog(backlog.mean(result.horizon_s, since_s), backlog.max(result.horizon_s))
        if backlog is not None else None,
        jobs=jobs)
    return s if brief else completed(s, result, since_s)


def completed(s: Summary, result: SimResult, since_s: float = 0.0) -> Summary:
    """A `brief` summary of `result` (over the requests arriving from `since_s` on) with what it left out: the
    queue wait and the interval on the p99. A complete one, or one of a run without its log, is returned as
    it is."""
    if s.queue_wait_ms is not None or s.latency_ms is None or result.log is None:
        return s
    log = result.log
    ok = _window(log, since_s) & (log.status == SERVED)
    arrival = log.arrival_s[ok]
    lat_ms = (log.finish_s[ok] - arrival) * 1000.0
    return replace(s, queue_wait_ms=wait_ms(log.start_s[ok] - arrival),
                   p99_interval_ms=_sectioned(arrival, lat_ms, result.horizon_s, since_s, s.latency_ms.p99,
                                                  s.latency_ms.p95))
