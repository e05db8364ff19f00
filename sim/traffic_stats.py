"""Characterising a request trace: pure functions of arrival times (seconds) and the horizon."""

from __future__ import annotations

import math

import numpy as np

from sim.jit import allocating, inlined, kernel, warm_up

MINUTE_S = 60.0
HOUR_S = 3600.0
DAY_S = 86400.0


def window_index(arrivals_s: np.ndarray, window_s: float, bins: int) -> np.ndarray:
    """The aligned window [k w, (k+1) w) of each arrival, k = floor(arrival / w) as numpy's `//` computes it,
    the last of `bins` windows taking everything from its start on (int64)."""
    return _window_index(np.ascontiguousarray(arrivals_s, dtype=np.float64), float(window_s), int(bins))


@allocating
def _window_index(arrivals_s, window_s, bins):
    # numpy's float floor division costs more than the rest of a digest on a million requests; numba's `//`
    # is the same Python floor division (fmod, then the quotient rounded), so the windows are the same
    n, last = arrivals_s.size, bins - 1
    out = np.empty(n, np.int64)
    if not _ascending(arrivals_s):  # every arrival on its own
        for j in range(n):
            out[j] = _window(arrivals_s[j], window_s, last)
        return out
    i = 0
    while i < n:  # sorted: the window is non-decreasing, so each one's run ends where a bisection says
        k = _window(arrivals_s[i], window_s, last)
        end = _run_end(arrivals_s, i, k, window_s, last)
        out[i:end] = k
        i = end
    return out


