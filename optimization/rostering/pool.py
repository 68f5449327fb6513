"""The last few units: every row within the gap, and a branch-and-bound over them.

Once column generation has finished (:attr:`.colgen.ColumnGeneration.bound`), its master's value ``z`` bounds
every roster, and a roster's cost is exactly ``z`` plus the reduced costs of its rows plus the reduced costs
of its cover slacks, all of them at least zero at the master's optimum. So a roster of cost ``t`` uses only
rows of reduced cost at most ``t - z``: for ``t`` a few units above ``z`` (Curtois Instance5: 1,140.6, and
1,143 is optimal) that is a *pool* of some ten to a hundred thousand rows, which each person's dynamic
programme lists in a second or two (:meth:`.rowdp.RowDP.rows_within`, a walk pruned by the cheapest way to
the end from each state). Over the pool, a branch-and-bound: each node's linear master holds a few of the
pool's rows and prices the others by one sparse product; one HiGHS model serves every node (a node is a set
of upper bounds), so each solve starts from the last basis; a node branches on one person's cell (works
shift ``s`` on day ``d``, or not), and each node's master, rounded (everyone's largest row), is a roster to
try; a node's reduced costs leave out of its subtree every row that would take a roster past the target, and
each target's search restarts with twice the nodes, branching near the most fractional cell at random
(:func:`target`: the trees' sizes are heavy-tailed). :func:`search` goes target by target from ``ceil(z)``: a search over a whole pool that ends without a
roster proves every roster costs more, and the first roster found is optimal. When a person has too many rows
for the gap, their pool is cut to a smaller gap, and what is found is only a roster, not a proof.
(Tried first: SCIP over Instance5's pool of 20,681 rows, the same 1,143, proven, in 28 s, most of it the
simplex over every row at each node; SciPy's HiGHS from scratch at each node, 13 ms a solve on Instance5's
nodes against 2 ms warm; the nearest roster first from the dives' best, then the gap it leaves, 25 s to
reach 1,143 from 1,156 on Instance5, where the targets take 3 s.)
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Callable, Optional, Union

import numpy as np

from .colgen import HIGHS as AVAILABLE  # the pool search is skipped without HiGHS
from .colgen import SIMPLEX_DUAL, SIMPLEX_PRIMAL, cover_model

if AVAILABLE:
    from highspy._core import HighsModelStatus

INF = float("inf")

#: at most this many rows in the pool in all (memory: the rows' cells and their cover incidences)
MAX_POOL = 400_000
#: ... and this many of one person's; a person with more gets a smaller gap (halved until they fit, down to
#: MIN_GAP, then the first PER_PERSON the walk meets), and the pool is then no longer a proof
PER_PERSON = 60_000
#: ... and at least this many of anyone's, however full the pool
LEAST_PER_PERSON = 2_000
MIN_GAP = 0.05
#: rows joining a node's master per person per pricing round at most
ADD_PER_PERSON = 4
EPS = 1e-6
#: the pool goes this far past its gap: the master's duals are exact only to the simplex's tolerances, and a
#: person's rows of reduced cost "0" came out at 1e-6 (Curtois Instance11 at its bound: no row within 0)
SLACK = 1e-4
#: the node master is rebuilt from the rows in use when it holds more rows than this
MAX_LP_ROWS = 4000
#: a target's search gets this share of the time left (at least LEVEL_MIN_S); one that runs out moves on to
#: the next target without its proof (Curtois Instance7: no roster of 1,055 took longer to rule out than the
#: whole search for 1,056 over the next pool)
LEVEL_SHARE = 0.3
LEVEL_MIN_S = 2.0
#: a target's search restarts after RESTART_NODES nodes, then twice as many each time, each search (the
#: first too) branching on a cell drawn near the most fractional (JITTER added at random to each cell's
#: distance from one half): the trees' sizes are heavy-tailed (Instance7's proof that no roster costs 1,055:
#: 59 to over 1,600 nodes for the same pool in another row order; with restarts 101-389, 2-8 s). Measured
#: 2026-12-05, each target decided with four or six random streams (mean seconds, 150 nodes first and the
#: first search unjittered -> 40 and jittered): Instance7's proof for 1,055 1.5 -> 0.8 s, its roster of
#: 1,056 3.9 -> 1.8 s (20 nodes first: 2.5 s), Instance8's proof for 1,298 8.0 -> 4.5 s; in each, the
#: unjittered first search was the slowest of its streams (5.1, 3.1, 20+ s)
RESTART_NODES = 40
#: after the first target, each listing of the rows serves this many targets more (the rows within a smaller
#: gap are cut from it): listing took half of the pool search's time on Curtois Instance8 (1.4, 1.6, 3.5,
#: 3.3 and 6.4 s for the targets 1,297-1,301, two thirds of it the programmes' walk)
AHEAD = 2
JITTER = 0.5


class Stopped(Exception):
    """A listing of rows stopped part way (cancelled, or a roster found elsewhere ended the search)."""


@dataclass
class PoolResult:
    roster: Optional[dict]  # the roster found (cheaper than the ub given), or None
    cost: Optional[int]
    proven: bool  # the roster found, or else the ub given, is optimal
    pool: int  # rows in the last pool
    gap: float  # the reduced cost the last pool went up to
    nodes: int  # branch-and-bound nodes in all


class Pool:
    """Every person's rows of reduced cost at most ``gap`` at the master's prices, as arrays."""

    def __init__(self, cg, duals: list[float], mus: dict[str, float], gap: float, max_rows: int = MAX_POOL,
                 whole: bool = False, should_stop: Callable[[], bool] = lambda: False):
        """``whole``: a ValueError as soon as someone's rows would have to be cut (the pool would be no proof).
        ``should_stop`` is asked before each person's rows are listed (a Stopped when it says yes): the walk
        itself is compiled and cannot be interrupted, and a whole listing took up to 6 s on Curtois Instance8,
        which a cancel used to wait for."""
        p = cg.problem
        self.problem = p
        self.people = list(cg.columns)
        self.sid = [s.id for s in p.shifts]
        S = len(self.sid)
        self.D = p.days
        self.req = np.array([c.requirement for c in p.cover], dtype=float)
        self.under_weight = np.array([c.under_weight for c in p.cover], dtype=float)
        self.over_weight = np.array([c.over_weight for c in p.cover], dtype=float)
        cells, owners, costs, rcs = [], [], [], []
        self.complete = True
        self.gap = gap
        self.reach = np.full(len(self.people), gap + SLACK)  # each person's rows are all there up to this
        left = max_rows
        for n, eid in enumerate(self.people):
            if should_stop():
                raise Stopped("the listing of rows was stopped")
            dp = cg._dps.get(eid)
            if dp is None or not dp.exact:
                raise ValueError(f"{eid}: no exact row search")
            coef = cg.prices_for(eid, duals)
            const = dp.constant
            cap = max(min(left, PER_PERSON), LEAST_PER_PERSON)

            def within(g: float, partial: bool = False):  # rows of reduced cost at most g, as arrays
                return dp.rows_within(coef, mus[eid] - const + g, cap, arrays=True, partial=partial)

            mine = gap + SLACK
            found = within(mine)
            if found is None and whole:
                raise ValueError(f"{eid}: more than {cap:,} rows within {gap:.2f}")
            while found is None and mine > MIN_GAP:  # too many rows: this person's cheapest ones only
                mine /= 2
                self.complete = False
                found = within(mine)
            self.reach[n] = mine
            if found is None:  # too many even then (many rows of reduced cost 0: Curtois 11): some of them
                self.complete = False
                self.reach[n] = -INF
                found = within(mine, partial=True)
            cols, vals = found
            if not len(cols):
                raise ValueError(f"{eid}: no row within the gap")
            left -= len(cols)
            # the programme's own shift order -> the problem's
            to_global = np.array([self.sid.index(s) for s in dp.sids] + [S])
            g = to_global[cols].astype(np.int8)
            own = dp.base[np.arange(self.D)[None, :], cols].sum(axis=1) + const
            cells.append(g)
            owners.append(np.full(len(g), n))
            costs.append(np.rint(own).astype(np.int64))
            rcs.append(vals + const - mus[eid])
        self.cells = np.concatenate(cells)  # (rows, days): shift index, S for off
        self.owner = np.concatenate(owners)
        self.cost = np.concatenate(costs)
        self.rc0 = np.concatenate(rcs)  # reduced cost at the master's prices
        self._incidence(cg)

    def __len__(self) -> int:
        return len(self.owner)

    def within(self, gap: float) -> "Pool":
        """The rows of reduced cost at most ``gap`` (at most this pool's): a pool of its own, complete when
        every person's rows were all listed up to it, without listing them again."""
        keep = self.rc0 <= gap + SLACK + 1e-7
        sub = copy.copy(self)
        sub.cells, sub.owner, sub.cost, sub.rc0 = self.cells[keep], self.owner[keep], self.cost[keep], self.rc0[keep]
        sub.A = self.A[:, keep]
        sub.AT = self.AT[keep]
        sub.gap = gap
        sub.reach = np.minimum(self.reach, gap + SLACK)
        sub.complete = bool((self.reach >= gap + SLACK - 1e-9).all())
        return sub

    def _incidence(self, cg) -> None:
        """The cover rows each pool row counts towards, as a sparse matrix (covers x rows)."""
        from scipy import sparse

        p = self.problem
        idx = {s: k for k, s in enumerate(self.sid)}
        ri, ci = [], []
        for i, c in enumerate(p.cover):
            counted = [idx[s] for s in c.counted if s in idx]
            if not counted:
                continue
            ok = np.isin(self.cells[:, c.day], counted)
            if c.skill is not None:
                has = np.array([c.skill in cg._skills[e] for e in self.people])
                ok &= has[self.owner]
            js = np.nonzero(ok)[0]
            ri.append(np.full(len(js), i))
            ci.append(js)
        rows = np.concatenate(ri) if ri else np.zeros(0, np.int64)
        cols = np.concatenate(ci) if ci else np.zeros(0, np.int64)
        self.A = sparse.csc_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(p.cover), len(self.owner)))
        self.AT = self.A.T.tocsr()

    def row(self, j: int) -> dict:
        eid = self.people[self.owner[j]]
        S = len(self.sid)
        return {(eid, d): self.sid[k] for d, k in enumerate(self.cells[j].tolist()) if k < S}


