"""The compiled loops of the tandem pool (`sim.components.tandem`): FIFO per step, and the loop that shares
vCPUs (and applies burstable factors), over arrays.

Worker free times are heaps per (instance, step) with `sim.components.pool`'s heap steps. The requests in
flight are (finish, instance, position) and the requests on their way to a later step (reaches the step,
request x steps + step, instance), both heaps of `pool`; every key is distinct, so each pops in the order
Python's heapq popped the tuples. The CPU jobs assigned on an instance are two sorted rows (starts,
finishes), searched and inserted as `bisect` did.
"""

from __future__ import annotations

import math

from sim.components.pool import _pop, _push, _replace
from sim.jit import inlined, kernel

# `n`: next arrival, entries of the in-flight heap, entries of the step heap; what the loops return
K, ND, NE = range(3)
DONE, GROW_DONE, GROW_STEPS, GROW_JOBS = range(4)


@inlined
def _least_outstanding(routable, outs):
    """The first of the fewest outstanding requests, in join order."""
    iid = routable[0]
    for p in range(1, routable.size):
        if outs[routable[p]] < outs[iid]:
            iid = routable[p]
    return iid


@kernel
def serve_fifo(arr, cols, idx, n, until, routable, free, outs, busy, df, di, dj, ef, ec, ei, wait, top, hop,
               start_s, finish_s):
    """Every arrival before `until` at its first step and every later step reached before `until`, in order of
    arrival at that step; GROW_DONE / GROW_STEPS when that heap is full (grow it, call again), else DONE."""
    k, nd, ne, steps = n[K], n[ND], n[NE], cols.shape[1]
    end = arr.size if routable.size > 0 else k  # arrivals wait while no instance is in service
    while True:
        if nd == df.size or ne == ef.size:
            n[K], n[ND], n[NE] = k, nd, ne
            return GROW_DONE if nd == df.size else GROW_STEPS
        a = arr[k] if k < end and arr[k] < until else math.inf
        if ne > 0 and ef[0] <= a and ef[0] < until:
            ready, code, iid = ef[0], ec[0], ei[0]  # request r reaches step s of instance iid
            ne = _pop(ef, ec, ei, ne)
            r, s = code // steps, code % steps
        elif a < math.inf:
            while nd > 0 and df[0] <= a:
                outs[di[0]] -= 1
                nd = _pop(df, di, dj, nd)
            ready, r, s, iid = a, k, 0, _least_outstanding(routable, outs)
            outs[iid] += 1
            k += 1
        else:
            break
        row = free[iid, s]
        begin = row[0] if row[0] > ready else ready
        waited = begin - ready
        wait[s] += waited
        if waited > top[s]:
            top[s] = waited
        f = begin + cols[r, s]
        _replace(row, f)
        j = r if idx.size == 0 else idx[r]
        if s == 0:
            start_s[j] = begin
        if s < steps - 1:
            _push(ef, ec, ei, ne, f + hop, r * steps + s + 1, iid)  # ties at a step: the earlier arrival first
            ne += 1
            continue
        _push(df, di, dj, nd, f, iid, j)  # the position tells a failed instance its requests
        nd += 1
        if f > busy[iid]:
            busy[iid] = f
        finish_s[j] = f
    n[K], n[ND], n[NE] = k, nd, ne
    return DONE


@kernel
def serve_shared(arr, cols, idx, n, until, routable, free, outs, busy, df, di, dj, rows, bufs, cnt, is_cpu, vcpus,
                 slow, routed, wait, top, hop, start_s, finish_s):
    """Every arrival before `until` through all its steps at once, CPU steps stretched by the vCPU share at
    their start and every step by its instance's `slow` factor (the work added to `routed`), as
    `TandemPool._advance_shared` says; GROW_DONE / GROW_JOBS when that room is short, else DONE.

    An instance's CPU job starts (kind 0) and finishes (kind 1) are each a sorted multiset: a sorted row
    `rows`[kind, iid, lo:lo + m] and a small sorted buffer `bufs`[kind, iid, :nb] (`cnt`[kind, iid] = lo, m,
    nb) that new values go into and that is merged into the row when full. Counting is a binary search in
    each; dropping the smallest moves `lo` on. An insertion then costs the buffer's size, not the row's."""
    k, nd = n[K], n[ND]
    while k < arr.size and arr[k] < until:
        a = arr[k]
        while nd > 0 and df[0] <= a:
            outs[di[0]] -= 1
            nd = _pop(df, di, dj, nd)
        iid = _least_outstanding(routable, outs)
        gone = _count(rows, bufs, cnt, 1, iid, a, True)  # finished by a: that many of the smallest leave
        short = False
        for kind in range(2):
            _drop(rows, bufs, cnt, kind, iid, gone)
            short = short or not _fits(rows, cnt, kind, iid, bufs.shape[2])
        if nd == df.size or short:
            n[K], n[ND] = k, nd
            return GROW_DONE if nd == df.size else GROW_JOBS
        j = k if idx.size == 0 else idx[k]
        f = _through(k, j, iid, a, cols, free, rows, bufs, cnt, is_cpu, vcpus, slow[iid], routed, wait, top, hop,
                     start_s)
        outs[iid] += 1
        _push(df, di, dj, nd, f, iid, j)
        nd += 1
        busy[iid] = max(busy[iid], f)
        finish_s[j] = f
        k += 1
    n[K], n[ND] = k, nd
    return DONE


