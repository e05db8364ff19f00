"""Sweeps (DESIGN §7): workloads x options x parameter values x seeds, run on Dask.

`load_grid(path)` reads and validates a grid file and returns its `Plan`; `Plan.runs()` lists every run as
plain data (workload text, option id, parameter values, seed); `run_sweep(runs)` runs them on a LocalCluster
sized to the machine, or on an existing scheduler, and returns one row per run; `to_frame` sorts the rows into
a DataFrame; `best_options` and `summary_markdown` say which option is cheapest for each combination.

A run is a pure function of its plain data and its seed, so its numbers are those of `fitness simulate` on the
same scenario, whichever worker runs it. Nothing here prints or writes files (the CLI does that).
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from fitness.engine.constraints import constraint_reasons
from fitness.engine.run import simulate
from fitness.errors import UserError, from_input_error
from fitness.workload.spec import Workload, parse_workload
from fitness.workload.validation import describe_validation_error, field_path
from fitness.workload.yamlio import TooLarge, read_yaml_mapping, strict_yaml
from sim.errors import InputError
from sim.options import load_all, option_def
from sim.summary import Summary

METRICS = {"requests": ("offered", "served", "throttled", "failed"),
           "latency_ms": ("mean", "p50", "p95", "p99", "max"),
           "queue_wait_ms": ("mean", "p50", "p95", "p99"),
           "cold_starts": ("count", "fraction"),
           "cache": ("hit_ratio",),
           "instances": ("mean", "max"),
           "cost_usd": ("total", "monthly", "per_million")}
"""The DESIGN §3 summary keys kept in a row, as `group.key` columns."""

RESULT_COLUMNS = ("feasible", "reasons", "violations", "meets_constraints",
                  *(f"{g}.{k}" for g, keys in METRICS.items() for k in keys), "utilization", "config",
                  "error", "elapsed_s")
"""Columns after workload, option, the parameters and seed; `elapsed_s` is wall time, the only unseeded one."""

MAX_RUNS = 100_000
"""Most runs one sweep may hold (workloads x options x parameter combinations x seeds): our limit. At a
few seconds a run on a laptop's cores that is days of work; larger grids are better split or sampled."""

_INTEGER = ("seed", "requests.offered", "requests.served", "requests.throttled", "requests.failed",
            "cold_starts.count")
_PATH = re.compile(r"[A-Za-z_][\w-]*(\[\d+\])*(\.[A-Za-z_][\w-]*(\[\d+\])*)*")
_SEGMENT = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


class Grid(BaseModel):
    """A sweep grid file: every combination of workload, option, parameter values and seed is one run.

    `parameters` maps a dotted workload path (`traffic.rate_rps`, `options.realtime.instance_count`,
    `models[0].service_time.p50_ms`) to the values it takes; `options` defaults to every registered option
    and `seeds` to each workload's own seed.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    workloads: tuple[str, ...] = Field(min_length=1)
    options: tuple[str, ...] | None = Field(default=None, min_length=1)
    parameters: dict[str, tuple[Any, ...]] = Field(default_factory=dict)
    seeds: tuple[int, ...] | None = Field(default=None, min_length=1)


@dataclass(frozen=True)
class Plan:
    """A validated grid with the text of each workload, read once by the client and shipped to workers."""

    grid: Grid
    source: str
    texts: dict[str, str]

    @property
    def parameters(self) -> tuple[str, ...]:
        """The swept workload paths, in grid order (one column each)."""
        return tuple(self.grid.parameters)

    def runs(self) -> list[dict]:
        """Every run as plain data: workload label, its text and file, option, parameter values, seed."""
        options = self.grid.options or tuple(load_all())
        combos = list(itertools.product(*self.grid.parameters.values()))
        base = Path(self.source).resolve().parent
        return [{"workload": label, "source": str(base / label), "text": self.texts[label], "option": oid,
                 "params": dict(zip(self.parameters, combo, strict=True)), "seed": seed}
                for label in self.grid.workloads for oid in options for combo in combos
                for seed in self.grid.seeds or (None,)]


def _segments(path: str) -> list[str | int]:
    """`models[0].service_time` -> ['models', 0, 'service_time']."""
    return [int(i) if i else key for key, i in _SEGMENT.findall(path)]


def _join(keys: list[str | int]) -> str:
    """['models', 0, 'service_time'] -> `models[0].service_time`."""
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in keys).lstrip(".") or "the top level"


def set_path(data: dict, path: str, value: Any) -> None:
    """Set `value` at a dotted path of a raw workload mapping, creating missing mappings (`options.realtime`)."""
    node: Any = data
    keys = _segments(path)
    for depth, key in enumerate(keys):
        parent = _join(keys[:depth])
        if isinstance(key, int) and not (isinstance(node, list) and key < len(node)):
            raise InputError(path, "a path to an existing list item", hint=f"'{parent}' has no item {key}")
        if isinstance(key, str) and not isinstance(node, dict):
            raise InputError(path, "a path through mappings", hint=f"'{parent}' is not a mapping")
        if depth == len(keys) - 1:
            node[key] = copy.deepcopy(value)
        else:
            if isinstance(key, str) and node.get(key) is None:
                node[key] = {}
            node = node[key]


def _read_grid(path: Path) -> Grid:
    """Parse and validate the grid file's structure."""
    data = read_yaml_mapping(path, "sweep grid file", "`workloads` and optionally `options`, `parameters`, `seeds`")
    try:
        return Grid(**data)
    except ValidationError as e:
        text = describe_validation_error(e, str(path)).replace("invalid workload:", "invalid sweep grid:", 1)
        raise UserError(text) from e


