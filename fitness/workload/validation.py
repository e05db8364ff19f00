"""Turning pydantic validation errors into one readable paragraph."""

from __future__ import annotations

import re
from typing import get_args

from pydantic import ValidationError

from sim.distributions import ServiceTime
from sim.traffic import TrafficSpec


def _union_tags(union) -> frozenset[str]:
    """The tag values of a discriminated union (pydantic puts the chosen tag in error locations)."""
    members = get_args(get_args(union)[0])
    return frozenset(tag for m in members for f in ("pattern", "dist") if f in m.model_fields
                     for tag in get_args(m.model_fields[f].annotation))


_UNIONS = {"traffic": ("pattern", _union_tags(TrafficSpec)), "service_time": ("dist", _union_tags(ServiceTime)),
           "container_start": ("dist", _union_tags(ServiceTime))}
"""The discriminated-union fields: their tag field and its values."""

_BRANCH = re.compile(r"^(constrained-)?(float|int|str|bool|none)$|^(dict|list|tuple|set)\[")
"""How pydantic labels the member of a plain union (`float | dict[str, float]`) an error came from."""


def field_path(loc: tuple, prefix: str | None = None) -> str:
    """Dotted path like `models[0].service_time.p50_ms`, dropping pydantic's union-tag segments."""
    parts: list[str] = [prefix] if prefix else []
    for i, item in enumerate(loc):
        union = _UNIONS.get(loc[i - 1]) if i else None
        if union and item in union[1]:
            continue  # the tag pydantic puts after a union field (a field may share its name: `trace`)
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif isinstance(item, str) and not item.startswith(("function-", "tagged-union")) \
                and not _BRANCH.match(item):
            parts.append(item)
    return ".".join(parts)


def _one_branch(errors: list[dict]) -> list[dict]:
    """Of the errors a plain union's members give for one value, the member's the value was written as (a mapping
    for a mapping, a number for a number): `-1` for `float | dict[str, float]` reads 'greater than 0', not also
    'a valid dictionary'."""
    def split(e: dict) -> tuple[tuple, str] | None:
        """The union field's location and the member's label, for an error from a plain union's member."""
        at = next((i for i, x in enumerate(e["loc"]) if isinstance(x, str) and _BRANCH.match(x)), None)
        return None if at is None else (tuple(e["loc"][:at]), e["loc"][at])

    written = {}  # per union field, whether its value was written as a mapping or list
    for e in errors:
        if (s := split(e)) and len(e["loc"]) == len(s[0]) + 1:
            written[s[0]] = isinstance(e.get("input"), dict | list)
    kept = []
    for e in errors:
        s = split(e)
        if s is None:
            kept.append(e)
            continue
        container = s[1].startswith(("dict[", "list[", "tuple[", "set["))
        if container == written.get(s[0], container):
            kept.append(e)
    return kept


def _expectation(err: dict) -> str:
    """What the field expects, in words (pydantic's message, lightly reworded)."""
    msg = err.get("msg", "invalid value")
    if err.get("type") == "missing":
        return "a value (the field is required)"
    if err.get("type") == "extra_forbidden":
        return "no such field here (check the spelling against DESIGN §3)"
    if err.get("type") == "union_tag_invalid":
        return msg.replace("Input tag", "one of the allowed values; tag")
    if err.get("type") == "union_tag_not_found":
        tag = err.get("ctx", {}).get("discriminator", "").strip("'")
        values = next((sorted(v) for t, v in _UNIONS.values() if t == tag), [])
        return f"a `{tag}` field naming one of: {', '.join(values)}"
    msg = msg.removeprefix("Value error, ").removeprefix("Input should be ")
    return msg[0].lower() + msg[1:] if msg else msg


def describe_validation_error(err: ValidationError, source: str | None, prefix: str | None = None) -> str:
    """One paragraph: file, each failing field path, what is expected and what was given."""
    errors = err.errors()
    locs = [tuple(e["loc"]) for e in errors]
    # a container reported as invalid because an item inside it failed adds nothing: keep the item
    errors = [e for e, loc in zip(errors, locs, strict=True)
              if not any(o != loc and o[:len(loc)] == loc for o in locs)]
    errors = _one_branch(errors)
    lines = []
    for e in errors[:5]:
        path = field_path(tuple(e["loc"]), prefix) or "(top level)"
        got = e.get("input")
        said = e.get("type") == "missing" or isinstance(got, dict | list) or f"got {got!r}" in _expectation(e)
        shown = "" if said else f" (got {got!r})"
        verb = "" if e.get("type") == "value_error" else "expected "
        if not e["loc"] and not prefix and e.get("type") == "value_error":
            lines.append(_expectation(e))  # a check across fields names its own fields
        else:
            lines.append(f"field '{path}': {verb}{_expectation(e)}{shown}")
    more = f"; and {len(errors) - 5} more" if len(errors) > 5 else ""
    where = f"{source}: " if source else ""
    return f"{where}invalid workload: " + "; ".join(lines) + more + "."
