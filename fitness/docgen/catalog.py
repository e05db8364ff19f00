"""The generated catalog page (docs/catalog.md): every fact of every built-in catalog, and the rubrics.

Part of `fitness.docgen` (which writes the pages); the tables use its helpers.
"""

from __future__ import annotations

from collections import Counter

import yaml
from pydantic import BaseModel

import catalogs
from fitness.docgen.markdown import HEADER, num, table, unit_of
from sim.catalog import Catalog, Fact, load_catalog
from sim.catalog_facts import NameList

# --- catalog.md -------------------------------------------------------------------------------------

_CATALOG_INTRO = """\
# Catalog reference

Every number the simulator takes from a catalog: prices, platform limits and behaviour, each with its
source, the date it was retrieved and how far it can be trusted, generated from the built-in catalogs
(`catalogs/<provider>/<region>.yaml`, validated by `sim/catalog.py`) and the rubrics
(`catalogs/rubrics/`). No price or limit is written in code; a report lists the facts behind its figures.

Confidence: `high` from an AWS document or AWS-published code; `medium` several public tables agree, or
AWS behaviour observed but not documented for SageMaker; `low` a single third-party table, or sources
disagree; `derived` computed from other facts by the rule in the note; `assumption` no source found, the
note says why the value was chosen. Units are read from each fact's name (`_s` seconds, `_mb` megabytes,
`price_per_gb_second` per GB-second of memory...).

How to change a fact or add a catalog: [updating-the-catalog.md](updating-the-catalog.md).
"""

_PROVENANCE = ("name", "source", "retrieved", "confidence")
_FACT_HEAD = ["fact", "value", "unit", "confidence", "retrieved", "source", "note"]


def _fact_row(name: str, f: Fact, currency: str) -> list[object]:
    return [f"`{name}`", num(f.value), unit_of(name, currency), f.confidence, f.retrieved, f.source, f.note]


def _instances(cat: Catalog, facts: dict[str, Fact]) -> str:
    rows = []
    for name, it in cat.instances.items():
        price = facts[f"instances.{name}.price_per_hour"]
        volume = "NVMe, none" if it.instance_store else num(it.storage_gb.value) if it.storage_gb else "default"
        rows.append([f"`{name}`", it.vcpu, num(it.memory_gib), it.gpu_count, num(it.gpu_memory_gib),
                     it.gpu_model or "", it.accelerator, volume, num(price.value), price.confidence, price.retrieved,
                     price.source, price.note])
    head = ["instance type", "vCPU", "memory GiB", "GPUs", "GiB per GPU", "GPU", "accelerator", "ML storage GB",
            f"price {cat.currency}/hour", "confidence", "retrieved", "source", "note"]
    volume = ("ML storage GB: the volume SageMaker attaches to each hosting instance and bills per GB-month "
              "(`default`: `realtime.default_volume_gb`; `NVMe, none`: the type has NVMe instance storage and no "
              "volume is billed).")
    return "### Instance types (`instances`)\n\n" + table(head, rows) + "\n\n" + volume + _burstable(cat, facts)


def _burstable(cat: Catalog, facts: dict[str, Fact]) -> str:
    """The CPU credit facts of the burstable (T) types, one row per fact; empty when the catalog has none."""
    rows = [_fact_row(path.removeprefix("instances."), f, cat.currency) for path, f in facts.items()
            if path.startswith("instances.") and ".burstable." in path]
    if not rows:
        return ""
    return ("\n\nBurstable types (`burstable`: CPU credits in standard mode, see "
            "[mechanics.md](mechanics.md#burstable-instances)):\n\n" + table(_FACT_HEAD, rows))


