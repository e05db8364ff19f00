"""Command line: parse, call the library, render. Bad input exits 2 with one paragraph, no traceback."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from fitness.calibration.cloudwatch import count_trace, read_export
from fitness.engine.recommend import recommend as recommend_workload
from fitness.engine.run import simulate as simulate_option
from fitness.errors import UserError
from fitness.export import build as ex
from fitness.report.adr import HEADERS, option_rows, render_html, render_markdown, to_json
from fitness.sweep import load_grid, run_sweep, summary_markdown, summary_rows, to_frame
from fitness.workload.scenario import build, quota_notes
from fitness.workload.spec import load_workload, workload_schema

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
    sc = build(wl)  # reads traces and CSVs too, so every file the workload names is checked
    typer.echo(f"{workload}: valid ({len(wl.expanded_models)} model(s), traffic {wl.traffic.pattern}, "
               f"{sc.n:,} requests over {sc.horizon_s / 3600:.2f} h).")
    for note in quota_notes(wl, sc):
        typer.echo(f"quota: {note}; that option will be ruled out.")


@app.command()
def schema() -> None:
    """Print the JSON Schema of workload files (for editor completion and CI checks)."""
    typer.echo(json.dumps(workload_schema(), indent=2))


@app.command()
def simulate(workload: WorkloadArg,
             option: Annotated[str, typer.Option("--option", help="Hosting option id, e.g. realtime.")],
             fmt: Annotated[SimFormat, typer.Option("--format", help="table or json.")] = SimFormat.table) -> None:
    """Simulate one hosting option and print its full metrics."""
    wl = load_workload(workload)
    with err.status(f"simulating {option}..."):
        run = simulate_option(wl, option)
    if fmt is SimFormat.json:
        typer.echo(to_json(run.summary.to_json()))
        return
    _print_summary(run.summary.to_json())


def _print_summary(s: dict) -> None:
    """A rich table of one option's DESIGN §3 object (its JSON form, `Summary.to_json()`)."""
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
        rec = recommend_workload(wl, progress=lambda oid: bar.update(task, description=f"simulating {oid}"))
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


class TimeUnit(StrEnum):
    """Units of measured latencies."""

    ms = "ms"
    us = "us"
    s = "s"


class Family(StrEnum):
    """Service-time families `calibrate` can fit (auto: the lowest BIC)."""

    auto = "auto"
    constant = "constant"
    exponential = "exponential"
    lognormal = "lognormal"
    gamma = "gamma"
    empirical = "empirical"


def _new_file(out: Path, inputs: list[Path | None], force: bool) -> None:
    """Refuse to write over an input file (even with --force) or over an existing file without --force."""
    for src in (p for p in inputs if p is not None):
        if out.resolve() == src.resolve():
            raise UserError(f"{out}: --out: expected a new file; {out} is one of the inputs, which are never "
                            "overwritten. Choose another --out.")
    if out.exists() and not force:
        raise UserError(f"{out}: --out: the file exists; expected a new path, or --force to replace it.")


def _write(out: Path, text: str) -> None:
    """Write `text`, turning OS errors into a user error."""
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"{out}: --out: cannot write the file ({e}); expected a writable path.") from e


Opt = typer.Option


