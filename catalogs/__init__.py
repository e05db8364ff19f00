"""Built-in catalogs: prices, limits and platform behaviour as data, each fact with its source and date.

A catalog is a YAML file at `catalogs/<provider>/<region>.yaml` and is named `<provider>/<region>`
(for example `aws/us-east-1`). This package only finds and reads the files; `sim.catalog` validates them.
The files are read through `importlib.resources` so they are found in an installed wheel as well as in a
source checkout.
"""

from __future__ import annotations

import functools
from importlib.resources import files
from importlib.resources.abc import Traversable

import yaml

__all__ = ["available", "read_catalog_text", "read_rubric_text", "rubric", "rubrics"]

_SUFFIX = ".yaml"
_RUBRICS = "rubrics"


def _root() -> Traversable:
    return files("catalogs")


def available() -> list[str]:
    """Names of the built-in catalogs (`<provider>/<region>`), sorted.

    Only YAML files exactly one directory deep count, and the rubrics folder is not a provider, so other
    data kept in this package is never mistaken for a catalog.
    """
    names = []
    for provider in _root().iterdir():
        if not provider.is_dir() or provider.name.startswith(("_", ".")) or provider.name == _RUBRICS:
            continue
        for entry in provider.iterdir():
            if entry.is_file() and entry.name.endswith(_SUFFIX):
                names.append(f"{provider.name}/{entry.name[: -len(_SUFFIX)]}")
    return sorted(names)


def read_catalog_text(name: str) -> str:
    """YAML text of the built-in catalog `name` (e.g. "aws/us-east-1" -> `catalogs/aws/us-east-1.yaml`).

    Raises KeyError when no such catalog is built in; `available()` lists the valid names.
    """
    # Checking against the listing (rather than joining the name into a path) keeps names such as
    # "../x" from reaching outside the package.
    if name not in available():
        raise KeyError(name)
    provider, region = name.split("/")
    return _root().joinpath(provider).joinpath(region + _SUFFIX).read_text(encoding="utf-8")


def rubrics() -> list[str]:
    """Names of the built-in rubrics (`catalogs/rubrics/<name>.yaml`), sorted."""
    return sorted(e.name[: -len(_SUFFIX)] for e in _root().joinpath(_RUBRICS).iterdir() if e.name.endswith(_SUFFIX))


def read_rubric_text(name: str) -> str:
    """YAML text of a built-in rubric (`catalogs/rubrics/<name>.yaml`), e.g. "complexity"."""
    return _root().joinpath(_RUBRICS, f"{name}{_SUFFIX}").read_text(encoding="utf-8")


@functools.cache
def rubric(name: str) -> dict:
    """A built-in rubric as a mapping, parsed once (shared by every reader: read it, do not change it)."""
    return yaml.safe_load(read_rubric_text(name))
