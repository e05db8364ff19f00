"""The export of an endpoint of inference components: the endpoint (instances under managed instance scaling),
then per model a SageMaker model, its inference component (copies and their reservation) and the scaling of its
copies (target tracking on InvocationsPerCopy; with a minimum of 0 copies, the step policy and the
NoCapacityInvocationFailures alarm that bring a copy back).

A `ComponentSet` renders itself, as boto3 calls (`calls`) and CloudFormation resources (`resources`), so the
renderers of `fitness.export.build` and `fitness.export.cloudformation` only hand it its names.
"""

from __future__ import annotations

from dataclasses import dataclass

from fitness.export.aws import SCALING_POLICY, VARIANT, camel, scalable_target, scaling_policy

Call = tuple
"""(service, operation, key, body) of one API request; `fitness.export.build` makes each an `ApiCall` (this module
sits below `fitness.export.deployment`, which renders the templates built here)."""


def _call(service: str, operation: str, key: str, body: dict) -> Call:
    """One request as a `Call`."""
    return service, operation, key, body


COPY_DIMENSION = "sagemaker:inference-component:DesiredCopyCount"
COPY_METRIC = "SageMakerInferenceComponentInvocationsPerCopy"
CONCURRENCY_METRIC = "SageMakerInferenceComponentConcurrentRequestsPerCopyHighResolution"


@dataclass(frozen=True)
class Component:
    """One model's inference component: its CreateModel body (without name and role), its specification's
    ComputeResourceRequirements, its copies at deployment, and its copy scaling (None: pinned)."""

    model: str
    create_model: dict
    resources: dict
    copies: int
    scaling: dict | None = None
    """{"min", "max", "target" (invocations per copy per minute, or requests held per copy when "concurrent"),
    "concurrent", "in_cooldown_s", "out_cooldown_s", "period_s"}."""


@dataclass(frozen=True)
class ComponentSet:
    """The endpoint (`variant`: instance type, count, managed instance scaling, routing; no model) and its
    components."""

    key: str
    variant: dict
    components: tuple[Component, ...]

    def calls(self, name: str, role: str, component_name) -> list[Call]:
        """The boto3 calls in order: the endpoint first, then each component and its scaling (`component_name(model)`
        the component's and its model's name)."""
        out = [_call("sagemaker", "CreateEndpointConfig", self.key, {
                   "EndpointConfigName": name, "ExecutionRoleArn": role, "ProductionVariants": [self.variant]}),
               _call("sagemaker", "CreateEndpoint", self.key, {"EndpointName": name, "EndpointConfigName": name})]
        for c in self.components:
            ic = component_name(c.model)
            out += [_call("sagemaker", "CreateModel", c.model, {"ModelName": ic, "ExecutionRoleArn": role,
                                                                  **c.create_model}),
                    _call("sagemaker", "CreateInferenceComponent", c.model, self.component_body(c, ic, name, ic))]
            out += self.scaling_calls(c, ic)
        return out

    def component_body(self, c: Component, ic, endpoint, model) -> dict:
        """CreateInferenceComponent (and AWS::SageMaker::InferenceComponent's properties)."""
        return {"InferenceComponentName": ic, "EndpointName": endpoint, "VariantName": VARIANT,
                "Specification": {"ModelName": model, "ComputeResourceRequirements": c.resources},
                "RuntimeConfig": {"CopyCount": c.copies}}

    def scaling_calls(self, c: Component, ic: str) -> list[Call]:
        """RegisterScalableTarget and PutScalingPolicy of a component's copies; with min 0 the step policy and its
        alarm (whose ARN the user fills in between the calls: `{{<Model>ScaleFromZeroPolicyArn}}`)."""
        s = c.scaling
        if s is None:
            return []
        target = scalable_target(f"inference-component/{ic}", COPY_DIMENSION)
        out = [_call("application-autoscaling", "RegisterScalableTarget", c.model,
                     {**target, "MinCapacity": s["min"], "MaxCapacity": s["max"]}),
               _call("application-autoscaling", "PutScalingPolicy", c.model,
                     scaling_policy(f"{ic}-target-tracking", "TargetTrackingScaling", tracking(s), target))]
        if s["min"] == 0:
            out += [_call("application-autoscaling", "PutScalingPolicy", c.model,
                          scaling_policy(f"{ic}-scale-from-zero", "StepScaling", from_zero(s), target)),
                    _call("cloudwatch", "PutMetricAlarm", c.model,
                            no_capacity_alarm(s, f"{ic}-no-capacity", ic,
                                              "{{" + camel(c.model) + "ScaleFromZeroPolicyArn}}"))]
        return out

    def resources(self, lid: str, name: str, role: str, component_name) -> tuple[dict, dict]:
        """CloudFormation resources and outputs of the endpoint and its components (logical ids from `lid`)."""
        endpoint = {"Fn::GetAtt": [f"{lid}Endpoint", "EndpointName"]}
        res = {f"{lid}EndpointConfig": {"Type": "AWS::SageMaker::EndpointConfig", "Properties": {
                   "ExecutionRoleArn": role, "ProductionVariants": [self.variant]}},
               f"{lid}Endpoint": {"Type": "AWS::SageMaker::Endpoint", "Properties": {
                   "EndpointName": name,
                   "EndpointConfigName": {"Fn::GetAtt": [f"{lid}EndpointConfig", "EndpointConfigName"]}}}}
        for c in self.components:
            cid, ic = f"{lid}{camel(c.model)}", component_name(c.model)
            res[f"{cid}Model"] = {"Type": "AWS::SageMaker::Model", "Properties": {
                "ModelName": ic, "ExecutionRoleArn": role, **c.create_model}}
            body = self.component_body(c, ic, endpoint, {"Fn::GetAtt": [f"{cid}Model", "ModelName"]})
            res[f"{cid}Component"] = {"Type": "AWS::SageMaker::InferenceComponent", "Properties": body}
            res.update(_cfn_scaling(c, cid, ic))
        return res, {f"{lid}EndpointName": {"Value": endpoint}}


