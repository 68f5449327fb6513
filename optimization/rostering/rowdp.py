"""One person's cheapest row by dynamic programming over the days, with prices on the limits that span
the whole horizon.

A row is a path through the days; its state on a day is what the sequence rules need to know: the shift
worked today (or off), how many days the current run of work (or of days off) has lasted, and whether
that run started on the first day (runs touching the horizon's ends are not held to a minimum). Rest
rules (forbidden successions), the most and fewest working days in a row and the fewest days off in a row
are then edges of a small state graph, and the cheapest row under per-cell prices is a shortest path
(:mod:`._rowkernel`; about 1 ms for 364 days and 10 shift types when numba is installed).

The limits over the whole horizon are kept another way:
- *weekends*: only the person's most attractive weekends (at most the limit) are open; the rest are
  closed before the search, so every row keeps the limit;
- *minutes* between a minimum and a maximum: a price per mean shift worked, searched in batches (a grid
  of prices in one pass, zoomed in) until the row's minutes fall inside the window; equal prices are
  broken by a small random jitter so that the minutes move a shift or two at a time;
- *shifts per type*: a subgradient price on each capped type, and a repair that swaps an over-capped
  type for another on the same day (keeping the rest rules and the minutes).

Where the states stay few (:data:`LEVEL_BUDGET`: the 28-day benchmark contracts, not the 364-day ones), an
*exact search* replaces the first two: the minutes worked (in steps of the shifts' common divisor), the
weekends worked and the count of the type with the smallest cap are part of the state (or, where the
weekends do not fit, each choice of open weekends is one row of a batch), and the other caps keep their
subgradient prices. Its cheapest row under the prices, less the prices times the caps, is a lower bound on
every feasible row (Lagrangian), so a row that meets the bound is proven cheapest (:attr:`RowDP.proven`),
and column generation's pricing needs CP-SAT only when the bound falls short.

Otherwise it is a heuristic: a row that comes back keeps every rule, but it is not proven cheapest, so callers
that need a proof (column generation's bound) still ask CP-SAT when this finds nothing. It covers the rules of
the Curtois–Qu benchmark and of plain hospital contracts; a person with soft contract rules, unwanted
patterns, consecutive limits per shift type, a published roster or weekends longer than two days is left
to CP-SAT (:func:`applies` says which).
"""
from __future__ import annotations

import math
from itertools import combinations
from typing import Mapping, Optional

import numpy as np

from ._rowkernel import COMPILED, rows_within, shortest_rows, shortest_rows_levels
from .problem import RosterProblem

#: rounds of prices on the capped shift types; per round, batches of BATCH prices per shift (a grid
#: zoomed in at most ZOOMS times) until the minutes fall into the contract's window
ROUNDS = 6
#: ... and when any feasible row will do (a first roster), per way of choosing the open weekends
FIRST_ROUNDS = 2
BATCH = 16
ZOOMS = 4
#: which weekends stay open, tried in turn until a row is found (see RowDP._close_weekends)
WEEKEND_MODES = (0, 1, 2)
#: rows repaired for the caps per batch at most
REPAIRS = 2
#: ties between equally priced cells are broken by a random price of up to this share of the mean cell price
JITTER = 0.02
#: the exact search (minutes, weekends and the tightest cap counted in the states) when days x states x
#: levels stays under this (the back pointers: 4 bytes each) ...
LEVEL_BUDGET = 8_000_000
#: ... or, when the weekends do not fit in, every choice of open weekends tried, if there are at most this many
WEEKEND_CHOICES = 20


def applies(sub: RosterProblem) -> bool:
    """Whether a one-person problem (:func:`.construct.row_problem`) has only the rules this handles, and
    the kernel is compiled (as plain Python it is slower than CP-SAT's one-person model; the desktop
    bundle leaves numba out, so there the solvers use CP-SAT alone)."""
    if not COMPILED or len(sub.employees) != 1 or sub.patterns or sub.published is not None:
        return False
    emp = sub.employees[0]
    if emp.soft or emp.max_consecutive_shift:
        return False
    return all(len(wk) <= 2 for wk in sub.weekends) or emp.max_weekends >= len(sub.weekends)


