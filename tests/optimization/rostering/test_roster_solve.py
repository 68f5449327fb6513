"""Solver and validator agree; infeasibility is explained in words; progress, cancel and hints work."""
from __future__ import annotations

import random

import pytest
from ortools.sat.python import cp_model

from datasets.errors import Cancelled
from optimization.rostering import (Lock, Request, RosterSolution, build_model, explain_infeasible, precheck,
                                    read_curtois, solve, validate)
from roster_helpers import requires_curtois, CURTOIS, E8, L8, need, person, tiny


def rich_problem():
    """Three people, a week, every rule switched on."""
    ppl = [person("A", max_consecutive=3, min_consecutive=2, min_days_off=2, max_weekends=1, max_minutes=2400,
                  min_minutes=960, skills={"charge"}),
           person("B", max_shifts={"L": 2}, max_consecutive=4, min_days_off=2, max_minutes=2400),
           person("C", min_consecutive=2, max_weekends=1, max_minutes=1920)]
    cover = [need(d, s, n=1 + (d % 2), under=50, over=3) for d in range(7) for s in ("E", "L")]
    cover += [need(d, "E", n=1, skill="charge", under=20, over=0) for d in range(7)]
    req = (Request("A", 2, "L", 4, "on"), Request("B", 5, None, 3, "off"), Request("C", 1, "E", 2, "off"))
    return tiny(7, ppl, cover, requests=req, days_off={"B": {3}})


def model_verdict(problem, assignment):
    """Fix every cell of the model to ``assignment``: the model's own verdict (feasible?, objective)."""
    rm = build_model(problem)
    for (e, d, s), v in rm.x.items():
        rm.model.add(v == int(assignment.get((e, d)) == s))
    for (e, d), s in assignment.items():
        if (e, d, s) not in rm.x:
            return False, None
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 5
    st = solver.solve(rm.model)
    if st == cp_model.INFEASIBLE:
        return False, None
    assert st == cp_model.OPTIMAL
    return True, solver.objective_value


def test_model_and_validator_agree_on_random_and_solved_rosters():
    p = rich_problem()
    rng = random.Random(3)
    rosters = []
    for _ in range(40):
        rosters.append({(e.id, d): rng.choice("EL") for e in p.employees for d in range(7) if rng.random() < 0.55})
    for seed in range(3):  # feasible ones, found by short solves from different seeds
        rosters.append(dict(solve(p, 1.0, num_workers=1, seed=seed, lns=False).assignment))
    feasible = 0
    for a in rosters:
        ok, obj = model_verdict(p, a)
        check = validate(p, RosterSolution(a))
        assert ok == (check.hard_violations == 0), (a, check.by_rule())
        if ok:
            feasible += 1
            assert obj == check.objective
    assert feasible >= 3


@requires_curtois
def test_curtois_instance1_reaches_its_proven_optimum():
    p = read_curtois(CURTOIS / "Instance1.txt")
    sol = solve(p, 20, num_workers=2)
    assert sol.status == "OPTIMAL" and sol.objective == 607
    check = validate(p, sol)
    assert check.objective == 607 and check.hard_violations == 0


@requires_curtois
def test_curtois_instance2_short_run_is_feasible_and_agrees():
    p = read_curtois(CURTOIS / "Instance2.txt")
    seen = []
    sol = solve(p, 3, num_workers=2, on_solution=lambda o, b, t: seen.append((o, b, t)))
    check = validate(p, sol)
    assert sol.status in ("OPTIMAL", "FEASIBLE") and check.hard_violations == 0
    assert check.objective == sol.objective >= 828
    assert seen and seen[-1][0] == sol.objective
    assert [o for o, _, _ in seen] == sorted((o for o, _, _ in seen), reverse=True)


def test_precheck_names_the_shortfall_after_leave():
    ppl = [person("A", skills={"charge"}, name="Ann"), person("B", skills={"charge"}, name="Bea"), person("C")]
    p = tiny(3, ppl, [need(1, "E", n=1, skill="charge", hard_min=1)], days_off={"A": {1}, "B": {1}})
    msgs = precheck(p)
    assert len(msgs) == 1
    assert "1 charge staff needed, 0 available after leave of Ann, Bea" in msgs[0]
    sol = solve(p, 2)
    assert sol.status == "INFEASIBLE" and sol.conflicts == tuple(msgs) and not sol.assignment