class _Master:
    """One HiGHS model kept for the whole search: every pool row that ever joined a node's master is a column
    of it, and a node is a set of upper bounds (0 on the rows the node's branches exclude), so each solve
    starts from the last one's basis (Instance5: 2 ms a solve, against 13 ms from scratch)."""

    def __init__(self, pool: Pool):
        p = pool.problem
        self.pool = pool
        E, C = len(pool.people), len(p.cover)
        self.E = E
        self.h = cover_model(E, p.cover)
        self.base = 2 * C  # the pool's columns come after the slacks
        self.rows = np.zeros(0, np.int64)  # pool index of each column
        self.open = np.zeros(0, bool)  # whether each column is open at this node (upper bound +inf, else 0)
        self.member = np.zeros(len(pool), bool)

    def add(self, js) -> None:
        js = np.asarray(js, dtype=np.int64)
        A = self.pool.A
        starts, index = [], []
        n = 0
        for j in js.tolist():
            cov = A.indices[A.indptr[j]:A.indptr[j + 1]]
            starts.append(n)
            index.append(np.concatenate([[self.pool.owner[j]], cov + self.E]))
            n += 1 + len(cov)
        index = np.concatenate(index).astype(np.int32)
        self.h.addCols(len(js), self.pool.cost[js].astype(float), np.zeros(len(js)), np.full(len(js), INF), n,
                       np.array(starts, dtype=np.int32), index, np.ones(n))
        self.rows = np.concatenate([self.rows, js])
        self.open = np.concatenate([self.open, np.ones(len(js), bool)])
        self.member[js] = True
        self.h.setOptionValue("simplex_strategy", SIMPLEX_PRIMAL)

    def restrict(self, allowed: np.ndarray) -> None:
        want = allowed[self.rows]
        ks = np.nonzero(want != self.open)[0]
        if len(ks):
            self.h.changeColsBounds(len(ks), (ks + self.base).astype(np.int32), np.zeros(len(ks)),
                                    np.where(want[ks], INF, 0.0))
            self.h.setOptionValue("simplex_strategy", SIMPLEX_DUAL)
        self.open = want

    def solve(self):
        self.h.run()
        if self.h.getModelStatus() != HighsModelStatus.kOptimal:
            return None
        sol = self.h.getSolution()
        y = np.array(sol.row_dual)
        x = np.array(sol.col_value)[self.base:]
        return self.h.getInfo().objective_function_value, y[:self.E], y[self.E:], self.rows[self.open], x[self.open]


