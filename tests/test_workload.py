"""The workload model: every DESIGN §3 field with its meaning, count expansion, files, durations."""

from __future__ import annotations

import pytest

from fitness.api import build
from fitness.errors import UserError
from fitness.workload import load_workload, parse_workload

BASE = {"name": "w", "models": [{"name": "m", "service_time": {"dist": "constant", "value_ms": 5}}],
        "traffic": {"pattern": "poisson", "rate_rps": 2}}


def test_durations_and_defaults():
    assert parse_workload({**BASE, "horizon": "6h"}).horizon == 6 * 3600
    assert parse_workload({**BASE, "horizon": "7d"}).horizon == 7 * 86400
    assert parse_workload({**BASE, "horizon": 90}).horizon == 90
    wl = parse_workload(BASE)
    assert wl.catalog == "aws/us-east-1" and wl.slo.delivery == "sync" and wl.horizon is None
    assert build(wl).horizon_s == 3600  # no horizon, no trace: one hour


def test_count_expands_names_in_order():
    wl = parse_workload({**BASE, "models": [{"name": "t", "count": 3, "service_time": {"dist": "constant",
                                                                                        "value_ms": 1}}]})
    assert [m.name for m in wl.expanded_models] == ["t-0", "t-1", "t-2"]


def test_zipf_popularity_skews_requests_to_the_first_models():
    wl = parse_workload({**BASE, "horizon": "1h", "models": [{"name": "t", "count": 4, "service_time": {
        "dist": "constant", "value_ms": 1}}], "traffic": {"pattern": "poisson", "rate_rps": 20,
                                                           "popularity": {"zipf": 1.0}}})
    sc = build(wl)
    share = [float((sc.model_idx == i).mean()) for i in range(4)]
    expected = [1 / (i + 1) / sum(1 / k for k in range(1, 5)) for i in range(4)]
    assert share == pytest.approx(expected, abs=0.01)


def test_same_seed_same_requests_other_seed_others():
    a, b = build(parse_workload({**BASE, "seed": 5})), build(parse_workload({**BASE, "seed": 5}))
    c = build(parse_workload({**BASE, "seed": 6}))
    assert (a.arrivals_s == b.arrivals_s).all() and (a.service_s == b.service_s).all()
    assert a.arrivals_s.size != c.arrivals_s.size or (a.arrivals_s != c.arrivals_s).any()


def test_empirical_csv_is_read_relative_to_the_workload(tmp_path):
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "lat.csv").write_text("request,latency_ms\n1,10\n2,20\n3,30\n")
    wl_path = tmp_path / "w.yaml"
    wl_path.write_text("models:\n  - name: m\n    service_time: {dist: empirical, csv: data/lat.csv}\n"
                       "traffic: {pattern: poisson, rate_rps: 1}\n")
    st = load_workload(wl_path).models[0].service_time
    assert st.samples_ms == (10.0, 20.0, 30.0) and st.expected_ms == 20.0


@pytest.mark.parametrize(("patch", "words"), [
    ({"models": []}, ["models"]),
    ({"models": [{"name": "m", "service_time": {"dist": "weibull"}}]}, ["models[0].service_time", "weibull"]),
    ({"models": [{"name": "m", "count": 2, "service_time": {"dist": "constant", "value_ms": 1}},
                 {"name": "m-1", "service_time": {"dist": "constant", "value_ms": 1}}]}, ["unique", "m-1"]),
    ({"slo": {"delivery": "carrier-pigeon"}}, ["slo.delivery"]),
    ({"catalog": "aws/us-east-2"}, ["catalog", "aws/us-east-1"]),
    ({"options": {"serverless": {"max_concurrency": 5, "provisioned_concurrency": 9}}},
     ["options.serverless", "provisioned_concurrency"]),
])
def test_errors_name_the_field(patch, words):
    with pytest.raises(UserError) as info:
        parse_workload({**BASE, **patch}, source="w.yaml")
    text = str(info.value)
    assert text.startswith("w.yaml: ")
    for w in words:
        assert w in text, text
