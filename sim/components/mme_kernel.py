"""The compiled loop of the multi-model pool (`sim.components.mme_pool`): routing, the two LRU tiers of each
instance's cache, the loads requests wait for, and each instance's FIFO queue, over arrays.

Per (instance, model): `ready` (when its latest load ends), `stamp` / `dstamp` (last use, from the
instance's clock: the least recently used is the smallest), `inmem` / `ondisk`, and the lists `res` /
`dres` of what each tier holds (scanned for the smallest stamp on eviction). Per model, `hold` lists the
routable instances holding it, in the order they loaded it. The heaps of requests in flight (finish,
instance, position) and of requests waiting for a load (load end, arrival index, instance) use the
in-flight heap of `sim.components.pool`; every key is distinct, so each pops in one order.
"""

from __future__ import annotations

from sim.components.pool import _pop, _push, _replace
from sim.jit import inlined, kernel

# `n`: next arrival, entries of the in-flight and loading heaps, delayed hits
K, ND, NL, DELAYED = range(4)
N_COUNTERS = 4
# per instance `cnt`: the cache counters (in `mme_pool._COUNTERS` order), its clock, the tiers' sizes
HITS, MISSES, EVICTIONS, DISK_HITS, DOWNLOADS, DISK_EVICTIONS, CLOCK, NRES, NDRES = range(9)
N_CACHE = 9
# per instance `sizes`: memory in use, its peak, disk in use (MB)
USED, PEAK, DISK_USED = range(3)
N_SIZES = 3
# what `serve` returns
DONE, GROW_DONE, GROW_LOADING = range(3)


@kernel
def serve(arr, svc, mod, idx, n, until, routable, free, outs, busy, hold, nh, ready, stamp, inmem, res, ondisk,
          dstamp, dres, sizes, cnt, mem_mb, size_mb, disk_s, down_s, budgets, df, di, dj, lf, lk, li,
          start_s, finish_s, cold, wready, wload):
    """Route and serve every arrival from n[K] before `until`, and release every load ending before it (see
    `sim.components.mme_pool`); returns DONE, or GROW_DONE / GROW_LOADING when that heap is full (grow it and
    call again: the state is saved at the step that stopped)."""
    k, nd, nl = n[K], n[ND], n[NL]
    while routable.size > 0 and k < arr.size and arr[k] < until:
        a = arr[k]
        if nl > 0 and lf[0] <= a:
            nd, nl = _release_loads(a, True, lf, lk, li, nl, svc, idx, free, busy, df, di, dj, nd, start_s,
                                    finish_s)
            if nl > 0 and lf[0] <= a:  # stopped for want of room: loads end before this arrival is routed
                n[K], n[ND], n[NL] = k, nd, nl
                return GROW_DONE
        while nd > 0 and df[0] <= a:
            outs[di[0]] -= 1
            nd = _pop(df, di, dj, nd)
        if nd == df.size or nl == lf.size:
            n[K], n[ND], n[NL] = k, nd, nl
            return GROW_DONE if nd == df.size else GROW_LOADING
        m = mod[k]
        iid = _route(m, routable, outs, hold, nh, sizes, free.shape[1])
        load = _access(iid, m, a, stamp, inmem, res, ondisk, dstamp, dres, sizes, cnt, hold, nh, mem_mb, size_mb,
                       disk_s, down_s, budgets)
        outs[iid] += 1
        r = _ready_at(iid, m, a, load, ready, hold, nh, n)
        if r > a:
            _push(lf, lk, li, nl, r, k, iid)
            nl += 1
            j = k if idx.size == 0 else idx[k]
            cold[j] = True
            if wready.size > 0:  # tracked
                wready[j], wload[j] = r, load
        else:
            nd = _release(a, k, iid, svc, idx, free, busy, df, di, dj, nd, start_s, finish_s)  # warm: queued now
        k += 1
    nd, nl = _release_loads(until, False, lf, lk, li, nl, svc, idx, free, busy, df, di, dj, nd, start_s, finish_s)
    n[K], n[ND], n[NL] = k, nd, nl
    return GROW_DONE if nl > 0 and lf[0] < until else DONE


@inlined
def _ready_at(iid, m, a, load, ready, hold, nh, n):
    """When a request for m that arrived at a on iid joins its queue: at once on a hit; at the end of the load
    found running (a delayed hit, counted) or of the load it starts (a miss: iid now holds m)."""
    if load < 0:
        r = ready[iid, m]
        if r > a:
            n[DELAYED] += 1
        return r
    hold[m, nh[m]] = iid
    nh[m] += 1
    ready[iid, m] = a + load
    return a + load


@inlined
def _release_loads(t, inclusive, lf, lk, li, nl, svc, idx, free, busy, df, di, dj, nd, start_s, finish_s):
    """Queue the requests whose load ended before t (or at t, `inclusive`), in order of load end, while the
    in-flight heap has room; the heaps' entries after."""
    while nl > 0 and (lf[0] <= t if inclusive else lf[0] < t) and nd < df.size:
        nd = _release(lf[0], lk[0], li[0], svc, idx, free, busy, df, di, dj, nd, start_s, finish_s)
        nl = _pop(lf, lk, li, nl)
    return nd, nl