@inlined
def _window(arrival_s, window_s, last):
    return min(max(int(arrival_s // window_s), 0), last)


def scaled_gaps(arrivals_s: np.ndarray, counts: np.ndarray, window_s: float) -> np.ndarray:
    """Each gap between consecutive arrivals (sorted, s) times the rate of the window the later one falls in:
    gap x count / `window_s`, `counts` per aligned window (`per_window_counts`), as numpy computes
    `np.diff(a) * counts[window_index(a[1:])] / window_s`, without its four temporary arrays."""
    return _scaled_gaps(np.ascontiguousarray(arrivals_s, dtype=np.float64),
                        np.ascontiguousarray(counts, dtype=np.int64), float(window_s))


@allocating
def _scaled_gaps(arrivals_s, counts, window_s):
    n, last = arrivals_s.size, counts.size - 1
    out = np.empty(max(n - 1, 0), np.float64)
    if not _ascending(arrivals_s):
        for i in range(1, n):
            out[i - 1] = (arrivals_s[i] - arrivals_s[i - 1]) * counts[_window(arrivals_s[i], window_s, last)] / window_s
        return out
    i = 1
    while i < n:  # sorted: window by window, its run of arrivals found by bisection (numba's `//` costs a call)
        k = _window(arrivals_s[i], window_s, last)
        end = _run_end(arrivals_s, i, k, window_s, last)
        for j in range(i, end):
            out[j - 1] = (arrivals_s[j] - arrivals_s[j - 1]) * counts[k] / window_s
        i = end
    return out


def busiest_index(arrivals_s: np.ndarray, length_s: float, horizon_s: float, noise_sd: float = 0.0) -> int:
    """Position of the earliest arrival (sorted, s) whose stretch [a, min(a + `length_s`, horizon)) holds at
    least top - `noise_sd` sqrt(top) arrivals, top the most any such stretch holds: numpy's
    `argmax(c >= c.max() - noise_sd * sqrt(c.max()))` of `c = searchsorted(a, minimum(a + length_s, horizon_s))
    - arange(n)`, exactly, without counting every stretch. The counts of a block of consecutive arrivals are
    bounded by where the stretches of its first and last end (they end in order), so only the blocks whose
    bound reaches the top, or the threshold, are counted one by one (a week of 12 million arrivals:
    0.24 s -> 0.03 s, 2026-12-08). Needs arrivals."""
    return int(_busiest_index(np.ascontiguousarray(arrivals_s, dtype=np.float64), float(length_s),
                              float(horizon_s), float(noise_sd), BLOCK))


BLOCK = 1024
"""Arrivals per block in `busiest_index`."""


@kernel
def _busiest_index(arrivals_s, length_s, horizon_s, noise_sd, block):
    n = arrivals_s.size
    blocks = (n + block - 1) // block
    floor = -1  # the most a stretch of some block surely holds (every block's least)
    for b in range(blocks):
        last = min(n, (b + 1) * block) - 1
        floor = max(floor, _end_of(arrivals_s, last, length_s, horizon_s) - last)
    top = floor
    for b in range(blocks):
        first, last = b * block, min(n, (b + 1) * block) - 1
        if _end_of(arrivals_s, last, length_s, horizon_s) - first >= top:  # may hold more than the top so far
            top = max(top, _best_in(arrivals_s, first, last, length_s, horizon_s, -1.0, True))
    threshold = top - noise_sd * math.sqrt(top)
    for b in range(blocks):
        first, last = b * block, min(n, (b + 1) * block) - 1
        if _end_of(arrivals_s, last, length_s, horizon_s) - first >= threshold:
            i = _best_in(arrivals_s, first, last, length_s, horizon_s, threshold, False)
            if i >= 0:
                return i
    return 0


@inlined
def _end_of(arrivals_s, i, length_s, horizon_s):
    # the first arrival at or after the end of arrival i's stretch (numpy's searchsorted, left side)
    end = min(arrivals_s[i] + length_s, horizon_s)
    lo, hi = i, arrivals_s.size
    while lo < hi:
        mid = (lo + hi) // 2
        if arrivals_s[mid] < end:
            lo = mid + 1
        else:
            hi = mid
    return lo


@inlined
def _best_in(arrivals_s, first, last, length_s, horizon_s, threshold, most):
    # most: the largest count of the stretches opened by arrivals first..last; else the first of them whose
    # count reaches threshold (-1 if none)
    n, j, best = arrivals_s.size, _end_of(arrivals_s, first, length_s, horizon_s), -1
    for i in range(first, last + 1):
        end = min(arrivals_s[i] + length_s, horizon_s)
        while j < n and arrivals_s[j] < end:
            j += 1
        if most:
            best = max(best, j - i)
        elif j - i >= threshold:
            return i
    return best


@warm_up
def _warm() -> None:
    """The kernels once, with the types callers pass."""
    window_index(np.zeros(2), 60.0, 1)
    scaled_gaps(np.zeros(3), np.ones(1, np.int64), 60.0)
    busiest_index(np.zeros(2), 60.0, 120.0, 3.0)
    per_window_counts(np.zeros(2), 120.0, 60.0)
    peak_window_share(np.zeros(2), np.zeros(2, bool), np.ones(2, np.int64), 1.0, 60.0)


def per_window_counts(arrivals_s: np.ndarray, horizon_s: float, window_s: float) -> np.ndarray:
    """Requests in each aligned window [k w, (k+1) w) up to the horizon: `bincount(window_index(...))`,
    counted by runs (sorted arrivals: a bisection per window, not a pass over every arrival)."""
    bins = max(1, int(np.ceil(horizon_s / window_s)))
    out = np.zeros(bins, np.int64)
    _window_counts(np.ascontiguousarray(arrivals_s, dtype=np.float64), float(window_s), out)
    return out


@kernel
def _window_counts(arrivals_s, window_s, out):
    n, last = arrivals_s.size, out.size - 1
    if not _ascending(arrivals_s):  # every arrival on its own
        for j in range(n):
            out[_window(arrivals_s[j], window_s, last)] += 1
        return
    i = 0
    while i < n:  # sorted: each window's run ends where a bisection says (numba's `//` costs per call)
        k = _window(arrivals_s[i], window_s, last)
        end = _run_end(arrivals_s, i, k, window_s, last)
        out[k] += end - i
        i = end


@inlined
def _ascending(arrivals_s):
    for i in range(1, arrivals_s.size):  # noqa: SIM110 - numba compiles no generator for all()
        if arrivals_s[i] < arrivals_s[i - 1]:
            return False
    return True


@inlined
def _run_end(arrivals_s, i, k, window_s, last):
    # the first arrival after i (sorted) in a later window than k
    n = arrivals_s.size
    if k == last:
        return n
    lo, hi = i + 1, n
    while lo < hi:
        mid = (lo + hi) // 2
        if _window(arrivals_s[mid], window_s, last) > k:
            hi = mid
        else:
            lo = mid + 1
    return lo


def peak_window_share(arrivals_s: np.ndarray, bad: np.ndarray, counts: np.ndarray, peak: float,
                      window_s: float) -> tuple[int, int]:
    """(requests arriving in windows of `window_s` whose count (`counts`, per aligned window) reaches `peak`,
    how many of them are `bad`): numpy's `in_peak = counts[window_index(...)] >= peak` and
    `bad[in_peak].sum()`, without the per-request arrays."""
    return _peak_window_share(np.ascontiguousarray(arrivals_s, dtype=np.float64), np.ascontiguousarray(bad),
                              np.ascontiguousarray(counts, dtype=np.int64), float(peak), float(window_s))


@kernel
def _peak_window_share(arrivals_s, bad, counts, peak, window_s):
    n, inside, worse, last = arrivals_s.size, 0, 0, counts.size - 1
    if not _ascending(arrivals_s):
        for i in range(n):
            if counts[_window(arrivals_s[i], window_s, last)] >= peak:
                inside += 1
                worse += bad[i]
        return inside, worse
    i = 0
    while i < n:  # sorted: window by window (its run of arrivals found by bisection)
        k = _window(arrivals_s[i], window_s, last)
        end = _run_end(arrivals_s, i, k, window_s, last)
        if counts[k] >= peak:
            inside += end - i
            for j in range(i, end):
                worse += bad[j]
        i = end
    return inside, worse


def daily_periodicity(arrivals_s: np.ndarray, horizon_s: float) -> float | None:
    """Autocorrelation of hourly counts at a 24 h lag (-1..1); None with under two days of trace.

    Near 1: the same daily shape repeats (diurnal traffic); near 0: no daily rhythm.
    """
    if horizon_s < 2 * DAY_S:
        return None
    hourly = per_window_counts(arrivals_s, horizon_s, HOUR_S).astype(float)
    a, b = hourly[:-24], hourly[24:]
    if a.std() == 0 or b.std() == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def characterise(arrivals_s: np.ndarray, horizon_s: float, idle_gap_s: float = MINUTE_S) -> dict:
    """Mean rate (req/s), peak (p99 of the per-minute rate, req/s), peak-to-mean, inter-arrival CV,
    idle-gap fraction (share of the horizon inside gaps longer than `idle_gap_s`), daily periodicity."""
    n = int(arrivals_s.size)
    mean = n / horizon_s if horizon_s > 0 else 0.0
    per_min = per_window_counts(arrivals_s, horizon_s, MINUTE_S) / MINUTE_S if n else np.zeros(1)
    peak = float(np.percentile(per_min, 99))
    gaps = np.diff(np.r_[0.0, arrivals_s, horizon_s])
    cv = float(np.std(gaps[1:-1]) / np.mean(gaps[1:-1])) if n > 2 and np.mean(gaps[1:-1]) > 0 else None
    idle = float(np.sum(gaps[gaps > idle_gap_s]) / horizon_s) if horizon_s > 0 else 0.0
    window = series_window_s(horizon_s)
    series = per_window_counts(arrivals_s, horizon_s, window) / window if n and horizon_s > 0 else np.zeros(0)
    return {"requests": n, "horizon_s": horizon_s, "mean_rps": mean, "peak_rps": peak,
            "peak_to_mean": peak / mean if mean > 0 else None, "interarrival_cv": cv,
            "idle_gap_fraction": idle, "idle_gap_s": idle_gap_s,
            "daily_periodicity": daily_periodicity(arrivals_s, horizon_s),
            "series_window_s": window, "rate_rps_series": [round(float(r), 4) for r in series]}


SERIES_POINTS = 500
"""At most this many windows in the offered-rate series (a chart's worth, whatever the horizon)."""


def series_window_s(horizon_s: float) -> float:
    """Window of the offered-rate series: whole minutes, at least one, at most `SERIES_POINTS` windows."""
    return MINUTE_S * max(1.0, math.ceil(horizon_s / SERIES_POINTS / MINUTE_S)) if horizon_s > 0 else MINUTE_S
