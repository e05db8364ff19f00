"""The general Triton host compiled: any ensemble, batches sharing the instance's GPUs, business-logic steps.

The rules are `batcher`'s module docstring (Triton's dynamic batcher, processor-sharing GPUs, ensembles), in
the same order of events: on each host, batch ends and timers in time order (a batch end first when both
fall at once), then the models whose queues changed are dispatched in model order; an arrival enters its
first stage and dispatches. The interpreted host these kernels replace is tests/reference_triton.py, and
tests/test_kernels.py holds them to it request for request.

Every host of a pool lives in arrays (`TritonHosts`), so that routing and serving a stretch of arrivals is
one compiled call. A model's queue is a linked list through the requests (`nxt[model]`), a batch a run of
it (first request, size); a host's running batches are a short array (at most its execution slots) scanned
for the earliest virtual finish, its timers (queue delays and business-logic steps) a binary heap that grows:
a kernel stops before an event that could fill the heap, and `TritonHosts` grows it and calls again (every
kernel can be called again from where it stopped). The steps of an event (dispatch, entering a stage, a
branch or a batch ending) are compiled into the two loops Python calls (`serve`, `run_until`): a call passing
twenty-odd arrays cost more than most steps (logic-model-logic ensemble: 1.21 M -> 1.48 M requests/s,
2026-12-08), at the price of a longer first compilation.
"""

from __future__ import annotations

import math

import numpy as np

from sim.jit import allocating, inlined, kernel

# per-host floats (fh) and ints (ih)
NOW, BUSY, GT, GV, GBUSY = 0, 1, 2, 3, 4
OUT, NRUN, GSEQ, TN, TSEQ = 0, 1, 2, 3, 4
# per (host, model) ints (qi); per request ints (rq); per model ints (mi) and floats (mp)
HEAD, TAIL, QLEN, FREE = 0, 1, 2, 3
STAGE, LEFT, HOST = 0, 1, 2
SLOTS, LOGIC, HASWORK = 0, 1, 2
DELAY_S, FIXED_S, PER_ITEM_S, FRACTION, MEAN_S = 0, 1, 2, 3, 4
_DELAY, _LOGIC = 0, 1


@inlined
def _push(h, t, kind, x, ih, tt, ti):
    """Timer (t, next seq, kind, x) onto host h's heap."""
    k = ih[h, TN]
    tt[h, k], ti[h, k, 0], ti[h, k, 1], ti[h, k, 2] = t, ih[h, TSEQ], kind, x
    ih[h, TSEQ] += 1
    ih[h, TN] += 1
    while k > 0:
        p = (k - 1) // 2
        if tt[h, p] < tt[h, k] or (tt[h, p] == tt[h, k] and ti[h, p, 0] < ti[h, k, 0]):
            break
        _swap(h, p, k, tt, ti)
        k = p


@inlined
def _swap(h, a, b, tt, ti):
    tt[h, a], tt[h, b] = tt[h, b], tt[h, a]
    for c in range(3):
        ti[h, a, c], ti[h, b, c] = ti[h, b, c], ti[h, a, c]


@inlined
def _pop(h, ih, tt, ti):
    """Remove host h's earliest timer (its fields stay readable at the old last slot)."""
    last = ih[h, TN] - 1
    _swap(h, 0, last, tt, ti)
    ih[h, TN] = last
    k = 0
    while True:
        a, b, m = 2 * k + 1, 2 * k + 2, k
        if a < last and (tt[h, a] < tt[h, m] or (tt[h, a] == tt[h, m] and ti[h, a, 0] < ti[h, m, 0])):
            m = a
        if b < last and (tt[h, b] < tt[h, m] or (tt[h, b] == tt[h, m] and ti[h, b, 0] < ti[h, m, 0])):
            m = b
        if m == k:
            return last
        _swap(h, k, m, tt, ti)
        k = m


@inlined
def _rate(h, ih, gpus):
    n = ih[h, NRUN]
    return 1.0 if n <= gpus else gpus / n