def _check_options(grid: Grid) -> None:
    """Option ids must be registered."""
    for i, oid in enumerate(grid.options or ()):
        option_def(oid, f"options[{i}]")
    for name, values in (("options", grid.options), ("seeds", grid.seeds)):
        if values and len(set(values)) < len(values):
            raise InputError(name, "distinct values (a repeated one would only repeat runs)", list(values))


def _check_runs(grid: Grid) -> None:
    """The number of runs, counted before any is listed, must be at most `MAX_RUNS`."""
    options, seeds = len(grid.options or load_all()), len(grid.seeds or (None,))
    n = len(grid.workloads) * options * seeds
    for values in grid.parameters.values():
        n *= max(1, len(values))
    if n > MAX_RUNS:
        sizes = " x ".join(f"{len(v)} {k}" for k, v in grid.parameters.items())
        raise InputError("parameters", f"at most {MAX_RUNS:,} runs in one sweep (our limit)",
                         got=f"{n:,} runs", hint=f"the grid crosses {len(grid.workloads)} workloads, {options} "
                         f"options, {seeds} seeds and {sizes or 'no parameters'}; split it into several sweeps "
                         "or sample fewer values")


def _check_parameter(name: str, values: tuple) -> None:
    """A parameter is a dotted workload path (not `seed`) with distinct values; options name real fields."""
    field = f"parameters.{name}"
    if not _PATH.fullmatch(name):
        raise InputError(field, "a dotted workload path like traffic.rate_rps or models[0].memory_mb", name)
    if name in ("seed", "workload", "option") or name in RESULT_COLUMNS:
        raise InputError(field, "a workload path other than seed", name, hint="sweep seeds with `seeds`")
    if not values:
        raise InputError(field, "a non-empty list of values")
    if len({json.dumps(v, sort_keys=True, default=str) for v in values}) < len(values):
        raise InputError(field, "distinct values (a repeated one would only repeat runs)", list(values))
    keys = _segments(name)
    if keys[0] == "options" and len(keys) > 1:
        registry = load_all()
        if keys[1] not in registry:
            raise InputError(field, f"options.<id> with an id among {', '.join(registry)}", keys[1])
        fields = registry[keys[1]].config_model.model_fields
        if len(keys) > 2 and keys[2] not in fields:
            raise InputError(field, f"a setting of {keys[1]} ({', '.join(fields)})", keys[2])


def _check_paths(grid: Grid, label: str, text: str) -> None:
    """Each parameter path must lead to a workload field: apply the first values and ask the workload model.

    Only "no such field" errors are the grid's fault; a bad value is reported by the runs that use it.
    """
    try:
        data = strict_yaml(text)
    except TooLarge as e:  # every run would expand it again: refuse once, before any run
        raise InputError("workloads", "workload files whose aliases (*name) are each used a few times", label,
                         hint=f"it holds {e}") from e
    except yaml.YAMLError:
        return  # the runs of this workload report it
    if not isinstance(data, dict):
        return
    for name, values in grid.parameters.items():
        try:
            set_path(data, name, values[0])
        except InputError as e:
            raise InputError(f"parameters.{name}", e.expected, name, hint=f"in {label}, {e.hint}") from e
    try:
        Workload(**data)
    except ValidationError as e:
        unknown = [field_path(tuple(err["loc"])) for err in e.errors() if err["type"] == "extra_forbidden"]
        for name in grid.parameters:
            for where in unknown:
                if name == where or name.startswith((where + ".", where + "[")):
                    raise InputError(f"parameters.{name}", "a field of the workload (DESIGN §3)", name,
                                     hint=f"the workload {label} has no field '{where}'") from e


