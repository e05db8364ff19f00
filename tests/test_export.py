"""`fitness export`: request bodies valid against the real AWS API shapes (botocore's service models, offline),
values equal to what was simulated, placeholders present and listed, and the CLI's file handling."""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import botocore.session
import pytest
import yaml
from botocore.validate import ParamValidator

from fitness.engine.run import simulate
from fitness.errors import UserError
from fitness.export.aws import invocations_per_minute, resource_name
from fitness.export.build import export
from fitness.export.deployment import Deployment
from fitness.workload.spec import parse_workload
from sim.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[1]
SESSION = botocore.session.get_session()
TOKEN = re.compile(r"\{\{([A-Za-z0-9]+)\}\}")

CPU = {"memory_mb": 500, "size_mb": 50, "service_time": {"dist": "constant", "value_ms": 50}, "payload_kb": 2,
       "response_kb": 1}


def workload(options: dict, models: list | None = None, **extra) -> dict:
    """A small workload (10 minutes at 5 requests/s) with `options` pinned."""
    return {"name": "t", "horizon": "10m", "seed": 3, "replications": 1, "sensitivity": False,
            "models": models or [{"name": "m", **CPU}], "traffic": {"pattern": "poisson", "rate_rps": 5},
            "options": options, **extra}


def deploy(data: dict, option: str) -> tuple[Deployment, dict]:
    """Simulate `option` as the workload pins it and export it from a one-option result."""
    wl = parse_workload(data)
    run = simulate(wl, option)
    assert run.summary.feasible, run.summary.reasons
    result = {"workload": wl.name, "recommended": option, "options": [run.summary.to_json()],
              "sizing": {option: {"chosen": wl.options[option]}}}
    return export(wl, result), run.summary


def filled(value, d: Deployment):
    """The body with every placeholder replaced by its example value (what the user will do)."""
    examples = {p.name: p.example for p in d.placeholders}
    return json.loads(TOKEN.sub(lambda m: examples[m.group(1)], json.dumps(value)))


def strict(params, shape, path: str = "") -> list[str]:
    """What botocore's validator leaves out: maximums, enums and patterns (AWS patterns match whole values)."""
    errors = []
    kind = shape.type_name
    if kind == "structure":
        for k, v in params.items():
            errors += strict(v, shape.members[k], f"{path}.{k}")
    elif kind == "list":
        errors += [e for i, v in enumerate(params) for e in strict(v, shape.member, f"{path}[{i}]")]
        errors += [f"{path}: {len(params)} items > {shape.metadata['max']}"] if len(params) > shape.metadata.get(
            "max", len(params)) else []
    elif kind == "map":
        errors += [e for k, v in params.items() for e in strict(v, shape.value, f"{path}.{k}")]
    elif kind == "string":
        if shape.enum and params not in shape.enum:
            errors.append(f"{path}: {params!r} not in {shape.enum[:8]}...")
        if len(params) > shape.metadata.get("max", len(params)):
            errors.append(f"{path}: longer than {shape.metadata['max']}")
        pattern = shape.metadata.get("pattern")
        try:
            rx = re.compile(pattern.removeprefix("^").removesuffix("$")) if pattern else None
        except re.error:  # Java-only syntax such as \p{Print}: botocore does not check it either
            rx = None
        if rx is not None and not rx.fullmatch(params):
            errors.append(f"{path}: {params!r} does not match {pattern}")
    elif kind in ("integer", "long", "double", "float") and params > shape.metadata.get("max", params):
        errors.append(f"{path}: {params} > {shape.metadata['max']}")
    return errors


def assert_valid(service: str, operation: str, body: dict) -> None:
    """`body` is a valid `operation` request: botocore's own validation, then the strict checks."""
    shape = SESSION.get_service_model(service).operation_model(operation).input_shape
    report = ParamValidator().validate(body, shape)
    assert not report.has_errors(), f"{operation}: {report.generate_report()}"
    assert not strict(body, shape), f"{operation}: {strict(body, shape)}"


