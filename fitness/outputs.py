"""Writing what the CLI produces, safely: the one place files are written.

Rules, for every command: nothing is written through a symbolic link (not even a dangling one), outside
the output folder, or over an input file (not even with --force); nothing existing is replaced without
--force; and every write is whole or not at all (temporary files beside the targets, renamed into place
only once all of them are written). Checks run before any simulation, so a refusal costs nothing.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath

from fitness.errors import UserError


def _links(root: Path, rel: str = "") -> Path | None:
    """The first symbolic link among `root` and the folders and file of `rel` below it, if any."""
    p = root
    for part in ("", *PurePosixPath(rel).parts):
        p = p / part if part else p
        if p.is_symlink():
            return p
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))
    except OSError:
        return False


def check_new_file(out: Path, inputs: list[Path | None], force: bool, flag: str = "--out") -> None:
    """Refuse `out` if it is a symbolic link, an input file (even with --force), a folder, or an existing
    file without --force."""
    if out.is_symlink():
        raise UserError(f"{out}: {flag}: expected a new file; {out} is a symbolic link (to {os.readlink(out)}), "
                        "and fitness never writes through one. Choose another path.")
    for src in (p for p in inputs if p is not None):
        if _same_file(out, src):
            raise UserError(f"{out}: {flag}: expected a new file; {out} is one of the inputs, which are never "
                            "overwritten. Choose another path.")
    if out.is_dir():
        raise UserError(f"{out}: {flag}: expected a file; {out} is a folder.")
    if out.exists() and not force:
        raise UserError(f"{out}: {flag}: the file exists; expected a new path, or --force to replace it.")


def check_tree(folder: Path, rels: list[str], inputs: list[Path | None], flag: str = "--out") -> list[str]:
    """Which of `rels` (paths relative to `folder`) already exist; a UserError if `folder` is a file, if a
    path would leave `folder`, pass through a symbolic link, or land on an input file."""
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {folder}: this is a file; expected a folder to write into.")
    there = []
    for rel in rels:
        pure = PurePosixPath(rel)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise UserError(f"{flag} {folder}: refusing to write {rel!r}, which is not inside the folder.")
        if (link := _links(folder, rel)) is not None:
            raise UserError(f"{flag} {folder}: {link} is a symbolic link, and fitness never writes through one; "
                            "expected real folders and files (remove the link or choose another folder). Nothing "
                            "was written.")
        target = folder / rel
        if any(src is not None and _same_file(target, src) for src in inputs):
            raise UserError(f"{flag} {folder}: {rel} is one of the inputs, which are never overwritten; choose "
                            "another folder. Nothing was written.")
        if target.exists():
            there.append(rel)
    return there


def write_file(out: Path, data: str | bytes, flag: str = "--out") -> None:
    """Write one file whole or not at all (a temporary file beside it, renamed over it)."""
    write_tree(out.parent, {out.name: data}, flag)


def write_tree(folder: Path, files: dict[str, str | bytes], flag: str = "--out") -> None:
    """Write every file of `files` (relative path -> text or bytes) under `folder`, all or none: each goes to
    a temporary file first and the renames start only once all are written. Call `check_tree` first."""
    made: list[Path] = []
    temps: dict[Path, Path] = {}
    renamed = 0
    try:
        for rel, data in files.items():
            target = folder / rel
            for parent in reversed([p for p in target.parents if not p.exists()]):
                parent.mkdir()
                made.append(parent)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            temps[tmp] = target
            tmp.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        for tmp, target in temps.items():
            os.replace(tmp, target)
            renamed += 1
    except BaseException as e:  # Ctrl-C too: no temporary file or empty folder is left behind
        for tmp in temps:
            with contextlib.suppress(OSError):  # e.g. its folder is a file: then it was never created
                tmp.unlink(missing_ok=True)
        for d in reversed(made):
            if d.exists() and not any(d.iterdir()):
                d.rmdir()
        if not isinstance(e, OSError):
            raise
        done = "Nothing was written." if not renamed else f"{renamed} of {len(files)} files were written first."
        raise UserError(f"{flag} {folder}: cannot write ({e}); expected a writable location. {done}") from e
