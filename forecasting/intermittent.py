"""Intermittent demand: Croston, SBA (Syntetos–Boylan approximation) and TSB (Teunter–Syntetos–Babai).

Each gives a per-period demand distribution, not only a rate: zero with probability ``1 − p``, otherwise a
size from the empirical distribution of past non-zero demands rescaled to the smoothed size. Croston and
SBA take ``p = 1 / smoothed interval``; SBA multiplies the size by ``1 − α/2`` (its bias correction); TSB
smooths the occurrence probability every period, so it decays after a run of zeros (obsolescence).

``PooledNB`` is a different kind: one negative binomial regression fitted on a whole panel of intermittent
series at once, for catalogues of many slow-moving items (see its docstring).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from forecasting.base import CountDist, Forecaster, MixtureZeroDist


class Croston(Forecaster):
    alias = "croston"
    needs = 3

    def __init__(self, alpha: float = 0.1, **kw):
        super().__init__(**kw)
        if not 0 < alpha <= 1:
            raise ValueError("alpha must be in (0, 1]")
        self.alpha = alpha

    def _sizes_intervals(self):
        y = np.nan_to_num(self.df_["y"].to_numpy(dtype=float))
        y = np.maximum(y, 0)
        nz = np.flatnonzero(y > 0)
        return y, nz

    def _fit(self, X):
        y, nz = self._sizes_intervals()
        self.sizes_ = y[nz] if len(nz) else np.ones(1)
        if len(nz) == 0:
            self.z_, self.x_ = 0.0, float(len(y))
            return
        a = self.alpha
        z, x = y[nz[0]], float(nz[0] + 1)
        for k in range(1, len(nz)):
            z = z + a * (y[nz[k]] - z)
            x = x + a * ((nz[k] - nz[k - 1]) - x)
        self.z_, self.x_ = float(z), float(max(x, 1.0))

    def _size_factor(self) -> float:
        return 1.0

    def _dist(self, h, X):
        p = np.full(h, 1.0 / self.x_ if self.z_ > 0 else 0.0)
        return MixtureZeroDist(p, np.full(h, self.z_ * self._size_factor()), self.sizes_)


class SBA(Croston):
    alias = "sba"

    def _size_factor(self) -> float:
        return 1.0 - self.alpha / 2


class TSB(Forecaster):
    alias = "tsb"
    needs = 3

    def __init__(self, alpha: float = 0.1, beta: float = 0.1, **kw):
        super().__init__(**kw)
        self.alpha = alpha
        self.beta = beta

    def _fit(self, X):
        y = np.maximum(np.nan_to_num(self.df_["y"].to_numpy(dtype=float)), 0)
        nz = y > 0
        self.sizes_ = y[nz] if nz.any() else np.ones(1)
        p = float(nz[: max(1, min(len(y), 12))].mean())
        z = float(y[nz][0]) if nz.any() else 0.0
        for v, occ in zip(y, nz):
            p = p + self.beta * (float(occ) - p)
            if occ:
                z = z + self.alpha * (v - z)
        self.p_, self.z_ = p, z

    def _dist(self, h, X):
        return MixtureZeroDist(np.full(h, self.p_), np.full(h, self.z_), self.sizes_)


class PooledNB:
    """A global negative binomial regression for a panel of intermittent series (one model for all of them).

    Per-series intermittent methods have a few dozen mostly-zero points to learn from; this model learns
    how next year's demand relates to a series' own recent history from every series at once (the
    "global model" idea of the M5 winners, here as a count GLM). For each series and each training window
    (the history up to ``w`` steps before the end, for ``w`` in ``windows``, each followed by ``horizon``
    known steps) the features of the history are: log of exponentially weighted means (half-lives 2 and 6
    steps), log of the last 12 steps' mean and of the whole mean, log of 1 + steps since the last demand,
    the share of non-zero steps in the last 12 and in the 12 before, and the step ahead. The mean is a
    Poisson GLM on them (log link); the NB2 dispersion is estimated by maximum likelihood separately within
    ``bins`` groups of the recent non-zero share (sparse series are far more dispersed than busy ones).
    Forecasts are ``CountDist(mu, alpha, discrete=True)``: quantiles are the count's own quantiles.
    ``interactions=True`` lets the mean's relation bend: the five log-level features (EWMAs, 12-month and
    whole mean, time since the last demand) each also enter multiplied by the recent non-zero share, and
    the two log EWMAs squared (busy and sparse parts then extrapolate their history differently).

    ``fit(df)`` takes a long table ``unique_id, ds, y`` with several series (missing values count as no
    demand in the features and are skipped as targets); ``predict_dist(h)`` returns ``{unique_id: Dist}``.
    """

    alias = "pooled_nb"

    def __init__(self, horizon: int = 12, windows: tuple = (12, 24), bins: int = 8, interactions: bool = False):
        if horizon < 1 or not windows or min(windows) < horizon:
            raise ValueError("windows must be at least the horizon, and the horizon at least 1")
        self.horizon = int(horizon)
        self.windows = tuple(int(w) for w in windows)
        self.bins = int(bins)
        self.interactions = bool(interactions)
        if self.interactions:
            self.alias = "pooled_nb_x"

    @staticmethod
    def _ewm(y: np.ndarray, hl: float) -> float:
        w = 0.5 ** (np.arange(len(y))[::-1] / hl)
        return float((w * y).sum() / w.sum())

    def _features(self, y: np.ndarray) -> np.ndarray:
        nz = np.flatnonzero(y > 0)
        since = (len(y) - 1 - nz[-1]) if len(nz) else len(y)
        prev = y[-24:-12] if len(y) >= 24 else y
        return np.array([np.log(self._ewm(y, 2) + 0.1), np.log(self._ewm(y, 6) + 0.1),
                         np.log(y[-12:].mean() + 0.1), np.log(y.mean() + 0.1), np.log1p(since),
                         float((y[-12:] > 0).mean()), float((prev > 0).mean())])

    def _rows(self, f: np.ndarray, h: int) -> np.ndarray:
        return np.column_stack([np.ones(h), np.tile(f, (h, 1)), np.arange(h) / 12.0])

    def _design(self, X: np.ndarray) -> np.ndarray:
        """The mean's regressors from the rows of ``_rows`` (the rows themselves unless ``interactions``)."""
        if not self.interactions:
            return X
        share = X[:, 6:7]
        return np.column_stack([X, X[:, 1:6] * share, X[:, 1:3] ** 2])

    def fit(self, df) -> "PooledNB":
        import pandas as pd

        from forecasting.models import negbin_alpha, poisson_irls

        if not {"unique_id", "ds", "y"} <= set(df.columns):
            raise ValueError("PooledNB.fit needs a long table unique_id, ds, y")
        H = self.horizon
        self.hist_ = {}
        X, T = [], []
        for uid, g in df.sort_values(["unique_id", "ds"]).groupby("unique_id", sort=False):
            y = pd.to_numeric(g["y"], errors="coerce").to_numpy(dtype=float)
            self.hist_[uid] = np.nan_to_num(np.maximum(y, 0.0))
            for w in self.windows:
                cut = len(y) - w
                if cut < 3:
                    continue
                tgt = y[cut:cut + H]
                ok = np.isfinite(tgt)
                if ok.any():
                    X.append(self._rows(self._features(self.hist_[uid][:cut]), len(tgt))[ok])
                    T.append(np.maximum(tgt[ok], 0.0))
        if not X:
            raise ValueError("PooledNB: no series is long enough for its training windows")
        X, T = np.vstack(X), np.concatenate(T)
        Z = self._design(X)
        self.beta_ = poisson_irls(Z, T, np.zeros(len(T)))
        mu = np.exp(np.clip(Z @ self.beta_, -30, 30))
        self.alpha0_ = negbin_alpha(T, mu)
        share = X[:, 6]
        self.edges_ = np.unique(np.quantile(share, np.linspace(0, 1, self.bins + 1)[1:-1]))
        b = np.digitize(share, self.edges_)
        self.alpha_ = np.array([negbin_alpha(T[b == k], mu[b == k]) if (b == k).sum() >= 30 else self.alpha0_
                                for k in range(len(self.edges_) + 1)])
        return self

    def predict_dist(self, h: Optional[int] = None) -> dict:
        h = int(h or self.horizon)
        out = {}
        for uid, y in self.hist_.items():
            X = self._rows(self._features(y), h)
            mu = np.exp(np.clip(self._design(X) @ self.beta_, -30, 30))
            alpha = self.alpha_[np.digitize(X[:1, 6], self.edges_)[0]]
            out[uid] = CountDist(mu, alpha, discrete=True)
        return out
