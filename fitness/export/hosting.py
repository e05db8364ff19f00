"""How the simulated hosting maps onto SageMaker resources, shared by the options' export builders:
which models got an endpoint, which containers an endpoint holds, and how callers reach them."""

from __future__ import annotations

from fitness.export.aws import ExportPlan
from sim.model import ModelSpec


def hosted(plan: ExportPlan, knob: str) -> list[ModelSpec]:
    """The models the simulation gave an endpoint or job stream (those with a `knob` of their own)."""
    return [m for m in plan.models if knob in plan.config.model(m.name)]


def separate(plan: ExportPlan, n: int, kind: str) -> None:
    """Say how callers reach models hosted as one endpoint each, the way the simulation called them."""
    app = plan.wl.application
    if app is None:
        if n > 1:
            plan.notes.add(f"One {kind} endpoint per model, as simulated: callers invoke the endpoint of the model "
                           "they need.")
        return
    if app.pattern == "dynamic-selection":
        shares = ", ".join(f"{k} {v:g}" for k, v in app.routes.items())
        plan.notes.add(f"Dynamic selection: your router picks one of the {n} {kind} endpoints per request "
                       f"(simulated shares: {shares}).")
        return
    if app.pattern == "serial":
        order = " -> ".join(app.steps)
    else:
        order = f"{', '.join(app.branches)} at once" + (f", then {app.aggregator}" if app.aggregator else "")
    plan.notes.add(f"The {app.pattern} application is hosted as {n} separate {kind} endpoints: your code calls them "
                   f"({order}), one network call each, as the simulation did.")


def used(plan: ExportPlan) -> list[ModelSpec]:
    """The models an endpoint hosts: the application's, in first-use order, or every model."""
    app, by_name = plan.wl.application, {m.name: m for m in plan.models}
    if app is None or app.pattern == "dynamic-selection":
        return list(plan.models)
    names = app.steps + app.branches + ((app.aggregator,) if app.aggregator else ())
    return [by_name[n] for n in dict.fromkeys(names)]


def containers(plan: ExportPlan, models: list[ModelSpec], workers: int | None = None) -> list[dict]:
    """Container definitions with unique hostnames (a step used twice gets a numbered second container)."""
    seen: dict[str, int] = {}
    out = []
    for m in models:
        seen[m.name] = seen.get(m.name, 0) + 1
        host = plan.name(m.name if seen[m.name] == 1 else f"{m.name}-{seen[m.name]}")
        out.append(plan.container(m, workers, hostname=host))
    return out
