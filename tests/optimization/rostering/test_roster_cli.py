"""`hospops roster solve / validate / reroster` through desktop.cli.main: the JSON contract, exports, user errors."""
from __future__ import annotations

import csv
import json
from datetime import date

import pytest

from desktop.cli import main
from roster_helpers import requires_curtois, requires_inrc, CURTOIS, INRC

KEYS = {"status", "objective", "bound", "seconds", "validated_objective", "hard_violations", "violations"}


def run_json(capsys, argv):
    rc = main(argv)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return rc, json.loads(out[0])


@requires_curtois
def test_solve_instance_exports_and_validates(capsys, tmp_path):
    sol_csv = tmp_path / "i1.csv"
    rc, res = run_json(capsys, ["roster", "solve", "--instance", str(CURTOIS / "Instance1.txt"), "--format", "curtois",
                                "--time-limit", "20", "--workers", "2", "--json", "--export", str(sol_csv)])
    assert rc == 0 and KEYS <= set(res) and "hours" not in res  # (a benchmark has no contracts to compare)
    assert res["status"] == "OPTIMAL" and res["objective"] == res["validated_objective"] == 607
    assert res["hard_violations"] == 0 and res["violations"]["cover_under"] >= 1
    rows = list(csv.reader(sol_csv.open()))
    assert rows[0] == ["employee", "day", "shift"] and all(r[2] == "D" for r in rows[1:])
    rc, val = run_json(capsys, ["roster", "validate", "--instance", str(CURTOIS / "Instance1.txt"),
                                "--solution", str(sol_csv), "--format", "curtois", "--json"])
    assert rc == 0 and val["validated_objective"] == 607 and val["hard_violations"] == 0


@requires_curtois
def test_validate_reports_a_broken_solution(capsys, tmp_path):
    bad = tmp_path / "bad.csv"
    # employee A works every day of the horizon: more than 5 in a row, and on its day off (day 3)
    bad.write_text("employee,day,shift\n" + "".join(f"A,{d},D\n" for d in range(14)))
    rc, val = run_json(capsys, ["roster", "validate", "--instance", str(CURTOIS / "Instance1.txt"),
                                "--solution", str(bad), "--json"])
    assert rc == 1 and val["hard_violations"] >= 2
    assert val["violations"]["leave"] == 1 and val["violations"]["max_consecutive"] == 1
    # which counts are hard rules: "violations" holds the priced ones too (cover_under here)
    assert {"leave", "max_consecutive"} <= set(val["hard_rules"]) and "cover_under" not in val["hard_rules"]
    assert "cover_under" in val["violations"]


