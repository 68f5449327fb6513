"""Several-day plans for planned admissions: the solver chooses the admission day within each patient's
window and the bed, keeps one patient per bed and day, waits for beds that free up later; the validator
checks the window, the per-day occupancy and the delay cost independently. Real CP-SAT."""
from __future__ import annotations

import pytest

from datasets.errors import HospOpsError
from optimization.beds import Bed, BedProblem, Patient, Unit, Weights, solve, validate

MED = Unit("MED", "medicine")
SUR = Unit("SUR", "surgery")


def _solve(beds, patients, days, units=(MED, SUR), **w):
    pr = BedProblem(units=units, beds=tuple(beds), patients=tuple(patients), weights=Weights(**w), days=days)
    sol = solve(pr, 3.0)
    v = validate(pr, sol)
    assert v.hard_violations == 0, v.messages
    assert sol.objective == v.objective
    return pr, sol


def _elective(pid, window, los, specialty="surgery"):
    return Patient(pid, sex="F", specialty=specialty, kind="elective", window=window, los_days=los)


def test_two_electives_share_one_bed_on_different_days():
    pr, sol = _solve([Bed("SUR-1", "SUR")], [_elective("a", (0, 2), 1), _elective("b", (0, 2), 1)], days=3)
    assert sol.assignment == {"a": "SUR-1", "b": "SUR-1"}
    assert sorted(sol.admission_day.values()) == [0, 1]
    assert sol.penalties["delay"] == Weights().delay_per_day and sol.status == "OPTIMAL"


def test_waits_for_a_bed_that_frees_up():
    pr, sol = _solve([Bed("SUR-1", "SUR", free_from_day=2)], [_elective("a", (0, 3), 2)], days=4)
    assert sol.assignment["a"] == "SUR-1" and sol.admission_day["a"] == 2
    assert sol.penalties["delay"] == 2 * Weights().delay_per_day


def test_later_day_in_home_unit_beats_an_outlier_bed_now():
    beds = [Bed("SUR-1", "SUR", free_from_day=1), Bed("MED-1", "MED")]
    pr, sol = _solve(beds, [_elective("a", (0, 1), 2)], days=3, outlier=30, delay_per_day=20)
    assert (sol.assignment["a"], sol.admission_day["a"]) == ("SUR-1", 1)
    pr, sol = _solve(beds, [_elective("a", (0, 1), 2)], days=3, outlier=30, delay_per_day=40)
    assert (sol.assignment["a"], sol.admission_day["a"]) == ("MED-1", 0)


def test_long_stay_blocks_the_bed_and_the_window_limits_the_day():
    beds = [Bed("SUR-1", "SUR")]
    now = Patient("now", sex="F", specialty="surgery", kind="ed_boarder", wait_hours=10, los_days=3)
    pr, sol = _solve(beds, [now, _elective("b", (1, 2), 1)], days=4)
    # the boarder holds the bed for days 0-2; b's window ends on day 2: one of them waits
    assert sum(1 for b in sol.assignment.values() if b) == 1 and len(sol.unplaced) == 1
    pr, sol = _solve(beds + [Bed("SUR-2", "SUR")], [now, _elective("b", (1, 2), 1)], days=4)
    assert sol.assignment["b"] and sol.admission_day["b"] == 1 and sol.admission_day["now"] == 0


def test_first_fit_hands_out_beds_without_overlap():
    """Many short stays on a few beds: the per-day counts the model keeps always turn into concrete beds."""
    beds = [Bed(f"SUR-{i}", "SUR", free_from_day=i % 3) for i in range(4)]
    pats = [_elective(f"p{i}", (0, 4), 1 + i % 3) for i in range(12)]
    pr, sol = _solve(beds, pats, days=6)
    held = {}
    for pid, bid in sol.assignment.items():
        if bid:
            p = next(q for q in pr.patients if q.patient_id == pid)
            for t in range(sol.admission_day[pid], min(6, sol.admission_day[pid] + p.los_days)):
                assert (bid, t) not in held, f"{bid} day {t}: {held[bid, t]} and {pid}"
                held[bid, t] = pid
    assert len(held) == sum(min(p.los_days, 6 - sol.admission_day[p.patient_id]) for p in pr.patients
                            if sol.assignment[p.patient_id])


def test_validator_catches_window_overlap_and_early_admission():
    beds = (Bed("SUR-1", "SUR", free_from_day=1),)
    pr = BedProblem(units=(MED, SUR), beds=beds, days=3,
                    patients=(_elective("a", (1, 2), 2), _elective("b", (1, 2), 2)))
    v = validate(pr, {"a": "SUR-1", "b": "SUR-1"}, admission_day={"a": 1, "b": 2})
    assert v.hard["one_bed_one_patient"] == 1  # both hold SUR-1 on day 2
    v = validate(pr, {"a": "SUR-1", "b": None}, admission_day={"a": 0})
    assert v.hard["admission_window"] == 1 and v.hard["bed_not_available"] == 1
    v = validate(pr, {"a": "SUR-1", "b": None}, admission_day={"a": 2})
    assert v.hard_violations == 0 and v.penalties["delay"] == Weights().delay_per_day


def test_problem_rejects_windows_outside_the_horizon():
    with pytest.raises(HospOpsError, match="window"):
        BedProblem(units=(SUR,), beds=(Bed("SUR-1", "SUR"),), patients=(_elective("a", (0, 3), 1),), days=3)
    with pytest.raises(HospOpsError, match="horizon"):
        BedProblem(units=(SUR,), beds=(), patients=(), days=0)


def test_several_day_plan_from_the_demo_workspace(demo_ws):
    from datasets.store import Workspace
    from optimization.beds import placements_from_solution, problem_from_workspace

    with Workspace.open(demo_ws, read_only=True) as ws:
        pr = problem_from_workspace(ws, "2026-11-16 08:00", planning_days=3)
    assert pr.days == 3
    planned = [p for p in pr.patients if p.window is not None]
    assert planned and all(p.kind == "elective" and 0 <= p.window[0] <= p.window[1] <= 2 for p in planned)
    assert any(p.window[0] > 0 for p in planned)  # electives booked for the next days take part
    assert all(p.los_days and p.los_days >= 1 for p in pr.patients if p.current_bed is None)
    assert any(b.free_from_day > 0 for b in pr.beds)  # beds of expected discharges open later
    sol = solve(pr, 5.0)
    v = validate(pr, sol)
    assert v.hard_violations == 0 and v.objective == sol.objective
    pl = placements_from_solution(pr, sol)
    assert set(pl["admission_day"]) <= {0, 1, 2}
    for p in planned:
        if sol.assignment[p.patient_id]:
            assert p.window[0] <= sol.admission_day[p.patient_id] <= p.window[1]
