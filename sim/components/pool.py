"""Instance pool: instances of c workers, a FIFO queue per instance, least-outstanding or random routing;
compiled.

The data plane of real-time endpoints. Each request's start and finish follow from the Kiefer-Wolfowitz
recursion on its instance's worker free-times, so a request costs a few heap operations and no generator
process. The per-request loop is one compiled call (`sim.jit`) over arrays:
- per instance, a row of worker free times kept as a heap exactly as Python's heapq keeps a list (the same
  sift steps), so the rows hold what the lists of the interpreted pool held, in the same places;
- the requests in flight, a heap of (finish, instance, log position): every key is distinct, so it pops in
  one order whatever its layout;
- outstanding requests per instance id, and the routable ids in join order: least-outstanding routing takes
  the first of the fewest, as the interpreted pool did (tests/reference_pool.py, held to it request for
  request in tests/test_kernels.py). Random routing (SageMaker's default when an endpoint sets no
  RoutingConfig) takes routable id floor(u x count) for the request's own uniform u, drawn by the caller.
On a burstable type (`BurstablePool`) each instance's service times are multiplied by the factor its
`CreditBook` sets every tick: the same loop, given the factors (1 on any other type: the same bits).
"""

from __future__ import annotations

import math

import numpy as np

from sim.components.credits import CreditBook
from sim.components.fleet import Fleet, mark_lost
from sim.jit import inlined, kernel, warm_up
from sim.results import RequestLog

# the counters of `_n`: next arrival to route, entries of the in-flight heap
K, ND = range(2)


