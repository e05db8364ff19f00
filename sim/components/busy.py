"""Busy time of a fleet's workers over a period: what CPUUtilization measures, read from the request log.

SageMaker's CPUUtilization is the sum of each core's utilisation on an instance (0-400% on 4 vCPUs). The
simulator runs one request per worker and, as sized by default, one worker per vCPU, so a busy worker is
a busy core: busy worker-seconds / (period x workers) is the share of an instance's workers busy, the
metric CPU target tracking reads (`BusyMeter`), and that share times the workers is CPUUtilization in
AWS's units (the export converts the target). Time a request spends waiting for a model load is not
counted; neither is the container's own CPU outside requests.
"""

from __future__ import annotations

import numpy as np


class BusyMeter:
    """meter(t0, t1): busy worker-seconds in [t0, t1) of the requests `pool` has routed so far (its `log`,
    `_idx` positions, `_next` routed count), sum of max(0, min(finish, t1) - max(start, t0)).

    Requests in arrival order before `lo` all finished before an earlier period's start, so each call looks
    only at the requests still in the system (a request waiting for a load has no finish yet and keeps
    its place)."""

    def __init__(self, pool) -> None:
        self.pool, self.lo = pool, 0

    def __call__(self, t0: float, t1: float) -> float:
        pool = self.pool
        k, idx = pool._next, pool._idx
        every = isinstance(idx, range) or len(idx) == 0
        pos = np.arange(self.lo, k) if every else np.asarray(idx[self.lo:k], np.int64)
        start, finish = pool.log.start_s[pos], pool.log.finish_s[pos]
        done = finish <= t0  # NaN (still waiting): not done
        self.lo += int(np.argmin(done)) if not done.all() else int(done.size)
        return float(np.nansum(np.clip(np.minimum(finish, t1) - np.maximum(start, t0), 0.0, None)))
