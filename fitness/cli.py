"""Command line: parse, call the library, render. Bad input exits 2 with one paragraph, no traceback."""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fitness import api
from fitness.errors import UserError
from fitness.report import HEADERS, option_rows, render_html, render_markdown, to_json
from fitness.sweep import load_grid, run_sweep, summary_markdown, summary_rows, to_frame
from fitness.workload import load_workload

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Decision engine and cost/latency simulator for ML model hosting.")
err = Console(stderr=True)

WorkloadArg = Annotated[Path, typer.Argument(help="Workload YAML file (see DESIGN §3).", show_default=False)]


class SimFormat(StrEnum):
    """Output formats of `simulate`."""

    table = "table"
    json = "json"


class RecFormat(StrEnum):
    """Output formats of `recommend`."""

    md = "md"
    html = "html"
    json = "json"


@app.command()
def validate(workload: WorkloadArg) -> None:
    """Check a workload file and say what is wrong, with the field path."""
    wl = load_workload(workload)
    sc = api.build(wl)  # reads traces and CSVs too, so every file the workload names is checked
    typer.echo(f"{workload}: valid ({len(wl.expanded_models)} model(s), traffic {wl.traffic.pattern}, "
               f"{sc.n:,} requests over {sc.horizon_s / 3600:.2f} h).")


@app.command()
def schema() -> None:
    """Print the JSON Schema of workload files (for editor completion and CI checks)."""
    import json

    from fitness.workload import workload_schema
    typer.echo(json.dumps(workload_schema(), indent=2))


@app.command()
def simulate(workload: WorkloadArg,
             option: Annotated[str, typer.Option("--option", help="Hosting option id, e.g. realtime.")],
             fmt: Annotated[SimFormat, typer.Option("--format", help="table or json.")] = SimFormat.table) -> None:
    """Simulate one hosting option and print its full metrics."""
    wl = load_workload(workload)
    with err.status(f"simulating {option}..."):
        run = api.simulate(wl, option)
    if fmt is SimFormat.json:
        typer.echo(to_json(run.summary))
        return
    _print_summary(run.summary)


def _print_summary(s: dict) -> None:
    """A rich table of one option's DESIGN §3 object."""
    out = Console()
    table = Table(title=f"{s['option']} ({'feasible' if s['feasible'] else 'infeasible'})", show_header=False)
    if not s["feasible"]:
        for r in s["reasons"]:
            table.add_row("reason", r)
    for key in ("requests", "latency_ms", "queue_wait_ms", "cold_starts", "cache", "instances", "cost_usd"):
        for k, v in (s.get(key) or {}).items():
            if isinstance(v, dict):
                v = ", ".join(f"{a}={b:,.4f}" for a, b in v.items())
            elif isinstance(v, float):
                v = f"{v:,.4f}"
            table.add_row(f"{key}.{k}", str(v))
    for k, v in s.get("config", {}).items():
        table.add_row(f"config.{k}", str(v))
    out.print(table)


@app.command()
def recommend(workload: WorkloadArg,
              fmt: Annotated[RecFormat, typer.Option("--format", help="md, html or json.")] = RecFormat.md,
              out: Annotated[Path | None, typer.Option("--out", help="Write the report here.")] = None) -> None:
    """Simulate every hosting option, rank them and write the recommendation report."""
    wl = load_workload(workload)
    with Progress(console=err, transient=True) as bar:
        task = bar.add_task("simulating", total=None)
        rec = api.recommend(wl, progress=lambda oid: bar.update(task, description=f"simulating {oid}"))
    text = {RecFormat.md: render_markdown, RecFormat.html: render_html,
            RecFormat.json: lambda r: to_json(r.to_dict())}[fmt](rec)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        err.print(f"wrote {out}")
    if fmt is not RecFormat.json:
        _print_ranking(rec)


TERMINAL_COLUMNS = ("rank", "option", "p99", "USD/month", "errors", "notes")
"""The columns of the terminal summary; the report has them all."""


def _print_ranking(rec) -> None:
    """Terminal summary table of the ranking: one line per option, the first reason cut to fit."""
    table = Table(title=f"{rec.workload}: recommended {rec.recommended or 'none'}")
    keep = [HEADERS.index(c) for c in TERMINAL_COLUMNS]
    for c in TERMINAL_COLUMNS:
        table.add_column(c, no_wrap=c != "notes", overflow="ellipsis", max_width=60 if c == "notes" else None)
    for row in option_rows(rec):
        cells = [row[i] for i in keep]
        cells[-1] = cells[-1].split("; ")[0]
        table.add_row(*cells)
    err.print(table)


@app.command()
def sweep(grid: Annotated[Path, typer.Argument(help="Sweep grid YAML file (workloads, options, parameters, "
                                               "seeds).", show_default=False)],
          out: Annotated[Path, typer.Option("--out", help="Folder for runs.parquet and summary.md.")] = Path(
              "sweep-out"),
          scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of a running Dask scheduler, "
                                                        "e.g. tcp://host:8786; default: a local cluster.")] = None,
          workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes of the local cluster; "
                                                      "default: one per core.")] = None) -> None:
    """Run workloads x options x parameter values x seeds on Dask: one Parquet row per run and a summary."""
    plan = load_grid(grid)
    runs = plan.runs()
    failed = []
    with Progress(console=err) as bar:
        task = bar.add_task(f"{len(runs)} runs", total=len(runs))

        def done(row: dict) -> None:
            failed.extend([row] if row.get("error") else [])
            bar.update(task, advance=1, description=f"{len(runs)} runs, {len(failed)} failed")

        rows = run_sweep(runs, scheduler, workers, progress=done)
    df = to_frame(rows, plan.parameters)
    try:
        out.mkdir(parents=True, exist_ok=True)
        df.to_parquet(out / "runs.parquet", index=False)
        (out / "summary.md").write_text(summary_markdown(df, plan.parameters, f"Sweep {grid.name}"), "utf-8")
    except OSError as e:
        raise UserError(f"{out}: cannot write the sweep results ({e}); expected --out DIR to be a writable "
                        "folder.") from e
    headers, cells = summary_rows(df, plan.parameters)
    table = Table(title=f"{grid.name}: cheapest qualifying option ({len(failed)} of {len(df)} runs failed)")
    for h in headers:
        table.add_column(h)
    for r in cells:
        table.add_row(*r)
    Console().print(table)
    err.print(f"wrote {out / 'runs.parquet'} and {out / 'summary.md'}")


def main() -> None:
    """Console entry point: user errors exit 2 with their paragraph and no traceback."""
    try:
        app(standalone_mode=False)
    except UserError as e:
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except (typer.Exit, SystemExit) as e:
        sys.exit(getattr(e, "exit_code", getattr(e, "code", 0)))
    except Exception as e:  # click usage errors and the like
        import click
        if isinstance(e, click.ClickException):
            e.show()
            sys.exit(2)
        if isinstance(e, click.exceptions.Abort):
            sys.exit(1)
        if os.environ.get("FITNESS_DEBUG"):
            raise
        err.print(f"internal error: {type(e).__name__}: {e} (set FITNESS_DEBUG=1 for the traceback; please "
                  "report it)", markup=False, highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
