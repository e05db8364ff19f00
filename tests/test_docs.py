"""The docs in docs/ stay true: generated pages match the code, and every link points somewhere.

The workload and catalog references are generated from the models and the catalog
(`python -m fitness.docgen docs/`); a model or catalog change without regenerating fails here. Relative
links (and `#anchors`) in every page must resolve to an existing file (and heading or explicit anchor).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from fitness.docgen import generated, stale
from fitness.docgen.markdown import COMMAND, unit_of
from fitness.docgen.workload import workload_sections
from fitness.workload.spec import ModelEntry, Workload
from sim.options import load_all

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = sorted(DOCS.glob("*.md"))
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def test_generated_pages_are_current():
    """Every generated page exists in docs/ and equals what the code generates today."""
    pages = generated()
    out = stale(DOCS, pages)
    assert not out, f"docs/{', docs/'.join(out)} out of date with the code: run `{COMMAND}` and commit the result"


def test_workload_page_covers_every_field_and_every_option():
    """The walk misses nothing: the workload's and each model's fields, and every registered option's knobs."""
    rows = {s.path: {r.name for r in s.rows} for s in workload_sections()}
    assert rows[""] == set(Workload.model_fields) - {"source"}
    assert rows["models[]"] == set(ModelEntry.model_fields)
    for oid, opt in load_all().items():
        assert rows[f"options.{oid}"] == set(opt.config_model.model_fields), oid


def test_docs_has_an_index_and_the_hand_written_pages():
    names = {p.name for p in PAGES}
    assert {"README.md", "options.md", "fitness-functions.md", "fidelity.md", "updating-the-catalog.md"} <= names


def _anchors(page: Path) -> set[str]:
    """Explicit `id="..."` anchors and GitHub-style heading slugs of a page."""
    text = page.read_text(encoding="utf-8")
    ids = set(re.findall(r'id="([^"]+)"', text))
    for heading in re.findall(r"^#+\s+(.*)$", text, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        ids.add(slug)
    return ids


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_relative_links_resolve(page):
    """Every relative link points to an existing file, and its #anchor (if any) to a heading there."""
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.DOTALL)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"^[a-z]+:", target):  # http:, https:, mailto: are not checked (no network)
            continue
        path, _, frag = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif frag and dest.suffix == ".md" and frag not in _anchors(dest):
            broken.append(f"{target} (no such anchor)")
    assert not broken, f"docs/{page.name}: broken links: {'; '.join(broken)}"


def test_units_are_read_from_names():
    assert [unit_of(n) for n in ("timeout_s", "p99_ms", "rate_rps", "s3_read_mb_per_s", "cv")] == \
        ["s", "ms", "requests/s", "MB/s", ""]
    assert unit_of("price_per_gb_second", "EUR") == "EUR/GB-second"
    assert unit_of("memory_mb_per_vcpu") == "MB/vCPU"

