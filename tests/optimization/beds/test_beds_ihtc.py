"""IHTC-2024: the independent validator reproduces the competition's costs on the reference solutions, catches
each hard rule, and the two-stage CP-SAT solver returns feasible solutions in the competition's JSON."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from datasets.errors import Cancelled, HospOpsError
from optimization.beds.ihtc import (parse_reference_costs, read_instance, read_solution, solution_from_json,
                                    validate)
from optimization.beds.ihtc_solver import solve_ihtc

IHTC = Path(__file__).resolve().parents[3].parent / "shared" / "anchors" / "bed_allocation" / "ihtc2024"
pytestmark = pytest.mark.skipif(not IHTC.exists(), reason="IHTC anchors not present")


def _pair(k: int):
    inst = read_instance(IHTC / "test01_test10" / f"test{k:02d}.json")
    path = IHTC / "test_solutions" / f"sol_test{k:02d}.json"
    return inst, read_solution(path, inst), json.loads(path.read_text())


@pytest.mark.parametrize("k", range(1, 11))
def test_validator_reproduces_reference_costs_exactly(k):
    inst, sol, raw = _pair(k)
    ref = parse_reference_costs(raw["costs"][0])
    rep = validate(inst, sol)
    assert rep.hard_violations == 0, rep.messages
    assert rep.cost == ref["Cost"]
    for comp, cost in rep.soft.items():
        assert cost == ref[comp], comp


def _mutated(k, fn):
    inst, _, raw = _pair(k)
    raw = copy.deepcopy(raw)
    fn(inst, raw)
    return inst, validate(inst, solution_from_json(raw, inst))


def test_validator_catches_uncovered_room():
    def drop_nurses(inst, raw):
        for n in raw["nurses"]:
            for a in n["assignments"]:
                a["rooms"] = []
    _, rep = _mutated(1, drop_nurses)
    assert rep.hard["uncovered_room"] > 0 and not rep.feasible


def test_validator_catches_unscheduled_mandatory_and_capacity():
    def unschedule(inst, raw):
        mand = next(p for p in inst.patients if p.mandatory)
        for p in raw["patients"]:
            if p["id"] == mand.id:
                p["admission_day"] = "none"
    _, rep = _mutated(1, unschedule)
    assert rep.hard["mandatory_unscheduled"] == 1

    def crowd(inst, raw):
        # everyone admitted goes to the same room on the same day
        for p in raw["patients"]:
            if p["admission_day"] != "none":
                p["room"] = "r0"
    _, rep = _mutated(1, crowd)
    assert rep.hard["room_capacity"] > 0


def test_validator_catches_gender_mix_and_incompatible_room():
    inst, _, raw = _pair(2)
    admitted = [p for p in raw["patients"] if p["admission_day"] != "none"]
    pm = {p.id: p for p in inst.patients}
    a = next(p for p in admitted if pm[p["id"]].gender == "A")
    b = next(p for p in admitted if pm[p["id"]].gender == "B")
    raw2 = copy.deepcopy(raw)
    for p in raw2["patients"]:
        if p["id"] == b["id"]:
            p["room"], p["admission_day"] = a["room"], a["admission_day"]
    rep = validate(inst, solution_from_json(raw2, inst))
    assert rep.hard["gender_mix"] >= 1
    bad = next(p for p in inst.patients if p.incompatible and p.id in {q["id"] for q in admitted})
    raw3 = copy.deepcopy(raw)
    for p in raw3["patients"]:
        if p["id"] == bad.id:
            p["room"] = sorted(bad.incompatible)[0]
    assert validate(inst, solution_from_json(raw3, inst)).hard["incompatible_room"] == 1


def test_validator_counts_optional_unscheduled_with_weight():
    inst, sol, _ = _pair(1)
    base = validate(inst, sol)
    opt = next(p for p in inst.patients if not p.mandatory and sol.admission[p.id] is not None)
    sol.admission[opt.id] = None
    rep = validate(inst, sol)
    assert rep.soft_raw["Unscheduled"] == base.soft_raw["Unscheduled"] + 1


def test_reader_rejects_non_ihtc_file(tmp_path):
    f = tmp_path / "x.json"
    f.write_text('{"days": 3}')
    with pytest.raises(HospOpsError, match="missing"):
        read_instance(f)


def test_solver_feasible_on_small_instance_and_roundtrips_json(tmp_path):
    inst = read_instance(IHTC / "small01_small09" / "small01.json")
    seen, bar = [], []
    sol, rep, stats = solve_ihtc(inst, 4.0, on_solution=lambda o, b, t: seen.append((o, b, t)),
                                 progress=lambda f, msg: bar.append(f))
    assert rep.feasible, rep.messages
    assert seen, "no improving solution was reported"
    # one bar for the whole solve: it never moves back between the CP-SAT rounds and the search
    assert bar[-1] == 1.0 and len(bar) > 3
    assert all(b >= a for a, b in zip(bar, bar[1:])), bar
    assert all(p.mandatory is False or sol.admission[p.id] is not None for p in inst.patients)
    f = tmp_path / "sol.json"
    f.write_text(json.dumps(sol.to_json(inst)))
    again = validate(inst, read_solution(f, inst))
    assert again.cost == rep.cost and again.feasible


def test_solver_stops_when_asked():
    inst = read_instance(IHTC / "small01_small09" / "small02.json")
    with pytest.raises(Cancelled):
        solve_ihtc(inst, 5.0, should_stop=lambda: True)


@pytest.mark.parametrize("name", ["test01_test10/test01.json", "public_i01_i30/i08.json"])
def test_greedy_start_keeps_every_rule_but_nurse_cover(name):
    from optimization.beds.ihtc_solver import greedy_plan

    inst = read_instance(IHTC / name)
    plan = greedy_plan(inst)
    assert plan is not None
    rep = validate(inst, plan)  # no nurses yet: only the nurse-cover rule may be broken
    assert {k: v for k, v in rep.hard.items() if v and k != "uncovered_room"} == {}
    assert all(plan.admission[p.id] is not None for p in inst.patients if p.mandatory)
