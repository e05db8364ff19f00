"""The command line: contract keys, and bad input -> exit 2, one paragraph, no traceback, file untouched."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "fraud-detection.yaml"

GOOD = """\
name: t
horizon: 10m
models:
  - name: m
    memory_mb: 500
    service_time: {dist: exponential, mean_ms: 20}
traffic: {pattern: poisson, rate_rps: 5}
"""


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fitness.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def test_simulate_json_has_every_contract_key():
    out = run("simulate", str(EXAMPLE), "--option", "realtime", "--format", "json")
    assert out.returncode == 0, out.stderr
    s = json.loads(out.stdout)
    assert {"option", "feasible", "reasons", "requests", "latency_ms", "queue_wait_ms", "cold_starts",
            "instances", "cost_usd"} <= s.keys()
    assert set(s["requests"]) == {"offered", "served", "throttled", "failed"}
    assert set(s["latency_ms"]) == {"mean", "p50", "p95", "p99", "max"}
    assert set(s["queue_wait_ms"]) == {"mean", "p50", "p95", "p99"}
    assert set(s["cold_starts"]) == {"count", "fraction"}
    assert set(s["instances"]) == {"mean", "max"}
    assert {"total", "monthly", "per_million", "breakdown"} <= s["cost_usd"].keys()


def test_recommend_json_ranks_options():
    out = run("recommend", str(EXAMPLE), "--format", "json")
    assert out.returncode == 0, out.stderr
    rec = json.loads(out.stdout)
    assert rec["workload"] == "fraud-detection"
    assert rec["recommended"] in {o["option"] for o in rec["options"]}
    for o in rec["options"]:
        assert set(o["fitness"]) == {"cost", "latency", "throughput", "complexity", "traffic_fit"}
        assert (o["rank"] is None) == (not o["feasible"])


def test_validate_accepts_the_example():
    out = run("validate", str(EXAMPLE))
    assert out.returncode == 0 and "valid" in out.stdout


@pytest.mark.parametrize(("text", "must_say"), [
    (GOOD.replace("rate_rps: 5", "rate_rps: -5"), ["traffic", "rate_rps", "-5"]),
    (GOOD + "options:\n  realtime: {instance_type: ml.c5.xlarg}\n", ["options.realtime.instance_type",
                                                                      "ml.c5.xlarge"]),
    (GOOD.replace("name: m\n", "name: m\n  bad: [\n"), ["not valid YAML", "line"]),
    (GOOD.replace("{pattern: poisson, rate_rps: 5}", "{pattern: trace, trace: missing.csv}"),
     ["traffic.trace", "missing.csv"]),
    (GOOD.replace("dist: exponential, mean_ms: 20", "dist: lognormal, p50_ms: 20, p99_ms: 10"),
     ["models[0].service_time", "p99_ms"]),
    (GOOD + "options:\n  realtim: {}\n", ["options.realtim", "realtime"]),
    (GOOD.replace("horizon: 10m", "horizon: 10 minutes"), ["horizon", "30m"]),
], ids=["negative-rate", "unknown-instance", "broken-yaml", "missing-trace", "p99-below-p50",
        "unknown-option", "bad-duration"])
@pytest.mark.parametrize("command", ["validate", "simulate", "recommend"])
def test_bad_input_exits_2_with_one_paragraph(tmp_path, text, must_say, command):
    path = tmp_path / "workload.yaml"
    path.write_text(text)
    extra = ["--option", "realtime"] if command == "simulate" else []
    out = run(command, str(path), *extra, cwd=tmp_path)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    assert str(path) in out.stderr.replace("\n", "")
    for word in must_say:
        assert word in out.stderr.replace("\n", ""), out.stderr
    assert path.read_text() == text  # nothing the user wrote is changed


def test_missing_workload_file(tmp_path):
    out = run("recommend", str(tmp_path / "nope.yaml"))
    assert out.returncode == 2 and "not found" in out.stderr and "Traceback" not in out.stderr


def test_unknown_option_on_simulate():
    out = run("simulate", str(EXAMPLE), "--option", "serverles")
    assert out.returncode == 2 and "serverless" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("args", [("recommend", "--formt", "json"), ("simulate", "-o", "x")])
def test_misspelt_command_line_flag_is_a_usage_error(args):
    """typer's vendored click raises its own exception classes: a typo in a flag is still exit 2 with click's
    usage paragraph and its suggestion, never an internal error."""
    out = run(args[0], str(EXAMPLE), *args[1:])
    assert out.returncode == 2 and "No such option" in out.stderr and "internal error" not in out.stderr
    if args[1] == "--formt":
        assert "--format" in out.stderr
