"""Column generation: whole rows as columns, a linear master, CP-SAT for the rows and for the final choice.

When every hard rule is a rule about one person (contracts, leave, rest, locks, requests: the Curtois–Qu
and INRC-I benchmarks, a ward without fairness terms), a roster is one feasible *row* per person, and the
people are coupled only through cover. So the problem can be written over rows ("columns"):

    minimise   sum_e sum_k cost(e, k) * lam[e, k]  +  sum_c (under_weight_c * under_c + over_weight_c * over_c)
    such that  sum_k lam[e, k] = 1                                      for every person e
               sum_{e, k} covers(e, k, c) * lam[e, k] + under_c - over_c = requirement_c   for every cover c
               (and the cover's hard minimum and maximum, when it has them)

Its linear relaxation (the *master*, solved with GLOP) is far stronger than that of the cell-by-cell model:
a fractional mix of whole feasible rows, not of single cells (on Curtois Instance5 the CP-SAT bound of the
cell model stays near 0 against costs over 1,100; the master's is 1,140.6 against the best known 1,143).
Its dual prices say what one more person on each shift is worth; the cheapest row for one person at those
prices (its *reduced cost*) comes from the person's dynamic programme (:mod:`.rowdp`; its exact search
proves most answers on 28-day contracts) or, where that proves nothing, a one-person CP-SAT model
(:func:`.construct.row_problem`), for each person in turn; rows of negative reduced cost join the master,
until none is left (the master is then optimal over all rows, and its value, rounded up, bounds every
roster's cost) or the time share is spent.
Rosters come from dives through the master (fix the largest columns, price again, repeat) that leave the last
few people to the cell model (:meth:`ColumnGeneration.dive_finish`), and from a CP-SAT model over the columns
found (price-and-branch); the caller improves the best further with the cell model and its
large-neighbourhood search.
"""
from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
from ortools.sat.python import cp_model

from optimization.cpsat import cp_solver

from .construct import row_problem
from .model import build_model
from .problem import RosterProblem
from .rowdp import RowDP
from .rowdp import applies as dp_applies
from .validate import validate

try:
    from highspy._core import HighsModelStatus, _Highs

    HIGHS = True
except ImportError:  # pragma: no cover - the bundle leaves HiGHS out: GLOP, built afresh at each solve
    HIGHS = False

#: HiGHS's simplex for a re-solve after columns joined a kept model (the basis stays primal feasible: the
#: primal) and after upper bounds changed (it stays dual feasible: the dual). The dual after new columns
#: took 18 ms and 240 iterations a solve on Curtois Instance7's pool search, the primal 2.6 ms and 32
SIMPLEX_PRIMAL = 4
SIMPLEX_DUAL = 1

#: dual prices are floats; CP-SAT pricing objectives are integers in units of 1/PRICE_SCALE
PRICE_SCALE = 1000
#: CP-SAT seconds for one person's pricing model at most (a row of 28 days solves in well under 0.1 s)
PRICE_LIMIT_S = 2.0
#: price with each person's dynamic programme first (:mod:`.rowdp`), CP-SAT only for what it misses
PRICE_WITH_DP = True
#: diving with pricing fixes this share of the people not yet fixed at each step (the largest columns)
DIVE_SHARE = 0.1
#: the master counts as settled when its value moved less than SETTLED_BY over SETTLED_ITERATIONS iterations
SETTLED_ITERATIONS = 10
SETTLED_BY = 0.5
#: pricing rounds before each fixing step of a priced dive (it stops early when a round finds no new row)
DIVE_ROUNDS = 10
#: a priced dive fixes more people per step when the steps left at the last step's pace (times this
#: margin) would not reach the free people by its deadline: a dive cut short by its deadline returns a
#: poor roster (Curtois Instance18: 10,135 against 5,005 when it fixed 20 % per step; Instance14 1,785
#: against 1,278; each step's master and pricing take about 0.3-1 s on 32-60 people)
DIVE_PACE = 0.7


