"""Change a few fields of one model in a workload's YAML text and keep every other byte, comments included.

PyYAML drops comments when it writes, so `set_model_fields` edits the text instead: it composes the document
(PyYAML's node tree keeps each value's position), replaces the text of each value it changes, or inserts a
`key: value` line for a key the model did not have, and then checks that the edited text loads to exactly the
intended data. Files it cannot edit that way (anchors and aliases, a model written on one line with nested
values...) get None, and the caller falls back to writing the data with PyYAML.
"""

from __future__ import annotations

from typing import Any

import yaml


def scalar(value: Any) -> str:
    """One value in YAML flow style (`12.5`, `lognormal`, `{dist: gamma, mean_ms: 20, cv: 0.5}`, `[1, 2]`)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {scalar(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(scalar(v) for v in value) + "]"
    return yaml.safe_dump(value, default_flow_style=True, width=10**9).removesuffix("\n...\n").strip()


def _content_end(node: yaml.Node) -> int:
    """Index just past a value's own text: a block collection ends with its last item, not at the next key."""
    if isinstance(node, yaml.MappingNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1][1])
    if isinstance(node, yaml.SequenceNode) and not node.flow_style and node.value:
        return _content_end(node.value[-1])
    return node.end_mark.index


def _render(old: yaml.Node, value: Any) -> str:
    """The new value's text, in block style where the old value was a block mapping."""
    if isinstance(old, yaml.MappingNode) and not old.flow_style and isinstance(value, dict):
        pad = "\n" + " " * old.start_mark.column
        return pad.join(f"{k}: {scalar(v)}" for k, v in value.items())
    return scalar(value)


def _has_aliases(text: str) -> bool:
    """True when the document uses anchors or aliases (an edit could change more than one place)."""
    return any(isinstance(t, yaml.AnchorToken | yaml.AliasToken) for t in yaml.scan(text))


def _model_node(text: str, index: int) -> yaml.MappingNode | None:
    """The mapping node of `models[index]`, or None when the document is not shaped as expected."""
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return None
    models = next((v for k, v in root.value if getattr(k, "value", None) == "models"), None)
    if not isinstance(models, yaml.SequenceNode) or index >= len(models.value):
        return None
    node = models.value[index]
    return node if isinstance(node, yaml.MappingNode) else None


def _edits(text: str, node: yaml.MappingNode, updates: dict[str, Any]) -> list[tuple[int, int, str]]:
    """(start, end, new text) for each update: a present key's value replaced, a new key appended."""
    present = {k.value: v for k, v in node.value if isinstance(k, yaml.ScalarNode)}
    edits = []
    for key, value in updates.items():
        if key in present:
            old = present[key]
            edits.append((old.start_mark.index, _content_end(old), _render(old, value)))
        elif node.flow_style:
            at = node.end_mark.index - 1  # just before the closing brace
            edits.append((at, at, f", {key}: {scalar(value)}"))
        else:
            end = _content_end(node)
            line_end = text.find("\n", end)
            at = len(text) if line_end < 0 else line_end
            indent = " " * node.value[0][0].start_mark.column
            edits.append((at, at, f"\n{indent}{key}: {scalar(value)}"))
    return edits


def set_model_fields(text: str, index: int, updates: dict[str, Any]) -> str | None:
    """`text` with `models[index].<key>` set to each value of `updates` and nothing else changed.

    Returns None when the edit cannot be made in place or does not load back to the intended data.
    """
    try:
        if _has_aliases(text):
            return None
        node = _model_node(text, index)
        expected = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if node is None:
        return None
    expected["models"][index].update(updates)
    out = text
    for start, end, new in sorted(_edits(text, node, updates), reverse=True):
        out = out[:start] + new + out[end:]
    try:
        return out if yaml.safe_load(out) == expected else None
    except yaml.YAMLError:
        return None
