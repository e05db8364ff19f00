"""What changed between two recommendations (`fitness diff OLD.json NEW.json`), for pull-request review.

Both files are `fitness recommend --format json` results. The diff names the decision first (the
recommended option and its deployable configuration), then, per option, what moved: feasibility, rank,
monthly cost, p99 and score, and the warnings added or gone. Figures come from the two files only.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fitness.errors import UserError
from fitness.export.build import read_result

MOVED = ("rank", "feasible", "monthly_usd", "p99_ms", "score")
"""The per-option figures compared, in the order of the table."""


@dataclass(frozen=True)
class Diff:
    """Two recommendations side by side: decision lines, one row per option that moved, warnings."""

    old: str
    new: str
    decision: list[str]
    rows: list[dict]
    warnings_added: list[str]
    warnings_gone: list[str]

    @property
    def changed(self) -> bool:
        """Whether anything differs: the decision, an option's figures or the warnings."""
        return bool(self.decision or self.rows or self.warnings_added or self.warnings_gone)


def load_result(path: Path) -> dict:
    """A `recommend --format json` result (`fitness.export.build.read_result`) whose options each name
    their option, or a user error naming the file and what is expected."""
    data = read_result(path)
    if "recommended" not in data or not all(isinstance(o, dict) and isinstance(o.get("option"), str)
                                            for o in data["options"]):
        raise UserError(f"{path}: not a recommendation: expected `recommended` and `options` (a list of objects "
                        "with `option`), as `fitness recommend --format json` writes.")
    return data


def figures(option: dict) -> dict:
    """The compared figures of one option of a result (None where the file has none)."""
    cost, lat = option.get("cost_usd") or {}, option.get("latency_ms") or {}
    return {"rank": option.get("rank"), "feasible": option.get("feasible"), "monthly_usd": cost.get("monthly"),
            "p99_ms": lat.get("p99"), "score": option.get("score")}


def chosen(result: dict) -> dict | None:
    """The recommended option's right-sized configuration (`sizing.<option>.chosen`), None if absent."""
    best = result.get("recommended")
    entry = (result.get("sizing") or {}).get(best) if best else None
    return entry.get("chosen") if isinstance(entry, dict) else None


def _decision(old: dict, new: dict) -> list[str]:
    """Lines on the recommended option and its configuration, when either changed."""
    out = []
    if old.get("recommended") != new.get("recommended"):
        out.append(f"recommended: {old.get('recommended') or 'none'} -> {new.get('recommended') or 'none'}")
    elif chosen(old) != chosen(new):
        a, b = chosen(old) or {}, chosen(new) or {}
        moved = [f"{k} {a.get(k, '-')} -> {b.get(k, '-')}" for k in dict.fromkeys([*a, *b]) if a.get(k) != b.get(k)]
        out.append(f"{new.get('recommended')} re-sized: {', '.join(moved)}")
    return out


def diff(old: dict, new: dict, old_name: str = "old", new_name: str = "new") -> Diff:
    """What changed from `old` to `new` (two loaded results): per option, the figures of `MOVED` that differ,
    as {"option", <figure>: (old, new)} rows; options present in one file only show None on the other side."""
    a = {o["option"]: figures(o) for o in old["options"]}
    b = {o["option"]: figures(o) for o in new["options"]}
    rows = []
    for name in dict.fromkeys([*b, *a]):
        fa, fb = a.get(name, dict.fromkeys(MOVED)), b.get(name, dict.fromkeys(MOVED))
        moved = {k: (fa[k], fb[k]) for k in MOVED if fa[k] != fb[k]}
        if moved:
            rows.append({"option": name, **moved})
    wa, wb = list(old.get("warnings") or []), list(new.get("warnings") or [])
    return Diff(old_name, new_name, _decision(old, new), rows, [w for w in wb if w not in wa],
                [w for w in wa if w not in wb])


def _cell(key: str, pair: tuple | None) -> str:
    """One table cell: `old -> new` with the relative change of costs and latencies, '' when unchanged."""
    if pair is None:
        return ""
    a, b = pair
    text = {"monthly_usd": "{:,.2f}", "p99_ms": "{:,.1f}", "score": "{:.3f}"}.get(key, "{}")
    show = [("-" if v is None else text.format(v)) for v in (a, b)]
    rel = f" ({(b - a) / a:+.1%})" if key in ("monthly_usd", "p99_ms") and a and b is not None else ""
    return f"{show[0]} -> {show[1]}{rel}"


def render_markdown(d: Diff) -> str:
    """The diff as Markdown (a pull-request comment): the decision, a table of what moved, the warnings."""
    lines = [f"# fitness diff: {d.old} -> {d.new}", ""]
    if not d.changed:
        return "\n".join([*lines, "No change: the same recommendation, figures and warnings.", ""])
    lines += [f"- **{line}**" for line in d.decision] or ["- the recommendation is unchanged"]
    if d.rows:
        lines += ["", "| option | " + " | ".join(MOVED) + " |", "|---" * (len(MOVED) + 1) + "|"]
        lines += [f"| {r['option']} | " + " | ".join(_cell(k, r.get(k)) for k in MOVED) + " |" for r in d.rows]
    for title, items in (("Warnings added", d.warnings_added), ("Warnings gone", d.warnings_gone)):
        if items:
            lines += ["", f"{title}:", *[f"- {w}" for w in items]]
    return "\n".join([*lines, ""])