@app.command("calibrate")
def calibrate_cmd(
        measurements: Annotated[list[Path], typer.Argument(help="A per-request latency CSV, or CloudWatch exports "
                                                           "of ModelLatency (get-metric-statistics JSON, get-metric-"
                                                           "data JSON, or CSV; Statistics and ExtendedStatistics "
                                                           "files are merged).", show_default=False)],
        workload: Annotated[Path, Opt("--workload", help="Workload YAML to calibrate (never changed).")],
        model: Annotated[str, Opt("--model", help="Name of the model entry whose service time is measured.")],
        out: Annotated[Path | None, Opt(help="New workload file; default WORKLOAD.calibrated.yaml.")] = None,
        force: Annotated[bool, Opt(help="Replace --out if it exists (never an input file).")] = False,
        column: Annotated[str | None, Opt(help="Latency column (default: latency_ms, duration, "
                                               "ModelLatency, ... by name).")] = None,
        unit: Annotated[TimeUnit | None, Opt(help="Unit of the latencies (default: from the column name or "
                                                  "the export; else ms).")] = None,
        where: Annotated[str | None, Opt(help="Keep rows with COLUMN=VALUE (one model of a mixed log).")] = None,
        family: Annotated[Family, Opt(help="Family to fit (per-request data).")] = Family.auto,
        stat: Annotated[str | None, Opt(help="Statistic of a one-value-column CloudWatch CSV (Average, "
                                              "p99...).")] = None,
        cold_column: Annotated[str | None, Opt(help="Boolean column flagging cold starts (default: cold, "
                                                    "is_cold, cold_start).")] = None,
        cold_starts: Annotated[Path | None, Opt(help="File of cold-start durations (CSV, or a ModelSetupTime "
                                                     "export).")] = None,
        cold_unit: Annotated[TimeUnit | None, Opt(help="Unit of --cold-starts.")] = None,
        overhead: Annotated[Path | None, Opt(help="OverheadLatency export or CSV (unit from the export or "
                                                  "column name), reported against the catalog, not written.")] = None
) -> None:
    """Fit a model's service time (and cold start) from measurements into a NEW workload file."""
    from fitness.calibration.calibrate import Inputs, calibrate  # loads scipy, slow to import: only when asked

    out = out or workload.with_name(f"{workload.stem}.calibrated{workload.suffix or '.yaml'}")
    _new_file(out, [workload, *measurements, cold_starts, overhead], force)
    inputs = Inputs(tuple(measurements), column=column, unit=unit and unit.value, where=where, family=family.value,
                    stat=stat, cold_column=cold_column, cold_starts=cold_starts,
                    cold_unit=cold_unit and cold_unit.value, overhead=overhead)
    result = calibrate(workload, model, inputs, out)
    _write(out, result.text)
    console = Console()
    for fit in result.fits:
        console.print(fit.line(), markup=False, highlight=False, soft_wrap=True)
    for note in result.notes:
        console.print(note, markup=False, highlight=False, soft_wrap=True)
    kept = "comments kept" if result.comments_kept else "comments of the input NOT kept (PyYAML re-wrote it)"
    err.print(f"wrote {out}: models[{result.index}] ({result.model}) {', '.join(result.updates)}; {kept}",
              markup=False, highlight=False, soft_wrap=True)


@app.command("import-trace")
def import_trace(
        export: Annotated[Path, typer.Argument(help="CloudWatch export of Invocations per minute (Sum): "
                                               "get-metric-statistics JSON, get-metric-data JSON, or CSV.",
                                               show_default=False)],
        out: Annotated[Path | None, Opt(help="Trace CSV to write; default EXPORT.trace.csv.")] = None,
        force: Annotated[bool, Opt(help="Replace --out if it exists (never the export).")] = False,
        column: Annotated[str | None, Opt(help="Metric column of a CSV, or Id/Label of a get-metric-data "
                                               "result.")] = None) -> None:
    """Turn a CloudWatch Invocations export into a per-minute count trace that `traffic: trace` replays."""

    out = out or export.with_name(f"{export.stem}.trace.csv")
    _new_file(out, [export], force)
    trace = count_trace(read_export(export, "EXPORT", column), "EXPORT")
    _write(out, trace.to_csv())
    first, last = trace.frame["timestamp"].iloc[[0, -1]]
    per = trace.period_s
    Console().print(f"{export}: {len(trace.frame):,} periods of {per:g} s ({trace.filled:,} without a datapoint, "
                    f"written as 0) from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M} UTC; {trace.total:,} "
                    f"requests ({trace.statistic}); mean {trace.mean_rps:,.3f} req/s ({trace.mean_rps * 60:,.1f}/min), "
                    f"peak {trace.peak_rps:,.3f} req/s ({trace.peak_rps * 60:,.0f}/min)", markup=False,
                    highlight=False, soft_wrap=True)
    err.print(f"wrote {out}; use it with  traffic: {{pattern: trace, trace: {out.name}}}  (paths are relative to "
              "the workload file)", markup=False, highlight=False, soft_wrap=True)


