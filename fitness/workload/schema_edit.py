"""The JSON Schema of a workload made to say what the loader does, and to offer completions in an editor.

Pydantic writes a discriminated union's tag (`dist`, `pattern`) with a default, so a schema validator accepts
a service time without `dist` that the loader refuses; `require_tags` makes the tag required. Instance types
and catalogs are free text to the loader (a custom catalog may name any type), so `complete_names` offers the
built-in catalog's names as an `enum` beside a plain string: editors list the names, and other text still
validates. `check_against_schema` holds a file to the schema once the loader has accepted it, so what an editor
marks wrong the loader refuses too (pydantic alone would coerce `"5"` to 5 and `"yes"` to true).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import jsonschema

import catalogs
from fitness.errors import UserError
from sim.catalog import DEFAULT_CATALOG, load_catalog


def check_against_schema(data: dict, schema: Callable[[], dict], source: str) -> None:
    """A UserError naming the field of the first place `data` breaks the JSON Schema `schema()` returns."""
    error = jsonschema.exceptions.best_match(_validator(schema).iter_errors(data))
    if error is None:
        return
    error = _in_branch(error)
    field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    raise UserError(f"{source}: invalid workload: field '{field or '(top level)'}': {error.message}; the file is "
                    "held to the JSON Schema `fitness schema` prints (what an editor checks), read as YAML 1.2 "
                    "reads it: write numbers and true/false unquoted, and quote text such as a model named 'no'.")


def _in_branch(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """The error inside the variant of a union the value meant (its tag matched), rather than "not valid under any
    of the given schemas"; the error itself when no single variant is meant."""
    while error.validator == "oneOf" and error.context and isinstance(error.schema, dict):
        tag = (error.schema.get("discriminator") or {}).get("propertyName")
        branches: dict = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        meant = [errs for errs in branches.values()
                 if not any(e.validator == "const" and list(e.relative_path) == [tag] for e in errs)]
        if tag is None or len(meant) != 1:
            return error
        error = jsonschema.exceptions.best_match(meant[0])
    return error


@functools.cache
def _validator(schema: Callable[[], dict]) -> jsonschema.protocols.Validator:
    """The validator of `schema()`, built once (the schema does not change within a process)."""
    document = schema()
    return jsonschema.validators.validator_for(document)(document)


def require_tags(schema: dict) -> dict:
    """`schema` with every discriminated union's tag required, without a default, in each of its variants."""
    defs = schema.get("$defs", {})
    for node in _nodes(schema):
        tag = (node.get("discriminator") or {}).get("propertyName")
        for ref in node.get("oneOf", []) if tag else []:
            variant = defs[ref["$ref"].rsplit("/", 1)[-1]]
            variant["properties"][tag].pop("default", None)
            variant["required"] = [tag, *[r for r in variant.get("required", []) if r != tag]]
    return schema


def complete_names(schema: dict) -> dict:
    """`schema` with the built-in catalogs' names, and the default catalog's instance types, offered as an
    `enum` wherever a catalog or an instance type is written (any other string stays valid)."""
    types = sorted(load_catalog(DEFAULT_CATALOG).instances)
    schema["properties"]["catalog"] = _offer(schema["properties"]["catalog"], catalogs.available(),
                                             "a built-in catalog")
    for node in _nodes(schema):
        props = node.get("properties")
        if isinstance(props, dict) and isinstance(props.get("instance_type"), dict):
            props["instance_type"] = _offer(props["instance_type"], types,
                                            f"an instance type of the built-in catalog {DEFAULT_CATALOG}")
    return schema


def _offer(field: dict, names: list[str], what: str) -> dict:
    """The field's string branch split into (one of `names`) or (any other string)."""
    choice = {"enum": list(names), "description": what}
    other = {"type": "string", "description": "any other name (a custom catalog's)"}
    if field.get("type") == "string":
        rest = {k: v for k, v in field.items() if k != "type"}
        return {**rest, "anyOf": [choice, other]}
    branches = field.get("anyOf", [])
    out = [b for b in branches if b.get("type") != "string"]
    return {**field, "anyOf": [choice, other, *out]}


def _nodes(node):
    """Every mapping inside a JSON document, depth first (the document itself included)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            yield n
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
