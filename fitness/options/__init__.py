"""One unit per hosting option: everything the product knows about an option, found from its id.

An option's simulation lives in `sim/options/<module>.py` (its config model, data plane and the
`slo.delivery` modes and patterns it serves, registered there with `sim.options.register`). Everything the
product adds lives in one module of this package, registered once with `register(OptionUnit(...))`:
- `pins`: the knobs that pin its capacity (a workload that sets them is simulated once, as given);
- `search`: its right-sizing search (`fitness.engine.sizing` and `fitness.engine.fleets` have the machinery
  they share);
- `export`: its export builder (`fitness.export`), or `NoExport` saying why it has none;
- `rubric`: its entry in `catalogs/rubrics/complexity.yaml` (the scaling-complexity score);
- `docs`: its section of `docs/options.md`, which `python -m fitness.docgen docs/` writes from it.

`problems()` lists what a registered option lacks; the conformance test fails on any.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import catalogs
from sim import options as sim_options
from sim.errors import InputError, did_you_mean

if TYPE_CHECKING:  # for annotations only: the units import these layers, not the other way round
    from pydantic import BaseModel

    from fitness.engine.sizing import Runner
    from fitness.export.aws import ExportPlan
    from fitness.workload.spec import Workload
    from sim.scenario import Scenario

    Search = Callable[[Runner, Workload, Scenario, dict], None]
    Builder = Callable[[ExportPlan], list]


@dataclass(frozen=True)
class NoExport:
    """An option with no export builder, and why (said explicitly, never left out by omission)."""

    why: str


@dataclass(frozen=True)
class OptionUnit:
    """What the product knows about one hosting option (see the module docstring for each field).

    `title` heads its docs section; `pins_all` says whether every knob of `pins` (True) or any (False)
    must be set for the option to count as pinned; `production_instances` is the fewest instances a
    production deployment runs (2 for an endpoint on instances, spread over Availability Zones; 0 where
    there is no instance to keep, or where requests wait in a queue for one, as async).
    """

    id: str
    title: str
    pins: tuple[str, ...]
    search: Search
    export: Builder | NoExport
    rubric: str
    docs: str
    pins_all: bool = False
    production_instances: int = 0

    @property
    def sim(self) -> sim_options.OptionDef:
        """The simulation registered under this id (its config model, simulate function, delivery, patterns)."""
        return sim_options.load_all()[self.id]

    @property
    def config_model(self) -> type[BaseModel]:
        """The option's config model (frozen pydantic), from its simulation."""
        return self.sim.config_model

    @property
    def anchor(self) -> str:
        """Where its documentation is: `options.md#<id>`."""
        return f"options.md#{self.id}"

    def is_pinned(self, raw: dict) -> bool:
        """True when the workload's `options.<id>` (`raw`) sets the knobs that fix the option's capacity."""
        present = [raw.get(k) is not None for k in self.pins]
        return bool(self.pins) and (all(present) if self.pins_all else any(present))


UNITS: dict[str, OptionUnit] = {}
"""Every registered unit by option id."""


def register(unit: OptionUnit) -> OptionUnit:
    """Register `unit` under its option id (once per id); returns it."""
    if unit.id in UNITS:
        raise ValueError(f"option {unit.id} is registered twice")
    UNITS[unit.id] = unit
    return unit


def load_all() -> dict[str, OptionUnit]:
    """Import every module of this package so each registers its unit; returns the units by id."""
    for name in _modules():
        importlib.import_module(name)
    return UNITS


@functools.cache
def _modules() -> tuple[str, ...]:
    """This package's unit modules: listed from the file system once per process (every run asks)."""
    return tuple(f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def option_ids() -> tuple[str, ...]:
    """Every option id, in the simulator's registration order (which orders every listing of options).

    Raises RuntimeError when a simulated option has no unit: the product would size, export and rate it by
    default, which is what units exist to prevent.
    """
    sims, units = sim_options.load_all(), load_all()  # the simulations first: their import order is the order
    missing = [oid for oid in sims if oid not in units]
    if missing:
        raise RuntimeError(f"simulated option(s) without a unit in fitness/options/: {', '.join(missing)}")
    return tuple(sims)


def unit(option_id: str, field: str = "option") -> OptionUnit:
    """The unit of `option_id`; otherwise an InputError naming `field`, the valid ids and the nearest one."""
    units = load_all()
    if option_id not in units:
        ids = list(option_ids())
        raise InputError(field, f"one of {', '.join(ids)}", option_id, hint=did_you_mean(option_id, ids))
    return units[option_id]


def rubric_decisions(option_id: str) -> list[dict]:
    """The complexity rubric's decisions for an option (`catalogs/rubrics/complexity.yaml`, under the unit's
    `rubric` key). An option the rubric does not rate is an error, never a default rating."""
    key = unit(option_id).rubric
    rated = catalogs.rubric("complexity")["options"]
    if key not in rated:
        raise RuntimeError(f"option {option_id} has no entry {key!r} in catalogs/rubrics/complexity.yaml")
    return rated[key]


def problems() -> list[str]:
    """What the registered options lack, one line each (empty when every option is at parity)."""
    sims, units = sim_options.load_all(), load_all()
    rated = catalogs.rubric("complexity")["options"]
    out = [f"{oid}: simulated but has no unit in fitness/options/" for oid in sims if oid not in units]
    for oid, u in units.items():
        if oid not in sims:
            out.append(f"{oid}: has a unit but no simulation registered in sim/options/")
            continue
        fields = u.config_model.model_fields
        out += [f"{oid}: pin {k!r} is not a field of {u.config_model.__name__}" for k in u.pins if k not in fields]
        if not u.pins:
            out.append(f"{oid}: no pins (which knobs fix its capacity)")
        if not callable(u.search):
            out.append(f"{oid}: no right-sizing search")
        if not (callable(u.export) or isinstance(u.export, NoExport) and u.export.why.strip()):
            out.append(f"{oid}: no export builder, and no NoExport saying why")
        if not rated.get(u.rubric):
            out.append(f"{oid}: rubric entry {u.rubric!r} missing from catalogs/rubrics/complexity.yaml")
        if not (u.title.strip() and u.docs.strip()):
            out.append(f"{oid}: no docs (title and the section of docs/options.md)")
    return out
