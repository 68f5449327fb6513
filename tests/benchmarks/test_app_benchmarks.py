"""benchmarks/app_startup.py and ui_latency.py run end to end at a tiny size and report their keys.

No timing thresholds here: the figures belong in benchmarks/results/ and BENCHMARKS.md.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCH / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _last_json(capsys):
    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    return json.loads(lines[-1])


def test_app_startup_tiny(tmp_path, capsys):
    res = _load("app_startup").main(["--quick", "--json", "--days", "30", "--repeats", "1",
                                     "--data-dir", str(tmp_path / "d"), "--results-dir", str(tmp_path / "r")])
    assert _last_json(capsys) == json.loads(json.dumps(res))
    assert res["hospops_s"] > 0 and res["bare_qt_s"] > 0 and res["hospops_loaded_s"] >= res["hospops_s"]
    assert (tmp_path / "r" / "app_startup.quick.json").exists()


def test_ui_latency_tiny(tmp_path, capsys):
    res = _load("ui_latency").main(["--quick", "--json", "--days", "30", "--solve-s", "2",
                                    "--data-dir", str(tmp_path / "d"), "--results-dir", str(tmp_path / "r")])
    assert _last_json(capsys) == json.loads(json.dumps(res))
    assert res["completed"] is True, "both jobs (roster solve, forecast backtest) must finish"
    assert res["ticks"] > 50 and res["max_stall_ms"] >= 0 and res["plot_max_frame_ms"] > 0
