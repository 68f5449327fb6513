"""A first roster fast, one person at a time, and best-response improvement of it.

When every hard rule is a rule about one person (contract, leave, rest, locks: as in the Curtois–Qu
benchmark, where cover is priced), a roster is feasible as soon as each person's row is. So a roster can
be built row by row: each person's row is a small CP-SAT model (one person, the whole horizon) whose cover
terms are the *marginal* price of that person working a shift given everybody else's rows (a shift still
short of its requirement saves its under-weight, one already full costs its over-weight). That price is
exact, so re-solving a row never makes the roster worse: repeated passes are a best-response local search.

On Curtois Instance20-24 (182-364 days, 50-150 people) the full model found no roster in 60 s on two
busy cores; rows take well under a second each.
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

#: CP-SAT deterministic-time cap of one row improvement (a row is small; this keeps a pass predictable)
ROW_LIMIT = 0.3


def cover_counts(problem: RosterProblem, assignment: dict) -> Counter:
    """People on each (day, shift, skill) of a roster; skill None counts everybody."""
    cnt: Counter = Counter()
    skills = {e.id: e.skills for e in problem.employees}
    for (e, d), s in assignment.items():
        cnt[(d, s, None)] += 1
        for sk in skills.get(e, ()):
            cnt[(d, s, sk)] += 1
    return cnt


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
    for c in problem.cover:
        if c.skill is not None and c.skill not in skills:
            continue
        have = sum(others[(c.day, s, c.skill)] for s in c.counted)
        delta = -c.under_weight if have < c.requirement else c.over_weight
        for s in c.counted:
            if delta:
                price[(c.day, s)] = price.get((c.day, s), 0) + delta
            if c.hard_max is not None and have >= c.hard_max:
                closed.add((c.day, s))
    return price, closed


def solve_row(problem: RosterProblem, emp_id: str, others: Counter, current: Optional[dict], seed: int,
              limit: float = ROW_LIMIT, sub: Optional[RosterProblem] = None) -> Optional[dict]:
    """The cheapest row for one person given the others (None: no feasible row found in time).

    A first row is the first one a 2-worker search finds (on Curtois Instance20, with contracts asking for
    nearly full-time hours, CP-SAT's default single-worker search found none in 3 s and a fixed work-first
    search failed on some rows). Improving a row: one worker with quick restarts, hinted with the current
    row, for ``limit`` deterministic time."""
    sub = sub or row_problem(problem, emp_id)
    rm = build_model(sub)
    price, closed = cover_prices(problem, emp_id, others)
    terms = []
    for (e, d, s), v in rm.x.items():
        if (d, s) in closed:
            rm.model.add(v == 0)
        elif price.get((d, s)):
            terms.append((v, price[(d, s)]))
    rm.model.minimize(sum(pen.weight * pen.var for pen in rm.penalties)
                      + cp_model.LinearExpr.weighted_sum([v for v, _ in terms], [c for _, c in terms]))
    if current is not None:
        for (e, d, s), v in rm.x.items():
            rm.model.add_hint(v, current.get((e, d)) == s)
    solver = cp_model.CpSolver()
    solver.parameters.random_seed = seed
    if current is None:
        # the first row: any feasible one, fast (2 workers, first solution; 0.1-0.5 s a row on Instance21)
        solver.parameters.num_workers = 2
        solver.parameters.stop_after_first_solution = True
        solver.parameters.max_time_in_seconds = 10.0
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
              should_stop: Callable[[], bool] = lambda: False, passes: int = 1) -> Optional[dict]:
    """Build a roster row by row (people in a random order), then improve it by further passes until
    ``passes`` are done or ``deadline`` (a ``time.perf_counter()`` value) passes. ``None`` when some
    person has no feasible row in time (the caller then relies on the full model)."""
    rng = random.Random(seed)
    p = problem
    a: dict = dict(start or {})
    cnt = cover_counts(p, a)
    done = 0
    complete = start is not None
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
            row = solve_row(p, eid, cnt, old if complete else None, rng.randrange(10**6))
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