def test_workspace_solve_and_reroster(capsys, tmp_path, demo_ws):
    import shutil

    from datasets.store import Workspace, list_audit

    demo_ws = shutil.copy(demo_ws, tmp_path / "demo.hospops")  # an export is audited: written to the workspace
    with Workspace.open(demo_ws, read_only=True) as ws:
        (nurse,), = ws.sql("SELECT min(staff_id) FROM staff WHERE unit_id = 'M5' AND role = 'RN'")
    out = tmp_path / "m5.csv"
    base = [str(demo_ws), "--unit", "M5", "--start", "2026-11-23", "--days", "7", "--workers", "2"]
    rc, res = run_json(capsys, ["roster", "solve", *base, "--time-limit", "3", "--json", "--export", str(out),
                                "--lock", f"{nurse}:2:off"])
    assert rc == 0 and res["status"] in ("OPTIMAL", "FEASIBLE") and res["hard_violations"] == 0
    assert res["objective"] == res["validated_objective"]
    # contracted against rostered hours, per person, the rostered hours those of the exported roster
    hours = {h["employee"]: h for h in res["hours"]}
    assert len(hours) == res["staff"] and all(h["contracted_h"] > 0 for h in hours.values())
    rows = list(csv.DictReader(out.open(encoding="utf-8-sig")))  # (with the mark Excel needs)
    worked = [r for r in rows if r["employee"] == nurse and r["shift"]]
    assert hours[nurse]["shifts"] == len(worked) and hours[nurse]["difference_h"] == pytest.approx(
        hours[nurse]["rostered_h"] - hours[nurse]["contracted_h"], abs=0.02)
    assert len(rows) == res["staff"] * 7
    with Workspace.open(demo_ws, read_only=True) as ws:  # the export names staff: in the audit log
        assert str(out) in [a["target"] for a in list_audit(ws, action="export roster")]
    assert next(r for r in rows if r["employee"] == nurse and r["day"] == "2")["shift"] == ""
    rc, rr = run_json(capsys, ["roster", "reroster", *base, "--time-limit", "3", "--json", "--published", str(out),
                               "--from-day", "3", "--absent", f"{nurse}:3-4"])
    assert rc == 0, rr.get("conflicts")
    assert rr["hard_violations"] == 0 and rr["changed_cells"] == len(rr["changes"])
    assert rr["objective"] == rr["validated_objective"]
    # the gaps from the change on, against the published roster's cover (not the ward's), said as such
    assert rr["cover_basis"] == "published" and all("wanted" in g for g in rr["short_from_change"])
    assert main(["roster", "reroster", *base, "--time-limit", "3", "--published", str(out), "--from-day", "3",
                 "--absent", f"{nurse}:3-4"]) == 0
    text = capsys.readouterr().out
    assert (f"From day 3 (Thu 26 Nov) on, against the published roster's cover: {len(rr['short_from_change'])} "
            "shift(s)") in text
    # a roster exported for another week, a change day outside the roster, days running backwards: refused
    for extra, said in ((["--from-day", "3"], "in the file but"), (["--from-day", "9"], "not a day of this"),
                        (["--from-day", "3", "--absent", f"{nurse}:5-3"], "run forwards")):
        start = "2026-11-30" if said == "in the file but" else "2026-11-23"
        args = [str(demo_ws), "--unit", "M5", "--start", start, "--days", "7", "--time-limit", "3",
                "--published", str(out), *extra]
        assert main(["roster", "reroster", *args]) == 1
        assert said in capsys.readouterr().err
    for bad in (["--time-limit", "0"], ["--time-limit", "-1"], ["--time-limit", "nan"], ["--workers", "0"]):
        with pytest.raises(SystemExit):
            main(["roster", "solve", "--instance", str(CURTOIS / "Instance1.txt"), *bad])
        assert "error: argument" in capsys.readouterr().err


def test_user_errors(capsys, tmp_path):
    assert main(["roster", "solve", "--time-limit", "1"]) == 1
    assert "hospops: error:" in capsys.readouterr().err
    assert main(["roster", "solve", "--instance", str(tmp_path / "missing.txt"), "--format", "curtois"]) == 1
    assert "Cannot read the instance" in capsys.readouterr().err
    junk = tmp_path / "junk.txt"
    junk.write_text("hello\n")
    assert main(["roster", "solve", "--instance", str(junk)]) == 1
    assert "not look like a Curtois" in capsys.readouterr().err


@requires_inrc
def test_solve_inrc_instance_exports_and_validates(capsys, tmp_path):
    sol_csv = tmp_path / "s1.csv"
    rc, res = run_json(capsys, ["roster", "solve", "--instance", str(INRC / "sprint01.txt"), "--format", "inrc",
                                "--time-limit", "3", "--workers", "2", "--json", "--export", str(sol_csv)])
    assert rc == 0 and res["objective"] == res["validated_objective"] and res["hard_violations"] == 0
    rc, val = run_json(capsys, ["roster", "validate", "--instance", str(INRC / "sprint01.txt"),
                                "--solution", str(sol_csv), "--format", "inrc", "--json"])
    assert rc == 0 and val["validated_objective"] == res["objective"]


def test_a_solve_that_finds_no_roster_says_so(capsys, tmp_path):
    import argparse

    from desktop.cli_roster import _report
    from optimization.rostering import RosterSolution
    from roster_helpers import need, person, tiny

    problem = tiny(3, [person("A")], [need(0)])
    args = argparse.Namespace(json=False, export=str(tmp_path / "r.csv"))
    rc = _report(problem, RosterSolution({}, "UNKNOWN", seconds=10.0), args)
    captured = capsys.readouterr()
    assert rc == 1 and "No roster was found within 10 s" in captured.err and "--time-limit" in captured.err
    assert "No roster was found" not in captured.out  # said once, as the error
    assert not (tmp_path / "r.csv").exists()
    args.json = True
    assert _report(problem, RosterSolution({}, "UNKNOWN", seconds=10.0), args) == 1
    assert "No roster was found" in json.loads(capsys.readouterr().out)["note"]


