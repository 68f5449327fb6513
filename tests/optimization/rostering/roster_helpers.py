"""Tiny problems for the rule tests (a few people, a few days: each solves in well under a second)."""
from __future__ import annotations

from pathlib import Path

import pytest

from optimization.rostering import Cover, Employee, RosterProblem, ShiftType

CURTOIS = Path(__file__).resolve().parents[3].parent / "shared" / "anchors" / "rostering" / "curtois_qu_instances1_24"
# the public benchmark instances live in ../shared/anchors, beside the checkout; without them these tests skip
requires_curtois = pytest.mark.skipif(not (CURTOIS / "Instance1.txt").exists(),
                                      reason="Curtois-Qu instances not present (../shared/anchors)")

E8 = ShiftType("E", 480)
L8 = ShiftType("L", 480, ("E",))  # a Late may not be followed by an Early


def person(pid: str = "A", **kw) -> Employee:
    return Employee(pid, **kw)


def need(day: int, shift: str = "E", n: int = 1, under: int = 100, over: int = 1, **kw) -> Cover:
    return Cover(day, shift, n, under, over, **kw)


def tiny(days: int, employees=None, cover=(), shifts=(E8, L8), **kw) -> RosterProblem:
    return RosterProblem(days, tuple(shifts), tuple(employees or [person()]), cover=tuple(cover), **kw)

INRC = CURTOIS.parent / "inrc1_2010_txt"
requires_inrc = pytest.mark.skipif(not (INRC / "sprint01.txt").exists(),
                                   reason="INRC-I instances not present (../shared/anchors)")


def solved(problem, limit: float = 5.0):
    """Solve to optimality with 2 workers and check it: no hard rule broken, solver and validator agree."""
    from optimization.rostering import solve, validate

    sol = solve(problem, limit, num_workers=2)
    check = validate(problem, sol)
    assert sol.status == "OPTIMAL", sol
    assert check.hard_violations == 0, check.violations
    assert check.objective == sol.objective  # solver and validator agree
    return sol, check
