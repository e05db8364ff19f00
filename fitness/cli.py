"""Command line: parse, call the library, render. Bad input exits 2 with one paragraph, no traceback.

Only typer, rich, the standard library and small stdlib-only fitness modules are imported here; each command
imports the library it calls inside its function (`# lazy`): the engine, the simulator and their pandas,
scipy, plotly and dask take seconds to import, which `--help`, `validate` and `schema` must not pay (issue 18).
"""

from __future__ import annotations

import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from fitness.errors import UserError
from fitness.escape import path_part
from fitness.outputs import check_new_file, check_tree, write_file, write_tree
from fitness.version import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Decision engine and cost/latency simulator for ML model hosting.")
err = Console(stderr=True)

WorkloadArg = Annotated[Path, typer.Argument(help="Workload YAML file (see DESIGN §3).", show_default=False)]

EXIT_INFEASIBLE = 3
"""`recommend`: no option meets the constraints (the report is still written)."""
EXIT_RUNS_FAILED = 4
"""`sweep`: at least one run failed (the results of the others are still written)."""


def _version(value: bool) -> None:
    if value:
        typer.echo(f"fitness {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="Print the version and exit.")] = False) -> None:
    """Decision engine and cost/latency simulator for ML model hosting. Exit codes: 0 done; 1 internal
    error; 2 bad input; 3 `recommend` found no feasible option; 4 `sweep` had failed runs; 130 interrupted."""


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
    from fitness.workload.checks import unit_warnings  # lazy
    from fitness.workload.scenario import build, quota_notes  # lazy
    from fitness.workload.spec import load_workload  # lazy
    wl = load_workload(workload)
    sc = build(wl)  # reads traces and CSVs too, so every file the workload names is checked
    typer.echo(f"{workload}: valid ({len(wl.expanded_models)} model(s), traffic {wl.traffic.pattern}, "
               f"{sc.n:,} requests over {sc.horizon_s / 3600:.2f} h).")
    for note in quota_notes(wl, sc):
        typer.echo(f"quota: {note}; that option will be ruled out.")
    for note in unit_warnings(wl, sc.catalog):
        typer.echo(f"warning: {note}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of workload files (for editor completion and CI checks)."""
    from fitness.workload.schema_file import schema_text, shipped_schema  # lazy
    typer.echo(schema_text(shipped_schema()), nl=False)


@app.command()
def simulate(workload: WorkloadArg,
             option: Annotated[str, typer.Option("--option", help="Hosting option id, e.g. realtime.")],
             fmt: Annotated[SimFormat, typer.Option("--format", help="table or json.")] = SimFormat.table) -> None:
    """Simulate one hosting option and print its full metrics."""
    from fitness.engine.run import simulate as simulate_option  # lazy
    from fitness.report.adr import to_json  # lazy
    from fitness.report.terminal import summary_table  # lazy
    from fitness.workload.spec import load_workload  # lazy
    wl = load_workload(workload)
    with err.status(f"simulating {option}..."):
        run = simulate_option(wl, option)
    if fmt is SimFormat.json:
        typer.echo(to_json({**run.summary.to_json(), "fitness_version": __version__}))
        return
    Console().print(summary_table(run.summary.to_json()))


@app.command()
def recommend(workload: WorkloadArg,
              fmt: Annotated[RecFormat | None, typer.Option("--format", help="md, html or json (default: md, or "
                                                            "the --out file's suffix).")] = None,
              out: Annotated[Path | None, typer.Option("--out", help="Write the report here (a new file).")] = None,
              force: Annotated[bool, typer.Option("--force", help="Replace an existing --out file.")] = False,
              allow_infeasible: Annotated[bool, typer.Option("--allow-infeasible", help="Exit 0 even when no "
                                                             "option meets the constraints.")] = False) -> None:
    """Simulate every hosting option, rank them and write the recommendation report.

    On a terminal without --out or --format: the short answer and the ranking. Otherwise the report goes to
    --out, or to standard output, and the answer to standard error. Exits 3 when no option is feasible.
    """
    from fitness.engine.recommend import recommend as recommend_workload  # lazy
    from fitness.report.adr import render_html, render_markdown, to_json  # lazy
    from fitness.report.terminal import answer, progress_lines, ranking_table  # lazy
    from fitness.workload.spec import load_workload  # lazy
    wl = load_workload(workload)
    if out is not None:
        check_new_file(out, [workload], force)  # refused before minutes of simulation, not after
    kind = fmt or {".html": RecFormat.html, ".json": RecFormat.json}.get((out or Path()).suffix, RecFormat.md)
    with progress_lines(err, "simulating") as step:
        rec = recommend_workload(wl, progress=step)
    report_to_stdout = out is None and (fmt is not None or not sys.stdout.isatty())
    if out is not None or report_to_stdout:
        text = {RecFormat.md: render_markdown, RecFormat.html: render_html,
                RecFormat.json: lambda r: to_json({**r.to_dict(), "fitness_version": __version__})}[kind](rec)
        if out is None:
            typer.echo(text, nl=False)
        else:
            write_file(out, text)
            err.print(Text(f"wrote {out}"))
    show = err if report_to_stdout else Console()
    show.print(Text(answer(rec)))
    if not (report_to_stdout and kind is RecFormat.json):
        show.print(ranking_table(rec))
    if out is None and not report_to_stdout:
        show.print(Text("The full report: --out FILE.md|.html|.json, or --format md|html|json to print it."))
    if rec.recommended is None and not allow_infeasible:
        raise typer.Exit(EXIT_INFEASIBLE)


@app.command()
def sweep(grid: Annotated[Path, typer.Argument(help="Sweep grid YAML file (workloads, options, parameters, "
                                               "seeds).", show_default=False)],
          out: Annotated[Path, typer.Option("--out", help="Folder for runs.parquet and summary.md.")] = Path(
              "sweep-out"),
          scheduler: Annotated[str | None, typer.Option("--scheduler", help="Address of a running Dask scheduler, "
                                                        "e.g. tcp://host:8786; default: a local cluster.")] = None,
          workers: Annotated[int | None, typer.Option("--workers", min=1, help="Processes of the local cluster; "
                                                      "default: one per core.")] = None,
          allow_failures: Annotated[bool, typer.Option("--allow-failures", help="Exit 0 even when runs "
                                                       "failed.")] = False,
          force: Annotated[bool, typer.Option("--force", help="Replace an earlier sweep's files in --out.")] = False,
          ) -> None:
    """Run workloads x options x parameter values x seeds on Dask: one Parquet row per run and a summary.
    Exits 4 when a run failed (its row says why), after writing every result."""
    from fitness.report.terminal import progress_lines  # lazy
    from fitness.sweep import load_grid, run_sweep, summary_markdown, summary_rows, to_frame  # lazy
    _sweep_folder(out, force, [grid])  # refused before the runs, not after
    plan = load_grid(grid)
    runs = plan.runs()
    failed, finished = [], []
    with progress_lines(err, "sweep:") as step:

        every = max(1, len(runs) // 20)  # about 20 lines in a CI log, not one per run of a 80,000-run grid

        def done(row: dict) -> None:
            failed.extend([row] if row.get("error") else [])
            finished.append(row)
            if len(finished) % every == 0 or len(finished) == len(runs):
                step(f"{len(finished)} of {len(runs)} runs done, {len(failed)} failed")

        rows = run_sweep(runs, scheduler, workers, progress=done)
    df = to_frame(rows, plan.parameters)
    write_tree(out, {"runs.parquet": df.assign(fitness_version=__version__).to_parquet(index=False),
                     "summary.md": summary_markdown(df, plan.parameters, f"Sweep {grid.name}")})
    headers, cells = summary_rows(df, plan.parameters)
    table = Table(title=f"{grid.name}: cheapest qualifying option ({len(failed)} of {len(df)} runs failed)")
    for h in headers:
        table.add_column(h)
    for r in cells:
        table.add_row(*r)
    Console().print(table)
    err.print(f"wrote {out / 'runs.parquet'} and {out / 'summary.md'}")
    if failed and not allow_failures:
        raise typer.Exit(EXIT_RUNS_FAILED)


def _sweep_folder(out: Path, force: bool, inputs: list[Path]) -> None:
    """Refuse an --out that is a file, or that holds an earlier sweep's results without --force."""
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: --out: expected a folder for runs.parquet and summary.md; {out} is a file.")
    there = check_tree(out, ["runs.parquet", "summary.md"], inputs)
    if there and not force:
        raise UserError(f"{out}: --out: the folder holds {' and '.join(there)} of an earlier sweep; expected a new "
                        "folder, or --force to replace them.")


@app.command("diff")
def diff_cmd(old: Annotated[Path, typer.Argument(help="The earlier `recommend --format json` result.",
                                                 show_default=False)],
             new: Annotated[Path, typer.Argument(help="The later result.", show_default=False)]) -> None:
    """Show what changed between two recommendations (Markdown, for pull-request review)."""
    from fitness.diff import diff as diff_results  # lazy
    from fitness.diff import load_result  # lazy
    from fitness.diff import render_markdown as render_diff  # lazy
    typer.echo(render_diff(diff_results(load_result(old), load_result(new), str(old), str(new))), nl=False)


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
    from fitness.calibration.calibrate import Inputs, calibrate  # lazy: loads scipy, slow to import
    out = out or workload.with_name(f"{workload.stem}.calibrated{workload.suffix or '.yaml'}")
    check_new_file(out, [workload, *measurements, cold_starts, overhead], force)
    inputs = Inputs(tuple(measurements), column=column, unit=unit and unit.value, where=where, family=family.value,
                    stat=stat, cold_column=cold_column, cold_starts=cold_starts,
                    cold_unit=cold_unit and cold_unit.value, overhead=overhead)
    result = calibrate(workload, model, inputs, out)
    write_file(out, result.text)
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
    from fitness.calibration.cloudwatch import count_trace, read_export  # lazy
    out = out or export.with_name(f"{export.stem}.trace.csv")
    check_new_file(out, [export], force)
    trace = count_trace(read_export(export, "EXPORT", column), "EXPORT")
    write_file(out, trace.to_csv())
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
    from fitness.engine.recommend import recommend as recommend_workload  # lazy
    from fitness.export import build as ex  # lazy
    from fitness.report.terminal import export_lines  # lazy
    from fitness.workload.spec import load_workload  # lazy
    wl = load_workload(workload)
    if option is not None:
        ex.check_option(option)
    inputs = [workload, from_json, *wl.input_files]
    if out is not None and (there := check_tree(out, ex.fixed_files(out), inputs)) and not force:
        _refuse(out, there)
    if from_json is not None:
        result, source = ex.read_result(from_json), str(from_json)
    else:
        with err.status(f"right-sizing {option}..." if option else "recommending..."):
            result = ex.sized_result(wl, option) if option else recommend_workload(wl).to_dict()
        source = str(workload)
    dep = ex.export(wl, result, option, source)
    folder = out or Path(f"{path_part(dep.workload)}-{dep.option}-export")
    files = dep.files()
    if (there := check_tree(folder, list(files), inputs)) and not force:
        _refuse(folder, there)
    write_tree(folder, files)
    export_lines(Console(), err, dep, folder, list(files), ex.stale_calls(folder, list(files)))


def _refuse(folder: Path, there: list[str]) -> None:
    """Stop before overwriting anything: the files are the user's until --force says otherwise."""
    shown = ", ".join(there[:3]) + (f" and {len(there) - 3} more" if len(there) > 3 else "")
    raise UserError(f"--out {folder}: {shown} already exist(s); expected a new or empty folder, or --force to "
                    "overwrite. Nothing was written.")


def _is_click(e: Exception, name: str) -> bool:
    """Whether `e` is click's exception `name`: typer >= 0.24 raises its vendored copy (`typer._click`),
    which is not a subclass of the installed click's."""
    return any(cls.__name__ == name and cls.__module__.endswith("click.exceptions") for cls in type(e).__mro__)


def main() -> None:
    """Console entry point: user errors exit 2 with their paragraph and no traceback."""
    try:
        code = app(standalone_mode=False)  # click returns a command's typer.Exit code instead of raising it
    except UserError as e:
        err.print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("interrupted", highlight=False)
        sys.exit(130)
    except (typer.Exit, SystemExit) as e:
        sys.exit(getattr(e, "exit_code", getattr(e, "code", 0)))
    except Exception as e:  # click usage errors and the like
        if _is_click(e, "ClickException"):
            e.show()
            sys.exit(2)
        if _is_click(e, "Abort"):  # click's form of Ctrl-C
            err.print("interrupted", highlight=False)
            sys.exit(130 if isinstance(e.__context__, KeyboardInterrupt) else 1)
        if os.environ.get("FITNESS_DEBUG"):
            raise
        err.print(f"internal error: {type(e).__name__}: {e} (set FITNESS_DEBUG=1 for the traceback; please "
                  "report it)", markup=False, highlight=False)
        sys.exit(1)
    if code == 130:  # typer's exit code for Ctrl-C
        err.print("interrupted", highlight=False)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
