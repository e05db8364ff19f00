"""`fitness export`: the deployable configuration of one simulated option, as AWS API requests and CloudFormation.

`export(wl, result, option)` takes a recommendation (`Recommendation.to_dict()`, the `recommend --format
json` object, or `sized_result(wl, option)` for one option) and returns a `Deployment`: the boto3 request
bodies in call order, a CloudFormation template of the same resources, the placeholders the user must fill
in (`{{Name}}` in the bodies, Parameters in the template) and notes on what the simulation assumed.
Values come from what was simulated: the option's `config` and the knobs right-sizing chose
(`sizing.<option>.chosen`). The per-option mapping is each option unit's `export` builder
(`fitness.options.<option>`). Nothing here writes a file: `Deployment.files()` returns them as text for the
CLI.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path

from pydantic import ValidationError

from fitness.engine.constraints import constrained
from fitness.engine.windows import size_option, window_of
from fitness.errors import UserError
from fitness.export.aws import (
    SCALABLE_DIMENSION,
    VARIANT,
    EndpointSet,
    ExportPlan,
    camel,
    resource_name,
    scalable_target,
    scaling_policy,
    step_alarm,
)
from fitness.export.cloudformation import templates
from fitness.export.components import ComponentSet
from fitness.export.deployment import ApiCall, Deployment
from fitness.options import NoExport, option_ids, unit
from fitness.workload.scenario import build
from fitness.workload.spec import Workload
from sim.catalog import load_catalog
from sim.errors import InputError
from sim.results import SimConfig

RUN_ID_MAX_CHARS = 14
"""Our limit on the transform job run suffix (`{{RunId}}`, e.g. '20261124-0200'): the job name keeps the
resource name's start and the whole suffix within SageMaker's name limit."""






def read_result(path: Path) -> dict:
    """A `fitness recommend --format json` result from disk, checked enough to export from."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise UserError(f"{path}: result file not found; expected the output of `fitness recommend WORKLOAD "
                        "--format json`.") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: cannot read the result ({e}); expected the JSON that `fitness recommend "
                        "WORKLOAD --format json` prints.") from e
    if not isinstance(data, dict) or not isinstance(data.get("options"), list) or "workload" not in data:
        raise UserError(f"{path}: not a recommendation result; expected a JSON object with `workload`, "
                        "`recommended` and `options` (from `fitness recommend WORKLOAD --format json`).")
    if (bad := _shape_error(data)) is not None:
        raise UserError(f"{path}: field `{bad[0]}` is not what `fitness recommend --format json` writes; expected "
                        f"{bad[1]}. Re-run `fitness recommend WORKLOAD --format json` rather than editing it.")
    return data


_SHAPES = {"option": (str, "a string (an option id)"), "feasible": (bool, "true or false"),
           "config": (dict, "an object of simulated knobs"), "reasons": (list, "a list of strings")}


def _shape_error(data: dict) -> tuple[str, str] | None:
    """(field, expected) for the first part of a result that export reads and that has the wrong type."""
    if not isinstance(data["workload"], str):
        return "workload", "a string (the workload's name)"
    if data.get("recommended") is not None and not isinstance(data["recommended"], str):
        return "recommended", "an option id or null"
    for i, o in enumerate(data["options"]):
        if not isinstance(o, dict):
            return f"options[{i}]", "an object with `option`, `feasible` and `config`"
        if "option" not in o:
            return f"options[{i}].option", "a string (an option id)"
        for key, (kind, what) in _SHAPES.items():
            if key in o and o[key] is not None and not isinstance(o[key], kind):
                return f"options[{i}].{key}", what
    sizing = data.get("sizing")
    if sizing is not None and not isinstance(sizing, dict):
        return "sizing", "an object of option id to sizing record"
    for oid, rec in (sizing or {}).items():
        if not isinstance(rec, dict):
            return f"sizing.{oid}", "an object (a sizing record)"
        if rec.get("chosen") is not None and not isinstance(rec["chosen"], dict):
            return f"sizing.{oid}.chosen", "an object of knob name to value"
    return None


