"""benchmarks/beds_ihtc.py runs end to end on one instance with a tiny time limit and reports the right keys.
No timing thresholds: timings belong in benchmarks/results/."""
from __future__ import annotations

import json

import pytest

from bench_helpers import load_benchmark


def test_beds_ihtc_quick(tmp_path, capsys):
    mod = load_benchmark("beds_ihtc")
    if not (mod.IHTC_DIR / "public_i01_i30" / "i01.json").exists():
        pytest.skip("IHTC anchors not present")
    res = mod.main(["--quick", "--json", "--instances", "i01", "--time-limit", "5",
                    "--results-dir", str(tmp_path / "results")])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert json.loads(lines[-1]) == json.loads(json.dumps(res))
    (row,) = res["rows"]
    assert {"instance", "cost", "best_known", "gap", "validated", "seconds"} <= set(row)
    assert row["instance"] == "i01" and row["best_known"] == 3842 and row["validated"] is True
    assert row["cost"] >= row["best_known"]  # nobody beats the best known on i01 in 5 s; a lower cost means a validator bug
    assert row["gap"] == pytest.approx((row["cost"] - 3842) / 3842, abs=1e-4)
    saved = json.loads((tmp_path / "results" / "beds_ihtc.quick.json").read_text())
    assert saved["rows"][0]["cost"] == row["cost"] and saved["quick"] is True


def test_instance_list_parsing():
    mod = load_benchmark("beds_ihtc")
    assert mod.parse_instances("i01-i03,i07") == ["i01", "i02", "i03", "i07"]
    with pytest.raises(SystemExit):
        mod.parse_instances("x1")


def test_beds_pas_quick(tmp_path, capsys):
    mod = load_benchmark("beds_pas")
    if not (mod.PAS_DIR / "testdata01.txt").exists():
        pytest.skip("PAS anchors not present")
    res = mod.main(["--quick", "--json", "--time-limit", "3", "--results-dir", str(tmp_path / "results")])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert json.loads(lines[-1]) == json.loads(json.dumps(res))
    (row,) = res["rows"]
    assert {"instance", "cost", "best_known", "gap", "validated", "seconds"} <= set(row)
    assert row["instance"] == "testdata01" and row["validated"] is True and row["cost"] <= row["greedy_cost"]
    assert mod.parse_instances("1-3,13") == ["testdata01", "testdata02", "testdata03", "testdata13"]


def test_busy_morning_on_the_demo(demo_ws, tmp_path, capsys):
    mod = load_benchmark("beds_ihtc")
    res = mod.main(["--instances", "none", "--demo", str(demo_ws), "--demo-next-hours", "4", "--json",
                    "--results-dir", str(tmp_path / "results")])
    bm = res["busy_morning"]
    assert res["rows"] == [] and bm["waiting"] > 0 and bm["hard_violations"] == 0
    assert bm["validated_objective"] == bm["objective"] and bm["status"] in ("OPTIMAL", "FEASIBLE")
