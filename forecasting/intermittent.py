"""Intermittent demand: Croston, SBA (Syntetos–Boylan approximation) and TSB (Teunter–Syntetos–Babai).

Each gives a per-period demand distribution, not only a rate: zero with probability ``1 − p``, otherwise a
size from the empirical distribution of past non-zero demands rescaled to the smoothed size. Croston and
SBA take ``p = 1 / smoothed interval``; SBA multiplies the size by ``1 − α/2`` (its bias correction); TSB
smooths the occurrence probability every period, so it decays after a run of zeros (obsolescence).
"""
from __future__ import annotations

import numpy as np

from forecasting.base import Forecaster, MixtureZeroDist


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
