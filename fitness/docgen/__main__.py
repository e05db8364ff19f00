"""`python -m fitness.docgen DIR`: write the generated reference pages (`fitness.docgen.generated`) into DIR."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fitness.docgen import generated, stale
from fitness.docgen.markdown import COMMAND, MARK


def _write(out_dir: Annotated[Path, typer.Argument(help="Folder of the docs (docs/).", show_default=False)],
           check: Annotated[bool, typer.Option("--check", help="Only report stale pages (exit 1).")] = False) -> None:
    """Write the generated reference pages into OUT_DIR; a hand-written file of the same name is never replaced."""
    if out_dir.exists() and not out_dir.is_dir():
        typer.echo(f"{out_dir}: not a folder; expected the docs folder (docs/).", err=True)
        raise typer.Exit(2)
    pages = generated()
    todo = stale(out_dir, pages)
    if check:
        typer.echo("stale: " + ", ".join(todo) + f"; run `{COMMAND}`" if todo else "generated pages are current")
        raise typer.Exit(1 if todo else 0)
    foreign = [n for n in todo if (out_dir / n).is_file()
               and not (out_dir / n).read_text(encoding="utf-8").startswith(MARK)]
    if foreign:
        typer.echo(f"{out_dir / foreign[0]}: not written by fitness.docgen (no generated header), so it is left "
                   "as it is; move it away to regenerate it.", err=True)
        raise typer.Exit(2)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in todo:
        (out_dir / name).write_text(pages[name], encoding="utf-8")
    typer.echo(f"wrote {', '.join(todo)}" if todo else "generated pages are current")


if __name__ == "__main__":
    sys.exit(typer.run(_write))