def _group(cat: Catalog, section: str, facts: dict[str, Fact]) -> str:
    """One section of facts (realtime, serverless...), with its name lists."""
    group = getattr(cat, section)
    doc = (type(group).__doc__ or "").strip().split("\n\n")[0]
    rows = [_fact_row(path.split(".", 1)[1], f, cat.currency) for path, f in facts.items()
            if path.split(".", 1)[0] == section]
    parts = [f"### `{section}`", doc, table(_FACT_HEAD, rows)]
    for fname in type(group).model_fields:
        value = getattr(group, fname)
        if isinstance(value, NameList):
            parts.append(f"`{section}.{fname}` ({value.confidence}, retrieved {value.retrieved}; source: "
                         f"{value.source}): " + ", ".join(f"`{n}`" for n in value.names) + "."
                         + (f" Note: {' '.join(value.note.split())}" if value.note else ""))
    return "\n\n".join(p for p in parts if p)


def catalog_section(name: str) -> str:
    """One built-in catalog: its provenance, instance types, and each section's facts."""
    cat, path = load_catalog(name), f"catalogs/{name}.yaml"
    facts = cat.facts()
    counts = Counter(f.confidence for f in facts.values())
    tally = ", ".join(f"{counts[c]} {c}" for c in ("high", "medium", "low", "derived", "assumption") if counts[c])
    sections_ = [s for s in type(cat).model_fields if isinstance(getattr(cat, s), BaseModel)]
    head = (f"## `{name}`\n\nFile: [{path}](../{path}). Currency {cat.currency}; catalog retrieved "
            f"{cat.retrieved}. {len(facts)} facts: {tally}.")
    return "\n\n".join([head, _instances(cat, facts), *(_group(cat, s, facts) for s in sections_)])


def _rubric_comment(text: str) -> str:
    """The comment block a rubric file opens with (its own documentation), as plain text."""
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


def _rubric_body(data: dict) -> list[str]:
    """Tables for the rubric kinds the fitness functions read; other keys as YAML."""
    def decisions(ds: list[dict]) -> str:
        return table(["decision", "weight", "why"], [[d["decision"], d["weight"], d["why"]] for d in ds])

    parts = [f"#### `{option}`: raw complexity {num(sum(d['weight'] for d in ds))}\n\n" + decisions(ds)
             for option, ds in (data.get("options") or {}).items()]
    if "default" in data:
        parts.append("#### Any other option\n\n" + decisions(data["default"]))
    rest = {k: v for k, v in data.items() if k not in _PROVENANCE + ("options", "default")}
    for key, value in rest.items():
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            cols = list(dict.fromkeys(c for v in value.values() for c in v))
            parts.append(f"`{key}`:\n\n" + table(["key", *cols], [[f"`{k}`", *(num(v[c]) if isinstance(
                v.get(c), int | float) else v.get(c, "") for c in cols)] for k, v in value.items()]))
        elif isinstance(value, dict):
            parts.append(f"`{key}`:\n\n" + table(["key", "value"], [[f"`{k}`", num(v)] for k, v in value.items()]))
        else:
            parts.append(f"`{key}`: {num(value) if isinstance(value, int | float) else value}")
    return parts


def rubrics_section() -> str:
    """Every rubric file: provenance, the file's own explanation, and its entries."""
    parts = ["## Rubrics (`catalogs/rubrics/`)",
             "Data the fitness functions read (see [fitness-functions.md](fitness-functions.md))."]
    for name in catalogs.rubrics():
        text = catalogs.read_rubric_text(name)
        data = yaml.safe_load(text)
        path = f"catalogs/rubrics/{name}.yaml"
        parts += [f"### `{data.get('name', name + '.yaml')}` ([{path}](../{path}))",
                  f"Source: {data.get('source')}; retrieved {data.get('retrieved')}; "
                  f"confidence {data.get('confidence')}.", _rubric_comment(text), *_rubric_body(data)]
    return "\n\n".join(p for p in parts if p)


def catalog_markdown() -> str:
    """docs/catalog.md: every built-in catalog's facts, then the rubrics."""
    body = [catalog_section(n) for n in catalogs.available()]
    return "\n\n".join([HEADER, _CATALOG_INTRO.rstrip(), *body, rubrics_section()]) + "\n"
