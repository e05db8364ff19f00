"""Close calls as a decision fact: how far the recommended option leads the runner-up, on what it rests,
and whether the lead holds seed for seed.

Every option is simulated on the same arrivals and service times of each seed (common random numbers), so
the score difference between two options is paired per seed: its interval is far narrower than the two
scores' own intervals, and "the lead holds in 3 of 3 seeds" is a statement about the options, not the
noise. A lead smaller than the rubric's materiality threshold (`catalogs/rubrics/fitness.yaml`
`materiality`: a share of the leader's cost, a score difference) is reported as a close call whatever the
seeds say: a real closeness is a fact of the decision, not of the sampling.
"""

from __future__ import annotations

import catalogs
from fitness.engine.replications import interval
from fitness.engine.result import RankedOption, Recommendation


def _lead(weights: dict[str, float], a: RankedOption, b: RankedOption) -> dict[str, float]:
    """Per fitness function, its weighted contribution to a's score lead over b (normalised weights)."""
    total = sum(weights.values()) or 1.0
    return {k: w / total * ((a.fitness.get(k) or 0.0) - (b.fitness.get(k) or 0.0)) for k, w in weights.items()}


def close_call(weights: dict[str, float], rec: Recommendation) -> dict | None:
    """The leader against the runner-up (None with fewer than two feasible options): score and cost margins,
    the function the lead rests on and those the runner-up wins, the paired per-seed difference when
    replicated (`Intervals.scores`, the seeds in the same order for both), whether the call is close
    (within the materiality threshold in score or cost), and one sentence saying so."""
    ranked = rec.ranked
    if len(ranked) < 2:
        return None
    a, b = ranked[0], ranked[1]
    rule = catalogs.rubric("fitness")["materiality"]
    cost_a, cost_b = a.cost_usd.monthly, b.cost_usd.monthly
    cost_share = (cost_b - cost_a) / cost_a if cost_a else None
    lead = _lead(weights, a, b)
    rests_on = max(lead, key=lead.get)
    wins = [k for k, v in sorted(lead.items(), key=lambda kv: kv[1]) if v < 0]
    out = {"leader": a.option, "runner_up": b.option, "score_margin": a.score - b.score,
           "cost_margin_usd": cost_b - cost_a, "cost_margin_share": cost_share, "rests_on": rests_on,
           "runner_up_better_on": wins, "paired": None,
           "thresholds": {"score": rule["score"], "cost_share": rule["cost_share"]}}
    xs, ys = (a.ci.scores if a.ci else ()), (b.ci.scores if b.ci else ())
    if xs and ys and len(xs) == len(ys) and len(xs) > 1:
        diffs = [x - y for x, y in zip(xs, ys, strict=True)]
        iv = interval(diffs)
        out["paired"] = {"mean": iv.mean, "half_width": iv.half_width, "seeds": len(diffs),
                         "leader_ahead": sum(d > 0 for d in diffs)}
    out["close"] = (out["score_margin"] <= rule["score"]
                    or (cost_share is not None and abs(cost_share) <= rule["cost_share"]))
    out["statement"] = statement(out)
    return out


def statement(c: dict) -> str:
    """One sentence: the margin, whether it is a close call, what the lead rests on, what the seeds say."""
    a, b, t = f"`{c['leader']}`", f"`{c['runner_up']}`", c["thresholds"]
    share = c["cost_margin_share"]
    cost = ("" if share is None else
            f"; {b} costs {abs(c['cost_margin_usd']):,.2f} USD/month {'more' if share >= 0 else 'less'} "
            f"({abs(share):.1%})")
    verdict = (f"a close call (within {t['score']:g} in score or {t['cost_share']:.0%} in cost)" if c["close"]
               else "a clear lead")
    text = f"{a} leads {b} by {c['score_margin']:.3f} in score, {verdict}{cost}. The lead rests on {c['rests_on']}"
    if c["runner_up_better_on"]:
        text += f"; {b} is better on {', '.join(c['runner_up_better_on'])}"
    p = c["paired"]
    if p is not None:
        text += (f". Paired over {p['seeds']} seeds with common random numbers, the score difference is "
                 f"{p['mean']:.3f} ± {p['half_width']:.3f} and {a} is ahead in {p['leader_ahead']} of {p['seeds']}")
    return text + "."
