"""Start-up time of the quick commands: `fitness --help`, `fitness validate` and `fitness schema` (issue 18).

Each line runs the command in a fresh process (`python -m fitness.cli ...`, from the repository root) and
times the whole process, interpreter start-up and imports included, with `time.perf_counter` around
`subprocess.run`. Every line first runs once untimed (a warm-up: the files in the page cache), then the
timed runs are interleaved across the lines and the median and best are reported. The `python` line is
the bare interpreter (`python -c pass`): the floor under every command. A command that exits non-zero
stops the benchmark.

    python -m benchmarks.startup [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = "examples/fraud-detection.yaml"
LINES = {
    "python": ["-c", "pass"],
    "fitness --help": ["-m", "fitness.cli", "--help"],
    f"fitness validate {EXAMPLE}": ["-m", "fitness.cli", "validate", EXAMPLE],
    "fitness schema": ["-m", "fitness.cli", "schema"],
}
"""Line name -> interpreter arguments."""


def once(args: list[str]) -> float:
    """Wall seconds of one fresh process running `python ARGS`; a failure stops the benchmark."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"python {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return seconds


def benchmark(repeat: int) -> list[dict]:
    """Warm up every line, then `repeat` interleaved timed runs; the median and best seconds of each line."""
    for args in LINES.values():
        once(args)
    times = {name: [] for name in LINES}
    for _ in range(repeat):
        for name, args in LINES.items():
            times[name].append(once(args))
    return [{"line": name, "median_s": statistics.median(t), "best_s": min(t), "runs": len(t)}
            for name, t in times.items()]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: print a table (or one JSON line)."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=5, help="timed runs per line, median and best shown (default 5)")
    p.add_argument("--json", action="store_true", help="print one JSON line instead of the table")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    rows = benchmark(args.repeat)
    if args.json:
        print(json.dumps(rows))
        return 0
    width = max(len(r["line"]) for r in rows)
    print(f"{'line':<{width}} {'median s':>9} {'best s':>7}")
    for r in rows:
        print(f"{r['line']:<{width}} {r['median_s']:>9.3f} {r['best_s']:>7.3f}")
    print(f"runs per line: {args.repeat}; cores: {os.cpu_count()}; python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
