"""The forecasting benchmarks run end to end at a tiny size and report the keys ARCHITECTURE.md lists.

No timing thresholds here, ever: timings belong in benchmarks/results/, not in pass/fail.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench_helpers import load_benchmark

ANCHORS = Path(__file__).resolve().parents[3] / "shared" / "anchors"


def _last_json(out: str) -> dict:
    lines = [line for line in out.splitlines() if line.strip()]
    return json.loads(lines[-1])


needs_wales = pytest.mark.skipif(not (ANCHORS / "ed_arrivals" / "uk_wales_hourly_rostamitabar2023").exists(),
                                 reason="Wales anchor data not present")
needs_supply = pytest.mark.skipif(not (ANCHORS / "supply_demand" / "expsmooth_hyndman2008").exists(),
                                  reason="supply anchor data not present")


@needs_wales
def test_ed_wales_hourly_tiny(tmp_path, capsys):
    mod = load_benchmark("ed_wales_hourly")
    res = mod.main(["--quick", "--json", "--max-origins", "2", "--models", "benchmark2,glm_negbin_adapt",
                    "--results-dir", str(tmp_path)])
    assert _last_json(capsys.readouterr().out) == json.loads(json.dumps(res))
    assert res["origins"] == 2 and len(res["published"]) == 14
    assert [r["model"] for r in res["rows"]] == ["benchmark2", "glm_negbin_adapt"]
    for r in res["rows"]:
        assert {"model", "pinball", "quantile_bias", "abs_mean_error", "seconds"} <= set(r)
        assert 0 < r["pinball"] < 5 and 0 <= r["quantile_bias"] < 0.5
    assert json.loads((tmp_path / "ed_wales_hourly.quick.json").read_text())["quick"] is True


@needs_wales
def test_wales_protocol_issue_times():
    mod = load_benchmark("ed_wales_hourly")
    full = mod.origins(mod.TEST, quick=False)
    assert len(full) == 725 and full[0].hour == 0 and full[1].hour == 12
    assert str(full[-1]) == "2019-02-26 00:00:00+00:00"
    assert all(t.hour in (0, 12) for t in full)  # local time, across both clock changes
    assert mod.origins(mod.TEST, quick=True) == full[::7]


@needs_wales
def test_wales_score_strict_below():
    import numpy as np

    mod = load_benchmark("ed_wales_hourly")
    y = np.array([3.0, 5.0])
    q = np.tile(np.arange(1, 20, dtype=float) * 0 + 5.0, (2, 1))  # every quantile at 5
    s = mod.score(q, np.array([4.0, 4.0]), y)
    # strictly below 5: only the 3 -> empirical 0.5 at every level
    assert s["quantile_bias"] == pytest.approx(np.mean(np.abs(np.array(mod.QUANTILES) - 0.5)))
    assert s["abs_mean_error"] == pytest.approx(0.0)


@needs_wales
def test_ed_wales_daily_tiny(tmp_path, capsys):
    mod = load_benchmark("ed_wales_daily")
    res = mod.main(["--quick", "--json", "--max-origins", "2", "--models", "seasonal_naive,glm_negbin",
                    "--results-dir", str(tmp_path)])
    assert _last_json(capsys.readouterr().out) == json.loads(json.dumps(res))
    assert [r["model"] for r in res["rows"]] == ["seasonal_naive", "glm_negbin"]
    assert all(r["mase"] > 0 for r in res["rows"])


@needs_supply
def test_supply_monthly_tiny(tmp_path, capsys):
    mod = load_benchmark("supply_monthly")
    res = mod.main(["--quick", "--json", "--limit", "8", "--models", "seasonal_naive,zero,tsb",
                    "--results-dir", str(tmp_path)])
    assert _last_json(capsys.readouterr().out) == json.loads(json.dumps(res))
    rows = {(r["dataset"], r["model"]): r for r in res["rows"]}
    assert len(rows) == 6
    for r in rows.values():
        assert {"dataset", "model", "mase", "wql", "seconds"} <= set(r)
    # all-zero quantiles lose q*y at level q: WQL = mean over q of 2q = 1 exactly, on any data
    assert rows[("carparts", "zero")]["wql"] == pytest.approx(1.0)
    assert rows[("hospital", "zero")]["wql"] == pytest.approx(1.0)


def test_demo_intervals_quick(tmp_path, capsys):
    mod = load_benchmark("demo_intervals")
    res = mod.main(["--quick", "--json", "--days", "400", "--max-origins", "2", "--models",
                    "seasonal_naive,glm_negbin", "--results-dir", str(tmp_path), "--data-dir", str(tmp_path)])
    assert _last_json(capsys.readouterr().out) == json.loads(json.dumps(res))
    rows = {(r["series"], r["model"]): r for r in res["rows"]}
    assert set(rows) == {(s, m) for s in ("ed_arrivals_hourly", "ed_arrivals_daily")
                         for m in ("seasonal_naive", "glm_negbin")}
    assert rows[("ed_arrivals_hourly", "glm_negbin")]["n"] == 2 * 48
    assert rows[("ed_arrivals_daily", "glm_negbin")]["n"] == 2 * 28
    for r in rows.values():
        assert 0 <= r["coverage_80"] <= r["coverage_95"] <= 1 and isinstance(r["within_3_points"], bool)
    assert json.loads((tmp_path / "demo_intervals.quick.json").read_text())["quick"] is True


def test_demo_interval_origins_are_local_midnights():
    import pandas as pd

    mod = load_benchmark("demo_intervals")
    ds = pd.date_range("2025-01-01", "2026-03-31 23:00", freq="h")
    df = pd.DataFrame({"ds": ds, "y": 1.0})
    pos = mod.origins_for(df, "h", 48, 24)
    assert all(ds[p + 1].hour == 0 for p in pos)
    assert ds[pos[0] + 1] == pd.Timestamp("2025-04-01") and pos[-1] + 48 < len(ds)
    dd = pd.DataFrame({"ds": pd.date_range("2024-01-01", "2025-12-31", freq="D"), "y": 1.0})
    dpos = mod.origins_for(dd, "D", 28, 1)
    assert len(dpos) == 365 - 28 + 1 and dd["ds"][dpos[0] + 1] == pd.Timestamp("2025-01-01")


def test_supply_reorder_tiny(tmp_path, capsys):
    """Reorder points against the use that followed, ours and the baseline's, on the same origins."""
    mod = load_benchmark("supply_reorder")
    res = mod.main(["--json", "--days", "150", "--every", "80", "--data-dir", str(tmp_path),
                    "--results-dir", str(tmp_path / "results")])
    assert {r["rule"] for r in res["rows"]} == {"ours", "baseline"}
    assert all(0 <= r["coverage"] <= 1 and r["n"] > 0 for r in res["rows"])
    assert set(res["mean_abs_points_off"]) == {"ours", "baseline"}
    assert json.loads((tmp_path / "results" / "supply_reorder.json").read_text())["lead_time_days"] == 7