class InstancePool(Fleet):
    """Routes a slice of the request log across instances; instances join and leave via the control plane.

    `idx` are the positions in `log` this pool serves (in arrival order; None: every request), `service_s` their service
    times on this hardware. The log gets when each request's work finished; the caller's timeout is applied
    to it after the run (`sim.components.timeout`). `route_u`: one uniform in [0, 1) per request served, for
    random routing; None: least outstanding requests.
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, workers: int,
                 elastic: bool = True, route_u: np.ndarray | None = None) -> None:
        super().__init__()
        self.log, self.workers, self.elastic = log, workers, elastic
        self._rnd = np.zeros(0) if route_u is None else np.ascontiguousarray(route_u, np.float64)
        self._idx = np.zeros(0, np.int64) if idx is None else np.asarray(idx, np.int64)  # empty: every position
        self._arr = np.ascontiguousarray(log.arrival_s if idx is None else log.arrival_s[idx], np.float64)
        self._svc = np.ascontiguousarray(service_s, np.float64)
        self._n = np.zeros(2, np.int64)
        self._free = np.zeros((4, workers))
        self._outs = np.zeros(4, np.int64)   # per instance id: requests routed and not yet finished
        self._df, self._di, self._dj = np.zeros(64), np.zeros(64, np.int64), np.zeros(64, np.int64)

    @property
    def _next(self) -> int:
        """The first arrival not yet routed (`Fleet.idle`)."""
        return int(self._n[K])

    def _on_join(self, iid: int, t: float) -> None:
        if iid >= self._free.shape[0]:
            self._free = np.concatenate([self._free, np.zeros_like(self._free)])
            self._outs = np.concatenate([self._outs, np.zeros_like(self._outs)])
        self._free[iid] = t
        self._outs[iid] = 0
        self._settle(t)

    def _settle(self, t: float) -> None:
        """Count completions up to t out of the outstanding counters."""
        self._n[ND] = _count_out(self._df, self._di, self._dj, int(self._n[ND]), t, self._outs)

    def _outstanding(self, t: float) -> list[int]:
        self._settle(t)
        return [int(self._outs[i]) for i in self.routable]

    def _lose(self, iid: int, pos: int, t: float) -> int:
        """Drop iid's requests in flight at t: its entries of the in-flight heap with a later finish (or, for a
        pinned single instance, which keeps no such entries, every later finish)."""
        nd = int(self._n[ND])
        df, di, dj = self._df[:nd], self._di[:nd], self._dj[:nd]
        if not self.elastic and len(self.joined_s) == 1:
            k = self._next
            served = self._idx[:k] if self._idx.size else np.arange(k)
            lost = served[self.log.finish_s[served] > t]
        else:
            lost = dj[(di == iid) & (df > t)]
        keep = di != iid  # nothing of it is counted out again
        order = np.lexsort((dj[keep], di[keep], df[keep]))  # sorted keys are a heap
        m = int(order.size)
        self._df[:m], self._di[:m], self._dj[:m] = df[keep][order], di[keep][order], dj[keep][order]
        self._n[ND] = m
        return mark_lost(self.log, lost, t)

    def advance(self, until: float) -> None:
        """Serve every arrival before `until`."""
        if self.routable:
            n = len(self.joined_s)
            self._advance(until, np.ones(n), np.zeros(n))

    def _advance(self, until: float, slow: np.ndarray, routed: np.ndarray) -> None:
        """Serve every arrival before `until`, service times multiplied by their instance's `slow` factor and
        the work scheduled added to its `routed` entry (on the single pinned instance, by the caller)."""
        busy = np.array(self.busy_until)
        if not self.elastic and len(self.joined_s) == 1:
            _serve_single(self._arr, self._svc, self._idx, self._n, until, self._free[0], busy, slow[0],
                          self.log.start_s, self.log.finish_s)
        else:
            routable = np.array(self.routable, np.int64)
            while _serve(self._arr, self._svc, self._idx, self._n, until, self._free, self._outs, routable, self._rnd,
                         self._df, self._di, self._dj, busy, slow, routed, self.log.start_s, self.log.finish_s):
                self._df, self._di, self._dj = (np.concatenate([a, np.zeros_like(a)])
                                                for a in (self._df, self._di, self._dj))
        self.busy_until[:] = busy.tolist()


class BurstablePool(InstancePool):
    """`InstancePool` on a burstable (T) type: each instance's service times are multiplied by the factor its
    `CreditBook` sets every tick (`sim.components.credits`), and the work it scheduled is kept in the book."""

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, workers: int,
                 credits: CreditBook, elastic: bool = True, route_u: np.ndarray | None = None) -> None:
        self.credits = credits  # before the base class: joins in its constructor would need it
        super().__init__(log, idx, service_s, workers, elastic, route_u)

    def _on_join(self, iid: int, t: float) -> None:
        self.credits.join(t)
        super()._on_join(iid, t)

    def credit_tick(self, t: float) -> None:
        """Settle the credits up to t (every arrival before t is routed): see `credit_ticks`."""
        free = self._free
        self.credits.tick(t, lambda iid, t1: sum(f - t1 for f in free[iid].tolist() if f > t1), self)

    def advance(self, until: float) -> None:
        """`InstancePool.advance` at the credits' factors. On one pinned instance the factor is constant
        between two control events, so the work scheduled is summed once per call."""
        if not self.routable:
            return
        book, k0 = self.credits, self._next
        slow, routed = np.array(book.slow), np.array(book.routed_s)
        self._advance(until, slow, routed)
        if not self.elastic and len(self.joined_s) == 1:
            if self._next > k0:
                book.routed_s[0] += book.slow[0] * float(self._svc[k0:self._next].sum())
        else:
            book.routed_s[:] = routed.tolist()


@warm_up
def _warm() -> None:
    """The kernels once: two instances past the in-flight heap's first room, a failure, one pinned instance."""
    for elastic, route_u in ((True, None), (True, np.linspace(0, 0.99, 80)), (False, None)):
        log = RequestLog.empty(np.arange(80) * 0.01, np.zeros(80, np.int32))
        pool = InstancePool(log, None, np.ones(80), 2, elastic, route_u)
        for _ in range(2 if elastic else 1):
            pool.join(0.0)
        pool.advance(0.5)
        pool.fail(0.6)
        pool.advance(math.inf)


