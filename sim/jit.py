"""Compiled kernels: the per-request loops of the busiest data planes, compiled by numba when it is installed.

A kernel is plain Python over numpy arrays and numbers (the subset numba compiles), so it reads like the
rest of the simulator and runs unchanged, only slower, where numba is missing or `NUMBA_DISABLE_JIT=1` is
set (how the tests hold the compiled and the interpreted loop to the same results). Compiled code is cached
on disk beside the module, so the compilation is paid once per machine and checkout (every kernel, on the
2-core VM of 2026-12-07: 29.4 s in one process, 19.5 s in the two `warm` forks on an empty cache), and
loading it from the cache once per process (under a second): `warm()` does that before work is forked, so
that forked workers inherit the kernels instead of each loading them again.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable


class _Pending:
    """A kernel not compiled yet: the first call compiles every kernel of its module (numba resolves the
    kernels a kernel calls when it compiles it, so they must all be compiled functions by then)."""

    def __init__(self, fn: Callable, inline: bool = False, counted: bool = False) -> None:
        self.fn, self.__name__, self.__doc__, self.inline, self.counted = fn, fn.__name__, fn.__doc__, inline, counted

    def __call__(self, *args):
        module = sys.modules[self.fn.__module__]
        _compile(module)
        return getattr(module, self.fn.__name__)(*args)


def _compile(module) -> None:
    """Replace every pending kernel of `module` by its compiled function (itself without numba)."""
    try:
        from numba import njit  # on first use: numba takes a third of a second to import
    except ImportError:  # pragma: no cover - numba is a dependency; the interpreted loop stays correct
        njit = None
    else:
        _array_maths_without_scipy()
    for name, value in list(vars(module).items()):
        if not isinstance(value, _Pending):
            continue
        home = sys.modules[value.fn.__module__]
        if home is not module:
            # a kernel imported from another module: compiled there, so that the kernels it calls in its own
            # module are compiled too (numba resolves them from that module's globals)
            _compile(home)
            setattr(module, name, getattr(home, value.fn.__name__))
        else:
            setattr(module, name, value.fn if njit is None else _cached_njit(njit, value))


def _array_maths_without_scipy() -> None:
    """Import numba's array maths (which numba loads with the first kernel) without scipy.linalg.

    At import it checks whether scipy's BLAS is there by importing scipy.linalg: 0.3 s of every process, and
    BLAS threads, for kernels that use no BLAS. So it is imported with scipy.linalg hidden, then told what a
    lookup that imports nothing finds (numba's BLAS functions import scipy themselves when compiled). Nothing
    is hidden when scipy.linalg is imported already."""
    if "numba.np.arraymath" in sys.modules or "scipy.linalg" in sys.modules:
        return
    sys.modules["scipy.linalg"] = None  # type: ignore[assignment]  # "import scipy.linalg" raises ImportError
    try:
        import numba.np.arraymath as maths  # numba is imported by now: this only runs its array maths
    finally:
        del sys.modules["scipy.linalg"]
    maths._HAVE_BLAS = importlib.util.find_spec("scipy") is not None


def _cached_njit(njit: Callable, value: _Pending) -> Callable:
    """`value`'s function compiled by numba, cached on disk under a key that holds how it is compiled.

    Numba keys its cache by the function's bytecode and its file's stamp only: compiled with other options
    (inlining, reference counting) from an unchanged file, a kernel would load the code of the old options.
    The options join the key here, so such code is compiled afresh."""
    from numba.core.caching import FunctionCache  # with numba, on first use

    options = {"inline": "always" if value.inline else "never", "_nrt": value.counted}

    class Cache(FunctionCache):
        def _index_key(self, sig, codegen):
            return (*super()._index_key(sig, codegen), tuple(sorted(options.items())))

    dispatcher = njit(cache=True, nogil=True, **options)(value.fn)
    dispatcher._cache = Cache(dispatcher.py_func)
    return dispatcher


def kernel(fn: Callable) -> Callable:
    """`fn` as a kernel: compiled (no Python objects, cached on disk) when its module's first kernel is
    called, so that importing a data plane never imports numba.

    A kernel only reads and writes the arrays it is given: it creates no array, not even a slice, so it is
    compiled without numba's reference counting (`_nrt=False`; a kernel that does create one fails to compile,
    "NRT required but not enabled", and is an `allocating` kernel). Counting is what made the loops slow: every
    array bound to a name, passed or inlined, was counted up and down again with an atomic instruction, which
    took two thirds of the processor-sharing pool's time (perf, 2026-12-07; design-reference's multi-container
    pipeline 0.27 M -> 2.77 M req/s without it, its helpers inlined)."""
    return _Pending(fn)


def allocating(fn: Callable) -> Callable:
    """`fn` as a kernel that creates arrays (returns one, or slices one): compiled with numba's runtime, which
    counts references. Keep these off the per-request path."""
    return _Pending(fn, counted=True)


def inlined(fn: Callable) -> Callable:
    """`fn` as a kernel that the kernels calling it compile into their own body (numba's `inline="always"`):
    for the small helpers of a per-request loop, where a call's cost would be most of the work. Still callable
    on its own (then compiled as a `kernel`)."""
    return _Pending(fn, inline=True)


_WARMERS: list[Callable[[], None]] = []
_WARMED: set[Callable[[], None]] = set()


def warm_up(fn: Callable[[], None]) -> Callable[[], None]:
    """Register `fn`, which runs a module's kernels once on a tiny input (their types as the data plane
    calls them), for `warm`."""
    _WARMERS.append(fn)
    return fn


COMPILERS = 2
"""Processes that compile the kernels when the disk cache has none of them (the machines this runs on)."""


def warm() -> bool:
    """Compile, or load from the disk cache, every registered kernel in this process, once. On an empty cache
    (a fresh install) the modules are first compiled in `COMPILERS` forked processes, each its share, which
    write the cache: this process then loads them as on any later run, in a fraction of the time. Returns
    whether it forked them."""
    forked = False
    todo = [fn for fn in _WARMERS if fn not in _WARMED]
    told = [c for c in map(_cached, todo) if c is not None]
    if len(todo) > 1 and told and not any(told) and _can_fork():
        import multiprocessing as mp  # only on a fresh cache

        ctx = mp.get_context("fork")
        procs = [ctx.Process(target=_run_all, args=(todo[k::COMPILERS],)) for k in range(COMPILERS)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        forked = True  # a child that failed leaves its kernels to be compiled below, as without it
    for fn in todo:
        fn()
        _WARMED.add(fn)
    return forked


def _run_all(fns: list[Callable[[], None]]) -> None:
    for fn in fns:
        fn()


def _can_fork() -> bool:
    """Whether forked compilers may be started: fork exists, numba compiles, and this is no daemonic process
    (a Dask or multiprocessing worker may not have children)."""
    import multiprocessing as mp  # on use: a data plane never needs it

    return "fork" in mp.get_all_start_methods() and not mp.current_process().daemon and compiled()


def _cached(warmer: Callable[[], None]) -> bool | None:
    """Whether the disk cache holds compiled code for a kernel of `warmer`'s module, read from numba's index
    file of one kernel; None when its module has none of its own (its kernels live in another) or numba's
    cache cannot be read so (then nothing is forked on a guess)."""
    module = sys.modules[warmer.__module__]
    _compile(module)
    own = [v for v in vars(module).values() if getattr(v, "_cache", None) is not None
           and getattr(getattr(v, "py_func", None), "__module__", None) == module.__name__]
    if not own:
        return None
    try:
        return bool(own[0]._cache._cache_file._load_index())
    except Exception:  # noqa: BLE001 - numba's cache internals changed: behave as before (no forking)
        return None


def compiled() -> bool:
    """True when kernels run compiled (numba installed and not disabled by NUMBA_DISABLE_JIT)."""
    try:
        from numba.core.config import DISABLE_JIT  # on use, as above
    except ImportError:  # pragma: no cover
        return False
    return not DISABLE_JIT