class RowDP:
    """The state graph of one person's row problem, built once and solved for many prices.

    States per day: working shift ``s`` on the ``r``-th day of a run (``r`` up to the most days in a row,
    or saturating at the fewest when there is no maximum), or the ``r``-th day off in a row (saturating at
    the fewest days off), each with a flag for runs that started on day 0. Shifts are kept grouped by their
    forbidden successors, so that "the cheapest predecessor allowed before ``s``" is a minimum over groups.
    """

    def __init__(self, sub: RosterProblem):
        p = sub
        emp = p.employees[0]
        self.p, self.emp = p, emp
        shifts = sorted(p.shifts, key=lambda s: tuple(sorted(s.forbidden_next)))  # groups contiguous
        self.sids = [s.id for s in shifts]
        S, D = len(shifts), p.days
        self.S, self.D = S, D
        self.minc, self.mino = max(emp.min_consecutive, 1), max(emp.min_days_off, 1)
        self.bounded = emp.max_consecutive < D
        self.R = emp.max_consecutive if self.bounded else self.minc  # unbounded runs saturate at the minimum
        self.Ro = self.mino
        keys = [tuple(sorted(s.forbidden_next)) for s in shifts]
        self.group_start = np.array([k for k in range(S) if k == 0 or keys[k] != keys[k - 1]], dtype=np.int64)
        self.follows = np.array([[sid not in set(keys[g]) for sid in self.sids] for g in self.group_start],
                                dtype=np.bool_)  # follows[g, s2]: s2 may come the day after a shift of group g
        self.group_of = np.searchsorted(self.group_start, np.arange(S), side="right") - 1
        self.forbidden = ~self.follows[self.group_of]  # forbidden[s, s2]: s2 may not follow s
        cols_seen: dict[tuple, int] = {}
        self.pattern_of = np.array([cols_seen.setdefault(tuple(self.follows[:, s]), len(cols_seen)) for s in range(S)],
                                   dtype=np.int64)
        self.patterns = np.array([self.pattern_of.tolist().index(q) for q in range(len(cols_seen))], dtype=np.int64)
        # cells that cannot be worked (leave, a type capped at 0) and cells fixed by locks
        allowed = np.ones((D, S + 1), dtype=bool)  # as RosterProblem.allowed says, for every cell at once
        allowed[sorted(p.days_off.get(emp.id, ())), :S] = False
        allowed[:, :S] &= np.array([emp.max_shifts.get(sid, 1) > 0 for sid in self.sids])[None, :]
        for lk in p.locks:
            allowed[lk.day, :] = False
            allowed[lk.day, S if lk.shift is None else self.sids.index(lk.shift)] = True
        self.blocked = np.where(allowed, 0.0, np.inf)
        self.minutes = np.array([s.minutes for s in shifts] + [0], dtype=float)
        self.weekends = p.weekends
        self.locked_work = {lk.day for lk in p.locks if lk.shift is not None}
        self.caps = np.array([emp.max_shifts.get(s, 10**9) for s in self.sids], dtype=float)
        self.base = self._own_costs()
        self.near: Optional[tuple[float, np.ndarray]] = None
        self.levels = self._levels()
        #: after a :meth:`solve` of the exact search: a lower bound on the cheapest row's cost (-inf when
        #: none is known, +inf when no row exists), and whether the row returned is proven cheapest
        self.lower = -np.inf
        self.proven = False

    @property
    def exact(self) -> bool:
        """Whether :meth:`solve` runs the exact search: minutes, weekends (and the tightest cap) counted in
        its states, or the weekends' few choices tried one by one; its rows are then proven cheapest or come
        with a lower bound."""
        return self.levels is not None

    def _levels(self) -> Optional[dict]:
        """The resource levels of the exact search, or None where the minutes are not whole multiples of a
        common step or the states would be too many (more than LEVEL_BUDGET back pointers). The base levels
        are the minutes worked in steps of the shifts' greatest common divisor (up to the maximum; saturating
        at the minimum when there is no maximum), times the count of the capped type with the smallest cap
        when that still fits; the weekends worked are counted on top (``KW``, ``role``), or, when that does
        not fit, each choice of open weekends is one row of a batch (``closings``; at most WEEKEND_CHOICES)."""
        emp, S, D = self.emp, self.S, self.D
        mins = [int(m) for m in self.minutes[:S]]
        if any(m <= 0 or m != v for m, v in zip(mins, self.minutes[:S])):
            return None
        g = math.gcd(*mins)
        units = np.array([m // g for m in mins], dtype=np.int64)
        lo_u = -(-emp.min_minutes // g)
        if emp.max_minutes < max(mins) * D:
            K1, saturate = emp.max_minutes // g + 1, False
        elif emp.min_minutes > 0:
            K1, saturate = lo_u + 1, True
        else:
            K1, saturate = 1, True
        N = 2 * self.R * S + 2 * self.Ro
        n, cap = len(self.weekends), emp.max_weekends
        role = np.zeros(D, dtype=np.int64)
        KW, closings = 1, [()]
        if cap < n:
            for wk in self.weekends:
                days = sorted(wk)
                if len(days) == 2 and days[1] != days[0] + 1:
                    role = None
                    break
                role[days[0]] = 1
                if len(days) == 2:
                    role[days[1]] = 2
            if role is not None and K1 * (cap + 1) * N * D <= LEVEL_BUDGET:
                KW = cap + 1
            elif math.comb(n, cap) <= WEEKEND_CHOICES:
                role = np.zeros(D, dtype=np.int64)
                closings = [tuple(i for i in range(n) if i not in keep) for keep in combinations(range(n), cap)]
            else:
                return None
        if K1 * KW * N * D > LEVEL_BUDGET:
            return None
        counted, K2 = -1, 1
        capped = [(int(self.caps[k]), k) for k in range(S) if 0 < self.caps[k] < D]
        if capped:
            c, k = min(capped)
            if K1 * (c + 1) * KW * N * D <= LEVEL_BUDGET:
                counted, K2 = k, c + 1
        nxt = np.full((K1 * K2, S), -1, dtype=np.int64)
        final_ok = np.zeros(K1 * K2, dtype=np.bool_)
        for k1 in range(K1):
            for k2 in range(K2):
                L = k1 * K2 + k2
                final_ok[L] = k1 >= lo_u
                for s in range(S):
                    n1 = k1 + units[s] if K1 > 1 else 0
                    if n1 >= K1:
                        if not saturate:
                            continue
                        n1 = K1 - 1
                    n2 = k2 + (s == counted)
                    if n2 < K2:
                        nxt[L, s] = n1 * K2 + n2
        return {"nxt": nxt, "final_ok": final_ok, "counted": counted, "KW": KW, "role": role, "closings": closings}

    def _own_costs(self) -> np.ndarray:
        """Per-cell costs of the person's requests: a (days, shifts + 1) array, the last column a day off.
        A shift-on request not granted costs its weight: written as -weight on the cells that grant it
        (constants do not move the cheapest row); their sum is :attr:`constant`, which a row's cost here
        lacks."""
        c = np.zeros((self.D, self.S + 1))
        self.constant = 0.0
        for r in self.p.requests:
            if not r.weight:
                continue
            cols = slice(0, self.S) if r.shift is None else self.sids.index(r.shift)
            c[r.day, cols] += r.weight if r.kind == "off" else -r.weight
            if r.kind != "off":
                self.constant += r.weight
        return c

    def paths(self, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cheapest row under each of a batch of prices ``cost`` (batch, days, shifts + 1): the column
        of each day (shift index, S for off) per row, and whether each row exists."""
        return shortest_rows(np.ascontiguousarray(cost), self.S, self.R, self.Ro, self.bounded, self.minc, self.mino,
                             self.group_of, len(self.group_start), self.follows, self.pattern_of, self.patterns)

    def paths_levels(self, cost: np.ndarray, final_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`paths` with the levels of the exact search (rows may end at the base levels ``final_ok``
        says), and each row's cost."""
        lv = self.levels
        return shortest_rows_levels(np.ascontiguousarray(cost), self.S, self.R, self.Ro, self.bounded, self.minc,
                                    self.mino, self.group_of, len(self.group_start), self.follows, self.pattern_of,
                                    self.patterns, lv["nxt"], final_ok, lv["KW"], lv["role"])

    # ------------------------------------------------------------------ the search
    def solve(self, prices: Optional[Mapping] = None, start: Optional[Mapping] = None,
              seed: int = 0, rounds: int = ROUNDS, first: bool = False) -> Optional[tuple[dict, float]]:
        """The cheapest row found that keeps every rule: (row ``{(emp, day): shift}``, its cost under the
        requests and ``prices`` (``{(day, shift): price}``, e.g. cover prices; +inf closes a cell), up to a
        constant), or None. ``start``: a feasible row to beat (returned when nothing cheaper is found).
        ``first``: stop at the first batch that yields a feasible row (a quick first roster)."""
        emp, S, D = self.emp, self.S, self.D
        cost = self._priced(prices)
        finite = np.abs(cost[np.isfinite(cost)])
        scale = max(float(finite.mean()) if finite.size else 1.0, 1.0)
        rng = np.random.default_rng(seed)
        jitter = rng.uniform(0, JITTER * scale, cost.shape)
        unit = float(self.minutes[:S].mean())
        hi = emp.max_minutes / unit if emp.max_minutes < self.minutes.max() * D else np.inf
        lo = emp.min_minutes / unit if emp.min_minutes > 0 else -np.inf
        self._w = {"cost": cost, "unit": unit, "lo": lo, "hi": hi, "best": None, "per": self.minutes[:S] / unit}
        if start is not None:
            cols = np.array([self.sids.index(start[(emp.id, d)]) if (emp.id, d) in start else S for d in range(D)])
            self._w["best"] = (cols, self._cost(cost, cols))
        self.near = None
        self.lower, self.proven = -np.inf, False
        if self.levels is not None:
            self._search_levels(cost, scale, rounds, first)
            return self._out()
        for mode in WEEKEND_MODES if emp.max_weekends < len(self.weekends) else (0,):
            self._w["jittered"] = self._close_weekends(cost + jitter, mode)
            self._search(scale, min(rounds, FIRST_ROUNDS) if first else rounds, first)
            if self._w["best"] is not None:
                break
        return self._out()

    def _priced(self, prices: Optional[Mapping]) -> np.ndarray:
        """Each cell's cost: the requests', closed cells' +inf, and ``prices`` (``{(day, shift): price}``)."""
        cost = self.base + self.blocked
        if prices:
            idx = {sid: k for k, sid in enumerate(self.sids)}
            for (d, sid), v in prices.items():
                k = idx.get(sid)
                if k is not None:
                    cost[d, k] += v
        return cost

    def _search(self, scale: float, rounds: int, first: bool) -> None:
        """The rounds of prices described in the module's docstring, with the weekends closed as they are."""
        w, S, D = self._w, self.S, self.D
        lo, hi = w["lo"], w["hi"]
        bounded = bool(np.isfinite(hi) or np.isfinite(lo))
        capped = self.caps < D
        mu = np.zeros(S)
        lam, lam_lo, lam_hi = 0.0, -4.0 * scale, 4.0 * scale  # the price per mean shift is searched in here
        alpha = 0.3
        for _ in range(rounds):
            chosen = None
            for _zoom in range(ZOOMS if bounded else 1):
                lams = np.linspace(lam_lo, lam_hi, BATCH) if bounded else np.zeros(1)
                res = self._batch(lams, mu)
                if (first and w["best"] is not None) or not res:
                    return
                inside = [r for r in res if r["ok_m"]]
                if inside:
                    chosen = min(inside, key=lambda r: abs(r["lam"] - lam))
                    step = (lam_hi - lam_lo) / (BATCH - 1)
                    lam_lo, lam_hi = min(r["lam"] for r in inside) - step, max(r["lam"] for r in inside) + step
                    break
                # bracket the window: the minutes fall as the price per shift rises
                above = [r["lam"] for r in res if r["m"] > hi]
                below = [r["lam"] for r in res if r["m"] < lo]
                width = lam_hi - lam_lo
                lam_lo = max(above) if above else lam_lo - width
                lam_hi = min(below) if below else lam_hi + width
                chosen = min(res, key=lambda r: max(r["m"] - hi, lo - r["m"]))
            lam = chosen["lam"]
            over = np.where(capped, chosen["counts"] - self.caps, 0.0)
            if chosen["ok_m"] and not (over > 0).any() and not mu.any():
                return  # nothing priced but what has to be: the cheapest row (up to the jitter)
            mu = np.maximum(0.0, mu + alpha * scale * over / np.maximum(self.caps, 1))
            alpha *= 0.8
            lam_lo, lam_hi = lam_lo - scale, lam_hi + scale  # the caps' prices moved: widen the search again

    def _search_levels(self, cost: np.ndarray, scale: float, rounds: int, first: bool) -> None:
        """The exact search: minutes, weekends (and the tightest cap) counted in the states, or each choice of
        open weekends one row of a batch, and subgradient prices on the other caps. Each round's cheapest row,
        less its prices times the caps, bounds every feasible row from below (a Lagrangian bound); the search
        stops once the best row kept meets that bound."""
        w, S = self._w, self.S
        final_ok, counted = self.levels["final_ok"], self.levels["counted"]
        bases = []
        for shut in self.levels["closings"]:
            c = cost.copy()
            for i in shut:
                c[list(self.weekends[i]), :S] = np.inf
            bases.append(c)
        stack = np.stack(bases)
        priced = (self.caps < self.D) & (np.arange(S) != counted)  # caps kept by prices, not by the states
        caps = np.where(priced, self.caps, 0.0)
        mu = np.zeros(S)
        alpha = 0.3
        for _ in range(rounds):
            c = stack.copy()
            c[:, :, :S] += mu[None, None, :]
            cols, alive, value = self.paths_levels(c, final_ok)
            if not alive.any():
                if not mu.any():
                    self.lower = np.inf  # no row keeps the rules
                if self.near is None:  # a hint for CP-SAT: the row with the most minutes, short of the minimum
                    c[:, :, :S] -= 1e6 * scale * self.minutes[None, None, :S]
                    cols, alive, value = self.paths_levels(c, np.ones_like(final_ok))
                    if alive.any():
                        self.near = (np.inf, cols[int(np.argmin(np.where(alive, value, np.inf)))].copy())
                return
            counts = (cols[:, :, None] == np.arange(S + 1)).sum(axis=1)[:, :S]
            within = (counts <= self.caps).all(axis=1)
            for b in np.nonzero(alive)[0]:
                if within[b]:
                    self._keep(cols[b])
                miss = float((counts[b] - self.caps).clip(0).sum())
                if self.near is None or miss < self.near[0]:
                    self.near = (miss, cols[b].copy())
            b0 = int(np.argmin(np.where(alive, value, np.inf)))
            self.lower = max(self.lower, float(value[b0] - mu @ caps))
            best = w["best"]
            if best is not None and (best[1] <= self.lower + 1e-9 or first):
                self.proven = best[1] <= self.lower + 1e-9
                return
            excess = (counts - self.caps).clip(0).sum(axis=1)
            for b in sorted(np.nonzero(alive & ~within)[0], key=lambda b: excess[b])[:REPAIRS]:
                fixed = self._repair_caps(cols[b], counts[b])
                if fixed is not None:
                    self._keep(fixed)
            mu = np.maximum(0.0, mu + alpha * scale * np.where(priced, counts[b0] - self.caps, 0.0)
                            / np.maximum(self.caps, 1))
            alpha *= 0.8
        best = w["best"]
        self.proven = best is not None and best[1] <= self.lower + 1e-9

    def rows_within(self, prices: Optional[Mapping], limit: float, max_rows: int, arrays: bool = False,
                    partial: bool = False):
        """Every row that keeps the rules and costs at most ``limit`` under the requests and ``prices`` (as
        :meth:`solve` counts them, the same constant left out), as a list of ``(row, cost)``, or with
        ``arrays`` as (the rows' day columns ``(n, days)`` in this programme's shift order, their costs); None
        when there are more than ``max_rows`` (with ``partial``: the first ``max_rows`` the walk met) or the
        exact search does not apply. Caps the states do not count are checked on each row found (the walk
        ignores them, so its pruning stays a true bound)."""
        if self.levels is None:
            return None
        S = self.S
        cost = self._priced(prices)
        lv = self.levels
        parts, values = [], []
        for shut in lv["closings"]:
            c = cost.copy()
            for i in shut:
                c[list(self.weekends[i]), :S] = np.inf
            cols, vals, n = rows_within(np.ascontiguousarray(c), limit + 1e-7, max_rows, S, self.R, self.Ro,
                                        self.bounded, self.minc, self.mino, self.group_of, self.follows, lv["nxt"],
                                        lv["final_ok"], lv["KW"], lv["role"])
            if n < 0 and not partial:
                return None
            counts = (cols[:, :, None] == np.arange(S)).sum(axis=1)
            within = (counts <= self.caps).all(axis=1)
            parts.append(cols[within])
            values.append(vals[within])
        cols = np.concatenate(parts) if parts else np.zeros((0, self.D), np.int64)
        vals = np.concatenate(values) if values else np.zeros(0)
        if len(lv["closings"]) > 1:  # a row may keep several choices of open weekends
            cols, first = np.unique(cols, axis=0, return_index=True)
            vals = vals[first]
        if len(cols) > max_rows:
            if not partial:
                return None
            cols, vals = cols[:max_rows], vals[:max_rows]
        if arrays:
            return cols, vals
        return [(self._row(c), float(v)) for c, v in zip(cols, vals)]

    def near_row(self) -> dict:
        """After a :meth:`solve` that found nothing: the row that came nearest (fewest minutes outside the
        window plus shifts over the caps), as ``{(emp, day): shift}``; a hint for CP-SAT."""
        return {} if self.near is None else self._row(self.near[1])

    def _close_weekends(self, cost: np.ndarray, mode: int) -> np.ndarray:
        """Keep the weekend limit by construction: close all weekends but as many as the limit allows
        (those with a locked shift first). Which stay open: mode 0 the most attractive (the cheapest cell of
        each day, summed), 1 and 2 evenly spread, starting with the first or the second weekend."""
        emp, S = self.emp, self.S
        n, cap = len(self.weekends), emp.max_weekends
        if cap >= n:
            return cost
        if mode == 0:
            key = [sum(float(cost[d, :S].min()) for d in wk) for wk in self.weekends]
        else:
            key = [float(((i * cap) % n) if mode == 1 else (((i + 1) * cap) % n)) for i in range(n)]
        order = sorted(range(n), key=lambda i: (-1 if self.locked_work & set(self.weekends[i]) else 0, key[i], i))
        for i in order[cap:]:
            for d in self.weekends[i]:
                cost[d, :S] = np.inf
        return cost

    def _batch(self, lams: np.ndarray, mu: np.ndarray) -> list[dict]:
        """Shortest rows under a batch of prices per mean shift; each checked against the limits (and
        repaired for the caps), the cheapest feasible kept."""
        w, S = self._w, self.S
        c = np.repeat(w["jittered"][None], len(lams), axis=0)
        c[:, :, :S] += lams[:, None, None] * w["per"][None, None, :] + mu[None, None, :]
        cols, alive = self.paths(c)
        counts = (cols[:, :, None] == np.arange(S + 1)).sum(axis=1)  # (batch, S + 1)
        m = counts @ self.minutes / w["unit"]
        ok_m = (w["lo"] - 1e-9 <= m) & (m <= w["hi"] + 1e-9)
        within = (counts[:, :S] <= self.caps).all(axis=1)
        out = []
        for b in np.nonzero(alive)[0]:
            if ok_m[b] and within[b]:
                self._keep(cols[b])
            # the row nearest to the window within the caps: a hint for CP-SAT should this find nothing
            miss = max(m[b] - w["hi"], w["lo"] - m[b], 0.0) + (counts[b, :S] - self.caps).clip(0).sum()
            if self.near is None or miss < self.near[0]:
                self.near = (miss, cols[b].copy())
            out.append({"lam": lams[b], "m": m[b], "ok_m": ok_m[b], "counts": counts[b, :S]})
        # repair the in-window rows that break the fewest caps (a repair is a loop of swaps: a few only)
        excess = (counts[:, :S] - self.caps).clip(0).sum(axis=1)
        todo = sorted((excess[b], b) for b in np.nonzero(alive & ok_m & ~within)[0])
        for _, b in todo[:REPAIRS]:
            fixed = self._repair_caps(cols[b], counts[b, :S])
            if fixed is not None:
                self._keep(fixed)
        return out

    def _repair_caps(self, cols: np.ndarray, counts: np.ndarray) -> Optional[np.ndarray]:
        """Swap shifts of over-capped types for other types on the same days, cheapest swap first, keeping
        the rest rules with both neighbours and the minutes inside the window; None if a cap stays broken."""
        w, S, D = self._w, self.S, self.D
        cols, counts = cols.copy(), counts.astype(float).copy()
        cost = w["cost"]
        lo, hi = w["lo"] * w["unit"] - 1e-9, w["hi"] * w["unit"] + 1e-9
        minutes = float(self.minutes[cols].sum())
        days = np.arange(D)
        ext = np.concatenate([[S], cols, [S]])  # off before the first day and after the last
        forb = np.zeros((S + 1, S + 1), dtype=bool)
        forb[:S, :S] = self.forbidden
        for _ in range(int((counts - self.caps).clip(0).sum())):
            over = counts > self.caps
            if not over.any():
                return cols
            works = cols < S
            todo = works & over[np.minimum(cols, S - 1)]
            # swap candidates (day, new type): allowed, under its cap, no forbidden succession either side
            ok = np.isfinite(cost[:, :S]) & (counts + 1 <= self.caps)[None, :]
            ok &= ~forb[ext[:-2]][:, :S] & ~forb[:S, ext[2:]].T
            ok &= todo[:, None] & (np.arange(S)[None, :] != cols[:, None])
            m2 = minutes - self.minutes[np.minimum(cols, S)][:, None] + self.minutes[None, :S]
            ok &= (m2 >= lo) & (m2 <= hi)
            if not ok.any():
                return None
            delta = np.where(ok, cost[:, :S] - cost[days, cols][:, None], np.inf)
            d, k2 = np.unravel_index(int(delta.argmin()), delta.shape)
            k = cols[d]
            minutes += self.minutes[k2] - self.minutes[k]
            counts[k] -= 1
            counts[k2] += 1
            cols[d] = k2
            ext[d + 1] = k2
        return cols if not (counts > self.caps).any() else None

    def _keep(self, cols: np.ndarray) -> None:
        true = self._cost(self._w["cost"], cols)
        if self._w["best"] is None or true < self._w["best"][1] - 1e-9:
            self._w["best"] = (cols.copy(), true)

    def _cost(self, cost: np.ndarray, cols: np.ndarray) -> float:
        return float(cost[np.arange(self.D), cols].sum())

    def _out(self) -> Optional[tuple[dict, float]]:
        best = self._w["best"]
        if best is None:
            return None
        return self._row(best[0]), best[1]

    def _row(self, cols: np.ndarray) -> dict:
        """Day columns (shift index, S for off) as a row ``{(emp, day): shift}``."""
        return {(self.emp.id, d): self.sids[k] for d, k in enumerate(cols.tolist()) if k < self.S}
