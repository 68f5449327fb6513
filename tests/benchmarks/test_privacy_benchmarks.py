"""The privacy benchmark runs end to end at a tiny size: right keys, the same answer, books that add up.

No timing thresholds here, ever: timings belong in benchmarks/results/, not in pass/fail.
"""
from __future__ import annotations

import json

from bench_helpers import load_benchmark


def test_import_encrypted_tiny(tmp_path, capsys):
    mod = load_benchmark("import_encrypted")
    res = mod.main(["--quick", "--json", "--rows", "3000", "--no-hostile", "--data-dir", str(tmp_path / "data"),
                    "--results-dir", str(tmp_path / "results")])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert json.loads(lines[-1]) == json.loads(json.dumps(res))
    for key in ("rows", "plain_s", "encrypted_s", "ratio", "times", "same_answer", "books_ok"):
        assert key in res, key
    assert res["rows"] == 3000 and res["repeats"] == 1
    assert res["plain_s"] > 0 and res["encrypted_s"] > 0
    assert res["ratio"] == round(res["encrypted_s"] / res["plain_s"], 3) or abs(
        res["ratio"] - res["encrypted_s"] / res["plain_s"]) < 0.01
    # both workspaces hold the same rows and rejects (pseudonyms apart), every row loaded or rejected
    assert res["same_answer"] and res["books_ok"]
    assert res["loaded"] + res["rejected"] == 3000 and res["rejected"] == res["bad_planted"] > 0
    assert "hostile" not in res
    saved = json.loads((tmp_path / "results" / "import_encrypted.quick.json").read_text())
    assert saved["rows"] == 3000 and saved["quick"] is True
    # the scratch workspaces are gone
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.startswith("import_encrypted_")]


def test_hostile_outcome_report_from_a_real_run_of_one_hostile_test():
    """The summary counts what the tests' collector recorded (one fixed test: a CSV and an NDJSON file)."""
    mod = load_benchmark("import_encrypted")
    out = mod.run_hostile(select="a_field_longer_than_the_reader_allows")
    assert out["tests_passed"], out
    assert "1 passed" in out["pytest_summary"]
    assert out["tried"] == 2 == sum(out["outcomes"].values())
    assert {fmt: c["tried"] for fmt, c in out["by_importer"].items()} == {"csv": 1, "fhir": 1}
    assert out["by_importer"]["csv"]["refused"] == 1  # a 3 MB line: refused with a message
