"""The inner loop of :mod:`.rowdp`: shortest rows through the day-by-day state graph, a batch at a time.

Plain loops over numpy arrays, compiled by numba when it is installed (about 1 ms for one row of 364
days and 10 shift types); without numba the same function runs as Python, correct but a hundred times
slower. State numbering (shared with :class:`.rowdp.RowDP`): work state ``(t * R + r - 1) * S + s``
(shift ``s`` on the ``r``-th day of a run; ``t`` 1 for a run that started on day 0), then off states
``2 * R * S + t * Ro + r - 1``.
"""
from __future__ import annotations

import numpy as np

try:  # pragma: no cover - which branch runs depends on the environment
    from numba import njit

    COMPILED = True
except ImportError:  # pragma: no cover
    COMPILED = False

    def njit(*args, **kwargs):
        if args and callable(args[0]):
            return args[0]
        return lambda f: f


@njit(cache=True, nogil=True)
def shortest_rows(cost, S, R, Ro, bounded, minc, mino, group_of, G, follows, pattern_of, patterns):  # pragma: no cover
    """``cost[b, d, k]``: the price of shift ``k`` (``S``: a day off) on day ``d`` in price set ``b``;
    ``group_of[s]``: the successor group of shift ``s``; ``follows[g, s2]``: whether ``s2`` may follow a
    shift of group ``g``; ``pattern_of[s2]``: which column pattern of ``follows`` shift ``s2`` has (shifts
    with the same allowed predecessor groups share the minimum over them), ``patterns[p]`` one shift of
    each. Returns (cols[b, d]: the shift index worked, S for off; alive[b]: whether row ``b`` exists)."""
    B, D = cost.shape[0], cost.shape[1]
    NW = 2 * R * S
    N = NW + 2 * Ro
    P = patterns.shape[0]
    inf = np.inf
    cols = np.empty((B, D), np.int64)
    alive = np.zeros(B, np.bool_)
    back = np.empty((D, N), np.int64)
    V = np.empty(N)
    NV = np.empty(N)
    gmin = np.empty(G)
    garg = np.empty(G, np.int64)
    pmin = np.empty(P)
    parg = np.empty(P, np.int64)
    for b in range(B):
        for j in range(N):
            V[j] = inf
        for s in range(S):
            j = (R + 0) * S + s  # t = 1, r = 1
            V[j] = cost[b, 0, s]
        V[NW + Ro] = cost[b, 0, S]  # off, t = 1, r = 1
        first_run = True  # some state of a run that started on day 0 is still reachable
        for d in range(1, D):
            # the cheapest state a run of work may start from, and one it may end in
            bo, boi = inf, -1
            for t in range(2):
                for ro in range(1, Ro + 1):
                    if t == 1 or ro >= mino:
                        j = NW + t * Ro + ro - 1
                        if V[j] < bo:
                            bo, boi = V[j], j
            bw, bwi = inf, -1
            for t in range(2):
                for r in range(1, R + 1):
                    if t == 1 or r >= minc:
                        for s in range(S):
                            j = (t * R + r - 1) * S + s
                            if V[j] < bw:
                                bw, bwi = V[j], j
            for t in range(2):
                if t == 1 and not first_run:
                    for j in range(R * S, 2 * R * S):
                        NV[j] = inf
                    continue
                for r in range(1, R + 1):
                    # continuing a run: from length r - 1, and from R itself when runs saturate there
                    for g in range(G):
                        gmin[g] = inf
                        garg[g] = -1
                    has = False
                    for rr in (r - 1, R):
                        if rr == r - 1 and rr < 1:
                            continue
                        if rr == R and (bounded or r != R):
                            continue
                        has = True
                        for s in range(S):
                            j = (t * R + rr - 1) * S + s
                            g = group_of[s]
                            if V[j] < gmin[g]:
                                gmin[g] = V[j]
                                garg[g] = j
                    for q in range(P):
                        best, arg = inf, -1
                        if has:
                            s2 = patterns[q]
                            for g in range(G):
                                if follows[g, s2] and gmin[g] < best:
                                    best, arg = gmin[g], garg[g]
                        pmin[q] = best
                        parg[q] = arg
                    for s2 in range(S):
                        best, arg = pmin[pattern_of[s2]], parg[pattern_of[s2]]
                        if r == 1 and t == 0 and bo < best:
                            best, arg = bo, boi
                        j2 = (t * R + r - 1) * S + s2
                        NV[j2] = best + cost[b, d, s2]
                        back[d, j2] = arg
            for t in range(2):
                for ro in range(1, Ro + 1):
                    j2 = NW + t * Ro + ro - 1
                    best, arg = inf, -1
                    if ro == 1 and t == 0:
                        best, arg = bw, bwi
                    if ro >= 2:
                        jp = NW + t * Ro + ro - 2
                        if V[jp] < best:
                            best, arg = V[jp], jp
                    if ro == Ro:
                        jp = NW + t * Ro + Ro - 1
                        if V[jp] < best:
                            best, arg = V[jp], jp
                    NV[j2] = best + cost[b, d, S]
                    back[d, j2] = arg
            first_run = False
            for j in range(N):
                V[j] = NV[j]
                if NV[j] < inf and ((R * S <= j < 2 * R * S) or j >= NW + Ro):
                    first_run = True
        jbest, vbest = -1, inf
        for j in range(N):
            if V[j] < vbest:
                vbest, jbest = V[j], j
        if jbest < 0:
            continue
        alive[b] = True
        j = jbest
        for d in range(D - 1, -1, -1):
            cols[b, d] = S if j >= NW else j % S
            if d:
                j = back[d, j]
    return cols, alive


