"""One builder per hosting option: the simulated configuration as SageMaker resources (`fitness.export_aws`).

Each `build_<option>(plan)` reads the option's simulated `config` (per-model keys `<model>.<knob>` for the
options with one endpoint or job stream per model) and its typed knobs, and returns the endpoint or
transform sets to create. `BUILDERS` maps option ids to them.
"""

from __future__ import annotations

from collections.abc import Callable

from fitness.export_aws import VARIANT, EndpointSet, Plan, TransformSet
from sim.model import ModelSpec


def _hosted(plan: Plan, knob: str) -> list[ModelSpec]:
    """The models the simulation gave an endpoint or job stream (those with `<name>.<knob>` in its config)."""
    return [m for m in plan.models if f"{m.name}.{knob}" in plan.config]


def _separate(plan: Plan, n: int, kind: str) -> None:
    """Say how callers reach models hosted as one endpoint each, the way the simulation called them."""
    app = plan.wl.application
    if app is None:
        if n > 1:
            plan.notes.add(f"One {kind} endpoint per model, as simulated: callers invoke the endpoint of the model "
                           "they need.")
        return
    if app.pattern == "dynamic-selection":
        shares = ", ".join(f"{k} {v:g}" for k, v in app.routes.items())
        plan.notes.add(f"Dynamic selection: your router picks one of the {n} {kind} endpoints per request "
                       f"(simulated shares: {shares}).")
        return
    if app.pattern == "serial":
        order = " -> ".join(app.steps)
    else:
        order = f"{', '.join(app.branches)} at once" + (f", then {app.aggregator}" if app.aggregator else "")
    plan.notes.add(f"The {app.pattern} application is hosted as {n} separate {kind} endpoints: your code calls them "
                   f"({order}), one network call each, as the simulation did.")


def build_realtime(plan: Plan) -> list[EndpointSet]:
    """realtime: one endpoint per model on its instance type, pinned or target-tracked."""
    sets = []
    for m in _hosted(plan, "initial_count"):
        p = f"{m.name}."
        model = {"PrimaryContainer": plan.container(m, plan.config[f"{p}workers_per_instance"])}
        variant = plan.variant(plan.config[f"{p}instance_type"], plan.config[f"{p}initial_count"])
        sets.append(EndpointSet(m.name, model, variant, scaling=plan.fleet_scaling(p)))
    _separate(plan, len(sets), "real-time")
    return sets


def build_serverless(plan: Plan) -> list[EndpointSet]:
    """serverless: one endpoint per model with the simulated memory, max and provisioned concurrency."""
    cfg, sets = plan.cfg, []
    for m in _hosted(plan, "memory_mb"):
        sc = {"MemorySizeInMB": int(plan.config[f"{m.name}.memory_mb"]), "MaxConcurrency": int(cfg.max_concurrency)}
        if cfg.provisioned_concurrency:
            sc["ProvisionedConcurrency"] = int(cfg.provisioned_concurrency)
        variant = {"VariantName": VARIANT, "InitialVariantWeight": 1.0, "ServerlessConfig": sc}
        sets.append(EndpointSet(m.name, {"PrimaryContainer": plan.container(m)}, variant))
    keep = plan.config.get("keep_alive_s")
    if keep is not None:
        plan.notes.add(f"The simulation kept an idle serverless container warm for {keep:g} s (keep_alive_s): "
                       "SageMaker decides this itself, nothing to configure.")
    _separate(plan, len(sets), "serverless")
    return sets


def build_async(plan: Plan) -> list[EndpointSet]:
    """async: one endpoint per model; requests per instance, S3 output, backlog scaling (from zero)."""
    sets = []
    out = plan.token("AsyncOutputS3Uri", "S3 prefix (no trailing slash) where asynchronous results are written",
                     "s3://my-bucket/async-results", r"^s3://.+[^/]$")
    for m in _hosted(plan, "initial_count"):
        p = f"{m.name}."
        workers = int(plan.config[f"{p}workers_per_instance"])
        initial = int(plan.config[f"{p}initial_count"])
        if initial < 1:
            plan.notes.add("The simulation started the asynchronous endpoint with 0 instances; the API creates it with "
                           "at least 1 (InitialInstanceCount), and the scaling policy scales it in to 0 once idle.")
        acfg = {"OutputConfig": {"S3OutputPath": f"{out}/{m.name}"},
                "ClientConfig": {"MaxConcurrentInvocationsPerInstance": workers}}
        sets.append(EndpointSet(m.name, {"PrimaryContainer": plan.container(m, workers)},
                                plan.variant(plan.config[f"{p}instance_type"], max(1, initial), routing=False),
                                acfg, plan.backlog_scaling(p)))
    if any(s.scaling is not None and s.scaling.from_zero for s in sets):
        period = plan.catalog.autoscaling.metric_period_s.value
        plan.notes.add(f"Scale out from zero: target tracking on the backlog cannot act with no instance, so a "
                       f"step policy adds one when the HasBacklogWithoutCapacity alarm sees work waiting in one "
                       f"{period:g}-s period, as the simulation did.")
    timeout = plan.config.get("timeout_s")
    if timeout is not None:
        plan.notes.add(f"Requests were allowed {timeout:g} s of processing (timeout_s): pass "
                       f"InvocationTimeoutSeconds={round(timeout)} on each InvokeEndpointAsync call (a per-request "
                       "setting, not part of the endpoint).")
    plan.notes.add("Optional: OutputConfig.NotificationConfig (SNS topics on success and error) and S3FailurePath "
                   "were not simulated and are left out.")
    return sets


