"""Hosting options: one module each, registered with `@register`, discovered by `load_all()`.

An option is a config model (frozen pydantic, validated at the boundary) and a function
`simulate(scenario, config) -> SimResult`. Adding a module under `sim/options/` adds an option: nothing
else in the engine or in `fitness` changes.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from sim.errors import InputError, did_you_mean
from sim.results import SimResult
from sim.scenario import Scenario


@dataclass(frozen=True)
class OptionDef:
    """A registered hosting option: its id (a contract), config model and simulate function."""

    id: str
    config_model: type[BaseModel]
    simulate: Callable[[Scenario, BaseModel], SimResult]
    summary: str
    delivers: frozenset[str]
    patterns: frozenset[str]
    module: str = ""
    credits: bool = False
    """Whether the data plane simulates the CPU credits of burstable (T) types; the decision engine never
    sizes an option that does not onto one."""
    check: Callable[[BaseModel, Any, list[str]], None] | None = None
    """`check(config, catalog, names)`: raises InputError (field relative to the config) for a setting the
    provider's API would refuse or that names no model of the workload (`names`, after count expansion), so
    `validate` reports it before anything is simulated."""
    ignores: frozenset[str] = frozenset()
    """Catalog facts (dotted paths, e.g. `serverless.keep_alive_s`) the option never reads: a what-if on one
    cannot change its run, so the decision engine does not simulate it (tests/test_sensitivity_runs.py
    holds every option to what it declares)."""


REGISTRY: dict[str, OptionDef] = {}
"""Every registered option by id; `load_all` orders it by module name (whoever imported what first)."""


ALL_DELIVERY = frozenset({"sync", "async", "offline"})
"""How results reach callers: sync (the caller waits), async (polls or is notified), offline (by a deadline)."""


def register(option_id: str, config: type[BaseModel], delivers: frozenset[str] = ALL_DELIVERY,
             patterns: frozenset[str] = frozenset(), credits: bool = False,
             check: Callable[[BaseModel, Any], None] | None = None, ignores: frozenset[str] = frozenset()) -> Callable:
    """Decorator: register `fn(scenario, config) -> SimResult` as hosting option `option_id`.

    `delivers` lists the `slo.delivery` modes the option can serve; `patterns` the application patterns
    (serial, scatter-gather, aggregate) it can host beyond one model per request (dynamic selection is
    resolved to one model per request, so every option hosts it). The decision engine rules an option
    out, with the reason, for a workload that needs another delivery or pattern. `credits`: the data plane
    simulates the CPU credits of burstable types (`sim.components.credits`); `check` and `ignores` see
    `OptionDef`.
    """
    def deco(fn: Callable[[Scenario, BaseModel], SimResult]) -> Callable:
        summary = (fn.__doc__ or "").strip().splitlines()[0] if fn.__doc__ else option_id
        REGISTRY[option_id] = OptionDef(option_id, config, fn, summary, frozenset(delivers), frozenset(patterns),
                                        fn.__module__, credits, check, frozenset(ignores))
        return fn
    return deco


def option_def(option_id: str, field: str = "option") -> OptionDef:
    """The registered option `option_id`; otherwise an InputError naming `field`, the valid ids and the
    nearest one."""
    registry = load_all()
    if option_id not in registry:
        raise InputError(field, f"one of {', '.join(registry)}", option_id,
                         hint=did_you_mean(option_id, list(registry)))
    return registry[option_id]


@functools.cache
def _modules() -> tuple[str, ...]:
    """This package's option modules, sorted: listed from the file system once per process (every run asks)."""
    return tuple(sorted(f"{__name__}.{info.name}" for info in pkgutil.iter_modules(__path__)
                        if not info.name.startswith("_")))


def load_all() -> dict[str, OptionDef]:
    """Import every module of this package so each registers itself; returns the registry, ordered by module
    name (the order of every listing of options), so the order never depends on which module was imported
    first."""
    names = _modules()
    for name in names:
        importlib.import_module(name)
    rank = {name: i for i, name in enumerate(names)}
    ordered = sorted(REGISTRY.values(), key=lambda d: rank.get(d.module, len(rank)))  # stable: within a module too
    if list(REGISTRY.values()) != ordered:
        REGISTRY.clear()
        REGISTRY.update((d.id, d) for d in ordered)
    return REGISTRY
