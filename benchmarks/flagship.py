"""Time and peak memory of `fitness recommend` on the flagship week at 1x, 4x and 16x its requests.

The flagship (`examples/flagship-week.yaml`: a week of diurnal traffic averaging 20 req/s, about 12M
requests) is run whole, with its rates divided by 16 and by 4 (1x = about 0.76M requests, 4x about 3M,
16x the flagship itself), so every size is the same week and the same decision, right-sizing,
replications, headroom and sensitivity included. Each size runs `fitness recommend --format json` in a
fresh process. Wall time is measured around it. Memory is sampled from /proc every 50 ms over the process
and every process it started (its right-sizing workers), Linux only:
- peak MB: the largest sum of their proportional set sizes (PSS). Forked workers share the parent's pages
  (the scenario); PSS splits each shared page among the processes mapping it, so the sum is the memory the
  machine held for the run, counted once;
- sum RSS: the largest sum of resident set sizes, which counts every shared page once per process (an upper
  bound);
- max RSS: the largest resident set of any one process (what `/usr/bin/time` reports for it).

    python -m benchmarks.flagship [--sizes 1 4 16] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
FLAGSHIP = ROOT / "examples" / "flagship-week.yaml"
FULL = 16
"""The flagship itself is the largest size; smaller sizes divide its rates."""


def descendants(pid: int) -> list[int]:
    """`pid` and every process below it, from /proc/<pid>/task/*/children."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return out


def memory_mb(pids: list[int]) -> tuple[float, float, float]:
    """(sum of PSS, sum of RSS, largest RSS) of the processes still alive, MB."""
    pss = rss = top = 0
    for p in pids:
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{p}/smaps_rollup").read_text().splitlines()[1:])
        except OSError:
            continue
        kb_pss, kb_rss = int(fields["Pss"].split()[0]), int(fields["Rss"].split()[0])
        pss, rss, top = pss + kb_pss, rss + kb_rss, max(top, kb_rss)
    return pss / 1024.0, rss / 1024.0, top / 1024.0


def workload_at(size: int, folder: Path) -> Path:
    """The flagship with its rates scaled to size / FULL, written to `folder`."""
    wl = yaml.safe_load(FLAGSHIP.read_text())
    wl["traffic"] = {**wl["traffic"], "rate_multiplier": size / FULL}
    path = folder / f"flagship-{size}x.yaml"
    path.write_text(yaml.safe_dump(wl), "utf-8")
    return path


def measure(size: int, folder: Path) -> dict:
    """Run one size; returns requests, seconds, peak MB and the option recommended."""
    path = workload_at(size, folder)
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "fitness.cli", "recommend", str(path), "--format", "json"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = (0.0, 0.0, 0.0)
    while proc.poll() is None:
        peak = tuple(map(max, peak, memory_mb(descendants(proc.pid))))
        time.sleep(0.05)
    out = proc.stdout.read()
    seconds = time.perf_counter() - start
    if proc.returncode:
        raise SystemExit(f"fitness recommend failed at {size}x (exit {proc.returncode})")
    rec = json.loads(out)
    requests = next(o["requests"]["offered"] for o in rec["options"] if o.get("requests"))
    return {"size": size, "requests": requests, "seconds": seconds, "peak_mb": peak[0], "sum_rss_mb": peak[1],
            "max_rss_mb": peak[2], "recommended": rec["recommended"], "us_per_request": seconds / requests * 1e6,
            "bytes_per_request": peak[0] * 2**20 / requests}


def main() -> None:
    """Measure every size and print a table (or one JSON line)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = [measure(s, Path(tmp)) for s in args.sizes]
    if args.json:
        print(json.dumps(rows))
        return
    print(f"{'size':>5} {'requests':>12} {'seconds':>8} {'peak MB':>8} {'sum RSS':>8} {'max RSS':>8} {'us/req':>7} "
          f"{'B/req':>6}  recommended")
    for r in rows:
        print(f"{r['size']:>4}x {r['requests']:>12,} {r['seconds']:>8.1f} {r['peak_mb']:>8.0f} {r['sum_rss_mb']:>8.0f} "
              f"{r['max_rss_mb']:>8.0f} {r['us_per_request']:>7.2f} {r['bytes_per_request']:>6.0f}  {r['recommended']}")
    print(f"cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