def build_batch(plan: Plan) -> list[TransformSet]:
    """batch: one transform job per model and run, with the simulated resources and mini-batching."""
    cfg, sets = plan.cfg, []
    retries = int(plan.catalog.batch.invocations_max_retries.value)
    src = plan.token("TransformInputS3Uri", "S3 prefix (no trailing slash) of the records to score, one folder per "
                     "model", "s3://my-bucket/batch-input", r"^s3://.+[^/]$")
    dst = plan.token("TransformOutputS3Uri", "S3 prefix (no trailing slash) for the batch results",
                     "s3://my-bucket/batch-output", r"^s3://.+[^/]$")
    for m in _hosted(plan, "instance_type"):
        p = f"{m.name}."
        job = {"MaxConcurrentTransforms": int(plan.config[f"{p}max_concurrent_transforms"]),
               "MaxPayloadInMB": int(plan.config[f"{p}max_payload_mb"]), "BatchStrategy": cfg.batch_strategy,
               "ModelClientConfig": {"InvocationsTimeoutInSeconds": round(plan.config[f"{p}invocations_timeout_s"]),
                                     "InvocationsMaxRetries": retries},
               "TransformInput": {"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                  "S3Uri": f"{src}/{m.name}"}}, "SplitType": "Line"},
               "TransformOutput": {"S3OutputPath": f"{dst}/{m.name}", "AssembleWith": "Line"},
               "TransformResources": {"InstanceType": plan.config[f"{p}instance_type"],
                                      "InstanceCount": int(cfg.instance_count)}}
        sets.append(TransformSet(m.name, {"PrimaryContainer": plan.container(m)}, job))
    when = (f"every {cfg.schedule_s / 3600:g} h" if cfg.schedule_s is not None
            else f"whenever {cfg.trigger_records} records are waiting")
    plan.notes.add(f"The simulation ran a transform job {when}: SageMaker has no schedule of its own, so start "
                   "CreateTransformJob from EventBridge Scheduler, Step Functions or your pipeline (a new "
                   "TransformJobName each run). CloudFormation has no transform-job resource; the template "
                   "creates the model only.")
    plan.notes.add("Records are split and reassembled by line (SplitType and AssembleWith Line: CSV or JSON Lines), "
                   "as the simulation packed whole records into mini-batches; add TransformInput.ContentType if "
                   "your container needs it.")
    return sets


def build_multi_model(plan: Plan) -> list[EndpointSet]:
    """multi-model: one endpoint, every artifact under one S3 prefix, loaded on first use."""
    c = plan.config
    gpu = bool(c.get("gpu_triton"))
    container = {"Image": plan.image(plan.models[0], "Triton" if gpu else "multi-model"), "Mode": "MultiModel",
                 "ModelDataUrl": plan.model_data("")}
    plan.artifacts.extend(f"{container['ModelDataUrl']}{m.name}.tar.gz" for m in plan.models)
    if not gpu:
        container["Environment"] = {"SAGEMAKER_MODEL_SERVER_WORKERS": str(c["workers_per_instance"])}
        plan.notes.workers()
    plan.notes.add(f"Invoke with TargetModel='<model name>.tar.gz' ({c['models']} models under ModelDataS3Prefix). "
                   f"The simulation gave each instance {c['model_memory_budget_mb']:,.0f} MB for loaded models and a "
                   f"{c['disk_budget_mb']:,.0f} MB disk cache, both LRU: SageMaker manages them, nothing to configure.")
    variant = plan.variant(c["instance_type"], c["initial_count"], routing=False)
    return [EndpointSet(plan.option, {"PrimaryContainer": container}, variant, scaling=plan.fleet_scaling())]


def _used(plan: Plan) -> list[ModelSpec]:
    """The models an endpoint hosts: the application's, in first-use order, or every model."""
    app, by_name = plan.wl.application, {m.name: m for m in plan.models}
    if app is None or app.pattern == "dynamic-selection":
        return list(plan.models)
    names = app.steps + app.branches + ((app.aggregator,) if app.aggregator else ())
    return [by_name[n] for n in dict.fromkeys(names)]


def _containers(plan: Plan, models: list[ModelSpec], workers: int | None = None) -> list[dict]:
    """Container definitions with unique hostnames (a step used twice gets a numbered second container)."""
    seen: dict[str, int] = {}
    out = []
    for m in models:
        seen[m.name] = seen.get(m.name, 0) + 1
        host = plan.name(m.name if seen[m.name] == 1 else f"{m.name}-{seen[m.name]}")
        out.append(plan.container(m, workers, hostname=host))
    return out


def build_multi_container(plan: Plan) -> list[EndpointSet]:
    """multi-container: one endpoint, every container always loaded, Direct or Serial invocation."""
    c = plan.config
    mode = str(c["mode"]).capitalize()
    model = {"Containers": _containers(plan, _used(plan)), "InferenceExecutionConfig": {"Mode": mode}}
    if mode == "Direct":
        plan.notes.add("Direct invocation: callers name the container with TargetContainerHostname=<hostname> on "
                       "InvokeEndpoint.")
        if plan.wl.application is not None and plan.wl.application.pattern != "dynamic-selection":
            plan.notes.add(f"The {plan.wl.application.pattern} application is orchestrated by your code, one call "
                           "per stage, as simulated.")
    variant = plan.variant(c["instance_type"], c["initial_count"])
    return [EndpointSet(plan.option, model, variant, scaling=plan.fleet_scaling())]


def build_inference_pipeline(plan: Plan) -> list[EndpointSet]:
    """inference-pipeline: the serial steps as ordered containers on every instance."""
    c, by_name = plan.config, {m.name: m for m in plan.models}
    steps = [by_name[n] for n in plan.wl.application.steps]
    model = {"Containers": _containers(plan, steps, int(c["workers_per_container"])),
             "InferenceExecutionConfig": {"Mode": "Serial"}}
    variant = plan.variant(c["instance_type"], c["initial_count"])
    return [EndpointSet(plan.option, model, variant, scaling=plan.fleet_scaling())]


def triton_config(model: ModelSpec, cfg) -> str:
    """The config.pbtxt settings of one model that the simulation's dynamic batcher used."""
    preferred = (f"  preferred_batch_size: [ {', '.join(str(b) for b in sorted(set(cfg.preferred_batch_sizes)))} ]\n"
                 if cfg.preferred_batch_sizes else "")
    return (f"# {model.name}: merge into {model.name}/config.pbtxt in the Triton model repository\n"
            f"max_batch_size: {cfg.max_batch_size}\n"
            f"dynamic_batching {{\n{preferred}"
            f"  max_queue_delay_microseconds: {round(cfg.max_queue_delay_ms * 1000)}\n}}\n"
            f"instance_group [\n  {{\n    count: {cfg.instances_per_model}\n    kind: KIND_GPU\n  }}\n]\n")


def build_triton(plan: Plan) -> list[EndpointSet]:
    """triton: one GPU endpoint; dynamic batching lives in each model's config.pbtxt (written as files)."""
    c, cfg, app = plan.config, plan.cfg, plan.wl.application
    hosted = _used(plan)
    env: dict[str, str] = {}
    if app is not None and app.pattern != "dynamic-selection":
        env["SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"] = plan.name(plan.wl.name, "ensemble")
        plan.notes.add(f"The {app.pattern} application runs as a Triton ensemble named "
                       f"{env['SAGEMAKER_TRITON_DEFAULT_MODEL_NAME']}: write its config.pbtxt (platform ensemble) "
                       "wiring your models' tensors; the simulation ran it on the instance that took the request.")
    elif len(hosted) == 1:
        env["SAGEMAKER_TRITON_DEFAULT_MODEL_NAME"] = hosted[0].name
    else:
        plan.notes.add(f"Not exported exactly: the simulation loaded all {len(hosted)} models on every instance with "
                       "each request naming one, but SageMaker's Triton container in single-model mode serves one "
                       "model or one ensemble. Put a router model (Python backend) in front as the default model, "
                       "or use the multi-model option on GPU.")
    container = {"Image": plan.image(hosted[0], "Triton"),
                 "ModelDataUrl": plan.model_data("triton-model-repository.tar.gz")}
    if env:
        container["Environment"] = env
    for m in hosted:
        if m.kind == "logic":
            plan.notes.add(f"{m.name} is a business-logic step: a Python-backend model in the repository, no batching.")
        else:
            plan.files[f"triton/{m.name}/config.pbtxt"] = triton_config(m, cfg)
    variant = plan.variant(c["instance_type"], c["initial_count"])
    return [EndpointSet(plan.option, {"PrimaryContainer": container}, variant, scaling=plan.fleet_scaling())]


BUILDERS: dict[str, Callable[[Plan], list]] = {
    "realtime": build_realtime, "serverless": build_serverless, "async": build_async, "batch": build_batch,
    "multi-model": build_multi_model, "multi-container": build_multi_container,
    "inference-pipeline": build_inference_pipeline, "triton": build_triton,
}
"""Option id -> builder; an option without one cannot be exported yet (the CLI says so)."""