def _check_config(flat: dict, catalog, where: str) -> None:
    """A UserError unless the simulated knobs export reads have the types the simulator writes: instance types
    are in the catalog, counts are whole numbers >= 0 (the other knobs are copied into the bodies as they are)."""
    for key, value in flat.items():
        leaf = key.rsplit(".", 1)[-1]
        if leaf == "instance_type" and value is not None:
            try:
                catalog.instance(str(value), key)
            except InputError as e:
                hint = f" {e.hint[:1].upper()}{e.hint[1:]}" if e.hint else ""
                raise UserError(f"{where}.{key}`: expected {e.expected}, got {value!r}.{hint}") from e
        if (leaf.endswith("_count") or leaf == "endpoints") and (
                isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise UserError(f"{where}.{key}`: expected a whole number of 0 or more, not {value!r}.")


def check_option(option: str) -> str:
    """The option id if registered, else a UserError naming the nearest one."""
    try:
        return unit(option, "--option").id
    except InputError as e:
        raise UserError(e.describe()) from e


def sized_result(wl: Workload, option: str) -> dict:
    """Right-size one option (as `recommend` does, without replications) and return a result object with
    only that option, in the shape of `Recommendation.to_dict()`."""
    scenario = build(wl)
    done = size_option(wl, scenario, window_of(scenario), check_option(option))
    s = constrained(wl, done.run.summary)
    obj = {**s.to_json(), "feasible": s.feasible and done.chosen is not None}
    return {"workload": wl.name, "recommended": option if obj["feasible"] else None, "options": [obj],
            "sizing": {option: done.record}}


def unflatten(flat: dict) -> dict:
    """{"autoscaling.max": 3} -> {"autoscaling": {"max": 3}} (the sizing records knobs flat)."""
    out: dict = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return out


def _chosen(wl: Workload, result: dict, source: str, option: str | None) -> tuple[str, dict, dict]:
    """(option id, its result object, its knobs): the recommended option unless one is named."""
    if result.get("workload") != wl.name:
        raise UserError(f"{source}: this result is for workload '{result.get('workload')}', not '{wl.name}'; "
                        "expected the recommend output of the same workload file.")
    feasible = [o["option"] for o in result["options"] if o.get("feasible")]
    oid = check_option(option) if option else result.get("recommended")
    if oid is None:
        raise UserError(f"{source}: no option is feasible for workload '{wl.name}', so there is nothing to export; "
                        "see `fitness recommend` for the reasons.")
    obj = next((o for o in result["options"] if o.get("option") == oid), None)
    if obj is None:
        raise UserError(f"{source}: the result has no option '{oid}'; expected one of "
                        f"{', '.join(o['option'] for o in result['options'])}.")
    if not obj.get("feasible"):
        why = "; ".join(obj.get("reasons") or ["no reason recorded"])
        other = (f" Feasible options: {', '.join(feasible)}." if feasible else
                 " No option is feasible." if len(result["options"]) > 1 else "")
        raise UserError(f"--option {oid}: {oid} is infeasible for workload '{wl.name}' ({why}); nothing exported."
                        + other)
    sizing = (result.get("sizing") or {}).get(oid) or {}
    knobs = sizing.get("chosen") if sizing.get("chosen") is not None else (wl.options.get(oid) or {})
    return oid, obj, unflatten(knobs)


def export(wl: Workload, result: dict, option: str | None = None, source: str = "result") -> Deployment:
    """The deployment of `option` (default: the recommended one) from a recommendation result."""
    oid, obj, knobs = _chosen(wl, result, source, option)
    u = unit(oid)
    if isinstance(u.export, NoExport):
        can = [o for o in option_ids() if not isinstance(unit(o).export, NoExport)]
        raise UserError(f"--option {oid}: {oid} cannot be exported ({u.export.why}); exportable: {', '.join(can)}.")
    simulated = SimConfig.from_json(obj.get("config") or {}, [m.name for m in wl.expanded_models])
    try:
        config = u.config_model(**knobs)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise UserError(f"{source}: field `sizing.{oid}.chosen.{where}`: {err['msg']}; expected the knobs "
                        "`fitness recommend --format json` writes for this option.") from e
    catalog = load_catalog(wl.catalog)
    _check_config(obj.get("config") or {}, catalog, f"{source}: field `options[{result['options'].index(obj)}].config")
    plan = ExportPlan(wl, oid, simulated, config, catalog)
    _role(plan)
    sets = u.export(plan)
    if any(isinstance(s, EndpointSet) and s.scaling is None and "InstanceType" in s.variant for s in sets):
        plan.notes.add("The instance count is pinned, as simulated: no autoscaling is created.")
    names = _names(plan, oid, sets)
    calls = [c for s in sets for c in _calls(plan, s, names[s.key])]
    cfn = templates(plan, sets, names)
    return Deployment(wl.name, oid, tuple(calls), cfn, tuple(plan.placeholders.values()), tuple(plan.notes.items),
                      plan.name_max,
                      dict(obj.get("config") or {}), dict(plan.files), tuple(plan.artifacts))


def _names(plan: ExportPlan, option: str, sets: list) -> dict[str, str]:
    """Resource name per set: <workload>-<option>[-<model>], valid for SageMaker and distinct."""
    out: dict[str, str] = {}
    for s in sets:
        parts = (plan.wl.name, option) if s.key == option else (plan.wl.name, option, s.key)
        name = plan.name(*parts)
        while name in out.values():
            name = plan.name(name, str(len(out)))
        out[s.key] = name
    return out


def _role(plan: ExportPlan) -> str:
    """The execution role placeholder (registered first, so it heads the list)."""
    return plan.token("ExecutionRoleArn", "IAM role SageMaker assumes to read the artifacts from S3, pull the "
                      "images from ECR and write logs", "arn:aws:iam::123456789012:role/SageMakerExecution",
                      r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")


def _calls(plan: ExportPlan, s, name: str) -> list[ApiCall]:
    """The API calls of one endpoint set (or transform job stream), in the order they must run."""
    if isinstance(s, ComponentSet):  # renders itself: endpoint first, then each model's component
        return [ApiCall(*c) for c in s.calls(name, _role(plan), lambda model: plan.name(name, model))]
    model = ApiCall("sagemaker", "CreateModel", s.key, {"ModelName": name, "ExecutionRoleArn": _role(plan), **s.model})
    if not isinstance(s, EndpointSet):
        run = plan.token("RunId", f"a suffix unique to each transform job run, e.g. the date and hour (at most "
                         f"{RUN_ID_MAX_CHARS} letters, digits or hyphens)", "20261124-0200",
                         rf"^[a-zA-Z0-9-]{{1,{RUN_ID_MAX_CHARS}}}$", in_template=False)
        prefix = resource_name(name, limit=plan.name_max - 1 - RUN_ID_MAX_CHARS)  # room for "-<run id>"
        job = {"TransformJobName": f"{prefix}-{run}", "ModelName": name, **s.job}
        return [model, ApiCall("sagemaker", "CreateTransformJob", s.key, job)]
    config = {"EndpointConfigName": name, "ProductionVariants": [{**s.variant, "ModelName": name}]}
    if s.async_config:
        config["AsyncInferenceConfig"] = s.async_config
    calls = [model, ApiCall("sagemaker", "CreateEndpointConfig", s.key, config),
             ApiCall("sagemaker", "CreateEndpoint", s.key, {"EndpointName": name, "EndpointConfigName": name})]
    return calls + _scaling_calls(plan, s, name)


def _scaling_calls(plan: ExportPlan, s: EndpointSet, name: str) -> list[ApiCall]:
    """Application Auto Scaling (and, for scale from zero, the CloudWatch alarm) of one endpoint."""
    sc = s.scaling
    if sc is None:
        return []
    target = scalable_target(f"endpoint/{name}/variant/{VARIANT}", SCALABLE_DIMENSION)
    out = [ApiCall("application-autoscaling", "RegisterScalableTarget", s.key,
                   {**target, "MinCapacity": sc.min, "MaxCapacity": sc.max})]
    if sc.step is None:
        out.append(ApiCall("application-autoscaling", "PutScalingPolicy", s.key, scaling_policy(
            f"{name}-target-tracking", "TargetTrackingScaling", sc.target_tracking(name), target)))
    for way, policy, alarm in sc.step_policies() if sc.step is not None else ():
        out += _alarmed_step(plan, s, name, target, f"Step{way.capitalize()}", f"step scale-{way}", f"step-{way}",
                             policy, partial(step_alarm, alarm, f"{name}-invocations-{way}", name))
    out += [ApiCall("application-autoscaling", "PutScheduledAction", s.key,
                    {**target, **a, "ScheduledActionName": f"{name}-{a['ScheduledActionName']}"})
            for a in sc.scheduled_actions()]
    if sc.from_zero:
        out += _alarmed_step(plan, s, name, target, "ScaleFromZero", "scale-from-zero", "scale-from-zero",
                             sc.step_from_zero(), partial(sc.alarm_from_zero, f"{name}-backlog-without-capacity", name))
    return out


def _alarmed_step(plan: ExportPlan, s: EndpointSet, name: str, target: dict, key: str, what: str, suffix: str,
                  policy: dict, alarm: Callable[[str], dict]) -> list[ApiCall]:
    """A StepScaling policy (`name`-`suffix`) and the CloudWatch alarm that triggers it (`alarm(policy ARN)` its
    body): the ARN is only known once the policy exists, so it is a placeholder the user fills in between the
    calls."""
    arn = plan.token(f"{camel(s.key)}{key}PolicyArn", f"PolicyARN returned by the {what} PutScalingPolicy call of "
                     f"{name}", "arn:aws:autoscaling:us-east-1:123456789012:scalingPolicy:00000000-0000-0000-0000-"
                     "000000000000:resource/sagemaker/endpoint/x:policyName/y", None, in_template=False)
    return [ApiCall("application-autoscaling", "PutScalingPolicy", s.key,
                    scaling_policy(f"{name}-{suffix}", "StepScaling", policy, target)),
            ApiCall("cloudwatch", "PutMetricAlarm", s.key, alarm(arn))]


def fixed_files(folder: Path) -> list[str]:
    """The paths every export writes, and the boto3 call files already in `folder`: what to check before
    simulating (the full list is known only after)."""
    boto3 = folder / "boto3"
    calls = sorted(f"boto3/{p.name}" for p in boto3.glob("*.json")) if boto3.is_dir() and \
        not boto3.is_symlink() else []
    return ["TODO.md", "cloudformation.json", *_stacks(folder), *calls]


def _stacks(folder: Path) -> list[str]:
    """The split CloudFormation stacks (`cloudformation-NN.json`) an earlier export left in `folder`."""
    return sorted(p.name for p in folder.glob("cloudformation-[0-9]*.json")) if folder.is_dir() else []


def stale_calls(folder: Path, paths: list[str]) -> list[str]:
    """API-call files in `folder/boto3`, and CloudFormation stacks in `folder`, that an export writing `paths`
    would leave from an earlier one (a re-export may split into fewer stacks, or none)."""
    boto3 = folder / "boto3"
    mine = set(paths)
    calls = [f"boto3/{p.name}" for p in boto3.glob("*.json")] if boto3.is_dir() else []
    old = ["cloudformation.json"] if (folder / "cloudformation.json").is_file() else []
    return sorted(p for p in [*calls, *old, *_stacks(folder)] if p not in mine)