@app.command("export")
def export_cmd(workload: WorkloadArg,
               option: Annotated[str | None, typer.Option("--option", help="Option id to export; default: the "
                                                          "recommended one.")] = None,
               out: Annotated[Path | None, typer.Option("--out", help="Folder to write into; default: "
                                                        "<workload>-<option>-export.")] = None,
               from_json: Annotated[Path | None, typer.Option("--from-json", help="A `fitness recommend --format "
                                                              "json` result of this workload: export it without "
                                                              "simulating again.")] = None,
               force: Annotated[bool, typer.Option("--force", help="Overwrite files already there.")] = False) -> None:
    """Write the deployable configuration of one option: boto3 request bodies, CloudFormation and TODO.md."""

    wl = load_workload(workload)
    if option is not None:
        ex.check_option(option)
    if out is not None and (there := ex.existing_files(out)) and not force:
        _refuse(out, there)
    if from_json is not None:
        result, source = ex.read_result(from_json), str(from_json)
    else:
        with err.status(f"right-sizing {option}..." if option else "recommending..."):
            result = ex.sized_result(wl, option) if option else recommend_workload(wl).to_dict()
        source = str(workload)
    dep = ex.export(wl, result, option, source)
    folder = out or Path(f"{dep.workload}-{dep.option}-export")
    files = dep.files()
    if (there := ex.existing_files(folder, list(files))) and not force:
        _refuse(folder, there)
    try:
        for rel, text in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text, encoding="utf-8")
    except OSError as e:
        raise UserError(f"--out {folder}: cannot write the export ({e}); expected a writable folder.") from e
    _print_export(dep, folder, list(files), ex.stale_calls(folder, list(files)))


def _refuse(folder: Path, there: list[str]) -> None:
    """Stop before overwriting anything: the files are the user's until --force says otherwise."""
    shown = ", ".join(there[:3]) + (f" and {len(there) - 3} more" if len(there) > 3 else "")
    raise UserError(f"--out {folder}: {shown} already exist(s); expected a new or empty folder, or --force to "
                    "overwrite. Nothing was written.")


def _print_export(dep, folder: Path, written: list[str], stale: list[str]) -> None:
    """What was written, what the user must fill in, and files left from an earlier export."""
    out = Console()
    out.print(f"exported {dep.option} for {dep.workload}: wrote {len(written)} files to {folder}/", highlight=False)
    for rel in written[:20]:
        out.print(f"  {rel}", highlight=False, markup=False)
    if len(written) > 20:
        out.print(f"  ... and {len(written) - 20} more", highlight=False)
    out.print("TODO: fill in (see TODO.md):", highlight=False)
    for p in dep.placeholders:
        out.print(f"  {p.token}: {p.what}", highlight=False, markup=False, soft_wrap=True)
    if stale:
        err.print(f"warning: {folder}/boto3 also holds {len(stale)} file(s) this export did not write "
                  f"({', '.join(stale[:3])}...): remove them before running the boto3 script, which runs every "
                  "file there.", highlight=False, markup=False)


def _is_click(e: Exception, name: str) -> bool:
    """Whether `e` is click's exception `name`: typer >= 0.24 raises its vendored copy (`typer._click`),
    which is not a subclass of the installed click's."""
    return any(cls.__name__ == name and cls.__module__.endswith("click.exceptions") for cls in type(e).__mro__)


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
        if _is_click(e, "ClickException"):
            e.show()
            sys.exit(2)
        if _is_click(e, "Abort"):
            sys.exit(1)
        if os.environ.get("FITNESS_DEBUG"):
            raise
        err.print(f"internal error: {type(e).__name__}: {e} (set FITNESS_DEBUG=1 for the traceback; please "
                  "report it)", markup=False, highlight=False)
        sys.exit(1)


if __name__ == "__main__":
    main()
