"""benchmarks/demo_build.py runs end to end at a tiny size and reports the right keys.

No timing thresholds here, ever: timings belong in benchmarks/results/, not in pass/fail.
"""
from __future__ import annotations

import json

from bench_helpers import load_benchmark


def test_demo_build_tiny(tmp_path, capsys):
    mod = load_benchmark("demo_build")
    res = mod.main(
        ["--quick", "--json", "--days", "30", "--data-dir", str(tmp_path / "data"),
         "--results-dir", str(tmp_path / "results")]
    )
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert lines, "no output on stdout"
    assert json.loads(lines[-1]) == json.loads(json.dumps(res))
    for key in ("days", "seconds", "baseline_s", "ratio_vs_bare_write", "rows"):
        assert key in res, key
    assert res["days"] == 30 and res["quick"] is True
    assert all(isinstance(res[k], (int, float)) and res[k] > 0 for k in ("seconds", "baseline_s", "ratio_vs_bare_write"))
    for table in mod.BASELINE_TABLES:
        assert res["rows"][table] > 0, table
    assert res["baseline_rows"] == sum(res["rows"][t] for t in mod.BASELINE_TABLES)
    saved = json.loads((tmp_path / "results" / "demo_build.quick.json").read_text())
    assert saved["days"] == 30 and saved["quick"] is True
    # scratch databases are cleaned up
    assert not any((tmp_path / "data").rglob("*.hospops*"))
