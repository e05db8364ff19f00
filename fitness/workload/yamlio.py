"""Reading YAML input files (workloads, sweep grids) safely: a key written twice, an alias that expands past
any sensible size or refers to itself, and nesting too deep to read are errors naming the file. Scalars
are read as YAML 1.2 reads them (`_CORE_RESOLVERS`)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from fitness.errors import UserError

MAX_VALUES = 2_000_000
"""Most values (scalars, lists and mappings, counted as written out with every alias expanded) one input file
may hold: our limit. The largest bundled workload holds a few hundred; an alias bomb or an alias that
refers to itself would otherwise expand without end in whatever reads the values next."""


class UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key written twice in one mapping: plain YAML keeps the last value and
    drops the earlier one without a word, so a user's setting could vanish."""

    def construct_mapping(self, node, deep=False):
        """The mapping, or a ConstructorError at the second occurrence of a key."""
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, str | int | float | bool) and key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    f"found the key '{key}' twice (YAML would keep only the last value)", key_node.start_mark)
            if isinstance(key, str | int | float | bool):
                seen.add(key)
        return super().construct_mapping(node, deep)


_CORE_TAGS = {f"tag:yaml.org,2002:{t}": None for t in ("bool", "int", "float", "timestamp")}
_CORE_RESOLVERS = (
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
              r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+.0123456789"),
)
"""YAML 1.2 core-schema scalars (YAML 1.2.2, section 10.3.2), the forms the JSON Schema and every YAML 1.2
editor assume. PyYAML implements YAML 1.1, where `yes`/`no`/`on`/`off` are booleans, `1:00:00` is the
sexagesimal 3600, `3_600` is 3600 and `2024-05-01` is a date: a model named `no` became `false` and a
horizon of `1:00:00` became 3600 seconds where an editor saw text."""


def _core_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    """A YAML 1.2 core integer: decimal (leading zeros allowed), 0o octal or 0x hexadecimal."""
    text = loader.construct_scalar(node)
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)


# A copy: the inherited table is SafeLoader's own, shared with every yaml.safe_load in the process.
UniqueKeyLoader.yaml_implicit_resolvers = {first: [(t, rx) for t, rx in resolvers if t not in _CORE_TAGS]
                                           for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
for _tag, _pattern, _firsts in _CORE_RESOLVERS:
    UniqueKeyLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_firsts))
UniqueKeyLoader.add_constructor("tag:yaml.org,2002:int", _core_int)


class TooLarge(yaml.YAMLError):
    """The parsed YAML expands to more than `MAX_VALUES` values (an alias bomb or a self-referring alias)."""


def strict_yaml(text: str):
    """YAML text parsed safely, a duplicate key being an error (`UniqueKeyLoader`); `TooLarge` when its
    aliases expand it past `MAX_VALUES` values."""
    data = yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    _count_values(data)
    return data


def _count_values(data: object) -> None:
    """Walk `data` as if every alias were written out, stopping at `MAX_VALUES`: a cycle never ends, so it
    is caught by the same count."""
    stack, seen = [data], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise TooLarge(f"more than {MAX_VALUES:,} values once its aliases (*name) are expanded, or an alias "
                           "that refers to the list or mapping holding it")
        if isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


def read_yaml_mapping(path: Path, what: str = "workload file",
                      expects: str = "at least `models` and `traffic` (see DESIGN §3)") -> dict:
    """Parse a YAML file that must hold a mapping, turning I/O and syntax problems into one-paragraph
    errors naming the file, `what` it is, and what it should hold (`expects`)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as e:
        raise UserError(f"{path}: {what} not found; expected a YAML file path.") from e
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: cannot read the {what} ({e}).") from e
    try:
        data = strict_yaml(text)
    except TooLarge as e:
        raise UserError(f"{path}: the {what} holds {e}; expected a mapping with {expects}, each alias "
                        "used a few times at most.") from e
    except RecursionError as e:
        raise UserError(f"{path}: the {what} nests lists or mappings too deeply to read; expected a mapping with "
                        f"{expects}, a few levels deep.") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise UserError(f"{path}: the {what} is not valid YAML{where}: {problem}. Expected a mapping with "
                        f"{expects}.") from e
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a YAML mapping with {expects}, got {type(data).__name__}.")
    return data


