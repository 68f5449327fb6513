"""Column generation: the master's bound is a true lower bound, its rosters are feasible, and solve() uses it
only where people are coupled by priced cover alone."""
from __future__ import annotations

import copy
import dataclasses
import time

import pytest

from optimization.rostering import Request, read_curtois, solve, validate
from optimization.rostering import colgen
from optimization.rostering._rowkernel import COMPILED
from optimization.rostering.colgen import ColumnGeneration, applies
from roster_helpers import CURTOIS, need, person, requires_curtois, tiny


def priced_problem():
    """Five people, ten days, cover priced (no hard minimum), contracts and requests that clash with it."""
    ppl = [person("A", max_consecutive=3, min_consecutive=2, min_days_off=2, max_minutes=3360, min_minutes=1920),
           person("B", max_shifts={"L": 2}, max_consecutive=4, min_days_off=2, max_minutes=3360),
           person("C", min_consecutive=2, max_weekends=1, max_minutes=2880),
           person("D", max_consecutive=2, max_minutes=2400, min_minutes=960),
           person("E", max_shifts={"E": 3}, max_minutes=3840)]
    cover = [need(d, s, n=1 + (d + (s == "L")) % 3, under=40, over=5) for d in range(10) for s in ("E", "L")]
    req = (Request("A", 2, "L", 7, "on"), Request("B", 5, None, 9, "off"), Request("C", 1, "E", 4, "off"),
           Request("D", 6, "E", 6, "on"), Request("E", 8, None, 8, "off"))
    return tiny(10, ppl, cover, requests=req, days_off={"B": {3}})


def test_master_bound_is_below_the_proven_optimum_and_its_rosters_are_feasible():
    p = priced_problem()
    exact = solve(p, 30, num_workers=2, colgen=False)
    assert exact.status == "OPTIMAL"
    cg = ColumnGeneration(p)
    first = solve(p, 1, num_workers=2, lns=False, colgen=False)
    cg.add_roster(dict(first.assignment))
    assert cg.n_columns == len(p.employees)
    cg.add_roster(dict(first.assignment))
    assert cg.n_columns == len(p.employees)  # the same rows again are not added twice
    assert not cg.settled
    cg.generate(time.perf_counter() + 30)
    assert cg.bound is not None, "column generation did not finish on a 5-person, 10-day problem"
    assert cg.settled
    assert cg.lp_value <= exact.objective + 1e-6 and cg.bound <= exact.objective
    assert cg.n_columns > len(p.employees)
    for eid, cols in cg.columns.items():  # every column is a feasible row with its own cost
        for col in cols:
            assert all(e == eid for e, _ in col.row)
    dived = cg.dive(time.perf_counter() + 10)
    check = validate(p, dived)
    assert check.hard_violations == 0 and check.objective >= cg.bound
    picked, cost = cg.best_roster(10, hint=dived)
    assert validate(p, picked).objective == cost and cost >= cg.bound
    priced = cg.dive_priced(time.perf_counter() + 10)  # the dive that prices again at each step
    check = validate(p, priced)
    assert check.hard_violations == 0 and check.objective >= cg.bound


