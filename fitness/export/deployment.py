"""What `fitness export` writes: the API calls in order, the CloudFormation template (or stacks, when one template
would break CloudFormation's limits), and TODO.md (what to fill in, what to upload, how to deploy, and what the
simulation assumed). Data and its text only: the CLI writes the files."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from fitness.escape import md_inline
from fitness.export.aws import Placeholder, resource_name
from fitness.export.cloudformation import Stacks


@dataclass(frozen=True)
class ApiCall:
    """One AWS API request: service (boto3 client name), operation, the endpoint or job it belongs to, body."""

    service: str
    operation: str
    key: str
    body: dict

    @property
    def method(self) -> str:
        """The boto3 client method: CreateEndpointConfig -> create_endpoint_config."""
        return re.sub(r"(?<!^)(?=[A-Z])", "_", self.operation).lower()


@dataclass(frozen=True)
class Deployment:
    """What `fitness export` writes: API calls in order, CloudFormation stacks, placeholders and notes."""

    workload: str
    option: str
    calls: tuple[ApiCall, ...]
    cloudformation: Stacks
    placeholders: tuple[Placeholder, ...]
    notes: tuple[str, ...]
    name_max: int
    """Longest resource name (the catalog's): the call files are named after their resources."""
    config: dict = field(default_factory=dict)
    extra_files: dict[str, str] = field(default_factory=dict)
    artifacts: tuple[str, ...] = ()

    def call_files(self) -> list[tuple[str, ApiCall]]:
        """(path, call) per API call: boto3/NN.<service>.<method>.<key>.json, numbered in call order."""
        width = max(2, len(str(len(self.calls))))
        return [(f"boto3/{i:0{width}d}.{c.service}.{c.method}.{resource_name(c.key, limit=self.name_max)}.json", c)
                for i, c in enumerate(self.calls, 1)]

    @property
    def template_parameters(self) -> set[str]:
        """The placeholders some CloudFormation stack declares as a Parameter."""
        return {name for t in self.cloudformation.templates for name in t["Parameters"]}

    def files(self) -> dict[str, str]:
        """Every file of the export as text, by path relative to the output folder."""
        out = {path: json.dumps(c.body, indent=2) + "\n" for path, c in self.call_files()}
        out.update(self.cloudformation.files())
        out.update(self.extra_files)
        out["TODO.md"] = todo_markdown(self)
        return out


LISTED = 30
"""Most configuration lines and artifacts TODO.md lists one by one (1000 tenants would drown the rest)."""


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
    names = d.cloudformation.names()
    cfn = f"template (`{names[0]}`)" if len(names) == 1 else \
        f"templates (`{names[0]}` ... `{names[-1]}`, {len(names)} stacks)"
    if any(c.operation == "CreateTransformJob" for c in d.calls):
        return (f"Create the model once (its `create_model` file in `boto3/`, or the CloudFormation {cfn}: models "
                "only, CloudFormation has no transform job resource), then run each `create_transform_job` file for "
                "every job with a new `RunId`.")
    return (f"Use either the boto3 request bodies (`boto3/`, in call order) or the CloudFormation {cfn}, "
            "not both: they create the same resources with the same names.")


def _stacks_text(d: Deployment, big: list[str]) -> list[str]:
    """Why there are several stacks and how they hold together; which templates go through S3."""
    stacks, out = d.cloudformation, []
    n = len(stacks.templates)
    if n > 1:
        kept = ("each endpoint's resources (model, endpoint config, endpoint, scaling target and policies, alarms) "
                "are in one stack" if any(c.operation == "CreateEndpoint" for c in d.calls) else
                "each model is in one stack")
        out += [f"The template is split into {n} stacks because {stacks.why}, over CloudFormation's limits per "
                f"template. {kept[:1].upper()}{kept[1:]}, each declares only the parameters it uses, and no stack "
                "refers to another: deploy every one, in any order.", ""]
    if big:
        shown = ", ".join(f"`{b}`" for b in big[:3]) + (", ..." if len(big) > 3 else "")
        which = ("The template is" if n == 1 else "Every template is" if len(big) == n else
                 f"{len(big)} of the templates ({shown}) {'is' if len(big) == 1 else 'are'}")
        out += [f"{which} over the {stacks.inline_max_bytes:,}-byte limit on a template sent inline, so "
                "`aws cloudformation deploy --s3-bucket BUCKET` uploads each such template to S3 first (BUCKET: "
                "an existing bucket of yours in the stack's region).", ""]
    if n > 1:
        out += ["For very large fleets the boto3 request bodies (`boto3/`, in call order) are the alternative "
                "route: they make the same resources with no per-template limits.", ""]
    return out


def _deploy_lines(d: Deployment) -> list[str]:
    """The CloudFormation part of Deploy: why and how many stacks, then one `deploy` command per stack."""
    files = d.cloudformation.files()
    big = [name for name, text in files.items() if len(text.encode()) > d.cloudformation.inline_max_bytes]
    lines = ["CloudFormation:", "", *_stacks_text(d, big), "```bash"]
    for (name, _), t in zip(files.items(), d.cloudformation.templates, strict=True):
        part = [name.removeprefix("cloudformation-").removesuffix(".json")] if len(files) > 1 else []
        stack = resource_name(d.workload, d.option, *part, limit=d.name_max)  # letters, digits, hyphens
        params = " ".join(f"{p.name}=..." for p in d.placeholders if p.name in t["Parameters"])
        s3 = " --s3-bucket BUCKET" if name in big else ""
        command = f"aws cloudformation deploy --template-file {name} --stack-name {stack}{s3}"
        lines += [f"{command} \\", f"  --parameter-overrides {params}"] if params else [command]
    return lines + ["```"]


def todo_markdown(d: Deployment) -> str:
    """TODO.md: what to fill in, what to upload, how to deploy, and what the simulation assumed."""
    in_cfn = d.template_parameters
    rows = [f"| `{p.token}` | {p.what.replace('|', '/')}{'' if p.name in in_cfn else ' (boto3 only)'} | "
            f"`{p.example}` |" for p in d.placeholders]
    endpoints = [c.body["EndpointName"] for c in d.calls if c.operation == "CreateEndpoint"]
    config = _scaling_lines(d) + [f"- {k}: {v:g}" if isinstance(v, float) else f"- {k}: {v}"
                                  for k, v in d.config.items()]
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
            "", "## Deploy", "", *_deploy_lines(d), "", "boto3 (fill in `values`, run from this folder):", "",
            *_snippet(d), "", "## Configuration simulated", "", *_listed(config, "settings"), "",
            "## Notes and assumptions", "", *[f"- {n}" for n in d.notes], ""]
    return "\n".join(_inert(out))


def _inert(lines: list[str]) -> list[str]:
    """Every line outside our code fences made inert Markdown (names in it are the user's free text)."""
    out, fenced = [], False
    for line in lines:
        if line.startswith("```"):
            fenced = not fenced
        heading = re.match(r"#{1,6} ", line)
        cut = heading.end() if heading else 0
        out.append(line if fenced or line.startswith("```") else line[:cut] + md_inline(line[cut:]))
    return out
