"""Sweeps on Dask (DESIGN §7): one row per run, the same numbers as running the scenario alone, failed runs
reported with their error while the others complete, bad grid files exit 2 with one paragraph."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pandas as pd
import psutil
import pytest
import yaml

from fitness import __version__, sweep
from fitness.engine.run import simulate
from fitness.errors import UserError
from fitness.workload.spec import load_workload
from sim.options import load_all

A = """\
name: small-a
horizon: 10m
seed: 3
models:
  - name: m
    memory_mb: 500
    service_time: {dist: lognormal, p50_ms: 10, p99_ms: 30}
traffic: {pattern: poisson, rate_rps: 5}
slo: {p99_ms: 200}
"""

B = """\
name: small-b
horizon: 10m
models:
  - name: n
    memory_mb: 800
    service_time: {dist: exponential, mean_ms: 20}
traffic: {pattern: poisson, rate_rps: 5}
"""

GRID = {"workloads": ["a.yaml", "b.yaml"], "options": ["realtime", "serverless"],
        "parameters": {"traffic.rate_rps": [5, 10]}, "seeds": [1, 2]}


def write(folder: Path, grid: dict, **files: str) -> Path:
    for name, text in {"a.yaml": A, "b.yaml": B, **files}.items():
        (folder / name).write_text(text)
    (folder / "grid.yaml").write_text(yaml.safe_dump(grid))
    return folder / "grid.yaml"


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """The 16-run grid on a LocalCluster of 2 workers: (plan, rows as a DataFrame, progress calls)."""
    folder = tmp_path_factory.mktemp("sweep")
    plan = sweep.load_grid(write(folder, GRID))
    calls = []
    rows = sweep.run_sweep(plan.runs(), workers=2, progress=calls.append)
    return plan, sweep.to_frame(rows, plan.parameters), calls


def test_one_row_per_run_sorted_and_complete(swept):
    plan, df, calls = swept
    assert len(df) == len(calls) == 16
    assert df["error"].isna().all(), df["error"].dropna().tolist()
    keys = ["workload", "option", "traffic.rate_rps", "seed"]
    assert not df.duplicated(keys).any()
    assert df[keys].equals(df.sort_values(keys)[keys].reset_index(drop=True))
    assert (df["requests.offered"] > 0).all() and df["feasible"].all()


def test_local_cluster_leaves_no_process_behind(swept):
    """Workers and nannies are gone once the sweep returns (multiprocessing's resource tracker lives with us)."""
    left = [p.cmdline() for p in psutil.Process().children(recursive=True)]
    assert [c for c in left if not any("resource_tracker" in part for part in c)] == []


def test_a_sweep_row_equals_the_scenario_run_alone(swept, tmp_path):
    """Same seed, same numbers, whichever worker ran it: exact equality with `fitness simulate`."""
    plan, df, _ = swept
    data = yaml.safe_load(B)
    data["traffic"]["rate_rps"], data["seed"] = 10, 2
    (tmp_path / "alone.yaml").write_text(yaml.safe_dump(data))
    alone = simulate(load_workload(tmp_path / "alone.yaml"), "serverless").summary
    row = df[(df["workload"] == "b.yaml") & (df["option"] == "serverless") & (df["traffic.rate_rps"] == 10)
             & (df["seed"] == 2)].iloc[0]
    for group in ("requests", "latency_ms", "queue_wait_ms", "cold_starts", "instances"):
        for key, value in dataclasses.asdict(getattr(alone, group)).items():
            assert row[f"{group}.{key}"] == value, f"{group}.{key}"
    for key in ("total", "monthly", "per_million"):
        assert row[f"cost_usd.{key}"] == getattr(alone.cost_usd, key), key
    assert row["utilization"] == alone.utilization and row["feasible"] == alone.feasible


def test_an_existing_scheduler_gives_the_same_numbers(swept):
    """DESIGN §7: same results, same seeds, whichever cluster runs them (here one worker, reached by address)."""
    from dask.distributed import LocalCluster

    plan, df, _ = swept
    runs = [r for r in plan.runs() if r["workload"] == "a.yaml" and r["params"]["traffic.rate_rps"] == 10]
    with LocalCluster(n_workers=1, threads_per_worker=1, host="127.0.0.1", dashboard_address=None) as cluster:
        other = sweep.to_frame(sweep.run_sweep(runs, scheduler=cluster.scheduler_address), plan.parameters)
    mine = df[(df["workload"] == "a.yaml") & (df["traffic.rate_rps"] == 10)].reset_index(drop=True)
    assert len(other) == 4
    pd.testing.assert_frame_equal(other.drop(columns="elapsed_s"), mine.drop(columns="elapsed_s"))


def test_parquet_round_trips(swept, tmp_path):
    _, df, _ = swept
    df.to_parquet(tmp_path / "runs.parquet", index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "runs.parquet"), df)


