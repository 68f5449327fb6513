"""Every model's contract: fit/predict shapes, never negative, lower <= mean <= upper, DST-aware grids."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from datasets.errors import HospOpsError
from forecasting.base import CountDist, MixtureZeroDist, NormalDist, future_grid
from forecasting.features import holiday_dates
from forecasting.intermittent import SBA, TSB, Croston
from forecasting.models import (
    ETS,
    SARIMAX,
    CountGLM,
    EmpiricalSlots,
    Ensemble,
    ProphetModel,
    SeasonalNaive,
    negbin_alpha,
    poisson_irls,
)


def hourly(days=28, seed=0, start="2024-01-01"):
    rng = np.random.default_rng(seed)
    ds = pd.date_range(start, periods=24 * days, freq="h")
    rate = 6 + 5 * np.sin((ds.hour.to_numpy() - 6) / 24 * 2 * np.pi) + 2 * (ds.day_of_week.to_numpy() < 5)
    return pd.DataFrame({"unique_id": "ed", "ds": ds, "y": rng.poisson(np.maximum(rate, 0.3)).astype(float)})


def daily(days=120, seed=1):
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    rate = 40 + 8 * (ds.day_of_week.to_numpy() < 5)
    return pd.DataFrame({"unique_id": "x", "ds": ds, "y": rng.poisson(rate).astype(float)})


FAST_MODELS = [
    lambda: SeasonalNaive(),
    lambda: EmpiricalSlots(),
    lambda: ETS(),
    lambda: SARIMAX(),
    lambda: CountGLM("poisson"),
    lambda: CountGLM("negbin", adapt_days=7),
    lambda: Croston(),
    lambda: SBA(),
    lambda: TSB(),
    lambda: Ensemble([ETS(), CountGLM("negbin")]),
]


@pytest.mark.parametrize("make", FAST_MODELS, ids=lambda f: type(f()).__name__ + ":" + f().alias)
@pytest.mark.parametrize("series", ["hourly", "daily"])
def test_fit_predict_contract(make, series):
    y = hourly() if series == "hourly" else daily()
    h = 36 if series == "hourly" else 14
    m = make()
    assert m.fit(y) is m
    fc = m.predict(h)
    assert list(fc.columns) == ["ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]
    assert len(fc) == h
    step = pd.Timedelta(hours=1) if series == "hourly" else pd.Timedelta(days=1)
    assert fc["ds"].iloc[0] == y["ds"].iloc[-1] + step
    v = fc[["mean", "lo-80", "hi-80", "lo-95", "hi-95"]].to_numpy()
    assert np.isfinite(v).all() and (v >= 0).all()
    assert (fc["lo-95"] <= fc["lo-80"] + 1e-9).all() and (fc["lo-80"] <= fc["mean"] + 1e-9).all()
    assert (fc["mean"] <= fc["hi-80"] + 1e-9).all() and (fc["hi-80"] <= fc["hi-95"] + 1e-9).all()
    q = m.predict_quantiles(h, [0.05, 0.5, 0.95])
    assert list(q.columns) == ["ds", "mean", "q0.05", "q0.5", "q0.95"]
    assert (np.diff(q[["q0.05", "q0.5", "q0.95"]].to_numpy(), axis=1) >= -1e-9).all()
    # the forecasts follow the level of the data (not a constant zero or a runaway)
    assert 0.3 * y["y"].mean() < fc["mean"].mean() < 3 * y["y"].mean()


def test_prophet_adapter_contract():
    y = daily(90)
    fc = ProphetModel(country="GB", samples=100).fit(y).predict(10)
    assert len(fc) == 10 and (fc[["mean", "lo-80", "lo-95"]].to_numpy() >= 0).all()
    assert (fc["lo-95"] <= fc["lo-80"]).all() and (fc["hi-80"] <= fc["hi-95"]).all()
    assert (fc["lo-80"] <= fc["mean"]).all() and (fc["mean"] <= fc["hi-80"]).all()
    # weekday/weekend difference learned
    wd = fc[fc["ds"].dt.day_of_week < 5]["mean"].mean()
    we = fc[fc["ds"].dt.day_of_week >= 5]["mean"].mean()
    assert wd > we + 3
    # deterministic quantiles (fixed seed)
    m = ProphetModel(samples=100).fit(y)
    assert np.array_equal(m.predict(5).to_numpy(), m.predict(5).to_numpy())


def test_counts_never_negative_near_zero():
    y = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=60, freq="D"), "y": [0.0] * 55 + [1, 0, 0, 2, 0]})
    for m in (SeasonalNaive(), ETS(), SARIMAX(), CountGLM("negbin"), TSB()):
        fc = m.fit(y).predict(7)
        assert (fc.drop(columns="ds").to_numpy() >= 0).all(), m.alias


def test_seasonal_naive_repeats_last_week():
    y = hourly(14)
    fc = SeasonalNaive().fit(y).predict(168)
    assert np.array_equal(fc["mean"].to_numpy(), y["y"].to_numpy()[-168:])


def test_poisson_irls_matches_statsmodels():
    import statsmodels.api as sm

    rng = np.random.default_rng(3)
    X = np.column_stack([np.ones(500), rng.normal(size=500), rng.normal(size=500)])
    off = np.log(rng.uniform(0.5, 2, 500))
    y = rng.poisson(np.exp(X @ [1.0, 0.3, -0.2] + off)).astype(float)
    ours = poisson_irls(X, y, off)
    ref = sm.GLM(y, X, family=sm.families.Poisson(), offset=off).fit().params
    assert np.allclose(ours, ref, atol=1e-6)
    # the one-hot fast path (a 5-level factor first, then dense columns) gives the same estimate
    slot = rng.integers(0, 5, 500)
    H = np.zeros((500, 5))
    H[np.arange(500), slot] = 1.0
    X2 = np.column_stack([H, X[:, 1:]])
    y2 = rng.poisson(np.exp(X2 @ [0.5, 1.0, 1.5, 0.2, 0.8, 0.3, -0.2] + off)).astype(float)
    ref2 = sm.GLM(y2, X2, family=sm.families.Poisson(), offset=off).fit().params
    assert np.allclose(poisson_irls(X2, y2, off, onehot=5), ref2, atol=1e-6)
    assert np.allclose(poisson_irls(X2, y2, off, beta0=ref2 + 0.1, onehot=5), ref2, atol=1e-6)


def test_negbin_alpha_recovers_overdispersion():
    rng = np.random.default_rng(4)
    mu = np.full(20000, 10.0)
    a = 0.2
    y = rng.negative_binomial(1 / a, 1 / (1 + a * mu))
    assert abs(negbin_alpha(y, mu) - a) < 0.03
    assert negbin_alpha(rng.poisson(mu), mu) < 0.01


def test_count_quantiles_continuous_and_calibrated():
    d = CountDist(np.array([4.0]), 0.0)
    grid = np.linspace(0.01, 0.99, 99)
    q = d.quantile(grid)[0]
    assert (np.diff(q) > 0).all()  # strictly increasing: no flat integer steps
    # share of Poisson(4) draws strictly below each quantile stays close to the level on average
    rng = np.random.default_rng(0)
    y = rng.poisson(4.0, 200000)
    below = np.array([(y < v).mean() for v in q])
    assert np.mean(np.abs(below - grid)) < 0.05
    # the continuous version keeps the count's mean: the median of a symmetric-ish count sits near mu
    assert abs(CountDist(np.array([100.0]), 0.0).quantile([0.5])[0, 0] - 100) < 1


def test_nb_wider_than_poisson():
    p = CountDist(np.array([10.0]), 0.0).quantile([0.05, 0.95])[0]
    nb = CountDist(np.array([10.0]), 0.3).quantile([0.05, 0.95])[0]
    assert nb[1] - nb[0] > p[1] - p[0]


def test_normal_dist_clipped():
    q = NormalDist(np.array([1.0]), np.array([5.0])).quantile([0.05, 0.95])
    assert q[0, 0] == 0.0 and q[0, 1] > 1


def test_mixture_zero_dist():
    d = MixtureZeroDist(np.array([0.25]), np.array([4.0]), np.array([2.0, 4.0, 6.0]))
    assert d.mean[0] == pytest.approx(1.0)
    q = d.quantile([0.5, 0.75, 0.99])[0]
    assert q[0] == 0 and q[1] == 0 and q[2] > 4


def test_tsb_probability_decays_after_zeros_croston_does_not():
    y = pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=40, freq="D"), "y": [3.0, 0, 4, 0] * 5 + [0.0] * 20})
    tsb, cro = TSB().fit(y), Croston().fit(y)
    assert tsb.predict_dist(1).mean[0] < 0.5 * cro.predict_dist(1).mean[0]
    assert SBA().fit(y).predict_dist(1).mean[0] == pytest.approx(0.95 * cro.predict_dist(1).mean[0])


def test_future_grid_dst_spring_and_autumn():
    # spring forward 2024-03-31 in London: 01:00 does not exist; the day has 23 labels
    idx, hours = future_grid(pd.Timestamp("2024-03-30 23:00"), 24, "h", "Europe/London")
    day = idx[idx.normalize() == pd.Timestamp("2024-03-31")]
    assert len(day) == 23 and pd.Timestamp("2024-03-31 01:00") not in idx
    assert (hours == 1).all()
    # fall back 2024-10-27: 01:00 happens twice; one label standing for two hours
    idx, hours = future_grid(pd.Timestamp("2024-10-26 23:00"), 25, "h", "Europe/London")
    assert idx.is_unique and list(idx).count(pd.Timestamp("2024-10-27 01:00")) == 1
    assert hours[list(idx).index(pd.Timestamp("2024-10-27 01:00"))] == 2
    assert idx[-1] == pd.Timestamp("2024-10-28 00:00")


def test_glm_doubles_the_repeated_autumn_hour():
    y = hourly(35, start="2024-09-20")
    m = CountGLM("poisson", tz="Europe/London").fit(y)
    fc = m.predict(30)  # from 2024-10-25 00:00 onwards: spans 2024-10-27
    fc = m.predict(60)
    one = fc[fc["ds"] == pd.Timestamp("2024-10-27 01:00")]["mean"].iloc[0]
    week = y[(y["ds"].dt.hour == 1) & (y["ds"].dt.day_of_week == 6)]["y"].mean()
    assert one > 1.5 * week  # two real hours of arrivals


def test_hourly_forecast_grid_matches_the_view_over_a_dst_day(demo_ws):
    """Cut the demo's hourly series before its DST day: the forecast's time labels are the view's."""
    from datasets.store import Workspace
    from forecasting import load_series

    with Workspace.open(demo_ws, read_only=True) as ws:
        y = load_series(ws, "ed_arrivals_hourly")
        dst_days = [d for (d,) in ws.sql("SELECT ds FROM ed_arrivals_daily WHERE hours <> 24")]
    assert dst_days, "the 60-day demo should contain a clock change"
    day = pd.Timestamp(dst_days[0])
    hist = y[y["ds"] < day]
    actual = y[y["ds"] >= day].head(48)
    m = CountGLM("negbin", tz=y.attrs["tz"]).fit(hist)
    fc = m.predict(48)
    assert list(fc["ds"]) == list(actual["ds"])
    _, hours = m.future(48)
    assert list(hours) == list(actual["hours"].astype(float))
    n_day = int((fc["ds"].dt.normalize() == day).sum())
    assert hours[:n_day].sum() in (23, 25)  # the clock-change day has 23 or 25 real hours


