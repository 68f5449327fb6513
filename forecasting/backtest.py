"""Rolling-origin backtests, their metrics, and model selection by backtest.

``cross_validation`` returns a long table as statsforecast does: one row per model, origin (``cutoff``, the
last time the model saw) and step, with the actual ``y``, the ``mean`` and the quantiles ``q0.05`` ...
``metrics`` turns it into one row per model: MAE, RMSE, MASE (scaled by the in-sample seasonal-naive MAE),
mean pinball loss over the quantiles, a CRPS approximation (twice the mean pinball over the quantile
grid), each central interval's empirical coverage and the quantile bias (mean over levels of
|nominal − share of observations strictly below the quantile|).
"""
from __future__ import annotations

import copy
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from datasets.errors import HospOpsError
from datasets.progress import Reporter
from forecasting.base import PINBALL_QUANTILES, Forecaster, as_series, qcol



def cutoffs_for(n: int, horizon: int, n_windows: int, step: Optional[int] = None, min_train: int = 2) -> list[int]:
    """Positions (index of the last training point) of ``n_windows`` origins, the last leaving ``horizon``."""
    step = step or horizon
    last = n - horizon - 1
    pos = [last - k * step for k in range(n_windows)][::-1]
    pos = [p for p in pos if p + 1 >= min_train]
    if not pos:
        raise HospOpsError(
            f"The series is too short to backtest a horizon of {horizon} steps: it has {n} points.",
            hint="Shorten the horizon, or forecast without a backtest.",
        )
    return pos


