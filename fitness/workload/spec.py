"""The workload file (DESIGN §3): frozen pydantic models, loaded and validated once at the boundary.

`load_workload(path)` reads YAML, resolves paths relative to the file, expands `count`, validates
option configs against the registered options and instance types against the catalog, and turns every
problem into a `UserError` naming the file, the field path and what is expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

import catalogs
from fitness.errors import UserError, from_input_error
from fitness.workload.schema_edit import check_against_schema, complete_names, require_tags
from fitness.workload.schema_file import shipped_schema
from fitness.workload.validation import describe_validation_error
from fitness.workload.yamlio import read_yaml_mapping
from sim.catalog import Catalog, load_catalog
from sim.distributions import Empirical
from sim.errors import InputError, did_you_mean
from sim.model import ModelSpec
from sim.options import load_all, option_def
from sim.traffic import Duration, TrafficSpec

_FROZEN = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True, allow_inf_nan=False)

MAX_MODELS = 100_000
"""Most models a workload may expand to (all `count`s together): our limit, not AWS's, since the simulator
keeps state per model and the reports a line per model; a multi-model endpoint of this many is far past
the thousands the multi-tenant examples hold."""


class ModelSLO(BaseModel):
    """A model's own latency objectives, checked on the requests that name it (besides the workload's `slo`)."""

    model_config = _FROZEN

    p99_ms: float | None = Field(default=None, gt=0)
    """Highest 99th-percentile latency of this model's requests, ms; unset: no limit of its own."""
    p95_ms: float | None = Field(default=None, gt=0)
    """Highest 95th-percentile latency of this model's requests, ms; unset: no limit of its own."""


class ModelEntry(ModelSpec):
    """A model as written: a `ModelSpec` plus `count` (>1 expands to name-0 .. name-(count-1)) and its own
    SLO (`slo`)."""

    count: int = Field(default=1, ge=1, le=MAX_MODELS)
    """Copies of the model: above 1 expands to `name-0` .. `name-(count-1)`, otherwise identical."""
    slo: ModelSLO | None = None
    """This model's own latency SLO, checked on its requests as well as the workload's; unset: the workload's."""

    def expand(self) -> list[ModelSpec]:
        """The models this entry stands for."""
        fields = self.model_dump(exclude={"count", "slo"})
        if self.count == 1:
            return [ModelSpec(**fields)]
        return [ModelSpec(**{**fields, "name": f"{self.name}-{i}"}) for i in range(self.count)]


class Application(BaseModel):
    """How many models one request touches (DESIGN §1); omitted: single or multi-tenant."""

    model_config = _FROZEN

    pattern: Literal["serial", "scatter-gather", "aggregate", "dynamic-selection"]
    """How a request uses the models: steps in sequence, branches in parallel (then combined), or one route."""
    steps: tuple[str, ...] = ()
    """Serial: model names run in this order, each one's output the next one's input."""
    branches: tuple[str, ...] = ()
    """Scatter-gather and aggregate: model names called in parallel (at least 2); the slowest sets the latency."""
    aggregator: str | None = None
    """Scatter-gather and aggregate: a model run after the branches to combine them; unset: none."""
    routes: dict[str, Annotated[float, Field(ge=0)]] = Field(default_factory=dict)
    """Dynamic selection: share of requests per model name (normalised to sum 1)."""

    @model_validator(mode="after")
    def _shape(self) -> Application:
        need = {"serial": ("steps", 1), "scatter-gather": ("branches", 2), "aggregate": ("branches", 2),
                "dynamic-selection": ("routes", 1)}[self.pattern]
        if len(getattr(self, need[0])) < need[1]:
            raise ValueError(f"pattern {self.pattern} needs `{need[0]}` with at least {need[1]} model name(s)")
        if self.routes and sum(self.routes.values()) <= 0:
            raise ValueError("routes need at least one positive share")
        return self

    def names(self) -> list[tuple[str, str]]:
        """(field path, model name) of every model the pattern names."""
        out = [(f"application.steps[{i}]", n) for i, n in enumerate(self.steps)]
        out += [(f"application.branches[{i}]", n) for i, n in enumerate(self.branches)]
        out += [("application.aggregator", self.aggregator)] if self.aggregator else []
        return out + [(f"application.routes.{n}", n) for n in self.routes]


