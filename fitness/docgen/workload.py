"""docs/workload.md: every field of a workload file and every option's config knob, walked from the JSON Schema
that the pydantic models produce (the one `fitness schema` prints)."""

from __future__ import annotations

from dataclasses import dataclass

from fitness.docgen.markdown import DURATION_HINT, HEADER, anchor, num, table, unit_of
from fitness.workload.spec import workload_schema
from sim.options import load_all
from sim.units import DURATION_JSON_SCHEMA


@dataclass(frozen=True)
class Row:
    """One field of a section: name, type, default, allowed values, unit, description (and whether the
    field carries a description of its own, rather than its type's)."""

    name: str
    type: str
    default: str
    allowed: str
    unit: str
    description: str


@dataclass(frozen=True)
class Section:
    """An object in a workload file: its path, model name, docstring, fields, and union variant if any."""

    path: str
    model: str
    description: str
    rows: tuple[Row, ...]
    variant: str | None = None


def _resolve(node: dict, defs: dict) -> dict:
    """The schema a field really has: `null` alternatives dropped, `$ref`s followed (field keys kept)."""
    while True:
        alts = node.get("anyOf")
        if alts and any(a.get("type") == "null" for a in alts):
            rest = [a for a in alts if a.get("type") != "null"]
            base = {k: v for k, v in node.items() if k != "anyOf"}
            node = {**base, **rest[0]} if len(rest) == 1 else {**base, "anyOf": rest}
        elif "$ref" in node:
            # the field's keys win, but not its description: a section's intro is its type's docstring (the
            # field's own description is its row's, read from the field before resolving)
            target = defs[node["$ref"].rsplit("/", 1)[-1]]
            node = {**target, **{k: v for k, v in node.items() if k not in ("$ref", "description")}}
        else:
            return node


def _is_duration(node: dict) -> bool:
    return node.get("anyOf") == DURATION_JSON_SCHEMA["anyOf"]


def _children(raw: dict, path: str, defs: dict) -> list[tuple[str, dict, str | None]]:
    """The objects nested under a field, as (path, object schema, union variant label)."""
    node = _resolve(raw, defs)
    if node.get("type") == "array":
        return _children(node.get("items", {}), path + "[]", defs)
    if "oneOf" in node:
        key = node.get("discriminator", {}).get("propertyName")
        variants = [_resolve(v, defs) for v in node["oneOf"]]
        return [(path, v, f"{key}: {v['properties'][key].get('const')}" if key else v.get("title")) for v in variants]
    if node.get("properties"):
        return [(path, node, None)]
    extra = node.get("additionalProperties")
    return _children(extra, path + ".<name>", defs) if isinstance(extra, dict) and extra else []


def _type(node: dict, link: str | None, defs: dict) -> str:
    """The field's type in words, linked to the section describing it."""
    kind = node.get("type")
    if _is_duration(node):
        return "duration"
    if "oneOf" in node:
        key = node.get("discriminator", {}).get("propertyName", "kind")
        text = f"object, one of {len(node['oneOf'])} kinds by `{key}`"
    elif kind == "array":
        text = "list of " + _type(_resolve(node.get("items", {}), defs), None, defs)
    elif kind == "object" and node.get("properties"):
        text = "object"
    elif kind == "object":
        extra = node.get("additionalProperties")
        text = "map of name to " + (_type(_resolve(extra, defs), None, defs) if isinstance(extra, dict) else "anything")
    else:
        text = {"number": "number", "integer": "integer", "string": "string", "boolean": "boolean"}.get(kind, "any")
    return f"[{text}](#{link})" if link else text


def _bounds(node: dict) -> list[str]:
    marks = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"))
    return [f"{sign} {num(node[key])}" for key, sign in marks if key in node]


def _allowed(node: dict) -> str:
    """Enumerated values, constants and bounds, in words."""
    if _is_duration(node):  # a positive duration says so beside the hint (its bound is on the number branch)
        return "; ".join([DURATION_HINT, *_bounds(node)])
    if "enum" in node:
        return ", ".join(f"`{v}`" for v in node["enum"])
    if "const" in node:
        return f"`{node['const']}`"
    out = _bounds(node)
    if node.get("minLength"):
        out.append("non-empty" if node["minLength"] == 1 else f"at least {node['minLength']} characters")
    if node.get("minItems"):
        out.append(f"at least {node['minItems']} item{'s' if node['minItems'] > 1 else ''}")
    for key, what in (("items", "each item"), ("additionalProperties", "each value")):
        inner = node.get(key)
        if isinstance(inner, dict) and _bounds(inner):
            out.append(f"{what} " + " and ".join(_bounds(inner)))
    return "; ".join(out)


def _default(raw: dict, node: dict, required: bool) -> str:
    if required:
        return "**required**"
    if "default" not in raw and "default" not in node:  # a default factory: an empty container
        return {"array": "[]", "object": "{}"}.get(node.get("type"), "")
    value = raw.get("default", node.get("default"))
    if value is None:
        return "unset"
    if isinstance(value, dict):
        return "{}" if not value else "the defaults below"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return f"`{value}`" if isinstance(value, str) else num(value)


