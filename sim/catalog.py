"""Catalogs: prices, limits and platform behaviour as validated data, every number with its source.

A catalog is a YAML file (built in under `catalogs/`, see `catalogs.available()`). Each numeric entry is
a `Fact`: a value plus where it came from, when, and how much to trust it, so a report can show which
numbers are assumptions. Code never holds prices; it asks a `Catalog`.
"""

from __future__ import annotations

import datetime
import difflib
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

import catalogs
from sim.catalog_facts import (
    _FROZEN,
    AsyncFacts,
    AutoscalingFacts,
    BatchFacts,
    BurstableFacts,
    CoHostingFacts,
    CommitmentFacts,
    Confidence,
    ExportFacts,
    Fact,
    InferenceComponentFacts,
    InstanceType,
    MultiModelFacts,
    NameList,
    NetworkFacts,
    ObjectStoreFacts,
    RealtimeFacts,
    ServerlessFacts,
    TritonFacts,
)
from sim.errors import InputError

__all__ = [
    "DEFAULT_CATALOG",
    "AutoscalingFacts",
    "BatchFacts",
    "BurstableFacts",
    "Catalog",
    "Confidence",
    "Fact",
    "InstanceType",
    "NetworkFacts",
    "RealtimeFacts",
    "ServerlessFacts",
    "load_catalog",
    "parse_catalog",
]

class Catalog(BaseModel):
    """A whole catalog: instance types and the facts of each hosting option, for one region."""

    model_config = _FROZEN

    name: str = Field(min_length=1)
    currency: str = Field(min_length=1)
    retrieved: datetime.date
    instances: dict[str, InstanceType] = Field(min_length=1)
    realtime: RealtimeFacts
    autoscaling: AutoscalingFacts
    serverless: ServerlessFacts
    network: NetworkFacts
    async_inference: AsyncFacts
    object_store: ObjectStoreFacts
    batch: BatchFacts
    co_hosting: CoHostingFacts
    multi_model: MultiModelFacts
    inference_components: InferenceComponentFacts
    triton: TritonFacts
    commitments: CommitmentFacts
    export: ExportFacts

    @model_validator(mode="after")
    def _batch_types_known(self) -> Catalog:
        # Batch right-sizing walks this list; a name missing from `instances` would be silently skipped.
        unknown = [n for n in self.batch.instance_types.names if n not in self.instances]
        if unknown:
            raise ValueError(f"batch.instance_types names types not in instances: {', '.join(unknown)}")
        return self

    @model_validator(mode="before")
    @classmethod
    def _name_instances(cls, data: Any) -> Any:
        # The YAML key is the name; copying it in keeps one spelling and lets an InstanceType stand alone.
        if not isinstance(data, dict) or not isinstance(data.get("instances"), dict):
            return data
        named = {}
        for key, spec in data["instances"].items():
            if isinstance(spec, dict):
                if "name" in spec and spec["name"] != key:
                    raise ValueError(f"instance '{key}' has a different name '{spec['name']}'")
                spec = {**spec, "name": key}
            named[key] = spec
        return {**data, "instances": named}

    def instance(self, name: str, field: str = "instance_type") -> InstanceType:
        """The instance type `name`; unknown names raise InputError on `field` with the closest matches."""
        try:
            return self.instances[name]
        except (KeyError, TypeError):
            pass
        close = difflib.get_close_matches(str(name), sorted(self.instances), n=3, cutoff=0.5)
        if close:
            hint = "did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
        else:
            hint = "valid types include " + ", ".join(f"'{t.name}'" for t in self.cheapest()[:5])
        # No `source`: the bad name comes from a workload, which the CLI names when source is unset.
        raise InputError(field=field, expected=f"an instance type in catalog '{self.name}'", got=name,
                         hint=hint)

    def cheapest(self, predicate: Callable[[InstanceType], bool] | None = None) -> list[InstanceType]:
        """Instance types satisfying `predicate` (all when None), cheapest first; ties broken by name.

        Right-sizing walks this list and takes the first type that meets its needs.
        """
        chosen = [t for t in self.instances.values() if predicate is None or predicate(t)]
        return sorted(chosen, key=lambda t: (t.price_per_hour.value, t.name))

    def facts(self) -> dict[str, Fact]:
        """Every fact by dotted path (e.g. 'serverless.keep_alive_s', 'instances.ml.c5.large.price_per_hour'),
        for reports and audits: the facts of every section and of every instance type, in the order the
        catalog model declares them (the order of the catalog file), so a new section needs no listing here."""
        out: dict[str, Fact] = {}
        for section in type(self).model_fields:
            value = getattr(self, section)
            if isinstance(value, dict):  # instances: one group of facts per entry
                groups = [(f"{section}.{key}", entry) for key, entry in value.items()]
            else:
                groups = [(section, value)] if isinstance(value, BaseModel) else []
            for prefix, group in groups:
                out.update(_group_facts(prefix, group))
        return out


