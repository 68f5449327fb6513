"""Rolling-origin backtest on a short series, its metrics on hand-made numbers, and selection."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datasets.errors import Cancelled, HospOpsError
from forecasting.backtest import add_ensemble, cross_validation, cutoffs_for, metrics, seasonal_scale, select_best
from forecasting.models import ETS, CountGLM, SeasonalNaive


def series(n=84, seed=2):
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=n, freq="D")
    return pd.DataFrame({"unique_id": "s", "ds": ds, "y": rng.poisson(20 + 10 * (ds.day_of_week < 5)).astype(float)})


def test_cross_validation_table_and_no_leakage():
    y = series()
    cv = cross_validation([SeasonalNaive(), CountGLM("negbin")], y, horizon=7, n_windows=3,
                          quantiles=[0.1, 0.5, 0.9])
    assert set(cv["model"]) == {"seasonal_naive", "glm_negbin"}
    assert len(cv) == 2 * 3 * 7
    assert {"cutoff", "ds", "step", "y", "mean", "q0.1", "q0.5", "q0.9"} <= set(cv.columns)
    assert (cv["ds"] > cv["cutoff"]).all()
    assert sorted(cv["cutoff"].unique()) == list(y["ds"].iloc[[62, 69, 76]])
    # the actuals are the series' values at those times
    merged = cv.merge(y, on="ds", suffixes=("", "_true"))
    assert np.array_equal(merged["y"], merged["y_true"])
    # the seasonal naive at each origin repeats the week before the cutoff: no peeking at the future
    sn = cv[(cv["model"] == "seasonal_naive") & (cv["cutoff"] == y["ds"].iloc[62])]
    assert np.array_equal(sn["mean"].to_numpy(), y["y"].to_numpy()[56:63])


def test_refit_every_reuses_the_fit_without_new_data():
    y = series()
    cv = cross_validation([SeasonalNaive()], y, horizon=7, n_windows=2, refit_every=2)
    first, second = (g["mean"].to_numpy() for _, g in cv.groupby("cutoff"))
    assert np.array_equal(first, second)  # the second origin uses the first fit, forecasting further ahead


def test_metrics_by_hand():
    cv = pd.DataFrame({
        "model": "m", "cutoff": pd.Timestamp("2024-01-01"), "ds": pd.date_range("2024-01-02", periods=4),
        "step": [1, 2, 3, 4], "y": [1.0, 2.0, 3.0, 4.0], "mean": [2.0, 2.0, 2.0, 2.0],
        "q0.1": [0.0, 0.0, 0.0, 0.0], "q0.5": [2.0, 2.0, 2.0, 2.0], "q0.9": [3.0, 3.0, 3.0, 3.0],
    })
    t = metrics(cv, scale=2.0, levels=[80]).iloc[0]
    assert t["mae"] == pytest.approx(1.0)
    assert t["rmse"] == pytest.approx(np.sqrt(1.5))
    assert t["mase"] == pytest.approx(0.5)
    # pinball: q0.1: 0.1*(1+2+3+4)/4 = 0.25; q0.5: 0.5*(1+0+1+2)... computed per observation
    lv = np.array([0.1, 0.5, 0.9])
    Q = cv[["q0.1", "q0.5", "q0.9"]].to_numpy()
    d = cv["y"].to_numpy()[:, None] - Q
    assert t["pinball"] == pytest.approx(np.mean(np.where(d >= 0, lv * d, (lv - 1) * d)))
    assert t["coverage_80"] == pytest.approx(0.75)  # 4 is above q0.9 = 3
    # strict "below": q0.1 has 0 below (nominal .1), q0.5 has 1 of 4 (.25 vs .5), q0.9 has 2 of 4
    assert t["quantile_bias"] == pytest.approx((0.1 + 0.25 + 0.4) / 3)


def test_ensemble_is_the_average_of_members():
    y = series()
    cv = cross_validation([SeasonalNaive(), ETS()], y, horizon=5, n_windows=2, quantiles=[0.5])
    cv = add_ensemble(cv, ["seasonal_naive", "ets"])
    e = cv[cv["model"] == "ensemble"].sort_values(["cutoff", "ds"])["mean"].to_numpy()
    a = cv[cv["model"] == "seasonal_naive"].sort_values(["cutoff", "ds"])["mean"].to_numpy()
    b = cv[cv["model"] == "ets"].sort_values(["cutoff", "ds"])["mean"].to_numpy()
    assert np.allclose(e, (a + b) / 2)


def test_selection_picks_lowest_pinball():
    t = pd.DataFrame({"model": ["a", "b", "c"], "mae": [1.0, 2.0, 0.5], "pinball": [0.3, 0.2, np.nan]})
    assert select_best(t) == "b"
    assert select_best(t, by="mae") == "c"


def test_seasonal_scale_and_short_series():
    assert seasonal_scale(np.array([1.0, 2, 3, 4, 5, 6, 7, 3, 5]), 7) == pytest.approx(2.5)
    with pytest.raises(HospOpsError, match="too short"):
        cutoffs_for(10, horizon=10, n_windows=2)


def test_cancel_stops_the_backtest():
    calls = []

    def progress(f, msg):
        calls.append(f)

    with pytest.raises(Cancelled):
        cross_validation([SeasonalNaive()], series(), 7, n_windows=3, progress=progress,
                         should_stop=lambda: len(calls) >= 1)
    assert calls == [0.0]
