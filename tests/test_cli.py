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


def test_recommend_json_ranks_options(tmp_path):
    # the example itself runs in the README's test; half an hour without sensitivity keeps the contract
    short = tmp_path / "fraud-detection.yaml"
    short.write_text(EXAMPLE.read_text().replace("horizon: 6h", "horizon: 30m") + "sensitivity: false\n")
    out = run("recommend", str(short), "--format", "json")
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
    (GOOD + "horizon: 20m\n", ["not valid YAML", "line 8", "'horizon' twice"]),
    (GOOD.replace("horizon: 10m", "horizon: 10 minutes"), ["horizon", "30m"]),
], ids=["negative-rate", "unknown-instance", "broken-yaml", "missing-trace", "p99-below-p50",
        "unknown-option", "duplicate-key", "bad-duration"])
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


def test_version_is_printed_and_stamped_in_the_json():
    from fitness import __version__

    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"fitness {__version__}"
    sim = run("simulate", str(EXAMPLE), "--option", "serverless", "--format", "json")
    assert json.loads(sim.stdout)["fitness_version"] == __version__


IMPOSSIBLE = GOOD.replace("traffic: {pattern: poisson, rate_rps: 5}\n",
                          "traffic: {pattern: poisson, rate_rps: 5}\nslo: {p99_ms: 1}\nsensitivity: false\n")


def test_recommend_exits_3_when_nothing_is_feasible_and_still_writes_the_report(tmp_path):
    """A p99 SLO of 1 ms under a 20 ms model: no option can meet it. A CI job sees exit 3; the report is
    written all the same, the answer says so, the progress goes to stderr as plain lines (not a terminal),
    and --allow-infeasible exits 0."""
    wl = tmp_path / "impossible.yaml"
    wl.write_text(IMPOSSIBLE)
    out = run("recommend", str(wl), "--out", str(tmp_path / "adr.md"), cwd=tmp_path)
    assert out.returncode == 3, out.stderr
    assert "no option meets the constraints" in out.stdout and (tmp_path / "adr.md").read_text().startswith("#")
    assert "fitness: simulating" in out.stderr
    again = run("recommend", str(wl), "--format", "json", "--allow-infeasible", cwd=tmp_path)
    assert again.returncode == 0 and json.loads(again.stdout)["recommended"] is None


def test_recommend_never_overwrites_silently_and_never_writes_its_input(tmp_path):
    """An existing --out needs --force; the workload itself is refused even with it; both are refused before
    any simulation and leave the files as they were."""
    wl, old = tmp_path / "w.yaml", tmp_path / "old.md"
    wl.write_text(GOOD)
    old.write_text("keep me")
    exists = run("recommend", str(wl), "--out", str(old), cwd=tmp_path)
    assert exists.returncode == 2 and "--force" in exists.stderr and old.read_text() == "keep me"
    own = run("recommend", str(wl), "--out", str(wl), "--force", cwd=tmp_path)
    assert own.returncode == 2 and "inputs" in own.stderr and wl.read_text() == GOOD
    forced = run("recommend", str(wl), "--out", str(old), "--force", cwd=tmp_path)
    assert forced.returncode == 0 and old.read_text().startswith("#")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_the_closing_table_names_the_deployable_configuration(tmp_path):
    wl = tmp_path / "w.yaml"
    wl.write_text(GOOD + "sensitivity: false\n")
    out = run("recommend", str(wl), "--out", str(tmp_path / "r.json"), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rec = json.loads((tmp_path / "r.json").read_text())
    first = out.stdout.splitlines()[0]
    assert first.startswith(f"t: {rec['recommended']}") and "USD/month, p99" in first
    assert "deploy" in out.stdout


def test_diff_shows_what_changed_between_two_recommendations(tmp_path):
    """The same workload at 5 and 50 req/s: the diff names the cost moves (old -> new with the change in
    percent); a result against itself has no change; a file that is not a result exits 2 naming it."""
    results = []
    for rate in (5, 50):
        wl = tmp_path / f"w{rate}.yaml"
        wl.write_text(GOOD.replace("rate_rps: 5", f"rate_rps: {rate}") + "sensitivity: false\nreplications: 1\n")
        results.append(tmp_path / f"r{rate}.json")
        assert run("recommend", str(wl), "--out", str(results[-1]), cwd=tmp_path).returncode == 0
    old, new = (json.loads(p.read_text()) for p in results)
    out = run("diff", *map(str, results))
    assert out.returncode == 0 and out.stdout.startswith("# fitness diff:")
    serverless = next(line for line in out.stdout.splitlines() if line.startswith("| serverless |"))
    before = next(o for o in old["options"] if o["option"] == "serverless")["cost_usd"]["monthly"]
    assert f"{before:,.2f} -> " in serverless and "%)" in serverless
    if old["recommended"] != new["recommended"]:
        assert f"recommended: {old['recommended']} -> {new['recommended']}" in out.stdout
    same = run("diff", str(results[0]), str(results[0]))
    assert same.returncode == 0 and "No change" in same.stdout
    bad = tmp_path / "bad.json"
    bad.write_text('{"options": 3}')
    refused = run("diff", str(bad), str(results[0]))
    assert refused.returncode == 2 and "bad.json" in refused.stderr and "Traceback" not in refused.stderr


def test_ctrl_c_exits_130_without_a_traceback():
    import signal
    import time

    p = subprocess.Popen([sys.executable, "-m", "fitness.cli", "recommend", str(EXAMPLE), "--format", "json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    time.sleep(4)  # inside right-sizing: the imports are done and the first options are simulating
    p.send_signal(signal.SIGINT)
    _, stderr = p.communicate(timeout=120)
    assert p.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr


def test_brackets_in_a_model_name_are_shown_not_read_as_terminal_markup(tmp_path):
    wl = tmp_path / "w.yaml"
    wl.write_text(GOOD.replace("name: m\n", "name: '[/x]m[bold]'\n"))
    out = run("simulate", str(wl), "--option", "realtime", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "[/x]m[bold]" in out.stdout
