"""A run gives its memory back when it ends (issue 6: a week of traffic is hundreds of MB per run).

Data planes are held by the control processes that drive them, and a SimPy process waiting on an event is in
a reference cycle with it. If those cycles outlive the run, a week's per-request arrays stay in memory until
the next full garbage collection, and two right-sizing workers each hold one extra week: the flagship's peak
went from 1.8 to 3.6 GB that way. `Engine.run_until` cuts the cycles; this checks that no option leaves a
data plane, an engine or a per-request array for the cyclic collector.
"""

from __future__ import annotations

import gc
from array import array
from pathlib import Path

import numpy as np
import pytest

from fitness.workload.scenario import build
from fitness.workload.spec import load_workload
from sim.options import load_all, option_def

ROOT = Path(__file__).resolve().parents[1]


def _garbage_after(run) -> list:
    """Objects that only the cyclic collector would free once `run()` has returned."""
    gc.collect()
    flags = gc.get_debug()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        run()
        gc.collect()
        return list(gc.garbage)
    finally:
        gc.set_debug(flags)
        gc.garbage.clear()


@pytest.mark.parametrize("example", ["fraud-detection.yaml", "nlp-pipeline.yaml", "multi-tenant-saas.yaml"])
@pytest.mark.parametrize("option", list(load_all()))
def test_a_finished_run_leaves_no_cycles_holding_its_data_plane(example, option):
    wl = load_workload(ROOT / "examples" / example)
    sc = build(wl.model_copy(update={"horizon": min(wl.horizon, 1800.0)}))  # cycles do not need hours
    opt, cfg = option_def(option), wl.option_config(option)
    left = _garbage_after(lambda: opt.simulate(sc, cfg))
    held = [type(o).__name__ for o in left
            if type(o).__module__.startswith("sim.") or isinstance(o, array | np.ndarray)]
    assert not held, f"{option} on {example} left {sorted(set(held))} to the cyclic collector"