def test_cover_from_a_ratio_the_user_sets_or_typed_in(capsys, tmp_path, demo_ws):
    """Issue 8: cover comes from the expected census times a staffing ratio the user sets, or is typed in; the
    CLI had neither (the ratios were fixed at RN 1:8 by day, 1:10 by night)."""
    from datasets.store import Workspace
    from optimization.rostering import problem_from_workspace
    from optimization.rostering.workspace import parse_ratio, read_cover_csv

    start = date(2026, 11, 23)
    with Workspace.open(demo_ws, read_only=True) as ws:
        usual = problem_from_workspace(ws, "M5", start, 7)
        richer = problem_from_workspace(ws, "M5", start, 7, ratios={"RN": {"day": 4.0, "night": 5.0},
                                                                    "HCA": {"day": 12.0, "night": 15.0}})
    rn = lambda p: sum(c.requirement for c in p.cover if c.skill == "RN")  # noqa: E731
    assert rn(richer) >= 2 * rn(usual) - len(usual.cover)  # twice the nurses, less rounding up
    assert parse_ratio("RN:6/8") == ("RN", {"day": 6.0, "night": 8.0}) and parse_ratio("HCA:10")[1]["night"] == 10
    f = tmp_path / "cover.csv"
    f.write_bytes(b"\xef\xbb\xbfDate;Shift;Need;Skill\r\n2026-11-23;E;5;RN\r\n2026-11-23;N;3;\r\n2027-01-05;E;9;RN\r\n")
    needs = read_cover_csv(f, start, 7)
    assert needs == {(0, "E"): {"RN": 5}, (0, "N"): {None: 3}}  # (a row past the roster's days left out)
    with Workspace.open(demo_ws, read_only=True) as ws:
        typed = problem_from_workspace(ws, "M5", start, 7, needs=needs)
    got = {(c.day, c.shift, c.skill): c.requirement for c in typed.cover if c.requirement}
    assert got[(0, "E", "RN")] == 5 and got[(0, "N", None)] == 3 and (0, "L", "RN") not in got
    assert got[(0, "E", "charge")] == 1 and not any(k[0] == 1 for k in got)  # day 1: nobody asked for
    base = [str(demo_ws), "--unit", "M5", "--start", "2026-11-23", "--days", "7", "--time-limit", "2"]
    assert main(["roster", "solve", *base, "--cover", str(f), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hard_violations"] == 0 and out["violations"].get("cover_over", 0) > 0  # the rest above cover
    for extra, said in ((["--ratio", "RN:6/8", "--cover", str(f)], "not both"),
                        (["--ratio", "RN:six"], "expected ROLE:DAY/NIGHT"),
                        (["--ratio", "Surgeon:4/4"], "the role Surgeon")):
        assert main(["roster", "solve", *base, *extra]) == 1
        assert said in capsys.readouterr().err
    f.write_text("date,shift,need,skill\n2026-11-23,X,5,RN\n")
    assert main(["roster", "solve", *base, "--cover", str(f)]) == 1
    assert "shift(s) X, not rostered here" in capsys.readouterr().err
    f.write_text("date,shift,need,skill\n2026-11-23,E,5,Rn\n")
    assert main(["roster", "solve", *base, "--cover", str(f)]) == 1
    assert "No one on M5 has 'Rn'" in capsys.readouterr().err


def test_typed_cover_is_checked_as_a_scheduler_types_it(capsys, tmp_path, demo_ws):
    """A second review: 2.7 people became 2 unsaid, 1e9 built a model out of memory, a ratio of 0.01 asked for
    732 nurses a shift, a date typed wrong left its day needing nobody, unsaid; a role column was ignored."""
    base = [str(demo_ws), "--unit", "M5", "--start", "2026-11-23", "--days", "3", "--time-limit", "2"]
    f = tmp_path / "cover.csv"
    for rows, said in (("2026-11-23,E,2.7,RN", "a whole number of people"), ("2026-11-23,E,1000000000,RN", "0 to 500"),
                       ("2026-11-23,E,inf,RN", "a whole number of people")):
        f.write_text("date,shift,need,skill\n" + rows + "\n")
        assert main(["roster", "solve", *base, "--cover", str(f)]) == 1
        assert said in capsys.readouterr().err
    for ratio in ("RN:0.01", "RN:nan", "RN:8/inf"):
        assert main(["roster", "solve", *base, "--ratio", ratio]) == 1
        assert "patients per person from 0.5" in capsys.readouterr().err
    f.write_text("date,shift,need,role\n2026-11-23,E,4,RN\n2025-11-25,E,4,RN\n")
    assert main(["roster", "solve", *base, "--cover", str(f), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "has no row for 2 of the roster's 3 days (Tue 24 Nov, Wed 25 Nov)" in err
    assert json.loads(out)["hard_violations"] == 0
