"""`fitness export`'s CloudFormation against CloudFormation's own rules: cfn-lint clean for every exportable
option, and split into stacks within the catalog's per-template limits when one template would break them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file

from fitness.engine.run import simulate
from fitness.errors import UserError
from fitness.export import build
from fitness.export.build import export
from fitness.export.cloudformation import body_bytes
from fitness.export.deployment import Deployment
from fitness.options import NoExport, option_ids, unit
from fitness.workload.spec import parse_workload
from sim.catalog import load_catalog
from tests.test_export import CPU, assert_deployable, workload

TWO = [{"name": "a", **CPU}, {"name": "b", **CPU}]
GPU = [{"name": "vision", "memory_mb": 2000, "accelerator": "gpu",
        "service_time": {"dist": "constant", "value_ms": 20}}]
STEPS = [{"name": "pre", "kind": "logic", "service_time": {"dist": "constant", "value_ms": 2}},
         {"name": "model", **CPU}]
EVERY_OPTION = {
    "realtime": workload({"realtime": {"instance_type": "ml.c5.xlarge", "autoscaling": {
        "min": 1, "max": 4, "target_invocations_per_instance": 600}}}),
    "serverless": workload({"serverless": {"memory_mb": 2048, "max_concurrency": 10, "provisioned_concurrency": 1}}),
    "async": workload({"async": {"instance_type": "ml.m5.xlarge", "workers_per_instance": 2, "autoscaling": {
        "min": 0, "max": 3, "target_backlog_per_instance": 4}}}, slo={"delivery": "async"}),
    "batch": workload({"batch": {"instance_type": "ml.m5.xlarge", "instance_count": 2, "schedule": "5m"}},
                      slo={"delivery": "offline", "deadline_h": 1}),
    "multi-model": workload({"multi-model": {"instance_type": "ml.m5.xlarge", "instance_count": 2}},
                            [{"name": "tenant", "count": 3, **CPU}]),
    "multi-container": workload({"multi-container": {"instance_type": "ml.c5.2xlarge", "instance_count": 1}}, TWO),
    "inference-pipeline": workload({"inference-pipeline": {"instance_type": "ml.c5.2xlarge"}}, STEPS,
                                   application={"pattern": "serial", "steps": ["pre", "model"]}),
    "triton": workload({"triton": {"instance_type": "ml.g4dn.xlarge", "instance_count": 1, "max_batch_size": 8}}, GPU),
    "inference-components": workload({"inference-components": {"instance_type": "ml.c5.xlarge", "min_copies": 0,
                                                               "min_instances": 1}}, TWO),
}
"""A small workload per exportable option, autoscaled where the option scales (more resource types to lint)."""

FLEET = workload({"realtime": {"instance_type": "ml.c5.large", "instance_count": 1}},
                 [{"name": "m", "count": 1000, **CPU}], horizon="1m", environment="dev",
                 traffic={"pattern": "poisson", "rate_rps": 1})
"""1,000 models on the realtime option, one endpoint each, simulated for a minute at 1 request/s."""

LIMIT_FACTS = {"resources": "cloudformation_max_resources", "outputs": "cloudformation_max_outputs",
               "parameters": "cloudformation_max_parameters", "bytes": "cloudformation_template_max_bytes"}


def one_option_result(data: dict, option: str) -> tuple:
    """(workload, result): `option` simulated as the workload pins it, as `tests.test_export.deploy` does, so
    one simulation can be exported under several catalogs."""
    wl = parse_workload(data)
    run = simulate(wl, option)
    assert run.summary.feasible, run.summary.reasons
    return wl, {"workload": wl.name, "recommended": option, "options": [run.summary.to_json()],
                "sizing": {option: {"chosen": wl.options[option]}}}


def export_with(monkeypatch, wl, result: dict, **facts: float) -> Deployment:
    """The export under the catalog with some `export` facts set to other values (e.g. a lower limit)."""
    real = load_catalog(wl.catalog)
    export_facts = real.export.model_copy(update={k: getattr(real.export, k).model_copy(update={"value": v})
                                                  for k, v in facts.items()})
    with monkeypatch.context() as m:
        m.setattr(build, "load_catalog", lambda name: real.model_copy(update={"export": export_facts}))
        return export(wl, result)


def lint(tmp_path: Path, d: Deployment) -> dict[str, list[str]]:
    """cfn-lint's errors and warnings (informational checks are off by default) per template file written."""
    found = {}
    for name, text in d.cloudformation.files().items():
        path = tmp_path / name
        path.write_text(text)
        found[name] = [f"{m.rule.id} {m.message}" for m in lint_file(path, ManualArgs(regions=["us-east-1"]))]
    return found