def applies(problem: RosterProblem) -> bool:
    """Whether to use it: rows independent but for cover (no fairness terms, which couple people's rows), and cover
    priced at a flat rate per person (the master's excess is linear), not fixed. With a hard cover minimum or
    maximum (INRC-I asks for exact cover) the choice among a partial set of rows rarely meets it, and the cell model
    did better at equal time (INRC-I sprint01 at 20 s: 57 against 64; medium01: 284 against 354)."""
    p = problem
    return (bool(p.employees) and not p.fair_nights_weight and not p.fair_weekends_weight
            and not (p.fair_holidays_weight and p.holidays)
            and not p.night_share_weight  # a person's night band is per row, but the master would not price it
            and all(c.hard_min == 0 and c.hard_max is None and not c.over_step for c in p.cover))


@dataclass
class Column:
    row: dict  # {(employee, day): shift}
    cost: int  # the row's own cost: requests, priced contract rules, patterns, changes
    covers: tuple[int, ...]  # indexes of the cover requirements this row counts towards


@dataclass
class ColumnGeneration:
    """The columns found so far and the master over them. ``bound`` is set once the master is proven optimal
    over all rows (every person's pricing model solved to optimality without a negative reduced cost)."""

    problem: RosterProblem
    columns: dict[str, list[Column]] = field(default_factory=dict)
    bound: Optional[int] = None
    iterations: int = 0
    _seen: dict[str, set] = field(default_factory=dict)
    _subs: dict[str, RosterProblem] = field(default_factory=dict)
    use_dp: bool = True
    _dps: dict = field(default_factory=dict)
    _values: list = field(default_factory=list)  # the master's value at each iteration
    _lp: Optional["_HighsMaster"] = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        p = self.problem
        self._skills = {e.id: e.skills for e in p.employees}
        for e in p.employees:
            self.columns.setdefault(e.id, [])
            self._seen.setdefault(e.id, set())
            self._subs[e.id] = row_problem(p, e.id)
            if self.use_dp and PRICE_WITH_DP and dp_applies(self._subs[e.id]):
                self._dps[e.id] = RowDP(self._subs[e.id])

    def __getstate__(self) -> dict:
        # a copy builds its own LP master on its first solve (a HiGHS model cannot be copied)
        return {**self.__dict__, "_lp": None}

    # ------------------------------------------------------------------ columns
    def covers(self, eid: str, row: dict) -> tuple[int, ...]:
        skills = self._skills[eid]
        return tuple(i for i, c in enumerate(self.problem.cover)
                     if (c.skill is None or c.skill in skills) and row.get((eid, c.day)) in c.counted)

    def add(self, eid: str, row: dict) -> bool:
        """Add one person's row (``{(eid, day): shift}``) as a column; False when it is there already."""
        key = tuple(sorted(row.items()))
        if key in self._seen[eid]:
            return False
        self._seen[eid].add(key)
        cost = int(validate(self._subs[eid], row).objective)
        self.columns[eid].append(Column(dict(row), cost, self.covers(eid, row)))
        return True

    def rows_of(self, assignment: dict) -> dict[str, dict]:
        """A roster cut into each person's row (``{eid: {(eid, day): shift}}``, empty rows included)."""
        rows: dict[str, dict] = {e: {} for e in self.columns}
        for (e, d), s in assignment.items():
            rows[e][(e, d)] = s
        return rows

    def add_roster(self, assignment: dict) -> None:
        for e, row in self.rows_of(assignment).items():
            self.add(e, row)

    def seed_rows(self) -> dict:
        """Each person's cheapest row of their own (no cover prices) from their dynamic programme, as the
        master's first columns; cover being priced, together they are a first roster too, which is returned
        (Curtois Instance17: the cell model found none in 5 s; column generation from these rows proves the
        best known 5,746 in 21 s). Empty, adding nothing, when someone has no programme or no row keeps
        their rules."""
        found = {}
        for eid in self.columns:
            dp = self._dps.get(eid)
            row = dp.solve(seed=0) if dp is not None else None
            if row is None:
                return {}
            found[eid] = row[0]
        roster: dict = {}
        for eid, row in found.items():
            self.add(eid, row)
            roster.update(row)
        return roster

    @property
    def priced_quickly(self) -> bool:
        """Whether most people have a dynamic programme (pricing in milliseconds, not CP-SAT solves)."""
        return 2 * len(self._dps) > len(self.columns)

    @property
    def lp_value(self) -> Optional[float]:
        """The master's value at the last iteration (None before the first)."""
        return self._values[-1] if self._values else None

    @property
    def settled(self) -> bool:
        """Whether the master is finished (a bound) or has stopped moving: less than SETTLED_BY over its last
        SETTLED_ITERATIONS iterations (Curtois Instance8: 1,296.6 from about 30 s on while the pricing
        still adds rows that do not change it, and the proof takes longer than the time share)."""
        v = self._values
        return self.bound is not None or (len(v) > SETTLED_ITERATIONS
                                          and v[-SETTLED_ITERATIONS - 1] - v[-1] < SETTLED_BY)

    @property
    def n_columns(self) -> int:
        return sum(len(v) for v in self.columns.values())

    # ------------------------------------------------------------------ master
    def solve_master(self, fixed: Optional[dict[str, int]] = None, values: bool = False):
        """The master LP over the columns so far: (value, dual price of each cover row, of each person's row),
        and with ``values`` each column's value (``{(eid, k): value}``; with ``fixed``, a person fixed to one
        column has only that one). The cover rows' hard minimum and maximum add their duals to the cover's.
        One HiGHS model kept between calls (:class:`_HighsMaster`) where HiGHS is installed, else GLOP built
        afresh. None if the LP has no optimum (no column yet for someone, or a fixing that breaks a hard
        cover)."""
        if HIGHS:
            if self._lp is None:
                self._lp = _HighsMaster(self)
            out = self._lp.solve(self, fixed, values)
            if out is not None:
                return out
        return self._solve_master_glop(fixed, values)

    def _solve_master_glop(self, fixed: Optional[dict[str, int]] = None, values: bool = False):
        from ortools.linear_solver import pywraplp

        p = self.problem
        lp = pywraplp.Solver.CreateSolver("GLOP")
        if lp is None:
            return None
        inf = lp.infinity()
        conv = {e: lp.Constraint(1, 1) for e in self.columns}
        cover_rows, extra_rows = [], []  # extra: (cover index, constraint) for hard minimum / maximum
        obj = lp.Objective()
        for i, c in enumerate(p.cover):
            ct = lp.Constraint(c.requirement, c.requirement)
            under, over = lp.NumVar(0, inf, ""), lp.NumVar(0, inf, "")
            ct.SetCoefficient(under, 1)
            ct.SetCoefficient(over, -1)
            obj.SetCoefficient(under, c.under_weight)
            obj.SetCoefficient(over, c.over_weight)
            cover_rows.append(ct)
            if c.hard_min > 0 or c.hard_max is not None:
                extra_rows.append((i, lp.Constraint(c.hard_min, inf if c.hard_max is None else c.hard_max)))
        extra_of: dict[int, list] = {}
        for i, ct in extra_rows:
            extra_of.setdefault(i, []).append(ct)
        lam: dict[tuple[str, int], object] = {}
        for e, cols in self.columns.items():
            for k, col in enumerate(cols):
                if fixed and e in fixed and fixed[e] != k:
                    continue
                v = lp.NumVar(0, inf, "")  # (at most 1 by the person's row; see _HighsMaster._sync)
                lam[e, k] = v
                conv[e].SetCoefficient(v, 1)
                obj.SetCoefficient(v, col.cost)
                for i in col.covers:
                    cover_rows[i].SetCoefficient(v, 1)
                    for ct in extra_of.get(i, ()):
                        ct.SetCoefficient(v, 1)
        obj.SetMinimization()
        if lp.Solve() != pywraplp.Solver.OPTIMAL:
            return None
        duals = [ct.dual_value() for ct in cover_rows]
        for i, ct in extra_rows:
            duals[i] += ct.dual_value()
        out = (lp.Objective().Value(), duals, {e: ct.dual_value() for e, ct in conv.items()})
        if values:
            return out + ({key: v.solution_value() for key, v in lam.items()},)
        return out

    # ------------------------------------------------------------------ pricing
    def prices_for(self, eid: str, duals: list[float]) -> dict[tuple[int, str], float]:
        """The price of each of one person's cells at the master's cover duals: ``{(day, shift): price}``
        (negative: a cell the master wants worked)."""
        skills = self._skills[eid]
        coef: dict[tuple[int, str], float] = {}
        for i, c in enumerate(self.problem.cover):
            if duals[i] and (c.skill is None or c.skill in skills):
                for s in c.counted:
                    coef[(c.day, s)] = coef.get((c.day, s), 0.0) - duals[i]
        return coef

    def price(self, eid: str, duals: list[float], mu: float, seed: int,
              prove: bool = True) -> tuple[list[dict], float, bool]:
        """One person's cheapest row at the master's prices: (the rows of negative reduced cost found on the
        way, the cheapest last; its reduced cost; whether it is proven cheapest).

        The person's dynamic programme (:mod:`.rowdp`, where their rules allow one) is asked first: a row of
        negative reduced cost from it is returned at once (proven when its exact search proved it). When its
        exact search's lower bound shows no row of negative reduced cost, that is the proof. Otherwise, and
        only with ``prove``, the one-person CP-SAT model decides."""
        coef = self.prices_for(eid, duals)
        dp = self._dps.get(eid)
        if dp is not None:
            # the first feasible row the programme meets, then its best; the exact search goes to the best
            for first in (False,) if dp.exact else (True, False):
                found = dp.solve(coef, seed=seed, first=first)
                if found is None:
                    break
                row = found[0]
                own = int(validate(self._subs[eid], row).objective)
                reduced = own + sum(coef.get((d, s), 0.0) for (_, d), s in row.items()) - mu
                if reduced < -1e-6 and tuple(sorted(row.items())) not in self._seen[eid]:
                    return [row], reduced, dp.proven
                # (a column already: its reduced cost is rounding noise)
                if dp.exact:
                    # the best row's reduced cost, less the programme's gap from it to its lower bound
                    lower = reduced - (found[1] - dp.lower)
                    if lower >= -1e-6:
                        return [], lower, True  # proven: no row of this person has a negative reduced cost
        if not prove:
            return [], 0.0, False
        rm = build_model(self._subs[eid])
        vs, cs = [], []
        for (e, d, s), v in rm.x.items():
            cf = round(coef.get((d, s), 0.0) * PRICE_SCALE)
            if cf:
                vs.append(v)
                cs.append(cf)
        own = [(pen.var, pen.weight * PRICE_SCALE) for pen in rm.penalties]
        rm.model.minimize(cp_model.LinearExpr.weighted_sum(vs + [v for v, _ in own], cs + [w for _, w in own]))
        last = self.columns[eid][-1].row if self.columns[eid] else {}
        for (e, d, s), v in rm.x.items():
            rm.model.add_hint(v, last.get((e, d)) == s)
        # a one-person model: presolve costs more than it saves (-20 %)
        solver = cp_solver(PRICE_LIMIT_S, 1, seed, cp_model_presolve=False)
        found = _Rows(rm, mu)  # every improving row on the way with a negative reduced cost is a column too
        st = solver.solve(rm.model, found)
        if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return [], 0.0, False
        return found.rows, solver.objective_value / PRICE_SCALE - mu, st == cp_model.OPTIMAL

    def generate(self, deadline: float, should_stop: Callable[[], bool] = lambda: False,
                 on_iteration: Optional[Callable[[int, float], None]] = None) -> None:
        """Master, then pricing, until no row has a negative reduced cost or ``deadline`` (a
        ``time.perf_counter()`` value). Partial pricing: a round prices only the people who gave a new row in
        the round before; when none of them does, everybody is priced, and a full round with nothing new
        (every pricing solve proven) ends it with a bound. (Two pricing threads gave no more rounds on Curtois
        Instance8: most of a pricing solve holds the GIL; so one.)"""
        everybody = list(self.columns)
        people = everybody
        while time.perf_counter() < deadline and not should_stop():
            master = self.solve_master()
            if master is None:
                return
            value, duals, mus = master
            self._values.append(value)
            self.iterations += 1
            if on_iteration:
                on_iteration(self.iterations, value)
            gave, proven = [], True
            for k, eid in enumerate(people):
                if time.perf_counter() > deadline or should_stop():
                    return
                rows, _reduced, optimal = self.price(eid, duals, mus[eid], self.iterations * 1000 + k)
                proven = proven and optimal
                if sum(self.add(eid, row) for row in rows):
                    gave.append(eid)
            if gave:
                people = gave
            elif people is not everybody:
                people = everybody  # the active few are done: check everybody before stopping
            else:
                if proven:
                    self.bound = math.ceil(value - 1e-6)
                return

    # ------------------------------------------------------------------ integer choice
    def dive(self, deadline: float) -> Optional[dict]:
        """A roster by rounding the master: fix every person whose column is (nearly) whole in the master's
        solution, and the one column with the largest share among the rest; re-solve; repeat. One master
        solve per step, no pricing (about 2 s on Curtois Instance8). None if time runs out or GLOP fails."""
        fixed: dict[str, int] = {}
        while len(fixed) < len(self.columns):
            if time.perf_counter() > deadline:
                return None
            master = self.solve_master(fixed, values=True)
            if master is None:
                return None
            lam = master[3]
            for (e, k), v in lam.items():
                if e not in fixed and v > 0.99:
                    fixed[e] = k
            rest = [(v, key) for key, v in lam.items() if key[0] not in fixed]
            if rest:
                _, (e, k) = max(rest)
                fixed[e] = k
        out: dict = {}
        for e, k in fixed.items():
            out.update(self.columns[e][k].row)
        return out

    def dive_priced(self, deadline: float, rounds: int = DIVE_ROUNDS) -> Optional[dict]:
        """A roster by diving with pricing: like :meth:`dive`, but before each fixing step the people not yet
        fixed are priced again (up to ``rounds`` rounds, dynamic programme only) at the restricted master's
        prices, so the columns left to choose from fit what is already fixed. Affordable only with the
        dynamic programme's quick pricing. None if time runs out or GLOP fails."""
        dived = self._dive_priced(deadline, rounds, 0)
        if dived is None or dived[2]:
            return None
        return dived[1]

    def _dive_priced(self, deadline: float, rounds: int, free: int,
                     jitter: float = 0.0, seed: int = 0) -> Optional[tuple[dict[str, int], dict, bool]]:
        """The priced dive until at most ``free`` people are left unfixed or ``deadline`` passes: (the fixed
        column of each fixed person, a whole roster (the fixed columns and each other person's largest
        column in the last master), whether time ran out). ``jitter``: the columns to fix are chosen by
        their master value times a random factor in [1, 1 + jitter) (another dive, not the same one
        again). None if GLOP fails."""
        rng = random.Random(seed)
        fixed: dict[str, int] = {}
        price_seed = 0
        late = False
        while True:
            step_began = time.perf_counter()
            for _ in range(rounds):
                late = time.perf_counter() > deadline
                if late:
                    break
                master = self.solve_master(fixed)
                if master is None:
                    return None
                _, duals, mus = master
                new = 0
                for eid in self.columns:
                    if eid in fixed or eid not in self._dps:
                        continue
                    if time.perf_counter() > deadline:  # a round of 100 people over 364 days: up to a minute
                        break
                    price_seed += 1
                    rows, _, _ = self.price(eid, duals, mus[eid], price_seed, prove=False)
                    new += sum(self.add(eid, row) for row in rows)
                if not new:
                    break
            master = self.solve_master(fixed, values=True)
            if master is None:
                return None
            lam = master[3]
            for (e, k), v in lam.items():
                if e not in fixed and v > 0.99 and len(self.columns) - len(fixed) > free:
                    fixed[e] = k
            if late or len(self.columns) - len(fixed) <= free:
                break
            rest = sorted(((v * (1 + jitter * rng.random()), key) for key, v in lam.items() if key[0] not in fixed),
                          reverse=True)
            to_fix = len(self.columns) - len(fixed) - free
            n = max(1, round(DIVE_SHARE * (len(self.columns) - len(fixed))))
            # fix more at once when steps this slow would not reach ``free`` people by the deadline
            step_s = time.perf_counter() - step_began
            steps_left = int((deadline - time.perf_counter()) * DIVE_PACE / max(step_s, 1e-3))
            n = min(max(n, math.ceil(to_fix / max(steps_left, 1))), to_fix)
            for _, (e, k) in rest:
                if n and e not in fixed:
                    fixed[e] = k
                    n -= 1
        largest: dict[str, tuple[float, int]] = {}
        for (e, k), v in lam.items():
            if e not in fixed and v > largest.get(e, (-1.0, 0))[0]:
                largest[e] = (v, k)
        out: dict = {}
        for e in self.columns:
            k = fixed[e] if e in fixed else largest[e][1]
            out.update(self.columns[e][k].row)
        return fixed, out, late

    def dive_finish(self, deadline: float, free: int, finish_s: float, workers: int = 2, seed: int = 0,
                    should_stop: Callable[[], bool] = lambda: False, jitter: float = 0.0) -> Optional[dict]:
        """A roster by a priced dive (:meth:`dive_priced`) stopped while ``free`` people are still unfixed,
        then the cell model, every fixed person's row fixed, chooses the free people's rows exactly within
        ``finish_s`` seconds. The last steps of a dive are where it goes wrong (on Curtois Instance7 the
        master rose from 1,060 to 1,460 over its last six fixings, against the best known 1,056), and the
        few people left are a small problem for CP-SAT (Instance7, 4 people: optimal in 0.2 s, 1,064).
        Cover being priced, any choice of rows is a roster, so the dive's own roster hints the finish and
        is returned when the finish finds nothing better (``jitter``: see :meth:`_dive_priced`). A dive still
        running at ``deadline`` stops there and returns that roster unfinished (a slow dive is a poor one: on
        Instance15, 42 days, it gave 6,493-7,107 where the cell model's search reaches 5,700-5,900 with that
        time). None if GLOP fails."""
        dived = self._dive_priced(deadline, DIVE_ROUNDS, free, jitter, seed)
        if dived is None:
            return None
        fixed, roster, late = dived
        if late or finish_s < 0.1 or should_stop() or len(fixed) == len(self.columns):
            return roster
        rm = build_model(self.problem)
        for (e, d, s), v in rm.x.items():
            on = int(roster.get((e, d)) == s)
            if e in fixed:
                rm.model.add(v == on)
            else:
                rm.model.add_hint(v, on)
        solver = cp_solver(finish_s, workers, seed)
        st = solver.solve(rm.model, _StopWhen(should_stop))
        if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return roster
        return {(e, d): s for (e, d, s), v in rm.x.items() if solver.boolean_value(v)}

    def best_roster(self, time_limit_s: float, hint: Optional[dict] = None, workers: int = 2, seed: int = 0,
                    should_stop: Callable[[], bool] = lambda: False) -> Optional[tuple[dict, int]]:
        """One column per person, cheapest in total (CP-SAT over the columns found): (assignment, cost)."""
        p = self.problem
        m = cp_model.CpModel()
        z: dict[tuple[str, int], cp_model.IntVar] = {}
        by_cover: dict[int, list] = {}
        terms = []
        for e, cols in self.columns.items():
            vs = []
            for k, col in enumerate(cols):
                v = m.new_bool_var(f"z[{e},{k}]")
                z[e, k] = v
                vs.append(v)
                if col.cost:
                    terms.append(col.cost * v)
                for i in col.covers:
                    by_cover.setdefault(i, []).append(v)
            m.add_exactly_one(vs)
        n = len(self.columns)
        for i, c in enumerate(p.cover):
            have = sum(by_cover.get(i, []))
            under, over = m.new_int_var(0, c.requirement, f"under[{i}]"), m.new_int_var(0, n, f"over[{i}]")
            m.add(have + under - over == c.requirement)
            terms += [c.under_weight * under, c.over_weight * over]
            if c.hard_min > 0:
                m.add(have >= c.hard_min)
            if c.hard_max is not None:
                m.add(have <= c.hard_max)
        m.minimize(sum(terms))
        if hint is not None:
            rows = self.rows_of(hint)
            for (e, k), v in z.items():
                m.add_hint(v, self.columns[e][k].row == rows[e])
        solver = cp_solver(max(time_limit_s, 0.1), workers, seed)

        st = solver.solve(m, _StopWhen(should_stop))
        if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return None
        out: dict = {}
        for (e, k), v in z.items():
            if solver.boolean_value(v):
                out.update(self.columns[e][k].row)
        return out, int(round(solver.objective_value))