def test_bad_inputs_fail_clearly():
    with pytest.raises(HospOpsError, match="call fit"):
        ETS().predict(3)
    with pytest.raises(HospOpsError, match="at least"):
        CountGLM().fit(pd.DataFrame({"ds": pd.date_range("2024-01-01", periods=3, freq="D"), "y": [1.0, 2, 3]}))
    with pytest.raises(HospOpsError, match="repeated"):
        ETS().fit(pd.DataFrame({"ds": ["2024-01-01", "2024-01-01", "2024-01-02"], "y": [1, 2, 3]}))
    with pytest.raises(HospOpsError, match="whole number"):
        SeasonalNaive().fit(daily()).predict(0)
    with pytest.raises(HospOpsError, match="regressors"):
        y = daily()
        CountGLM().fit(y, pd.DataFrame({"x": np.arange(len(y)) % 2})).predict(5)
    with pytest.raises(HospOpsError, match="family"):
        CountGLM("gaussian")


def test_glm_learns_the_day_after_a_holiday():
    rng = np.random.default_rng(5)
    ds = pd.date_range("2023-01-01", periods=500, freq="D")
    hol = [d for d in ds if d.day == 10] + [pd.Timestamp("2024-05-10")]
    after = ds.isin([d + pd.Timedelta(days=1) for d in hol])
    y = pd.DataFrame({"ds": ds, "y": rng.poisson(np.where(after, 70, 40)).astype(float)})
    m = CountGLM("poisson", holidays=hol, after_holiday=True).fit(y)
    fc = m.predict(14).set_index("ds")["mean"]  # 2024-05-15 .. 28: no holiday inside
    assert fc.max() < 50
    m2 = CountGLM("poisson", holidays=hol, after_holiday=True).fit(y.iloc[:-6])  # ends 2024-05-08
    fc2 = m2.predict(6).set_index("ds")["mean"]
    assert fc2[pd.Timestamp("2024-05-11")] > 60 and fc2[pd.Timestamp("2024-05-13")] < 50
    plain = CountGLM("poisson", holidays=hol).fit(y.iloc[:-6]).predict(6).set_index("ds")["mean"]
    assert plain[pd.Timestamp("2024-05-11")] < 55