class SLO(BaseModel):
    """Service-level objectives; `delivery` says how the caller receives results.

    sync and async callers are held to `p99_ms` / `p95_ms`; offline results to `deadline_h`, the most
    hours any result may take from its record's arrival.
    """

    model_config = _FROZEN

    p99_ms: float | None = Field(default=None, gt=0)
    """Highest 99th-percentile end-to-end latency allowed (sync and async delivery), ms; unset: no limit."""
    p95_ms: float | None = Field(default=None, gt=0)
    """Highest 95th-percentile end-to-end latency allowed (sync and async delivery), ms; unset: no limit."""
    max_error_rate: float = Field(default=0.001, ge=0, le=1)
    """Largest fraction of offered requests that may be throttled or fail."""
    delivery: Literal["sync", "async", "offline"] = "sync"
    """How results reach callers: `sync` waits, `async` polls or is notified, `offline` by `deadline_h`."""
    deadline_h: float | None = Field(default=None, gt=0)
    """Offline delivery: most hours any result may take from its record's arrival; unset: no deadline."""


class Budget(BaseModel):
    """Spending limit, USD per 730-hour month."""

    model_config = _FROZEN

    monthly_usd: float | None = Field(default=None, ge=0)
    """Most an option may cost, USD per 730-hour month (projected from the horizon); unset: no limit."""


class Pricing(BaseModel):
    """How the bill is read beyond on-demand prices: a Savings Plan what-if, and operations cost (TCO)."""

    model_config = _FROZEN

    commitment: Literal["1y", "3y"] | None = None
    """A SageMaker Savings Plan term to price as a what-if beside on-demand (no upfront, the catalog's
    discount), committed at the level that minimises each option's bill; unset: on-demand only."""
    engineer_usd_per_hour: float | None = Field(default=None, gt=0)
    """Loaded cost of one engineer-hour, USD: operations cost (the hours per month each option needs, from
    `catalogs/rubrics/operations.yaml`, times this) joins the cost function as total cost of ownership;
    unset: operations cost is not counted."""


_DEFAULT_WEIGHTS = catalogs.rubric("fitness")["default_weights"]
"""The weights a workload gets unless it sets its own: rubric data (`catalogs/rubrics/fitness.yaml`)."""


class Weights(BaseModel):
    """Weights of the five fitness functions (normalised to sum 1 when used); defaults from the fitness rubric."""

    model_config = _FROZEN

    cost: float = Field(default=_DEFAULT_WEIGHTS["cost"], ge=0)
    """Weight of cost: projected USD per 730-hour month."""
    latency: float = Field(default=_DEFAULT_WEIGHTS["latency"], ge=0)
    """Weight of latency: end-to-end p99, queueing and cold starts included."""
    throughput: float = Field(default=_DEFAULT_WEIGHTS["throughput"], ge=0)
    """Weight of throughput: goodput, the share of offered requests served."""
    complexity: float = Field(default=_DEFAULT_WEIGHTS["complexity"], ge=0)
    """Weight of scaling complexity: the decisions a team must make to run the option (a rubric)."""
    traffic_fit: float = Field(default=_DEFAULT_WEIGHTS["traffic_fit"], ge=0)
    """Weight of traffic fit: paid-but-idle capacity, cold-start exposure and peak-minute loss."""

    @model_validator(mode="after")
    def _one_counts(self) -> Weights:
        if not any(getattr(self, k) > 0 for k in type(self).model_fields):
            raise ValueError("every weight is 0, so every option would score 0 and the ranking would mean nothing; "
                             "expected at least one weight above 0")
        return self


def _check_unique(entries: tuple[ModelEntry, ...]) -> None:
    """A ValueError naming the first entry whose name (after `count` expansion) an earlier entry already has."""
    first: dict[str, int] = {}
    for i, entry in enumerate(entries):
        for m in entry.expand():
            j = first.setdefault(m.name, i)
            if j != i:
                other = entries[j]
                how = f"models[{j}] (name {other.name}, count {other.count}) expands to" if other.count > 1 \
                    else f"models[{j}] is also named"
                raise ValueError(f"field 'models[{i}].name': expected a name no other model has after count "
                                 f"expansion, got {entry.name!r}, which {how} {m.name!r}")


