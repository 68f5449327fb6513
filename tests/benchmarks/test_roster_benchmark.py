"""benchmarks/roster_curtois.py runs end to end at a tiny size. No timing thresholds, ever."""
from __future__ import annotations

import json

import pytest

from bench_helpers import BENCH, load_benchmark

CURTOIS = BENCH.parents[1] / "shared" / "anchors" / "rostering" / "curtois_qu_instances1_24"


@pytest.mark.skipif(not (CURTOIS / "Instance1.txt").exists(), reason="Curtois-Qu instances not present")
def test_roster_curtois_tiny(tmp_path, capsys):
    mod = load_benchmark("roster_curtois")
    res = mod.main(["--quick", "--json", "--instances", "1", "--time-limit", "10", "--workers", "2",
                    "--results-dir", str(tmp_path / "results")])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert json.loads(lines[-1]) == json.loads(json.dumps(res))
    (row,) = res["rows"]
    for key in ("instance", "objective", "best_known", "gap", "validated", "seconds"):
        assert key in row, key
    assert row["instance"] == "Instance1" and row["best_known"] == 607
    assert row["objective"] == 607 and row["gap"] == 0 and row["validated"] is True
    saved = json.loads((tmp_path / "results" / "roster_curtois.quick.json").read_text())
    assert saved["rows"] == res["rows"] and saved["quick"] is True
    assert mod.parse_instances("1-3,8") == [1, 2, 3, 8]


INRC = CURTOIS.parent / "inrc1_2010_txt"


@pytest.mark.skipif(not (INRC / "sprint01.txt").exists(), reason="INRC-I instances not present")
def test_roster_inrc_tiny(tmp_path, capsys):
    mod = load_benchmark("roster_inrc")
    res = mod.main(["--quick", "--json", "--time-limit", "3", "--results-dir", str(tmp_path / "results")])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert json.loads(lines[-1]) == json.loads(json.dumps(res))
    (row,) = res["rows"]
    for key in ("instance", "objective", "best_known", "gap", "validated", "seconds"):
        assert key in row, key
    assert row["instance"] == "sprint01" and row["best_known"] == 56
    assert row["validated"] is True and row["objective"] >= 56
    assert mod.parse_instances("sprint01-03,medium_late02") == ["sprint01", "sprint02", "sprint03", "medium_late02"]


def test_roster_demo_tiny(tmp_path, capsys):
    # the demo hospital's ward roster against the plain cell model: both hard-feasible, the validator agreeing
    mod = load_benchmark("roster_demo")
    res = mod.main(["--quick", "--json", "--days", "7", "--time-limit", "3", "--data-dir", str(tmp_path / "data"),
                    "--results-dir", str(tmp_path / "results")])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert json.loads(lines[-1]) == json.loads(json.dumps(res))
    (row,) = res["rows"]
    assert row["unit"] == "M3" and row["days"] == 7 and row["staff"] > 20
    assert row["hard"] == 0 and row["validated"] is True and row["baseline_hard"] == 0
    assert row["objective"] is not None and row["baseline_objective"] is not None
    assert row["ratio"] == round(row["objective"] / row["baseline_objective"], 3)
    assert not list((tmp_path / "data").iterdir()), "the scratch workspace is removed"
