"""A first roster fast, one person at a time, and best-response improvement of it.

When every hard rule is a rule about one person (contract, leave, rest, locks: as in the Curtois–Qu
benchmark, where cover is priced), a roster is feasible as soon as each person's row is. So a roster can
be built row by row: each person's row is the cheapest under the *marginal* price of that person working
a shift given everybody else's rows (a shift still short of its requirement saves its under-weight, one
already full costs its over-weight). That price is exact, so re-solving a row never makes the roster
worse: repeated passes are a best-response local search.

A row comes from the person's dynamic programme (:mod:`.rowdp`: milliseconds to a few tenths of a second
for 364 days) where their rules allow one, else from a one-person CP-SAT model (1-10 s for a first row of
364 days with tight contracts). On Curtois Instance20-24 (182-364 days, 50-150 people) the full model found
no roster in 60 s on two busy cores; with CP-SAT rows alone Instance22 and 24 found none either.
"""
from __future__ import annotations

import dataclasses
import random
import time
from collections import Counter
from typing import Callable, Optional

from ortools.sat.python import cp_model

from .model import build_model
from .problem import RosterProblem
from .rowdp import RowDP
from .rowdp import applies as dp_applies

#: CP-SAT deterministic-time cap of one row improvement (a row is small; this keeps a pass predictable)
ROW_LIMIT = 0.3
#: seconds CP-SAT gets at most for a first row (when the dynamic programme found none)
FIRST_ROW_LIMIT_S = 10.0


def cover_counts(problem: RosterProblem, assignment: dict) -> Counter:
    """People on each (day, shift, skill) of a roster; skill None counts everybody."""
    cnt: Counter = Counter()
    skills = {e.id: e.skills for e in problem.employees}
    for (e, d), s in assignment.items():
        cnt[(d, s, None)] += 1
        for sk in skills.get(e, ()):
            cnt[(d, s, sk)] += 1
    return cnt


def rostered_per_cover(problem: RosterProblem, assignment: dict) -> list[int]:
    """People rostered on each of ``problem.cover`` (in its order): those with its skill (any, for skill None)
    working one of the shifts it counts (a long day counts for Early and Late) that day."""
    had = cover_counts(problem, assignment)
    return [sum(had[(c.day, s, c.skill)] for s in c.counted) for c in problem.cover]


def row_problem(problem: RosterProblem, emp_id: str) -> RosterProblem:
    """One person's problem without cover (cover enters :func:`solve_row` as prices). Rules that couple
    people (fairness, cover minimums) are left out."""
    p = problem
    emp = p.employee(emp_id)
    pub = None
    if p.published is not None:
        pub = {k: v for k, v in dict(p.published).items() if k[0] == emp_id}
    return RosterProblem(
        p.days, p.shifts, (emp,), {emp_id: p.days_off.get(emp_id, frozenset())},
        tuple(r for r in p.requests if r.employee == emp_id), (),
        tuple(lk for lk in p.locks if lk.employee == emp_id), p.start, p.name, p.unit, pub, p.change_weight,
        p.change_from_day, 0, 0,
        tuple(dataclasses.replace(pt, employees=frozenset({emp_id})) for pt in p.patterns if emp_id in pt.employees),
    )


def cover_prices(problem: RosterProblem, emp_id: str, others: Counter) -> tuple[dict, set]:
    """What one more shift of this person changes in the cover cost, given the others' counts
    (``others[(day, shift, skill or None)]``): ``{(day, shift): price}``, and the cells a cover maximum closes."""
    price: dict = {}
    closed: set = set()
    skills = problem.employee(emp_id).skills
    get = others.get
    for c in problem.cover:
        if c.skill is not None and c.skill not in skills:
            continue
        counted = c.counted
        have = sum(get((c.day, s, c.skill), 0) for s in counted) if c.also else get((c.day, c.shift, c.skill), 0)
        delta = -c.under_weight if have < c.requirement else c.over_weight
        for s in counted:
            if delta:
                price[(c.day, s)] = price.get((c.day, s), 0) + delta
            if c.hard_max is not None and have >= c.hard_max:
                closed.add((c.day, s))
    return price, closed


