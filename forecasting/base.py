"""The one interface every forecaster follows, and the predictive distributions behind it.

A model is a plain object (statsforecast's shape): the constructor stores parameters and an ``alias``;
``fit(y, X=None)`` returns ``self``; ``predict(h, X=None, level=(80, 95))`` gives a table with ``ds``,
``mean``, ``lo-80``, ``hi-80``, ``lo-95``, ``hi-95``; ``predict_quantiles(h, quantiles)`` gives ``ds``,
``mean`` and one column per quantile (``q0.05`` ...). Under both sits ``predict_dist(h, X)``: the model's
predictive distribution for each of the next ``h`` steps, from which every quantile is a deterministic
function (no sampling noise, no jitter).

Series are long tables ``unique_id, ds, y`` (one id per fit), optionally with ``hours``: the number of real
hours a local wall-clock hour label stands for (23/25-hour DST days, see ``datasets.metrics``). Timestamps
may be naive local time (the workspace convention; pass ``tz`` so the future grid skips the spring-forward
hour and merges the repeated autumn hour) or time-zone aware (the grid steps real hours).

Counts are never forecast negative: every distribution here is clipped at zero (``lower=0``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from datasets.errors import HospOpsError

DEFAULT_LEVELS = (80, 95)
PINBALL_QUANTILES = tuple(round(0.05 * i, 2) for i in range(1, 20))  # 0.05 .. 0.95, as the Wales paper

FREQ_SEASON = {"h": 24, "D": 7, "W": 52, "MS": 12}
FREQ_LABEL = {"h": "hourly", "D": "daily", "W": "weekly", "MS": "monthly"}


# ------------------------------------------------------------------------------------------- series helpers
def infer_freq(ds: pd.Series | pd.DatetimeIndex) -> str:
    """'h', 'D', 'W' or 'MS' from the spacing of the timestamps (median step)."""
    idx = pd.DatetimeIndex(ds)
    if len(idx) < 2:
        raise HospOpsError("A series needs at least two time points to tell its frequency.")
    step = pd.Series(idx).diff().dropna().median()
    hours = step / pd.Timedelta(hours=1)
    if 0.9 <= hours <= 1.1:
        return "h"
    if 23 <= hours <= 25:
        return "D"
    if 6.5 * 24 <= hours <= 7.5 * 24:
        return "W"
    if 27 * 24 <= hours <= 32 * 24:
        return "MS"
    raise HospOpsError(
        f"Cannot tell the series' frequency: its time points are {step} apart.",
        hint="Use hourly, daily, weekly or monthly data.",
    )


def as_series(y) -> pd.DataFrame:
    """A sorted frame ``ds, y, hours`` from a long table, a ``(ds, y)`` frame or a Series indexed by time."""
    if isinstance(y, pd.Series):
        df = pd.DataFrame({"ds": y.index, "y": y.to_numpy()})
    elif isinstance(y, pd.DataFrame):
        if not {"ds", "y"} <= set(y.columns):
            raise HospOpsError("A series table needs the columns ds and y.")
        if "unique_id" in y.columns and y["unique_id"].nunique() > 1:
            raise HospOpsError("Fit one series at a time: the table has several unique_id values.")
        df = y[["ds", "y"] + (["hours"] if "hours" in y.columns else [])].copy()
    else:
        raise HospOpsError("A series must be a pandas DataFrame (ds, y) or a Series indexed by time.")
    df["ds"] = pd.to_datetime(df["ds"])
    df["y"] = pd.to_numeric(df["y"], errors="coerce").astype(float)
    if "hours" not in df.columns:
        df["hours"] = 1.0
    df["hours"] = df["hours"].fillna(1.0).astype(float)
    df = df.sort_values("ds").reset_index(drop=True)
    if df["ds"].duplicated().any():
        raise HospOpsError("The series has repeated time points; sum them first (one row per time).")
    if len(df) < 2:
        raise HospOpsError("A series needs at least two time points.")
    return df


def future_grid(last: pd.Timestamp, h: int, freq: str, tz: Optional[str] = None) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The next ``h`` time labels after ``last`` and the real hours each stands for.

    Hourly with naive local labels and a ``tz``: real hours are stepped in UTC and shown on the local wall
    clock, so the spring-forward hour never appears and the repeated autumn hour is one label with
    ``hours = 2`` (as ``ed_arrivals_hourly``). Otherwise plain calendar steps with ``hours = 1``.
    """
    last = pd.Timestamp(last)
    if freq == "h" and tz and last.tzinfo is None:
        try:
            aware = last.tz_localize(tz, ambiguous=False, nonexistent="shift_forward")
        except Exception as exc:  # unknown zone name
            raise HospOpsError(f"Unknown time zone {tz!r}.") from exc
        real = aware + pd.to_timedelta(np.arange(1, h + 4), unit="h")
        local = real.tz_convert(tz).tz_localize(None)
        labels, first, counts = np.unique(local.to_numpy(), return_index=True, return_counts=True)
        order = np.argsort(first)
        labels, counts = labels[order][:h], counts[order][:h]
        return pd.DatetimeIndex(labels), counts.astype(float)
    # a week is seven days from the last one, whichever weekday the series' weeks start on ("W" is pandas'
    # weeks ending on Sunday: a series of Mondays went on from the next Sunday)
    offset = pd.Timedelta(days=7) if freq == "W" else pd.tseries.frequencies.to_offset(freq)
    idx = pd.date_range(last + offset, periods=h, freq=offset)
    return idx, np.ones(h)


