"""`python -m fitness.docgen DIR`: write the generated reference pages (`fitness.docgen.generated`) into DIR, and the
workload's JSON Schema shipped in the package (`fitness/workload/workload.schema.json`) when it is stale."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fitness.docgen import generated, stale
from fitness.docgen.markdown import COMMAND, MARK
from fitness.workload.schema_file import SCHEMA_FILE, schema_text
from fitness.workload.spec import workload_schema


def _write(out_dir: Annotated[Path, typer.Argument(help="Folder of the docs (docs/).", show_default=False)],
           check: Annotated[bool, typer.Option("--check", help="Only report stale pages (exit 1).")] = False) -> None:
    """Write the generated reference pages into OUT_DIR; a hand-written file of the same name is never replaced."""
    if out_dir.exists() and not out_dir.is_dir():
        typer.echo(f"{out_dir}: not a folder; expected the docs folder (docs/).", err=True)
        raise typer.Exit(2)
    pages = generated()
    todo = stale(out_dir, pages)
    schema = schema_text(workload_schema())
    schema_stale = not SCHEMA_FILE.is_file() or SCHEMA_FILE.read_text(encoding="utf-8") != schema
    if check:
        names = todo + [str(SCHEMA_FILE)] * schema_stale
        typer.echo("stale: " + ", ".join(names) + f"; run `{COMMAND}`" if names else "generated pages are current")
        raise typer.Exit(1 if names else 0)
    if schema_stale:  # package data beside the models, not a page of out_dir
        SCHEMA_FILE.write_text(schema, encoding="utf-8")
        typer.echo(f"wrote {SCHEMA_FILE}")
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