def _row(name: str, raw: dict, required: bool, defs: dict, link: str | None) -> Row:
    node = _resolve(raw, defs)
    # an inline object schema carries its class's docstring, and a duration the generic hint: neither is
    # the field's own description
    own = None if "properties" in raw or raw.get("description") == DURATION_HINT else raw.get("description")
    text = own or (node.get("description", "").split("\n\n")[0] if "properties" in node else "")
    unit = unit_of(name) or ("s" if _is_duration(node) else "")
    return Row(name, _type(node, link, defs), _default(raw, node, required), _allowed(node), unit, text or "")


def sections(node: dict, path: str, defs: dict, variant: str | None = None) -> list[Section]:
    """The object at `path` and every object nested in it, depth first, each as a Section."""
    defs = {**defs, **node.get("$defs", {})}
    required = set(node.get("required", ()))
    rows, below = [], []
    for name, raw in node.get("properties", {}).items():
        kids = _children(raw, f"{path}.{name}" if path else name, defs)
        rows.append(_row(name, raw, name in required, defs, anchor(kids[0][0], kids[0][2]) if kids else None))
        below += kids
    out = [Section(path, node.get("title", ""), node.get("description", ""), tuple(rows), variant)]
    for child_path, child, label in below:
        out += sections(child, child_path, defs, label)
    return out


def workload_sections() -> list[Section]:
    """Every object of a workload file, options sorted by id (the registry's order depends on imports)."""
    schema = workload_schema()
    opts = schema["properties"]["options"]
    opts["properties"] = dict(sorted(opts["properties"].items()))
    unique = {(s.path, s.variant, s.model): s for s in reversed(sections(schema, "", {}))}
    return list(reversed(unique.values()))


# --- workload.md ------------------------------------------------------------------------------------

_WORKLOAD_INTRO = """\
# Workload file reference

Every field a workload file accepts, generated from the pydantic models in `fitness/workload/spec.py`,
`sim/traffic_spec.py`, `sim/model.py`, `sim/distributions.py` and each hosting option's config model in
`sim/options/` (the same JSON Schema `fitness schema` prints). The product's contract is DESIGN §3; the
examples in `examples/` use these fields (`examples/design-reference.yaml` uses every DESIGN field).

- **type**: `duration` is a number of seconds or a string such as `90s`, `30m`, `6h`, `7d`; an `object`
  links to its own section; a field whose default is `unset` may be left out (it is sized or derived).
- **unit**: stated by the field's name (`_ms` milliseconds, `_s` seconds, `_h` hours, `_mb` / `_kb`
  megabytes / kilobytes, `_rps` requests per second, `_usd` US dollars); blank when the name states none.
- **description**: the field's own description, or the first paragraph of its type's docstring.
- **reading**: files are read as YAML 1.2 reads them (as editors do), and held to the JSON Schema: `yes`,
  `no`, `on`, `off`, `1:00:00` and `3_600` are text, not true, false or 3600; numbers and true/false are
  written unquoted (`"5"` is text). `dist` and `pattern` must always be written.

How each option uses its knobs: [options.md](options.md). What the scores mean:
[fitness-functions.md](fitness-functions.md).
"""


def _title(s: Section) -> str:
    return f"`{s.path or 'workload'}`" + (f" ({s.variant})" if s.variant else "")


def _heading(s: Section) -> str:
    model = f": {s.model}" if s.model else ""
    return f'<a id="{anchor(s.path or "workload", s.variant)}"></a>\n\n### {_title(s)}{model}'


def _option_note(option_id: str) -> str:
    """What the registry says of an option: what it is, which deliveries and patterns it serves."""
    opt = load_all()[option_id]
    patterns = ", ".join(sorted(opt.patterns)) or "none (one model per request)"
    return (f"Option `{option_id}`: {opt.summary} Delivers: {', '.join(sorted(opt.delivers))}. Patterns beyond one "
            f"model per request: {patterns}. Mechanics: [options.md](options.md#{option_id}).")


def render_section(s: Section) -> str:
    """One section: heading, docstring, option note, and the fields table."""
    parts = [_heading(s)]
    if s.path.startswith("options.") and s.path.count(".") == 1:
        parts.append(_option_note(s.path.split(".", 1)[1]))
    if s.description:
        parts.append(s.description)
    rows = [[f"`{r.name}`", r.type, r.default, r.allowed, r.unit, r.description] for r in s.rows]
    parts.append(table(["field", "type", "default", "allowed values", "unit", "description"], rows))
    return "\n\n".join(parts)


def workload_markdown() -> str:
    """docs/workload.md: the workload file's fields, then every option's knobs."""
    secs = workload_sections()
    knobs = [s for s in secs if s.path.startswith("options")]
    fields = [s for s in secs if s not in knobs]
    toc = [f"- [{_title(s)}](#{anchor(s.path or 'workload', s.variant)})" for s in secs]
    body = ["## Contents", "\n".join(toc), "## Workload fields", *map(render_section, fields),
            "## Option knobs (`options.<id>`)",
            "Unset knobs are right-sized (see [fitness-functions.md](fitness-functions.md#right-sizing)); a knob "
            "the workload sets is kept as given.", *map(render_section, knobs)]
    return "\n\n".join([HEADER, _WORKLOAD_INTRO.rstrip(), *body]) + "\n"
