"""CPU credits of burstable (T) instances in standard mode: per-instance balances and the throttled speed.

The mechanics every data plane on instances shares when its instance type has a `burstable` block
(`sim.catalog_facts.BurstableFacts`):

- A credit is one vCPU at 100% for one minute. A worker busy on a CPU model keeps one vCPU busy (workers
  are one per vCPU), so an instance spends (busy vCPUs) / 60 credits per second and earns
  credits_per_hour / 3600. It starts with `launch_credits` (spent first, not counted towards the cap) and
  keeps at most `max_credits` earned credits.
- With an empty balance the instance is throttled to its baseline: baseline_share_per_vcpu x vcpu vCPUs
  in all. Rule: a throttled instance serves every request it starts at speed
  baseline_vcpus / min(workers, vcpu), i.e. its service time is multiplied by `slow` = the inverse. That is
  the baseline shared by as many busy workers as there are vCPUs; throttling only lasts while demand is
  above the baseline, and then the instance's queue grows until every worker is busy, so the rule is
  exact where it matters (with fewer busy workers a real instance would give each a larger share).
- A control-plane tick (`credit_ticks`, every metric period) settles each instance's balance and sets
  its `slow` factor for the next tick: 1, or the throttled factor once the balance is empty; it goes back
  to 1 at the first tick with credits in hand. The data plane multiplies `slow[iid]` into each service
  time it starts and adds the worker-seconds it scheduled to `routed_s[iid]`, one multiply and one add
  per request: no process, no per-request event.

Accounting is by overlap with the tick, exactly: at a tick t the data plane has routed every arrival
before t, so a worker whose free time is past t is busy without a gap from t to that free time (a
request starting after t waited for it). Worker-seconds busy up to t are therefore routed_s minus the
work past t (`remaining(iid, t)`), and their difference between ticks is the busy time inside the tick.
CPU-seconds are busy worker-seconds / slow: the work left at the previous tick was scheduled with the
factor then in force and is counted with it, the rest with the factor of this tick. That is exact while the
work left at a tick is done within the next one (a backlog under a minute); a longer backlog at a change of
factor is counted with the newer factor.
The moment the balance ran out is interpolated inside the tick (`exhausted_s`); throttling itself starts
and ends on ticks, so at minute resolution it lags the balance by less than one tick.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator

import simpy

from sim.catalog import InstanceType
from sim.components.fleet import Fleet

EMPTY_CREDITS = 1e-9
"""A balance below this counts as empty: at the baseline, earning and spending cancel to rounding noise,
which must not read as credits in hand (a full-speed minute) every other tick."""


class CreditBook:
    """The credit balances of one pool's instances (in join order) and what the product reports of them.

    `slow[iid]` is the service-time factor in force (1: full speed); `routed_s[iid]` the worker-seconds of
    work scheduled on the instance so far, kept up by the data plane. `balance_min` is the lowest balance
    any instance had at a tick, `throttled_s` the instance-seconds spent throttled and `exhausted_s` when a
    balance first ran out (None: never), all up to `horizon_s`.
    """

    def __init__(self, it: InstanceType, workers: int, horizon_s: float) -> None:
        b = it.burstable
        if b is None:
            raise ValueError(f"{it.name} is not a burstable instance type")
        self.earn_per_s = b.credits_per_hour.value / 3600.0
        self.max_earned = b.max_credits.value
        self.launch = b.launch_credits.value
        self.vcpus_busy_max = min(workers, it.vcpu)  # vCPUs the workers can keep busy at once
        self.throttled_slow = max(1.0, self.vcpus_busy_max / it.baseline_vcpus)
        self.horizon_s = horizon_s
        self.slow: list[float] = []
        self.routed_s: list[float] = []
        self._done_s: list[float] = []     # per instance: busy worker-seconds up to its last tick
        self._left_s: list[float] = []     # per instance: worker-seconds scheduled past its last tick...
        self._left_slow: list[float] = []  # ... and the factor they were scheduled with
        self._earned: list[float] = []
        self._launch_left: list[float] = []
        self._t: list[float] = []          # per instance: time of its last tick (or its join)
        self.balance_min = self.launch
        self.throttled_s = 0.0
        self.exhausted_s: float | None = None

    def join(self, t: float) -> None:
        """An instance joins at t with its launch credits and no earned ones, at full speed."""
        for values, v in ((self.slow, 1.0), (self.routed_s, 0.0), (self._done_s, 0.0), (self._left_s, 0.0),
                          (self._left_slow, 1.0), (self._earned, 0.0), (self._launch_left, self.launch), (self._t, t)):
            values.append(v)

    def tick(self, t: float, remaining: Callable[[int, float], float], fleet: Fleet) -> None:
        """Settle every live instance's balance up to t and set its speed factor for the next tick.

        `remaining(iid, t)`: worker-seconds scheduled on instance iid after t; `fleet` says when retired
        instances drained (they earn and spend nothing after that).
        """
        for iid in range(len(self.slow)):
            end = t
            if fleet.left_s[iid] != math.inf:
                end = min(t, max(fleet.left_s[iid], fleet.busy_until[iid]))
            t0 = self._t[iid]
            if end > t0:
                self._settle(iid, t0, end, self.routed_s[iid] - remaining(iid, end))
                self._t[iid] = end

    def _settle(self, iid: int, t0: float, t1: float, done_s: float) -> None:
        """Instance iid over (t0, t1]: busy worker-seconds up to t1 are `done_s`."""
        dt, slow = t1 - t0, self.slow[iid]
        busy_s = done_s - self._done_s[iid]
        carried_s = min(busy_s, self._left_s[iid])  # done first: FIFO
        cpu_s = min(carried_s / self._left_slow[iid] + (busy_s - carried_s) / slow, self.vcpus_busy_max * dt)
        self._done_s[iid] = done_s
        self._left_s[iid], self._left_slow[iid] = self.routed_s[iid] - done_s, slow
        before = self._launch_left[iid] + self._earned[iid]
        spend = cpu_s / 60.0
        from_launch = min(self._launch_left[iid], spend)  # launch credits go first
        self._launch_left[iid] -= from_launch
        earned = self._earned[iid] + self.earn_per_s * dt - (spend - from_launch)
        if earned < 0 and self.exhausted_s is None and t0 < self.horizon_s:
            # Ran out inside the tick: at the tick's average net spend rate, the balance hit zero here.
            self.exhausted_s = t0 + dt * before / (before - earned - self._launch_left[iid])
        self._earned[iid] = min(self.max_earned, max(0.0, earned))
        balance = self._launch_left[iid] + self._earned[iid]
        if t0 < self.horizon_s:
            self.balance_min = min(self.balance_min, balance)
            if slow > 1.0:
                self.throttled_s += min(t1, self.horizon_s) - t0
        self.slow[iid] = self.throttled_slow if balance < EMPTY_CREDITS else 1.0

    def figures(self) -> dict[str, float | None]:
        """What the product reports: lowest balance, instance-seconds throttled, when credits ran out."""
        return {"cpu_credit_balance_min": self.balance_min, "throttled_s": self.throttled_s,
                "credits_exhausted_s": self.exhausted_s}


def credit_ticks(env: simpy.Environment, plane, period_s: float) -> Generator:
    """Process: every `period_s`, settle `plane`'s credits (`plane.credit_tick(t)`) after the engine served
    the arrivals before t. The autoscaler's metric period is used so the ticks fall on its events and
    split the data plane's runs no further."""
    while True:
        yield env.timeout(period_s)
        plane.credit_tick(env.now)
