"""The export as CloudFormation: the same resources as the boto3 bodies.

`template(plan, sets, names)` builds the stack (AWS::SageMaker::Model, ::EndpointConfig, ::Endpoint,
AWS::ApplicationAutoScaling::ScalableTarget and ::ScalingPolicy, AWS::CloudWatch::Alarm for scale from
zero) with a Parameter per placeholder.
"""

from __future__ import annotations

import re

from fitness.export.aws import SCALABLE_DIMENSION, VARIANT, EndpointSet, ExportPlan, camel

TOKEN = re.compile(r"\{\{([A-Za-z0-9]+)\}\}")


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


def template(plan: ExportPlan, sets: list, names: dict[str, str]) -> dict:
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
