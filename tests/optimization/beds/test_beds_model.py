"""The bed-allocation model on tiny problems: each hard rule, the soft penalties, the independent validator,
explanations for unplaced patients, progress and cancel. Real CP-SAT, no mocks."""
from __future__ import annotations

import pytest

from datasets.errors import Cancelled, HospOpsError
from optimization.beds import Bed, BedProblem, Patient, Unit, Weights, solve, validate
from optimization.beds.model import rule_breaks, with_weights

MED = Unit("MED", "medicine")
SUR = Unit("SUR", "surgery")
PAED = Unit("PAED", "paediatrics", mandatory=True, paediatric=True)
MAT = Unit("MAT", "obstetrics", sex_policy="female", mandatory=True)
UNITS = (MED, SUR, PAED, MAT)


def _solve(beds, patients, units=UNITS, **w):
    pr = BedProblem(units=units, beds=tuple(beds), patients=tuple(patients), weights=Weights(**w))
    sol = solve(pr, 2.0)
    v = validate(pr, sol)
    assert v.hard_violations == 0, v.messages
    assert sol.objective == v.objective  # the model's objective agrees with the validator's recomputation
    return pr, sol


def test_sex_rule_keeps_bay_beds_single_sex():
    beds = [Bed("MED-A1", "MED", "A", sex="F")]
    pr, sol = _solve(beds, [Patient("m", sex="M"), Patient("f", sex="F")])
    assert sol.assignment == {"m": None, "f": "MED-A1"}
    assert "sex" in sol.unplaced["m"] or "right sex" in sol.unplaced["m"]


def test_single_sex_unit_takes_only_that_sex():
    beds = [Bed("MAT-1", "MAT")]
    pr, sol = _solve(beds, [Patient("m", sex="M", specialty="obstetrics")])
    assert sol.assignment["m"] is None


def test_isolation_needs_side_room():
    beds = [Bed("MED-A1", "MED"), Bed("MED-SR1", "MED", side_room=True)]
    pr, sol = _solve(beds, [Patient("iso", sex="F", isolation=True)])
    assert sol.assignment["iso"] == "MED-SR1"
    pr, sol = _solve(beds[:1], [Patient("iso", sex="F", isolation=True)])
    assert sol.assignment["iso"] is None
    assert "side room" in sol.unplaced["iso"] and "isolation" in sol.unplaced["iso"]


def test_children_go_to_paediatrics_and_adults_do_not():
    beds = [Bed("MED-1", "MED"), Bed("PAED-1", "PAED")]
    pr, sol = _solve(beds, [Patient("child", sex="F", age=6, specialty="surgery"), Patient("adult", sex="M", age=40)])
    assert sol.assignment == {"child": "PAED-1", "adult": "MED-1"}
    pr, sol = _solve(beds[1:], [Patient("adult", sex="M", age=40)])
    assert sol.assignment["adult"] is None and "paediatric" in sol.unplaced["adult"] or "accepts" in sol.unplaced["adult"]


def test_telemetry_need():
    beds = [Bed("MED-1", "MED"), Bed("MED-T", "MED", telemetry=True)]
    pr, sol = _solve(beds, [Patient("c", sex="M", specialty="cardiology", telemetry=True)])
    assert sol.assignment["c"] == "MED-T"
    pr, sol = _solve(beds[:1], [Patient("c", sex="M", specialty="cardiology", telemetry=True)])
    assert sol.assignment["c"] is None and "telemetry" in sol.unplaced["c"]


def test_mandatory_specialty_units():
    beds = [Bed("MAT-1", "MAT"), Bed("SUR-1", "SUR")]
    pr, sol = _solve(beds, [Patient("med", sex="F", specialty="medicine"), Patient("obs", sex="F", specialty="obstetrics")])
    assert sol.assignment["obs"] == "MAT-1"
    assert sol.assignment["med"] == "SUR-1"  # outlier in surgery, never in maternity


def test_outlier_penalty_prefers_home_unit_and_unplaced_beats_nothing():
    beds = [Bed("SUR-1", "SUR"), Bed("MED-1", "MED")]
    pr, sol = _solve(beds, [Patient("p", sex="M", specialty="medicine")])
    assert sol.assignment["p"] == "MED-1" and sol.objective == 0
    pr, sol = _solve(beds[:1], [Patient("p", sex="M", specialty="medicine")])
    assert sol.assignment["p"] == "SUR-1" and sol.penalties["outlier"] == Weights().outlier
    # when an outlier costs more than waiting, the patient waits, and the reason says so
    pr, sol = _solve(beds[:1], [Patient("p", sex="M", specialty="medicine")], outlier=500, unplaced=10)
    assert sol.assignment["p"] is None and "cost more than waiting" in sol.unplaced["p"]


def test_high_acuity_long_wait_gets_the_last_bed():
    beds = [Bed("MED-1", "MED")]
    pats = [Patient("calm", sex="M", acuity=4, wait_hours=1), Patient("sick", sex="M", acuity=1, wait_hours=6)]
    pr, sol = _solve(beds, pats)
    assert sol.assignment == {"calm": None, "sick": "MED-1"}
    assert "are in use: 0 by patients in them, 1 by patients placed now" in sol.unplaced["calm"]
    # a bed kept by its current occupant counts as theirs, not as a placement made ahead of the waiting patient
    pats2 = [Patient("in", sex="M", current_bed="MED-1"), Patient("wait", sex="M", acuity=4, wait_hours=1)]
    pr, sol = _solve(beds, pats2)
    assert sol.assignment["in"] == "MED-1" and "1 by patients in them, 0 by" in sol.unplaced["wait"]
    # a free bed that only the single-sex rule keeps from her is named as such (it never was)
    beds3 = [Bed("MED-1", "MED", sex="F"), Bed("MED-2", "MED", sex="M")]
    pats3 = [Patient("in", sex="F", current_bed="MED-1"), Patient("she", sex="F", acuity=3, wait_hours=2)]
    pr, sol = _solve(beds3, pats3)
    assert sol.unplaced["she"].endswith("free beds ruled out by one rule only: 1 by the single-sex rule")