def branch_and_bound(pool: Pool, ub: int, deadline: float, should_stop: Callable[[], bool] = lambda: False,
                     on_roster: Optional[Callable[[dict, int], None]] = None,
                     first: bool = False, max_nodes: Optional[int] = None,
                     jitter: Optional[np.random.Generator] = None) -> tuple[Optional[dict], int, bool, int]:
    """Depth first over the pool: (the cheapest roster found under ``ub`` or None, its cost or ``ub``, whether
    the search finished, nodes). ``first``: return at the first roster found (:func:`search` asks for one
    roster under each target); ``max_nodes``: give up after that many nodes; ``jitter``: branch on a cell
    drawn near the most fractional rather than the most fractional itself."""
    E = len(pool.people)
    owner, cost, cells = pool.owner, pool.cost.astype(float), pool.cells
    rc_root = pool.rc0
    master = _Master(pool)
    by_rc = np.lexsort((rc_root, owner))  # each person's rows, least reduced cost first
    seeds = by_rc[np.r_[True, owner[by_rc][1:] != owner[by_rc][:-1]]]
    master.add(seeds)
    best: Optional[dict] = None
    best_cost = ub
    z_root = None

    req, uw, ow = pool.req, pool.under_weight, pool.over_weight
    last_used = np.array(seeds, dtype=np.int64)

    def rounded(used: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, float]:
        """Each person's largest row in the node's master, and that roster's cost."""
        order = np.lexsort((-w, owner[used]))
        js = used[order]
        pick = js[np.r_[True, owner[js][1:] != owner[js][:-1]]]
        have = np.asarray(pool.A[:, pick].sum(axis=1)).ravel()
        c = float(cost[pick].sum() + (uw * np.maximum(req - have, 0)).sum() + (ow * np.maximum(have - req, 0)).sum())
        return pick, c

    def keep(js: np.ndarray, c: float) -> bool:
        """A roster of one row per person ``js``, cheaper than the best: kept and reported; whether to stop."""
        nonlocal best, best_cost
        roster: dict = {}
        for j in js.tolist():
            roster.update(pool.row(j))
        best, best_cost = roster, int(round(c))
        if on_roster:
            on_roster(roster, best_cost)
        return first

    def lp(allowed: np.ndarray):
        """The node's master over the allowed rows, priced over the whole pool: (value, rows with a
        positive value, their values), or None if a person has no allowed row."""
        nonlocal master
        if len(master.rows) > MAX_LP_ROWS:  # start again from the rows in use: a small master solves faster
            master = _Master(pool)
            master.add(last_used)
        master.restrict(allowed)
        have = np.zeros(E, bool)
        have[owner[master.rows[master.open]]] = True
        for e in np.nonzero(~have)[0].tolist():
            js = np.nonzero(allowed & (owner == e))[0]
            if not len(js):
                return None
            master.add([int(js[np.argmin(rc_root[js])])])
        while True:
            out = master.solve()
            if out is None:
                return None
            value, mu, pi, rows, lam = out
            rc = cost - pool.AT @ pi - mu[owner]
            neg = np.nonzero((rc < -EPS) & allowed & ~master.member)[0]
            if not len(neg):
                pos = lam > EPS
                return value, rows[pos], lam[pos], rc
            # the most negative few per person
            order = neg[np.lexsort((rc[neg], owner[neg]))]
            take, count = [], {}
            for j in order.tolist():
                e = owner[j]
                if count.get(e, 0) < ADD_PER_PERSON:
                    count[e] = count.get(e, 0) + 1
                    take.append(j)
            master.add(take)

    stack = [np.ones(len(owner), bool)]
    nodes = 0
    S = len(pool.sid)
    while stack:
        if time.perf_counter() > deadline or should_stop() or (max_nodes is not None and nodes >= max_nodes):
            return best, best_cost, False, nodes
        allowed = stack.pop()
        # rows that cannot be in a roster under the incumbent (reduced-cost fixing at the root's prices)
        if z_root is not None:
            allowed = allowed & (rc_root <= best_cost - 1 - z_root + EPS)
        nodes += 1
        out = lp(allowed)
        if out is None:
            continue
        value, used, w, rc = out
        # reduced-cost fixing at this node's prices, for its subtree: a row that would take any roster in it
        # past the incumbent is out (with the gap a unit or two, most of them; Curtois 5-7, both targets each, in
        # three row orders: 9-12 s in all with it, 14-48 s without)
        allowed = allowed & (rc <= best_cost - 1 - value + SLACK)
        last_used = used
        if z_root is None:
            z_root = value
        if len(used) > E:  # fractional: everyone's largest row may still make a roster under the target
            pick, c = rounded(used, w)
            if c < best_cost and len(pick) == E and keep(pick, c):
                return best, best_cost, False, nodes
        if math.ceil(value - EPS) >= best_cost:
            continue
        if (w > 1 - EPS).sum() == E:
            if keep(used, value):
                return best, best_cost, False, nodes
            continue
        # branch on the most fractional cell of one person
        share = np.zeros((E, pool.D, S + 1))
        np.add.at(share, (owner[used][:, None], np.arange(pool.D)[None, :], cells[used]), w[:, None])
        dist = np.abs(share - 0.5)
        if jitter is not None:
            dist = dist + jitter.uniform(0, JITTER, dist.shape)
        e, d, k = np.unravel_index(int(np.argmin(dist)), dist.shape)
        mine = owner == e
        on = allowed & (~mine | (cells[:, d] == k))
        off = allowed & (~mine | (cells[:, d] != k))
        stack.extend([off, on] if share[e, d, k] >= 0.5 else [on, off])  # the likelier side last: popped first
    return best, best_cost, True, nodes


