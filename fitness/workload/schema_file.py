"""The workload's JSON Schema as shipped in the package (`workload.schema.json`), read instead of generated.

`workload_schema()` generates the schema from the pydantic models (about 0.4 s of every run that loads a
workload); the file holds the same document, written by `python -m fitness.docgen docs/` with the reference pages.
`tests/test_workload.py` fails when the file differs from what the models generate, so it cannot go stale.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

SCHEMA_FILE = Path(__file__).with_name("workload.schema.json")


@functools.cache
def shipped_schema() -> dict:
    """The shipped JSON Schema of a workload file (the same document `workload_schema()` generates)."""
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def schema_text(schema: dict) -> str:
    """The text of the shipped file for `schema` (also what `fitness schema` prints)."""
    return json.dumps(schema, indent=2) + "\n"

