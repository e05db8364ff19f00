"""What each hosting option deploys as on AWS: SageMaker models, endpoint variants, scaling, transform jobs.

`plan_option(plan)` turns one simulated option into `EndpointSet`s (CreateModel + CreateEndpointConfig +
CreateEndpoint, optionally Application Auto Scaling) or `TransformSet`s (CreateModel + CreateTransformJob),
with the values the simulation ran: instance type and initial count, autoscaling min/max/target/cooldowns,
serverless memory and concurrency, async concurrency per instance, batch transform resources. Anything the
user must still supply is a `{{Name}}` token registered on the `ExportPlan`; anything the simulation assumed
that AWS does not let one set is a note. `fitness.export` renders the sets as boto3 bodies and CloudFormation.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel

from fitness.workload.spec import Workload
from sim.catalog import Catalog
from sim.model import ModelSpec
from sim.results import SimConfig

VARIANT = "AllTraffic"
"""The production variant's name: the conventional one for a single-variant endpoint."""

SCALABLE_DIMENSION = "sagemaker:variant:DesiredInstanceCount"
ROUTING_STRATEGY = {"least_outstanding": "LEAST_OUTSTANDING_REQUESTS", "random": "RANDOM"}
"""The simulator's routing knob -> ProductionVariantRoutingConfig.RoutingStrategy."""
SECONDS_PER_MINUTE = 60.0

FLEET_TEXT = re.compile(r"^(\d+)\.\.(\d+) target ([0-9.eE+-]+)/instance/min$")
"""How `sim.options._fleet.provision` records a policy it sized itself, e.g. '1..4 target 300/instance/min'."""
BACKLOG_TEXT = re.compile(r"^(\d+)\.\.(\d+) target backlog ([0-9.eE+-]+)/instance$")
"""How `sim.options.async_inference` records a backlog policy, e.g. '0..4 target backlog 2/instance'."""


def invocations_per_minute(target_per_period: float, period_s: float) -> float:
    """The simulator's invocations-per-instance target (per metric period) as SageMakerVariantInvocationsPerInstance,
    which AWS counts per instance per MINUTE."""
    return target_per_period * SECONDS_PER_MINUTE / period_s


def resource_name(*parts: str, limit: int) -> str:
    """A valid SageMaker name from `parts`: letters, digits and single hyphens, at most `limit` characters
    (the catalog's `export.sagemaker_name_max_chars`; a long one keeps its start and ends with a short hash,
    so two long names stay distinct)."""
    name = re.sub(r"-+", "-", re.sub(r"[^a-zA-Z0-9]", "-", "-".join(parts))).strip("-") or "fitness"
    if len(name) <= limit:
        return name
    digest = hashlib.sha1(name.encode()).hexdigest()[:6]
    return f"{name[:limit - 7].rstrip('-')}-{digest}"


def camel(text: str) -> str:
    """'fraud-xgb' -> 'FraudXgb': for CloudFormation logical ids and parameter names (alphanumeric)."""
    words = re.split(r"[^a-zA-Z0-9]+", text)
    out = "".join(w[:1].upper() + w[1:] for w in words if w)
    return out if out[:1].isalpha() else f"M{out}"


class Notes:
    """What the user should know about the export, each said once, in the order first met."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        """Record a note unless it is already there."""
        if text not in self.items:
            self.items.append(text)

    def workers(self) -> None:
        """Worker processes are the container's business; the toolkit reads an environment variable."""
        self.add("SAGEMAKER_MODEL_SERVER_WORKERS sets the model-server worker processes in containers built on the "
                 "SageMaker Inference Toolkit (the AWS framework images); a custom container must run that many "
                 "workers itself, since the simulation assumed them.")

    def routing(self, strategy: str) -> None:
        """The routing strategy the simulation used, set explicitly; SageMaker's default is random."""
        self.add(f"RoutingConfig {strategy} matches the routing the simulation used (SageMaker's default, "
                 "without a RoutingConfig, is RANDOM).")

    def alarms(self, catalog: Catalog) -> None:
        """How target tracking's alarms behave is AWS's, assumed by the simulation from the catalog."""
        f = catalog.autoscaling
        self.add(f"Target tracking scales out after {f.scale_out_datapoints.value:g} breaching "
                 f"{f.metric_period_s.value:g}-second datapoints and in after {f.scale_in_datapoints.value:g} "
                 f"below {f.scale_in_threshold_ratio.value:.0%} of the target: AWS behaviour the simulation "
                 f"assumed (catalog {catalog.name}), nothing to configure.")