# ----------------------------------------------------------------------------------------- distributions
class Dist:
    """A predictive distribution for ``h`` steps: ``mean`` (h,) and ``quantile(qs)`` → (h, len(qs))."""

    mean: np.ndarray

    def quantile(self, qs: Sequence[float]) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self.mean)

    def sample_paths(self, n: int = 400, seed: int = 0) -> np.ndarray:
        """(n, h) draws, steps independent, by inverse CDF on a stratified grid (deterministic for a seed)."""
        grid = (np.arange(n) + 0.5) / n
        q = self.quantile(grid)  # (h, n)
        rng = np.random.default_rng(seed)
        out = np.empty((n, q.shape[0]))
        for i in range(q.shape[0]):
            out[:, i] = q[i, rng.permutation(n)]
        return out


@dataclass
class NormalDist(Dist):
    """Gaussian with a given mean and standard deviation per step, clipped at ``lower`` (0 for counts)."""

    mean: np.ndarray
    sd: np.ndarray
    lower: Optional[float] = 0.0

    def __post_init__(self):
        self.mean = np.asarray(self.mean, float)
        self.sd = np.maximum(np.asarray(self.sd, float), 0.0)
        if self.lower is not None:
            self.mean = np.maximum(self.mean, self.lower)

    def quantile(self, qs):
        z = stats.norm.ppf(np.asarray(qs, float))
        q = self.mean[:, None] + self.sd[:, None] * z[None, :]
        return np.maximum(q, self.lower) if self.lower is not None else q


@dataclass
class CountDist(Dist):
    """Poisson (``alpha = 0``) or negative binomial NB2 (variance ``mu + alpha mu²``) counts.

    Quantiles are those of the continuous variable ``Y + U − ½`` with ``U ~ Uniform(0, 1)``: the count's
    probability mass spread evenly over ``[k − ½, k + ½)``. That is a deterministic function of the count
    distribution, continuous and strictly increasing in the level, with the same mean as ``Y``; it gives
    quantiles between integers instead of the step function of a discrete quantile. Clipped at 0.
    ``discrete=True`` gives the count's own quantiles instead (the smallest ``k`` with ``F(k) >= p``): the
    choice for sparse counts, where most of the mass sits on 0 and 1 and the pinball loss of an integer
    outcome is smallest at an integer.
    """

    mean: np.ndarray
    alpha: float | np.ndarray = 0.0
    discrete: bool = False

    def __post_init__(self):
        self.mean = np.maximum(np.asarray(self.mean, float), 1e-9)

    def _dist(self, mu):
        a = np.asarray(self.alpha, float)
        if a.ndim == 1 and mu.ndim == 2 and len(a) == mu.shape[0]:  # one dispersion per step
            a = a[:, None]
        a = np.broadcast_to(a, mu.shape)
        if np.all(a <= 1e-8):
            return stats.poisson(mu)
        a = np.maximum(a, 1e-8)
        n = 1.0 / a
        return stats.nbinom(n, n / (n + mu))

    def quantile(self, qs):
        qs = np.clip(np.asarray(qs, float), 1e-9, 1 - 1e-9)
        mu = np.broadcast_to(self.mean[:, None], (len(self.mean), len(qs)))
        d = self._dist(mu)
        p = np.broadcast_to(qs[None, :], mu.shape)
        k = d.ppf(p)  # smallest k with F(k) >= p
        if self.discrete:
            return np.maximum(k, 0.0)
        f_below = np.where(k > 0, d.cdf(k - 1), 0.0)
        mass = np.maximum(d.pmf(k), 1e-300)
        frac = np.clip((p - f_below) / mass, 0.0, 1.0)
        return np.maximum(k - 0.5 + frac, 0.0)


