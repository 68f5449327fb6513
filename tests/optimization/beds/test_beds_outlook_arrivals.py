"""The occupancy outlook with the admissions forecast as the arrivals source (datasets.metrics.beds;
the default stays the recent weeks' hourly rates, see BENCHMARKS.md)."""
from __future__ import annotations

import pytest

from datasets.errors import HospOpsError
from datasets.metrics.beds import expected_arrivals, outlook
from datasets.store import Workspace

T = "2026-11-16 09:00"


@pytest.fixture(scope="module")
def demo(demo_ws):
    with Workspace.open(demo_ws, read_only=True) as ws:
        yield ws


def test_outlook_with_forecast_arrivals(demo):
    hist = expected_arrivals(demo, T, 24, "history")
    fc = expected_arrivals(demo, T, 24, "forecast")
    assert set(fc) >= {u for u, a in hist.items() if a.sum() > 0}
    tot_h, tot_f = sum(a.sum() for a in hist.values()), sum(a.sum() for a in fc.values())
    assert 0.5 * tot_h < tot_f < 2 * tot_h  # the same hospital, seen two ways
    df = outlook(demo, T, hours=24, arrivals="forecast")
    assert len(df) == 24 * df["unit_id"].nunique() and (df["lo80"] <= df["expected"]).all()
    with pytest.raises(HospOpsError, match="arrivals"):
        outlook(demo, T, hours=24, arrivals="nope")
