"""The models added for the monthly supply-demand panels: the shrunk-seasonal level (hospital products) and the
pooled negative binomial's interaction terms (car parts)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datasets.errors import HospOpsError
from forecasting.base import NormalDist, QuantileAverage
from forecasting.intermittent import PooledNB
from forecasting.models import ShrunkSeasonal, shrunk_seasonal_index
from panels import intermittent_panel

QS = [0.1, 0.25, 0.5, 0.75, 0.9]


def _monthly(months=72, amp=0.3, level=40.0, seed=0):
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2000-01-01", periods=months, freq="MS")
    season = 1 + amp * np.sin(2 * np.pi * np.arange(months) / 12)
    return pd.DataFrame({"ds": ds, "y": rng.poisson(level * season).astype(float)})


def test_shrunk_index_keeps_a_clear_season_and_drops_noise():
    clear = _monthly(amp=0.4, level=400.0)["y"].to_numpy()
    idx, f = shrunk_seasonal_index(clear, 12)
    assert f > 0.9 and idx.shape == (12,)
    assert abs(idx.mean() - 1) < 0.05
    # slot j is the j-th month after the end (72 months end in December: slot 0 is January, sin = 0;
    # slot 3 is April, near the peak of the sine)
    assert idx[3] > 1.25 and idx[9] < 0.75
    noise = _monthly(amp=0.0, level=15.0, seed=4)["y"].to_numpy()
    idx0, f0 = shrunk_seasonal_index(noise, 12)
    assert f0 < 0.5 and np.abs(idx0 - 1).max() < np.abs(noise.reshape(6, 12).mean(0) / noise.mean() - 1).max()
    # fewer than two seasons, or a non-positive season mean: flat
    assert np.array_equal(shrunk_seasonal_index(clear[:20], 12)[0], np.ones(12))
    assert shrunk_seasonal_index(np.r_[np.zeros(12), clear[:24]], 12)[1] == 0.0


def test_shrunk_seasonal_contract():
    df = _monthly()
    m = ShrunkSeasonal(freq="MS").fit(df)
    d = m.predict_dist(12)
    assert isinstance(d, NormalDist) and d.mean.shape == (12,)
    assert np.all(d.mean >= 0) and np.all(d.sd >= 0)
    # the forecast follows the season and sits near the level
    assert d.mean[3] > d.mean[9]
    assert 30 < d.mean.mean() < 50
    q = m.predict_quantiles(12, QS)
    vals = q[[f"q{x:g}" for x in QS]].to_numpy()
    assert np.all(vals >= 0) and np.all(np.diff(vals, axis=1) >= 0)
    assert list(q["ds"]) == list(pd.date_range("2006-01-01", periods=12, freq="MS"))
    p = m.predict(12)
    assert np.all(p["lo-95"] <= p["lo-80"]) and np.all(p["lo-80"] <= p["mean"]) and np.all(p["hi-95"] >= p["hi-80"])
    # the spread widens with the horizon relative to the level (the smoothing's error growth)
    rel = d.sd / d.mean
    assert rel[-1] > rel[0]
    # missing months are interpolated; quantiles of a near-zero series never go negative
    gap = df.copy()
    gap.loc[[5, 30, 31], "y"] = np.nan
    assert np.all(np.isfinite(ShrunkSeasonal(freq="MS").fit(gap).predict_dist(12).mean))
    low = df.assign(y=np.r_[np.ones(60), np.zeros(12)])
    assert np.all(ShrunkSeasonal(freq="MS").fit(low).predict_dist(6).quantile([0.05, 0.5]) >= 0)
    # a month that is always zero: its index is zero and nothing else blows up
    shut = df.copy()
    shut.loc[shut["ds"].dt.month == 8, "y"] = 0.0
    sd = ShrunkSeasonal(freq="MS").fit(shut).predict_dist(12)
    assert np.all(np.isfinite(sd.quantile(QS))) and sd.mean[7] < 0.2 * sd.mean.mean()
    # a short history has no season, only a level
    short = ShrunkSeasonal(freq="MS").fit(df.iloc[:15])
    assert short.shrink_ == 0.0 and np.allclose(short.predict_dist(12).mean, short.level_)
    with pytest.raises(HospOpsError):
        ShrunkSeasonal(halflife=0)
    with pytest.raises(HospOpsError):
        ShrunkSeasonal(freq="MS").predict_dist(3)


def test_shrunk_seasonal_other_frequencies_and_ensembles():
    ds = pd.date_range("2024-01-01", periods=8 * 7, freq="D")
    rng = np.random.default_rng(1)
    y = rng.poisson(np.where(ds.day_of_week >= 5, 60, 100)).astype(float)
    m = ShrunkSeasonal(freq="D").fit(pd.DataFrame({"ds": ds, "y": y}))
    fut = m.predict(7)
    assert m.m_ == 7 and len(fut) == 7
    weekend = pd.DatetimeIndex(fut["ds"]).day_of_week >= 5
    assert fut["mean"][weekend].mean() < fut["mean"][~weekend].mean()
    other = ShrunkSeasonal(freq="D", halflife=10).fit(pd.DataFrame({"ds": ds, "y": y}))
    avg = QuantileAverage([m.predict_dist(7), other.predict_dist(7)]).quantile(QS)
    assert np.all(np.diff(avg, axis=1) >= 0)


def test_pooled_nb_interactions():
    df = intermittent_panel(100, 60, 5, 9, 4, "p")
    base = PooledNB(horizon=12).fit(df)
    assert base.alias == "pooled_nb" and base._design(np.ones((2, 9))).shape == (2, 9)
    m = PooledNB(horizon=12, interactions=True).fit(df)
    assert m.alias == "pooled_nb_x" and len(m.beta_) == 9 + 5 + 2
    dists = m.predict_dist(12)
    assert set(dists) == set(df["unique_id"])
    for d in dists.values():
        q = d.quantile(QS)
        assert q.shape == (12, len(QS)) and np.all(q >= 0) and np.all(q == np.round(q))
        assert np.all(np.diff(q, axis=1) >= 0) and np.all(d.mean >= 0)
    busy = df.groupby("unique_id")["y"].apply(lambda s: s.iloc[-12:].mean()).sort_values()
    assert dists[busy.index[-1]].mean.sum() > dists[busy.index[0]].mean.sum()
