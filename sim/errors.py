"""Errors raised on bad input, carrying what a user needs to fix it."""

from __future__ import annotations

import difflib


class InputError(ValueError):
    """Bad user input: names the field (dotted path), what is expected, and optionally what was given.

    `source` is the file the value came from when known (a workload, a trace, a catalog); the CLI adds
    the workload file when the raiser did not know it.
    """

    def __init__(self, field: str, expected: str, got: object = None, source: str | None = None,
                 hint: str | None = None) -> None:
        self.field = field
        self.expected = expected
        self.got = got
        self.source = source
        self.hint = hint
        super().__init__(self.describe())

    def describe(self) -> str:
        """One sentence: field, expectation, what was found and an optional hint."""
        where = f"{self.source}: " if self.source else ""
        text = f"{where}field '{self.field}': expected {self.expected}"
        if self.got is not None:
            text += f", got {self.got!r}"
        if self.hint:
            text += f". {self.hint[:1].upper()}{self.hint[1:]}"
        return text if text.endswith((".", "?", "!")) else text + "."


def did_you_mean(name: str, choices: list[str], cutoff: float = 0.6) -> str | None:
    """A "did you mean" hint naming the closest choice (ignoring case), or None when nothing is close
    (`cutoff`: difflib's similarity, 0..1)."""
    folded = {str(c).lower(): str(c) for c in choices}
    close = difflib.get_close_matches(str(name).lower(), list(folded), n=1, cutoff=cutoff)
    return f"Did you mean '{folded[close[0]]}'?" if close else None
