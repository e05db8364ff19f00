"""Warnings on a valid workload that is probably not what its author meant: values the API accepts but no
real deployment could have, such as a latency SLO far below one network call to an endpoint."""

from __future__ import annotations

from fitness.workload.spec import Workload
from sim.catalog import Catalog


def unit_warnings(wl: Workload, catalog: Catalog) -> list[str]:
    """One warning per latency SLO (the workload's, then each model's) below the catalog's cost of one call
    to a SageMaker endpoint (`co_hosting.endpoint_hop_ms`): no endpoint answers faster, so such a value is
    most likely seconds or microseconds written in a field that takes milliseconds."""
    hop_ms = catalog.co_hosting.endpoint_hop_ms.value
    slos = [("slo", wl.slo)] + [(f"models[{i}].slo", e.slo) for i, e in enumerate(wl.models) if e.slo]
    out = []
    for where, slo in slos:
        for key in ("p99_ms", "p95_ms"):
            value = getattr(slo, key)
            if value is not None and value < hop_ms:
                out.append(f"{where}.{key} is {value:g} ms, below the {hop_ms:g} ms one call to an endpoint "
                           f"takes on its own (catalog co_hosting.endpoint_hop_ms): the field is in "
                           f"milliseconds, so {value:g} s would be {key}: {value * 1000:g}; as written, no real "
                           "endpoint meets it.")
    return out
