"""Invariants every simulated option must keep, shared by the hypothesis tests of each option."""

from __future__ import annotations

import numpy as np

from sim.metrics import request_counts, summary
from sim.results import FAILED, THROTTLED


def explained(res) -> bool:
    """True for a feasible result (the invariants apply); an infeasible one must say why."""
    if not res.feasible:
        assert res.reasons
    return res.feasible


def check_common(res, sc) -> None:
    """offered = served + throttled + failed; nothing starts or finishes before it arrives; a throttled
    request has no finish; costs, capacity and the summary's costs are never negative."""
    log = res.log
    counts = request_counts(log)
    assert counts.offered == sc.n == counts.served + counts.throttled + counts.failed
    done = log.status != THROTTLED
    started = done & ~((log.status == FAILED) & np.isnan(log.start_s))  # lost with a failed instance before it began
    assert np.all(log.start_s[started] >= log.arrival_s[started])
    assert np.all(log.finish_s[done] >= log.arrival_s[done])
    assert np.all(np.isnan(log.finish_s[~done]))
    assert all(v >= 0 for v in res.cost_usd.values())
    assert np.all(res.capacity.values >= 0)
    s = summary(res)
    assert s.cost_usd.total >= 0 and s.cost_usd.monthly >= 0
