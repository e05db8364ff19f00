"""Work spread over the machine's cores by forked workers: options, replications and sensitivity points.

A forked worker inherits the parent's memory: a scenario of millions of requests is shared, not pickled,
and a closure can be the work. Results come back pickled, so callers return light results (digests, not
request logs). Each call depends only on its item (same scenario, same seeds), so results do not
depend on which worker ran them or in what order; they are returned in the items' order.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed

from sim.jit import warm

_WORK: Callable | None = None
"""The function the forked workers call, inherited at fork (a closure cannot be pickled)."""
_IN_WORKER = False
"""True inside a forked worker: work it is given runs there, serially (the cores are already busy)."""


def _call(item):
    return _WORK(item)


def _mark_worker() -> None:
    global _IN_WORKER
    _IN_WORKER = True


def workers_for(n: int) -> int:
    """Workers worth starting for n items: one per core, at most n; 1 where fork is not available, inside a
    forked worker (nested work would only oversubscribe the cores) and in a daemonic process (a Dask or
    multiprocessing worker, which may not have children)."""
    if _IN_WORKER or mp.current_process().daemon or "fork" not in mp.get_all_start_methods():
        return 1
    return min(n, os.cpu_count() or 1)


def fork_map(fn: Callable, items: Sequence, done: Callable | None = None) -> list:
    """[fn(item) for item in items], on every core; `done(item, k)` after each finishes (k finished)."""
    global _WORK
    workers = workers_for(len(items))
    if workers < 2:
        out = []
        for item in items:
            out.append(fn(item))
            if done:
                done(item, len(out))
        return out
    _WORK = fn
    warm()  # the compiled kernels, loaded once here, are inherited by every worker
    # What exists now is kept out of the cyclic collector for good (Python's advice before a fork): the workers'
    # collections then leave the inherited pages unwritten (shared, not copied), and no collection, nor the one at
    # exit, walks numba's type graph again (an exit 0.58 s -> 0.18 s after loading the kernels, 2026-12-07). The
    # young generations are collected first, so that only garbage old enough to have reached the last one, if
    # any, is kept with them (arrays and results are freed by their reference counts, frozen or not).
    gc.collect(1)
    gc.freeze()
    try:
        with ProcessPoolExecutor(workers, mp_context=mp.get_context("fork"), initializer=_mark_worker) as pool:
            futures = {pool.submit(_call, item): i for i, item in enumerate(items)}
            results: dict[int, object] = {}
            for f in as_completed(futures):
                results[futures[f]] = f.result()
                if done:
                    done(items[futures[f]], len(results))
    finally:
        _WORK = None
    return [results[i] for i in range(len(items))]
