"""GPU memory is read one way everywhere: `gpu_memory_gib` is per GPU, `gpu_memory_total_mb` the instance's.

Every shipped GPU type has one GPU, where both readings agree; a test catalog adds a 4-GPU type (the shape
of ml.g4dn.12xlarge: 4 x T4 of 16 GiB) so that multi-model memory, Triton's budget (4 x (16 GiB less the
runtime's overhead held on each GPU)) and the inference pipeline's per-GPU check are told apart.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

import catalogs
from sim.application import Application
from sim.catalog import Catalog, parse_catalog
from sim.components.gpu import gpu_budget_mb
from sim.distributions import Constant
from sim.model import ModelSpec
from sim.options import load_all
from sim.options.inference_pipeline import hardware_reasons
from sim.options.multi_model import memory_for_models_mb
from sim.scenario import build_scenario

FOUR = "ml.g4dn.12xlarge"
PER_GPU_MB = 16 * 1024


@pytest.fixture(scope="module")
def cat() -> Catalog:
    raw = yaml.safe_load(catalogs.read_catalog_text("aws/us-east-1"))
    raw["name"] = "test/four-gpus"
    raw["instances"][FOUR] = {
        "vcpu": 48, "memory_gib": 192, "gpu_count": 4, "gpu_memory_gib": 16, "gpu_model": "T4",
        "accelerator": "gpu", "price_per_hour": {
            "value": 5.0, "source": "assumption", "retrieved": "2026-11-24", "confidence": "assumption",
            "note": "test catalog only: a 4-GPU shape to tell per-GPU from per-instance memory; not a price"}}
    return parse_catalog(raw, "tests/test_gpu_memory.py")


def _gpu_model(name: str, memory_mb: float) -> ModelSpec:
    return ModelSpec(name=name, memory_mb=memory_mb, accelerator="gpu", service_time=Constant(value_ms=10))


def test_the_instance_has_gpu_count_times_the_per_gpu_memory(cat):
    assert cat.instance(FOUR).gpu_memory_total_mb == 4 * PER_GPU_MB
    one = cat.instance("ml.g4dn.xlarge")
    assert one.gpu_memory_total_mb == one.gpu_memory_gib * 1024


def test_triton_budgets_every_gpu(cat):
    overhead_mb = cat.triton.gpu_memory_overhead_mb.value
    it = cat.instance(FOUR)
    assert gpu_budget_mb(it, cat) == 4 * (PER_GPU_MB - overhead_mb)
    sc = build_scenario([_gpu_model("g", 1000)], np.array([0.0]), np.zeros(1, np.int32), 10.0, cat, 0)
    opt = load_all()["triton"]
    res = opt.simulate(sc, opt.config_model(instance_type=FOUR, instance_count=1))
    assert res.feasible and res.config.option["gpu_memory_mb"] == 4 * (PER_GPU_MB - overhead_mb)
    assert res.config.option["gpu_memory_used_mb"] == 4 * 1000  # a copy of the model on each GPU


def test_multi_model_on_gpus_budgets_every_gpu(cat):
    overhead_mb = cat.triton.gpu_memory_overhead_mb.value
    assert memory_for_models_mb(cat.instance(FOUR), True, cat) == 4 * (PER_GPU_MB - overhead_mb)
    sc = build_scenario([_gpu_model("a", 1000), _gpu_model("b", 1000)], np.array([0.0, 1.0]),
                        np.array([0, 1], np.int32), 10.0, cat, 0)
    opt = load_all()["multi-model"]
    res = opt.simulate(sc, opt.config_model(instance_type=FOUR, instance_count=1))
    assert res.feasible and res.config.option["model_memory_budget_mb"] == 4 * (PER_GPU_MB - overhead_mb)
    assert res.config.option["workers_per_instance"] == 4  # one request at a time per GPU


def test_a_pipeline_gpu_step_must_fit_one_gpu(cat):
    it = cat.instance(FOUR)
    assert hardware_reasons(it, [_gpu_model("fits", PER_GPU_MB - 100)], 4, cat) == []
    assert hardware_reasons(it, [_gpu_model("big", PER_GPU_MB + 100)], 1, cat) == [
        f"model big needs {PER_GPU_MB + 100:,} MB of GPU memory and a GPU of {FOUR} has {PER_GPU_MB:,} MB"]
    steps = [_gpu_model("a", PER_GPU_MB - 100), _gpu_model("b", 1000)]
    sc = build_scenario(steps, np.array([0.0]), np.zeros(1, np.int32), 10.0, cat, 0,
                        application=Application("serial", steps=(0, 1)))
    opt = load_all()["inference-pipeline"]
    res = opt.simulate(sc, opt.config_model(instance_type=FOUR, instance_count=1, workers_per_container=2))
    assert res.feasible, res.reasons
