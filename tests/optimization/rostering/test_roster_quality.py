"""Roster quality a ward scheduler reviews: people above cover spread over shifts and days instead of piled on
nights, nights shared in proportion to contracts, long days left out in words, contracted against rostered hours.
Each rule on a tiny problem, priced the same by the model and the validator."""
from __future__ import annotations

import random
from datetime import date

import pytest
from ortools.sat.python import cp_model

from datasets.errors import HospOpsError
from datasets.store import Workspace
from optimization.rostering import (Cover, Lock, Request, RosterProblem, RosterSolution, ShiftType, build_model,
                                    validate)
from optimization.rostering.validate import hours_table
from optimization.rostering.workspace import problem_from_workspace
from roster_helpers import E8, person, solved, tiny

N = ShiftType("N", 630, is_night=True)  # 10.5 h: one extra night absorbs more hours than one extra Early
START = date(2026, 11, 23)



def model_cost(problem, assignment):
    """The model's own price of ``assignment`` (every cell fixed), or None when the model refuses it."""
    rm = build_model(problem)
    if any((e, d, s) not in rm.x for (e, d), s in assignment.items()):
        return None
    for (e, d, s), v in rm.x.items():
        rm.model.add(v == int(assignment.get((e, d)) == s))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_time_in_seconds = 10
    st = solver.solve(rm.model)
    if st == cp_model.INFEASIBLE:
        return None
    assert st == cp_model.OPTIMAL
    return round(solver.objective_value)


def staffed(sol, day, shift):
    return sum(1 for (e, d), s in sol.assignment.items() if d == day and s == shift)