class Workload(BaseModel):
    """A validated workload: models (expanded), traffic, SLO, budget, weights and option configs."""

    model_config = _FROZEN

    name: str = "workload"
    """Name of the workload, shown in reports."""
    environment: Literal["production", "dev"] = "production"
    """`production` (the default): endpoints on instances run at least 2 (across Availability Zones) and must
    keep the SLO when one fails at the busiest minute; `dev`: one instance allowed, no failure check."""
    horizon: Duration | None = None
    """Simulated time, seconds or a string like '6h'; unset: the trace's span, else one hour."""
    seed: int = Field(default=0, ge=0)
    """Seed of every random draw (arrivals, model choices, service times); replications add 1, 2, ..."""
    replications: int = Field(default=3, ge=1, le=30)
    """Seeds `recommend` ranks the options over, for 95% confidence intervals and ties."""
    sensitivity: bool = True
    """Whether `recommend` reports what other weights and traffic x0.5, x2 and x10 would change."""
    catalog: str = "aws/us-east-1"
    """Prices and limits: a built-in catalog name, or the path of a catalog YAML file."""
    models: tuple[ModelEntry, ...] = Field(min_length=1)
    """The models and business-logic steps, at least one."""
    traffic: TrafficSpec
    """How requests arrive, chosen by `pattern`."""
    application: Application | None = None
    """How many models one request touches; unset: one model per request (single or multi-tenant)."""
    slo: SLO = SLO()
    """Latency, error-rate and delivery objectives; an option that breaks them is infeasible."""
    budget: Budget = Budget()
    """Spending limit on the AWS bill (on-demand); an option over it is infeasible."""
    pricing: Pricing = Pricing()
    """Savings Plan what-if and operations cost (TCO); unset: on-demand AWS bill only."""
    weights: Weights = Weights()
    """Weights of the five fitness functions that rank the feasible options."""
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Configuration per option id; unset knobs, and options not listed, are right-sized."""
    source: str | None = Field(default=None, exclude=True)
    """The file the workload was read from, set by the loader (not a field of the file)."""

    @model_validator(mode="after")
    def _unique_names(self) -> Workload:
        total = sum(e.count for e in self.models)
        if total > MAX_MODELS:
            raise ValueError(f"the models expand to {total:,} (count included); expected at most {MAX_MODELS:,}: "
                             "simulate a representative share of the tenants and scale the traffic with it")
        _check_unique(self.models)
        app = self.application
        if app is not None and app.pattern != "dynamic-selection" and any(e.slo for e in self.models):
            raise ValueError(f"a model's own slo applies to the requests that name it, and in a {app.pattern} "
                             "application every request runs every step: set the workload's slo instead "
                             "(an SLO per step is not supported)")
        return self

    @property
    def expanded_models(self) -> tuple[ModelSpec, ...]:
        """Every model after `count` expansion, in file order."""
        return tuple(m for entry in self.models for m in entry.expand())

    @property
    def model_slos(self) -> dict[str, ModelSLO]:
        """The models with an SLO of their own (after count expansion: copies share their entry's)."""
        return {m.name: e.slo for e in self.models if e.slo is not None for m in e.expand()}

    @property
    def production(self) -> bool:
        """Whether production guardrails apply (`environment: production`, the default)."""
        return self.environment == "production"

    @property
    def base_dir(self) -> Path:
        """Folder that relative paths in the workload are resolved against."""
        return Path(self.source).resolve().parent if self.source else Path.cwd()

    @property
    def input_files(self) -> tuple[Path, ...]:
        """The files this workload reads besides itself (trace, service-time CSVs, catalog), which no command
        may overwrite."""
        names = [getattr(self.traffic, "trace", None), self.catalog if self.catalog.endswith((".yaml", ".yml"))
                 else None, *(getattr(getattr(m, f), "csv", None) for m in self.models for f in _DIST_FIELDS)]
        return tuple(self.base_dir / n for n in names if n)

    def option_config(self, option_id: str) -> BaseModel:
        """The validated config of an option: the workload's, or the option's defaults."""
        opt = load_all()[option_id]
        return opt.config_model(**self.options.get(option_id, {}))


_DIST_FIELDS = ("service_time", "container_start")
"""A model's distribution fields, whose `empirical` samples may come from a CSV."""


def _check_names(wl: Workload) -> None:
    """Every model the application names must be a model of the workload (after count expansion)."""
    names = [m.name for m in wl.expanded_models]
    for path, name in wl.application.names() if wl.application else []:
        if name not in names:
            raise InputError(path, f"the name of a model listed under models ({', '.join(names[:5])}"
                             f"{', ...' if len(names) > 5 else ''})", name, hint=did_you_mean(name, names))


def _check_options(wl: Workload, catalog: Catalog) -> None:
    """Option ids must be registered, configs must validate, instance types must be in the catalog."""
    names = None
    for oid, raw in wl.options.items():
        try:
            cfg = option_def(oid, f"options.{oid}").config_model(**(raw or {}))
        except ValidationError as e:
            raise UserError(describe_validation_error(e, wl.source, prefix=f"options.{oid}")) from e
        opt = option_def(oid)
        if opt.check is not None:
            try:
                names = names or [m.name for m in wl.expanded_models]
                opt.check(cfg, catalog, names)
            except InputError as e:
                raise InputError(f"options.{oid}.{e.field}", e.expected, e.got, e.source, e.hint) from e
        it = getattr(cfg, "instance_type", None)
        if it is not None:
            catalog.instance(it, f"options.{oid}.instance_type")


def read_samples_ms(path: Path, field: str) -> tuple[float, ...]:
    """Latencies in ms from a CSV: the column named latency_ms / ms / service_time_ms, else the first numeric one."""
    import pandas as pd  # lazy: only a workload with a CSV of samples pays for pandas (validate, schema start fast)

    expected = "a CSV file with a column of per-request latencies in milliseconds"
    try:
        df = pd.read_csv(path)
    except FileNotFoundError as e:
        raise InputError(field, expected, str(path), hint="the file does not exist; paths are relative to "
                         "the workload file") from e
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise InputError(field, expected, str(path), hint=f"it could not be read ({e})") from e
    named = [c for c in df.columns if str(c).strip().lower() in ("latency_ms", "ms", "service_time_ms")]
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c])]
    column = (named or numeric or [None])[0]
    values = df[column].dropna().to_numpy(float) if column is not None else np.array([])
    if values.size == 0 or np.any(values < 0) or not np.all(np.isfinite(values)):
        raise InputError(field, expected + " (finite, >= 0, at least one)", str(path))
    return tuple(values.tolist())