@inlined
def _sync(h, t, fh, ih, gpus):
    """`SharedGpu._sync`: the virtual clock and the busy GPU-seconds moved to t."""
    if ih[h, NRUN] > 0 and t > fh[h, GT]:
        fh[h, GV] += (t - fh[h, GT]) * _rate(h, ih, gpus)
        fh[h, GBUSY] += (t - fh[h, GT]) * min(ih[h, NRUN], gpus)
    fh[h, GT] = max(fh[h, GT], t)


@inlined
def _first_run(h, ih, rv, rm):
    """The running batch with the smallest (virtual finish, seq), or -1."""
    best = -1
    for s in range(ih[h, NRUN]):
        if best < 0 or rv[h, s] < rv[h, best] or (rv[h, s] == rv[h, best] and rm[h, s, 0] < rm[h, best, 0]):
            best = s
    return best


@inlined
def _next_finish(h, fh, ih, rv, rm, gpus):
    s = _first_run(h, ih, rv, rm)
    if s < 0:
        return math.inf
    return fh[h, GT] + max(0.0, rv[h, s] - fh[h, GV]) / _rate(h, ih, gpus)


@inlined
def _batch_work(i, first, size, nxt, mi, mp, work):
    """`BatchPlan.work_s` of the batch of `size` requests from `first` on, same operations in the same order
    (a model without samples has an explicit curve: the curve)."""
    if not mi[i, HASWORK]:
        return mp[i, FIXED_S] + mp[i, PER_ITEM_S] * size
    total, j = 0.0, first
    for _ in range(size):
        total += work[i, j]
        j = nxt[i, j]
    if not math.isnan(mp[i, FIXED_S]):
        curve = mp[i, FIXED_S] + mp[i, PER_ITEM_S] * size
        return curve * (total / size) / mp[i, MEAN_S] if mp[i, MEAN_S] > 0 else curve
    return total - mp[i, FRACTION] * total * (size - 1) / size


@inlined
def _mark_start(j, t, start_s):
    if not start_s[j] <= t:  # NaN (not started yet) or a later branch: keep the earliest start
        start_s[j] = t


@inlined
def _dispatch(h, i, t, fh, ih, qi, qa, hist, rv, rm, tt, ti, rq, nxt, qt, work, mi, mp, due, start_s, gpus):
    """`TritonHost._dispatch`: batches of model i while a slot is free and a batch is due."""
    while qi[h, i, FREE] > 0 and qi[h, i, QLEN] > 0:
        queued = qi[h, i, QLEN]
        size = due[i, min(queued, due.shape[1] - 1)]
        if size == 0:
            deadline = qt[i, qi[h, i, HEAD]] + mp[i, DELAY_S]
            if t < deadline:
                if qa[h, i] != deadline:
                    qa[h, i] = deadline
                    _push(h, deadline, _DELAY, i, ih, tt, ti)
                return
            size = queued
        first, j = qi[h, i, HEAD], qi[h, i, HEAD]
        for _ in range(size - 1):
            j = nxt[i, j]
        qi[h, i, HEAD] = nxt[i, j] if size < queued else -1
        qi[h, i, QLEN] -= size
        if qi[h, i, QLEN] == 0:
            qi[h, i, TAIL] = -1
        qi[h, i, FREE] -= 1
        hist[h, i, size] += 1
        w = _batch_work(i, first, size, nxt, mi, mp, work)
        _sync(h, t, fh, ih, gpus)
        r = ih[h, NRUN]
        rv[h, r], rm[h, r, 0], rm[h, r, 1], rm[h, r, 2], rm[h, r, 3] = fh[h, GV] + w, ih[h, GSEQ], i, first, size
        ih[h, NRUN] += 1
        ih[h, GSEQ] += 1
        j = first
        for _ in range(size):
            if rq[j, STAGE] == 0:
                _mark_start(j, t, start_s)
            j = nxt[i, j]


