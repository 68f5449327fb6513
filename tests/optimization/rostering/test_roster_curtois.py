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


@requires_curtois
def test_a_file_cut_short_or_malformed_is_refused_naming_the_line(tmp_path):
    """A truncated instance had been solved as a smaller problem ("OPTIMAL, cost 0"); malformed lines gave
    Python's exception text with no line."""
    import pytest

    from datasets.errors import HospOpsError

    text = (CURTOIS / "Instance1.txt").read_text()
    cases = {
        text[:600]: "no SECTION_COVER",  # cut inside the days off
        text[: text.index("\n3,D,") + 1]: "no line for 11 of the 14",  # cut inside the cover: days without one
        text.replace("\n0,D,", "\n0,Q,", 1): "shift 'Q' is not in SECTION_SHIFTS",
        text.replace("\n13,D,", "\n14,D,", 1): "day 14 is outside the horizon",
        text.replace("\n13,D,", "\n12,D,", 1): "day 12 shift D already has its cover on line",
        text.replace("4320", "43x0", 1): "'43x0' in",
    }
    for i, (bad, said) in enumerate(cases.items()):
        path = tmp_path / f"bad{i}.txt"
        path.write_text(bad)
        with pytest.raises(HospOpsError) as err:
            read_curtois(path)
        assert said in str(err.value) and "bad" in str(err.value), (said, str(err.value))
    assert "line " in str(err.value)  # the malformed number's line


@requires_curtois
def test_files_from_windows_editors_read_back(tmp_path):
    """A byte-order mark (Excel's "CSV UTF-8", Notepad) had made the instance "not a Curtois–Qu instance" and
    the solution's first column unknown; Excel in a comma-decimal locale saves with semicolons."""
    inst = tmp_path / "Instance1.txt"
    inst.write_bytes(b"\xef\xbb\xbf" + (CURTOIS / "Instance1.txt").read_bytes())
    assert read_curtois(inst).days == 14 and read_curtois(inst).name == "Instance1"
    sol = tmp_path / "s.csv"
    sol.write_bytes(b"\xef\xbb\xbfEmployee;Day;Shift\r\nA;0;D\r\nB;3;D\r\n")
    assert dict(read_solution_csv(sol).assignment) == {("A", 0): "D", ("B", 3): "D"}
