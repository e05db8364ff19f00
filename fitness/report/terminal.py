"""What the terminal shows: the short answer, the closing ranking table, one option's metrics.

Every cell is a `rich.text.Text`, so brackets in user text (model names, reasons) are shown as written and
never read as rich markup.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from rich.text import Text

from fitness.engine.result import Recommendation
from fitness.export.deployment import Deployment
from fitness.report.adr import HEADERS, option_rows
from fitness.text import deployable, duration_text

TERMINAL_COLUMNS = ("rank", "option", "deploy", "p99", "USD/month", "errors", "notes")
"""The columns of the closing table; the report has them all."""


def answer(rec: Recommendation) -> str:
    """The short answer: the recommended deployable configuration, its monthly cost and p99; or that nothing
    met the constraints, with the first reason of each option."""
    best = rec.best
    if best is None:
        if rec.root_causes:
            return f"{rec.workload}: no option meets the constraints. " + " ".join(rec.root_causes)
        why = "; ".join(f"{o.option}: {o.reasons[0]}" for o in rec.options if o.reasons)
        return f"{rec.workload}: no option meets the constraints ({why or 'no option was simulated'})."
    deploy = deployable((rec.sizing.get(best.option) or {}).get("chosen"))
    return (f"{rec.workload}: {best.option}{f' on {deploy}' if deploy else ''}, "
            f"{best.cost_usd.monthly:,.2f} USD/month, p99 {duration_text(best.latency_ms.p99)}.")


def ranking_table(rec: Recommendation) -> Table:
    """The closing table: one line per option (rank, option, deployable configuration, p99, monthly cost,
    errors, the first reason)."""
    table = Table(title=Text(f"{rec.workload}: recommended {rec.recommended or 'none'}"))
    for c in TERMINAL_COLUMNS:
        # a header never shrinks below its own name (a long option id squeezes the wrapped columns)
        table.add_column(c, no_wrap=c not in ("notes", "deploy"), overflow="ellipsis", min_width=len(c),
                         max_width=60 if c == "notes" else None)
    for row in option_rows(rec):
        cells = dict(zip(HEADERS, row, strict=True))
        cells["deploy"] = deployable((rec.sizing.get(cells["option"]) or {}).get("chosen"))
        cells["notes"] = cells["notes"].split("; ")[0]
        table.add_row(*(Text(cells[c]) for c in TERMINAL_COLUMNS))
    return table


def summary_table(s: dict) -> Table:
    """One option's DESIGN §3 object (its JSON form, `Summary.to_json()`) as a two-column table."""
    table = Table(title=Text(f"{s['option']} ({'feasible' if s['feasible'] else 'infeasible'})"), show_header=False)
    if not s["feasible"]:
        for r in s["reasons"]:
            table.add_row("reason", Text(r))
    for key in ("requests", "latency_ms", "queue_wait_ms", "cold_starts", "cache", "instances", "cost_usd"):
        for k, v in (s.get(key) or {}).items():
            if isinstance(v, dict):
                v = ", ".join(f"{a}={b:,.4f}" for a, b in v.items())
            elif isinstance(v, float):
                v = f"{v:,.4f}"
            table.add_row(Text(f"{key}.{k}"), Text(str(v)))
    for k, v in s.get("config", {}).items():
        table.add_row(Text(f"config.{k}"), Text(str(v)))
    return table


@contextmanager
def progress_lines(console: Console, label: str) -> Iterator[Callable[[str], None]]:
    """A progress callback: a transient rich bar on a terminal; elsewhere (CI logs, pipes) one plain line per
    new message on the console's stream."""
    if console.is_terminal:
        with Progress(console=console, transient=True) as bar:
            task = bar.add_task(label, total=None)
            yield lambda msg: bar.update(task, description=f"{label} {msg}")
        return
    last = [None]

    def line(msg: str) -> None:
        if msg != last[0]:
            last[0] = msg
            print(f"fitness: {label} {msg}", file=console.file or sys.stderr, flush=True)
    yield line


def export_lines(out: Console, err: Console, dep: Deployment, folder: Path, written: list[str],
                 stale: list[str]) -> None:
    """What `fitness export` wrote, what the user must fill in, and files left from an earlier export (a
    `Deployment`, its folder, the files written and the stale ones)."""
    out.print(f"exported {dep.option} for {dep.workload}: wrote {len(written)} files to {folder}/", highlight=False)
    for rel in written[:20]:
        out.print(f"  {rel}", highlight=False, markup=False)
    if len(written) > 20:
        out.print(f"  ... and {len(written) - 20} more", highlight=False)
    out.print("TODO: fill in (see TODO.md):", highlight=False)
    for p in dep.placeholders:
        out.print(f"  {p.token}: {p.what}", highlight=False, markup=False, soft_wrap=True)
    if stale:
        err.print(f"warning: {folder} also holds {len(stale)} file(s) this export did not write "
                  f"({', '.join(stale[:3])}{', ...' if len(stale) > 3 else ''}) from an earlier export: remove "
                  "them before deploying (the boto3 script runs every file in boto3/).", highlight=False,
                  markup=False)
