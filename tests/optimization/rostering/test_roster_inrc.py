"""INRC-I: the reader, the priced contract rules it needs (each on a tiny roster built to break it), and
solver/validator agreement on a sprint instance."""
from __future__ import annotations

import re
from datetime import date

import pytest

from datasets.errors import HospOpsError
from optimization.rostering import (Cover, Employee, Pattern, Request, RosterProblem, RosterSolution, ShiftType, read_inrc,
                                    solve, validate)
from optimization.rostering.problem import incomplete_weekend_cost
from roster_helpers import INRC, requires_inrc

E = ShiftType("E", 480)
L = ShiftType("L", 480)


def one(days: int, soft=None, cover=(), start=date(2026, 11, 23), **kw) -> RosterProblem:
    """One person (Monday start unless told), shifts E and L."""
    emp = Employee("A", soft=soft or {}, weekend_days=kw.pop("weekend_days", (5, 6)))
    return RosterProblem(days, (E, L), (emp,), cover=tuple(cover), start=start, **kw)


def cost(problem, row: str) -> dict:
    """Validator penalties by rule for a row written as 'EL-E' (- = day off)."""
    a = {("A", d): c for d, c in enumerate(row) if c != "-"}
    return validate(problem, a).penalty_by_rule()


def agree(problem, limit=5.0):
    sol = solve(problem, limit, num_workers=2)
    check = validate(problem, sol)
    assert sol.status in ("OPTIMAL", "FEASIBLE") and check.hard_violations == 0
    assert check.objective == sol.objective
    return sol, check


def test_assignments_over_and_under_cost_per_shift():
    p = one(7, {"max_assignments": (3, 2), "min_assignments": (2, 5)})
    assert cost(p, "EEEEE--") == {"max_assignments": 4}
    assert cost(p, "E------") == {"min_assignments": 5}
    # the solver works between 2 and 3 shifts when cover asks for 5 at weight 1
    sol, check = agree(one(7, {"max_assignments": (3, 2), "min_assignments": (2, 5)},
                           [Cover(d, "E", 1, 1, 0) for d in range(5)]))
    assert check.objective == 2 and len(sol.assignment) == 3


def test_consecutive_runs_count_at_the_horizons_ends():
    p = one(8, {"max_consecutive_work": (3, 1), "min_consecutive_work": (2, 1), "min_consecutive_off": (2, 1),
                "max_consecutive_off": (2, 1)})
    # E at the start (a 1-day run at the edge) costs 1; 5 in a row cost 2; the final 1-day off run costs 1
    assert cost(p, "E-EEEEE-") == {"min_consecutive_work": 1, "max_consecutive_work": 2, "min_consecutive_off": 2}
    assert cost(p, "----EEEE") == {"max_consecutive_off": 2, "max_consecutive_work": 1}
    agree(one(8, {"max_consecutive_work": (3, 1), "min_consecutive_work": (2, 1), "min_consecutive_off": (2, 1)},
              [Cover(d, "E", 1, 2, 0) for d in (0, 2, 3, 4, 5, 6)]))


def test_complete_weekends_and_identical_weekend_shifts():
    p = one(14, {"complete_weekends": (1, 3), "identical_weekend_shifts": (1, 2)})
    assert cost(p, "-----E--------") == {"complete_weekends": 3}
    assert cost(p, "-----EL-------") == {"identical_weekend_shifts": 4}  # 2 days × (2 kinds - 1) × weight 2
    assert cost(p, "-----EE-----LL") == {}
    assert incomplete_weekend_cost((True, False, True)) == 4 and incomplete_weekend_cost((False, True, True)) == 1
    sol, check = agree(one(14, {"complete_weekends": (1, 3), "identical_weekend_shifts": (1, 2)},
                           [Cover(5, "E", 1, 10, 0), Cover(6, "L", 1, 1, 0)]))
    assert check.objective == 1 and (sol.shift_of("A", 5), sol.shift_of("A", 6)) == ("E", "E")


def test_three_day_weekend_blocks_follow_the_calendar():
    p = one(10, {"complete_weekends": (1, 1)}, weekend_days=(4, 5, 6))  # Fri-Sun, horizon from a Monday
    assert p.weekend_blocks((4, 5, 6)) == [(4, 5, 6)]
    assert cost(p, "----E-E---") == {"complete_weekends": 4}
    cut = one(6, {"complete_weekends": (1, 1)}, weekend_days=(4, 5, 6))  # Friday, Saturday only
    assert cut.weekend_blocks((4, 5, 6)) == [(4, 5)]


