"""Each rule on a small instance built to test it: the validator flags a hand-made roster that breaks it,
and the solver's optimum respects it (and costs what the validator says it costs)."""
from __future__ import annotations

import pytest

from optimization.rostering import Lock, Request, RosterSolution, validate

from optimization.rostering import ShiftType
from roster_helpers import E8, need, person, solved, tiny



def flags(problem, assignment, rule):
    return validate(problem, RosterSolution(assignment)).by_rule().get(rule, 0)


def test_leave_is_never_worked():
    p = tiny(3, cover=[need(d) for d in range(3)], days_off={"A": {1}})
    sol, check = solved(p)
    assert ("A", 1) not in sol.assignment
    assert sol.objective == 100 and check.by_rule() == {"cover_under": 1}
    assert flags(p, {("A", 1): "E"}, "leave") == 1


def test_forbidden_succession():
    p = tiny(2, cover=[need(0, "L"), need(1, "E")])
    sol, _ = solved(p)
    assert sol.objective == 100  # Late then Early is not allowed: one of the two stays short
    assert flags(p, {("A", 0): "L", ("A", 1): "E"}, "forbidden_succession") == 1
    assert flags(p, {("A", 0): "E", ("A", 1): "L"}, "forbidden_succession") == 0


def test_max_shifts_per_type():
    p = tiny(3, [person(max_shifts={"E": 1, "L": 0})], [need(0), need(2)])
    sol, _ = solved(p)
    assert sol.objective == 100
    assert flags(p, {("A", 0): "E", ("A", 2): "E"}, "max_shifts") == 1
    assert flags(p, {("A", 1): "L"}, "max_shifts") == 1  # L capped at 0


def test_max_and_min_minutes():
    p = tiny(4, [person(max_minutes=480)], [need(0), need(2)])
    assert solved(p)[0].objective == 100
    assert flags(p, {("A", 0): "E", ("A", 2): "E"}, "max_minutes") == 1
    q = tiny(2, [person(min_minutes=960)], [need(0, n=0), need(1, n=0)], shifts=(E8,))
    sol, check = solved(q)
    assert len(sol.assignment) == 2 and sol.objective == 2  # two shifts nobody needs: 1 each over
    assert flags(q, {("A", 0): "E"}, "min_minutes") == 1


def test_max_consecutive():
    p = tiny(3, [person(max_consecutive=2)], [need(d) for d in range(3)])
    assert solved(p)[0].objective == 100
    assert flags(p, {("A", d): "E" for d in range(3)}, "max_consecutive") == 1


def test_min_consecutive_inside_the_horizon():
    p = tiny(5, [person(min_consecutive=2)], [need(2)] + [need(d, n=0) for d in (0, 1, 3, 4)], shifts=(E8,))
    sol, _ = solved(p)
    assert sol.objective == 1 and len(sol.assignment) == 2  # a run of two, one of them over cover
    assert flags(p, {("A", 2): "E"}, "min_consecutive") == 1
    assert flags(p, {("A", 0): "E"}, "min_consecutive") == 0  # a run touching the start is not held to it


def test_min_days_off():
    # working all five days breaks max_consecutive; a single day off inside breaks min_days_off
    p = tiny(5, [person(min_days_off=2, max_consecutive=4)], [need(d) for d in (0, 1, 3, 4)] + [need(2, n=0)])
    sol, _ = solved(p)
    assert sol.objective == 100
    assert flags(p, {("A", d): "E" for d in (0, 1, 3, 4)}, "min_days_off") == 1


def test_max_weekends():
    # day 0 is a Monday: days 5 and 12 are Saturdays
    p = tiny(14, [person(max_weekends=1)], [need(5), need(12)])
    assert solved(p)[0].objective == 100
    assert flags(p, {("A", 5): "E", ("A", 13): "E"}, "max_weekends") == 1


def test_requests_on_and_off():
    p = tiny(2, [person()], [need(0, n=0, over=0), need(1, n=0, over=0)],
             requests=(Request("A", 0, "E", 3, "on"), Request("A", 1, None, 2, "off")))
    sol, check = solved(p)
    assert sol.assignment == {("A", 0): "E"} and sol.objective == 0
    v = validate(p, RosterSolution({("A", 1): "L"}))
    assert v.penalty_by_rule() == {"shift_on_request": 3, "day_off_request": 2}


def test_cover_by_skill_and_hard_minimum():
    ppl = [person("A", skills={"charge"}), person("B")]
    p = tiny(1, ppl, [need(0, n=1, skill="charge", hard_min=1), need(0, "L", n=1, under=10)])
    sol, _ = solved(p)
    assert sol.assignment[("A", 0)] == "E" and sol.assignment[("B", 0)] == "L"
    assert flags(p, {("B", 0): "E"}, "cover_minimum") == 1


