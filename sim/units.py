"""Unit helpers shared by the specs: durations written by people ("30m", "6h") to seconds."""

from __future__ import annotations

import math
import numbers
import re
from typing import Annotated

from pydantic import Field

# A non-negative decimal number, optionally followed by one unit letter; spaces tolerated around both.
_DURATION = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*([smhdSMHD]?)\s*$")
_UNIT_S = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_EXPECTED = "a non-negative number of seconds or a string like '90s', '30m', '6h', '7d'"


def parse_duration_s(value: object) -> float:
    """Return a duration in seconds from a number of seconds or a string such as "90s", "30m", "6h", "7d".

    A bare number (or numeric string) means seconds. Units are s, m (minutes), h and d (days), case
    insensitive. Raises ValueError (never TypeError, so pydantic reports it against the field) on
    anything else, including negative, infinite and NaN values.
    """
    if isinstance(value, bool):  # bool is an int subclass; `True` as a duration is surely a mistake
        raise ValueError(f"expected {_EXPECTED}, got {value!r}")
    if isinstance(value, numbers.Real):  # includes numpy scalars
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"expected {_EXPECTED}, got {value!r}")
        number, exponent, unit = match.groups()
        seconds = float(f"{number}e{exponent or 0}") * _UNIT_S[unit.lower()]
    else:
        raise ValueError(f"expected {_EXPECTED}, got {type(value).__name__} {value!r}")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"expected {_EXPECTED}, got {value!r}")
    return seconds


DURATION_JSON_SCHEMA = {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": _DURATION.pattern}],
                        "description": "seconds, or a string such as '90s', '30m', '6h', '7d'"}
"""How a duration is written in a workload file, for the JSON Schema (`fitness schema`)."""


Rate = Annotated[float, Field(ge=0, allow_inf_nan=False)]
"""A rate in requests/second (or a weight): finite and non-negative."""
