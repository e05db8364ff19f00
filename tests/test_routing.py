"""Least-outstanding-requests routing: one definition (`Fleet.least_outstanding`) and the pools that use it.

`InstancePool` and `OneJobSharingPool` keep it inline in their compiled loops (held to the interpreted
loops in tests/test_kernels.py); `test_triton` checks the pool's copy
against Triton's (which calls the definition) request for request.
"""

from __future__ import annotations

import numpy as np

from sim.catalog import load_catalog
from sim.components.fleet import Fleet
from sim.distributions import Constant
from sim.model import ModelSpec
from sim.options.multi_model import MultiModelConfig, run
from sim.scenario import build_scenario


def test_fewest_outstanding_then_the_tie_break_then_the_first_joined():
    fleet = Fleet()
    for _ in range(3):
        fleet.join(0.0)
    fleet.out[:] = [2, 1, 1]
    assert fleet.least_outstanding() == 1
    assert fleet.least_outstanding(tie=lambda iid: -iid) == 2
    assert fleet.least_outstanding(tie=lambda iid: 0.0) == 1
    fleet.retire(0.0)  # the newest leaves routing
    fleet.out[1] = 3
    assert fleet.least_outstanding() == 0
    fleet.retire(0.0)
    assert fleet.least_outstanding() == 0


def test_multi_model_ties_go_to_the_instance_with_the_least_memory_in_use():
    """Both instances idle when b's first request comes: b is loaded on the one not holding a."""
    a = ModelSpec(name="a", memory_mb=500, service_time=Constant(value_ms=10))
    b = ModelSpec(name="b", memory_mb=100, service_time=Constant(value_ms=10))
    sc = build_scenario([a, b], np.array([0.0, 5.0]), np.array([0, 1], np.int32), 10.0, load_catalog(), 0)
    _, pool = run(sc, MultiModelConfig(instance_type="ml.c5.large", instance_count=2))
    assert [list(c.mem) for c in pool.caches] == [[0], [1]]


def test_both_routings_are_exported_as_simulated():
    """The routing the simulation used is the variant's RoutingConfig, held to botocore's service model and
    the CloudFormation resource type (`assert_deployable`); the simulated config records it."""
    from tests.test_export import assert_deployable, calls, deploy, workload

    for routing, strategy in (("random", "RANDOM"), ("least_outstanding", "LEAST_OUTSTANDING_REQUESTS")):
        d, s = deploy(workload({"realtime": {"instance_type": "ml.c5.xlarge", "instance_count": 3,
                                             "routing": routing}}), "realtime")
        assert_deployable(d)
        assert s.config.option["routing"] == routing
        v = calls(d, "CreateEndpointConfig")[0]["ProductionVariants"][0]
        assert v["RoutingConfig"] == {"RoutingStrategy": strategy}
        assert any(f"RoutingConfig {strategy}" in n for n in d.notes)
