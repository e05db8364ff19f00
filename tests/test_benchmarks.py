"""The benchmark commands still run (speed is measured by them, never by tests; this only keeps them from
rotting): small sizes, and the checks they make on what they measure."""

from __future__ import annotations

import json

import pytest

from benchmarks import options, run


def test_run_cross_checks_the_simulator_against_plain_simpy(capsys):
    assert run.main(["--requests", "3000", "--repeat", "1", "--json"]) == 0  # 1 when the M/M/4 waits disagree
    report = json.loads(capsys.readouterr().out)
    assert report["wait_check"]["agree"] and {line["name"] for line in report["lines"]} >= {"plain SimPy"}


@pytest.mark.parametrize("case", options.cases(3000), ids=lambda c: c[0])
def test_every_option_line_runs_beside_its_simpy_baseline(case):
    row = options.measure(*case)
    assert row["feasible"], row["reasons"]
    assert row["requests"] > 1000 and row["simpy_servers"] >= 1 and row["ratio"] > 0


def test_the_examples_benchmark_counts_the_simulations_of_a_recommendation(tmp_path):
    from benchmarks import examples

    path = tmp_path / "tiny.yaml"
    path.write_text("name: tiny\nhorizon: 10m\nreplications: 1\nsensitivity: false\nmodels:\n  - name: m\n"
                    "    service_time: {dist: constant, value_ms: 20}\ntraffic: {pattern: poisson, rate_rps: 5}\n")
    row = examples.measure(examples.ROOT, path, tmp_path / "tally")
    assert row["exit"] == 0 and row["recommended"] is not None
    # every option is sized by at least one simulation of the whole 10 minutes (about 3,000 requests)
    assert row["simulations"] >= 8 and row["requests"] >= row["simulations"] * 1000 and row["peak_mb"] > 0
    assert "| tiny | 0 |" in examples.table([row], None)
