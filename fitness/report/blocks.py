"""Rendering the ADR's blocks to Markdown and to one self-contained offline HTML page.

The document is a list of (section title, blocks) built by `fitness.report`; this module only turns
blocks into text. User text is escaped on its way into HTML
and made inert on its way into Markdown (`fitness.escape`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from fitness.engine.ranking import Recommendation
from fitness.escape import md_fence, md_inline
from fitness.report.plots import applicable, charts_html, plotly_script


@dataclass(frozen=True)
class Text:
    """A paragraph (`p`), note (`note`), sub-heading (`h3`) or code line (`code`); inline `code` and **bold**."""

    kind: str
    text: str


@dataclass(frozen=True)
class Bullets:
    """A bulleted list of inline-markup items."""

    items: list[str]


@dataclass(frozen=True)
class Table:
    """A table of plain-text cells; `marks` per row: "best", "warn", "bad" or "" (highlighting)."""

    headers: list[str]
    rows: list[list[str]]
    marks: list[str] | None = None


@dataclass(frozen=True)
class Charts:
    """Where the declared charts go (HTML only; Markdown points to the HTML report)."""


Block = Text | Bullets | Table | Charts


@dataclass(frozen=True)
class Section:
    """One ADR section: its heading and the blocks it holds (none: the section is left out)."""

    title: str
    build: Callable[[Recommendation], list[Block]]



# --- renderers ---------------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return md_inline(text).replace("|", "\\|")


_MD_MARK = {"best": "★ ", "warn": "⚠ ", "bad": "✗ "}


def _md_block(b: Block, rec: Recommendation) -> list[str]:
    """Markdown lines of one block."""
    if isinstance(b, Text):
        if b.kind == "code":
            return [*md_fence("bash", b.text), ""]
        t = md_inline(b.text)
        return {"p": [t], "note": [f"_{t}_"], "h3": [f"### {t}"]}[b.kind] + [""]
    if isinstance(b, Bullets):
        return [f"- {md_inline(i)}" for i in b.items] + [""]
    if isinstance(b, Table):
        marks = b.marks or [""] * len(b.rows)
        rows = [[_MD_MARK.get(m, "") + r[0], *r[1:]] for r, m in zip(b.rows, marks, strict=True)]
        return (["| " + " | ".join(_md_cell(h) for h in b.headers) + " |", "|" + "---|" * len(b.headers)]
                + ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows] + [""])
    names = ", ".join(p.title.lower() for p in applicable(rec))
    return [f"_Charts ({names}) are in the HTML report (`--format html`)._", ""] if names else []


def markdown(rec: Recommendation, status: str, doc: list) -> str:
    """The ADR as Markdown: title, status line, then each section's blocks."""
    lines = [f"# ADR: hosting for {md_inline(rec.workload)}", "", md_inline(status), ""]
    for title, blocks in doc:
        body = [line for b in blocks for line in _md_block(b, rec)]
        if body:
            lines += [f"## {title}", "", *body]
    return "\n".join(lines).rstrip("\n") + "\n"


def _inline(text: str) -> str:
    """Escape, then apply the inline markup (`code`, **bold**) to the escaped text."""
    t = html.escape(text)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", t)


def _html_block(b: Block, rec: Recommendation) -> str:
    """HTML of one block (every text escaped)."""
    e = html.escape
    if isinstance(b, Text):
        return {"p": "<p>{}</p>", "note": "<p class='note'>{}</p>", "h3": "<h3>{}</h3>",
                "code": "<pre><code>{}</code></pre>"}[b.kind].format(e(b.text) if b.kind == "code" else _inline(b.text))
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li>{_inline(i)}</li>" for i in b.items) + "</ul>"
    if isinstance(b, Table):
        marks = b.marks or [""] * len(b.rows)
        body = "".join(f"<tr class='{e(m)}'>" + "".join(map(_td, row)) + "</tr>"
                       for row, m in zip(b.rows, marks, strict=True))
        head = "".join(f"<th>{e(h)}</th>" for h in b.headers)
        return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
    return charts_html(rec)


def _td(cell: str) -> str:
    """A table cell, escaped; short ones (numbers with units) marked not to wrap."""
    return f"<td class='n'>{html.escape(cell)}</td>" if len(cell) < 16 else f"<td>{html.escape(cell)}</td>"


_CSS = """body{font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d232b;margin:0;
background:#f6f7f9}main{max-width:1180px;margin:0 auto;padding:24px 32px;background:#fff}
h1{font-size:26px;margin:.2em 0}h2{font-size:20px;border-bottom:2px solid #e3e6ea;padding-bottom:4px;margin-top:1.6em}
h3{font-size:16px}code{background:#f0f2f5;padding:1px 4px;border-radius:3px;font-size:13px}
pre{background:#f0f2f5;padding:10px;overflow-x:auto}.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #d9dde3;padding:4px 7px;
text-align:left;vertical-align:top}th{background:#eef1f5}td:first-child,td.n{white-space:nowrap}
tr.best td{background:#e6f6ea;font-weight:600}tr.warn td{background:#fff5d6}tr.bad td{color:#8a3a3a}
.note{color:#667;font-style:italic}.chart{margin:18px 0}.chart p{margin:2px 0;color:#445}"""


def page(rec: Recommendation, status: str, doc: list) -> str:
    """The same ADR as one self-contained offline HTML page: inline CSS, plotly.js inlined once, charts."""
    e = html.escape
    parts = [f"<h1>ADR: hosting for {e(rec.workload)}</h1><p>{_inline(status)}</p>"]
    for title, blocks in doc:
        body = "".join(_html_block(b, rec) for b in blocks)
        if body:
            slug = re.sub(r"[^a-z]+", "-", title.lower())
            parts.append(f"<section id='{slug}'><h2>{e(title)}</h2>{body}</section>")
    return ("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>ADR: hosting for {e(rec.workload)}</title><style>{_CSS}</style>{plotly_script(rec)}</head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")