def _cfn_scaling(c: Component, cid: str, ic: str) -> dict:
    """A component's scalable target, target-tracking policy and, with min 0, step policy and alarm, as
    CloudFormation (the target depends on the component: it must exist first)."""
    s = c.scaling
    if s is None:
        return {}
    on = {"ScalingTargetId": {"Ref": f"{cid}ScalableTarget"}}
    res = {f"{cid}ScalableTarget": {"Type": "AWS::ApplicationAutoScaling::ScalableTarget",
                                    "DependsOn": f"{cid}Component", "Properties": {
        "MinCapacity": s["min"], "MaxCapacity": s["max"],
        **scalable_target(f"inference-component/{ic}", COPY_DIMENSION)}},
        f"{cid}ScalingPolicy": {"Type": SCALING_POLICY, "Properties": scaling_policy(
            f"{ic}-target-tracking", "TargetTrackingScaling", tracking(s), on)}}
    if s["min"] == 0:
        res[f"{cid}ScaleFromZeroPolicy"] = {"Type": SCALING_POLICY, "Properties": scaling_policy(
            f"{ic}-scale-from-zero", "StepScaling", from_zero(s), on)}
        res[f"{cid}NoCapacityAlarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": no_capacity_alarm(
            s, f"{ic}-no-capacity", ic, {"Ref": f"{cid}ScaleFromZeroPolicy"})}
    return res


def tracking(s: dict) -> dict:
    """TargetTrackingScalingPolicyConfiguration on InvocationsPerCopy (per minute) or, for a policy on requests
    held, on the high-resolution ConcurrentRequestsPerCopy, with the simulated cooldowns."""
    return {"TargetValue": round(s["target"], 4),
            "PredefinedMetricSpecification": {"PredefinedMetricType": CONCURRENCY_METRIC if s.get("concurrent")
                                              else COPY_METRIC},
            "ScaleInCooldown": s["in_cooldown_s"], "ScaleOutCooldown": s["out_cooldown_s"]}


def from_zero(s: dict) -> dict:
    """StepScalingPolicyConfiguration: one copy when a request found none."""
    return {"AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Maximum",
            "Cooldown": s["out_cooldown_s"], "StepAdjustments": [{"MetricIntervalLowerBound": 0.0,
                                                                  "ScalingAdjustment": 1}]}


def no_capacity_alarm(s: dict, alarm_name: str, ic, policy_arn) -> dict:
    """PutMetricAlarm on NoCapacityInvocationFailures of the component: one metric period with a request that
    found no copy, as simulated (the AWS docs' scale-from-zero alarm)."""
    return {"AlarmName": alarm_name, "AlarmActions": [policy_arn], "MetricName": "NoCapacityInvocationFailures",
            "Namespace": "AWS/SageMaker", "Dimensions": [{"Name": "InferenceComponentName", "Value": ic}],
            "Statistic": "Sum", "Period": s["period_s"], "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
            "Threshold": 1.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching"}
