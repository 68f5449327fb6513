"""benchmarks/app_startup.py and ui_latency.py run end to end at a tiny size and report their keys.

No timing thresholds here: the figures belong in benchmarks/results/ and BENCHMARKS.md.
"""
from __future__ import annotations

import json

import pytest

from bench_helpers import load_benchmark

pytest.importorskip("PySide6")


def _last_json(capsys):
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    return json.loads(lines[-1])


def test_app_startup_tiny(tmp_path, capsys):
    res = load_benchmark("app_startup").main(["--quick", "--json", "--days", "30", "--repeats", "1",
                                     "--data-dir", str(tmp_path / "d"), "--results-dir", str(tmp_path / "r")])
    assert _last_json(capsys) == json.loads(json.dumps(res))
    assert res["hospops_s"] > 0 and res["bare_qt_s"] > 0 and res["hospops_loaded_s"] >= res["hospops_s"]
    assert (tmp_path / "r" / "app_startup.quick.json").exists()


def test_ui_latency_tiny(tmp_path, capsys):
    res = load_benchmark("ui_latency").main(["--quick", "--json", "--days", "30", "--solve-s", "2",
                                    "--data-dir", str(tmp_path / "d"), "--results-dir", str(tmp_path / "r")])
    assert _last_json(capsys) == json.loads(json.dumps(res))
    assert res["completed"] is True, "both jobs (roster solve, forecast backtest) must finish"
    assert res["ticks"] > 50 and res["max_stall_ms"] >= 0 and res["plot_max_frame_ms"] > 0