@inlined
def _release(r, k, iid, svc, idx, free, busy, df, di, dj, nd, start_s, finish_s):
    """Request k joins iid's FIFO queue at r (its arrival, or the end of the load it waited for); the
    in-flight entries after. The in-flight entry's position tells a failed instance its requests."""
    row = free[iid]
    j = k if idx.size == 0 else idx[k]
    s = row[0] if row[0] > r else r
    f = s + svc[k]
    _replace(row, f)
    _push(df, di, dj, nd, f, iid, j)
    if f > busy[iid]:
        busy[iid] = f
    start_s[j] = s
    finish_s[j] = f
    return nd + 1


@inlined
def _least_outstanding(routable, outs, sizes):
    """The routable instance with the fewest outstanding requests, ties to the least memory in use, then to
    the first joined."""
    best = routable[0]
    for p in range(1, routable.size):
        i = routable[p]
        if outs[i] < outs[best] or (outs[i] == outs[best] and sizes[i, USED] < sizes[best, USED]):
            best = i
    return best


@inlined
def _route(m, routable, outs, hold, nh, sizes, workers):
    """Instance for a request for model m (see `sim.components.mme_pool`)."""
    if nh[m] == 0:
        return _least_outstanding(routable, outs, sizes)
    iid = hold[m, 0]
    for p in range(1, nh[m]):
        if outs[hold[m, p]] < outs[iid]:
            iid = hold[m, p]
    if outs[iid] >= workers and nh[m] < routable.size:
        alt = _least_outstanding(routable, outs, sizes)
        if outs[alt] < workers:
            return alt
    return iid


@inlined
def _access(iid, m, t, stamp, inmem, res, ondisk, dstamp, dres, sizes, cnt, hold, nh, mem_mb, size_mb, disk_s,
            down_s, budgets):
    """Use model m on instance iid: -1 if it is in memory (a hit), else the seconds its load takes."""
    cnt[iid, CLOCK] += 1
    tick = cnt[iid, CLOCK]
    if inmem[iid, m]:
        stamp[iid, m] = tick
        if ondisk[iid, m]:  # the artifact's recency follows use, so disk evicts cold artifacts first
            dstamp[iid, m] = tick
        cnt[iid, HITS] += 1
        return -1.0
    cnt[iid, MISSES] += 1
    _admit(iid, m, tick, mem_mb, budgets[0], inmem, stamp, res, sizes, USED, cnt, NRES, EVICTIONS, hold, nh, True)
    if sizes[iid, USED] > sizes[iid, PEAK]:
        sizes[iid, PEAK] = sizes[iid, USED]
    if ondisk[iid, m]:
        dstamp[iid, m] = tick
        cnt[iid, DISK_HITS] += 1
        return disk_s[m]
    cnt[iid, DOWNLOADS] += 1
    _admit(iid, m, tick, size_mb, budgets[1], ondisk, dstamp, dres, sizes, DISK_USED, cnt, NDRES, DISK_EVICTIONS,
           hold, nh, False)
    return down_s[m]


@inlined
def _admit(iid, m, tick, mb, budget, held_in, stamps, held, sizes, used, cnt, count, evictions, hold, nh, routes):
    """Put m in one tier of iid's cache (memory, or disk): least recently used models leave until its `mb[m]`
    fit the budget, each leaving the routing table too when the tier `routes` (memory)."""
    need = mb[m]
    while cnt[iid, count] > 0 and sizes[iid, used] + need > budget:
        old = _pop_lru(iid, stamps, held, cnt, count)
        held_in[iid, old] = False
        cnt[iid, evictions] += 1
        # an empty tier is exactly empty: float drift must not leave a phantom remainder
        sizes[iid, used] = sizes[iid, used] - mb[old] if cnt[iid, count] > 0 else 0.0
        if routes:
            drop_holder(hold, nh, old, iid)
    held_in[iid, m] = True
    stamps[iid, m] = tick
    held[iid, cnt[iid, count]] = m
    cnt[iid, count] += 1
    sizes[iid, used] += need


@inlined
def _pop_lru(iid, stamps, held, cnt, count):
    """Remove and return the least recently used model of a tier (the smallest stamp among `held`)."""
    size = cnt[iid, count]
    p = 0
    for q in range(1, size):
        if stamps[iid, held[iid, q]] < stamps[iid, held[iid, p]]:
            p = q
    old = held[iid, p]
    held[iid, p] = held[iid, size - 1]
    cnt[iid, count] = size - 1
    return old


@kernel
def drop_holder(hold, nh, m, iid):
    """Take instance iid off model m's holders, the others keeping their order."""
    p = 0
    while hold[m, p] != iid:
        p += 1
    for q in range(p, nh[m] - 1):
        hold[m, q] = hold[m, q + 1]
    nh[m] -= 1