def load_grid(path: str | Path) -> Plan:
    """Read and validate a grid file and the workloads it names (relative to the grid file)."""
    path = Path(path)
    grid = _read_grid(path)
    texts: dict[str, str] = {}
    try:
        _check_options(grid)
        _check_runs(grid)
        for name, values in grid.parameters.items():
            _check_parameter(name, values)
        for i, label in enumerate(grid.workloads):
            if label in texts:
                raise InputError(f"workloads[{i}]", "distinct workload files", label)
            try:
                texts[label] = (path.parent / label).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                why = "the file does not exist" if isinstance(e, FileNotFoundError) else f"it cannot be read ({e})"
                raise InputError(f"workloads[{i}]", "a readable workload YAML file, relative to the grid file",
                                 label, hint=why) from e
            _check_paths(grid, label, texts[label])
    except InputError as e:
        raise from_input_error(e, str(path)) from e
    return Plan(grid, str(path), texts)


def flatten(summary: Summary) -> dict:
    """A DESIGN §3 summary as one flat row: `group.key` columns, reasons joined, the config as JSON."""
    row = {"feasible": summary.feasible, "reasons": "; ".join(summary.reasons),
           "config": json.dumps(summary.config.to_json(), sort_keys=True, default=str)}
    for group, keys in METRICS.items():
        part = getattr(summary, group)
        row.update({f"{group}.{k}": getattr(part, k) if part is not None else None for k in keys})
    row["utilization"] = summary.utilization
    return row


def scenario(run: dict) -> Workload:
    """The validated workload of one run: its text with the parameter values applied and the seed set."""
    data = strict_yaml(run["text"])
    if not isinstance(data, dict):
        raise UserError(f"{run['source']}: expected a YAML mapping with at least `models` and `traffic`.")
    try:
        for name, value in run["params"].items():
            set_path(data, name, value)
    except InputError as e:
        raise from_input_error(e, run["source"]) from e
    if run["seed"] is not None:
        data["seed"] = run["seed"]
    return parse_workload(data, run["source"])


def _key_row(run: dict) -> dict:
    """The identifying columns of a run's row."""
    return {"workload": run["workload"], "option": run["option"], **run["params"], "seed": run["seed"]}


def run_one(run: dict) -> dict:
    """Simulate one run (plain data in, one flat row out); any exception becomes the row's `error`."""
    start = time.perf_counter()
    row = _key_row(run)
    try:
        wl = scenario(run)
        summary = simulate(wl, run["option"]).summary
        row.update(flatten(summary), seed=wl.seed)
        violations = constraint_reasons(wl, summary) if summary.feasible else []
        row.update(violations="; ".join(violations), meets_constraints=summary.feasible and not violations)
    except Exception as e:  # noqa: BLE001 - one failed scenario must not stop the sweep
        row["error"] = f"{type(e).__name__}: {e}"
    row["elapsed_s"] = time.perf_counter() - start
    return row


@contextlib.contextmanager
def _client(scheduler: str | None, workers: int | None) -> Iterator[Any]:
    """A Dask client on the given scheduler, or on a LocalCluster of one single-threaded process per core."""
    from dask.distributed import Client, LocalCluster  # dask starts slowly: loaded only when a sweep runs

    if scheduler:
        try:
            client = Client(scheduler)
        except (OSError, TimeoutError, ValueError) as e:
            raise UserError(f"cannot reach the Dask scheduler at '{scheduler}' ({type(e).__name__}: {e}); "
                            "expected --scheduler ADDRESS like tcp://host:8786 of a running scheduler.") from e
        with client:
            yield client
        return
    # processes, not threads: the simulator is pure Python and holds the GIL; no dashboard, loopback only
    with LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                      host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR) as cluster, \
            Client(cluster) as client:
        yield client


def run_sweep(runs: list[dict], scheduler: str | None = None, workers: int | None = None,
              progress: Callable[[dict], None] | None = None) -> list[dict]:
    """Run every run as one Dask task and return the rows in completion order, calling `progress(row)` per row."""
    from dask.distributed import as_completed  # as above: only when a sweep runs

    rows = []
    with _client(scheduler, workers) as client:
        futures = client.map(run_one, runs, pure=False)
        owner = {f.key: run for f, run in zip(futures, runs, strict=True)}
        for future in as_completed(futures):
            try:
                row = future.result()
            except Exception as e:  # noqa: BLE001 - a lost worker fails its task, not the sweep
                row = _key_row(owner[future.key]) | {"error": f"{type(e).__name__}: {e}"}
            rows.append(row)
            if progress:
                progress(row)
    return rows


