"""The Curtois–Qu reader maps every section onto the problem dataclasses."""
from __future__ import annotations

from optimization.rostering import RosterSolution, read_curtois, read_solution_csv, write_solution_csv
from roster_helpers import requires_curtois, CURTOIS


@requires_curtois
def test_instance1_is_read_section_by_section():
    p = read_curtois(CURTOIS / "Instance1.txt")
    assert p.days == 14 and [s.id for s in p.shifts] == ["D"] and p.shifts[0].minutes == 480
    assert len(p.employees) == 8
    a = p.employee("A")
    assert a.max_shifts == {"D": 14} and (a.max_minutes, a.min_minutes) == (4320, 3360)
    assert (a.max_consecutive, a.min_consecutive, a.min_days_off, a.max_weekends) == (5, 2, 2, 1)
    assert p.days_off["A"] == {0}
    assert len(p.cover) == 14 and p.cover[0].under_weight == 100 and p.cover[0].over_weight == 1
    assert p.weekends == [(5, 6), (12, 13)]


@requires_curtois
def test_instance2_successions_and_requests():
    p = read_curtois(CURTOIS / "Instance2.txt")
    assert {s.id: s.forbidden_next for s in p.shifts} == {"E": (), "L": ("E",)}
    assert p.employee("D").max_shifts == {"E": 14, "L": 0}
    kinds = {r.kind for r in p.requests}
    assert kinds == {"on", "off"} and sum(r.kind == "off" for r in p.requests) == 12


def test_solution_csv_round_trip(tmp_path):
    sol = RosterSolution({("A", 0): "E", ("B", 3): "L"})
    write_solution_csv(sol, tmp_path / "s.csv")
    assert (tmp_path / "s.csv").read_text().splitlines() == ["employee,day,shift", "A,0,E", "B,3,L"]
    assert dict(read_solution_csv(tmp_path / "s.csv").assignment) == dict(sol.assignment)
