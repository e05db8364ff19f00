"""The request timeout, in one place: a response later than the limit is an error at the limit.

On real-time hosting (real-time, multi-model, multi-container endpoints, inference pipelines, Triton) a
response later than `timeout_s` after its arrival reaches the caller as an error at arrival + timeout,
and the instance still does the work: the container does not know the caller gave up. No state of the
data plane depends on the timeout there, so the data planes record when the work finished and
`time_out` relabels the late responses of the log after the run, in one vectorised pass. Nothing reads
a request's finish or status during a run: the autoscalers count arrivals, the pools count their own
completions, and `flow.compose` reads an endpoint's log only once that endpoint's run is over.

Where the platform stops the work at the limit, the capped time is what a container or worker is held
for and the data plane applies the rule as it serves: serverless containers with the limit counted from
arrival (inline in `OnDemandContainers.advance`, the same arithmetic as `time_out`), asynchronous
workers with the limit on processing time, counted from the start (`stop_at`).
"""

from __future__ import annotations

import math
from array import array

import numpy as np

from sim.components.seq import floats
from sim.results import FAILED, RequestLog

_CHUNK = 1 << 20
"""Requests relabelled per pass, so a week's log needs no second week-long temporary array."""


def time_out(log: RequestLog, timeout_s: float) -> None:
    """Relabel every response later than `timeout_s` after its arrival: FAILED, finishing at arrival +
    timeout (requests without a finish, such as throttled ones, are left alone)."""
    if timeout_s == math.inf:
        return
    arrival, finish, status = log.arrival_s, log.finish_s, log.status
    for lo in range(0, log.n, _CHUNK):
        a, f = arrival[lo:lo + _CHUNK], finish[lo:lo + _CHUNK]
        late = f - a > timeout_s
        if late.any():
            status[lo:lo + _CHUNK][late] = FAILED
            f[late] = a[late] + timeout_s


def stop_at(work_s: np.ndarray, limit_s: float) -> tuple[array, np.ndarray]:
    """Work stopped at a processing-time limit: (seconds a worker is held, min(work, limit), as the compact
    sequence a data plane reads; True where the work ran past the limit and the request fails). The few
    requests past the limit are capped in place, so a week of work is not copied twice."""
    held = floats(work_s)
    late = np.asarray(work_s) > limit_s
    for k in np.flatnonzero(late).tolist():
        held[k] = limit_s
    return held, late
