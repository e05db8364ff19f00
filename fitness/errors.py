"""User-facing errors: one paragraph naming the file, the field and what is expected."""

from __future__ import annotations

from sim.errors import InputError


class UserError(Exception):
    """An error the user can fix; the CLI prints `str(self)` and exits with code 2."""


def from_input_error(err: InputError, default_source: str | None) -> UserError:
    """Wrap a simulator `InputError`, naming the workload file when the raiser did not know the file."""
    text = err.describe()
    if default_source and err.source != default_source:
        text = f"{default_source}: {text}"  # the workload first, then the file the value came from
    return UserError(text)
