"""The export as CloudFormation: the same resources as the boto3 bodies.

`templates(plan, sets, names)` builds the stack (AWS::SageMaker::Model, ::EndpointConfig, ::Endpoint,
AWS::ApplicationAutoScaling::ScalableTarget and ::ScalingPolicy, AWS::CloudWatch::Alarm for scale from
zero) with a Parameter per placeholder its resources use. When one template would break a per-template
limit of the catalog (resources, outputs, parameters, body bytes: `export.cloudformation_*`), it writes
several stacks instead, each endpoint's (or model's) resources kept together in one of them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from fitness.errors import UserError
from fitness.export.aws import (
    SCALABLE_DIMENSION,
    SCALING_POLICY,
    VARIANT,
    EndpointSet,
    ExportPlan,
    camel,
    scalable_target,
    scaling_policy,
    step_alarm,
)
from fitness.export.components import ComponentSet
from sim.catalog import Catalog

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
        "MinCapacity": sc.min, "MaxCapacity": sc.max, **scalable_target(
            {"Fn::Sub": f"endpoint/${{{lid}Endpoint.EndpointName}}/variant/{VARIANT}"}, SCALABLE_DIMENSION)}}
    if sc.scheduled:
        res[f"{lid}ScalableTarget"]["Properties"]["ScheduledActions"] = [
            {**a, "ScheduledActionName": f"{name}-{a['ScheduledActionName']}"} for a in sc.scheduled_actions()]
    target = {"ScalingTargetId": {"Ref": f"{lid}ScalableTarget"}}
    if sc.step is None:
        res[f"{lid}ScalingPolicy"] = {"Type": SCALING_POLICY, "Properties": scaling_policy(
            f"{name}-target-tracking", "TargetTrackingScaling", sc.target_tracking(endpoint_name), target)}
    for way, policy, alarm in sc.step_policies() if sc.step is not None else ():
        key = f"{lid}Step{way.capitalize()}"
        res[f"{key}Policy"] = {"Type": SCALING_POLICY, "Properties": scaling_policy(
            f"{name}-step-{way}", "StepScaling", policy, target)}
        res[f"{key}Alarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": step_alarm(
            alarm, f"{name}-invocations-{way}", endpoint_name, {"Ref": f"{key}Policy"})}
    if sc.from_zero:
        res[f"{lid}ScaleFromZeroPolicy"] = {"Type": SCALING_POLICY, "Properties": scaling_policy(
            f"{name}-scale-from-zero", "StepScaling", sc.step_from_zero(), target)}
        res[f"{lid}BacklogWithoutCapacityAlarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": sc.alarm_from_zero(
            f"{name}-backlog-without-capacity", endpoint_name, {"Ref": f"{lid}ScaleFromZeroPolicy"})}
    return res


def render(t: dict) -> str:
    """A template as the file is written (what CloudFormation measures against its body limits)."""
    return json.dumps(t, indent=2) + "\n"


def body_bytes(t: dict) -> int:
    """The size of a template's file in bytes."""
    return len(render(t).encode())


@dataclass(frozen=True)
class Limits:
    """The catalog's limits on one template: resources, outputs, parameters, body bytes from S3 and inline."""

    resources: int
    outputs: int
    parameters: int
    bytes: int
    inline_bytes: int

    @classmethod
    def of(cls, catalog: Catalog) -> Limits:
        """The limits of `catalog` (section `export`)."""
        e = catalog.export
        return cls(int(e.cloudformation_max_resources.value), int(e.cloudformation_max_outputs.value),
                   int(e.cloudformation_max_parameters.value), int(e.cloudformation_template_max_bytes.value),
                   int(e.cloudformation_inline_template_max_bytes.value))

    def broken(self, t: dict) -> list[str]:
        """What of template `t` is over a limit, each as e.g. '3,000 resources (limit 500, catalog
        export.cloudformation_max_resources)'."""
        have = {"resources": len(t["Resources"]), "outputs": len(t["Outputs"]),
                "parameters": len(t["Parameters"]), "bytes": body_bytes(t)}
        fact = {"resources": "max_resources", "outputs": "max_outputs", "parameters": "max_parameters",
                "bytes": "template_max_bytes"}
        return [f"{n:,} {what} (limit {getattr(self, what):,}, catalog export.cloudformation_{fact[what]})"
                for what, n in have.items() if n > getattr(self, what)]


@dataclass(frozen=True)
class Stacks:
    """The CloudFormation export: one template, or several when one would break a limit (`why` says which;
    empty for one). `inline_max_bytes` is the largest body `aws cloudformation deploy` takes without S3."""

    templates: tuple[dict, ...]
    why: str
    inline_max_bytes: int

    def names(self) -> list[str]:
        """cloudformation.json for one stack, else cloudformation-01.json, -02.json, ... in stack order."""
        if len(self.templates) == 1:
            return ["cloudformation.json"]
        width = max(2, len(str(len(self.templates))))
        return [f"cloudformation-{i:0{width}d}.json" for i in range(1, len(self.templates) + 1)]

    def files(self) -> dict[str, str]:
        """Each template's file (`names()`) and its text."""
        return {name: render(t) for name, t in zip(self.names(), self.templates, strict=True)}


@dataclass(frozen=True)
class _Unit:
    """One set's share of a template, never split across stacks: its resources and outputs (as CloudFormation),
    the parameters they use (placeholder order) and an upper bound on the bytes they add to a template's file."""

    key: str
    resources: dict
    outputs: dict
    params: tuple[str, ...]
    bytes: int