def test_precheck_capacity_and_contract_hours():
    ppl = [person("A", skills={"charge"}, max_minutes=960)]
    p = tiny(3, ppl, [need(d, "E", skill="charge", hard_min=1) for d in range(3)])
    assert any("can work at most 2 shifts" in m for m in precheck(p))
    q = tiny(3, [person("A", min_minutes=4 * 480)], [])
    assert any("at least 32 hours but can reach at most 24 hours" in m for m in precheck(q))
    assert precheck(rich_problem()) == []


def test_solver_core_names_conflicting_rules():
    # counts pass (one person, two shifts, two days) but Late → Early is forbidden
    p = tiny(2, [person("A", name="Ann")], [need(0, "L", hard_min=1), need(1, "E", hard_min=1)])
    assert precheck(p) == []
    words = explain_infeasible(p, 10)
    assert any("rest rules" in w for w in words)
    assert any("L on day 0" in w for w in words) and any("E on day 1" in w for w in words)
    sol = solve(p, 5)
    assert sol.status == "INFEASIBLE" and set(sol.conflicts) == set(words)


def test_lock_on_leave_is_explained():
    p = tiny(2, [person("A")], [], days_off={"A": {1}}, locks=(Lock("A", 1, "E"),))
    assert precheck(p) == ["A is locked to E on day 1 but is on leave."]


@requires_curtois
def test_cancel_returns_best_roster_or_raises():
    p = read_curtois(CURTOIS / "Instance3.txt")
    sol = solve(p, 30, num_workers=2, should_stop=lambda: True if seen else False,
                on_solution=lambda *a: seen.append(a)) if (seen := []) == [] else None
    assert sol.status == "CANCELLED" and sol.assignment
    assert validate(p, sol).hard_violations == 0
    with pytest.raises(Cancelled):
        solve(p, 30, should_stop=lambda: True)


def test_hint_is_used_as_a_starting_roster():
    p = rich_problem()
    first = solve(p, 2, num_workers=1, lns=False)
    again = solve(p, 2, num_workers=1, hint=first, lns=False)
    assert again.history and again.history[0][1] <= first.objective


def test_a_hint_that_keeps_every_rule_is_the_incumbent():
    """With no time for CP-SAT to find a roster (40 people, 28 days, a millisecond), a solve from a legal hint
    still has one: the hint. (CP-SAT does not always take a hint up, even with time.)"""
    ppl = [person(f"P{i:02d}", max_consecutive=5, min_days_off=2, max_minutes=9600) for i in range(40)]
    p = tiny(28, ppl, [need(d, s, n=8 + d % 3, under=30, over=5) for d in range(28) for s in ("E", "L")])
    start = RosterSolution({("P00", 0): "E", ("P01", 0): "L"})
    check = validate(p, start)
    assert check.hard_violations == 0
    cost = check.objective
    again = solve(p, 0.001, num_workers=1, hint=start, lns=False)
    assert again.status in ("FEASIBLE", "OPTIMAL") and again.assignment and again.objective <= cost
    assert again.history[0][1] == cost  # the hint, first (then anything better CP-SAT found in the time)


def test_sweeps_leave_no_one_persons_row_to_improve(demo_ws):
    """The search's sweeps of best responses (each person's row re-solved with everyone else fixed) run until
    one finds nothing: on the demo's ward, rosters handed back at a short limit had 30 single-cell edits that
    kept every rule and lowered the cost."""
    import random
    import time
    from datetime import date

    from datasets.store import Workspace
    from optimization.rostering import problem_from_workspace
    from optimization.rostering.model import build_model
    from optimization.rostering.solver import _fixed_outside, _params, _sweeps

    with Workspace.open(demo_ws, read_only=True) as ws:
        p = problem_from_workspace(ws, "M5", date(2026, 11, 23), 14)
    first = solve(p, 1, num_workers=2, seed=2, lns=False)  # a quick, rough roster
    rm = build_model(p)
    start = float(validate(p, first).objective)
    heard = []
    roster, cost = _sweeps(rm, dict(first.assignment), start, time.perf_counter() + 60, random.Random(0),
                           on_better=lambda r, obj: heard.append(obj))
    assert cost == validate(p, roster).objective and validate(p, roster).hard_violations == 0
    assert heard == sorted(heard, reverse=True) and (not heard or heard[-1] == cost)
    for e in p.employees:  # nobody's row alone can do better
        solver = _params(5, 1, 0)
        solver.solve(_fixed_outside(rm, roster, lambda x, d: x == e.id))
        assert solver.objective_value >= cost - 0.5, e.id