class _StopWhen(cp_model.CpSolverSolutionCallback):
    """Stops a solve at its next solution once ``should_stop()`` turns true."""

    def __init__(self, should_stop: Callable[[], bool]):
        super().__init__()
        self.should_stop = should_stop

    def on_solution_callback(self) -> None:
        if self.should_stop():
            self.stop_search()


class _Rows(cp_model.CpSolverSolutionCallback):
    """Collects the rows of negative reduced cost a pricing solve passes through."""

    def __init__(self, rm, mu: float):
        super().__init__()
        self.rm, self.mu = rm, mu
        self.rows: list[dict] = []

    def on_solution_callback(self) -> None:
        if self.objective_value / PRICE_SCALE - self.mu < -1e-6:
            self.rows.append({(e, d): s for (e, d, s), v in self.rm.x.items() if self.boolean_value(v)})


def cover_model(people: int, cover) -> "_Highs":
    """A quiet one-thread HiGHS model of a roster's master without its rows: one row per person (= 1), one per
    cover (= its requirement), and each cover's under and over slack at its weights as the first ``2 *
    len(cover)`` columns (under first). Shared by the column-generation master and the pool search's."""
    h = _Highs()  # the plain binding: highspy.Highs prints a banner to stdout (C level) on first use
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    C = len(cover)
    req = np.array([c.requirement for c in cover], dtype=float)
    lo = np.concatenate([np.ones(people), req])
    h.addRows(people + C, lo, lo.copy(), 0, np.zeros(people + C, np.int32), np.zeros(0, np.int32), np.zeros(0))
    idx = np.arange(people, people + C, dtype=np.int32)
    h.addCols(2 * C, np.array([c.under_weight for c in cover] + [c.over_weight for c in cover], float),
              np.zeros(2 * C), np.full(2 * C, math.inf), 2 * C,
              np.arange(2 * C, dtype=np.int32), np.concatenate([idx, idx]), np.concatenate([np.ones(C), -np.ones(C)]))
    return h