def test_empirical_pools_the_hour_of_day_on_a_short_history():
    # three weeks: three values per hour of week, and bands of zero width where they agreed
    y = hourly(21)
    d = EmpiricalSlots().fit(y).predict_dist(48)
    q = d.quantile([0.1, 0.9])
    assert (q[:, 1] > q[:, 0]).mean() > 0.9
    hour = y[y["ds"].dt.hour == 3]["y"].to_numpy()
    assert np.allclose(d.quantile([0.5])[3, 0], np.quantile(hour, 0.5))  # 03:00 of every day of the 3 weeks
    long = hourly(70)
    d = EmpiricalSlots().fit(long).predict_dist(24)  # ten weeks: the hour of week's own values
    assert len(d.draws[0]) == 10


def test_theta_bands_are_simple_smoothings():
    # a level of 200 with a weekly season and noise of sd 15: statsmodels' own bands were 49-447 three weeks
    # ahead (its variance grew by about 2 sigma² a step for a small smoothing weight)
    from forecasting.models import Theta

    rng = np.random.default_rng(2)
    ds = pd.date_range("2024-01-01", periods=700, freq="D")
    y = pd.DataFrame({"ds": ds, "y": 200 + 30 * np.sin(2 * np.pi * np.arange(700) / 7) + rng.normal(0, 15, 700)})
    d = Theta().fit(y).predict_dist(21)
    width = d.quantile([0.025, 0.975])
    half = (width[:, 1] - width[:, 0]) / 2
    assert (half > 1.96 * 15 * 0.8).all() and (half < 1.96 * 15 * 1.6).all(), half
    test = 200 + 30 * np.sin(2 * np.pi * np.arange(700, 721) / 7)
    assert (np.abs(d.mean - test) < 20).all()