def solve_row(problem: RosterProblem, emp_id: str, others: Counter, current: Optional[dict], seed: int,
              limit: float = ROW_LIMIT, sub: Optional[RosterProblem] = None,
              dp: Optional[RowDP] = None, deadline: Optional[float] = None) -> Optional[dict]:
    """The cheapest row for one person given the others (None: no feasible row found in time).

    With ``dp`` (the person's :class:`.rowdp.RowDP`, where its rules allow one) the row comes from the
    dynamic programme: the first feasible row it meets for a first row, else the cheapest it finds, never
    worse than ``current``. CP-SAT is asked only when it finds no feasible row.

    A first row is the first one a 2-worker search finds (on Curtois Instance20, with contracts asking for
    nearly full-time hours, CP-SAT's default single-worker search found none in 3 s and a fixed work-first
    search failed on some rows). Improving a row: one worker with quick restarts, hinted with the current
    row, for ``limit`` deterministic time."""
    sub = sub or row_problem(problem, emp_id)
    price, closed = cover_prices(problem, emp_id, others)
    if dp is not None:
        prices = dict(price)
        for cell in closed:
            prices[cell] = float("inf")
        found = dp.solve(prices, start=current, seed=seed, first=current is None)
        if found is not None:
            return found[0]
    rm = build_model(sub)
    hint = current if current is not None else (dp.near_row() if dp is not None else None)
    terms = []
    for (e, d, s), v in rm.x.items():
        if (d, s) in closed:
            rm.model.add(v == 0)
        elif price.get((d, s)):
            terms.append((v, price[(d, s)]))
    if dp is None or current is not None:
        rm.model.minimize(sum(pen.weight * pen.var for pen in rm.penalties)
                          + cp_model.LinearExpr.weighted_sum([v for v, _ in terms], [c for _, c in terms]))
    # else: a first row the dynamic programme could not find: any feasible row (the tight ones of Curtois
    # Instance22 take CP-SAT 2 s without prices, over 10 s with them); later passes improve it
    if hint is not None:
        for (e, d, s), v in rm.x.items():
            rm.model.add_hint(v, hint.get((e, d)) == s)
    solver = cp_model.CpSolver()
    solver.parameters.random_seed = seed
    if current is None:
        # the first row: any feasible one, fast (2 workers, first solution; 0.1-0.5 s a row on Instance21)
        solver.parameters.num_workers = 2
        solver.parameters.stop_after_first_solution = True
        solver.parameters.max_time_in_seconds = FIRST_ROW_LIMIT_S if deadline is None else \
            min(FIRST_ROW_LIMIT_S, max(deadline - time.perf_counter(), 0.1))
    else:
        solver.parameters.num_workers = 1
        solver.parameters.search_branching = cp_model.PORTFOLIO_WITH_QUICK_RESTART_SEARCH
        solver.parameters.max_deterministic_time = limit
        solver.parameters.max_time_in_seconds = max(limit * 10, 1.0)
    st = solver.solve(rm.model)
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return current
    return {(e, d): s for (e, d, s), v in rm.x.items() if solver.boolean_value(v)}


def construct(problem: RosterProblem, deadline: float, seed: int = 0, start: Optional[dict] = None,
              should_stop: Callable[[], bool] = lambda: False, passes: int = 1,
              use_dp: bool = True, cache: Optional[dict] = None) -> Optional[dict]:
    """Build a roster row by row (people in a random order), then improve it by further passes until
    ``passes`` are done or ``deadline`` (a ``time.perf_counter()`` value) passes. ``None`` when some
    person has no feasible row in time (the caller then relies on the full model)."""
    rng = random.Random(seed)
    p = problem
    a: dict = dict(start or {})
    cnt = cover_counts(p, a)
    done = 0
    complete = start is not None
    dps = {} if cache is None else cache  # per person: the one-person problem, its dynamic programme or None
    while done < passes and not should_stop():
        order = [e.id for e in p.employees]
        rng.shuffle(order)
        for eid in order:
            if time.perf_counter() > deadline or should_stop():
                return a if complete else None
            old = {k: v for k, v in a.items() if k[0] == eid}
            skills = p.employee(eid).skills
            for (e, d), s in old.items():
                cnt[(d, s, None)] -= 1
                for sk in skills:
                    cnt[(d, s, sk)] -= 1
            if eid not in dps:
                sub = row_problem(p, eid)
                dps[eid] = (sub, RowDP(sub) if use_dp and dp_applies(sub) else None)
            sub, dp = dps[eid]
            row = solve_row(p, eid, cnt, old if complete else None, rng.randrange(10**6), sub=sub, dp=dp,
                            deadline=deadline)
            if row is None:
                if not complete:
                    return None
                row = old
            for k in old:
                del a[k]
            a.update(row)
            for (e, d), s in row.items():
                cnt[(d, s, None)] += 1
                for sk in skills:
                    cnt[(d, s, sk)] += 1
        complete = True
        done += 1
    return a
