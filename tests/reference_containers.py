"""Reference: the interpreted on-demand containers that the compiled `sim.components.containers` replaced
(commit b40b70c), kept only so that tests/test_kernels.py can hold the kernel to it request for request.

The data plane of serverless endpoints. A request takes a provisioned container if one is idle, else
the newest idle on-demand container (as SimFaaS does, which keeps old containers idle so they expire),
else a new container that pays the cold start, unless `max_concurrency` requests are already in
service, in which case it is throttled (no queue). An idle container dies `keep_alive_s` after its last
request; deaths are found lazily, which is exact because an idle container's death time is fixed.
"""

from __future__ import annotations

import heapq
import math
from array import array

import numpy as np

from sim.components.seq import floats, floats_at, positions
from sim.results import FAILED, THROTTLED, RequestLog


class OnDemandContainers:
    """Containers for the requests `idx` of `log` (None: all of them); `service_s` and `cold_s` are per request (s).

    A response later than `timeout_s` after arrival fails at arrival + timeout, and the platform stops the
    container's work there (`sim.components.timeout`).
    """

    def __init__(self, log: RequestLog, idx: np.ndarray | None, service_s: np.ndarray, cold_s: float,
                 max_concurrency: int, keep_alive_s: float, provisioned: int = 0,
                 timeout_s: float = math.inf, warm: int = 0) -> None:
        self.log, self.cold_s, self.max_conc = log, cold_s, max_concurrency
        self.keep_alive_s, self.timeout_s, self.provisioned = keep_alive_s, timeout_s, provisioned
        self._idx, self._arr, self._svc = positions(idx, log.n), floats_at(log.arrival_s, idx), floats(service_s)
        self._next = 0
        self._busy: list[tuple[float, int]] = []  # (free at, container id); provisioned ids are < 0
        self._idle: list[int] = []                # heap of -id: the newest idle container on top
        self._prov_idle = list(range(-provisioned, 0))
        self.created_s: list[float] = []          # per on-demand container
        self.died_s: list[float] = []             # per on-demand container (inf while alive)
        self.idle_since: list[float] = []
        self.billed_s = array("d")                # per request served or failed on demand: time in service
        self.provisioned_billed_s = array("d")    # the same, for requests on provisioned containers
        for cid in range(warm):  # warm at the start, as in steady state: idle since t = 0
            self.created_s.append(0.0)
            self.died_s.append(math.inf)
            self.idle_since.append(0.0)
            heapq.heappush(self._idle, -cid)

    @property
    def idle(self) -> bool:
        """True once every arrival has been served or refused."""
        return self._next >= len(self._arr)

    def advance(self, until: float) -> None:
        """Serve every arrival before `until`."""
        arr, svc, idx, k, n = self._arr, self._svc, self._idx, self._next, len(self._arr)
        log, busy, idle, prov = self.log, self._busy, self._idle, self._prov_idle
        since, died, created, billed = self.idle_since, self.died_s, self.created_s, self.billed_s
        prov_billed = self.provisioned_billed_s
        ka, cold_s, timeout, cap = self.keep_alive_s, self.cold_s, self.timeout_s, self.max_conc
        pop, push = heapq.heappop, heapq.heappush
        while k < n and arr[k] < until:
            a, j = arr[k], idx[k]
            while busy and busy[0][0] <= a:
                f, cid = pop(busy)
                if cid < 0:
                    prov.append(cid)
                else:
                    since[cid] = f
                    push(idle, -cid)
            cid, start = None, a
            if prov:
                cid = prov.pop()
            else:
                while idle:
                    c = -pop(idle)
                    if since[c] + ka > a:
                        cid = c
                        break
                    died[c] = since[c] + ka
            if cid is None:
                if len(busy) >= cap:
                    log.status[j] = THROTTLED
                    k += 1
                    continue
                cid = len(created)
                created.append(a)
                died.append(math.inf)
                since.append(a)
                start = a + cold_s
                log.cold[j] = True
            f = start + svc[k]
            # The timeout rule of sim.components.timeout, counted from arrival; the capped finish is when the
            # container is free again. Inline: a helper call here cost 4-8% of benchmarks.options' serverless
            # req/s (CPU time, best of 5 runs, three rounds: 920k vs 861k, 1,018k vs 936k, 752k vs 721k).
            if f - a > timeout:
                log.status[j] = FAILED
                f = a + timeout
            log.start_s[j], log.finish_s[j] = start, f
            (prov_billed if cid < 0 else billed).append(max(0.0, f - start))
            push(busy, (f, cid))
            k += 1
        self._next = k

    def lifetimes(self, horizon_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(created, died) of every on-demand container, deaths clipped to the horizon."""
        died = np.array(self.died_s, float)
        alive = ~np.isfinite(died)
        if alive.any():
            # a container still alive at the end dies keep_alive after its last request, if in range
            last_free = {cid: f for f, cid in self._busy if cid >= 0}
            ends = [max(last_free.get(c, self.idle_since[c]), self.idle_since[c]) + self.keep_alive_s
                    for c in np.flatnonzero(alive)]
            died[alive] = ends
        return np.array(self.created_s, float), np.minimum(died, horizon_s)