def test_glm_gives_christmas_day_its_own_shift():
    # two years of days at 200 a day, bank holidays at 220, Christmas Day at 130 (0.65 of a day): one shift for
    # every holiday forecast the next Christmas like any bank holiday, above its own 95 % band
    rng = np.random.default_rng(8)
    ds = pd.date_range("2023-01-01", "2025-11-30", freq="D")
    hol = holiday_dates("GB", ds[0], ds[-1] + pd.Timedelta(days=90))
    xmas = (ds.month == 12) & (ds.day == 25)
    rate = np.where(xmas, 130.0, np.where(ds.normalize().isin(list(hol)), 220.0, 200.0))
    y = pd.DataFrame({"ds": ds, "y": rng.poisson(rate).astype(float)})
    at = pd.Timestamp("2025-12-25")
    fc = CountGLM("negbin", country="GB").fit(y).predict(40, level=(95,)).set_index("ds")
    assert abs(fc.loc[at, "mean"] - 130) < 15 and fc.loc[at, "hi-95"] < 170
    assert fc.loc[pd.Timestamp("2025-12-26"), "mean"] > 190  # Boxing Day is a bank holiday of its own
    one = CountGLM("negbin", country="GB", named_days=False).fit(y).predict(40).set_index("ds")
    assert one.loc[at, "mean"] > 170  # (what it was)


def test_short_adaptation_carries_todays_surprise_and_fades():
    y = hourly(28)
    y.loc[y.index[-24:], "y"] *= 2  # an unusually busy last day
    plain = CountGLM("poisson").fit(y).predict_dist(72).mean
    adapt = CountGLM("poisson", short_adapt=(24, 1.0, 6)).fit(y).predict_dist(72).mean
    assert adapt[0] > 1.4 * plain[0]
    assert abs(adapt[-1] / plain[-1] - 1) < 0.01  # faded after 72 hours


def test_regressor_by_hour_changes_the_daily_profile():
    rng = np.random.default_rng(6)
    ds = pd.date_range("2024-01-01", periods=24 * 42, freq="h")
    flag = ((ds.day_of_year // 7) % 2 == 1).astype(float)  # alternate weeks "school holiday"
    rate = np.where((flag == 1) & (ds.hour >= 9) & (ds.hour < 17), 20.0, 8.0)
    y = pd.DataFrame({"ds": ds, "y": rng.poisson(rate).astype(float)})
    X = pd.DataFrame({"school": flag})
    fx = pd.DataFrame({"school": np.ones(24)})
    shaped = CountGLM("poisson", x_by_hour=True).fit(y, X).predict(24, fx).set_index("ds")["mean"]
    flat = CountGLM("poisson").fit(y, X).predict(24, fx).set_index("ds")["mean"]
    noon, night = shaped.index.hour == 12, shaped.index.hour == 3
    assert shaped[noon].iloc[0] / shaped[night].iloc[0] > 2  # the holiday profile is learned
    assert flat[noon].iloc[0] / flat[night].iloc[0] < shaped[noon].iloc[0] / shaped[night].iloc[0]
