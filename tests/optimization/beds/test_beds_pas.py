"""PAS (Demeester) reader, cost function and validator on a hand-made instance whose costs are worked out by
hand, the solver and the mapping onto our bed problem; the real testdata01 when the anchors are present; and
`hospops beds solve/validate --format pas`. Real CP-SAT."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from datasets.errors import HospOpsError
from optimization.beds import solve as solve_beds
from optimization.beds import validate as validate_beds
from optimization.beds.pas import (PasSolution, read_instance, read_solution, solve, to_bed_problem,
                                   validate)

PAS = Path(__file__).resolve().parents[3].parent / "shared" / "anchors" / "bed_allocation" / "pas_demeester"

TINY = """ARTICLE BENCHMARK DATA SET
Rooms: 3
Roomproperties: 2
Beds: 4
Departments: 2
Specialisms: 2
Patients: 4
Planning horizon: 4

SPECIALISMS: 
1 Spec1
2 Spec2

DEPARTMENTS: 
1 Dep1 0 0 | 1 1
2 Dep2 0 16 | 1 2

ROOMPROPERTIES: 
1 telemetry
2 oxygen

ROOMS: 
1 R1 | 1 | 1 | N | 1 1 | 1 0
2 R2 | 2 | 1 | D | 1 1 | 0 1
3 R3 | 1 | 2 | M | 1 2 | 0 0

BEDS: 
1 1
2 2
3 2
4 3

PATIENTS: 
1 P1 40 F | 0 2 | 1 1 2 | 1 | 1 0 | 0 0
2 P2 50 M | 0 1 | 1 1 1 | 0 | 0 0 | 0 1
3 P3 60 F | 0 2 | 1 2 2 | 2 | 0 0 | 0 0
4 P4 30 M | 2 2 | 1 1 0 | 0 | 0 0 | 0 0

END.
"""


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text(TINY)
    return path


def test_reader(tiny):
    inst = read_instance(tiny)
    assert inst.horizon == 4 and len(inst.rooms) == 3 and len(inst.beds) == 4 and inst.skipped == 1
    p1 = inst.patients[0]
    assert (p1.id, p1.age, p1.gender, list(p1.nights), p1.specialism, p1.preferred_capacity, p1.required) == \
        ("1", 40, "F", [0, 1], "1", 1, (True, False))
    assert inst.departments["2"].max_age == 16 and inst.departments["1"].max_age is None
    r2 = inst.rooms["2"]
    assert (r2.capacity, r2.department, r2.gender, r2.properties) == (2, "1", "D", (False, True))


def test_reader_rejects_other_files(tmp_path):
    bad = tmp_path / "x.txt"
    bad.write_text("hello\n")
    with pytest.raises(HospOpsError, match="not a PAS instance"):
        read_instance(bad)


def test_cost_components_by_hand(tiny):
    inst = read_instance(tiny)
    # P1 alone in R1 (fits every wish), P2 and P3 share the D room R2 on night 0 (mixed), P3's specialism is
    # not Dep1's: gender 5 + department specialism 2 x 1
    rep = validate(inst, PasSolution({"1": ["1", "1"], "2": ["2"], "3": ["3", "3"]}))
    assert rep.feasible and rep.cost == 7.0
    assert rep.components["gender"] == 5.0 and rep.components["department_specialism"] == 2.0
    # P3 moves to R3 on night 1: transfer 11, male-only room 5, Dep2's age limit 10, Dep1 specialism 1 (night 0)
    rep = validate(inst, PasSolution({"1": ["1", "1"], "2": ["2"], "3": ["3", "4"]}))
    assert rep.components == {"gender": 10.0, "required_property": 0.0, "age": 10.0, "preferred_property": 0.0,
                              "room_size": 0.0, "department_specialism": 1.0, "transfer": 11.0}
    # P1 in R2: telemetry missing 5 a night, room bigger than wanted 0.8 a night; P2 in R3: oxygen missing 2,
    # age 10, specialism 1
    rep = validate(inst, PasSolution({"1": ["2", "2"], "2": ["4"], "3": None}))
    assert rep.components["required_property"] == 10.0 and rep.components["room_size"] == pytest.approx(1.6)
    assert rep.components["preferred_property"] == 2.0 and rep.components["age"] == 10.0
    assert rep.hard == {"bed_night_double_booked": 0, "unplaced_nights": 2, "unknown_bed": 0}


def test_validator_catches_double_booking_and_unknown_beds(tiny):
    inst = read_instance(tiny)
    rep = validate(inst, PasSolution({"1": ["1", "1"], "2": ["2"], "3": ["2", "9"]}))
    assert rep.hard["bed_night_double_booked"] == 1 and rep.hard["unknown_bed"] == 1 and not rep.feasible


def test_solver_finds_the_optimum_and_roundtrips(tiny, tmp_path):
    inst = read_instance(tiny)
    sol, rep, stats = solve(inst, 3.0)
    assert rep.feasible and rep.cost == 7.0 and stats["unplaced"] == 0
    (tmp_path / "sol.txt").write_text(sol.to_text())
    assert validate(inst, read_solution(tmp_path / "sol.txt", inst)).cost == 7.0


def test_mapping_onto_our_bed_problem(tiny):
    inst = read_instance(tiny)
    pr = to_bed_problem(inst)
    assert pr.days == 4 and len(pr.beds) == 4 and all(p.window == (a.admission, a.admission)
                                                      for p, a in zip(pr.patients, inst.patients))
    sol = solve_beds(pr, 3.0)
    v = validate_beds(pr, sol)
    assert v.hard_violations == 0 and not sol.unplaced
    # our plan is a valid PAS plan too
    pas = PasSolution({p.patient_id: [sol.assignment[p.patient_id]] * p.los_days for p in pr.patients})
    assert validate(inst, pas).feasible


@pytest.mark.skipif(not (PAS / "testdata01.txt").exists(), reason="PAS anchors not present")
def test_testdata01_reads_and_solves_feasibly():
    inst = read_instance(PAS / "testdata01.txt")
    assert len(inst.patients) == 652 and len(inst.rooms) == 98 and len(inst.beds) == 286  # as OptaPlanner counts
    sol, rep, stats = solve(inst, 3.0)
    assert rep.feasible and stats["unplaced"] == 0 and rep.cost <= stats["greedy_cost"]


def _run(capsys, *argv):
    from desktop.cli import main

    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_solve_and_validate_pas(tiny, tmp_path, capsys):
    rc, out, _ = _run(capsys, "beds", "solve", "--instance", str(tiny), "--format", "pas", "--time-limit", "2",
                      "--json", "--solution-out", str(tmp_path / "s.txt"))
    d = json.loads(out)
    assert rc == 0 and d["status"] == "FEASIBLE" and d["objective"] == 7.0
    rc, out, _ = _run(capsys, "beds", "validate", "--instance", str(tiny), "--solution", str(tmp_path / "s.txt"),
                      "--format", "pas", "--json")
    assert rc == 0 and json.loads(out)["cost"] == 7.0
