"""The benchmarks run end to end at a tiny size: right keys, books that add up, the same answer.

No timing thresholds here, ever: timings belong in benchmarks/results/, not in pass/fail.
"""
from __future__ import annotations

import json

from bench_helpers import load_benchmark


def _last_json_line(out: str) -> dict:
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines, "no output on stdout"
    return json.loads(lines[-1])


def test_import_speed_tiny(tmp_path, capsys):
    mod = load_benchmark("import_speed")
    res = mod.main(
        ["--quick", "--json", "--rows", "5000", "--data-dir", str(tmp_path / "data"),
         "--results-dir", str(tmp_path / "results")]
    )
    printed = _last_json_line(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(res))
    for key in ("rows", "hospops_s", "duckdb_s", "pandas_s", "pandas_pyarrow_s", "ratio_vs_duckdb"):
        assert key in res, key
    assert res["rows"] == 5000
    assert all(isinstance(res[k], (int, float)) and res[k] > 0 for k in ("hospops_s", "duckdb_s", "pandas_s"))
    # the validated import's books: every row read is loaded or rejected, and exactly the planted bad
    # rows are rejected, each on its own line with the expected reason
    assert res["read"] == res["loaded"] + res["rejected"] == 5000
    assert res["rejected"] == res["bad_planted"] == sum(res["bad_by_kind"].values()) > 0
    assert res["books_ok"] and res["rejects_ok"]
    assert res["duckdb_rows"] == res["pandas_rows"] == res["pandas_pyarrow_rows"] == 5000
    # quick runs write NAME.quick.json
    saved = json.loads((tmp_path / "results" / "import_speed.quick.json").read_text())
    assert saved["rows"] == 5000 and saved["quick"] is True


def test_import_speed_data_is_deterministic_and_cached(tmp_path):
    mod = load_benchmark("import_speed")
    p1, bad1, lines1 = mod.generate(3000, tmp_path / "a")
    p2, bad2, lines2 = mod.generate(3000, tmp_path / "b")
    assert p1.read_bytes() == p2.read_bytes()
    assert bad1 == bad2 and lines1 == lines2
    mtime = p1.stat().st_mtime_ns
    p3, _, _ = mod.generate(3000, tmp_path / "a")  # cached: not rewritten
    assert p3 == p1 and p1.stat().st_mtime_ns == mtime
    header = p1.read_text().splitlines()[0].replace('"', "")
    assert header.split(",") == mod.COLUMNS


def test_census_speed_tiny(tmp_path, capsys):
    mod = load_benchmark("census_speed")
    res = mod.main(
        ["--quick", "--json", "--stays", "3000", "--days", "30", "--data-dir", str(tmp_path / "data"),
         "--results-dir", str(tmp_path / "results")]
    )
    printed = _last_json_line(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(res))
    for key in ("stays", "hospops_s", "pandas_s", "same_answer", "speedup"):
        assert key in res, key
    assert res["stays"] == 3000
    assert res["same_answer"] is True
    assert res["hours_all_one"] is True
    assert res["open_movements"] > 0  # open stays at the end of the data are part of the check
    saved = json.loads((tmp_path / "results" / "census_speed.quick.json").read_text())
    assert saved["same_answer"] is True and saved["quick"] is True


def test_census_reference_matches_view_on_a_hand_made_case(tmp_path):
    """The pandas reference itself, on movements small enough to count by hand."""
    import pandas as pd

    mod = load_benchmark("census_speed")
    mv = pd.DataFrame(
        {
            "unit_id": ["A", "A", "B"],
            "in_ts": pd.to_datetime(["2024-01-01 00:30", "2024-01-01 01:00", "2024-01-01 00:00"]),
            "out_ts": pd.to_datetime(["2024-01-01 02:00", "2024-01-01 01:10", None]),
        }
    )
    got = mod.census_pandas(mv)
    # grid: 2024-01-01 00:00 .. 02:00 (the last event, 02:00); open stay in B counts to the end
    want = {
        ("A", "2024-01-01 00:00"): 0,
        ("A", "2024-01-01 01:00"): 2,
        ("A", "2024-01-01 02:00"): 0,
        ("B", "2024-01-01 00:00"): 1,
        ("B", "2024-01-01 01:00"): 1,
        ("B", "2024-01-01 02:00"): 1,
    }
    assert {(r.unit_id, r.ds.strftime("%Y-%m-%d %H:%M")): r.census for r in got.itertuples()} == want
