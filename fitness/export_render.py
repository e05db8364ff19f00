"""The export as CloudFormation and as TODO.md: the same resources as the boto3 bodies, and what is left to do.

`template(plan, sets, names)` builds the stack (AWS::SageMaker::Model, ::EndpointConfig, ::Endpoint,
AWS::ApplicationAutoScaling::ScalableTarget and ::ScalingPolicy, AWS::CloudWatch::Alarm for scale from
zero) with a Parameter per placeholder; `todo_markdown(deployment)` lists the placeholders, the artifacts
to upload, how to deploy, and the notes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from fitness.export_aws import SCALABLE_DIMENSION, VARIANT, EndpointSet, Plan, camel

if TYPE_CHECKING:
    from fitness.export import Deployment

TOKEN = re.compile(r"\{\{([A-Za-z0-9]+)\}\}")
LISTED = 30
"""Most configuration lines and artifacts TODO.md lists one by one (1000 tenants would drown the rest)."""


def cfn_value(value):
    """Placeholders as CloudFormation: a whole `{{X}}` becomes Ref X, one inside a string Fn::Sub ${X}."""
    if isinstance(value, dict):
        return {k: cfn_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cfn_value(v) for v in value]
    if isinstance(value, str) and TOKEN.search(value):
        whole = TOKEN.fullmatch(value)
        return {"Ref": whole.group(1)} if whole else {"Fn::Sub": TOKEN.sub(r"${\1}", value)}
    return value


def _endpoint(lid: str, s: EndpointSet, name: str) -> dict:
    """Resources of one endpoint: model, endpoint config, endpoint, and its scaling if any."""
    endpoint_name = {"Fn::GetAtt": [f"{lid}Endpoint", "EndpointName"]}
    config = {"ProductionVariants": [{**s.variant, "ModelName": {"Fn::GetAtt": [f"{lid}Model", "ModelName"]}}]}
    if s.async_config:
        config["AsyncInferenceConfig"] = s.async_config
    res = {f"{lid}Model": {"Type": "AWS::SageMaker::Model",
                           "Properties": {"ExecutionRoleArn": "{{ExecutionRoleArn}}", **s.model}},
           f"{lid}EndpointConfig": {"Type": "AWS::SageMaker::EndpointConfig", "Properties": config},
           f"{lid}Endpoint": {"Type": "AWS::SageMaker::Endpoint", "Properties": {
               "EndpointName": name,
               "EndpointConfigName": {"Fn::GetAtt": [f"{lid}EndpointConfig", "EndpointConfigName"]}}}}
    sc = s.scaling
    if sc is None:
        return res
    res[f"{lid}ScalableTarget"] = {"Type": "AWS::ApplicationAutoScaling::ScalableTarget", "Properties": {
        "MinCapacity": sc.min, "MaxCapacity": sc.max, "ServiceNamespace": "sagemaker",
        "ScalableDimension": SCALABLE_DIMENSION,
        "ResourceId": {"Fn::Sub": f"endpoint/${{{lid}Endpoint.EndpointName}}/variant/{VARIANT}"}}}
    target = {"Ref": f"{lid}ScalableTarget"}
    res[f"{lid}ScalingPolicy"] = {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
        "PolicyName": f"{name}-target-tracking", "PolicyType": "TargetTrackingScaling", "ScalingTargetId": target,
        "TargetTrackingScalingPolicyConfiguration": sc.target_tracking(endpoint_name)}}
    if sc.from_zero:
        res[f"{lid}ScaleFromZeroPolicy"] = {"Type": "AWS::ApplicationAutoScaling::ScalingPolicy", "Properties": {
            "PolicyName": f"{name}-scale-from-zero", "PolicyType": "StepScaling", "ScalingTargetId": target,
            "StepScalingPolicyConfiguration": sc.step_from_zero()}}
        res[f"{lid}BacklogWithoutCapacityAlarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": sc.alarm_from_zero(
            f"{name}-backlog-without-capacity", endpoint_name, {"Ref": f"{lid}ScaleFromZeroPolicy"})}
    return res


def template(plan: Plan, sets: list, names: dict[str, str]) -> dict:
    """The CloudFormation template (JSON) of every set; transform jobs have no resource type, so a batch
    stack holds the models only."""
    resources: dict = {}
    outputs: dict = {}
    for s in sets:
        lid = camel(s.key)
        while f"{lid}Model" in resources:
            lid += "X"
        if isinstance(s, EndpointSet):
            resources.update(_endpoint(lid, s, names[s.key]))
            outputs[f"{lid}EndpointName"] = {"Value": {"Fn::GetAtt": [f"{lid}Endpoint", "EndpointName"]}}
        else:
            resources[f"{lid}Model"] = {"Type": "AWS::SageMaker::Model", "Properties": {
                "ModelName": names[s.key], "ExecutionRoleArn": "{{ExecutionRoleArn}}", **s.model}}
            outputs[f"{lid}ModelName"] = {"Value": {"Fn::GetAtt": [f"{lid}Model", "ModelName"]}}
    params, longest = {}, int(plan.catalog.export.cloudformation_description_max_chars.value)
    for p in plan.placeholders.values():
        if p.in_template:
            params[p.name] = {"Type": "String", "Description": p.what[:longest]}
            if p.pattern:
                params[p.name]["AllowedPattern"] = p.pattern
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"fitness export: option {plan.option} of workload {plan.wl.name}, as simulated.",
            "Parameters": params, "Resources": cfn_value(resources), "Outputs": outputs}


def _listed(lines: list[str], what: str) -> list[str]:
    """At most LISTED lines, then how many more there are."""
    more = len(lines) - LISTED
    return lines[:LISTED] + ([f"- ... and {more} more {what}"] if more > 0 else [])


def _snippet(d: Deployment) -> list[str]:
    """A boto3 script that fills the placeholders in and makes the calls in order."""
    # each scale-from-zero policy's ARN feeds the alarm of the same endpoint (same key): read its token there
    alarm_token = {c.key: c.body["AlarmActions"][0] for c in d.calls if c.operation == "PutMetricAlarm"}
    arn_of = {c.body["PolicyName"]: alarm_token[c.key].strip("{}") for c in d.calls
              if c.body.get("PolicyType") == "StepScaling"}
    lines = ["```python", "import json, pathlib, boto3", "",
             "values = {" + ", ".join(f'"{p.name}": ""' for p in d.placeholders if p.name not in arn_of.values()) + "}",
             "assert all(values.values()), 'fill in every value first'"]
    if arn_of:
        lines.append(f"arn_of = {arn_of!r}  # scale-from-zero policies: their PolicyARN feeds the alarm")
    lines += ['for path in sorted(pathlib.Path("boto3").glob("*.json")):', "    text = path.read_text()",
              "    for name, value in values.items():", '        text = text.replace("{{" + name + "}}", value)',
              '    _, service, method, _ = path.name.split(".", 3)', "    body = json.loads(text)",
              "    response = getattr(boto3.client(service), method)(**body)",
              '    if method == "create_endpoint":  # scaling needs the endpoint InService',
              '        waiter = boto3.client("sagemaker").get_waiter("endpoint_in_service")',
              '        waiter.wait(EndpointName=body["EndpointName"])']
    if arn_of:
        lines += ['    if body.get("PolicyName") in arn_of:',
                  '        values[arn_of[body["PolicyName"]]] = response["PolicyARN"]']
    return lines + ["```"]


def _scaling_lines(d: Deployment) -> list[str]:
    """One line per scaled endpoint: capacity range, tracked metric and target, cooldowns."""
    out, ranges = [], {}
    for c in d.calls:
        if c.operation == "RegisterScalableTarget":
            ranges[c.key] = f"{c.body['MinCapacity']}..{c.body['MaxCapacity']} instances"
        tt = c.body.get("TargetTrackingScalingPolicyConfiguration")
        if tt:
            metric = (tt.get("PredefinedMetricSpecification") or {}).get("PredefinedMetricType") or \
                tt["CustomizedMetricSpecification"]["MetricName"]
            out.append(f"- {c.key}: autoscaling {ranges.get(c.key)}, {metric} target {tt['TargetValue']:g}, "
                       f"cooldowns in {tt['ScaleInCooldown']} s / out {tt['ScaleOutCooldown']} s")
    return out


def _how(d: Deployment) -> str:
    """Which files to use: endpoints come from either set; a transform job only from boto3, run after run."""
    if any(c.operation == "CreateTransformJob" for c in d.calls):
        return ("Create the model once (its `create_model` file in `boto3/`, or the CloudFormation template, which "
                "holds the model only), then run each `create_transform_job` file for every job with a new `RunId`.")
    return ("Use either the boto3 request bodies (`boto3/`, in call order) or the CloudFormation template "
            "(`cloudformation.json`), not both: they create the same resources with the same names.")


def todo_markdown(d: Deployment) -> str:
    """TODO.md: what to fill in, what to upload, how to deploy, and what the simulation assumed."""
    rows = [f"| `{p.token}` | {p.what}{'' if p.in_template else ' (boto3 only)'} | `{p.example}` |"
            for p in d.placeholders]
    endpoints = [c.body["EndpointName"] for c in d.calls if c.operation == "CreateEndpoint"]
    config = _scaling_lines(d) + [f"- {k}: {v:g}" if isinstance(v, float) else f"- {k}: {v}"
                                  for k, v in d.config.items()]
    params = " ".join(f"{p.name}=..." for p in d.placeholders if p.in_template)
    out = [f"# Deploying `{d.option}` for `{d.workload}`", "",
           "Generated by `fitness export` from the simulated configuration.", "", _how(d), "",
           "## Fill in", "", "| Placeholder | What | Example |", "| --- | --- | --- |", *rows, ""]
    if d.artifacts:
        triton = " (the Triton model repository: one folder per model with its config.pbtxt)" \
            if d.option == "triton" else ""
        out += ["## Upload", "", f"Each artifact must exist in S3 before the endpoint or job is created{triton}:", "",
                *_listed([f"- `{a}`" for a in d.artifacts], "artifacts"), ""]
    models = [f"- model `{c.body['ModelName']}`" for c in d.calls if c.operation == "CreateModel"]
    out += ["## Resources", "", *_listed([f"- endpoint `{e}`" for e in endpoints] or models, "resources"),
            "", "## Deploy", "", "CloudFormation:", "", "```bash",
            f"aws cloudformation deploy --template-file cloudformation.json --stack-name {d.workload}-{d.option} \\",
            f"  --parameter-overrides {params}", "```", "", "boto3 (fill in `values`, run from this folder):", "",
            *_snippet(d), "", "## Configuration simulated", "", *_listed(config, "settings"), "",
            "## Notes and assumptions", "", *[f"- {n}" for n in d.notes], ""]
    return "\n".join(out)