def target(pool: Pool, t: int, deadline: float, should_stop: Callable[[], bool] = lambda: False,
           on_roster: Optional[Callable[[dict, int], None]] = None) -> tuple[Optional[dict], int, bool, int]:
    """A roster of cost at most ``t`` over the pool, or proof there is none: branch-and-bound restarted with
    twice the nodes each time, each search branching on a cell chosen near the most fractional at random."""
    budget, nodes, k = RESTART_NODES, 0, 0
    while True:
        rng = np.random.default_rng(k)
        best, cost, done, n = branch_and_bound(pool, t + 1, deadline, should_stop, on_roster, first=True,
                                               max_nodes=budget, jitter=rng)
        nodes += n
        if best is not None or done or time.perf_counter() > deadline or should_stop():
            return best, cost, done, nodes
        budget *= 2
        k += 1


def applies(cg) -> bool:
    """Whether the pool search can run: column generation finished with a bound, every person has the exact
    row search (28-day benchmark contracts with numba), and HiGHS is installed."""
    return (AVAILABLE and cg.bound is not None and len(cg._dps) == len(cg.columns)
            and all(dp.exact for dp in cg._dps.values()))


def search(cg, ub: Union[int, Callable[[], float]], deadline: float, should_stop: Callable[[], bool] = lambda: False,
           on_roster: Optional[Callable[[dict, int], None]] = None,
           on_bound: Optional[Callable[[int], None]] = None, master=None) -> Optional[PoolResult]:
    """The cheapest roster, target by target: for each cost ``t`` from the master's value rounded up, the
    rows within the gap ``t - z`` and a search over them for a roster of cost ``t``. A search that ends
    without one proves every roster costs more than ``t`` (``on_bound(t + 1)``), as long as every pool so far
    held all the rows within its gap; the first roster found is then optimal. Small targets make small pools
    (Curtois Instance5: 5,230 rows within 1.4, 20,681 within 2.4), so the search reaches the cheapest roster
    through proofs that each take a second or two, where a pool for the best roster known (the dives' 1,156
    on Instance5) holds too many rows and a roster near it is found first (a search from there took 25 s to
    reach 1,143). Stops at ``ub`` (a roster of that cost is known: if every target below it was searched to
    the end over whole pools, it is optimal), at ``deadline``, or when a pool cannot be built (too many rows
    even at the smallest gap). None where it does not apply (no bound, no exact search, HiGHS missing).

    ``ub`` may be a function, read before each target and during its search: a roster found elsewhere in
    the meantime (the solver runs this search in a thread of its own beside its dives) ends every target
    at or above its cost. ``master``: the master's ``(value, duals, person duals)`` from
    :meth:`.colgen.ColumnGeneration.solve_master`, taken by the caller (a search in a thread must not
    touch the master the other thread is solving); by default solved here."""
    if not applies(cg):
        return None
    if master is None:
        master = cg.solve_master()
    if master is None:
        return None
    known = ub if callable(ub) else (lambda: ub)
    value, duals, mus = master
    t = max(math.ceil(value - EPS), cg.bound)
    proven = True
    out = PoolResult(None, None, False, 0, 0.0, 0)
    listed: Optional[Pool] = None
    listing = 0.0  # seconds the last listing took
    while t < known() and time.perf_counter() < deadline - LEVEL_MIN_S and not should_stop():
        level = t

        def ended() -> bool:  # cancelled, or a roster of cost at most this target came from elsewhere
            return should_stop() or known() <= level

        gap = max(t - value, 0.0)
        if listed is None or gap > listed.gap + EPS:
            # the first target's pool must be whole: with too many rows even for it (Curtois 11: 50 people
            # with thousands of rows of reduced cost 0 each) the search would crawl; the time is the dives'.
            # Later ones are listed AHEAD targets at a time, each target's pool cut from the listing
            if time.perf_counter() + listing > deadline - LEVEL_MIN_S:
                break  # no time to search what another listing, as long as the last, would give
            ahead = gap if listed is None else max(gap, min(gap + AHEAD, known() - 1 - value))
            began = time.perf_counter()
            try:
                listed = Pool(cg, duals, mus, ahead, whole=listed is None,
                              should_stop=lambda: ended() or time.perf_counter() > deadline)
            except ValueError:
                return out
            except Stopped:  # (a roster of cost t from elsewhere is optimal when the targets below were proven)
                break
            listing = time.perf_counter() - began
        pool = listed if listed.gap <= gap + EPS else listed.within(gap)
        now = time.perf_counter()
        by = min(deadline, now + max(LEVEL_MIN_S, LEVEL_SHARE * (deadline - now)))
        best, cost, done, nodes = target(pool, t, by, ended, on_roster)
        if best is None and known() <= level:
            break  # a roster of cost at most t came from elsewhere: with the targets below proven, optimal
        proven = proven and pool.complete and (done or best is not None)
        out = PoolResult(best, cost if best is not None else None, proven, len(pool), gap, out.nodes + nodes)
        if best is not None:
            return out
        if proven and on_bound:
            on_bound(t + 1)
        t += 1
    if t >= known() and proven:
        out.proven = True  # no roster below ub: the known one is optimal
    return out