def resolve(value, params: dict, resources: set):
    """CloudFormation intrinsics as deployed: parameters -> example values, GetAtt/Ref of resources -> a name."""
    if isinstance(value, list):
        return [resolve(v, params, resources) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"}:
        assert value["Ref"] in params or value["Ref"] in resources, value
        return params.get(value["Ref"], "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:x")
    if set(value) == {"Fn::GetAtt"}:
        assert value["Fn::GetAtt"][0] in resources, value
        return "resolved-name"
    if set(value) == {"Fn::Sub"}:
        def one(m):
            name = m.group(1)
            assert name in params or name.split(".")[0] in resources, name
            return params.get(name, "resolved-name")
        return re.sub(r"\$\{([A-Za-z0-9.]+)\}", one, value["Fn::Sub"])
    return {k: resolve(v, params, resources) for k, v in value.items()}


CFN_AS_API = {"AWS::SageMaker::Model": ("sagemaker", "CreateModel", {"ModelName": "x"}),
              "AWS::SageMaker::EndpointConfig": ("sagemaker", "CreateEndpointConfig", {"EndpointConfigName": "x"}),
              "AWS::SageMaker::Endpoint": ("sagemaker", "CreateEndpoint", {}),
              "AWS::ApplicationAutoScaling::ScalableTarget": ("application-autoscaling", "RegisterScalableTarget", {}),
              "AWS::ApplicationAutoScaling::ScalingPolicy": ("application-autoscaling", "PutScalingPolicy", {
                  "ServiceNamespace": "sagemaker", "ResourceId": "endpoint/x/variant/AllTraffic",
                  "ScalableDimension": "sagemaker:variant:DesiredInstanceCount"}),
              "AWS::CloudWatch::Alarm": ("cloudwatch", "PutMetricAlarm", {}),
              "AWS::SageMaker::InferenceComponent": ("sagemaker", "CreateInferenceComponent", {})}
"""CloudFormation types whose properties are the API's request members (plus what the stack supplies)."""


def assert_deployable(d: Deployment) -> None:
    """Every boto3 body and every template resource is a valid request once the placeholders are filled in;
    every placeholder is listed in TODO.md and every template parameter is a listed placeholder (each stack
    resolves on its own: no stack refers to another's resources or undeclared parameters)."""
    for call in d.calls:
        assert_valid(call.service, call.operation, filled(call.body, d))
    text = json.dumps([c.body for c in d.calls]) + json.dumps(d.cloudformation.templates)
    used = set(TOKEN.findall(text)) | d.template_parameters
    assert used == {p.name for p in d.placeholders}
    todo = d.files()["TODO.md"]
    assert all(p.token in todo for p in d.placeholders)
    for t in d.cloudformation.templates:
        params = {p.name: p.example for p in d.placeholders if p.name in t["Parameters"]}
        resources = t["Resources"]
        for res in resources.values():
            service, op, supplied = CFN_AS_API[res["Type"]]
            props = resolve(res["Properties"], params, set(resources))
            props.pop("ScalingTargetId", None)
            for action in props.pop("ScheduledActions", []):  # each is a PutScheduledAction on the target
                assert_valid("application-autoscaling", "PutScheduledAction", {**action, **{
                    k: props[k] for k in ("ServiceNamespace", "ResourceId", "ScalableDimension")}})
            assert_valid(service, op, {**supplied, **props})


def calls(d: Deployment, operation: str) -> list[dict]:
    return [c.body for c in d.calls if c.operation == operation]


def test_the_invocations_target_is_converted_to_per_minute():
    assert invocations_per_minute(10.0, 30.0) == 20.0  # 10 per 30-s period is 20 per minute
    assert invocations_per_minute(600.0, 60.0) == 600.0
    assert invocations_per_minute(1.0, 1.0) == 60.0


def test_realtime_with_autoscaling_matches_the_simulated_policy():
    d, s = deploy(workload({"realtime": {"instance_type": "ml.c5.xlarge", "workers_per_instance": 2, "autoscaling": {
        "min": 1, "max": 4, "target_invocations_per_instance": 600, "scale_in_cooldown_s": 900}}}), "realtime")
    assert_deployable(d)
    assert [c.operation for c in d.calls] == ["CreateModel", "CreateEndpointConfig", "CreateEndpoint",
                                              "RegisterScalableTarget", "PutScalingPolicy"]
    v = calls(d, "CreateEndpointConfig")[0]["ProductionVariants"][0]
    assert v["InstanceType"] == "ml.c5.xlarge" and v["InitialInstanceCount"] == s.config.model("m")["initial_count"]
    assert v["RoutingConfig"] == {"RoutingStrategy": "LEAST_OUTSTANDING_REQUESTS"}
    target = calls(d, "RegisterScalableTarget")[0]
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 4)
    tt = calls(d, "PutScalingPolicy")[0]["TargetTrackingScalingPolicyConfiguration"]
    period = load_catalog("aws/us-east-1").autoscaling.metric_period_s.value
    assert tt["TargetValue"] == pytest.approx(600 * 60 / period)
    assert tt["PredefinedMetricSpecification"]["PredefinedMetricType"] == "SageMakerVariantInvocationsPerInstance"
    assert (tt["ScaleInCooldown"], tt["ScaleOutCooldown"]) == (900, 300)
    assert calls(d, "CreateModel")[0]["PrimaryContainer"]["Environment"] == {"SAGEMAKER_MODEL_SERVER_WORKERS": "2"}


