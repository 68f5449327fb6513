"""Building a roster one person at a time (large problems) keeps every hard rule and never worsens it."""
from __future__ import annotations

import time

import optimization.rostering.solver as solver_mod
from optimization.rostering import Cover, Employee, RosterProblem, ShiftType, solve, validate
from optimization.rostering.construct import construct

E = ShiftType("E", 480)
N = ShiftType("N", 480, ("E",), is_night=True)


def ward(early: int = 2) -> RosterProblem:
    people = tuple(Employee(f"P{i}", {"N": 4}, max_minutes=480 * 9, min_minutes=480 * 6, max_consecutive=4,
                            min_consecutive=2, min_days_off=2) for i in range(6))
    cover = tuple(Cover(d, s, early if s == "E" else 1, 100, 1) for d in range(14) for s in ("E", "N"))
    return RosterProblem(14, (E, N), people, days_off={"P0": {3, 4}}, cover=cover)


def test_rows_build_a_feasible_roster_and_passes_do_not_worsen_it():
    p = ward()
    first = construct(p, time.perf_counter() + 30, seed=1)
    assert first is not None and validate(p, first).hard_violations == 0
    better = construct(p, time.perf_counter() + 30, seed=2, start=first)
    assert validate(p, better).hard_violations == 0
    assert validate(p, better).objective <= validate(p, first).objective


def test_large_problems_take_the_row_search_and_agree_with_the_validator(monkeypatch):
    monkeypatch.setattr(solver_mod, "ROW_SEARCH_CELLS", 0)
    p = ward()
    seen = []
    sol = solve(p, 4, num_workers=2, on_solution=lambda o, b, t: seen.append(o))
    check = validate(p, sol)
    assert sol.status == "FEASIBLE" and sol.bound is None and check.hard_violations == 0
    assert check.objective == sol.objective and seen and seen[-1] == sol.objective
    assert all(a > b for a, b in zip(seen, seen[1:]))


def test_large_problems_go_on_with_column_generation_once_the_passes_stall(monkeypatch):
    # three on every early shift: six people cannot cover it all, and best-response passes stall above the optimum
    p = ward(early=3)
    exact = solve(p, 30, num_workers=2)
    assert exact.status == "OPTIMAL" and exact.objective > 0
    monkeypatch.setattr(solver_mod, "ROW_SEARCH_CELLS", 0)
    monkeypatch.setattr(solver_mod, "LARGE_COLGEN_MIN_S", 0.0)
    seen = []
    sol = solve(p, 20, num_workers=2, on_solution=lambda o, b, t: seen.append(o))
    check = validate(p, sol)
    assert check.hard_violations == 0 and check.objective == sol.objective and seen[-1] == sol.objective
    # column generation finished on so small a ward: its bound is the optimum, reached, and the search ended there
    assert sol.status == "OPTIMAL" and sol.bound == exact.objective == sol.objective
    assert sol.seconds < 20  # it stopped at the proof, not at its time limit


def test_a_cancel_during_column_generation_returns_the_best_roster_so_far(monkeypatch):
    monkeypatch.setattr(solver_mod, "ROW_SEARCH_CELLS", 0)
    monkeypatch.setattr(solver_mod, "LARGE_COLGEN_MIN_S", 0.0)
    p = ward(early=3)
    said = []
    sol = solve(p, 20, num_workers=2, progress=lambda f, msg: said.append(msg),
                should_stop=lambda: any("generating rows" in m for m in said))
    assert any("generating rows" in m for m in said)
    assert sol.status == "CANCELLED" and sol.bound is None and validate(p, sol).hard_violations == 0
    assert validate(p, sol).objective == sol.objective
