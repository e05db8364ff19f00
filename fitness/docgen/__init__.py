"""Reference pages generated from the code, so they never drift: the workload fields, the options and the catalog.

`generated()` returns {file name: Markdown} for `docs/`: `workload.md` (every field of a workload file and
every option's config knob), `options.md` (each hosting option's section, from its unit in
`fitness/options/`) and `catalog.md` (every catalog fact with its value, unit, source, retrieval date and
confidence, and the rubrics). `python -m fitness.docgen docs/` writes them; `--check` only reports the
stale ones. `tests/test_docs.py` fails when a committed page differs from what the code generates.
"""

from __future__ import annotations

from pathlib import Path

from fitness.docgen.catalog import catalog_markdown
from fitness.docgen.options import options_markdown
from fitness.docgen.workload import workload_markdown


def generated() -> dict[str, str]:
    """The generated pages of `docs/`, by file name."""
    return {"workload.md": workload_markdown(), "options.md": options_markdown(), "catalog.md": catalog_markdown()}


def stale(out_dir: Path, pages: dict[str, str]) -> list[str]:
    """Names of the generated pages that are missing from `out_dir` or differ from `pages`."""
    return [n for n, text in pages.items()
            if not (out_dir / n).is_file() or (out_dir / n).read_text(encoding="utf-8") != text]