def cross_validation(
    models: Sequence[Forecaster],
    y,
    horizon: int,
    n_windows: int = 3,
    step: Optional[int] = None,
    refit_every: int = 1,
    train_window: Optional[int] = None,
    cutoff_positions: Optional[Sequence[int]] = None,
    quantiles: Sequence[float] = PINBALL_QUANTILES,
    X: Optional[pd.DataFrame] = None,
    progress: Optional[Callable[[float, str], None]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
) -> pd.DataFrame:
    """Rolling-origin evaluation of each model; see the module docstring for the table it returns.

    ``refit_every=k`` refits at every k-th origin; in between, the last fit forecasts further ahead (it does
    not see the newer data). ``train_window`` keeps only that many most recent points per fit.
    """
    if horizon < 1:
        raise HospOpsError("The backtest horizon must be at least one step.")
    if refit_every < 1:
        raise HospOpsError("refit_every must be at least 1.")
    rep = Reporter(progress, should_stop)
    df = as_series(y)
    n = len(df)
    pos = list(cutoff_positions) if cutoff_positions is not None else cutoffs_for(
        n, horizon, n_windows, step, min_train=max(m.needs for m in models))
    if X is not None and len(X) != n:
        raise HospOpsError("The regressors X must have one row per point of the series.")
    qs = [float(q) for q in quantiles]
    frames = []
    total = len(models) * len(pos)
    done = 0
    for model in models:
        fitted = None
        fitted_at = None
        for k, c in enumerate(pos):
            rep(done / total, f"backtest {model.alias}: origin {k + 1} of {len(pos)}")
            if fitted is None or k % refit_every == 0:
                lo = 0 if not train_window else max(0, c + 1 - train_window)
                fitted = copy.deepcopy(model)
                fitted.fit(df.iloc[lo:c + 1], None if X is None else X.iloc[lo:c + 1])
                fitted_at = c
            ahead = c - fitted_at
            hh = horizon + ahead
            fx = None if X is None else X.iloc[fitted_at + 1:fitted_at + 1 + hh].reset_index(drop=True)
            dist = fitted.predict_dist(hh, fx)
            qv = np.sort(dist.quantile(qs), axis=1)[ahead:]
            target = df.iloc[c + 1:c + 1 + horizon]
            m = min(len(target), horizon)
            part = pd.DataFrame({
                "model": model.alias,
                "cutoff": df["ds"].iloc[c],
                "ds": target["ds"].to_numpy()[:m],
                "step": np.arange(1, m + 1),
                "y": target["y"].to_numpy()[:m],
                "mean": dist.mean[ahead:ahead + m],
            })
            for j, q in enumerate(qs):
                part[qcol(q)] = qv[:m, j]
            frames.append(part)
            done += 1
    rep(1.0, "backtest done")
    return pd.concat(frames, ignore_index=True)


def add_ensemble(cv: pd.DataFrame, members: Sequence[str], alias: str = "ensemble") -> pd.DataFrame:
    """Append the quantile-averaged ensemble of ``members`` (exact: same levels at the same origins)."""
    sub = cv[cv["model"].isin(members)]
    if sub.empty:
        return cv
    cols = [c for c in cv.columns if c == "mean" or c.startswith("q")]
    ens = sub.groupby(["cutoff", "ds", "step"], as_index=False).agg({"y": "first", **{c: "mean" for c in cols}})
    ens.insert(0, "model", alias)
    return pd.concat([cv, ens[cv.columns]], ignore_index=True)


def seasonal_scale(y, season: int) -> float:
    """In-sample MAE of the seasonal naive forecast (MASE denominator); the naive-1 one if too short."""
    v = np.asarray(as_series(y)["y"], float) if not isinstance(y, np.ndarray) else np.asarray(y, float)
    m = season if len(v) > season else 1
    d = np.abs(v[m:] - v[:-m])
    d = d[np.isfinite(d)]
    s = float(d.mean()) if len(d) else np.nan
    return s if s > 0 else np.nan


def quantile_columns(cv: pd.DataFrame) -> list[tuple[float, str]]:
    return sorted((float(c[1:]), c) for c in cv.columns if c.startswith("q") and c[1:].replace(".", "").isdigit())


def metrics(cv: pd.DataFrame, scale: float = np.nan, levels: Sequence[int] = (80, 95)) -> pd.DataFrame:
    """One row per model: mae, rmse, mase, pinball, crps, quantile_bias, coverage_80, coverage_95, n (points
    scored) and windows (origins that scored any)."""
    qc = quantile_columns(cv)
    rows = []
    for name, g in cv.groupby("model", sort=False):
        g = g[np.isfinite(g["y"].to_numpy(dtype=float))]
        y = g["y"].to_numpy(dtype=float)
        err = g["mean"].to_numpy(dtype=float) - y
        row = {"model": name, "n": int(len(g)),
               "windows": int(g["cutoff"].nunique()) if "cutoff" in g.columns else 0,
               "mae": float(np.mean(np.abs(err))),
               "rmse": float(np.sqrt(np.mean(err ** 2)))}
        row["mase"] = row["mae"] / scale if scale and np.isfinite(scale) else np.nan
        if qc:
            lv = np.array([q for q, _ in qc])
            Q = g[[c for _, c in qc]].to_numpy(dtype=float)
            # pinball, CRPS and bias over the 19 levels 0.05..0.95 when present (the extra interval
            # levels such as 0.025/0.975 only serve the coverage figures)
            std = np.array([any(abs(q - s) < 1e-9 for s in PINBALL_QUANTILES) for q in lv])
            if not std.any():
                std[:] = True
            diff = y[:, None] - Q[:, std]
            pin = np.where(diff >= 0, lv[std] * diff, (lv[std] - 1) * diff)
            row["pinball"] = float(pin.mean())
            row["crps"] = float(2 * pin.mean())
            row["quantile_bias"] = float(np.mean(np.abs(lv[std] - (Q[:, std] > y[:, None]).mean(axis=0))))
            for level in levels:
                lo, hi = 0.5 - level / 200, 0.5 + level / 200
                jl = _nearest(lv, lo)
                jh = _nearest(lv, hi)
                if jl is None or jh is None:
                    row[f"coverage_{level}"] = np.nan
                else:
                    row[f"coverage_{level}"] = float(np.mean((Q[:, jl] <= y) & (y <= Q[:, jh])))
        rows.append(row)
    return pd.DataFrame(rows)


def _nearest(lv: np.ndarray, q: float) -> Optional[int]:
    j = int(np.argmin(np.abs(lv - q)))
    return j if abs(lv[j] - q) < 1e-6 else None


def select_best(table: pd.DataFrame, by: str = "pinball") -> str:
    """The model with the lowest ``by`` (falling back to MAE where a model has no quantiles)."""
    t = table.copy()
    key = by if by in t.columns and t[by].notna().any() else "mae"
    t = t[np.isfinite(t[key].to_numpy(dtype=float))]
    if t.empty:
        raise HospOpsError("No model could be scored in the backtest.")
    return str(t.sort_values([key, "mae"]).iloc[0]["model"])
