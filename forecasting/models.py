"""The forecasters: baselines, ETS and SARIMAX (statsmodels), the count regression, Prophet, the ensemble.

Every model follows :class:`forecasting.base.Forecaster`; see that module for the interface.
"""
from __future__ import annotations

import contextlib
import logging
import warnings
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, special

from datasets.errors import HospOpsError
from forecasting import features as F
from forecasting.base import (
    FREQ_SEASON,
    CountDist,
    Dist,
    Forecaster,
    NormalDist,
    QuantileAverage,
    SampleDist,
)


@contextlib.contextmanager
def _quiet():
    """statsmodels and Prophet talk a lot (convergence notes, Stan progress); keep it off the user's screen."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            yield


def _history(df: pd.DataFrame, window: Optional[int]) -> pd.DataFrame:
    d = df if not window or len(df) <= window else df.iloc[-window:]
    return d.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------- baselines
#: the season the naive baseline repeats: the same hour or day last week, else the same step last year
NAIVE_SEASON = {"h": 168, "D": 7, "W": 52, "MS": 12}


class SeasonalNaive(Forecaster):
    """Last season's value for each step (hourly: the same hour last week; daily: same weekday last week).

    Interval: Gaussian with the spread of past seasonal differences, widening with the square root of
    the number of seasons ahead.
    """

    alias = "seasonal_naive"

    def __init__(self, season_length: Optional[int] = None, **kw):
        super().__init__(**kw)
        self.season_length = season_length

    @property
    def m(self) -> int:
        if self.season_length:
            return self.season_length
        return NAIVE_SEASON.get(self.freq_, 1)

    def _fit(self, X):
        y = self.df_["y"].ffill().bfill().to_numpy()
        m = min(self.m, len(y) - 1) if len(y) > self.m else max(1, len(y) - 1)
        self.m_ = m
        d = y[m:] - y[:-m]
        self.sd_ = float(np.std(d[-max(8 * m, 50):])) if len(d) > 1 else float(np.std(y))
        self.last_ = y[-m:]

    def _dist(self, h, X):
        idx = np.arange(h)
        mean = self.last_[idx % self.m_]
        k = idx // self.m_ + 1
        return NormalDist(mean, self.sd_ * np.sqrt(k))


class EmpiricalSlots(Forecaster):
    """Empirical quantiles of past values in the same seasonal slot (hour of week, day of week).

    The paper's "Benchmark-2": by hour of week over the last 365 days. Monthly and weekly series pool the
    last ``window_points`` values (default: 12). A slot with fewer than ``MIN_POINTS`` values (a short
    history) pools the same hour of day over every weekday, or for a daily series every day: three weeks gave
    three values an hour of week and bands of zero width.
    """

    MIN_POINTS = 8

    alias = "empirical"

    def __init__(self, window_days: int = 365, window_points: int = 12, **kw):
        super().__init__(**kw)
        self.window_days = window_days
        self.window_points = window_points

    def _fit(self, X):
        df = self.df_.dropna(subset=["y"])
        if self.freq_ in ("h", "D"):
            cut = df["ds"].iloc[-1] - pd.Timedelta(days=self.window_days)
            df = df[df["ds"] > cut]
            slots = F.slot_index(df["ds"], self.freq_, holiday_as_sunday=False)
            self.pool_ = {int(s): g.to_numpy() for s, g in df["y"].groupby(slots)}
            wide = slots % 24 if self.freq_ == "h" else np.zeros(len(slots), dtype=int)
            pooled = {int(s): g.to_numpy() for s, g in df["y"].groupby(wide)}
            for s, values in list(self.pool_.items()):
                if len(values) < self.MIN_POINTS:
                    self.pool_[s] = pooled[s % 24 if self.freq_ == "h" else 0]
        else:
            self.pool_ = {0: df["y"].to_numpy()[-self.window_points:]}
        self.all_ = df["y"].to_numpy()

    def _dist(self, h, X):
        ds, _ = self.future(h)
        if self.freq_ in ("h", "D"):
            slots = F.slot_index(ds, self.freq_, holiday_as_sunday=False)
        else:
            slots = np.zeros(h, dtype=int)
        return SampleDist([self.pool_.get(int(s), self.all_) for s in slots])


# ----------------------------------------------------------------------------------------------- ETS
class ETS(Forecaster):
    """Exponential smoothing state space model (statsmodels ``ETSModel``) with analytic intervals.

    ``auto=True`` picks the error/trend/seasonal form by AICc among additive and (for positive data)
    multiplicative-error forms; otherwise additive error, no trend, additive season (the paper's ETS(A,N,A)).
    Hourly series use the last ``window`` points (default 8 weeks) and a daily season of 24.
    """

    alias = "ets"

    def __init__(self, auto: bool = False, window: Optional[int] = None, damped: bool = True, **kw):
        super().__init__(**kw)
        self.auto = auto
        self.window = window
        self.damped = damped

    def _season(self, n: int) -> Optional[int]:
        m = {"h": 24, "D": 7, "W": 52, "MS": 12}.get(self.freq_)
        return m if m and n >= 2 * m + 2 else None

    def _fit(self, X):
        from statsmodels.tsa.exponential_smoothing.ets import ETSModel

        window = self.window or {"h": 24 * 7 * 8, "D": 2 * 365}.get(self.freq_)
        d = _history(self.df_, window)
        y = pd.Series(d["y"].interpolate(limit_direction="both").to_numpy(), dtype=float)
        m = self._season(len(y))
        if self.auto:
            cands = []
            # a small, fast candidate set: additive forms, plus the multiplicative-error seasonal form
            # for positive data (AICc is comparable across error types in statsmodels' ETSModel)
            for trend, damped in ((None, False), ("add", True)):
                for seas in ((None, "add") if m else (None,)):
                    cands.append(("add", trend, damped, seas))
            if y.min() > 0:
                cands.append(("mul", None, False, "mul" if m else None))
        else:
            cands = [("add", None, False, "add" if m else None)]
        best = None
        with _quiet():
            for err, trend, damped, seas in cands:
                try:
                    res = ETSModel(y, error=err, trend=trend, damped_trend=damped, seasonal=seas,
                                   seasonal_periods=m if seas else None).fit(disp=False, maxiter=100)
                except Exception:  # a form that does not fit this series is skipped
                    continue
                score = res.aicc if np.isfinite(res.aicc) else np.inf
                if best is None or score < best[0]:
                    best = (score, res)
        if best is None:
            raise HospOpsError("ETS could not be fitted to this series.")
        self.res_ = best[1]
        self.n_ = len(y)
        self.form_ = (self.res_.model.error, self.res_.model.trend, self.res_.model.seasonal)

    def _dist(self, h, X):
        with _quiet():
            pred = self.res_.get_prediction(start=self.n_, end=self.n_ + h - 1)
            mean = np.asarray(pred.predicted_mean, float)
            var = np.asarray(pred.forecast_variance, float)
        bad = ~np.isfinite(var)
        if bad.any():  # multiplicative forms without an analytic variance: fall back to the residual spread
            var[bad] = np.nanvar(np.asarray(self.res_.resid)) * (1 + np.arange(h))[bad]
        return NormalDist(mean, np.sqrt(np.maximum(var, 0)))


# -------------------------------------------------------------------------------------------- SARIMAX
class SARIMAX(Forecaster):
    """ARIMA errors around a seasonal profile (statsmodels ``SARIMAX``); Gaussian intervals.

    The series less its seasonal-slot means (hour of week, day of week, month; over the fitting window)
    is modelled as ARMA(``order``); the forecast adds the profile back. This is a regression-with-ARIMA-
    errors model whose seasonal regressors are estimated by slot means: far faster than a seasonal MA
    polynomial of period 24/168 and as good on hospital series. Hourly uses the last 8 weeks, daily 2 years.
    """

    alias = "sarimax"

    def __init__(self, order=(1, 0, 1), window: Optional[int] = None, **kw):
        super().__init__(**kw)
        self.order = tuple(order)
        self.window = window

    def _slots(self, ds):
        return F.slot_index(ds, self.freq_, holiday_as_sunday=False)

    def _fit(self, X):
        from statsmodels.tsa.statespace.sarimax import SARIMAX as _SARIMAX

        window = self.window or {"h": 24 * 7 * 8, "D": 2 * 365, "W": 3 * 52}.get(self.freq_)
        d = _history(self.df_, window)
        y = d["y"].interpolate(limit_direction="both").to_numpy(dtype=float)
        slots = self._slots(d["ds"])
        n_per = np.bincount(slots)
        self.use_profile_ = self.freq_ in ("h", "D", "MS") and len(n_per) > 1 and n_per[n_per > 0].min() >= 2
        self.level_ = float(y.mean())
        if self.use_profile_:
            prof = pd.Series(y).groupby(slots).mean()
            self.profile_ = prof.to_dict()
            base = np.array([self.profile_[s] for s in slots])
        else:
            self.profile_ = {}
            base = np.full(len(y), self.level_)
        with _quiet():
            self.res_ = _SARIMAX(pd.Series(y - base), order=self.order, trend="n").fit(disp=False, maxiter=50)

    def _dist(self, h, X):
        ds, _ = self.future(h)
        if self.use_profile_:
            base = np.array([self.profile_.get(int(s), self.level_) for s in self._slots(ds)])
        else:
            base = np.full(h, self.level_)
        with _quiet():
            f = self.res_.get_forecast(h)
            mean = np.asarray(f.predicted_mean, float) + base
            sd = np.sqrt(np.asarray(f.var_pred_mean, float))
        return NormalDist(mean, sd)


# ---------------------------------------------------------------------------------------------- Theta
class Theta(Forecaster):
    """The Theta method (Assimakopoulos & Nikolopoulos; statsmodels ``ThetaModel``): simple exponential
    smoothing with half the slope of the linear trend added (theta = 2), on the seasonally adjusted series
    (classical decomposition, multiplicative for positive data, else additive, when there are two full
    seasons). Gaussian intervals: simple smoothing's, from the one-step errors of the seasonally adjusted
    series (see :meth:`_one_step_sd`). Hourly series use the last 8 weeks.
    """

    alias = "theta"
    needs = 4

    def __init__(self, theta: float = 2.0, window: Optional[int] = None, **kw):
        super().__init__(**kw)
        self.theta = theta
        self.window = window

    def _fit(self, X):
        from statsmodels.tsa.forecasting.theta import ThetaModel

        window = self.window or {"h": 24 * 7 * 8, "D": 2 * 365}.get(self.freq_)
        d = _history(self.df_, window)
        y = d["y"].interpolate(limit_direction="both").to_numpy(dtype=float)
        m = {"h": 24, "D": 7, "W": 52, "MS": 12}.get(self.freq_, 1)
        seasonal = m > 1 and len(y) >= 2 * m
        method = "multiplicative" if seasonal and y.min() > 0 else "additive"
        with _quiet():
            try:
                model = ThetaModel(y, period=m if seasonal else 1, deseasonalize=seasonal, method=method)
                self.res_ = model.fit()
            except Exception as exc:  # a constant or too short series
                raise HospOpsError(f"Theta could not be fitted to this series: {exc}") from exc
        self.sigma_ = self._one_step_sd(model)

    def _one_step_sd(self, model) -> Optional[float]:
        """The standard deviation of the one-step errors of the smoothed level on the seasonally adjusted
        series. statsmodels' own (``sigma2``) was twice it on a daily series with a weekly season, and its
        variance grew by about 2 sigma² a step for a small smoothing weight (its ``(alpha - 1)²``): 95 % bands
        of 49-447 around 248 arrivals a day, 3 weeks ahead, where simple smoothing's grow by alpha² a step."""
        try:
            adjusted = np.asarray(model._deseasonalize_data()[0], float)  # (private: None, and theirs, if gone)
            alpha = float(self.res_.params.iloc[1])
        except Exception:  # noqa: BLE001
            return None
        level, errors = adjusted[0], []
        for v in adjusted[1:]:
            errors.append(v - level)
            level += alpha * (v - level)
        sd = float(np.sqrt(np.mean(np.square(errors)))) if errors else float("nan")
        return sd if np.isfinite(sd) else None

    def _dist(self, h, X):
        with _quiet():
            mean = np.asarray(self.res_.forecast(h, theta=self.theta), float)
            if self.sigma_ is not None:
                alpha = float(self.res_.params.iloc[1])
                parts = self.res_.forecast_components(h)
                season = np.asarray(parts["seasonal"], float) if self.res_.model.method.startswith("mul") else 1.0
                sd = self.sigma_ * np.sqrt(1 + np.arange(h) * alpha ** 2) * season
            else:
                pi = np.asarray(self.res_.prediction_intervals(h, theta=self.theta, alpha=0.2), float)
                sd = (pi[:, 1] - pi[:, 0]) / (2 * 1.2815515655446004)
        sd = np.where(np.isfinite(sd), sd, np.nanstd(self.df_["y"].to_numpy(dtype=float)))
        return NormalDist(mean, sd)


# ------------------------------------------------------------------------------ shrunk seasonal level
def shrunk_seasonal_index(y: np.ndarray, m: int, strength: float = 1.0) -> tuple[np.ndarray, float]:
    """A multiplicative seasonal index for the next ``m`` steps, shrunk towards flat by its own noise.

    The last ``k = len(y) // m`` full seasons (aligned to the end of ``y``) are each divided by their own
    mean; the raw index is the average of those ratios per slot (slot ``j`` is the ``j``-th step after the
    end, a whole number of seasons earlier). Its noise variance is the year-to-year variance of the ratios
    divided by ``k``; the index is shrunk towards 1 by the James-Stein factor ``signal / (signal + noise)``
    with ``signal = max(var(raw index) − noise, 0)``: a clear, stable season is kept almost whole, a season
    no larger than its noise is dropped. ``strength`` multiplies the noise (1: the plain estimate). Returns
    the index (length ``m``) and the shrinkage factor used (0 = flat).
    """
    y = np.asarray(y, float)
    k = len(y) // m if m > 1 else 0
    if k < 2:
        return np.ones(max(m, 1)), 0.0
    blocks = y[len(y) - k * m:].reshape(k, m)
    means = blocks.mean(axis=1, keepdims=True)
    if not np.all(means > 0) or not np.all(np.isfinite(blocks)):
        return np.ones(m), 0.0
    rel = blocks / means
    raw = rel.mean(axis=0)
    noise = strength * rel.var(axis=0, ddof=1).mean() / k
    signal = max(float(raw.var()) - noise, 0.0)
    factor = signal / (signal + noise) if signal + noise > 0 else 0.0
    return 1.0 + factor * (raw - 1.0), float(factor)


class ShrunkSeasonal(Forecaster):
    """Exponentially weighted level times a seasonal index shrunk towards flat (monthly demand panels).

    The seasonal index comes from :func:`shrunk_seasonal_index` (James-Stein shrinkage by the index's own
    year-to-year noise, so a noisy product's "season" is mostly dropped while a stable one is kept); the
    level is the exponentially weighted mean of the seasonally adjusted series with half-life
    ``halflife`` steps (no trend). The forecast is level × index. Predictive distribution: Gaussian, with
    the variance of the in-sample one-step errors of that level (after the first season) widened with the
    horizon as simple exponential smoothing's (``σ² (1 + (h − 1) a²)`` with ``a`` the smoothing weight) and
    scaled by the index; clipped at 0. Both settings are fixed for all series (chosen on the monthly
    hospital panel's validation year, not per series). Missing values are interpolated.
    """

    alias = "shrunk_seasonal"
    needs = 3

    def __init__(self, halflife: float = 3.5, strength: float = 1.0, season_length: Optional[int] = None, **kw):
        super().__init__(**kw)
        if halflife <= 0:
            raise HospOpsError(f"The half-life must be positive (got {halflife}).")
        self.halflife = float(halflife)
        self.strength = float(strength)
        self.season_length = season_length

    def _fit(self, X):
        y = self.df_["y"].interpolate(limit_direction="both").to_numpy(dtype=float)
        m = self.season_length or FREQ_SEASON.get(self.freq_, 1)
        self.m_ = int(m)
        self.index_, self.shrink_ = shrunk_seasonal_index(y, self.m_, self.strength)
        n = len(y)
        # the index is aligned to the end: slot j is the j-th step after the end, so position t of the
        # history (n - t steps before the end) is slot (t - n) mod m
        full = self.index_[(np.arange(n) - n) % self.m_] if self.m_ > 1 else np.ones(n)
        d = y / np.maximum(full, 0.05)  # a slot that was always zero must not blow up older values
        a = 1.0 - 0.5 ** (1.0 / self.halflife)
        level = float(d[: min(n, max(self.m_, 1))].mean())
        errs = np.empty(n)
        for t, v in enumerate(d):
            errs[t] = v - level
            level += a * (v - level)
        self.level_ = level
        tail = errs[self.m_:] if n > self.m_ + 2 else errs
        self.sigma_ = float(np.sqrt(np.mean(tail ** 2)))
        self.a_ = a

    def _dist(self, h, X):
        slots = np.arange(h) % self.m_ if self.m_ > 1 else np.zeros(h, dtype=int)
        idx = self.index_[slots] if self.m_ > 1 else np.ones(h)
        steps = np.arange(1, h + 1)
        sd = self.sigma_ * np.sqrt(1.0 + (steps - 1) * self.a_ ** 2) * idx
        return NormalDist(self.level_ * idx, sd)


# -------------------------------------------------------------------------------------- count regression
def poisson_irls(X: np.ndarray, y: np.ndarray, offset: np.ndarray, beta0: Optional[np.ndarray] = None,
                 max_iter: int = 50, tol: float = 1e-8, ridge: float = 1e-8, onehot: int = 0,
                 weights: Optional[np.ndarray] = None) -> np.ndarray:
    """Poisson GLM with log link by iteratively reweighted least squares (Newton), warm-startable.

    The same estimate as ``statsmodels.GLM(y, X, family=Poisson(), offset=offset)``; written out because a
    rolling-origin backtest refits hundreds of times and warm starts cut that to a few steps each.
    ``onehot=k``: the first ``k`` columns of ``X`` are a one-hot block (one 1 per row, e.g. the hour of
    week); their part of the Hessian is then built from per-slot sums instead of dense products, which is
    what makes a 35,000-row hourly fit take a fraction of a second. ``weights``: per-row weights of the
    log-likelihood (e.g. decaying with age for a recency-weighted fit).
    """
    w = np.ones(len(y)) if weights is None else np.asarray(weights, float)
    n, p = X.shape
    if onehot:
        slots = np.argmax(X[:, :onehot], axis=1)
        Z = np.ascontiguousarray(X[:, onehot:])
        order = np.argsort(slots, kind="stable")
        bounds = np.searchsorted(slots[order], np.arange(onehot + 1))
    if beta0 is None:
        target = np.full(n, np.log(max(y.mean(), 1e-3)) - offset.mean())
        beta = np.linalg.lstsq(X, target, rcond=None)[0]
    else:
        beta = beta0.copy()

    def hessian(mu):
        if not onehot:
            return (X * mu[:, None]).T @ X
        H = np.zeros((p, p))
        H[np.arange(onehot), np.arange(onehot)] = np.bincount(slots, mu, minlength=onehot)
        if Z.shape[1]:
            mz = (Z * mu[:, None])[order]
            cross = np.add.reduceat(mz, bounds[:-1], axis=0) if len(mz) else np.zeros((onehot, Z.shape[1]))
            empty = bounds[:-1] == bounds[1:]
            cross[empty] = 0.0  # reduceat copies a row for empty slots; they have no data
            H[:onehot, onehot:] = cross
            H[onehot:, :onehot] = cross.T
            H[onehot:, onehot:] = (Z * mu[:, None]).T @ Z
        return H

    dev_old = np.inf
    for _ in range(max_iter):
        eta = np.clip(X @ beta + offset, -30, 30)
        mu = np.exp(eta)
        grad = X.T @ (w * (y - mu))
        H = hessian(w * mu)
        H[np.diag_indices(p)] += ridge * (1 + np.diag(H))
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError:
            step = np.linalg.lstsq(H, grad, rcond=None)[0]
        beta = beta + step
        eta = np.clip(X @ beta + offset, -30, 30)
        mu = np.exp(eta)
        dev = 2 * np.sum(w * (special.xlogy(y, np.where(y > 0, y / mu, 1.0)) - (y - mu)))
        if abs(dev_old - dev) <= tol * (abs(dev) + 0.1):
            break
        dev_old = dev
    return beta


def negbin_alpha(y: np.ndarray, mu: np.ndarray) -> float:
    """Maximum-likelihood NB2 dispersion ``alpha`` (variance ``mu + alpha mu²``) for fixed means."""
    y = np.asarray(y, float)
    mu = np.maximum(np.asarray(mu, float), 1e-9)
    if np.mean((y - mu) ** 2 - y) <= 0:  # no overdispersion at all: Poisson
        return 0.0

    def nll(log_a):
        a = np.exp(log_a)
        r = 1.0 / a
        ll = (special.gammaln(y + r) - special.gammaln(r) - special.gammaln(y + 1)
              + r * np.log(r / (r + mu)) + y * np.log(mu / (r + mu)))
        return -ll.sum()

    res = optimize.minimize_scalar(nll, bounds=(np.log(1e-6), np.log(20.0)), method="bounded")
    a = float(np.exp(res.x))
    return 0.0 if a < 1e-5 else a


class CountGLM(Forecaster):
    """Count regression: Poisson or negative binomial GLM with log link and calendar features.

    Terms: one level per seasonal slot (hour of week for hourly, day of week for daily, month for
    monthly; a public holiday takes Sunday's slot), a public-holiday shift, a linear trend (history of a
    year or more), yearly Fourier terms (``fourier`` harmonics, history of 1.5 years or more), any columns of
    ``X``, and ``log(hours)`` as offset (so a 25-hour DST day is a day with one more hour of arrivals).

    ``family="negbin"``: the mean is the Poisson (quasi-likelihood) fit and the NB2 dispersion is then
    estimated by maximum likelihood; ``"poisson"`` keeps the Poisson distribution. ``adapt_days``: the
    recent-level adaptation, multiplying the forecast by (observed / fitted) over the last ``adapt_days``
    days raised to ``adapt_weight`` (a shrunk correction for level shifts the trend has not caught).
    ``seasonal_profile``: hourly only, the hour-of-day profile may drift through the year (hour of day x
    first yearly harmonic). ``after_holiday``: a shift for the day after a public holiday. ``named_days``:
    Christmas Day, Boxing Day and New Year's Day each with a shift of its own beside the holiday shift, where
    they are public holidays and the history has them (:data:`forecasting.features.NAMED_DAYS`).
    ``short_adapt=(n, w, decay)``: the observed/fitted ratio over the last ``n`` steps, raised to ``w`` and
    fading with ``exp(-step/decay)`` over the horizon (today's surprises carry into the next hours).
    ``x_by_hour``: hourly only, each regressor of ``X`` also shifts the hour-of-day profile.
    ``halflife_days``: a recency-weighted fit: each point's log-likelihood weighs ``0.5 ** (age / halflife)``
    (age in days before the last point), so the slot levels lean on recent weeks without a hard window.
    ``alpha_by="hour"``: hourly negative binomial only, one NB2 dispersion per hour of day (each estimated by
    maximum likelihood on that hour's rows for the fitted means) instead of one for all hours: the small
    hours' counts are close to Poisson while the busy hours carry more extra-Poisson spread.

    Quantiles come from the fitted count distribution (see :class:`forecasting.base.CountDist`).
    """

    def __init__(self, family: str = "negbin", country: Optional[str] = None, subdiv: Optional[str] = None,
                 holidays: Optional[Iterable] = None, fourier: Optional[int] = None, trend: bool = True,
                 window: Optional[int] = None, adapt_days: Optional[float] = None, adapt_weight: float = 0.5,
                 alias: Optional[str] = None, seasonal_profile: bool = False, after_holiday: bool = False,
                 short_adapt: Optional[tuple] = None, x_by_hour: bool = False, alpha_by: Optional[str] = None,
                 halflife_days: Optional[float] = None, named_days: bool = True, **kw):
        super().__init__(**kw)
        if family not in ("poisson", "negbin"):
            raise HospOpsError(f"Unknown count family {family!r}: use 'poisson' or 'negbin'.")
        self.family = family
        self.country = country
        self.subdiv = subdiv
        self.holidays = None if holidays is None else list(holidays)
        self.fourier = fourier
        self.trend = trend
        self.window = window
        self.adapt_days = adapt_days
        self.adapt_weight = adapt_weight
        self.seasonal_profile = seasonal_profile
        self.after_holiday = after_holiday
        self.short_adapt = short_adapt
        self.x_by_hour = x_by_hour
        if alpha_by not in (None, "hour"):
            raise HospOpsError(f"Unknown dispersion grouping {alpha_by!r}: use None or 'hour'.")
        self.alpha_by = alpha_by
        self.halflife_days = halflife_days
        self.named_days = named_days
        self.alias = alias or f"glm_{family}"
        self.beta_ = None

    needs = 8

    def _design(self, ds, X) -> np.ndarray:
        cols = []
        slots = F.slot_index(ds, self.slot_freq_, self.hol_)
        onehot = np.zeros((len(ds), self.n_slots_))
        onehot[np.arange(len(ds)), np.minimum(slots, self.n_slots_ - 1) if self.n_slots_ > 1 else 0] = 1.0
        cols.append(onehot)
        if self.use_trend_:
            cols.append(F.years_since(ds, self.t_end_)[:, None])
        if self.k_:
            cols.append(F.fourier(ds, self.k_))
        if self.hol_:
            cols.append(F.is_holiday(ds, self.hol_)[:, None])
            if self.named_days:
                cols.append(F.named_days(ds, self.hol_))
            if self.after_holiday:
                cols.append(F.is_holiday(pd.DatetimeIndex(ds) - pd.Timedelta(days=1), self.hol_)[:, None])
        if self.seasonal_profile and self.k_ and self.slot_freq_ == "h":
            # the daily profile drifts through the year (light evenings): hour of day x first harmonic
            hod = np.zeros((len(ds), 24))
            hod[np.arange(len(ds)), F.local_clock(ds).hour.to_numpy()] = 1.0
            f1 = F.fourier(ds, 1)
            cols.append(hod[:, 1:] * f1[:, :1])
            cols.append(hod[:, 1:] * f1[:, 1:2])
        if self.xcols_:
            if X is None or len(X) != len(ds):
                raise HospOpsError(
                    f"{self.alias} was fitted with the regressors {', '.join(self.xcols_)}; give their "
                    f"values for all {len(ds)} forecast steps."
                )
            xv = X[self.xcols_].to_numpy(dtype=float)
            cols.append(xv)
            if self.x_by_hour and self.slot_freq_ == "h":
                hod = np.zeros((len(ds), 24))
                hod[np.arange(len(ds)), F.local_clock(ds).hour.to_numpy()] = 1.0
                for j in range(xv.shape[1]):
                    cols.append(hod[:, 1:] * xv[:, j:j + 1])
        return np.column_stack(cols)

    def _fit(self, X):
        df = _history(self.df_, self.window)
        if X is not None:
            X = X.iloc[-len(df):].reset_index(drop=True)
        keep = df["y"].notna().to_numpy()
        ds = df["ds"]
        span_days = (ds.iloc[-1] - ds.iloc[0]) / pd.Timedelta(days=1)
        # short histories: fewer terms, so nothing is extrapolated that the data cannot support
        self.slot_freq_ = self.freq_
        if self.freq_ == "h" and span_days < 14:
            self.slot_freq_ = "hod"
        if self.freq_ == "D" and span_days < 14:
            self.slot_freq_ = "none"
        if self.freq_ == "MS" and span_days < 700:
            self.slot_freq_ = "none"
        self.n_slots_ = {"h": 168, "hod": 24, "D": 7, "MS": 12}.get(self.slot_freq_, 1)
        self.use_trend_ = bool(self.trend and span_days >= 365)
        k = self.fourier if self.fourier is not None else (4 if self.freq_ in ("h", "D") else 0)
        self.k_ = k if span_days >= 1.5 * 365 else 0
        self.t_end_ = ds.iloc[-1]
        end_pad = ds.iloc[-1] + pd.Timedelta(days=800)
        self.hol_ = F.holiday_dates(self.country, ds.iloc[0], end_pad, self.subdiv, self.holidays) \
            if (self.country or self.holidays) and self.freq_ in ("h", "D") else frozenset()
        self.xcols_ = [] if X is None else [c for c in X.columns if c not in ("ds", "unique_id")]
        D = self._design(ds, X)
        y = df["y"].to_numpy(dtype=float)
        off = np.log(np.maximum(df["hours"].to_numpy(dtype=float), 1e-9))
        # columns with no data (a slot never seen, no holiday in history) would make the fit singular
        Dk, yk, ok = D[keep], y[keep], off[keep]
        self.active_ = np.abs(Dk).sum(axis=0) > 0
        warm = self.beta_[self.active_] if (self.beta_ is not None and len(self.beta_) == D.shape[1]) else None
        n_hot = int(self.active_[: self.n_slots_].sum()) if self.n_slots_ > 1 else 0
        wts = None
        if self.halflife_days:
            age = ((ds.iloc[-1] - ds[keep]) / pd.Timedelta(days=1)).to_numpy(dtype=float)
            wts = 0.5 ** (age / float(self.halflife_days))
        beta = poisson_irls(Dk[:, self.active_], yk, ok, warm, onehot=n_hot, weights=wts)
        self.beta_ = np.zeros(D.shape[1])
        self.beta_[self.active_] = beta
        mu = np.exp(np.clip(Dk @ self.beta_ + ok, -30, 30))
        self.alpha_ = negbin_alpha(yk, mu) if self.family == "negbin" else 0.0
        self.alpha_hod_ = None
        if self.family == "negbin" and self.alpha_by == "hour" and self.freq_ == "h":
            hod = F.local_clock(ds[keep]).hour.to_numpy()
            self.alpha_hod_ = np.array([negbin_alpha(yk[hod == h], mu[hod == h]) if (hod == h).sum() >= 50
                                        else self.alpha_ for h in range(24)])
        self.factor_ = 1.0
        if self.adapt_days:
            steps = {"h": 24, "D": 1}.get(self.freq_, 1)
            n = max(1, int(round(self.adapt_days * steps)))
            obs, fit = yk[-n:].sum(), mu[-n:].sum()
            if fit > 0 and obs > 0:
                self.factor_ = float((obs / fit) ** self.adapt_weight)
        self.short_ = 1.0
        if self.short_adapt:
            n, _, _ = self.short_adapt
            obs, fit = yk[-int(n):].sum(), (mu[-int(n):] * self.factor_).sum()
            if fit > 0:
                self.short_ = float((obs + 1.0) / (fit + 1.0))

    def _dist(self, h, X):
        ds, hours = self.future(h)
        if X is not None:
            X = X.reset_index(drop=True).iloc[:h]
        D = self._design(pd.Series(ds), X)
        # an unseen slot (short history) borrows the average level of the seen ones
        beta = self.beta_.copy()
        slots_seen = self.active_[: self.n_slots_]
        if not slots_seen.all() and slots_seen.any():
            beta[: self.n_slots_][~slots_seen] = beta[: self.n_slots_][slots_seen].mean()
        mu = np.exp(np.clip(D @ beta + np.log(hours), -30, 30)) * self.factor_
        if self.short_adapt and self.short_ != 1.0:
            _, w, decay = self.short_adapt
            mu = mu * self.short_ ** (w * np.exp(-np.arange(h) / float(decay)))
        alpha = self.alpha_
        if getattr(self, "alpha_hod_", None) is not None:
            alpha = self.alpha_hod_[F.local_clock(ds).hour.to_numpy()]
        return CountDist(mu, alpha)


# ---------------------------------------------------------------------------------------------- Prophet
class ProphetModel(Forecaster):
    """Prophet with the country's public holidays; quantiles from its predictive samples (fixed seed).

    Hourly series use the last ``window`` points (default one year) to keep the fit to seconds.
    """

    alias = "prophet"

    def __init__(self, country: Optional[str] = None, window: Optional[int] = None, samples: int = 300,
                 seed: int = 0, **kw):
        super().__init__(**kw)
        self.country = country
        self.window = window
        self.samples = samples
        self.seed = seed

    def _fit(self, X):
        # prophet.plot says at ERROR that plotly is missing; cmdstanpy gives its logger a console handler at
        # DEBUG on first use unless it has one already
        logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
        stan = logging.getLogger("cmdstanpy")
        if not stan.handlers:
            stan.addHandler(logging.NullHandler())
        for name in ("cmdstanpy", "prophet"):
            logging.getLogger(name).setLevel(logging.ERROR)
        with _quiet():
            from prophet import Prophet

        window = self.window or {"h": 24 * 365}.get(self.freq_)
        d = _history(self.df_, window).dropna(subset=["y"])
        span = (d["ds"].iloc[-1] - d["ds"].iloc[0]) / pd.Timedelta(days=1)
        m = Prophet(
            daily_seasonality=self.freq_ == "h",
            weekly_seasonality=self.freq_ in ("h", "D"),
            yearly_seasonality=span >= 2 * 365 or (self.freq_ in ("W", "MS") and span >= 2 * 365),
            uncertainty_samples=self.samples,
        )
        if self.country and self.freq_ in ("h", "D"):
            m.add_country_holidays(country_name=self.country)
        with _quiet():
            m.fit(pd.DataFrame({"ds": F.local_clock(d["ds"]), "y": d["y"].to_numpy()}))
        self.m_ = m

    def _dist(self, h, X):
        ds, _ = self.future(h)
        fut = pd.DataFrame({"ds": F.local_clock(ds)})
        state = np.random.get_state()
        np.random.seed(self.seed)
        try:
            with _quiet():
                draws = self.m_.predictive_samples(fut)["yhat"]
        finally:
            np.random.set_state(state)
        return SampleDist(list(np.asarray(draws, float)))


# --------------------------------------------------------------------------------------------- ensemble
class Ensemble(Forecaster):
    """Average of the members' quantile functions and means (all members fitted on the same data)."""

    alias = "ensemble"

    def __init__(self, members: Sequence[Forecaster], alias: str = "ensemble", **kw):
        super().__init__(**kw)
        if not members:
            raise HospOpsError("An ensemble needs at least one member model.")
        self.members = list(members)
        self.alias = alias

    def _fit(self, X):
        for m in self.members:
            m.tz = m.tz or self.tz
            m.fit(self.df_, X)

    def _dist(self, h, X) -> Dist:
        return QuantileAverage([m.predict_dist(h, X) for m in self.members])
