"""`hospops beds solve` and `validate` end to end through desktop.cli.main (JSON contract and user errors)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

T = "2026-11-16 09:00"
IHTC = Path(__file__).resolve().parents[3].parent / "shared" / "anchors" / "bed_allocation" / "ihtc2024"


def _run(capsys, *argv):
    from desktop.cli import main

    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_solve_workspace_json(demo_ws, capsys, tmp_path):
    rc, out, _ = _run(capsys, "beds", "solve", str(demo_ws), "--at", "2026-11-16T08:00", "--include-next-hours",
                      "4", "--time-limit", "3", "--json", "--solution-out", str(tmp_path / "plan.json"))
    d = json.loads(out)
    assert rc == 0 and d["status"] in ("OPTIMAL", "FEASIBLE")
    assert d["hard_violations"] == 0 and d["validated_objective"] == d["objective"]
    assert d["waiting"] > 0 and all(u["reason"] for u in d["unplaced"])
    assert json.loads((tmp_path / "plan.json").read_text())["assignment"]


def test_cli_errors_are_user_errors(demo_ws, capsys):
    rc, _, err = _run(capsys, "beds", "solve", str(demo_ws))
    assert rc == 1 and "hospops: error:" in err
    rc, _, err = _run(capsys, "beds", "board", str(demo_ws), "--at", "not a time")
    assert rc == 1 and "not a time" in err
    rc, _, err = _run(capsys, "beds", "solve", str(demo_ws), "--at", T, "--weight", "nope=3")
    assert rc == 1 and "--weight" in err


@pytest.mark.skipif(not IHTC.exists(), reason="IHTC anchors not present")
def test_cli_validate_reference_and_solve_ihtc(capsys, tmp_path):
    rc, out, _ = _run(capsys, "beds", "validate", "--instance", str(IHTC / "test01_test10" / "test02.json"),
                      "--solution", str(IHTC / "test_solutions" / "sol_test02.json"), "--format", "ihtc", "--json")
    d = json.loads(out)
    assert rc == 0 and d["cost"] == 1583 and d["hard_violations"] == 0
    inst = IHTC / "small01_small09" / "small03.json"
    sol = tmp_path / "sol.json"
    rc, out, _ = _run(capsys, "beds", "solve", "--instance", str(inst), "--format", "ihtc", "--time-limit", "3",
                      "--json", "--solution-out", str(sol))
    d = json.loads(out)
    assert rc == 0 and d["status"] == "FEASIBLE" and d["hard_violations"] == 0
    assert d["validated_objective"] == d["objective"]
    raw = json.loads(sol.read_text())
    assert {"patients", "nurses"} <= set(raw) and {"id", "admission_day"} <= set(raw["patients"][0])
    rc, out, _ = _run(capsys, "beds", "validate", "--instance", str(inst), "--solution", str(sol), "--json")
    assert rc == 0 and json.loads(out)["cost"] == d["objective"]
    # a solution for another instance is reported, not a crash
    rc, _, err = _run(capsys, "beds", "validate", "--instance", str(inst),
                      "--solution", str(IHTC / "test_solutions" / "sol_test02.json"))
    assert rc == 1 and "internal error" not in err
    rc, out, _ = _run(capsys, "beds", "validate", "--instance", str(inst),
                      "--solution", str(IHTC / "test_solutions" / "sol_test02.json"), "--json")
    assert rc == 1  # a solution that does not hold: exit 1 with --json as without
    rc, _, err = _run(capsys, "beds", "solve", "--instance", str(inst), "--format", "pas")
    assert rc == 1 and "PAS" in err