@kernel
def _serve(arr, svc, idx, n, until, free, outs, routable, rnd, df, di, dj, busy, slow, routed, start_s, finish_s):
    """Route and serve the arrivals from n[K] before `until` (at random by `rnd` when it has a uniform per
    arrival, else to the least outstanding); True when the in-flight heap is full (grow it and call again),
    False when done."""
    k, nd, size, every, lor = n[K], n[ND], arr.size, idx.size == 0, rnd.size == 0
    while k < size and arr[k] < until:
        a = arr[k]
        while nd > 0 and df[0] <= a:
            outs[di[0]] -= 1
            nd = _pop(df, di, dj, nd)
        if nd == df.size:
            n[K], n[ND] = k, nd
            return True
        pos = 0
        if not lor:
            pos = min(int(rnd[k] * routable.size), routable.size - 1)
        else:
            for p in range(1, routable.size):  # the first of the fewest outstanding, in join order
                if outs[routable[p]] < outs[routable[pos]]:
                    pos = p
        iid = routable[pos]
        row = free[iid]
        s = row[0] if row[0] > a else a
        d = svc[k] * slow[iid]
        f = s + d
        routed[iid] += d
        _replace(row, f)
        outs[iid] += 1
        j = k if every else idx[k]
        _push(df, di, dj, nd, f, iid, j)
        nd += 1
        if f > busy[iid]:
            busy[iid] = f
        start_s[j] = s
        finish_s[j] = f
        k += 1
    n[K], n[ND] = k, nd
    return False


@kernel
def _serve_single(arr, svc, idx, n, until, row, busy, slow, start_s, finish_s):
    """One pinned instance: the plain FIFO multi-server recursion, no routing to keep count of."""
    k, size, every = n[K], arr.size, idx.size == 0
    b = busy[0]
    while k < size and arr[k] < until:
        a = arr[k]
        s = row[0] if row[0] > a else a
        f = s + svc[k] * slow
        _replace(row, f)
        if f > b:
            b = f
        j = k if every else idx[k]
        start_s[j] = s
        finish_s[j] = f
        k += 1
    n[K] = k
    busy[0] = b


@kernel
def _count_out(df, di, dj, nd, t, outs):
    """Pop the requests in flight that finished by t, counting them out of `outs`; the entries left."""
    while nd > 0 and df[0] <= t:
        outs[di[0]] -= 1
        nd = _pop(df, di, dj, nd)
    return nd


@inlined
def _replace(row, f):
    """heapq.heapreplace(row, f) step for step (heapq._siftup then _siftdown), so the row's layout is the list's."""
    end, pos, child = row.size, 0, 1
    while child < end:
        right = child + 1
        if right < end and not row[child] < row[right]:
            child = right
        row[pos] = row[child]
        pos = child
        child = 2 * pos + 1
    while pos > 0:
        parent = (pos - 1) >> 1
        if f < row[parent]:
            row[pos] = row[parent]
            pos = parent
        else:
            break
    row[pos] = f


@inlined
def _less(df, di, dj, a, b):
    """Entry a before entry b: (finish, instance, position) compared in that order."""
    if df[a] != df[b]:
        return df[a] < df[b]
    if di[a] != di[b]:
        return di[a] < di[b]
    return dj[a] < dj[b]


@inlined
def _swap(df, di, dj, a, b):
    """Exchange entries a and b of the in-flight heap."""
    df[a], df[b] = df[b], df[a]
    di[a], di[b] = di[b], di[a]
    dj[a], dj[b] = dj[b], dj[a]


@inlined
def _push(df, di, dj, nd, f, i, j):
    """Add (f, i, j) to the in-flight heap of `nd` entries (room checked by the caller)."""
    df[nd], di[nd], dj[nd] = f, i, j
    pos = nd
    while pos > 0:
        parent = (pos - 1) >> 1
        if not _less(df, di, dj, pos, parent):
            break
        _swap(df, di, dj, pos, parent)
        pos = parent


@inlined
def _pop(df, di, dj, nd):
    """Remove the first entry of the in-flight heap of `nd` entries; the entries left."""
    nd -= 1
    _swap(df, di, dj, 0, nd)
    pos = 0
    while True:
        child = 2 * pos + 1
        if child >= nd:
            break
        if child + 1 < nd and _less(df, di, dj, child + 1, child):
            child += 1
        if not _less(df, di, dj, child, pos):
            break
        _swap(df, di, dj, pos, child)
        pos = child
    return nd
