"""docs/options.md: one section per hosting option, each written from the option's unit (`OptionUnit.docs`),
in the order the simulator registers them, so an option added with its unit is documented by regenerating."""

from __future__ import annotations

from fitness.docgen.markdown import HEADER
from fitness.options import option_ids, unit

_INTRO = """\
# Hosting options: what each one models

Each hosting option is one simulation module in `sim/options/`, registered with its id (a contract), its
config model (the knobs, listed in [workload.md](workload.md#options)), the `slo.delivery` modes it can
serve and the application patterns it can host, and one unit in `fitness/options/` holding what the product
adds: which knobs pin it, its right-sizing search, its export, its complexity rubric entry and the section
below. The per-request work runs in plain loops over arrays (the "data planes" in `sim/components/`); only
the control plane (autoscaler ticks, instance launches) runs as SimPy processes (`sim/engine.py`). Every
price, limit and platform delay comes from the catalog ([catalog.md](catalog.md)); the catalog facts each
option reads are listed under it. What the options share, how they are billed, which patterns each hosts
and what none models yet: [mechanics.md](mechanics.md).
"""


def options_markdown() -> str:
    """docs/options.md: the introduction, a contents line, then every option's section from its unit."""
    units = [unit(oid) for oid in option_ids()]
    toc = "- " + " · ".join(f"[`{u.id}`](#{u.id})" for u in units)
    sections = [f'<a id="{u.id}"></a>\n\n## `{u.id}`: {u.title}\n\n{u.docs.strip()}' for u in units]
    return "\n\n".join([HEADER, _INTRO.rstrip(), toc, *sections]) + "\n"
