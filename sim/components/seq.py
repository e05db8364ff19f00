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
    out.frombytes(np.ascontiguousarray(values, dtype=np.float64).tobytes())
    return out


def ints(values: np.ndarray) -> array:
    """The values as a compact sequence of Python ints (8 bytes each)."""
    out = array("q")
    out.frombytes(np.ascontiguousarray(values, dtype=np.int64).tobytes())
    return out