def _entry_bytes(key: str, value) -> int:
    """Upper bound on what `"key": value` adds inside a top-level section of `render`: two levels of
    indentation on every line, and the separator after it."""
    text = json.dumps(value, indent=2)
    return 4 + len(json.dumps(key)) + 2 + len(text.encode()) + 4 * text.count("\n") + 2


def _units(plan: ExportPlan, sets: list, names: dict[str, str], params: dict) -> list[_Unit]:
    """One unit per set, with logical ids distinct across all of them (so stacks can be split and merged)."""
    out, taken = [], set()
    for s in sets:
        lid = camel(s.key)
        while f"{lid}Model" in taken:
            lid += "X"
        if isinstance(s, ComponentSet):
            res, outputs = s.resources(lid, names[s.key], "{{ExecutionRoleArn}}",
                                       lambda model, n=names[s.key]: plan.name(n, model))
        elif isinstance(s, EndpointSet):
            res = _endpoint(lid, s, names[s.key])
            outputs = {f"{lid}EndpointName": {"Value": {"Fn::GetAtt": [f"{lid}Endpoint", "EndpointName"]}}}
        else:
            res = {f"{lid}Model": {"Type": "AWS::SageMaker::Model", "Properties": {
                "ModelName": names[s.key], "ExecutionRoleArn": "{{ExecutionRoleArn}}", **s.model}}}
            outputs = {f"{lid}ModelName": {"Value": {"Fn::GetAtt": [f"{lid}Model", "ModelName"]}}}
        taken.update(res)
        used = set(TOKEN.findall(json.dumps(res)))
        res = cfn_value(res)
        size = sum(_entry_bytes(k, v) for part in (res, outputs) for k, v in part.items())
        out.append(_Unit(s.key, res, outputs, tuple(p for p in params if p in used), size))
    return out


def _parameters(plan: ExportPlan) -> dict[str, dict]:
    """A Parameter per placeholder the template may use, in placeholder order."""
    params, longest = {}, int(plan.catalog.export.cloudformation_description_max_chars.value)
    for p in plan.placeholders.values():
        if p.in_template:
            params[p.name] = {"Type": "String", "Description": p.what[:longest]}
            if p.pattern:
                params[p.name]["AllowedPattern"] = p.pattern
    return params


def _template(plan: ExportPlan, units: list[_Unit], params: dict, part: tuple[int, int] | None = None) -> dict:
    """The template of `units`, declaring only the parameters they use; `part` (i, n) names stack i of n."""
    used = {p for u in units for p in u.params}
    which = f" Stack {part[0]} of {part[1]}." if part else ""
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"fitness export: option {plan.option} of workload {plan.wl.name}, as simulated.{which}",
            "Parameters": {k: v for k, v in params.items() if k in used},
            "Resources": {k: v for u in units for k, v in u.resources.items()},
            "Outputs": {k: v for u in units for k, v in u.outputs.items()}}


def templates(plan: ExportPlan, sets: list, names: dict[str, str]) -> Stacks:
    """The CloudFormation templates of every set: one if it is within every limit, else as few stacks as
    packing the sets in order gives. Transform jobs have no resource type, so a batch stack holds models only."""
    params = _parameters(plan)
    units = _units(plan, sets, names, params)
    limits = Limits.of(plan.catalog)
    whole = _template(plan, units, params)
    over = limits.broken(whole)
    if not over:
        return Stacks((whole,), "", limits.inline_bytes)
    groups = _pack(plan, units, params, limits)
    stacks = tuple(_template(plan, g, params, (i, len(groups))) for i, g in enumerate(groups, 1))
    if any(limits.broken(t) for t in stacks):  # _pack's byte bound is an upper bound: this is a bug
        raise AssertionError(f"a packed stack breaks a limit: {[limits.broken(t) for t in stacks]}")
    held = ", ".join(over[:-1]) + " and " + over[-1] if len(over) > 1 else over[0]
    return Stacks(stacks, f"one template would hold {held}", limits.inline_bytes)


def _pack(plan: ExportPlan, units: list[_Unit], params: dict, limits: Limits) -> list[list[_Unit]]:
    """Units in order into stacks, each within every limit: a unit goes into the current stack if it still
    fits, else starts the next. A unit that fits no stack on its own is refused."""
    # the longest description any stack gets, with empty sections; filling a section adds 4 bytes of brackets
    base = body_bytes(_template(plan, [], params, (len(units), len(units)))) + 3 * 4
    param_bytes = {k: _entry_bytes(k, v) for k, v in params.items()}

    def fits(group: list[_Unit]) -> bool:
        used = {p for g in group for p in g.params}
        return (sum(len(g.resources) for g in group) <= limits.resources
                and sum(len(g.outputs) for g in group) <= limits.outputs and len(used) <= limits.parameters
                and base + sum(g.bytes for g in group) + sum(param_bytes[p] for p in used) <= limits.bytes)

    groups: list[list[_Unit]] = []
    for u in units:
        if groups and fits([*groups[-1], u]):
            groups[-1].append(u)
        elif fits([u]):
            groups.append([u])
        else:
            _refuse(plan, u, params, limits)
    return groups


def _refuse(plan: ExportPlan, u: _Unit, params: dict, limits: Limits) -> None:
    """A UserError: one endpoint's (or model's) resources alone break a per-template limit."""
    # the packing bound can be a few bytes over the exact size: then the body limit is the one meant
    over = limits.broken(_template(plan, [u], params, (1, 1))) or [
        f"about {limits.bytes:,} bytes (limit {limits.bytes:,}, catalog export.cloudformation_template_max_bytes)"]
    raise UserError(f"--option {plan.option}: the CloudFormation resources of `{u.key}` alone hold "
                    f"{', '.join(over)}, so no stack can hold them; use the boto3 request bodies instead.")