@dataclass
class SampleDist(Dist):
    """Empirical distribution per step from draws or past values (list of 1-D arrays, one per step).

    Quantiles interpolate linearly between order statistics (R type 7). ``shift``/``scale`` are applied
    to every draw (used to move a seasonal profile onto the current level). Clipped at ``lower``.
    """

    draws: list
    lower: Optional[float] = 0.0

    def __post_init__(self):
        self.draws = [np.asarray(d, float) for d in self.draws]
        self.mean = np.array([d.mean() if len(d) else 0.0 for d in self.draws])
        if self.lower is not None:
            self.mean = np.maximum(self.mean, self.lower)

    def quantile(self, qs):
        qs = np.asarray(qs, float)
        out = np.vstack([np.quantile(d, qs) if len(d) else np.zeros(len(qs)) for d in self.draws])
        return np.maximum(out, self.lower) if self.lower is not None else out


@dataclass
class MixtureZeroDist(Dist):
    """Intermittent demand: zero with probability ``1 − p``, else a size drawn from ``sizes`` (scaled).

    The size distribution is the empirical one of past non-zero demands, rescaled so its mean equals the
    method's smoothed size; so ``mean = p × size``. Quantiles are exact for this mixture.
    """

    p: np.ndarray
    size_mean: np.ndarray
    sizes: np.ndarray

    def __post_init__(self):
        self.p = np.clip(np.asarray(self.p, float), 0.0, 1.0)
        self.size_mean = np.maximum(np.asarray(self.size_mean, float), 0.0)
        s = np.asarray(self.sizes, float)
        self.sizes = s / s.mean() if len(s) and s.mean() > 0 else np.ones(1)
        self.mean = self.p * self.size_mean

    def quantile(self, qs):
        qs = np.asarray(qs, float)
        p = self.p[:, None]
        cond = np.clip((qs[None, :] - (1 - p)) / np.maximum(p, 1e-12), 0.0, 1.0)
        rel = np.quantile(self.sizes, cond.ravel()).reshape(cond.shape)
        out = np.where(qs[None, :] <= 1 - p, 0.0, rel * self.size_mean[:, None])
        return np.maximum(out, 0.0)


@dataclass
class QuantileAverage(Dist):
    """The ensemble: the average of the members' quantile functions (Vincentization) and of their means."""

    members: list

    def __post_init__(self):
        self.mean = np.mean([m.mean for m in self.members], axis=0)

    def quantile(self, qs):
        return np.mean([m.quantile(qs) for m in self.members], axis=0)


@dataclass
class Recentered(Dist):
    """A combination's distribution: the shape of ``base`` (e.g. a quantile average) moved so that its median
    is the average of the ``centers``' medians (a point-forecast combination over more members than the
    spread is taken from: models with good point forecasts but poor intervals, such as Theta here, then
    add to the centre only). A fixed shift per step, clipped at ``lower``."""

    base: Dist
    centers: list
    lower: Optional[float] = 0.0

    def __post_init__(self):
        med = np.mean([m.quantile([0.5])[:, 0] for m in self.centers], axis=0)
        self.shift = med - self.base.quantile([0.5])[:, 0]
        self.mean = self.base.mean + self.shift
        if self.lower is not None:
            self.mean = np.maximum(self.mean, self.lower)

    def quantile(self, qs):
        q = self.base.quantile(qs) + self.shift[:, None]
        return np.maximum(q, self.lower) if self.lower is not None else q