def test_transfer_frees_a_bed_only_when_worth_it():
    beds = [Bed("MED-SR", "MED", side_room=True), Bed("MED-A", "MED")]
    cur = Patient("cur", sex="M", current_bed="MED-SR", kind="inpatient")
    iso = Patient("iso", sex="M", isolation=True)
    pr, sol = _solve(beds, [cur, iso])
    assert sol.assignment == {"cur": "MED-A", "iso": "MED-SR"}
    assert sol.penalties["transfer"] == Weights().transfer
    pr, sol = _solve(beds, [cur, iso], transfer=10_000)
    assert sol.assignment == {"cur": "MED-SR", "iso": None}


def test_headroom_keeps_free_beds_in_critical_units():
    amu = Unit("AMU", "medicine", kind="assessment", headroom=1)
    beds = [Bed("AMU-1", "AMU"), Bed("AMU-2", "AMU")]
    pats = [Patient(f"p{i}", sex="M", wait_hours=0) for i in range(2)]
    pr, sol = _solve(beds, pats, units=(amu,), unplaced=10, wait_per_hour=0, headroom=100)
    assert sum(1 for b in sol.assignment.values() if b) == 1
    assert sol.penalties["headroom"] == 0


def test_validator_is_independent_of_the_model():
    beds = (Bed("MED-A1", "MED", sex="F"), Bed("MED-2", "MED"))
    pr = BedProblem(units=UNITS, beds=beds, patients=(Patient("m", sex="M"), Patient("n", sex="M", isolation=True)))
    v = validate(pr, {"m": "MED-A1", "n": "MED-A1"})
    assert v.hard["sex"] == 2 and v.hard["isolation"] == 1 and v.hard["one_bed_one_patient"] == 1
    assert validate(pr, {"m": "MED-2", "n": None}).hard_violations == 0
    assert rule_breaks(Patient("k", sex="M", age=3), beds[1], MED) == ["age"]


def test_problem_rejects_bad_input():
    with pytest.raises(HospOpsError):
        BedProblem(units=UNITS, beds=(Bed("X", "NOPE"),), patients=())
    with pytest.raises(HospOpsError):
        Weights(outlier=-1)


def test_progress_on_solution_and_cancel():
    beds = tuple(Bed(f"MED-{i}", "MED") for i in range(5))
    pr = BedProblem(units=UNITS, beds=beds, patients=tuple(Patient(f"p{i}", sex="F") for i in range(4)))
    seen, prog = [], []
    sol = solve(pr, 2.0, progress=lambda f, m: prog.append(f), on_solution=lambda o, b, t: seen.append(o))
    assert sol.status == "OPTIMAL" and seen and prog[-1] == 1.0
    with pytest.raises(Cancelled):
        solve(pr, 2.0, should_stop=lambda: True)
    assert with_weights(pr, outlier=1).weights.outlier == 1


def test_current_patient_with_no_allowed_bed_is_explained():
    beds = (Bed("MED-A1", "MED", sex="F"),)
    pr = BedProblem(units=UNITS, beds=beds, patients=(Patient("m", sex="M", current_bed="MED-A1", kind="inpatient"),))
    with pytest.raises(HospOpsError, match="already in bed MED-A1.*sex"):
        solve(pr, 1.0)


def test_assessment_unit_is_home_only_to_emergencies_of_its_side():
    from optimization.beds.model import is_outlier

    amu = Unit("AMU", "medicine", kind="assessment")
    assert not is_outlier(Patient("a", specialty="elderly", kind="ed_boarder"), amu)
    assert is_outlier(Patient("b", specialty="surgery", kind="ed_boarder"), amu)
    assert is_outlier(Patient("c", specialty="medicine", kind="elective"), amu)


def test_an_outlier_note_reads_as_a_sentence():
    from optimization.beds.model import placement_note

    units = (Unit("AMU", "medicine", kind="assessment"),)
    pr = BedProblem(units=units, beds=(Bed("AMU-1", "AMU"),),
                    patients=(Patient("o", specialty="orthopaedics", kind="ed_boarder"),
                              Patient("s", specialty="surgery", kind="ed_boarder")))
    assert placement_note(pr, pr.patients[0], "AMU-1").endswith("this is an orthopaedics patient")
    assert placement_note(pr, pr.patients[1], "AMU-1").endswith("this is a surgery patient")
    # an elective due today, admitted in two days: the note says it is put off (it said nothing)
    units = (Unit("S", "surgery"),)
    pr = BedProblem(units=units, beds=(Bed("S-1", "S"),), days=3,
                    patients=(Patient("e", specialty="elective_surgery", kind="elective", window=(0, 2)),))
    assert placement_note(pr, pr.patients[0], "S-1", 2) == "postponed 2 days: due today"
    assert placement_note(pr, pr.patients[0], "S-1", 0) == ""