def _group_facts(prefix: str, group: BaseModel) -> dict[str, Fact]:
    """The facts of one group by dotted path, and those of the groups it nests (an instance type's
    `burstable` block), in declaration order."""
    out: dict[str, Fact] = {}
    for fname in type(group).model_fields:
        value = getattr(group, fname)
        if isinstance(value, Fact):
            out[f"{prefix}.{fname}"] = value
        elif isinstance(value, BaseModel) and not isinstance(value, NameList):  # name lists are not numbers
            out.update(_group_facts(f"{prefix}.{fname}", value))
    return out


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "<catalog>"


def parse_catalog(data: dict, source: str) -> Catalog:
    """Validate a catalog mapping (parsed YAML); problems raise InputError naming the field and `source`."""
    if not isinstance(data, dict):
        raise InputError(field="<catalog>", expected="a mapping with name, currency, retrieved, instances, "
                         "realtime, autoscaling, serverless and network", got=type(data).__name__,
                         source=source)
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        first = errors[0]
        got = first.get("input")
        # Missing fields and whole-section checks carry a mapping as input; echoing it is noise, not help.
        if first["type"] == "missing" or isinstance(got, dict | list):
            got = None
        more = len(errors) - 1
        hint = f"{more} more problem{'s' if more > 1 else ''} in this catalog" if more else None
        raise InputError(field=_loc(first["loc"]), expected=_expected(first), got=got, source=source,
                         hint=hint) from None


def _expected(error: Any) -> str:
    # Pydantic phrases messages as complaints ("Input should be ..."); InputError wants what is expected.
    kind, msg = error["type"], error["msg"]
    if kind == "missing":
        return "this required field"
    if kind == "extra_forbidden":
        return "no field of this name (not part of the catalog schema)"
    for prefix in ("Value error, ", "Input should be "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg[:1].lower() + msg[1:]


def _read_yaml(text: str, source: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(field="<catalog>", expected="valid YAML", source=source,
                         hint=str(exc).replace("\n", " ")) from None


DEFAULT_CATALOG = "aws/us-east-1"
"""The catalog a workload gets when it names none."""


def load_catalog(name: str = DEFAULT_CATALOG) -> Catalog:
    """Load a built-in catalog by name (`catalogs.available()`), or a catalog file by path (*.yaml, *.yml).

    Cached: a catalog is immutable, and every scenario and option asks for it (a file is read once per
    process, so edits to it need a new process or `load_catalog.cache_clear()`).
    """
    # Through a helper so load_catalog() and load_catalog("aws/us-east-1") share one cache entry.
    return _load_cached(name)


@functools.lru_cache(maxsize=32)
def _load_cached(name: str) -> Catalog:
    # Built-in names never end in .yaml, so a file suffix unambiguously means a user's own catalog.
    if name.endswith((".yaml", ".yml")):
        path = Path(name)
        if not path.is_file():
            raise InputError(field="catalog", expected="an existing catalog file or a built-in catalog name",
                             got=name, hint="built-in catalogs: " + ", ".join(catalogs.available()))
        return parse_catalog(_read_yaml(path.read_text(encoding="utf-8"), str(path)), str(path))
    names = catalogs.available()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.5)
        hint = f"did you mean '{close[0]}'?" if close else "a path to a catalog YAML file also works"
        raise InputError(field="catalog", expected="one of " + ", ".join(names), got=name, hint=hint)
    return parse_catalog(_read_yaml(catalogs.read_catalog_text(name), f"catalogs/{name}.yaml"),
                         f"catalogs/{name}.yaml")


load_catalog.cache_clear = _load_cached.cache_clear  # type: ignore[attr-defined]
