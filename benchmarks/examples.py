"""`fitness recommend` on every bundled example: wall time, simulations run, requests simulated, peak memory.

Each example runs `fitness recommend EXAMPLE --format json` in a fresh process, so the wall time includes
start-up (Python, imports) as a user sees it. The process counts its own simulations: before the command
runs, every registered option's simulate function is wrapped to append the scenario's request count to a
tally file (opened for appending, so forked right-sizing workers add their lines too). Peak memory is the
largest sum of proportional set sizes of the process and its workers, sampled every 50 ms
(`benchmarks.flagship.memory_mb`; Linux only).

`--baseline REV` runs the same examples on a git worktree of REV first, in the same invocation, so before
and after are measured on one machine in one sitting; the table then shows both and the ratio. Run it
with nothing else on the machine.

    PYTHONPATH=. python -m benchmarks.examples [--baseline HEAD~1] [--only fraud-detection ...] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.flagship import descendants, memory_mb

ROOT = Path(__file__).resolve().parents[1]
SKIP = {"sweep-grid.yaml"}
"""Bundled YAML files that are not workloads."""

CHILD = """
import dataclasses, sys
import sim.options as so
from fitness.cli import main
tally = sys.argv.pop()
so.load_all()

def counted(fn):
    def simulate(scenario, config):
        with open(tally, "a") as f:
            f.write(f"{scenario.n}\\n")
        return fn(scenario, config)
    return simulate

for key, d in list(so.REGISTRY.items()):
    so.REGISTRY[key] = dataclasses.replace(d, simulate=counted(d.simulate))
sys.argv = ["fitness", "recommend", sys.argv[1], "--format", "json"]
main()
"""
"""What the measured process runs: the tree's own CLI, with every simulation tallied."""


def examples(only: list[str] | None) -> list[str]:
    """Example file names, all of them or those whose stem is in `only`."""
    names = sorted(p.name for p in (ROOT / "examples").glob("*.yaml") if p.name not in SKIP)
    return [n for n in names if only is None or Path(n).stem in only]


def measure(tree: Path, workload: Path, tally: Path) -> dict:
    """Recommend `workload` with the code of `tree`; wall seconds, simulations, requests simulated, peak MB and
    the recommendation."""
    tally.write_text("")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    # the result goes to a file: a pipe not read while the process runs fills at 64 KB and blocks it
    result = tally.with_suffix(".json")
    with result.open("w") as sink:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", CHILD, str(workload), str(tally)], cwd=tree,
                                env=env, stdout=sink, stderr=subprocess.DEVNULL, text=True)
        peak = 0.0
        while proc.poll() is None:
            peak = max(peak, memory_mb(descendants(proc.pid))[0])
            time.sleep(0.05)
        seconds = time.perf_counter() - start
    out = result.read_text()
    counts = [int(line) for line in tally.read_text().split()]
    rec = json.loads(out) if out.strip() else {}
    return {"example": workload.stem, "exit": proc.returncode, "seconds": seconds, "simulations": len(counts),
            "requests": sum(counts), "peak_mb": peak, "recommended": rec.get("recommended")}


def warm(tree: Path) -> None:
    """Compile the kernels of `tree` once, untimed: numba caches them beside their modules, so a fresh worktree
    would otherwise pay the compilation in whichever example first runs each kernel."""
    code = "import sim.options as so; so.load_all(); import sim.jit as j; getattr(j, 'warm', lambda: None)()"
    subprocess.run([sys.executable, "-c", code], cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)},
                   capture_output=True, check=False)


def worktree(rev: str, folder: Path) -> Path:
    """A checkout of `rev` in `folder` (git worktree; removed by the caller)."""
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), rev], cwd=ROOT, check=True,
                   capture_output=True)
    return folder


def table(rows: list[dict], before: list[dict] | None) -> str:
    """The figures as a Markdown table; with `before`, both and the speed-up."""
    head = "| example | exit | seconds | simulations | requests simulated | peak MB | recommended |"
    if before:
        head = "| example | seconds before | seconds | x faster | simulations before | simulations | requests " \
               "simulated | peak MB before | peak MB | recommended before | recommended |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for i, r in enumerate(rows):
        if before:
            b = before[i]
            lines.append(f"| {r['example']} | {b['seconds']:.1f} | {r['seconds']:.1f} | "
                         f"{b['seconds'] / r['seconds']:.1f} | {b['simulations']} | {r['simulations']} | "
                         f"{r['requests']:,} | {b['peak_mb']:.0f} | {r['peak_mb']:.0f} | {b['recommended']} | "
                         f"{r['recommended']} |")
        else:
            lines.append(f"| {r['example']} | {r['exit']} | {r['seconds']:.1f} | {r['simulations']} | "
                         f"{r['requests']:,} | {r['peak_mb']:.0f} | {r['recommended']} |")
    return "\n".join(lines)


def main() -> None:
    """Measure the examples (and the baseline's, with --baseline) and print the table or one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", help="a git revision to measure first (e.g. HEAD~1)")
    ap.add_argument("--only", nargs="+", help="example names without .yaml")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    names = examples(args.only)
    with tempfile.TemporaryDirectory() as tmp:
        tally = Path(tmp) / "tally"
        before = None
        if args.baseline:
            base = worktree(args.baseline, Path(tmp) / "baseline")
            try:
                warm(base)
                before = [measure(base, base / "examples" / n, tally) for n in names]
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=ROOT, capture_output=True)
        warm(ROOT)
        rows = [measure(ROOT, ROOT / "examples" / n, tally) for n in names]
    if args.json:
        print(json.dumps({"before": before, "after": rows}))
        return
    print(table(rows, before))
    print(f"\ncores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
