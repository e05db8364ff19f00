"""Turning pydantic validation errors into one readable paragraph."""

from __future__ import annotations

from pydantic import ValidationError


def field_path(loc: tuple, prefix: str | None = None) -> str:
    """Dotted path like `models[0].service_time.p50_ms`, dropping pydantic's union-tag segments."""
    parts: list[str] = [prefix] if prefix else []
    for item in loc:
        if isinstance(item, int):
            parts[-1:] = [f"{parts[-1]}[{item}]"] if parts else [f"[{item}]"]
        elif isinstance(item, str) and not item.startswith(("function-", "tagged-union")):
            parts.append(item)
    return ".".join(parts)


def _expectation(err: dict) -> str:
    """What the field expects, in words (pydantic's message, lightly reworded)."""
    msg = err.get("msg", "invalid value")
    if err.get("type") == "missing":
        return "a value (the field is required)"
    if err.get("type") == "extra_forbidden":
        return "no such field here (check the spelling against DESIGN §3)"
    if err.get("type") == "union_tag_invalid":
        return msg.replace("Input tag", "one of the allowed values; tag")
    return msg.removeprefix("Value error, ")


def describe_validation_error(err: ValidationError, source: str | None, prefix: str | None = None) -> str:
    """One paragraph: file, each failing field path, what is expected and what was given."""
    lines = []
    for e in err.errors()[:5]:
        path = field_path(tuple(e["loc"]), prefix) or "(top level)"
        got = e.get("input")
        shown = "" if e.get("type") == "missing" or isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"field '{path}': expected {_expectation(e)}{shown}")
    more = f"; and {err.error_count() - 5} more" if err.error_count() > 5 else ""
    where = f"{source}: " if source else ""
    return f"{where}invalid workload: " + "; ".join(lines) + more + "."
