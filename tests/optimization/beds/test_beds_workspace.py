"""problem_from_workspace on the demo hospital: the waiting list and the beds become a BedProblem that the
solver places without breaking a hard rule; derived needs and movable patients are carried through."""
from __future__ import annotations

import pytest

from datasets.metrics.beds import bed_board, patient_needs, waiting_list
from datasets.store import Workspace
from optimization.beds import problem_from_workspace, solve, validate
from optimization.beds.model import rule_breaks

T = "2026-11-16 08:00"


@pytest.fixture(scope="module")
def demo(demo_ws):
    with Workspace.open(demo_ws, read_only=True) as ws:
        yield ws


def test_problem_from_demo_and_a_valid_proposal(demo):
    pr = problem_from_workspace(demo, T, include_next_hours=6, weights={"outlier": 25})
    assert pr.weights.outlier == 25
    waiting = [p for p in pr.patients if p.current_bed is None]
    movable = [p for p in pr.patients if p.current_bed is not None]
    assert len(waiting) >= len(waiting_list(demo, T)) and waiting
    board = bed_board(demo, T).set_index("bed_id")
    free = set(board.index[board["state"] == "free"])
    units = {u.unit_id: u for u in pr.units}
    beds = {b.bed_id: b for b in pr.beds}
    # only free beds and the beds of movable patients are available; movable patients sit legally
    assert {b.bed_id for b in pr.beds if b.available} == free | {p.current_bed for p in movable}
    for p in movable:
        assert board.loc[p.current_bed, "state"] == "occupied"
        assert not rule_breaks(p, beds[p.current_bed], units[beds[p.current_bed].unit_id])
    # derived needs reach the problem
    for p in waiting:
        assert p.isolation == patient_needs(p.stay_id, p.specialty, p.age)["isolation"]
    assert {u.unit_id for u in pr.units if u.headroom > 0} <= {u.unit_id for u in pr.units if u.kind in ("assessment", "icu")}
    sol = solve(pr, 3.0)
    v = validate(pr, sol)
    assert v.hard_violations == 0 and v.objective == sol.objective
    assert set(sol.unplaced) == {p.patient_id for p in waiting if sol.assignment[p.patient_id] is None}
    assert all(len(r) > 20 for r in sol.unplaced.values())
    placed = [p for p in waiting if sol.assignment[p.patient_id]]
    assert placed  # the demo has free beds at 08:00
    assert all(sol.assignment[p.patient_id] in free | {q.current_bed for q in movable} for p in placed)


def test_no_transfers_when_not_allowed(demo):
    pr = problem_from_workspace(demo, T, allow_transfers=False)
    assert all(p.current_bed is None for p in pr.patients)