def referenced(t: dict) -> set[str]:
    """Every name a template's Ref and Fn::Sub point at (parameters or resources)."""
    text = json.dumps(t["Resources"]) + json.dumps(t["Outputs"])
    subs = {name.split(".")[0] for s in re.findall(r'"Fn::Sub": "([^"]*)"', text)
            for name in re.findall(r"\$\{([A-Za-z0-9.]+)\}", s)}
    return set(re.findall(r'"Ref": "([A-Za-z0-9]+)"', text)) | subs


def assert_within(d: Deployment, limits: dict[str, int]) -> None:
    """Every stack within every limit, declaring exactly the parameters its resources use."""
    for t in d.cloudformation.templates:
        held = {"resources": len(t["Resources"]), "outputs": len(t["Outputs"]), "parameters": len(t["Parameters"]),
                "bytes": body_bytes(t)}
        assert all(held[k] <= limits[k] for k in limits), (held, limits)
        assert set(t["Parameters"]) == referenced(t) - set(t["Resources"])


def test_every_exportable_option_is_cfn_lint_clean(tmp_path: Path):
    assert set(EVERY_OPTION) == {o for o in option_ids() if not isinstance(unit(o).export, NoExport)}
    for option, data in EVERY_OPTION.items():
        wl, result = one_option_result(data, option)
        d = export(wl, result)
        assert list(d.cloudformation.files()) == ["cloudformation.json"], option
        assert lint(tmp_path, d) == {"cloudformation.json": []}, option
        assert_within(d, {})


def test_a_batch_template_declares_no_parameter_of_the_job(tmp_path: Path):
    """The input and output prefixes are the transform job's, which CloudFormation cannot create."""
    wl, result = one_option_result(EVERY_OPTION["batch"], "batch")
    d = export(wl, result)
    assert set(d.cloudformation.templates[0]["Parameters"]) == {"ExecutionRoleArn", "MImageUri", "ModelDataS3Prefix"}
    todo = d.files()["TODO.md"]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `\{\{(\w+)\}\}` \|.*$", todo, re.M)}
    assert "(boto3 only)" in rows["TransformInputS3Uri"] and "(boto3 only)" not in rows["ModelDataS3Prefix"]


def test_cfn_lint_finds_an_unused_parameter(tmp_path: Path):
    """The lint test can fail: a parameter no resource uses is the warning batch templates used to carry."""
    wl, result = one_option_result(EVERY_OPTION["batch"], "batch")
    d = export(wl, result)
    d.cloudformation.templates[0]["Parameters"]["Unused"] = {"Type": "String"}
    assert [m.split()[0] for m in lint(tmp_path, d)["cloudformation.json"]] == ["W2001"]