# ---------------------------------------------------------------------------------------- over-cover
def surplus_problem(step: int) -> RosterProblem:
    """One day, an Early and a Night each needing one person, and four people who must each work a shift:
    two people above cover. Priced per hour (5 per Early, 7 per Night), a flat price puts both extras on the
    Early (10, against 12 for one on each); a rising one (the 2nd extra on a shift costs 2 x) spreads them."""
    ppl = [person(p, min_minutes=480) for p in "ABCD"]
    cover = [Cover(0, "E", 1, 100, 5, over_step=step), Cover(0, "N", 1, 100, 7, over_step=step * 7 // 5)]
    return tiny(1, ppl, cover, shifts=(E8, N))


def test_people_above_cover_spread_over_shifts():
    flat, _ = solved(surplus_problem(0))
    assert (staffed(flat, 0, "E"), staffed(flat, 0, "N")) == (3, 1)  # (what a flat price does: a pile)
    sol, check = solved(surplus_problem(5))
    assert (staffed(sol, 0, "E"), staffed(sol, 0, "N")) == (2, 2)
    assert sol.objective == 12 and check.penalty_by_rule() == {"cover_over": 12}


def test_people_above_cover_spread_over_days():
    # three people who must work two days of three, on a shift nobody needs, and each would rather have the
    # third day off: at a flat price the six shifts pile on the first two days (3, 3, 0: 30 + nothing); at a
    # rising one they spread (2, 2, 2: 45 + two wishes broken, against 60 for the pile)
    ppl = [person(p, min_minutes=960, max_minutes=960) for p in "ABC"]
    wishes = tuple(Request(p, 2, None, 1, "off") for p in "ABC")
    for step, want in ((0, [3, 3, 0]), (5, [2, 2, 2])):
        p = tiny(3, ppl, [Cover(d, "E", 0, 100, 5, over_step=step) for d in range(3)], shifts=(E8,),
                 requests=wishes)
        sol, _ = solved(p)
        assert [staffed(sol, d, "E") for d in range(3)] == want, step


def test_the_kth_extra_person_costs_more_than_the_one_before():
    p = surplus_problem(5)
    a = {("A", 0): "E", ("B", 0): "E", ("C", 0): "E", ("D", 0): "N"}  # two extra on the Early: 5 + 10
    assert validate(p, a).penalty_by_rule() == {"cover_over": 15}
    a = {("A", 0): "N", ("B", 0): "N", ("C", 0): "N", ("D", 0): "E"}  # two extra on the Night: 7 + 14
    assert validate(p, a).penalty_by_rule() == {"cover_over": 21}
    a = {(e, 0): "E" for e in "ABCDE"}
    # five extra: 2 + 5 + 8 + 11, and the price stays after three rises: + 11 = 37; by the model and the
    # validator alike
    one = tiny(1, [person(p) for p in "ABCDE"], [Cover(0, "E", 0, 100, 2, over_step=3)])
    assert validate(one, a).objective == 37 == model_cost(one, a)
    four = tiny(1, [person(p) for p in "ABCDE"], [Cover(0, "E", 0, 100, 2, over_step=3, over_rises=4)])
    assert validate(four, a).objective == 40 == model_cost(four, a)  # ... + 14 with a fourth rise
    flat = tiny(1, [person(p) for p in "ABCDE"], [Cover(0, "E", 0, 100, 2)])
    assert validate(flat, a).objective == 10 == model_cost(flat, a)
    with pytest.raises(HospOpsError, match="over-cover step"):
        Cover(0, "E", 1, over_step=-1)
    with pytest.raises(HospOpsError, match="over-cover step"):
        Cover(0, "E", 1, over_rises=-1)


# ---------------------------------------------------------------------------------------- night share
def share_problem(weight=10, tol=0, contracts=(2400, 1200, 1200), **kw) -> RosterProblem:
    """Four nights, one person each (an extra costs 5); A is contracted twice B's and C's hours (fair shares 2,
    1, 1), and B asks for every night (3 a night missed)."""
    ppl = [person(p, contract_minutes=c, role="RN") for p, c in zip("ABC", contracts)]
    cover = [Cover(d, "N", 1, 100, 5) for d in range(4)]
    req = tuple(Request("B", d, "N", 3, "on") for d in range(4))
    return tiny(4, ppl, cover, shifts=(E8, N), requests=req, night_share_weight=weight, night_share_tolerance=tol,
                **kw)


def nights_of(sol, who):
    return sum(1 for (e, d), s in sol.assignment.items() if e == who and s == "N")


def test_nights_follow_the_fair_share_of_contracted_hours():
    # (the bands: A 2 nights, B and C 1 each, no tolerance)
    assert share_problem().night_share_bands() == {"A": (2, 2, 2.0), "B": (1, 1, 1.0), "C": (1, 1, 1.0)}
    # without the share (the spread alone, weight 1) B takes every night asked for
    sol, _ = solved(share_problem(weight=0, fair_nights_weight=1))
    assert nights_of(sol, "B") == 4
    sol, check = solved(share_problem())
    assert [nights_of(sol, e) for e in "ABC"] == [2, 1, 1]
    assert check.penalty_by_rule() == {"shift_on_request": 9}  # three of B's wishes, not the fair share


def test_night_share_units_round_up_beyond_the_tolerance():
    p = share_problem(weight=10, tol=0)
    # A none (share 2: 2 units), B two (share 1: 1), C two (share 1: 1)
    a = {("B", 0): "N", ("B", 1): "N", ("C", 2): "N", ("C", 3): "N"}
    v = validate(p, a)
    assert v.penalty_by_rule()["night_share"] == 40 and v.by_rule()["night_share"] == 3
    assert model_cost(p, a) == v.objective
    # equal weights: shares 4/3 each, bands 1 to 2 nights with a tolerance of 1: A's three are one over, C's
    # none one under
    q = share_problem(weight=10, tol=1, contracts=(1200, 1200, 1200))
    a = {("A", 0): "N", ("A", 1): "N", ("A", 2): "N", ("B", 3): "N"}
    v = validate(q, a)
    assert v.penalty_by_rule()["night_share"] == 20
    assert model_cost(q, a) == v.objective


def test_night_share_groups_by_role_and_leaves_out_those_without_nights():
    ppl = [person("A", role="RN", contract_minutes=600), person("B", role="RN", contract_minutes=300),
           person("C", role="HCA", contract_minutes=600), person("D", role="HCA", contract_minutes=600),
           person("E", role="HCA", max_shifts={"N": 0}, contract_minutes=600), person("F", role="X"),
           person("G", role="Student", contract_minutes=600), person("H", role="Student", contract_minutes=600)]
    cover = [Cover(d, "N", n, skill=r) for d in range(3) for r, n in (("RN", 1), ("HCA", 2), ("charge", 1))]
    p = tiny(3, ppl, cover, shifts=(E8, N), night_share_weight=1, days_off={"F": {0, 1, 2}})
    # each role shares the nights its own cover asks for; F is on leave, E does no nights, and no night cover
    # asks for students (nor for everyone), so theirs are not shared
    assert p.night_share_groups() == [("RN", (("A", 600), ("B", 300)), 3), ("HCA", (("C", 600), ("D", 600)), 6)]
    assert p.night_share_bands() == {"A": (1, 3, 2.0), "B": (0, 2, 1.0), "C": (2, 4, 3.0), "D": (2, 4, 3.0)}
    # without contracted minutes for everyone, shares are equal; cover without a skill is everyone's
    q = tiny(3, [person("A", contract_minutes=600), person("B")], [Cover(d, "N", 1) for d in range(3)],
             shifts=(E8, N))
    assert q.night_share_groups() == [("", (("A", 1), ("B", 1)), 3)]


def test_model_and_validator_agree_on_the_new_penalties():
    ppl = [person(p, role=r, skills={r}, contract_minutes=c, max_shifts=cap) for p, r, c, cap in (
        ("A", "RN", 2400, {}), ("B", "RN", 1800, {}), ("C", "RN", 900, {}), ("D", "HCA", 1200, {}),
        ("E", "HCA", 1200, {}), ("F", "HCA", 1200, {"N": 0}))]
    cover = [Cover(d, s, 1, 50, w, skill=r, over_step=st) for d in range(5) for s, w, st in (("E", 2, 3), ("N", 3, 4))
             for r in ("RN", "HCA")]
    cover += [Cover(d, "E", 2, 20, 0, over_step=2, over_rises=1) for d in range(5)]  # rising without a flat price
    p = tiny(5, ppl, cover, shifts=(E8, N), night_share_weight=3, night_share_tolerance=1, fair_nights_weight=1,
             holidays={1: "a bank holiday", 3: "another"}, fair_holidays_weight=2)
    rng = random.Random(5)
    for _ in range(30):
        a = {(e.id, d): rng.choice("EN") for e in ppl for d in range(5) if rng.random() < 0.7}
        a = {k: s for k, s in a.items() if not (k[0] == "F" and s == "N")}
        check = validate(p, RosterSolution(a))
        assert check.hard_violations == 0
        assert model_cost(p, a) == check.objective, (a, check.penalty_by_rule())
    sol, check = solved(p)
    assert check.objective == sol.objective


# ---------------------------------------------------------------------------------------- the workspace
def demo(path, days=14, **kw) -> RosterProblem:
    with Workspace.open(path, read_only=True) as ws:
        return problem_from_workspace(ws, "M5", START, days, **kw)


def test_workspace_prices_extra_people_per_hour_and_rising(demo_ws):
    p = demo(demo_ws)
    by = {(c.shift, c.skill): (c.over_weight, c.over_step) for c in p.cover}
    assert by[("E", "RN")] == (5, 5) and by[("L", "HCA")] == (5, 5)
    assert by[("N", "RN")] == (7, 7)  # 10.5 h: an extra person on a night is no cheaper per hour
    assert by[("N", "charge")] == (0, 0)
    assert p.night_share_weight > 0 and sorted(g[0] for g in p.night_share_groups()) == ["HCA", "RN"]
    assert all(e.contract_minutes is not None and e.min_minutes <= e.contract_minutes <= e.max_minutes
               for e in p.employees)


def test_long_days_are_left_out_in_words(demo_ws):
    p = demo(demo_ws)
    assert "LD" not in {s.id for s in p.shifts}
    assert "LD (Long day) is not used on this unit's rosters" in p.left_out["LD"]
    assert "uncovered" in p.left_out["LD"]  # why: cover is per shift, and a long day ends inside the Late
    emp = p.employees[0].id
    with pytest.raises(HospOpsError, match=r"LD \(Long day\) is not used on this unit's rosters"):
        demo(demo_ws, locks=[Lock(emp, 3, "LD")])
    with pytest.raises(HospOpsError, match="unknown shift XX"):
        demo(demo_ws, locks=[Lock(emp, 3, "XX")])
    # asked for by name, long days are rostered and count towards Early and Late cover
    q = demo(demo_ws, 7, shifts=["E", "L", "N", "LD"])
    assert "LD" in {s.id for s in q.shifts} and not q.left_out
    assert all(c.also == ("LD",) for c in q.cover if c.shift in ("E", "L"))


def test_hours_table_shows_contracted_against_rostered(demo_ws):
    p = demo(demo_ws)
    e = p.employees[0]
    shifts = {s.id: s.minutes for s in p.shifts}
    free = [d for d in range(p.days) if d not in p.days_off.get(e.id, ())][:3]
    t = hours_table(p, {(e.id, d): "E" for d in free})
    assert list(t.columns) == ["employee", "name", "role", "contracted_h", "rostered_h", "difference_h", "least_h",
                               "most_h", "shifts", "nights", "leave_days"]
    assert len(t) == len(p.employees)
    row = t.iloc[0]
    assert row.rostered_h == 3 * shifts["E"] / 60 and row.shifts == 3 and row.nights == 0
    assert row.contracted_h == round(e.contract_minutes / 60, 2)
    assert row.difference_h == pytest.approx(row.rostered_h - row.contracted_h, abs=0.02)
    assert row.least_h <= row.contracted_h <= row.most_h
    # a problem without contracts says so (NaN), not 0
    bare = hours_table(tiny(2), {("A", 0): "E"})
    assert bare.contracted_h.isna().all() and bare.rostered_h.tolist() == [8.0]


def test_hours_as_worked_count_the_clock_change():
    """A night 21:00-07:30 across the October clock change is 11.5 hours worked (9.5 in March); the hours
    report counted 10.5, the length on paper, and pay goes by the hours worked."""
    from datetime import date

    from optimization.rostering import Employee, RosterProblem, ShiftType
    from optimization.rostering.validate import hours_table

    shifts = (ShiftType("E", 480, start_minute=420), ShiftType("N", 630, start_minute=1260, is_night=True))
    emp = Employee("A", contract_minutes=3 * 630)
    october = RosterProblem(7, shifts, (emp,), start=date(2026, 10, 19), timezone="Europe/London")  # Mon 19 Oct
    roster = {("A", 4): "N", ("A", 5): "N", ("A", 6): "E"}  # Fri, Sat (into Sun 25 Oct, 02:00 back to 01:00), Sun
    assert [october.worked_minutes(s, d) for (_, d), s in sorted(roster.items())] == [630, 690, 480]
    assert hours_table(october, roster)["rostered_h"].iloc[0] == (630 + 690 + 480) / 60
    march = RosterProblem(7, shifts, (emp,), start=date(2027, 3, 22), timezone="Europe/London")  # Mon 22 Mar
    assert march.worked_minutes("N", 5) == 570  # Sat 27 into Sun 28 March 2027: 01:00 forward to 02:00
    assert RosterProblem(7, shifts, (emp,), start=date(2026, 10, 19)).worked_minutes("N", 5) == 630  # no zone
