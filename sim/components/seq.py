"""Compact sequences for the data planes' hot loops.

Data planes index arrival, service and position arrays one request at a time. Indexing a numpy array
from Python is slow (a numpy scalar per access) and a list costs 32 bytes or more per value (a pointer and a
boxed number), which for a week of traffic is gigabytes per run. An `array.array` holds the raw 8-byte
values and hands out plain Python numbers when indexed: about a tenth slower per access than a list, at a
quarter of its memory.
"""

from __future__ import annotations

from array import array

import numpy as np


def floats(values: np.ndarray) -> array:
    """The values as a compact sequence of Python floats (8 bytes each)."""
    out = array("d")
    out.frombytes(_raw(np.ascontiguousarray(values, dtype=np.float64)))
    return out


def ints(values: np.ndarray) -> array:
    """The values as a compact sequence of Python ints (8 bytes each)."""
    out = array("q")
    out.frombytes(_raw(np.ascontiguousarray(values, dtype=np.int64)))
    return out


def _raw(values: np.ndarray) -> memoryview:
    """The array's bytes without a copy (`tobytes` would hold a second copy of a week's values)."""
    return memoryview(values).cast("B")


def positions(idx: np.ndarray | None, n: int) -> range | array:
    """Log positions a data plane serves: `idx`, or every request (0..n-1) when it is None, as a range that
    costs nothing per request."""
    return range(n) if idx is None else ints(idx)


def floats_at(values: np.ndarray, idx: np.ndarray | None) -> array:
    """`floats(values[idx])`, without the intermediate copy when `idx` is None (every request)."""
    return floats(values if idx is None else values[idx])


def block(pos: range | array, lo: int, hi: int) -> slice | np.ndarray:
    """`pos[lo:hi]` as a numpy index (a slice when `pos` is a range), to write a run of positions at once."""
    if isinstance(pos, range):
        r = pos[lo:hi]
        return slice(r.start, r.stop, r.step)
    return np.frombuffer(pos, np.int64)[lo:hi]
