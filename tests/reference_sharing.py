"""The interpreted processor-sharing pool of commit 2bd837b, whose one-job path
`sim.components.sharing_single` replaced by compiled kernels.

Kept as the reference the kernels are held to, request for request (tests/test_kernels.py).
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from sim.components.fleet import Fleet, mark_lost
from sim.components.seq import block, floats, floats_at, positions
from sim.results import RequestLog


class SharingPool(Fleet):
    """Requests `idx` of `log` (None: all of them) on instances of `vcpus` vCPUs shared by processor sharing.

    `work` holds one column per container a request visits (seconds at full speed, one row per request
    in `idx`); `stages` lists, in order, the columns run at once in each stage; `hops_s[k]` is the delay
    before stage k starts (in-host or network hops; 0 for none). The log gets when each request's work
    finished (the caller's timeout is applied after the run, `sim.components.timeout`).
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, work: np.ndarray, stages: tuple[tuple[int, ...], ...],
                 vcpus: int, hops_s: tuple[float, ...] | None = None) -> None:
        super().__init__()
        work = np.asarray(work, float)
        work = work[:, None] if work.ndim == 1 else work
        self.log, self.vcpus, self.stages = log, vcpus, stages
        self.hops_s = tuple(hops_s) if hops_s is not None else (0.0,) * len(stages)
        self._idx, self._arr = positions(idx, log.n), floats_at(log.arrival_s, idx)
        self._cols = [floats(work[:, j]) for j in range(work.shape[1])]
        self._next = 0
        self._seq = 0                         # tie-breaker for heap entries
        self._flight: dict[int, list] = {}    # request -> [instance, stage, jobs of the stage still running]
        self._v: list[float] = []             # per instance: virtual clock (service per job so far)
        self._t: list[float] = []             # per instance: the time the virtual clock refers to
        self._jobs: list[list] = []           # per instance: heap of (virtual finish, seq, request)
        self._hops: list[list] = []           # per instance: heap of (time, seq, request) between stages
        self._due: list[float] = []           # per instance: time of its next event (inf: none)
        self.work_s = 0.0                     # work of every job started, for utilisation
        self._single = stages == ((0,),) and self.hops_s == (0.0,)  # one job per request: the fast path

    def _on_join(self, iid: int, t: float) -> None:
        if len(self.routable) == 1:
            self._hold_backlog(t)  # requests held with no instance in service start when this one joins
        self._v.append(0.0)
        self._t.append(t)
        self._jobs.append([])
        self._hops.append([])
        self._due.append(math.inf)

    def advance(self, until: float) -> None:
        """Route every arrival before `until`, then run every instance up to `until`."""
        if self._single:
            return self._advance_single(until)
        arr, k, n = self._arr, self._next, len(self._arr)
        if self.routable:
            due, routable, run = self._due, self.routable, self._run
            while k < n and arr[k] < until:
                a = arr[k]
                for iid in routable:
                    if due[iid] <= a:
                        run(iid, a)
                iid = self.least_outstanding()
                run(iid, a)  # bring its clock to a before jobs join
                self.out[iid] += 1
                self._flight[k] = [iid, -1, 0]
                self._enter(iid, k, 0, a)
                run(iid, a)  # its next event changed
                k += 1
            self._next = k
        for iid in range(len(self._jobs)):
            if self._due[iid] <= until:
                self._run(iid, until)

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop iid's requests in flight at t: every job in its heap and every request between stages on it.
        `advance(t)` ran each instance with an event by t up to t, so none of them has finished."""
        if self._single:
            lost = [self._idx[k] for _, k in self._jobs[iid]]
        else:
            ks = [k for k, state in self._flight.items() if state[0] == iid]
            for k in ks:
                del self._flight[k]
            lost = [self._idx[k] for k in ks]
        self._jobs[iid].clear()
        self._hops[iid].clear()
        self._due[iid] = math.inf
        self.out[iid] = 0
        return mark_lost(self.log, lost, t)

    def _enter(self, iid: int, k: int, stage: int, t: float) -> None:
        """Request k reaches `stage` at t: after its hop, or now (the instance's clock is at t)."""
        hop = self.hops_s[stage]
        if hop > 0:
            self._seq += 1
            heapq.heappush(self._hops[iid], (t + hop, self._seq, k, stage))
        else:
            self._start(iid, k, stage, t)

    def _start(self, iid: int, k: int, stage: int, t: float) -> None:
        """Put the jobs of request k's `stage` in service on instance iid (its clock is at t)."""
        state = self._flight[k]
        cols = self.stages[stage]
        state[1], state[2] = stage, len(cols)
        if stage == 0:
            self.log.start_s[self._idx[k]] = t
        v, jobs = self._v[iid], self._jobs[iid]
        for c in cols:
            w = self._cols[c][k]
            self.work_s += w
            self._seq += 1
            heapq.heappush(jobs, (v + w, self._seq, k))

    def _run(self, iid: int, until: float) -> None:
        """Process instance iid's departures and hop ends up to `until` (inclusive); set its next event."""
        jobs, hops, cap = self._jobs[iid], self._hops[iid], self.vcpus
        v, t = self._v[iid], self._t[iid]
        while True:
            n = len(jobs)
            rate = (cap / n if n > cap else 1.0) if n else 0.0
            t_dep = t + (jobs[0][0] - v) / rate if n else math.inf
            t_hop = hops[0][0] if hops else math.inf
            due = min(t_dep, t_hop)
            if due > until or due == math.inf:
                self._due[iid] = due
                break
            if t_dep <= t_hop:
                v, t = jobs[0][0], t_dep
                self._v[iid], self._t[iid] = v, t
                while jobs and jobs[0][0] <= v:
                    self._depart(iid, heapq.heappop(jobs)[2], t)
            else:
                v, t = v + rate * (t_hop - t), t_hop
                self._v[iid], self._t[iid] = v, t
                _, _, k, stage = heapq.heappop(hops)
                self._start(iid, k, stage, t)
        if until != math.inf:
            self._v[iid], self._t[iid] = v + rate * (until - t), until

    def _depart(self, iid: int, k: int, t: float) -> None:
        """A job of request k finished at t; the request moves on when its stage's last job is done."""
        state = self._flight[k]
        state[2] -= 1
        if state[2]:
            return
        if state[1] + 1 < len(self.stages):
            self._enter(iid, k, state[1] + 1, t)
            return
        del self._flight[k]
        self.log.finish_s[self._idx[k]] = t
        if t > self.busy_until[iid]:
            self.busy_until[iid] = t
        self.out[iid] -= 1

    def _advance_single(self, until: float) -> None:
        """`advance` for one job per request (direct invocation of one container), with the instance's
        clock kept inline: the same arithmetic as `_run`, without stages, hops or per-request state."""
        arr, col, k0, n = self._arr, self._cols[0], self._next, len(self._arr)
        v, clock, jobs, due, routable, out = self._v, self._t, self._jobs, self._due, self.routable, self.out
        cap, push, settle, k = self.vcpus, heapq.heappush, self._settle_single, k0
        while routable and k < n and arr[k] < until:
            a = arr[k]
            for iid in routable:
                if due[iid] <= a:
                    settle(iid, a)
            # Fleet.least_outstanding inline: calling it cost 7-8% of req/s on benchmarks.options' multi-container
            # line and on 4 pinned instances (CPU time, best of 15 and 9 runs: 1,049k vs 971k, 632k vs 583k)
            iid = routable[0] if len(routable) == 1 else min(routable, key=out.__getitem__)
            heap = jobs[iid]
            m = len(heap)
            if m:
                v[iid] += (cap / m if m > cap else 1.0) * (a - clock[iid])
            clock[iid] = a
            push(heap, (v[iid] + col[k], k))
            out[iid] += 1
            m += 1
            due[iid] = a + (heap[0][0] - v[iid]) * (m / cap if m > cap else 1.0)
            k += 1
        self._next = k
        if k > k0:  # under processor sharing service starts on arrival; per batch of arrivals, not per request
            self.log.start_s[block(self._idx, k0, k)] = np.frombuffer(arr, np.float64)[k0:k]
            self.work_s += float(np.frombuffer(col, np.float64)[k0:k].sum())
        for iid in range(len(jobs)):
            if due[iid] <= until:
                settle(iid, until)

    def _settle_single(self, iid: int, until: float) -> None:
        """Departures of instance iid up to `until` (inclusive) on the fast path; sets its next event."""
        heap, cap, pop = self._jobs[iid], self.vcpus, heapq.heappop
        v, t = self._v[iid], self._t[iid]
        idx, finish_s, busy = self._idx, self.log.finish_s, self.busy_until[iid]
        done = 0
        while heap:
            m = len(heap)
            slow = m / cap if m > cap else 1.0   # 1 / rate
            t_dep = t + (heap[0][0] - v) * slow
            if t_dep > until:
                break
            v, k = pop(heap)
            t = t_dep
            finish_s[idx[k]] = t
            done += 1
        self.out[iid] -= done
        if done and t > busy:
            self.busy_until[iid] = t
        if heap:
            m = len(heap)
            if until != math.inf:
                v, t = v + (cap / m if m > cap else 1.0) * (until - t), until
            self._due[iid] = t + (heap[0][0] - v) * (m / cap if m > cap else 1.0)
        else:
            self._due[iid] = math.inf
            t = until if until != math.inf else t
        self._v[iid], self._t[iid] = v, t
