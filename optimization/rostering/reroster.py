"""Re-rostering after a sickness call or a change in demand: keep the published roster wherever possible."""
from __future__ import annotations

import dataclasses
from typing import Iterable, Optional

from .problem import DEFAULT_CHANGE_WEIGHT, RosterProblem, RosterSolution


def absent(problem: RosterProblem, employee: str, days: Iterable[int]) -> RosterProblem:
    """The same problem with ``employee`` away (sick, leave) on ``days``.

    The person's minimum minutes drop by one longest shift per newly absent day, so an absence alone never
    makes the contract impossible; their contracted minutes (what the hours report and the night share go by)
    are credited as leave is, a fifth of the week for each weekday absent. Before, a nurse off sick for a week
    showed as owing those hours."""
    if employee not in {e.id for e in problem.employees}:
        from datasets.errors import HospOpsError

        raise HospOpsError(f"{employee} is not on this roster.")
    off = {k: set(v) for k, v in problem.days_off.items()}
    before = set(off.get(employee, ()))
    off.setdefault(employee, set()).update(d for d in days if 0 <= d < problem.days)
    new = off[employee] - before
    added = len(new)
    emps = []
    for e in problem.employees:
        if e.id == employee and added and e.min_minutes:
            longest = max(s.minutes for s in problem.shifts)
            e = dataclasses.replace(e, min_minutes=max(0, e.min_minutes - longest * added))
        if e.id == employee and e.contract_minutes:
            weeks = problem.days / 7 - sum(1 for d in before if problem.weekday(d) < 5) / 5  # working weeks owed
            weekly = e.contract_minutes / weeks if weeks > 0 else 0.0
            credit = weekly / 5 * sum(1 for d in new if problem.weekday(d) < 5)
            e = dataclasses.replace(e, contract_minutes=int(round(max(e.contract_minutes - credit, 0))))
        emps.append(e)
    return dataclasses.replace(problem, days_off={k: frozenset(v) for k, v in off.items()}, employees=tuple(emps))


def list_changes(problem: RosterProblem, published: RosterSolution, new: RosterSolution,
                 from_day: int = 0) -> list[str]:
    out = []
    for emp in problem.employees:
        for d in range(from_day, problem.days):
            old, now = published.assignment.get((emp.id, d)), new.assignment.get((emp.id, d))
            if old != now:
                out.append(f"{emp.label}, {problem.day_label(d)}: {old or 'off'} → {now or 'off'}")
    return out


def rerostering_problem(problem: RosterProblem, published: RosterSolution, from_day: int,
                        change_weight: int = DEFAULT_CHANGE_WEIGHT, hold_cover: bool = True) -> RosterProblem:
    """``problem`` with the published roster attached: what :func:`reroster` solves and validates against.

    ``hold_cover``: from ``from_day`` on, each cover asks for no more than the published roster had (never
    below its hard minimum): a re-roster restores what the absence took away and does not chase shortfalls
    the published roster already accepted (on the demo's ward, one nurse off for four days changed 92 cells of
    a 6-week roster without this, most of them filling old gaps). False when demand itself changed."""
    cover = problem.cover
    if hold_cover:
        from .construct import rostered_per_cover

        had = rostered_per_cover(problem, published.assignment)
        cover = tuple(
            c if c.day < from_day else dataclasses.replace(c, requirement=max(min(c.requirement, n), c.hard_min))
            for c, n in zip(problem.cover, had))
    return dataclasses.replace(problem, cover=cover, published=dict(published.assignment),
                               change_weight=int(change_weight), change_from_day=int(from_day))


def _allowed_cells(problem: RosterProblem) -> set[tuple[str, int, str]]:
    return {(e.id, d, s.id) for e in problem.employees for d in range(problem.days) for s in problem.shifts
            if problem.allowed(e, d, s.id)}


def reroster(problem: RosterProblem, published: RosterSolution, from_day: int, time_limit_s: float = 30.0,
             change_weight: int = DEFAULT_CHANGE_WEIGHT, progress=None, should_stop=None,
             on_solution=None, hold_cover: bool = True, **solve_options) -> RosterSolution:
    """Re-solve ``problem`` from ``from_day`` on, keeping days before it as published (hard) and paying
    ``change_weight`` for each cell from ``from_day`` on that differs from ``published``.

    ``problem`` carries the new facts (e.g. from :func:`absent`). Published cells that the new facts forbid
    before ``from_day`` are left free (and listed as changes). ``hold_cover``: see :func:`rerostering_problem`.
    The result's ``changes`` lists every changed cell in words.
    """
    from .solver import solve

    p2 = rerostering_problem(problem, published, from_day, change_weight, hold_cover)
    # the published roster minus the cells the new facts forbid (absence, leave) is the closest start
    allowed = _allowed_cells(problem)
    start = {(e, d): sh for (e, d), sh in published.assignment.items()
             if d not in problem.days_off.get(e, ()) and (e, d, sh) in allowed}
    sol = solve(p2, time_limit_s, progress=progress, should_stop=should_stop, on_solution=on_solution,
                hint=RosterSolution(start), **solve_options)
    # a published shift before from_day that the new facts forbid (an absence that began earlier) is lost
    # too: listed with the others, so no shift disappears from the roster without a word
    freed = [d for (e, d) in published.assignment if d < from_day and (e, d) not in start]
    changes = list_changes(problem, published, sol, min(freed, default=from_day)) if sol.assignment else []
    return dataclasses.replace(sol, changes=tuple(changes))
