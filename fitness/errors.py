"""User-facing errors: one paragraph naming the file, the field and what is expected."""

from __future__ import annotations

from sim.errors import InputError


class UserError(Exception):
    """An error the user can fix; the CLI prints `str(self)` and exits with code 2."""


def from_input_error(err: InputError, default_source: str | None) -> UserError:
    """Wrap a simulator `InputError`, naming the workload file when the raiser did not know the file."""
    where = err.source or default_source
    text = err.describe() if err.source else (f"{where}: " if where else "") + err.describe()
    return UserError(text)
