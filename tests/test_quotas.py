"""AWS quotas that rule an option out, named with their catalog figures (serverless endpoints per Region, the
time a serverless container has to download its model and answer /ping), in the option's reasons and in
`fitness validate`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import yaml

from sim.catalog import load_catalog
from sim.distributions import Constant
from sim.model import ModelSpec
from sim.options.serverless import ServerlessConfig, quota_reasons, simulate
from sim.scenario import build_scenario

CAT = load_catalog()
ROOT = Path(__file__).resolve().parents[1]


def models(n: int, **kw) -> list[ModelSpec]:
    """n small CPU models of 10 ms."""
    return [ModelSpec(name=f"m{i}", service_time=Constant(value_ms=10), memory_mb=100, **kw) for i in range(n)]


def test_more_serverless_endpoints_than_the_region_holds_are_ruled_out():
    """50 endpoints per Region (catalog `serverless.endpoints_per_region`): 50 models pass, 51 do not; each
    endpoint at max_concurrency 1 keeps the account's concurrency out of it."""
    limit = int(CAT.serverless.endpoints_per_region.value)
    assert limit == 50 and quota_reasons(models(limit), CAT) == []
    over = models(limit + 1)
    sc = build_scenario(over, np.arange(0.0, 10.0), np.arange(10) % len(over), 10.0, CAT, 0)
    res = simulate(sc, ServerlessConfig(max_concurrency=1))
    assert not res.feasible and "51 serverless endpoints exceed the quota of 50 serverless endpoints per Region" \
        in res.reasons


def test_a_container_slower_to_start_than_the_ping_deadline_is_ruled_out():
    """An artifact that takes 150 s to download at the catalog's rate, plus 60 s of start and load: 210 s
    against 180 s."""
    bw = CAT.network.model_download_mb_per_s.value
    slow = ModelSpec(name="big", service_time=Constant(value_ms=10), memory_mb=100, size_mb=150 * bw,
                     container_start_s=30, load_s=30)
    reasons = quota_reasons([slow], CAT)
    assert reasons == ["model big's container takes 210 s to start, download and load, and a serverless "
                       "container must answer /ping within 180 s"]
    assert quota_reasons([slow.model_copy(update={"size_mb": 10})], CAT) == []


def test_validate_names_the_quota_a_workload_breaks(tmp_path):
    wl = {"name": "many", "horizon": "10m", "traffic": {"pattern": "poisson", "rate_rps": 1},
          "models": [{"name": "m", "count": 60, "memory_mb": 100, "service_time": {"dist": "constant", "value_ms": 5}}]}
    path = tmp_path / "many.yaml"
    path.write_text(yaml.safe_dump(wl))
    out = subprocess.run([sys.executable, "-m", "fitness.cli", "validate", str(path)], capture_output=True,
                         text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert "quota: serverless: 60 serverless endpoints exceed the quota of 50 serverless endpoints per Region" \
        in out.stdout