def test_locks_hold_even_when_they_cost():
    p = tiny(2, [person()], [need(0), need(1, n=0)], locks=(Lock("A", 0, None), Lock("A", 1, "E")))
    sol, _ = solved(p)
    assert sol.assignment == {("A", 1): "E"}
    assert sol.objective == 100 + 1
    assert flags(p, {("A", 0): "E"}, "lock") == 2


def test_problem_is_checked_when_made():
    from datasets.errors import HospOpsError

    with pytest.raises(HospOpsError, match="unknown shift"):
        tiny(2, cover=[need(0, "N")])
    with pytest.raises(HospOpsError, match="outside"):
        tiny(2, days_off={"A": {5}})
    with pytest.raises(HospOpsError, match="minimum"):
        person(min_minutes=10, max_minutes=5)


def test_max_consecutive_of_one_shift_type():
    N = ShiftType("N", 600, is_night=True)
    p = tiny(4, [person(max_consecutive_shift={"N": 2})], [need(d, "N") for d in range(4)], shifts=(E8, N))
    sol, _ = solved(p)
    assert sol.objective == 100  # four nights in a row are not allowed, and E may not stand in for N
    assert flags(p, {("A", d): "N" for d in range(3)}, "max_consecutive_shift") == 1
    assert flags(p, {("A", 0): "N", ("A", 1): "N", ("A", 2): "E", ("A", 3): "N"}, "max_consecutive_shift") == 0


def test_fair_share_of_nights_and_weekends():
    N = ShiftType("N", 600, is_night=True)
    ppl = [person("A"), person("B"), person("C", max_shifts={"N": 0})]  # C does no nights: not in the night share
    cover = [need(d, "N", n=1, under=100, over=0) for d in range(4)]
    p = tiny(4, ppl, cover, shifts=(E8, N), fair_nights_weight=10)
    sol, check = solved(p)
    assert sol.objective == 0 and check.by_rule() == {}
    nights = [sum(1 for d in range(4) if sol.assignment.get((e, d)) == "N") for e in "AB"]
    assert nights == [2, 2]
    assert validate(p, RosterSolution({("A", d): "N" for d in range(4)})).penalty_by_rule() == {"fair_nights": 40}
    q = tiny(7, [person("A"), person("B"), person("C")], [need(5, "E", n=2, over=0)], fair_weekends_weight=3)
    v = validate(q, RosterSolution({("A", 5): "E", ("B", 6): "E"}))
    assert v.penalty_by_rule() == {"fair_weekends": 3, "cover_under": 100}  # C works no weekend: spread 1
    sol, _ = solved(q)
    assert sol.objective == 0  # everyone gets a weekend shift (uncovered Lates cost nothing here)
    assert all(any((e, d) in sol.assignment for d in (5, 6)) for e in "ABC")


def test_bank_holidays_are_shared():
    # two bank holidays, one Early each: worked by one person the spread is 2, by two people 1 (someone of the
    # three works none either way); a re-roster had put a nurse on Christmas Day as on any Friday
    p = tiny(4, [person("A"), person("B"), person("C")], [need(1, "E", over=10), need(2, "E", over=10)],
             shifts=(E8,), holidays={1: "Christmas Day", 2: "Boxing Day", 9: "(outside the roster)"},
             fair_holidays_weight=5)
    assert p.holidays == {1: "Christmas Day", 2: "Boxing Day"}
    one = validate(p, RosterSolution({("A", 1): "E", ("A", 2): "E"}))
    assert one.penalty_by_rule() == {"fair_holidays": 10} and "from 0" in one.violations[0].text
    sol, check = solved(p)
    assert sol.objective == 5 == check.objective and check.penalty_by_rule() == {"fair_holidays": 5}
    assert len({e for (e, d) in sol.assignment if d in (1, 2)}) == 2  # two people, one holiday each


def test_workspace_rosters_know_the_countrys_bank_holidays(demo_ws):
    from datetime import date

    from datasets.store import Workspace
    from optimization.rostering import problem_from_workspace

    with Workspace.open(demo_ws, read_only=True) as ws:
        p = problem_from_workspace(ws, "M5", date(2026, 12, 21), 14)  # the demo's country is GB
    assert p.holidays == {4: "Christmas Day", 5: "Boxing Day", 7: "Boxing Day (observed)", 11: "New Year's Day"}
    assert p.fair_holidays_weight > 0