def _cells(values: pd.Series) -> pd.Series:
    """A parameter column Parquet can store: plain scalars of one kind as they are, anything else as JSON."""
    kinds = {"num" if isinstance(v, int | float) and not isinstance(v, bool) else type(v).__name__
             for v in values if v is not None}
    if len(kinds) <= 1 and kinds <= {"num", "str", "bool"}:
        return values
    return values.map(lambda v: json.dumps(v, sort_keys=True, default=str))


def to_frame(rows: list[dict], parameters: tuple[str, ...]) -> pd.DataFrame:
    """Rows as a DataFrame in a fixed column order, sorted by workload, option, parameters and seed."""
    columns = ["workload", "option", *parameters, "seed", *RESULT_COLUMNS]
    df = pd.DataFrame(rows, columns=columns)
    for name in parameters:
        df[name] = _cells(df[name])
    floats = [c for c in RESULT_COLUMNS if c.split(".")[0] in METRICS and c not in _INTEGER]
    df = df.astype({c: "Int64" for c in _INTEGER} | {c: "float64" for c in [*floats, "utilization", "elapsed_s"]}
                   | {"feasible": "boolean", "meets_constraints": "boolean"})
    return df.sort_values(["workload", "option", *parameters, "seed"], kind="stable",
                          na_position="last").reset_index(drop=True)


def best_options(df: pd.DataFrame, parameters: tuple[str, ...]) -> pd.DataFrame:
    """Per workload x parameter combination: the cheapest option that meets the constraints in every seed.

    Its monthly cost and p99 are means over the seeds; `option` is None when no option qualifies.
    """
    keys = ["workload", *parameters]
    per_option = df.assign(ok=df["meets_constraints"].fillna(False).astype(bool)).groupby(
        [*keys, "option"], dropna=False, sort=True).agg(
        ok=("ok", "all"), monthly=("cost_usd.monthly", "mean"), p99=("latency_ms.p99", "mean"),
        seeds=("option", "size")).reset_index()
    out = []
    for combo, group in per_option.groupby(keys, dropna=False, sort=True):
        good = group[group["ok"]].sort_values(["monthly", "option"])
        best = good.iloc[0] if len(good) else None
        out.append({**dict(zip(keys, combo, strict=True)),
                    "option": None if best is None else best["option"],
                    "monthly_usd": None if best is None else best["monthly"],
                    "p99_ms": None if best is None else best["p99"],
                    "seeds": int(group["seeds"].max()), "qualifying": int(len(good))})
    return pd.DataFrame(out, columns=[*keys, "option", "monthly_usd", "p99_ms", "seeds", "qualifying"])


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    def cell(x: object) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    return (["| " + " | ".join(map(cell, headers)) + " |", "|" + "---|" * len(headers)]
            + ["| " + " | ".join(map(cell, r)) + " |" for r in rows])


def _num(x: object, fmt: str) -> str:
    return "-" if x is None or pd.isna(x) else format(x, fmt)


def summary_rows(df: pd.DataFrame, parameters: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    """Headers and text rows of the cheapest qualifying option per workload x parameters (report and terminal)."""
    best = best_options(df, parameters)
    headers = ["workload", *parameters, "option", "USD/month", "p99 ms", "qualifying options"]
    rows = [[str(r["workload"]), *(str(r[p]) for p in parameters),
             r["option"] if isinstance(r["option"], str) else "none", _num(r["monthly_usd"], ",.2f"),
             _num(r["p99_ms"], ",.1f"), str(r["qualifying"])] for _, r in best.iterrows()]
    return headers, rows


def summary_markdown(df: pd.DataFrame, parameters: tuple[str, ...], title: str = "Sweep") -> str:
    """The sweep report: the cheapest qualifying option per workload x parameters, then the failed runs."""
    failed = df[df["error"].notna()]
    lines = [f"# {title}", "", f"{len(df)} runs, {len(failed)} failed. An option qualifies when it is feasible "
             "and meets the workload's SLO, error rate and budget in every seed; cost and p99 are means over "
             "the seeds.", "", "## Cheapest qualifying option", ""]
    lines += _md_table(*summary_rows(df, parameters))
    lines += ["", "## Failed runs", ""]
    if failed.empty:
        return "\n".join([*lines, "None.", ""])
    rows = [[r["workload"], r["option"], *(r[p] for p in parameters), r["seed"], r["error"]]
            for _, r in failed.iterrows()]
    return "\n".join([*lines, *_md_table(["workload", "option", *parameters, "seed", "error"], rows), ""])
