"""IHTC-2024 local search: its running cost is the validator's, every move keeps every hard rule, and annealing
improves a poor plan without ever returning a worse one."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from optimization.beds.ihtc import read_instance, read_solution, validate
from optimization.beds.ihtc_search import IhtcSearch, anneal
from optimization.beds import ihtc_solver
from optimization.beds.ihtc_solver import _nurses_model, _simple_roster, _Stays, solve_ihtc

IHTC = Path(__file__).resolve().parents[3].parent / "shared" / "anchors" / "bed_allocation" / "ihtc2024"
pytestmark = pytest.mark.skipif(not IHTC.exists(), reason="IHTC anchors not present")


def _pair(k: int):
    inst = read_instance(IHTC / "test01_test10" / f"test{k:02d}.json")
    return inst, read_solution(IHTC / "test_solutions" / f"sol_test{k:02d}.json", inst)


@pytest.mark.parametrize("k", [1, 4, 7, 10])
def test_state_cost_is_the_validators(k):
    inst, sol = _pair(k)
    assert IhtcSearch(inst, sol).cost == validate(inst, sol).cost


@pytest.mark.parametrize("k", [1, 5, 9])
def test_random_moves_and_undos_keep_the_cost_exact_and_every_rule(k):
    inst, sol = _pair(k)
    search = IhtcSearch(inst, sol, seed=k)
    rng = random.Random(k)
    made = 0
    for _ in range(6000):
        undo = search.random_move()
        if undo is not None:
            made += 1
            if rng.random() < 0.4:
                search._undo(undo)
    assert made > 1000  # the moves do move
    report = validate(inst, search.solution())
    assert report.feasible, report.messages
    assert search.cost == report.cost
    before = search.cost
    search._restore((search.adm[:], search.room[:], search.ot[:], [row[:] for row in search.nurse_of]))
    assert search.cost == before  # restoring the same state is exact too


def _poor(inst, sol):
    """The reference plan with every optional patient left out: feasible, and dearer."""
    for p in inst.patients:
        if not p.mandatory:
            sol.admission[p.id] = sol.room[p.id] = sol.theater[p.id] = None
    return sol


def test_anneal_improves_a_poor_plan_and_never_returns_a_worse_one():
    inst, sol = _pair(2)
    start = validate(inst, _poor(inst, sol))
    assert start.feasible and start.soft["Unscheduled"] > 0
    found, stats = anneal(inst, sol, 2.0, seed=1)
    report = validate(inst, found)
    assert report.feasible, report.messages
    assert report.cost == stats["cost"] == stats["best"]
    assert report.cost < 0.8 * start.cost
    assert stats["moves"] > stats["accepted"] > 0
    # a mandatory patient is never left out
    assert all(found.admission[p.id] is not None for p in inst.patients if p.mandatory)


def test_anneal_stops_when_asked():
    inst, sol = _pair(3)
    start = validate(inst, sol).cost
    found, stats = anneal(inst, sol, 30.0, should_stop=lambda: True)
    assert stats["seconds"] < 5 and validate(inst, found).cost <= start


def test_solver_ends_with_the_search_and_keeps_its_best():
    inst = read_instance(IHTC / "test01_test10" / "test01.json")
    sol, report, stats = solve_ihtc(inst, 6.0, search_share=0.5)
    assert report.feasible and validate(inst, sol).cost == report.cost
    assert "search" in stats
    assert report.cost <= min(r["cost"] for r in stats["rounds"] if r["feasible"])


def test_simple_roster_covers_every_occupied_room_shift_with_a_working_nurse():
    inst, sol = _pair(6)
    stays = _Stays(inst, sol.admission, sol.room)
    _, _, working = _nurses_model(inst, stays, None)
    roster = _simple_roster(inst, stays, working)
    assert set(roster) == {rs for rs, who in stays.present.items() if who}
    sol.nurse_rooms = {}
    for (r, s), nid in roster.items():
        sol.nurse_rooms.setdefault((nid, s), []).append(r)
    report = validate(inst, sol)
    assert report.feasible, report.messages


def test_solver_without_a_greedy_plan_gets_a_first_plan_from_cp_sat(monkeypatch):
    monkeypatch.setattr(ihtc_solver, "greedy_plan", lambda inst: None)
    inst = read_instance(IHTC / "test01_test10" / "test01.json")
    sol, report, stats = solve_ihtc(inst, 6.0)
    assert stats.get("first_plan") == "cp-sat" and not stats["greedy_start"]
    assert report.feasible and validate(inst, sol).cost == report.cost
