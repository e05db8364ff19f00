"""Weight sliders in the HTML report: the reader moves a weight and the feasible options re-rank in the page.

The scores are already in the report: each feasible option's five fitness values. The page re-ranks them by
the same rule as `fitness.engine.ranking.weighted` (the weighted mean of the values that exist, weights
renormalised over those), so a slider set to the workload's weights shows the report's own ranking. A page
opened as `report.html#weights=cost:0,latency:100` starts with those weights (links to a what-if).
"""

from __future__ import annotations

import html
import json

import catalogs
from fitness.engine.ranking import FITNESS_KEYS
from fitness.engine.result import Recommendation

_SCRIPT = """(function(){
const data = JSON.parse(document.getElementById('fitness-data').textContent);
const sliders = {};
data.keys.forEach(k => { sliders[k] = document.getElementById('w-' + k); });
function rerank() {
  const w = {};
  data.keys.forEach(k => {
    w[k] = Number(sliders[k].value);
    document.getElementById('wv-' + k).textContent = sliders[k].value;
  });
  const rows = data.options.map(o => {
    let total = 0, sum = 0;
    data.keys.forEach(k => {
      const f = o.fitness[k];
      if (f !== null && f !== undefined) { total += w[k]; sum += w[k] * f; }
    });
    return {option: o.option, score: total > 0 ? sum / total : 0, cost: o.monthly_usd};
  });
  rows.sort((a, b) => (b.score - a.score) || (a.cost - b.cost));
  const list = document.getElementById('live-ranking');
  list.textContent = '';
  rows.forEach(r => { const li = document.createElement('li'); li.dataset.option = r.option;
    li.textContent = r.option + ': ' + r.score.toFixed(3); list.appendChild(li); });
  document.getElementById('live-top').textContent = rows.length ? rows[0].option : 'none';
}
data.keys.forEach(k => sliders[k].addEventListener('input', rerank));
rerank();
// #weights=k:v,... moves those sliders as a hand would: set the value, fire the input event
const asked = /weights=([^&]*)/.exec(decodeURIComponent(location.hash));
if (asked) asked[1].split(',').forEach(p => {
  const [k, v] = p.split(':');
  if (sliders[k]) { sliders[k].value = v; sliders[k].dispatchEvent(new Event('input', {bubbles: true})); }
});
})();"""


def _weights(rec: Recommendation) -> dict[str, float]:
    """The workload's weights (the rubric's defaults when the recommendation does not carry them)."""
    given = (rec.context or {}).get("weights") or catalogs.rubric("fitness")["default_weights"]
    return {k: float(given.get(k, 0.0)) for k in FITNESS_KEYS}


def weights_html(rec: Recommendation) -> str:
    """The sliders, the live ranking and their script; '' with fewer than two feasible options."""
    feasible = [o for o in rec.options if o.feasible and o.fitness]
    if len(feasible) < 2:
        return ""
    w, e = _weights(rec), html.escape
    total = sum(w.values()) or 1.0
    data = {"keys": list(FITNESS_KEYS), "options": [{"option": o.option, "fitness": dict(o.fitness),
                                                     "monthly_usd": o.cost_usd.monthly} for o in feasible]}
    payload = json.dumps(data).replace("<", "\\u003c")  # no `</script>` can close the data block
    sliders = "".join(
        f"<label>{e(k)} <input type='range' min='0' max='100' step='1' id='w-{e(k)}' "
        f"value='{round(100 * w[k] / total)}'> <span id='wv-{e(k)}'></span></label>" for k in FITNESS_KEYS)
    return (f"<section class='weights' id='weights'><h3>Re-rank with your own weights</h3><p>Move a weight: the "
            f"feasible options re-rank by the weighted mean of their fitness values, as the report ranks them. "
            f"Top: <strong id='live-top'></strong></p><div class='sliders'>{sliders}</div><ol id='live-ranking'>"
            f"</ol><script type='application/json' id='fitness-data'>{payload}</script><script>{_SCRIPT}</script>"
            f"</section>")