@dataclass(frozen=True)
class Placeholder:
    """A value the user must fill in: `{{name}}` in the boto3 bodies, a Parameter in CloudFormation."""

    name: str
    what: str
    example: str
    pattern: str | None = None
    in_template: bool = True

    @property
    def token(self) -> str:
        """How the value appears in the request bodies."""
        return "{{" + self.name + "}}"


@dataclass(frozen=True)
class Scaling:
    """The scaling policy as simulated, in AWS units: the target is invocations per instance per minute
    (`invocations`), queued requests per instance (`backlog`), requests held per instance (`concurrency`) or
    CPUUtilization summed over the cores (`cpu`); None for `step` scaling (its alarms are in `step`).
    `from_zero` adds the scale-out-from-zero step policy and alarm that async endpoints with min 0 need."""

    metric: Literal["invocations", "backlog", "concurrency", "cpu", "step"]
    min: int
    max: int
    target: float | None
    scale_in_cooldown_s: int
    scale_out_cooldown_s: int
    period_s: int
    scheduled: tuple = ()
    """The knobs' scheduled actions (`sim.options._scaling.ScheduledCapacity`), in time order."""
    step: Any = None
    """The knobs' step scaling (`sim.options._scaling.StepScaling`) instead of target tracking; None: target
    tracking."""
    step_datapoints: tuple[int, int] = (0, 0)
    """Breaching periods of the scale-out and scale-in alarms when the knobs leave them unset (the catalog's)."""

    def step_policies(self) -> list[tuple[str, dict, dict]]:
        """Per step alarm (scale-out first): its direction ("out" or "in"), the StepScalingPolicyConfiguration
        and the PutMetricAlarm body without name, actions and endpoint (`step_alarm` completes it), in AWS
        units (per minute)."""
        out, per_min = [], invocations_per_minute(1.0, self.period_s)
        for way, alarm, cooldown, points in (("out", self.step.scale_out, self.scale_out_cooldown_s,
                                              self.step_datapoints[0]),
                                             ("in", self.step.scale_in, self.scale_in_cooldown_s,
                                              self.step_datapoints[1])):
            if alarm is None:
                continue
            steps = []
            for s in alarm.steps:
                step: dict = {"ScalingAdjustment": s.change}
                if s.lower is not None:
                    step["MetricIntervalLowerBound"] = round(s.lower * per_min, 4)
                if s.upper is not None:
                    step["MetricIntervalUpperBound"] = round(s.upper * per_min, 4)
                steps.append(step)
            policy = {"AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Average",
                      "Cooldown": round(alarm.cooldown_s) if alarm.cooldown_s is not None else cooldown,
                      "StepAdjustments": steps}
            n = alarm.datapoints or points
            body = {"MetricName": "InvocationsPerInstance", "Namespace": "AWS/SageMaker", "Statistic": "Sum",
                    "Period": self.period_s, "EvaluationPeriods": n, "DatapointsToAlarm": n,
                    "Threshold": round(alarm.threshold * per_min, 4),
                    "ComparisonOperator": "GreaterThanThreshold" if way == "out" else "LessThanThreshold",
                    # no invocations, no datapoint: idle minutes count towards scaling in, never out
                    "TreatMissingData": "notBreaching" if way == "out" else "breaching"}
            out.append((way, policy, body))
        return out

    @property
    def from_zero(self) -> bool:
        """True when the endpoint may scale to zero instances (async only)."""
        return self.min == 0

    def target_tracking(self, endpoint_name: str) -> dict:
        """TargetTrackingScalingPolicyConfiguration for PutScalingPolicy."""
        body: dict = {"TargetValue": round(self.target, 4)}
        if self.metric == "invocations":
            body["PredefinedMetricSpecification"] = {"PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"}
        elif self.metric == "concurrency":
            body["PredefinedMetricSpecification"] = {
                "PredefinedMetricType": "SageMakerVariantConcurrentRequestsPerModelHighResolution"}
        elif self.metric == "cpu":  # the instances' CPUUtilization, averaged over the variant's instances
            body["CustomizedMetricSpecification"] = {
                "MetricName": "CPUUtilization", "Namespace": "/aws/sagemaker/Endpoints", "Statistic": "Average",
                "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name},
                               {"Name": "VariantName", "Value": VARIANT}]}
        else:
            body["CustomizedMetricSpecification"] = {
                "MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker",
                "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}], "Statistic": "Average"}
        return {**body, "ScaleInCooldown": self.scale_in_cooldown_s, "ScaleOutCooldown": self.scale_out_cooldown_s}

    def scheduled_actions(self) -> list[dict]:
        """Per scheduled action: its name suffix, daily cron schedule in UTC and ScalableTargetAction (the members
        PutScheduledAction and the scalable target's ScheduledActions share)."""
        out = []
        for a in self.scheduled:
            h, m = a.at.split(":")
            action = {k: v for k, v in (("MinCapacity", a.min), ("MaxCapacity", a.max)) if v is not None}
            out.append({"ScheduledActionName": f"at-{h}{m}", "Schedule": f"cron({int(m)} {int(h)} * * ? *)",
                        "Timezone": "Etc/UTC", "ScalableTargetAction": action})
        return out

    def step_from_zero(self) -> dict:
        """StepScalingPolicyConfiguration: one instance when work waits and none serves."""
        return {"AdjustmentType": "ChangeInCapacity", "MetricAggregationType": "Average",
                "Cooldown": self.scale_out_cooldown_s,
                "StepAdjustments": [{"MetricIntervalLowerBound": 0.0, "ScalingAdjustment": 1}]}

    def alarm_from_zero(self, alarm_name: str, endpoint_name: str, policy_arn: str) -> dict:
        """PutMetricAlarm on HasBacklogWithoutCapacity: one metric period with work and no capacity, as simulated."""
        return {"AlarmName": alarm_name, "AlarmActions": [policy_arn], "MetricName": "HasBacklogWithoutCapacity",
                "Namespace": "AWS/SageMaker", "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}],
                "Statistic": "Average", "Period": self.period_s, "EvaluationPeriods": 1, "DatapointsToAlarm": 1,
                "Threshold": 1.0, "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "missing"}


SCALING_POLICY = "AWS::ApplicationAutoScaling::ScalingPolicy"
"""The CloudFormation type of a scaling policy."""


def scalable_target(resource_id, dimension: str) -> dict:
    """What every Application Auto Scaling call (and AWS::ApplicationAutoScaling::ScalableTarget) names of the
    SageMaker resource it scales: an endpoint's variant or an inference component (`resource_id` may be a
    CloudFormation reference)."""
    return {"ServiceNamespace": "sagemaker", "ResourceId": resource_id, "ScalableDimension": dimension}


def scaling_policy(name: str, kind: Literal["TargetTrackingScaling", "StepScaling"], config: dict, on: dict) -> dict:
    """A PutScalingPolicy body (`on`: the `scalable_target`) or the properties of an
    AWS::ApplicationAutoScaling::ScalingPolicy (`on`: its ScalingTargetId), with its `kind`'s configuration."""
    return {"PolicyName": name, **on, "PolicyType": kind, f"{kind}PolicyConfiguration": config}


def step_alarm(body: dict, alarm_name: str, endpoint_name, policy_arn) -> dict:
    """A step policy's PutMetricAlarm body completed: its name, the policy it triggers and the endpoint's variant
    (`endpoint_name` and `policy_arn` may be CloudFormation references)."""
    return {"AlarmName": alarm_name, "AlarmActions": [policy_arn], **body,
            "Dimensions": [{"Name": "EndpointName", "Value": endpoint_name}, {"Name": "VariantName", "Value": VARIANT}]}


@dataclass(frozen=True)
class EndpointSet:
    """One endpoint: the CreateModel body (without name and role), its single variant (without model name),
    the async config if any, and its scaling (None: the count is pinned)."""

    key: str
    model: dict
    variant: dict
    async_config: dict | None = None
    scaling: Scaling | None = None


@dataclass(frozen=True)
class TransformSet:
    """One batch transform job stream: the CreateModel body and the CreateTransformJob body (without the
    job and model names)."""

    key: str
    model: dict
    job: dict


@dataclass
class ExportPlan:
    """Everything a builder reads (workload, option, simulated config, typed knobs, catalog) and what it
    collects: the placeholders it used, the notes for the user, extra files (path -> text) and the
    artifacts the user must upload."""

    wl: Workload
    option: str
    config: SimConfig
    cfg: BaseModel
    catalog: Catalog
    placeholders: dict[str, Placeholder] = field(default_factory=dict)
    notes: Notes = field(default_factory=Notes)
    files: dict[str, str] = field(default_factory=dict)
    artifacts: list[str] = field(default_factory=list)

    def token(self, name: str, what: str, example: str, pattern: str | None = None, in_template: bool = True) -> str:
        """Register a placeholder (once) and return its `{{name}}` token."""
        self.placeholders.setdefault(name, Placeholder(name, what, example, pattern, in_template))
        return self.placeholders[name].token

    @property
    def name_max(self) -> int:
        """Longest SageMaker resource name or container hostname (catalog `export.sagemaker_name_max_chars`)."""
        return int(self.catalog.export.sagemaker_name_max_chars.value)

    def name(self, *parts: str) -> str:
        """`resource_name(*parts)` within the catalog's limit."""
        return resource_name(*parts, limit=self.name_max)

    @property
    def models(self) -> tuple[ModelSpec, ...]:
        """The workload's models after count expansion."""
        return self.wl.expanded_models

    @functools.cached_property
    def _entry_of(self) -> dict[str, str]:
        return {m.name: e.name for e in self.wl.models for m in e.expand()}

    def entry_of(self, model: ModelSpec) -> str:
        """The `models:` entry a model was expanded from (its copies share one container image)."""
        return self._entry_of[model.name]

    def image(self, model: ModelSpec, kind: str = "") -> str:
        """The container image token of a model's entry (or of a shared serving image, `kind`)."""
        if kind:
            return self.token(f"{camel(kind)}ImageUri", f"ECR URI of the {kind} serving image",
                              "123456789012.dkr.ecr.us-east-1.amazonaws.com/serving:latest")
        entry = self.entry_of(model)
        what = ("container image that runs the business-logic step" if model.kind == "logic"
                else "ECR URI of the inference container image")
        return self.token(f"{camel(entry)}ImageUri", f"{what} for `{entry}`",
                          "123456789012.dkr.ecr.us-east-1.amazonaws.com/model:latest")

    def model_data(self, suffix: str) -> str:
        """`{{ModelDataS3Prefix}}/suffix`: every artifact lives under one prefix the user chooses."""
        url = self.token("ModelDataS3Prefix", "S3 prefix (no trailing slash) holding the model artifacts",
                         "s3://my-bucket/models", r"^s3://.+[^/]$") + f"/{suffix}"
        if suffix and url not in self.artifacts:
            self.artifacts.append(url)
        return url

    def container(self, model: ModelSpec, workers: int | None = None, hostname: str | None = None) -> dict:
        """ContainerDefinition for one model: image, artifact (none for a business-logic step), and the
        model-server worker count the simulation assumed."""
        c: dict = {"ContainerHostname": hostname} if hostname else {}
        c["Image"] = self.image(model)
        if model.kind != "logic":
            c["ModelDataUrl"] = self.model_data(f"{model.name}.tar.gz")
        if workers is not None:
            c["Environment"] = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(workers)}
            self.notes.workers()
        return c

    def variant(self, instance_type: str, count: int, routing: str | None = "least_outstanding") -> dict:
        """ProductionVariant on instances, with the routing simulated (`ROUTING_STRATEGY`; None: no
        RoutingConfig, for endpoints that take none)."""
        v: dict = {"VariantName": VARIANT, "InstanceType": instance_type, "InitialInstanceCount": int(count),
                   "InitialVariantWeight": 1.0}
        if routing is not None:
            v["RoutingConfig"] = {"RoutingStrategy": ROUTING_STRATEGY[routing]}
            self.notes.routing(ROUTING_STRATEGY[routing])
        return v

    def fleet_scaling(self, model: str | None = None) -> Scaling | None:
        """Target tracking on invocations per instance of the option's fleet (or `model`'s endpoint): the knobs'
        policy, else the one the simulator sized (recorded as text in the config), else None (pinned count)."""
        return self._scaling("invocations", model, FLEET_TEXT, "target_invocations_per_instance",
                             "The autoscaling target was sized by the simulator and recorded rounded to a whole "
                             "invocation per instance per minute.")

    def backlog_scaling(self, model: str) -> Scaling | None:
        """Target tracking on ApproximateBacklogSizePerInstance of `model`'s asynchronous endpoint: the knobs'
        policy or the simulator's."""
        return self._scaling("backlog", model, BACKLOG_TEXT, "target_backlog_per_instance")

    def _scaling(self, metric: Literal["invocations", "backlog"], model: str | None, recorded: re.Pattern, knob: str,
                 sized_note: str | None = None) -> Scaling | None:
        """The policy of `metric`: the knobs' (`knob` their target), else the simulator's recorded text, else
        None (pinned or unscaled). Invocation targets are converted to AWS's per-minute count."""
        a = getattr(self.cfg, "autoscaling", None)
        if getattr(self.cfg, "instance_count", None) is not None:
            return None
        if a is not None:
            lo, hi, target = a.min, a.max, getattr(a, "target", None) or getattr(a, knob)  # None: step scaling
        elif (text := (self.config.model(model) if model else self.config.option).get("autoscaling")) is not None:
            lo, hi, target = _parse(recorded, text)
            if sized_note:
                self.notes.add(sized_note)
        else:
            return None
        self.notes.alarms(self.catalog)
        period = self.catalog.autoscaling.metric_period_s.value
        if metric == "invocations" and a is not None:
            metric = a.tracks  # concurrency: requests held, no per-minute rate
        if metric == "cpu":  # simulated: percent of the workers busy; CPUUtilization sums the cores, one each
            target *= (self.config.model(model) if model else self.config.option).get("workers_per_instance") or 1
        elif metric == "invocations":
            target = invocations_per_minute(target, period)
        scheduled = tuple(sorted(getattr(a, "scheduled", ()), key=lambda s: s.at_s))
        if scheduled:
            self.notes.add("Scheduled actions run at their times of day in UTC (the simulation's day starts at "
                           "00:00 UTC); move them if your traffic's clock is another time zone.")
        f = self.catalog.autoscaling
        return Scaling(metric, lo, hi, target, *self._cooldowns(a), int(period), scheduled, getattr(a, "step", None),
                       (int(f.scale_out_datapoints.value), int(f.scale_in_datapoints.value)))

    def _cooldowns(self, a) -> tuple[int, int]:
        """(scale-in, scale-out) cooldowns in whole seconds: the knobs', else the catalog's defaults."""
        f = self.catalog.autoscaling
        scale_in = getattr(a, "scale_in_cooldown_s", None)
        scale_out = getattr(a, "scale_out_cooldown_s", None)
        return (round(scale_in if scale_in is not None else f.scale_in_cooldown_s.value),
                round(scale_out if scale_out is not None else f.scale_out_cooldown_s.value))


def _parse(pattern: re.Pattern, text: str) -> tuple[int, int, float]:
    """(min, max, target) from the simulator's policy text; a format change is a bug, so it fails loudly."""
    m = pattern.match(str(text))
    if m is None:
        raise ValueError(f"unrecognised autoscaling record {text!r}: expected {pattern.pattern}")
    return int(m.group(1)), int(m.group(2)), float(m.group(3))
