"""The ADR's cost section: every meter of each option's bill, the bill on demand, committed and with
operations cost side by side, and what reading the bill another way would change (`Recommendation.pricing`)."""

from __future__ import annotations

from fitness.engine.result import Recommendation
from fitness.report.blocks import Block, Bullets, Table, Text

METERS = {
    "instances": ("instance time", "`instances.<type>.price_per_hour`, billed per second"),
    "storage": ("ML storage", "`realtime.storage_price_per_gb_month` x the volume of each instance (the type's "
                              "`storage_gb`, else `realtime.default_volume_gb`; `multi_model.disk_gb` on a multi-model "
                              "endpoint; none on types with NVMe instance storage)"),
    "data": ("data processed",
             "`realtime.data_price_per_gb` (`serverless.data_price_per_gb` on serverless), in and out"),
    "compute": ("serverless compute", "`serverless.price_per_gb_second`, per ms of each request"),
    "provisioned_concurrency": ("provisioned concurrency",
                                "`serverless.provisioned_price_per_gb_second`, for as long as it is provisioned"),
    "provisioned_compute": ("compute on provisioned",
                            "`serverless.provisioned_inference_price_per_gb_second`, per ms of each request it serves"),
    "s3_storage": ("S3 storage",
                   "`object_store.storage_price_per_gb_month`, each object kept `object_store.retention_days`"),
    "s3_requests": ("S3 requests", "`object_store.put_price_per_1000` and `object_store.get_price_per_1000`"),
}
"""Each bill line: its name in the report and the catalog facts that price it."""


def _usd(x: float | None) -> str:
    return "-" if x is None else f"{x:,.2f}"


def cost_section(rec: Recommendation) -> list[Block]:
    """The bill's meters per option (USD/month), the readings side by side, and the what-ifs."""
    p = rec.pricing
    views = p.get("options") or {}
    if not views:
        return []
    meters = [m for m in METERS if any(m in v["meters_monthly_usd"] for v in views.values())]
    meters += sorted({m for v in views.values() for m in v["meters_monthly_usd"]} - set(meters))
    committed = p.get("commitment") is not None
    ops = p.get("engineer_usd_per_hour") is not None
    heads = ["option", *(METERS.get(m, (m,))[0] for m in meters), "on demand"]
    heads += ["committed"] if committed else []
    heads += ["ops h/month"] + (["operations", "TCO"] if ops else [])
    rows, marks = [], []
    for option, v in views.items():
        row = [option, *(_usd(v["meters_monthly_usd"].get(m)) for m in meters), _usd(v["on_demand_monthly_usd"])]
        row += [_usd(v.get("committed_monthly_usd"))] if committed else []
        row += [f"{v['operations_hours_per_month']:g}"]
        row += [_usd(v.get("operations_monthly_usd")), _usd(v.get("tco_monthly_usd"))] if ops else []
        rows.append(row)
        marks.append("best" if option == rec.recommended else "")
    out: list[Block] = [Text("p", _basis(p)), Table(heads, rows, marks),
                        Bullets([f"**{METERS[m][0]}**: {METERS[m][1]}." for m in meters if m in METERS])]
    items = [("**Changes the decision:** " if w["changes_decision"] else "") + w["statement"]
             for w in p.get("what_if") or []]
    return out + ([Text("h3", "Other readings of the bill"), Bullets(items)] if items else [])


def _basis(p: dict) -> str:
    """Which reading of the bill the cost function ranked on, and where the other figures come from."""
    text = ("USD per 730-hour month, every meter AWS bills the option, priced from the catalog (facts in "
            "Assumptions). The cost function ranks on the " + p.get("basis", "on-demand bill") + ".")
    if p.get("engineer_usd_per_hour") is not None:
        text += (f" Operations: engineer-hours per month from `catalogs/rubrics/operations.yaml` (a rubric of "
                 f"assumptions, counted from what each option runs) x {p['engineer_usd_per_hour']:,.2f} USD per "
                 "engineer-hour; TCO = on demand + operations.")
    else:
        text += (" Operations hours (from `catalogs/rubrics/operations.yaml`) are shown but not priced: give "
                 "`pricing.engineer_usd_per_hour` to add them to the cost function.")
    if p.get("commitment") is not None:
        text += (f" Committed: a {p['commitment']} SageMaker Savings Plan (catalog `commitments`) on instance usage, "
                 "committed at the level that minimises the bill; a what-if, the budget stays on demand.")
    return text