def test_a_thousand_realtime_endpoints_are_split_into_stacks_within_every_limit(tmp_path: Path, monkeypatch):
    wl, result = one_option_result(FLEET, "realtime")
    d = export(wl, result)
    cat = load_catalog(wl.catalog).export
    limits = {k: int(getattr(cat, fact).value) for k, fact in LIMIT_FACTS.items()}
    stacks = d.cloudformation.templates
    assert len(d.calls) == 3000 and len(stacks) > 1
    assert list(d.cloudformation.files()) == [f"cloudformation-{i:02d}.json" for i in range(1, len(stacks) + 1)]
    assert_within(d, limits)
    assert_deployable(d)  # every Ref and GetAtt resolves within its own stack: an endpoint is never split
    unsplit = export_with(monkeypatch, wl, result, **{f: 1e9 for f in LIMIT_FACTS.values()}).cloudformation
    assert len(unsplit.templates) == 1 and len(unsplit.templates[0]["Resources"]) == 3000
    merged = {k: v for t in stacks for k, v in t["Resources"].items()}
    assert merged == unsplit.templates[0]["Resources"] and sum(len(t["Resources"]) for t in stacks) == 3000
    assert {k: v for t in stacks for k, v in t["Outputs"].items()} == unsplit.templates[0]["Outputs"]
    todo = d.files()["TODO.md"]
    assert f"split into {len(stacks)} stacks because one template would hold 3,000 resources (limit 500" in todo
    assert todo.count("aws cloudformation deploy --template-file cloudformation-") == len(stacks)
    inline = int(cat.cloudformation_inline_template_max_bytes.value)
    over_inline = [name for name, t in zip(d.cloudformation.files(), stacks, strict=True) if body_bytes(t) > inline]
    assert 0 < len(over_inline) <= len(stacks) and "boto3 request bodies" in todo
    assert re.findall(r"--template-file (\S+) .*--s3-bucket BUCKET \\$", todo, re.M) == over_inline
    assert lint(tmp_path, d) == {name: [] for name in d.cloudformation.files()}


@pytest.mark.parametrize("limit, value", [("resources", 7), ("outputs", 2), ("parameters", 3), ("bytes", 7000)])
def test_each_limit_on_its_own_splits_the_template(monkeypatch, tmp_path: Path, limit: str, value: int):
    """Five endpoints, each with its own image: any one limit lowered splits them, and each stack keeps it."""
    models = [{"name": f"e{i}", **CPU} for i in range(5)]
    wl, result = one_option_result(workload({"realtime": {"instance_type": "ml.c5.large", "instance_count": 1}},
                                            models, environment="dev"), "realtime")
    assert len(export(wl, result).cloudformation.templates) == 1
    d = export_with(monkeypatch, wl, result, **{LIMIT_FACTS[limit]: value})
    assert len(d.cloudformation.templates) > 1
    assert_within(d, {limit: value})
    assert_deployable(d)
    assert f"(limit {value:,}, catalog export.{LIMIT_FACTS[limit]})" in d.files()["TODO.md"]
    assert lint(tmp_path, d) == {name: [] for name in d.cloudformation.files()}


def test_a_template_over_the_inline_limit_is_deployed_through_s3(monkeypatch):
    wl, result = one_option_result(EVERY_OPTION["realtime"], "realtime")
    assert "--s3-bucket" not in export(wl, result).files()["TODO.md"]
    todo = export_with(monkeypatch, wl, result, cloudformation_inline_template_max_bytes=1000).files()["TODO.md"]
    assert "--template-file cloudformation.json --stack-name t-realtime --s3-bucket BUCKET" in todo
    assert "over the 1,000-byte limit on a template sent inline" in todo and "split into" not in todo


def test_an_endpoint_too_big_for_any_stack_is_refused(monkeypatch):
    """Autoscaled, one endpoint is 5 resources (model, config, endpoint, target, policy): 4 cannot hold it."""
    wl, result = one_option_result(EVERY_OPTION["realtime"], "realtime")
    with pytest.raises(UserError, match=r"--option realtime: .*`m` alone hold 5 resources \(limit 4, catalog "
                                        r"export\.cloudformation_max_resources\)"):
        export_with(monkeypatch, wl, result, cloudformation_max_resources=4)


def test_a_re_export_names_the_stacks_an_earlier_split_export_left(tmp_path: Path):
    for name in ("cloudformation-01.json", "cloudformation-02.json", "TODO.md"):
        (tmp_path / name).write_text("{}")
    assert {"cloudformation-01.json", "cloudformation-02.json"} <= set(build.fixed_files(tmp_path))
    stale = build.stale_calls(tmp_path, ["TODO.md", "cloudformation.json", "boto3/01.sagemaker.create_model.m.json"])
    assert stale == ["cloudformation-01.json", "cloudformation-02.json"]
    (tmp_path / "cloudformation.json").write_text("{}")
    assert build.stale_calls(tmp_path, ["TODO.md", "cloudformation-01.json"]) == ["cloudformation-02.json",
                                                                                 "cloudformation.json"]