def test_unwanted_pattern_each_occurrence_and_weekday():
    pt = Pattern("LE", 3, ("L", "E"), frozenset({"A"}))
    fri = Pattern("free Friday", 2, (Pattern.OFF, Pattern.ANY, Pattern.ANY), frozenset({"A"}), start_weekday=4)
    p = one(14, patterns=(pt, fri))
    assert cost(p, "LELE-EE-------") == {"unwanted_pattern": 3 * 2 + 2}
    assert cost(p, "---LLLL-------") == {}  # L then L is fine, and the weekend follows a worked Friday
    sol, check = agree(one(4, cover=[Cover(0, "L", 1, 2, 0), Cover(1, "E", 1, 2, 0)], patterns=(pt,)))
    # either cover is left short (2); working L then E would cost the pattern's 3 on top
    assert check.objective == 2 and "unwanted_pattern" not in check.penalty_by_rule()


def test_exact_cover_and_day_on_request():
    emps = tuple(Employee(x) for x in "ABC")
    p = RosterProblem(2, (E,), emps, cover=(Cover(0, "E", 2, 0, 0, hard_min=2, hard_max=2),
                                            Cover(1, "E", 0, 0, 0, hard_max=0)),
                      requests=(Request("C", 0, None, 7, "on"), Request("C", 1, None, 1, "on")))
    sol, check = agree(p)
    assert sum(1 for (e, d) in sol.assignment if d == 0) == 2 and ("C", 0) in sol.assignment
    assert check.objective == 1 and not any(d == 1 for (_, d) in sol.assignment)
    assert validate(p, {("A", 0): "E", ("B", 0): "E", ("C", 0): "E"}).by_rule()["cover_maximum"] == 1


def test_bad_soft_rules_are_refused():
    with pytest.raises(HospOpsError):
        Employee("A", soft={"max_naps": (1, 1)})
    with pytest.raises(HospOpsError):
        Cover(0, "E", 1, hard_min=2, hard_max=1)


@requires_inrc
def test_sprint01_is_read_rule_by_rule():
    p = read_inrc(INRC / "sprint01.txt")
    assert p.days == 28 and p.start == date(2010, 1, 1) and len(p.employees) == 10
    assert [s.id for s in p.shifts] == ["L", "D", "E", "N"] and p.shift("N").is_night
    full = p.employee("0")
    assert full.soft["max_assignments"] == (16, 1) and full.soft["min_consecutive_work"] == (2, 1)
    assert "complete_weekends" in full.soft and "max_consecutive_weekends" not in full.soft
    assert full.weekend_days == (5, 6)
    assert p.employee("8").soft["min_consecutive_off"] == (3, 1)  # the night contract
    # Friday 1 Jan 2010: E needs 2 on weekdays, 1 at weekends, exactly
    e0 = next(c for c in p.cover if c.day == 0 and c.shift == "E")
    assert (e0.requirement, e0.hard_min, e0.hard_max) == (2, 2, 2)
    assert sum(r.kind == "off" and r.shift is None for r in p.requests) == 100
    assert {r.rule_name for r in p.requests} == {"day_off_request", "shift_off_request"}
    assert sum(r.kind == "off" and r.shift is not None for r in p.requests) == 50
    assert [pt.entries for pt in p.patterns][2] == (Pattern.OFF, Pattern.ANY, Pattern.ANY)
    assert p.patterns[2].start_weekday == 4 and len(p.patterns[0].employees) == 10


@requires_inrc
def test_sprint01_solver_and_validator_agree():
    p = read_inrc(INRC / "sprint01.txt")
    sol, check = agree(p, 8.0)
    assert check.objective >= 56  # the proven optimum: scoring as the competition does cannot go below it


@requires_inrc
def test_a_file_cut_short_is_refused(tmp_path):
    """A file cut before its cover had been solved with nobody working ("OPTIMAL 260"); one cut inside its
    requests with the requests it still held."""
    lines = (INRC / "sprint01.txt").read_text().splitlines()
    cut = tmp_path / "cut.txt"
    for text, said in (("\n".join(lines[:52]), "no DAY_OF_WEEK_COVER"),
                       ("\n".join(lines[:92]), "no DAY_OFF_REQUESTS, DAY_ON_REQUESTS"),
                       ("\n".join(lines[:120] + lines[194:]), "DAY_OFF_REQUESTS (line 93) states 100 lines but holds 26")):
        cut.write_text(text)
        with pytest.raises(HospOpsError, match=re.escape(said)):
            read_inrc(cut)
    bad = tmp_path / "bad.txt"
    bad.write_text("\n".join(lines).replace("0, 0, 0, 1, Nurse", "0, 0, 7, 1, Nurse"))
    with pytest.raises(HospOpsError, match="cannot read EMPLOYEES line '0, 0, 7, 1, Nurse'"):
        read_inrc(bad)


@requires_inrc
def test_day_off_requests_are_reported_as_such():
    """sprint01's broken day-off requests were all reported as shift-off requests."""
    p = read_inrc(INRC / "sprint01.txt")
    check = validate(p, RosterSolution({(e.id, d): "E" for e in p.employees for d in range(p.days)}))
    by = check.penalty_by_rule()
    assert by["day_off_request"] > 0 and by["shift_off_request"] > 0
    assert by["day_off_request"] == sum(r.weight for r in p.requests if r.shift is None and r.kind == "off")