# -------------------------------------------------------------------------------------------- the models
def level_columns(level: Iterable[int]) -> list[tuple[str, float]]:
    cols = []
    for lv in level:
        lv = float(lv)
        if not 0 < lv < 100:
            raise HospOpsError(f"A prediction interval level must be between 0 and 100, not {lv:g}.")
        tag = f"{lv:g}"
        cols.append((f"lo-{tag}", 0.5 - lv / 200))
        cols.append((f"hi-{tag}", 0.5 + lv / 200))
    return cols


def qcol(q: float) -> str:
    return f"q{q:g}"


class Forecaster:
    """Base class. Subclasses implement ``_fit(X)`` and ``_dist(h, X)``; data is in ``self.df_``."""

    alias = "model"
    needs = 2  # the fewest points the model can fit on
    probabilistic = True

    def __init__(self, freq: Optional[str] = None, tz: Optional[str] = None):
        self.freq = freq
        self.tz = tz

    # -- the interface
    def fit(self, y, X: Optional[pd.DataFrame] = None) -> "Forecaster":
        df = as_series(y)
        if df["y"].isna().all():
            raise HospOpsError(f"{self.alias}: the series has no values.")
        self.freq_ = self.freq or infer_freq(df["ds"])
        if len(df) < self.needs:
            raise HospOpsError(
                f"{self.alias} needs at least {self.needs} points of history; the series has {len(df)}."
            )
        self.df_ = df
        self.X_ = None if X is None else X.reset_index(drop=True)
        self._fit(self.X_)
        return self

    def future(self, h: int) -> tuple[pd.DatetimeIndex, np.ndarray]:
        self._check_fitted()
        return future_grid(self.df_["ds"].iloc[-1], h, self.freq_, self.tz)

    def predict_dist(self, h: int, X: Optional[pd.DataFrame] = None) -> Dist:
        self._check_fitted()
        if int(h) != h or h < 1:
            raise HospOpsError(f"The horizon must be a whole number of steps, at least 1 (got {h}).")
        return self._dist(int(h), X)

    def predict(self, h: int, X: Optional[pd.DataFrame] = None, level: Sequence[int] = DEFAULT_LEVELS) -> pd.DataFrame:
        cols = level_columns(level)
        dist = self.predict_dist(h, X)
        return dist_frame(self.future(h)[0], dist, cols)

    def predict_quantiles(self, h: int, quantiles: Sequence[float] = PINBALL_QUANTILES,
                          X: Optional[pd.DataFrame] = None) -> pd.DataFrame:
        qs = [float(q) for q in quantiles]
        if any(not 0 < q < 1 for q in qs):
            raise HospOpsError("Quantiles must lie strictly between 0 and 1.")
        dist = self.predict_dist(h, X)
        out = pd.DataFrame({"ds": self.future(h)[0], "mean": dist.mean})
        qv = np.sort(dist.quantile(qs), axis=1)
        for j, q in enumerate(qs):
            out[qcol(q)] = qv[:, j]
        return out

    # -- for subclasses
    def _fit(self, X):  # pragma: no cover - interface
        raise NotImplementedError

    def _dist(self, h: int, X) -> Dist:  # pragma: no cover - interface
        raise NotImplementedError

    def _check_fitted(self):
        if not hasattr(self, "df_"):
            raise HospOpsError(f"{self.alias}: call fit() before predict().")

    @property
    def season(self) -> int:
        return FREQ_SEASON.get(self.freq_, 1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alias={self.alias!r})"


def dist_frame(ds, dist: Dist, cols: list[tuple[str, float]]) -> pd.DataFrame:
    """``ds, mean, lo-80, hi-80, ...`` with lower ≤ mean ≤ upper guaranteed and nothing negative."""
    out = pd.DataFrame({"ds": ds, "mean": np.maximum(dist.mean, 0.0)})
    if cols:
        qv = np.maximum(dist.quantile([q for _, q in cols]), 0.0)
        mean = out["mean"].to_numpy()
        for j, (name, q) in enumerate(cols):
            # a very skewed count distribution can put its mean above an upper quantile; the band shown to
            # people must contain the point forecast, so it is widened to it in that rare case
            v = np.minimum(qv[:, j], mean) if q < 0.5 else np.maximum(qv[:, j], mean)
            out[name] = v
    return out

