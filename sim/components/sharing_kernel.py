"""The compiled loop of the processor-sharing pool with stages (`sim.components.sharing.SharingPool`).

Per instance, rows of 2-D arrays: `inst` (virtual clock, its time, next event), a heap of jobs (virtual
finish, sequence number, request) and a heap of requests between stages (hop end, sequence number,
request x stages + stage), both with `sim.components.pool`'s heap steps: the sequence number makes every
key distinct, so each pops in the order Python's heapq popped the tuples. Per request: the instance it is
on (-1: none), its stage and the jobs of that stage still running.
"""

from __future__ import annotations

import math

from sim.components.pool import _pop, _push
from sim.jit import inlined, kernel

# `n`: next arrival, sequence number; `inst` columns; what `serve` returns
K, SEQ = range(2)
V, T, DUE = range(3)
DONE, GROW = range(2)


@kernel
def serve(arr, work, idx, n, until, routable, inst, outs, busy, jv, js, jk, nj, ht, hs, hk, nh, at, stage, left,
          off, cols, hops, total, cap, start_s, finish_s):
    """Route every arrival from n[K] before `until` and run every instance up to `until` (see
    `sim.components.sharing`); GROW when an instance's heaps might not hold the next request's jobs (grow
    them and call again), else DONE. `total[0]` adds the work of every job started."""
    k, width = n[K], jv.shape[1]
    while routable.size > 0 and k < arr.size and arr[k] < until:
        a = arr[k]
        for p in range(routable.size):
            i = routable[p]
            if inst[i, DUE] <= a:
                _run(i, a, inst, outs, busy, jv, js, jk, nj, ht, hs, hk, nh, at, stage, left, off, cols, hops, work,
                     idx, n, total, cap, start_s, finish_s)
        iid = routable[0]
        for p in range(1, routable.size):  # the first of the fewest outstanding, in join order
            if outs[routable[p]] < outs[iid]:
                iid = routable[p]
        if (outs[iid] + 1) * _widest(off) > width:  # a request holds at most one stage's jobs or one hop
            n[K] = k
            return GROW
        _run(iid, a, inst, outs, busy, jv, js, jk, nj, ht, hs, hk, nh, at, stage, left, off, cols, hops, work, idx,
             n, total, cap, start_s, finish_s)  # bring its clock to a before jobs join
        outs[iid] += 1
        at[k], stage[k], left[k] = iid, -1, 0
        _enter(iid, k, 0, a, inst, jv, js, jk, nj, ht, hs, hk, nh, stage, left, off, cols, hops, work, idx, n, total,
               start_s)
        _run(iid, a, inst, outs, busy, jv, js, jk, nj, ht, hs, hk, nh, at, stage, left, off, cols, hops, work, idx,
             n, total, cap, start_s, finish_s)  # its next event changed
        k += 1
    n[K] = k
    for i in range(nj.size):
        if inst[i, DUE] <= until:
            _run(i, until, inst, outs, busy, jv, js, jk, nj, ht, hs, hk, nh, at, stage, left, off, cols, hops, work,
                 idx, n, total, cap, start_s, finish_s)
    return DONE


@inlined
def _widest(off):
    """The most jobs any stage runs at once."""
    w = 1
    for s in range(off.size - 1):
        if off[s + 1] - off[s] > w:
            w = off[s + 1] - off[s]
    return w


@inlined
def _enter(iid, k, s, t, inst, jv, js, jk, nj, ht, hs, hk, nh, stage, left, off, cols, hops, work, idx, n, total,
           start_s):
    """Request k reaches stage s at t: after its hop, or now (the instance's clock is at t)."""
    hop = hops[s]
    if hop > 0:
        n[SEQ] += 1
        _push(ht[iid], hs[iid], hk[iid], nh[iid], t + hop, n[SEQ], k * hops.size + s)
        nh[iid] += 1
    else:
        _start(iid, k, s, t, inst, jv, js, jk, nj, stage, left, off, cols, work, idx, n, total, start_s)


@inlined
def _start(iid, k, s, t, inst, jv, js, jk, nj, stage, left, off, cols, work, idx, n, total, start_s):
    """Put the jobs of request k's stage s in service on instance iid (its clock is at t)."""
    stage[k], left[k] = s, off[s + 1] - off[s]
    if s == 0:
        start_s[k if idx.size == 0 else idx[k]] = t
    v = inst[iid, V]
    for c in range(off[s], off[s + 1]):
        w = work[k, cols[c]]
        total[0] += w
        n[SEQ] += 1
        _push(jv[iid], js[iid], jk[iid], nj[iid], v + w, n[SEQ], k)
        nj[iid] += 1


@inlined
def _run(iid, until, inst, outs, busy, jv, js, jk, nj, ht, hs, hk, nh, at, stage, left, off, cols, hops, work, idx,
         n, total, cap, start_s, finish_s):
    """Process instance iid's departures and hop ends up to `until` (inclusive); set its next event. Inlined
    into `serve`, which runs it two or three times an arrival: a call passing its 26 arguments cost more than
    its work (a three-step pipeline on shared instances: 430 -> 170-200 ns a request, 2026-12-08)."""
    v, t = inst[iid, V], inst[iid, T]
    rate = 0.0
    while True:
        m = nj[iid]
        rate = (cap / m if m > cap else 1.0) if m else 0.0
        t_dep = t + (jv[iid, 0] - v) / rate if m else math.inf
        t_hop = ht[iid, 0] if nh[iid] else math.inf
        due = min(t_dep, t_hop)
        if due > until or due == math.inf:
            inst[iid, DUE] = due
            break
        if t_dep <= t_hop:
            v, t = jv[iid, 0], t_dep
            inst[iid, V], inst[iid, T] = v, t
            while nj[iid] > 0 and jv[iid, 0] <= v:
                k = jk[iid, 0]
                nj[iid] = _pop(jv[iid], js[iid], jk[iid], nj[iid])
                _depart(iid, k, t, inst, outs, busy, jv, js, jk, nj, ht, hs, hk, nh, at, stage, left, off, cols,
                        hops, work, idx, n, total, start_s, finish_s)
        else:
            v, t = v + rate * (t_hop - t), t_hop
            inst[iid, V], inst[iid, T] = v, t
            code = hk[iid, 0]
            nh[iid] = _pop(ht[iid], hs[iid], hk[iid], nh[iid])
            _start(iid, code // hops.size, code % hops.size, t, inst, jv, js, jk, nj, stage, left, off, cols, work,
                   idx, n, total, start_s)
    if until != math.inf:
        inst[iid, V], inst[iid, T] = v + rate * (until - t), until


@inlined
def _depart(iid, k, t, inst, outs, busy, jv, js, jk, nj, ht, hs, hk, nh, at, stage, left, off, cols, hops, work,
            idx, n, total, start_s, finish_s):
    """A job of request k finished at t; the request moves on when its stage's last job is done."""
    left[k] -= 1
    if left[k]:
        return
    if stage[k] + 1 < hops.size:
        _enter(iid, k, stage[k] + 1, t, inst, jv, js, jk, nj, ht, hs, hk, nh, stage, left, off, cols, hops, work,
               idx, n, total, start_s)
        return
    at[k] = -1
    finish_s[k if idx.size == 0 else idx[k]] = t
    if t > busy[iid]:
        busy[iid] = t
    outs[iid] -= 1