@njit(cache=True, nogil=True)
def shortest_rows_levels(cost, S, R, Ro, bounded, minc, mino, group_of, G, follows, pattern_of, patterns,
                         nxt, final_ok, KW, role):  # pragma: no cover
    """:func:`shortest_rows` with resources counted along the row: a *level* per state. Level ``L`` is
    ``Lb * KW + w``: ``Lb`` a base level numbered by the caller (minutes worked, a capped type's count, or
    both), ``w`` the weekends worked so far (``KW`` of them allowed, 1 for no limit). ``nxt[Lb, s]``: the
    base level after working shift ``s`` (-1 where that would break a limit; a day off keeps the level);
    ``final_ok[Lb]``: whether a row may end there; ``role[d]``: 1 on the first day of a weekend (working it
    counts a weekend), 2 on its second (counts only after a day off), else 0. Exact: the cheapest row among
    those within every limit counted. Returns (cols, alive, value[b]: the cheapest row's cost)."""
    B, D = cost.shape[0], cost.shape[1]
    NL = nxt.shape[0] * KW
    NW = 2 * R * S
    N = NW + 2 * Ro
    P = patterns.shape[0]
    inf = np.inf
    cols = np.empty((B, D), np.int64)
    alive = np.zeros(B, np.bool_)
    value = np.full(B, inf)
    back = np.empty((D, NL * N), np.int32)
    V = np.empty((NL, N))
    NV = np.empty((NL, N))
    gmin = np.empty(G)
    garg = np.empty(G, np.int64)
    pmin = np.empty(P)
    parg = np.empty(P, np.int64)
    w0 = 1 if role[0] > 0 else 0
    for b in range(B):
        for L in range(NL):
            for j in range(N):
                V[L, j] = inf
        if w0 < KW:
            for s in range(S):
                Lb2 = nxt[0, s]
                if Lb2 >= 0:
                    V[Lb2 * KW + w0, R * S + s] = cost[b, 0, s]  # t = 1, r = 1
        V[0, NW + Ro] = cost[b, 0, S]  # off, t = 1, r = 1
        first_run = True
        for d in range(1, D):
            inc_w = 1 if role[d] == 1 else 0  # working today after a working day
            inc_o = 1 if role[d] > 0 else 0  # ... after a day off
            for L in range(NL):
                for j in range(N):
                    NV[L, j] = inf
            for L in range(NL):
                live = False
                for j in range(N):
                    if V[L, j] < inf:
                        live = True
                        break
                if not live:
                    continue
                Lb, w = L // KW, L % KW
                bo, boi = inf, -1
                for t in range(2):
                    for ro in range(1, Ro + 1):
                        if t == 1 or ro >= mino:
                            j = NW + t * Ro + ro - 1
                            if V[L, j] < bo:
                                bo, boi = V[L, j], j
                bw, bwi = inf, -1
                for t in range(2):
                    for r in range(1, R + 1):
                        if t == 1 or r >= minc:
                            for s in range(S):
                                j = (t * R + r - 1) * S + s
                                if V[L, j] < bw:
                                    bw, bwi = V[L, j], j
                # work today: pushed to the level the shift (and the weekend) leads to
                for t in range(2):
                    if t == 1 and not first_run:
                        continue
                    for r in range(1, R + 1):
                        for g in range(G):
                            gmin[g] = inf
                            garg[g] = -1
                        has = False
                        for rr in (r - 1, R):
                            if rr == r - 1 and rr < 1:
                                continue
                            if rr == R and (bounded or r != R):
                                continue
                            has = True
                            for s in range(S):
                                j = (t * R + rr - 1) * S + s
                                g = group_of[s]
                                if V[L, j] < gmin[g]:
                                    gmin[g] = V[L, j]
                                    garg[g] = j
                        for q in range(P):
                            best, arg = inf, -1
                            if has:
                                s2 = patterns[q]
                                for g in range(G):
                                    if follows[g, s2] and gmin[g] < best:
                                        best, arg = gmin[g], garg[g]
                            pmin[q] = best
                            parg[q] = arg
                        from_off = r == 1 and t == 0 and bo < inf
                        for s2 in range(S):
                            Lb2 = nxt[Lb, s2]
                            if Lb2 < 0:
                                continue
                            j2 = (t * R + r - 1) * S + s2
                            best = pmin[pattern_of[s2]]
                            if best < inf and w + inc_w < KW:  # after a working day
                                L2 = Lb2 * KW + w + inc_w
                                val = best + cost[b, d, s2]
                                if val < NV[L2, j2]:
                                    NV[L2, j2] = val
                                    back[d, L2 * N + j2] = L * N + parg[pattern_of[s2]]
                            if from_off and w + inc_o < KW:  # after a day off
                                L2 = Lb2 * KW + w + inc_o
                                val = bo + cost[b, d, s2]
                                if val < NV[L2, j2]:
                                    NV[L2, j2] = val
                                    back[d, L2 * N + j2] = L * N + boi
                # off today: same level
                for t in range(2):
                    for ro in range(1, Ro + 1):
                        j2 = NW + t * Ro + ro - 1
                        best, arg = inf, -1
                        if ro == 1 and t == 0:
                            best, arg = bw, bwi
                        if ro >= 2:
                            jp = NW + t * Ro + ro - 2
                            if V[L, jp] < best:
                                best, arg = V[L, jp], jp
                        if ro == Ro:
                            jp = NW + t * Ro + Ro - 1
                            if V[L, jp] < best:
                                best, arg = V[L, jp], jp
                        if best == inf:
                            continue
                        NV[L, j2] = best + cost[b, d, S]
                        back[d, L * N + j2] = L * N + arg
            first_run = False
            for L in range(NL):
                for j in range(N):
                    V[L, j] = NV[L, j]
                    if NV[L, j] < inf and ((R * S <= j < 2 * R * S) or j >= NW + Ro):
                        first_run = True
        kbest, vbest = -1, inf
        for L in range(NL):
            if final_ok[L // KW]:
                for j in range(N):
                    if V[L, j] < vbest:
                        vbest, kbest = V[L, j], L * N + j
        if kbest < 0:
            continue
        alive[b] = True
        value[b] = vbest
        k = kbest
        for d in range(D - 1, -1, -1):
            j = k % N
            cols[b, d] = S if j >= NW else j % S
            if d:
                k = back[d, k]
    return cols, alive, value


@njit(cache=True, nogil=True)
def _successors(L, j, d, S, R, Ro, bounded, minc, mino, group_of, follows, nxt, KW, role,
                outL, outJ, outK):  # pragma: no cover
    """The states day ``d`` may be in after state ``(L, j)`` on day ``d - 1``, in the graph of
    :func:`shortest_rows_levels`: written to ``outL``, ``outJ`` (level, state) and ``outK`` (the cell worked
    on day ``d``: shift index, ``S`` for off); returns how many."""
    NW = 2 * R * S
    Lb, w = L // KW, L % KW
    inc_w = 1 if role[d] == 1 else 0
    inc_o = 1 if role[d] > 0 else 0
    n = 0
    if j < NW:  # working: shift s on the r-th day of a run
        s = j % S
        tr = j // S
        t, r = tr // R, tr % R + 1
        r2 = r + 1 if r < R else (-1 if bounded else R)
        if r2 > 0 and w + inc_w < KW:
            for s2 in range(S):
                Lb2 = nxt[Lb, s2]
                if Lb2 >= 0 and follows[group_of[s], s2]:
                    outL[n] = Lb2 * KW + w + inc_w
                    outJ[n] = (t * R + r2 - 1) * S + s2
                    outK[n] = s2
                    n += 1
        if t == 1 or r >= minc:
            outL[n] = L
            outJ[n] = NW
            outK[n] = S
            n += 1
    else:  # off: the ro-th day off in a row
        t = (j - NW) // Ro
        ro = (j - NW) % Ro + 1
        if (t == 1 or ro >= mino) and w + inc_o < KW:
            for s2 in range(S):
                Lb2 = nxt[Lb, s2]
                if Lb2 >= 0:
                    outL[n] = Lb2 * KW + w + inc_o
                    outJ[n] = s2  # t = 0, r = 1
                    outK[n] = s2
                    n += 1
        outL[n] = L
        outJ[n] = NW + t * Ro + min(ro + 1, Ro) - 1
        outK[n] = S
        n += 1
    return n


@njit(cache=True, nogil=True)
def rows_within(cost, limit, max_rows, S, R, Ro, bounded, minc, mino, group_of, follows, nxt, final_ok, KW,
                role):  # pragma: no cover
    """Every row of :func:`shortest_rows_levels`' graph whose cost under ``cost[d, k]`` is at most ``limit``:
    the cheapest cost to the end from each state (a backward pass), then a depth-first walk that leaves any
    branch which cannot end within the limit. Returns (cols[n, D], their costs, n; n = -1 when there are
    more than ``max_rows``, the first ``max_rows`` kept)."""
    D = cost.shape[0]
    NL = nxt.shape[0] * KW
    NW = 2 * R * S
    N = NW + 2 * Ro
    inf = np.inf
    togo = np.full((D, NL, N), inf)
    for L in range(NL):
        if final_ok[L // KW]:
            for j in range(N):
                togo[D - 1, L, j] = 0.0
    sL = np.empty(S + 1, np.int64)
    sJ = np.empty(S + 1, np.int64)
    sK = np.empty(S + 1, np.int64)
    for d in range(D - 2, -1, -1):
        for L in range(NL):
            for j in range(N):
                m = _successors(L, j, d + 1, S, R, Ro, bounded, minc, mino, group_of, follows, nxt, KW, role,
                                sL, sJ, sK)
                best = inf
                for q in range(m):
                    v = cost[d + 1, sK[q]] + togo[d + 1, sL[q], sJ[q]]
                    if v < best:
                        best = v
                togo[d, L, j] = best
    out = np.empty((max_rows, D), np.int64)
    vals = np.empty(max_rows)
    n = 0
    # the walk's stack: per day the successors still to try, the prefix cost and the state
    stL = np.empty((D, S + 1), np.int64)
    stJ = np.empty((D, S + 1), np.int64)
    stK = np.empty((D, S + 1), np.int64)
    cnt = np.zeros(D, np.int64)
    ptr = np.zeros(D, np.int64)
    pre = np.zeros(D + 1)
    path = np.empty(D, np.int64)
    # day 0's states
    w0 = 1 if role[0] > 0 else 0
    c0 = 0
    if w0 < KW:
        for s in range(S):
            Lb2 = nxt[0, s]
            if Lb2 >= 0:
                stL[0, c0] = Lb2 * KW + w0
                stJ[0, c0] = R * S + s
                stK[0, c0] = s
                c0 += 1
    stL[0, c0] = 0
    stJ[0, c0] = NW + Ro
    stK[0, c0] = S
    c0 += 1
    cnt[0] = c0
    d = 0
    while d >= 0:
        if ptr[d] >= cnt[d]:
            d -= 1
            continue
        q = ptr[d]
        ptr[d] += 1
        L, j, k = stL[d, q], stJ[d, q], stK[d, q]
        v = pre[d] + cost[d, k]
        if v + togo[d, L, j] > limit:
            continue
        path[d] = k
        if d == D - 1:
            if n == max_rows:
                return out, vals, -1
            out[n, :] = path
            vals[n] = v
            n += 1
            continue
        pre[d + 1] = v
        cnt[d + 1] = _successors(L, j, d + 1, S, R, Ro, bounded, minc, mino, group_of, follows, nxt, KW, role,
                                 stL[d + 1], stJ[d + 1], stK[d + 1])
        ptr[d + 1] = 0
        d += 1
    return out[:n], vals[:n], n