def _resolve_files(wl: Workload) -> Workload:
    """Read the empirical service-time CSVs the workload names, and place its own catalog file: both relative
    to the workload file (DESIGN §3), not to the directory the command runs in."""
    if wl.catalog.endswith((".yaml", ".yml")) and not Path(wl.catalog).is_absolute():
        wl = wl.model_copy(update={"catalog": str(wl.base_dir / wl.catalog)})
    entries = []
    for i, m in enumerate(wl.models):
        for name in _DIST_FIELDS:
            st = getattr(m, name)
            if isinstance(st, Empirical) and st.csv is not None and not st.samples_ms:
                samples = read_samples_ms(wl.base_dir / st.csv, f"models[{i}].{name}.csv")
                m = m.model_copy(update={name: st.model_copy(update={"samples_ms": samples})})
        entries.append(m)
    return wl.model_copy(update={"models": tuple(entries)})


def parse_workload(data: dict, source: str | None = None) -> Workload:
    """Validate a workload mapping (as read from YAML); `source` names the file in errors."""
    if "source" in data:  # the field that carries the file's name is not the user's to set
        raise UserError(f"{source or 'workload'}: invalid workload: field 'source': expected no such field here "
                        "(check the spelling against DESIGN §3).")
    if bad := [k for k in data if not isinstance(k, str)]:
        raise UserError(f"{source or 'workload'}: invalid workload: the top-level key {bad[0]!r} is not "
                        "text; expected field names such as `models` and `traffic` (DESIGN §3).")
    try:
        wl = _resolve_files(Workload(**data, source=source))
        _check_names(wl)
        _check_options(wl, load_catalog(wl.catalog))
    except RecursionError as e:
        raise UserError(f"{source or 'workload'}: invalid workload: a value nests too deeply; expected the fields "
                        "of DESIGN §3, a few levels deep.") from e
    except ValidationError as e:
        raise UserError(describe_validation_error(e, source)) from e
    except InputError as e:
        raise from_input_error(e, source) from e
    return wl


def load_workload(path: str | Path) -> Workload:
    """Read and validate a workload file; raises `UserError` with the file, field and expectation."""
    path = Path(path)
    data = read_yaml_mapping(path)
    wl = parse_workload(data, str(path))
    check_against_schema(data, shipped_schema, str(path))  # after: the loader's own messages come first
    return wl



def workload_schema() -> dict:
    """JSON Schema of a workload file (DESIGN §3), generated from the models; `options` lists each
    registered option's config schema.

    Each option's schema comes with its own `$defs` (e.g. `Autoscaling`), referenced as `#/$defs/...`; they
    are moved to the top-level `$defs` so every reference resolves from the root of the document.
    """
    schema = Workload.model_json_schema(mode="validation")
    schema["properties"].pop("source", None)
    schema["$id"] = "https://fitness.dev/schemas/workload.json"
    defs = schema.setdefault("$defs", {})
    options = {}
    for oid, opt in load_all().items():
        options[oid] = opt.config_model.model_json_schema(mode="validation")
        for name, definition in options[oid].pop("$defs", {}).items():
            if defs.setdefault(name, definition) != definition:
                raise ValueError(f"JSON Schema: option {oid} defines {name} differently from another model of "
                                 "that name; rename one of the two models")
    schema["properties"]["options"] = {
        "type": "object", "additionalProperties": False, "description": Workload.model_fields["options"].description,
        "properties": options}
    return complete_names(require_tags(schema))