def test_a_policy_sized_by_the_simulator_targets_its_rate_per_minute():
    # 2 workers x 50 ms constant service = 40 requests/s flat out; sized at 60% utilisation = 24/s = 1440/min
    d, s = deploy(workload({"realtime": {"instance_type": "ml.c5.xlarge", "workers_per_instance": 2}}), "realtime")
    assert_deployable(d)
    tt = calls(d, "PutScalingPolicy")[0]["TargetTrackingScalingPolicyConfiguration"]
    assert tt["TargetValue"] == pytest.approx(0.6 * 2 / 0.050 * 60)
    assert s.config.model("m")["autoscaling"].endswith(f"target {tt['TargetValue']:.0f}/instance/min")


def test_serverless_memory_and_concurrency():
    d, s = deploy(workload({"serverless": {"memory_mb": 2048, "max_concurrency": 10, "provisioned_concurrency": 2}}),
                  "serverless")
    assert_deployable(d)
    v = calls(d, "CreateEndpointConfig")[0]["ProductionVariants"][0]
    assert v["ServerlessConfig"] == {"MemorySizeInMB": 2048, "MaxConcurrency": 10, "ProvisionedConcurrency": 2}
    assert "InstanceType" not in v and not calls(d, "RegisterScalableTarget")


def test_async_scales_on_backlog_from_zero():
    d, s = deploy(workload({"async": {"instance_type": "ml.m5.xlarge", "workers_per_instance": 2, "timeout_s": 600,
                                      "autoscaling": {"min": 0, "max": 3, "target_backlog_per_instance": 4}}},
                           slo={"delivery": "async"}), "async")
    assert_deployable(d)
    config = calls(d, "CreateEndpointConfig")[0]
    assert config["AsyncInferenceConfig"]["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 2}
    assert config["AsyncInferenceConfig"]["OutputConfig"]["S3OutputPath"].startswith("{{AsyncOutputS3Uri}}")
    assert config["ProductionVariants"][0]["InitialInstanceCount"] == max(1, s.config.model("m")["initial_count"])
    assert calls(d, "RegisterScalableTarget")[0]["MinCapacity"] == 0
    tracking, step = calls(d, "PutScalingPolicy")
    custom = tracking["TargetTrackingScalingPolicyConfiguration"]
    assert custom["TargetValue"] == 4
    assert custom["CustomizedMetricSpecification"]["MetricName"] == "ApproximateBacklogSizePerInstance"
    assert step["PolicyType"] == "StepScaling"
    alarm = calls(d, "PutMetricAlarm")[0]
    assert alarm["MetricName"] == "HasBacklogWithoutCapacity" and TOKEN.fullmatch(alarm["AlarmActions"][0])
    assert any("InvocationTimeoutSeconds=600" in n for n in d.notes)
    assert "AWS::CloudWatch::Alarm" in {r["Type"] for r in d.cloudformation.templates[0]["Resources"].values()}


def test_each_scale_from_zero_policy_feeds_its_own_alarm():
    """Models t-1 and t-10 (from `count: 11`): names that share a prefix still get their own policy ARN."""
    d, _ = deploy(workload({"async": {"instance_type": "ml.m5.xlarge", "workers_per_instance": 1,
                                      "autoscaling": {"min": 0, "max": 2, "target_backlog_per_instance": 4}}},
                           models=[{"name": "t", "count": 11, **CPU}], slo={"delivery": "async"}), "async")
    snippet = d.files()["TODO.md"]
    arn_of = ast.literal_eval(re.search(r"^arn_of = (\{.*\})", snippet, re.M).group(1))  # the script's dict
    alarms = {a["AlarmName"].removesuffix("-backlog-without-capacity"): TOKEN.fullmatch(a["AlarmActions"][0]).group(1)
              for a in calls(d, "PutMetricAlarm")}
    assert len(alarms) == 11 and len(set(alarms.values())) == 11
    assert arn_of == {f"{name}-scale-from-zero": token for name, token in alarms.items()}


def test_copies_of_an_entry_share_its_image_and_no_other():
    """Entry `t` (count 2) and entry `t-x`: t-x is not a copy of t and gets its own image."""
    d, _ = deploy(workload({"realtime": {"instance_type": "ml.m5.xlarge", "instance_count": 1}},
                           models=[{"name": "t", "count": 2, **CPU}, {"name": "t-x", **CPU}]), "realtime")
    images = [c["PrimaryContainer"]["Image"] for c in calls(d, "CreateModel")]
    assert len(images) == 3 and len(set(images)) == 2


def test_batch_transform_job():
    d, s = deploy(workload({"batch": {"instance_type": "ml.m5.xlarge", "instance_count": 2, "schedule": "5m",
                                      "max_concurrent_transforms": 4, "max_payload_mb": 6}},
                           slo={"delivery": "offline", "deadline_h": 1}), "batch")
    assert_deployable(d)
    job = calls(d, "CreateTransformJob")[0]
    assert job["TransformResources"] == {"InstanceType": "ml.m5.xlarge", "InstanceCount": 2}
    assert (job["MaxConcurrentTransforms"], job["MaxPayloadInMB"], job["BatchStrategy"]) == (4, 6, "MultiRecord")
    assert job["ModelClientConfig"]["InvocationsTimeoutInSeconds"] == s.config.model("m")["invocations_timeout_s"]
    assert "{{RunId}}" in job["TransformJobName"] and "{{TransformInputS3Uri}}" in json.dumps(job)
    assert {r["Type"] for r in d.cloudformation.templates[0]["Resources"].values()} == {"AWS::SageMaker::Model"}


def test_multi_model_endpoint():
    tenants = [{"name": "tenant", "count": 20, **CPU}]
    d, _ = deploy(workload({"multi-model": {"instance_type": "ml.m5.xlarge", "instance_count": 2}}, tenants,
                           ), "multi-model")
    assert_deployable(d)
    container = calls(d, "CreateModel")[0]["PrimaryContainer"]
    assert container["Mode"] == "MultiModel" and container["ModelDataUrl"] == "{{ModelDataS3Prefix}}/"
    assert calls(d, "CreateEndpointConfig")[0]["ProductionVariants"][0]["InitialInstanceCount"] == 2
    assert not calls(d, "RegisterScalableTarget")  # a pinned count
    assert len(d.artifacts) == 20 and d.artifacts[0] == "{{ModelDataS3Prefix}}/tenant-0.tar.gz"


def test_inference_components_endpoint_then_a_component_per_model_with_its_copy_scaling():
    """Inference components: an endpoint config with no model and managed instance scaling (IDLE_RELEASE, the
    catalog's cooldown), then per model CreateModel, CreateInferenceComponent with the simulated reservation and
    initial copies, and target tracking on InvocationsPerCopy; a model allowed to scale to zero copies also gets
    the step policy and its NoCapacityInvocationFailures alarm. Every body is a valid request, the template too."""
    models = [{"name": "a", **CPU}, {"name": "b", **CPU}]
    d, s = deploy(workload({"inference-components": {"instance_type": "ml.c5.xlarge", "min_copies": 0,
                                                     "min_instances": 1, "cpu_cores_per_copy": 2}}, models),
                  "inference-components")
    assert_deployable(d)
    (config,) = calls(d, "CreateEndpointConfig")
    variant = config["ProductionVariants"][0]
    assert "ModelName" not in variant and config["ExecutionRoleArn"] == "{{ExecutionRoleArn}}"
    managed = variant["ManagedInstanceScaling"]
    assert managed["Status"] == "ENABLED" and managed["MinInstanceCount"] == 1
    assert managed["ScaleInPolicy"] == {"Strategy": "IDLE_RELEASE", "CooldownInMinutes": 20, "MaximumStepSize": 1}
    components = calls(d, "CreateInferenceComponent")
    assert [c["Specification"]["ComputeResourceRequirements"]["NumberOfCpuCoresRequired"] for c in components] == [2.0,
                                                                                                                  2.0]
    assert [c["RuntimeConfig"]["CopyCount"] for c in components] == [s.config.model(m)["initial_copies"]
                                                                     for m in ("a", "b")]
    policies = calls(d, "PutScalingPolicy")
    tracking = [p for p in policies if p["PolicyType"] == "TargetTrackingScaling"]
    assert {p["ResourceId"] for p in tracking} == {f"inference-component/{c['InferenceComponentName']}"
                                                    for c in components}
    assert all(p["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]["PredefinedMetricType"]
               == "SageMakerInferenceComponentInvocationsPerCopy" for p in tracking)
    alarms = calls(d, "PutMetricAlarm")
    assert [a["MetricName"] for a in alarms] == ["NoCapacityInvocationFailures"] * 2


def test_inference_components_on_concurrency_track_the_high_resolution_metric():
    """Copies tracked on requests held: SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution at the
    simulated target."""
    d, _ = deploy(workload({"inference-components": {"instance_type": "ml.c5.xlarge",
                                                     "target_concurrent_per_copy": 2}}), "inference-components")
    assert_deployable(d)
    (policy,) = calls(d, "PutScalingPolicy")
    spec = policy["TargetTrackingScalingPolicyConfiguration"]
    assert spec["PredefinedMetricSpecification"]["PredefinedMetricType"] == \
        "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"
    assert spec["TargetValue"] == 2


def test_inference_components_pinned_copies_and_instances_have_no_scaling():
    """Pinned instances and copies: no managed instance scaling, no Application Auto Scaling."""
    d, _ = deploy(workload({"inference-components": {"instance_type": "ml.c5.xlarge", "instance_count": 2,
                                                     "copies": 2}}), "inference-components")
    assert_deployable(d)
    assert "ManagedInstanceScaling" not in calls(d, "CreateEndpointConfig")[0]["ProductionVariants"][0]
    assert calls(d, "CreateInferenceComponent")[0]["RuntimeConfig"] == {"CopyCount": 2}
    assert not calls(d, "RegisterScalableTarget")


def test_multi_container_direct_and_serial():
    two = [{"name": "a", **CPU}, {"name": "b", **CPU}]
    d, _ = deploy(workload({"multi-container": {"instance_type": "ml.c5.2xlarge", "instance_count": 1}}, two),
                  "multi-container")
    assert_deployable(d)
    model = calls(d, "CreateModel")[0]
    assert model["InferenceExecutionConfig"] == {"Mode": "Direct"}
    assert [c["ContainerHostname"] for c in model["Containers"]] == ["a", "b"]
    d, _ = deploy(workload({"multi-container": {"instance_type": "ml.c5.2xlarge", "instance_count": 1}}, two,
                           application={"pattern": "serial", "steps": ["b", "a"]}), "multi-container")
    assert_deployable(d)
    model = calls(d, "CreateModel")[0]
    assert model["InferenceExecutionConfig"] == {"Mode": "Serial"}
    assert [c["ContainerHostname"] for c in model["Containers"]] == ["b", "a"]


def test_inference_pipeline_keeps_the_step_order():
    steps = [{"name": "pre", "kind": "logic", "service_time": {"dist": "constant", "value_ms": 2}},
             {"name": "model", **CPU}, {"name": "post", "kind": "logic", "service_time": {"dist": "constant",
                                                                                          "value_ms": 1}}]
    d, _ = deploy(workload({"inference-pipeline": {"instance_type": "ml.c5.2xlarge", "workers_per_container": 2}},
                           steps, application={"pattern": "serial", "steps": ["pre", "model", "post"]}),
                  "inference-pipeline")
    assert_deployable(d)
    model = calls(d, "CreateModel")[0]
    assert [c["ContainerHostname"] for c in model["Containers"]] == ["pre", "model", "post"]
    assert "ModelDataUrl" not in model["Containers"][0]  # a business-logic step has no artifact
    assert model["InferenceExecutionConfig"] == {"Mode": "Serial"}
    assert calls(d, "RegisterScalableTarget")  # no count pinned: target tracking as simulated


def test_triton_dynamic_batching_config():
    gpu = [{"name": "vision", "memory_mb": 2000, "accelerator": "gpu",
            "service_time": {"dist": "constant", "value_ms": 20}}]
    d, _ = deploy(workload({"triton": {"instance_type": "ml.g4dn.xlarge", "instance_count": 1, "max_batch_size": 8,
                                       "max_queue_delay_ms": 5, "preferred_batch_sizes": [4, 8]}}, gpu), "triton")
    assert_deployable(d)
    env = calls(d, "CreateModel")[0]["PrimaryContainer"]["Environment"]
    assert env == {"SAGEMAKER_TRITON_DEFAULT_MODEL_NAME": "vision"}
    pbtxt = d.files()["triton/vision/config.pbtxt"]
    assert "max_batch_size: 8" in pbtxt and "max_queue_delay_microseconds: 5000" in pbtxt
    assert "preferred_batch_size: [ 4, 8 ]" in pbtxt


def test_names_are_valid_and_distinct():
    """Within the catalog's SageMaker name limit and AWS's pattern for it (the catalog fact's source)."""
    limit = int(load_catalog().export.sagemaker_name_max_chars.value)
    long = resource_name("a" * 80, "model", limit=limit)
    assert len(long) <= limit and re.fullmatch(rf"[a-zA-Z0-9](-*[a-zA-Z0-9]){{0,{limit - 1}}}", long)
    assert resource_name("a" * 80, "x", limit=limit) != resource_name("a" * 80, "y", limit=limit)
    assert resource_name("fraud_xgb.v2", limit=limit) == "fraud-xgb-v2"


def test_long_workload_names_stay_within_the_limits_in_every_body():
    """A long workload name: every SageMaker name in the bodies, the transform job name with the longest run
    id its placeholder allows included, fits the catalog's limit; the placeholder pattern says how long."""
    from fitness.export.build import RUN_ID_MAX_CHARS

    limit = int(load_catalog().export.sagemaker_name_max_chars.value)
    pinned = {"realtime": ({"instance_type": "ml.c5.xlarge", "instance_count": 1}, {}),
              "batch": ({"instance_type": "ml.m5.xlarge", "instance_count": 1, "schedule": "5m"},
                        {"slo": {"delivery": "offline", "deadline_h": 1}})}
    for option, (knobs, extra) in pinned.items():
        d, _ = deploy({**workload({option: knobs}, **extra), "name": "n" * 90}, option)
        for _, call in d.call_files():
            for key, value in call.body.items():
                if key.endswith("Name") and isinstance(value, str):
                    assert len(value.replace("{{RunId}}", "r" * RUN_ID_MAX_CHARS)) <= limit, (key, value)
    run = next(p for p in d.placeholders if p.name == "RunId")
    longest = "r" * RUN_ID_MAX_CHARS
    assert re.fullmatch(run.pattern, longest) and not re.fullmatch(run.pattern, longest + "r")


def test_infeasible_and_unknown_options_are_refused():
    wl = parse_workload(workload({}))
    result = {"workload": "t", "recommended": None, "options": [
        {"option": "batch", "feasible": False, "reasons": ["batch cannot deliver a synchronous answer"]}]}
    with pytest.raises(UserError, match="infeasible.*cannot deliver"):
        export(wl, result, "batch")
    with pytest.raises(UserError, match="(?i)did you mean 'realtime'"):
        export(wl, result, "realtme")
    with pytest.raises(UserError, match="not 't'"):
        export(wl, {**result, "workload": "other"})


# --- the command line ------------------------------------------------------------------------------


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "fitness.cli", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(workload({"realtime": {"instance_type": "ml.c5.xlarge", "autoscaling": {
        "min": 2, "max": 3, "target_invocations_per_instance": 600}}})))
    return path


def test_cli_writes_the_files_and_never_overwrites(tiny: Path, tmp_path: Path):
    out = tmp_path / "out"
    first = cli("export", str(tiny), "--option", "realtime", "--out", str(out), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    names = sorted(p.name for p in (out / "boto3").iterdir())
    assert names[0] == "01.sagemaker.create_model.m.json" and len(names) == 5
    assert "{{ExecutionRoleArn}}" in first.stdout and "{{ExecutionRoleArn}}" in (out / "TODO.md").read_text()
    cfn = json.loads((out / "cloudformation.json").read_text())
    assert "ExecutionRoleArn" in cfn["Parameters"]
    (out / "TODO.md").write_text("my notes")
    again = cli("export", str(tiny), "--option", "realtime", "--out", str(out), cwd=tmp_path)
    assert again.returncode == 2 and "--force" in again.stderr and "Traceback" not in again.stderr
    assert (out / "TODO.md").read_text() == "my notes"
    forced = cli("export", str(tiny), "--option", "realtime", "--out", str(out), "--force", cwd=tmp_path)
    assert forced.returncode == 0 and (out / "TODO.md").read_text() != "my notes"


def test_cli_exports_the_recommended_option_from_a_result(tiny: Path, tmp_path: Path):
    rec = cli("recommend", str(tiny), "--format", "json", cwd=tmp_path)
    assert rec.returncode == 0, rec.stderr
    result = tmp_path / "rec.json"
    result.write_text(rec.stdout)
    best = json.loads(rec.stdout)["recommended"]
    out = cli("export", str(tiny), "--from-json", str(result), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / f"t-{best}-export" / "TODO.md").exists()


def test_cli_bad_input_exits_2(tiny: Path, tmp_path: Path):
    unknown = cli("export", str(tiny), "--option", "serverles", cwd=tmp_path)
    assert unknown.returncode == 2 and "did you mean 'serverless'" in unknown.stderr.lower()
    infeasible = cli("export", str(tiny), "--option", "batch", cwd=tmp_path)
    assert infeasible.returncode == 2 and "infeasible" in infeasible.stderr and "Traceback" not in infeasible.stderr
    missing = cli("export", str(tiny), "--from-json", str(tmp_path / "nope.json"), cwd=tmp_path)
    assert missing.returncode == 2 and "not found" in missing.stderr
    assert not any(p.name.endswith("-export") for p in tmp_path.iterdir())


def test_separate_endpoints_for_a_pattern_and_triton_behind_a_gpu_multi_model_endpoint():
    two = [{"name": "a", **CPU}, {"name": "b", **CPU}]
    d, _ = deploy(workload({"realtime": {"instance_type": "ml.c5.xlarge", "instance_count": 1}}, two,
                           application={"pattern": "scatter-gather", "branches": ["a", "b"]}), "realtime")
    assert_deployable(d)
    assert [c["EndpointName"] for c in calls(d, "CreateEndpoint")] == ["t-realtime-a", "t-realtime-b"]
    assert any("2 separate real-time endpoints" in n and "a, b at once" in n for n in d.notes)
    gpu = [{"name": "g", "count": 3, "memory_mb": 1000, "size_mb": 100, "accelerator": "gpu",
            "service_time": {"dist": "constant", "value_ms": 20}}]
    d, _ = deploy(workload({"multi-model": {"instance_type": "ml.g4dn.xlarge", "instance_count": 1}}, gpu),
                  "multi-model")
    assert_deployable(d)
    container = calls(d, "CreateModel")[0]["PrimaryContainer"]
    assert container["Image"] == "{{TritonImageUri}}" and "Environment" not in container