def test_dive_finish_leaves_the_last_people_to_cp_sat():
    p = priced_problem()
    exact = solve(p, 30, num_workers=2, colgen=False)
    cg = ColumnGeneration(p)
    cg.add_roster(dict(solve(p, 1, num_workers=2, lns=False, colgen=False).assignment))
    cg.generate(time.perf_counter() + 30)
    assert cg.bound is not None
    # everybody left free: no fixing, the finish is the whole cell model, which proves the optimum
    whole = copy.deepcopy(cg).dive_finish(time.perf_counter() + 10, free=len(p.employees), finish_s=20)
    assert validate(p, whole).objective == exact.objective
    # two people left free: the finish never does worse than the dive's own roster, which keeps every rule
    unfinished = copy.deepcopy(cg).dive_finish(time.perf_counter() + 10, free=2, finish_s=0)
    finished = copy.deepcopy(cg).dive_finish(time.perf_counter() + 10, free=2, finish_s=10)
    for roster in (unfinished, finished):
        check = validate(p, roster)
        assert check.hard_violations == 0 and check.objective >= cg.bound
        assert {e for e, _ in roster} <= {e.id for e in p.employees}
    assert validate(p, finished).objective <= validate(p, unfinished).objective
    shaken = copy.deepcopy(cg).dive_finish(time.perf_counter() + 10, free=2, finish_s=10, seed=3, jitter=0.5)
    assert validate(p, shaken).hard_violations == 0
    # out of time before the first fixing: the master's roster comes back as it is, unfinished but whole
    late = copy.deepcopy(cg).dive_finish(time.perf_counter() - 1, free=2, finish_s=10)
    assert late is not None and validate(p, late).hard_violations == 0


def test_a_master_that_stops_moving_counts_as_settled_without_a_bound():
    p = priced_problem()
    cg = ColumnGeneration(p)
    cg.add_roster(dict(solve(p, 1, num_workers=2, lns=False, colgen=False).assignment))
    cg.generate(time.perf_counter() + 30)
    values = list(cg._values)
    assert all(b <= a + 1e-6 for a, b in zip(values, values[1:]))  # rows joining never make the master worse
    cg.bound = None  # as if the proof had not come in time
    cg._values = values[-1:] * (colgen.SETTLED_ITERATIONS + 1)
    assert cg.settled
    cg._values = [values[-1] + 10] + values[-1:] * colgen.SETTLED_ITERATIONS  # still falling
    assert not cg.settled


def test_solve_through_column_generation_reaches_the_optimum_and_proves_it():
    p = priced_problem()
    exact = solve(p, 30, num_workers=2, colgen=False)
    seen = []
    sol = solve(p, 30, num_workers=2, on_solution=lambda *a: seen.append(a))
    check = validate(p, sol)
    assert check.hard_violations == 0 and check.objective == sol.objective == exact.objective
    assert sol.status == "OPTIMAL" and sol.bound == sol.objective
    assert seen and [s[0] for s in seen] == sorted((s[0] for s in seen), reverse=True)  # improving only


def test_applies_only_where_cover_alone_couples_people():
    p = priced_problem()
    assert applies(p)
    assert not applies(dataclasses.replace(p, fair_nights_weight=1))
    hard = dataclasses.replace(p, cover=(need(0, "E", n=1, hard_min=1),) + p.cover[1:])
    assert not applies(hard)


@requires_curtois
def test_curtois_instance2_master_bound_and_roster():
    p = read_curtois(CURTOIS / "Instance2.txt")
    sol = solve(p, 20, num_workers=2)
    check = validate(p, sol)
    assert check.hard_violations == 0 and check.objective == sol.objective
    assert sol.bound is not None and sol.bound <= 828 <= sol.objective  # 828: proven optimal (SOURCE.md)
    assert sol.objective - 828 <= 0.05 * 828


def test_cancelled_after_the_first_roster_returns_it():
    p = priced_problem()
    seen = []
    sol = solve(p, 30, num_workers=2, should_stop=lambda: bool(seen), on_solution=lambda *a: seen.append(a))
    assert sol.status == "CANCELLED" and sol.assignment and validate(p, sol).hard_violations == 0


@pytest.mark.parametrize("weight", [0, 3])
def test_row_costs_include_requests(weight):
    p = dataclasses.replace(priced_problem(), requests=(Request("A", 0, None, weight, "off"),))
    cg = ColumnGeneration(p)
    cg.add("A", {("A", 0): "E"})
    cg.add("A", {})
    assert [c.cost for c in cg.columns["A"]] == [weight, 0]


