"""Where `fitness recommend` spends its time on one workload: a cProfile of the whole command, in one process.

The forked right-sizing workers are turned off (the work runs serially in this process, as inside a worker),
so the profile sees every simulation; the wall time is then the serial time, not what a user waits for
(`benchmarks.examples` measures that). The report is written to a temporary file and discarded, with what
the command prints.

    PYTHONPATH=. python -m benchmarks.profile examples/fraud-detection.yaml [--sort tottime] [--top 25]
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

import fitness.engine.parallel as parallel
from fitness.cli import app


def profile(workload: Path, sort: str, top: int) -> str:
    """The profile's `top` lines sorted by `sort` (a pstats key), after the serial wall time."""
    parallel._IN_WORKER = True  # noqa: SLF001 - one process: every simulation in this profile
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["fitness", "recommend", str(workload), "--format", "json", "--out", str(Path(tmp) / "r.json")]
        saved, sys.argv = sys.argv, argv
        pr, t0 = cProfile.Profile(), time.perf_counter()
        pr.enable()
        try:
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                app(standalone_mode=False)  # what the command prints is not the profile
        finally:
            pr.disable()
            sys.argv = saved
    wall = time.perf_counter() - t0
    out = io.StringIO()
    pstats.Stats(pr, stream=out).sort_stats(sort).print_stats(top)
    return f"{workload.name}: {wall:.1f} s serial\n{out.getvalue()}"


def main() -> None:
    """Parse the command line and print the profile."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("workload", type=Path)
    ap.add_argument("--sort", default="tottime", help="a pstats sort key: tottime, cumulative, ncalls")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    print(profile(args.workload, args.sort, args.top))


if __name__ == "__main__":
    main()
