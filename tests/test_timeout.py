"""The request timeout (`sim.components.timeout`): one rule, applied to the log after the run where the
instance still does the work, and as the work is served where the platform stops it at the limit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim.application import Application
from sim.catalog import Catalog, load_catalog
from sim.components import timeout
from sim.components.timeout import stop_at, time_out
from sim.distributions import Constant, Exponential
from sim.model import BatchLatency, ModelSpec
from sim.options import load_all
from sim.results import FAILED, SERVED, THROTTLED, RequestLog
from sim.scenario import build_scenario, stream

CAT = load_catalog()


def _log(arrival, finish) -> RequestLog:
    log = RequestLog.empty(np.asarray(arrival, float), np.zeros(len(arrival), np.int32))
    log.finish_s[:] = finish
    return log


def test_a_response_later_than_the_limit_fails_at_the_limit():
    log = _log([0.0, 1.0, 2.0, 3.0, 4.0], [0.5, 3.0, 4.5, np.nan, 4.0])
    log.status[3] = THROTTLED
    time_out(log, 2.0)
    assert log.status.tolist() == [SERVED, SERVED, FAILED, THROTTLED, SERVED]  # exactly at the limit is in time
    assert log.finish_s[[0, 1, 2, 4]].tolist() == [0.5, 3.0, 4.0, 4.0]
    assert np.isnan(log.finish_s[3])


def test_no_limit_changes_nothing_and_every_chunk_is_relabelled(monkeypatch):
    log = _log([0.0, 0.0], [1e9, 1.0])
    time_out(log, math.inf)
    assert log.status.tolist() == [SERVED, SERVED] and log.finish_s.tolist() == [1e9, 1.0]
    monkeypatch.setattr(timeout, "_CHUNK", 3)
    arrival = np.arange(10.0)
    log = _log(arrival, arrival + np.r_[np.zeros(5), np.full(5, 9.0)])
    time_out(log, 5.0)
    assert log.status.tolist() == [SERVED] * 5 + [FAILED] * 5
    assert log.finish_s.tolist() == arrival[:5].tolist() + (arrival[5:] + 5.0).tolist()


def test_work_past_a_processing_limit_is_stopped_there():
    held, late = stop_at(np.array([1.0, 2.0, 3.0]), 2.0)
    assert held.tolist() == [1.0, 2.0, 2.0] and late.tolist() == [False, False, True]


def _with_timeout(timeout_s: float) -> Catalog:
    fact = CAT.realtime.timeout_s.model_copy(update={"value": timeout_s})
    return CAT.model_copy(update={"realtime": CAT.realtime.model_copy(update={"timeout_s": fact})})


CPU = [ModelSpec(name=f"m{i}", service_time=Exponential(mean_ms=200), memory_mb=200) for i in range(2)]
GPU = [ModelSpec(name="g", service_time=Exponential(mean_ms=200), memory_mb=1000, accelerator="gpu",
                 batch_latency=BatchLatency(fixed_ms=150, per_item_ms=50))]
# Every option whose instances still do the work of a request the caller gave up on: (models, application,
# knobs, req/s), overloaded on one instance so that queues outgrow the limit.
RELABELLED = {
    "realtime": (CPU[:1], None, {"instance_type": "ml.c5.large", "instance_count": 1, "workers_per_instance": 1}, 8),
    "multi-model": (CPU, None, {"instance_type": "ml.c5.large", "instance_count": 1, "workers_per_instance": 1}, 8),
    "multi-container": (CPU, None, {"instance_type": "ml.c5.large", "instance_count": 1}, 16),  # 2 vCPUs shared
    "inference-pipeline": (CPU, Application("serial", steps=(0, 1)),
                           {"instance_type": "ml.c5.large", "instance_count": 1}, 8),
    "triton": (GPU, None, {"instance_type": "ml.g4dn.xlarge", "instance_count": 1, "max_batch_size": 1}, 8),
}


@pytest.mark.parametrize("option", sorted(RELABELLED))
def test_relabel_only_options_fail_late_responses_and_still_do_the_work(option):
    """More 200 ms work than the instance serves: the same run with a 2 s limit and with none has the same
    starts (the late work still holds the worker), and with the limit exactly the late responses fail, at
    arrival + 2 s."""
    models, app, knobs, rate = RELABELLED[option]
    n = 600
    arrivals = np.cumsum(stream(7, "timeout-arrivals").exponential(1 / rate, n))
    idx = np.arange(n, dtype=np.int32) % len(models) if app is None else np.zeros(n, np.int32)
    opt = load_all()[option]
    runs = [opt.simulate(build_scenario(models, arrivals, idx, float(arrivals[-1]) + 1, cat, 0, application=app),
                         opt.config_model(**knobs)) for cat in (_with_timeout(1e6), _with_timeout(2.0))]
    free, limited = (r.log for r in runs)
    assert runs[0].feasible and runs[1].feasible, (runs[0].reasons, runs[1].reasons)
    late = free.finish_s - free.arrival_s > 2.0
    assert late.sum() > n / 4 and not np.all(late) and np.all(free.status == SERVED)
    np.testing.assert_array_equal(limited.start_s, free.start_s)
    np.testing.assert_array_equal(limited.status, np.where(late, FAILED, SERVED))
    np.testing.assert_array_equal(limited.finish_s, np.where(late, free.arrival_s + 2.0, free.finish_s))


def test_serverless_stops_the_work_at_the_limit_and_frees_the_container():
    """Serverless counts the limit from arrival and holds the container until then only: work 40 s past the
    limit is billed up to the limit, and the next request, just after it, finds the container free and warm."""
    s = CAT.serverless
    limit = s.timeout_s.value
    model = ModelSpec(name="m", service_time=Constant(value_ms=1000.0), memory_mb=200)
    arrivals = np.array([0.0, limit + 1.0])
    sc = build_scenario([model], arrivals, np.zeros(2, np.int32), 2 * limit + 100, CAT, 0)
    sc.service_s[0] = limit + 40  # by hand: a model whose mean work is over the limit is refused outright
    opt = load_all()["serverless"]
    res = opt.simulate(sc, opt.config_model(max_concurrency=1, initial_warm=1))  # memory: a full vCPU
    assert res.feasible, res.reasons
    assert res.log.status.tolist() == [FAILED, SERVED]
    assert res.log.finish_s.tolist() == [limit, limit + 2.0]
    assert res.log.start_s.tolist() == arrivals.tolist() and not res.log.cold.any()  # no throttle, no cold start
    assert res.figures.details["busy_seconds"] == pytest.approx(limit + 1.0)