class _HighsMaster:
    """The master as one HiGHS model kept for the whole run: columns join it as they are generated, a dive's
    fixing is a change of upper bounds, and each solve starts from the last basis (the primal simplex after new
    columns, the dual after new bounds). GLOP built afresh at each solve spent 17 of Curtois Instance14's 42 s
    of column generation on 84 masters (111 ms a solve, 90 ms to build)."""

    def __init__(self, cg: ColumnGeneration):
        p = cg.problem
        self.people = list(cg.columns)
        E, C = len(self.people), len(p.cover)
        self.E, self.C = E, C
        hard = [i for i, c in enumerate(p.cover) if c.hard_min > 0 or c.hard_max is not None]
        self.hard = np.array(hard, dtype=np.int64)  # covers with a hard row of their own, after the cover rows
        self.hard_row = {i: E + C + n for n, i in enumerate(hard)}
        self.h = h = cover_model(E, p.cover)
        if hard:
            lo = np.array([p.cover[i].hard_min for i in hard], dtype=float)
            up = np.array([math.inf if p.cover[i].hard_max is None else p.cover[i].hard_max for i in hard], float)
            h.addRows(len(hard), lo, up, 0, np.zeros(len(hard), np.int32), np.zeros(0, np.int32), np.zeros(0))
        self.base = 2 * C
        self.person = np.zeros(0, np.int64)  # person (index) and column number of each column after the slacks
        self.k = np.zeros(0, np.int64)
        self.open = np.zeros(0, bool)  # upper bound 1 (else 0: fixed out)
        self.count = [0] * E  # each person's columns in the model

    def _sync(self, cg: ColumnGeneration) -> None:
        """Add the columns generated since the last solve."""
        person, ks, costs, starts, index = [], [], [], [], []
        n = 0
        for e, eid in enumerate(self.people):
            cols = cg.columns[eid]
            for k in range(self.count[e], len(cols)):
                col = cols[k]
                rows = [e] + [self.E + i for i in col.covers] + [self.hard_row[i] for i in col.covers
                                                                  if i in self.hard_row]
                person.append(e)
                ks.append(k)
                costs.append(col.cost)
                starts.append(n)
                index.extend(rows)
                n += len(rows)
            self.count[e] = len(cols)
        if not person:
            return
        m = len(person)
        # no upper bound of 1 (the person's row implies it): a column held at such a bound could keep a
        # negative reduced cost at the optimum, and the duals would then not be a certificate (Curtois
        # Instance8: the cover and person duals summed to 1,298.05 against the master's 1,296.57, and the pool
        # search's gaps, which assume they are equal, were wrong)
        self.h.addCols(m, np.array(costs, float), np.zeros(m), np.full(m, math.inf), n, np.array(starts, np.int32),
                       np.array(index, np.int32), np.ones(n))
        self.person = np.concatenate([self.person, person])
        self.k = np.concatenate([self.k, ks])
        self.open = np.concatenate([self.open, np.ones(m, bool)])
        self.h.setOptionValue("simplex_strategy", SIMPLEX_PRIMAL)

    def solve(self, cg: ColumnGeneration, fixed: Optional[dict[str, int]], values: bool):
        self._sync(cg)
        want = np.ones(len(self.person), bool)
        if fixed:
            to = np.full(self.E, -1)
            for n, eid in enumerate(self.people):
                to[n] = fixed.get(eid, -1)
            pinned = to[self.person]
            want = (pinned < 0) | (pinned == self.k)
        ks = np.nonzero(want != self.open)[0]
        if len(ks):
            self.h.changeColsBounds(len(ks), (ks + self.base).astype(np.int32), np.zeros(len(ks)),
                                    np.where(want[ks], math.inf, 0.0))
            self.h.setOptionValue("simplex_strategy", SIMPLEX_DUAL)
            self.open = want
        self.h.run()
        if self.h.getModelStatus() != HighsModelStatus.kOptimal:
            return None
        sol = self.h.getSolution()
        y = np.array(sol.row_dual)
        duals = y[self.E:self.E + self.C].copy()
        np.add.at(duals, self.hard, y[self.E + self.C:])
        out = (self.h.getInfo().objective_function_value, duals.tolist(),
               {eid: float(y[n]) for n, eid in enumerate(self.people)})
        if values:
            x = np.array(sol.col_value)[self.base:]
            js = np.nonzero(want)[0]
            return out + ({(self.people[self.person[j]], int(self.k[j])): float(x[j]) for j in js.tolist()},)
        return out