@inlined
def _enter_stage(h, j, t, k, ih, qi, tt, ti, rq, nxt, qt, work, mi, touched, start_s, path_of, pstart, pcount, pm):
    """Request j starts stage k of its path on host h at t: it joins each of the stage's models' queues (a
    business-logic step starts at once)."""
    p = path_of[j]
    rq[j, STAGE], rq[j, LEFT] = k, pcount[p, k]
    for c in range(pcount[p, k]):
        i = pm[pstart[p, k] + c]
        if mi[i, LOGIC]:
            if k == 0:
                _mark_start(j, t, start_s)
            _push(h, t + work[i, j], _LOGIC, j, ih, tt, ti)
            continue
        if qi[h, i, QLEN] == 0:
            qi[h, i, HEAD] = j
        else:
            nxt[i, qi[h, i, TAIL]] = j
        qi[h, i, TAIL] = j
        qi[h, i, QLEN] += 1
        qt[i, j] = t
        touched[i] = 1


@inlined
def _branch_done(h, j, t, fh, ih, qi, tt, ti, rq, nxt, qt, work, mi, touched, start_s, path_of, plen, pstart,
                 pcount, pm, finish_s):
    """`TritonHost._branch_done`: the last of request j's branches in its stage ended at t (the caller counts
    the others down): it moves to its next stage, or is answered."""
    k = rq[j, STAGE] + 1
    if k < plen[path_of[j]]:
        _enter_stage(h, j, t, k, ih, qi, tt, ti, rq, nxt, qt, work, mi, touched, start_s, path_of, pstart, pcount,
                     pm)
        return
    rq[j, STAGE] = -1
    ih[h, OUT] -= 1
    fh[h, BUSY] = max(fh[h, BUSY], t)
    finish_s[j] = t


@inlined
def _dispatch_touched(h, t, fh, ih, qi, qa, hist, rv, rm, tt, ti, rq, nxt, qt, work, mi, mp, due, start_s, touched,
                      gpus):
    for i in range(touched.size):
        if touched[i]:
            touched[i] = 0
            _dispatch(h, i, t, fh, ih, qi, qa, hist, rv, rm, tt, ti, rq, nxt, qt, work, mi, mp, due, start_s, gpus)


@inlined
def _due_by(h, t, fh, ih, rv, rm, tt, gpus):
    """Whether host h has a batch end or a timer at or before t."""
    return _next_finish(h, fh, ih, rv, rm, gpus) <= t or (ih[h, TN] > 0 and tt[h, 0] <= t)


@inlined
def _end_batch(h, t, fh, ih, qi, rv, rm, tt, ti, rq, nxt, qt, work, mi, touched, start_s, path_of, plen, pstart,
               pcount, pm, finish_s, gpus):
    """`SharedGpu.finish` at t (the earliest virtual finish), then each of its requests' branch is done."""
    r = _first_run(h, ih, rv, rm)
    _sync(h, t, fh, ih, gpus)
    fh[h, GV] = max(fh[h, GV], rv[h, r])  # snap the clock onto the finish, so rounding never ends one early
    i, j, size = rm[h, r, 1], rm[h, r, 2], rm[h, r, 3]
    last = ih[h, NRUN] - 1
    rv[h, r] = rv[h, last]
    for c in range(4):
        rm[h, r, c] = rm[h, last, c]
    ih[h, NRUN] = last
    qi[h, i, FREE] += 1
    touched[i] = 1
    for _ in range(size):
        after = nxt[i, j]  # read first: the request may join another queue of this model's list
        rq[j, LEFT] -= 1
        if rq[j, LEFT] == 0:
            _branch_done(h, j, t, fh, ih, qi, tt, ti, rq, nxt, qt, work, mi, touched, start_s, path_of, plen, pstart,
                         pcount, pm, finish_s)
        j = after


