"""The count models' options added for the benchmarks: discrete count quantiles, weighted and recency-weighted
fits, per-hour dispersion, and the pooled negative binomial for panels of intermittent series."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from datasets.errors import HospOpsError
from forecasting.base import CountDist, QuantileAverage
from forecasting.intermittent import PooledNB
from forecasting.models import CountGLM, poisson_irls
from panels import intermittent_panel


def test_discrete_count_quantiles_are_the_counts_own():
    qs = np.array([0.1, 0.3, 0.5, 0.7, 0.9])
    d = CountDist(np.array([0.4, 3.0]), 0.8, discrete=True)
    q = d.quantile(qs)
    n = 1 / 0.8
    for i, mu in enumerate((0.4, 3.0)):
        assert np.array_equal(q[i], stats.nbinom(n, n / (n + mu)).ppf(qs))
    assert np.all(q == np.round(q)) and np.all(np.diff(q, axis=1) >= 0)
    # the continuous version lies within half a count of it and has no step at the zero mass
    c = CountDist(np.array([0.4, 3.0]), 0.8).quantile(qs)
    assert np.all(np.abs(c - q) <= 0.5 + 1e-9)


def test_count_dist_takes_one_dispersion_per_step():
    mu = np.array([2.0, 2.0, 10.0])
    d = CountDist(mu, np.array([0.0, 0.5, 0.1]))
    q = d.quantile([0.05, 0.5, 0.95])
    assert q.shape == (3, 3)
    assert q[1, 2] - q[1, 0] > q[0, 2] - q[0, 0]  # more dispersion, wider
    same = CountDist(mu[1:2], 0.5).quantile([0.05, 0.5, 0.95])
    assert np.allclose(q[1], same[0])


def test_weighted_irls_equals_repeated_rows():
    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(300), rng.normal(size=300)])
    y = rng.poisson(np.exp(0.5 + 0.3 * X[:, 1])).astype(float)
    w = rng.integers(1, 4, size=300).astype(float)
    rep = np.repeat(np.arange(300), w.astype(int))
    a = poisson_irls(X, y, np.zeros(300), weights=w)
    b = poisson_irls(X[rep], y[rep], np.zeros(len(rep)))
    assert np.allclose(a, b, atol=1e-6)
    assert np.allclose(poisson_irls(X, y, np.zeros(300), weights=np.ones(300)), poisson_irls(X, y, np.zeros(300)))


def _hourly(days=120, seed=5):
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=24 * days, freq="h")
    hour = ds.hour.to_numpy()
    mu = 3 + 8 * ((hour >= 9) & (hour < 21))
    # extra-Poisson spread in the busy hours only (gamma-mixed), Poisson at night
    lam = np.where(mu > 5, rng.gamma(4.0, mu / 4.0), mu)
    return pd.DataFrame({"unique_id": "ed", "ds": ds, "y": rng.poisson(lam).astype(float)})


def test_dispersion_by_hour_of_day():
    df = _hourly()
    m = CountGLM("negbin", alpha_by="hour", trend=False).fit(df)
    night, day = m.alpha_hod_[[2, 3, 4]].mean(), m.alpha_hod_[[12, 13, 14]].mean()
    assert day > 0.1 and night < 0.05
    f = m.predict(48)
    assert (f["lo-95"] <= f["mean"]).all() and (f["mean"] <= f["hi-95"]).all() and (f["lo-95"] >= 0).all()
    # a busy hour's band is wider than with one shared dispersion; a night hour's narrower
    one = CountGLM("negbin", trend=False).fit(df).predict(48)
    noon, three = f.index[f["ds"].dt.hour == 12][0], f.index[f["ds"].dt.hour == 3][0]
    assert f.loc[noon, "hi-95"] - f.loc[noon, "lo-95"] > one.loc[noon, "hi-95"] - one.loc[noon, "lo-95"]
    assert f.loc[three, "hi-95"] - f.loc[three, "lo-95"] <= one.loc[three, "hi-95"] - one.loc[three, "lo-95"]
    with pytest.raises(HospOpsError, match="dispersion grouping"):
        CountGLM("negbin", alpha_by="weekday")


def test_recency_weighted_fit_follows_a_level_shift():
    df = _hourly(days=120)
    df.loc[df.index >= 24 * 100, "y"] *= 2  # the last 20 days run at twice the level
    plain = CountGLM("negbin", trend=False).fit(df).predict(24)["mean"].sum()
    recent = CountGLM("negbin", trend=False, halflife_days=7).fit(df).predict(24)["mean"].sum()
    last_day = df["y"].iloc[-24 * 7:].sum() / 7
    assert abs(recent - last_day) < abs(plain - last_day)


def test_pooled_nb_panel_forecasts():
    df = intermittent_panel()
    m = PooledNB(horizon=12).fit(df)
    dists = m.predict_dist(12)
    assert set(dists) == set(df["unique_id"])
    busy = df.groupby("unique_id")["y"].apply(lambda s: s.iloc[-12:].mean()).sort_values()
    lo, hi = dists[busy.index[0]], dists[busy.index[-1]]
    assert hi.mean.sum() > lo.mean.sum()
    for d in dists.values():
        q = d.quantile([0.1, 0.5, 0.9])
        assert q.shape == (12, 3) and np.all(q >= 0) and np.all(q == np.round(q)) and np.all(np.diff(q, axis=1) >= 0)
        assert np.all(d.mean >= 0)
    assert np.all(m.alpha_ >= 0) and len(m.alpha_) == len(m.edges_) + 1
    # the same panel, the same forecasts; an average with another distribution still works
    again = PooledNB(horizon=12).fit(df).predict_dist(12)
    assert all(np.array_equal(again[k].quantile([0.5]), dists[k].quantile([0.5])) for k in dists)
    QuantileAverage([lo, hi]).quantile([0.5])
    with pytest.raises(ValueError):
        PooledNB(horizon=12, windows=(6,))
    with pytest.raises(ValueError, match="long table"):
        PooledNB().fit(df[["ds", "y"]])


def test_theta_contract_and_recentered_combination():
    from forecasting.base import NormalDist, Recentered
    from forecasting.models import Theta

    rng = np.random.default_rng(4)
    ds = pd.date_range("2015-01-01", periods=72, freq="MS")
    y = 50 + 0.3 * np.arange(72) + 8 * np.sin(2 * np.pi * ds.month.to_numpy() / 12) + rng.normal(0, 3, 72)
    df = pd.DataFrame({"unique_id": "m", "ds": ds, "y": y})
    f = Theta().fit(df).predict(12, level=(80, 95))
    assert len(f) == 12 and f["ds"].iloc[0] == pd.Timestamp("2021-01-01")
    assert (f["lo-95"] <= f["lo-80"]).all() and (f["lo-80"] <= f["mean"]).all() and (f["mean"] <= f["hi-80"]).all()
    assert (f["hi-80"] <= f["hi-95"]).all() and (f["lo-95"] >= 0).all()
    assert abs(f["mean"].mean() - (50 + 0.3 * 78)) < 10  # follows the level and trend
    short = pd.DataFrame({"ds": ds[:10], "y": y[:10]})  # under two seasons: no seasonal adjustment
    assert len(Theta().fit(short).predict(3)) == 3
    # the recentred combination keeps the base's shape and moves its median to the centres' mean median
    base = NormalDist(np.array([10.0, 20.0]), np.array([2.0, 3.0]))
    other = NormalDist(np.array([14.0, 20.0]), np.array([9.0, 9.0]))
    r = Recentered(base, [base, other])
    q, b = r.quantile([0.1, 0.5, 0.9]), base.quantile([0.1, 0.5, 0.9])
    assert np.allclose(q[:, 1], [12.0, 20.0]) and np.allclose(q[:, 2] - q[:, 0], b[:, 2] - b[:, 0])
    assert np.allclose(r.mean, [12.0, 20.0])