@inlined
def _through(k, j, iid, a, cols, free, rows, bufs, cnt, is_cpu, vcpus, sl, routed, wait, top, hop, start_s):
    """Request k (log position j), arrived at a, through every step of instance iid; its last finish."""
    ready = f = a
    for s in range(cols.shape[1]):
        row = free[iid, s]
        begin = row[0] if row[0] > ready else ready
        if s == 0:
            start_s[j] = begin
        waited = begin - ready
        wait[s] += waited
        top[s] = max(top[s], waited)
        work = cols[k, s] * sl
        routed[iid] += work
        if is_cpu[s]:
            overlap = _count(rows, bufs, cnt, 0, iid, begin + work, False) - _count(rows, bufs, cnt, 1, iid, begin,
                                                                                   True)
            work /= min(1.0, vcpus / (overlap + 1))
        f = begin + work
        _replace(row, f)
        if is_cpu[s]:
            _insert(rows, bufs, cnt, 0, iid, begin)
            _insert(rows, bufs, cnt, 1, iid, f)
        ready = f + hop
    return f


@inlined
def _count(rows, bufs, cnt, kind, iid, x, right):
    """Values of the multiset below x (`right`: at most x), as bisect_left (bisect_right) on a sorted list."""
    lo, m, nb = cnt[kind, iid, 0], cnt[kind, iid, 1], cnt[kind, iid, 2]
    return _bisect(rows[kind, iid], lo, lo + m, x, right) - lo + _bisect(bufs[kind, iid], 0, nb, x, right)


@inlined
def _bisect(a, lo, hi, x, right):
    """Where x goes in the sorted a[lo:hi]: after the values below it (`right`: at most it), as numpy's
    searchsorted on the slice (a loop: kernels create no slices)."""
    while lo < hi:
        mid = (lo + hi) >> 1
        if a[mid] < x or (right and a[mid] == x):
            lo = mid + 1
        else:
            hi = mid
    return lo


@inlined
def _drop(rows, bufs, cnt, kind, iid, g):
    """Remove the g smallest values of the multiset (ties: either copy; the values left are the same)."""
    lo, m, nb = cnt[kind, iid, 0], cnt[kind, iid, 1], cnt[kind, iid, 2]
    row, buf = rows[kind, iid], bufs[kind, iid]
    i = b = 0
    for _ in range(g):
        if b < nb and (i >= m or buf[b] < row[lo + i]):
            b += 1
        else:
            i += 1
    for q in range(nb - b):  # shift left in place (a loop: kernels create no slices)
        buf[q] = buf[q + b]
    cnt[kind, iid, 0], cnt[kind, iid, 1], cnt[kind, iid, 2] = lo + i, m - i, nb - b


@inlined
def _fits(rows, cnt, kind, iid, size):
    """Room after the row for one more buffer's merge, moving the row back to 0 when at least as many were
    dropped as are live (so each value moves O(1) times); False: the rows must grow."""
    lo, m = cnt[kind, iid, 0], cnt[kind, iid, 1]
    if lo + m + size <= rows.shape[2]:
        return True
    if lo < m:
        return False
    for q in range(m):  # lo >= m: every value moves down past the ones still to move
        rows[kind, iid, q] = rows[kind, iid, lo + q]
    cnt[kind, iid, 0] = 0
    return m + size <= rows.shape[2]


@inlined
def _insert(rows, bufs, cnt, kind, iid, x):
    """Add x to the buffer (after the values equal to it); a full buffer is merged into the row."""
    lo, m, nb = cnt[kind, iid, 0], cnt[kind, iid, 1], cnt[kind, iid, 2]
    buf, row = bufs[kind, iid], rows[kind, iid]
    p = _bisect(buf, 0, nb, x, True)
    for q in range(nb, p, -1):
        buf[q] = buf[q - 1]
    buf[p] = x
    nb += 1
    if nb == buf.size:  # merge from the back: row[lo:lo + m] and buf into row[lo:lo + m + nb]
        i, b, w = lo + m - 1, nb - 1, lo + m + nb - 1
        while b >= 0:
            if i >= lo and row[i] > buf[b]:
                row[w] = row[i]
                i -= 1
            else:
                row[w] = buf[b]
                b -= 1
            w -= 1
        m, nb = m + nb, 0
    cnt[kind, iid, 1], cnt[kind, iid, 2] = m, nb