@kernel
def run_until(h, t_lim, s, gpus, need):
    """`TritonHost.run_until`: every batch end and timer of host h at or before `t_lim`. Returns False when
    it stopped for room in the timer heap (call again once it has grown)."""
    fh, ih, qi, qa, hist, rv, rm, tt, ti, rq, nxt, qt, work, mi, mp, due = s[:16]
    path_of, plen, pstart, pcount, touched, start_s, pm, finish_s = s[16:]
    while True:
        tg = _next_finish(h, fh, ih, rv, rm, gpus)
        tq = tt[h, 0] if ih[h, TN] > 0 else math.inf
        if (tg > t_lim and tq > t_lim) or (tg == math.inf and tq == math.inf):
            break
        if ih[h, TN] + need > tt.shape[1]:
            return False
        if tg <= tq:
            t = tg
            _end_batch(h, t, fh, ih, qi, rv, rm, tt, ti, rq, nxt, qt, work, mi, touched, start_s, path_of, plen,
                       pstart, pcount, pm, finish_s, gpus)
        else:
            k = _pop(h, ih, tt, ti)
            t, kind, x = tt[h, k], ti[h, k, 1], ti[h, k, 2]
            if kind == _DELAY:
                if t == qa[h, x]:
                    qa[h, x] = math.inf
                touched[x] = 1
            else:
                rq[x, LEFT] -= 1
                if rq[x, LEFT] == 0:
                    _branch_done(h, x, t, fh, ih, qi, tt, ti, rq, nxt, qt, work, mi, touched, start_s, path_of, plen,
                                 pstart, pcount, pm, finish_s)
        _dispatch_touched(h, t, fh, ih, qi, qa, hist, rv, rm, tt, ti, rq, nxt, qt, work, mi, mp, due, start_s,
                          touched, gpus)
    if t_lim != math.inf and t_lim > fh[h, NOW]:
        fh[h, NOW] = t_lim
    return True


@kernel
def serve(routable, k, until, arr, s, gpus, need):
    """Arrivals k, k+1, ... before `until`, each to the routable host with the fewest requests in flight (ties
    to the first in `routable`) once every host has processed what ended by its arrival. Returns (next k,
    done): not done when it stopped for room in a timer heap."""
    fh, ih, qi, qa, hist, rv, rm, tt, ti, rq, nxt, qt, work, mi, mp, due = s[:16]
    path_of, pstart, pcount, touched, start_s, pm = s[16], s[18], s[19], s[20], s[21], s[22]
    n = arr.size
    while k < n and arr[k] < until:
        a = arr[k]
        h = routable[0]
        for r in range(routable.size):
            g = routable[r]
            if _due_by(g, a, fh, ih, rv, rm, tt, gpus):
                if not run_until(g, a, s, gpus, need):
                    return k, False
            elif a > fh[g, NOW]:
                fh[g, NOW] = a  # what run_until does when nothing is due
        for r in range(1, routable.size):
            if ih[routable[r], OUT] < ih[h, OUT]:
                h = routable[r]
        if ih[h, TN] + need > tt.shape[1]:
            return k, False
        t = max(a, fh[h, NOW])  # `TritonHost.arrive`: at a, or when the host started if later
        ih[h, OUT] += 1
        rq[k, HOST] = h
        _enter_stage(h, k, t, 0, ih, qi, tt, ti, rq, nxt, qt, work, mi, touched, start_s, path_of, pstart, pcount, pm)
        _dispatch_touched(h, t, fh, ih, qi, qa, hist, rv, rm, tt, ti, rq, nxt, qt, work, mi, mp, due, start_s,
                          touched, gpus)
        k += 1
    return k, True


@allocating
def in_flight(h, rq):
    """The requests host h holds (queued, in a batch or between stages), in arrival order."""
    count = 0
    for j in range(rq.shape[0]):
        if rq[j, HOST] == h and rq[j, STAGE] >= 0:
            count += 1
    out = np.empty(count, np.int64)
    count = 0
    for j in range(rq.shape[0]):
        if rq[j, HOST] == h and rq[j, STAGE] >= 0:
            out[count] = j
            count += 1
    return out