@pytest.mark.skipif(not COMPILED, reason="row programmes need numba")
def test_seed_rows_start_column_generation_without_a_first_roster():
    p = priced_problem()
    exact = solve(p, 30, num_workers=2, colgen=False)
    cg = ColumnGeneration(p)
    seeded = cg.seed_rows()
    assert seeded and cg.n_columns == len(p.employees)
    # the roster returned is the seeded columns together
    assert seeded == {cell: s for cols in cg.columns.values() for cell, s in cols[0].row.items()}
    assert validate(p, seeded).hard_violations == 0  # each person's own rules hold: a roster at once
    cg.generate(time.perf_counter() + 30)
    from_roster = ColumnGeneration(p)
    from_roster.add_roster(dict(exact.assignment))
    from_roster.generate(time.perf_counter() + 30)
    # the master's optimum over all rows does not depend on where the columns started
    assert cg.bound is not None and cg.bound == from_roster.bound <= exact.objective
    # someone whose rules have no row programme (a cap on late shifts in a row): nothing is seeded
    other = dataclasses.replace(p, employees=(dataclasses.replace(p.employees[0], max_consecutive_shift={"L": 2}),)
                                + p.employees[1:])
    none = ColumnGeneration(other)
    assert not none.seed_rows() and none.n_columns == 0
    # and solve() still finds its roster through the cell model's first roster
    assert validate(other, solve(other, 10, num_workers=2).assignment).hard_violations == 0


def test_a_dive_short_of_time_fixes_more_people_per_step(monkeypatch):
    p = priced_problem()
    cg = ColumnGeneration(p)
    cg.add_roster(dict(solve(p, 1, num_workers=2, lns=False, colgen=False).assignment))
    cg.generate(time.perf_counter() + 30)
    steps = []
    master = cg.solve_master

    def counted(fixed=None, values=False):
        if values:
            steps.append(len(fixed or {}))
        return master(fixed, values)

    monkeypatch.setattr(cg, "solve_master", counted)
    monkeypatch.setattr(colgen, "DIVE_SHARE", 0.01)  # one person per step at the usual pace
    monkeypatch.setattr(colgen, "DIVE_PACE", 1e-9)  # no time for a second step
    fixed, roster, late = cg._dive_priced(time.perf_counter() + 10, 2, free=2)
    assert not late and len(fixed) == len(p.employees) - 2
    # the master before the first fixing, then (unless its whole columns fixed them already) after it:
    # everybody but the free two fixed in one step, where one a step would take three
    assert steps in ([0], [0, len(p.employees) - 2]), steps
    assert validate(p, roster).hard_violations == 0


@pytest.mark.skipif(not colgen.HIGHS, reason="the kept master needs HiGHS")
def test_kept_highs_master_agrees_with_glop_built_afresh():
    """The master kept as one HiGHS model between solves (columns added, fixings as bounds) has GLOP's
    optimum at every step of column generation and of a dive, and a copy of the generator builds its own."""
    p = priced_problem()
    cg = ColumnGeneration(p)
    cg.seed_rows()
    for _ in range(4):  # a few rounds: columns join the kept model between solves
        kept, fresh = cg.solve_master(), cg._solve_master_glop()
        assert kept[0] == pytest.approx(fresh[0], abs=1e-6)
        for eid in cg.columns:
            cg.price(eid, kept[1], kept[2][eid], 0)
    people = list(cg.columns)
    fixed = {}
    for eid in people[:3]:  # a dive's fixings, then released
        fixed[eid] = len(cg.columns[eid]) - 1
        kept, fresh = cg.solve_master(fixed, values=True), cg._solve_master_glop(fixed, values=True)
        if fresh is None:
            assert kept is None
            break
        assert kept[0] == pytest.approx(fresh[0], abs=1e-6) and set(kept[3]) == set(fresh[3])
        assert all(k == fixed[e] for (e, k) in kept[3] if e in fixed)
    assert cg.solve_master()[0] == pytest.approx(cg._solve_master_glop()[0], abs=1e-6)
    twin = copy.deepcopy(cg)
    assert twin._lp is None and twin.solve_master()[0] == pytest.approx(cg.solve_master()[0], abs=1e-6)