def test_cli_writes_both_files_and_reports_failed_runs(tmp_path):
    """A workload with a bad field and a parameter value the workload rejects fail their runs; the rest complete.
    The sweep exits 4 (a CI job sees the failures) after writing every result, each row stamped with the
    version that ran it; --allow-failures exits 0."""
    broken = B.replace("memory_mb: 800", "memory_mb: lots")
    grid = write(tmp_path, {"workloads": ["a.yaml", "broken.yaml"], "options": ["realtime"],
                            "parameters": {"traffic.rate_rps": [5, -1]}, "seeds": [1]}, **{"broken.yaml": broken})
    out = subprocess.run([sys.executable, "-m", "fitness.cli", "sweep", str(grid), "--out", str(tmp_path / "out"),
                          "--workers", "2"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 4, out.stderr
    allowed = subprocess.run([sys.executable, "-m", "fitness.cli", "sweep", str(grid), "--out",
                              str(tmp_path / "again"), "--workers", "2", "--allow-failures"], capture_output=True,
                             text=True, timeout=120)
    assert allowed.returncode == 0, allowed.stderr
    df = pd.read_parquet(tmp_path / "out" / "runs.parquet")
    assert len(df) == 4 and set(df.pop("fitness_version")) == {__version__}
    ok = df[df["error"].isna()]
    assert list(zip(ok["workload"], ok["traffic.rate_rps"], strict=True)) == [("a.yaml", 5)]
    assert ok["requests.served"].iloc[0] > 0
    failed = df[df["error"].notna()]
    assert failed["error"].str.contains("traffic.rate_rps").sum() == 2  # a.yaml and broken.yaml at -1
    assert failed["error"].str.contains("models\\[0\\].memory_mb").sum() == 2  # broken.yaml at both rates
    report = (tmp_path / "out" / "summary.md").read_text()
    failed_table = report.split("## Failed runs")[1]
    assert failed_table.count("| realtime |") == 3 and "memory_mb" in failed_table


@pytest.mark.parametrize(("grid", "field"), [
    ({"workloads": ["a.yaml"], "options": ["realtme"]}, "options[0]"),
    ({"workloads": ["a.yaml"], "parameters": {"traffic.rat_rps": [1]}}, "parameters.traffic.rat_rps"),
    ({"workloads": ["a.yaml"], "parameters": {"models[2].memory_mb": [1]}}, "parameters.models[2].memory_mb"),
    ({"workloads": ["a.yaml"], "parameters": {"options.realtime.count": [1]}}, "parameters.options.realtime"),
    ({"workloads": ["missing.yaml"]}, "workloads[0]"),
    ({"workloads": ["a.yaml"], "seeds": [1, 1]}, "seeds"),
    ({"workloads": ["a.yaml"], "sedes": [1]}, "sedes"),
])
def test_bad_grid_names_the_field(tmp_path, grid, field):
    with pytest.raises(UserError, match=f"grid.yaml: .*field '{field}".replace("[", r"\[").replace("]", r"\]")):
        sweep.load_grid(write(tmp_path, grid))


def test_bad_grid_exits_2_with_one_paragraph(tmp_path):
    grid = write(tmp_path, {"workloads": ["a.yaml"], "options": ["realtme"]})
    out = subprocess.run([sys.executable, "-m", "fitness.cli", "sweep", str(grid), "--out", str(tmp_path / "out")],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "options[0]" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "out").exists()


def test_an_earlier_sweep_or_a_file_as_out_is_refused_before_any_run(tmp_path):
    """`--out` over an earlier sweep's results needs --force; a file as --out is refused; both before any run
    (exit 2 at once), leaving what was there as it was."""
    grid = write(tmp_path, {"workloads": ["a.yaml"], "options": ["realtime"]})
    earlier = tmp_path / "earlier"
    earlier.mkdir()
    (earlier / "runs.parquet").write_bytes(b"KEEP")
    cli = [sys.executable, "-m", "fitness.cli", "sweep", str(grid), "--out"]
    again = subprocess.run([*cli, str(earlier)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 2 and "--force" in again.stderr and "runs.parquet" in again.stderr
    assert (earlier / "runs.parquet").read_bytes() == b"KEEP"
    a_file = tmp_path / "results.txt"
    a_file.write_text("KEEP")
    refused = subprocess.run([*cli, str(a_file), "--force"], capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "is a file" in refused.stderr and a_file.read_text() == "KEEP"
    assert "Traceback" not in again.stderr + refused.stderr


def test_grid_expands_to_the_product_and_defaults_to_every_option(tmp_path):
    plan = sweep.load_grid(write(tmp_path, {"workloads": ["a.yaml", "b.yaml"],
                                            "parameters": {"traffic.rate_rps": [1, 2, 3]}}))
    runs = plan.runs()
    assert len(runs) == 2 * len(load_all()) * 3
    assert {r["seed"] for r in runs} == {None}  # each workload keeps its own seed


def test_the_example_grid_is_valid():
    plan = sweep.load_grid(Path(__file__).resolve().parents[1] / "examples" / "sweep-grid.yaml")
    assert len(plan.runs()) == 12
