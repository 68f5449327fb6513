"""Expected admissions per hour by specialty, for the bed outlook.

Per specialty: the daily admissions count regression (negative binomial, day-of-week levels, holidays)
fitted on the days before ``start``, spread over the hours of each day by the specialty's hour-of-day by
day-of-week admission profile over the last year. Each hour's distribution is negative binomial with the
daily model's dispersion.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from datasets.errors import HospOpsError
from datasets.progress import Reporter
from forecasting.base import CountDist, dist_frame, level_columns
from forecasting.models import CountGLM
from forecasting.series import load_series


def admissions_forecast(
    ws,
    start,
    hours: int,
    specialties: Optional[Sequence[str]] = None,
    level: Sequence[int] = (80, 95),
    progress: Optional[Callable[[float, str], None]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
) -> pd.DataFrame:
    """``specialty, ds, mean, lo-80, hi-80, lo-95, hi-95`` for each hour in ``[start, start + hours)``."""
    if int(hours) != hours or not 1 <= hours <= 24 * 28:
        raise HospOpsError(f"hours must be a whole number from 1 to 672 (got {hours}).")
    rep = Reporter(progress, should_stop)
    start = pd.Timestamp(start).floor("h")
    day0 = start.normalize()
    specs = list(specialties) if specialties else [
        s for (s,) in ws.sql("SELECT DISTINCT specialty FROM stays WHERE specialty IS NOT NULL ORDER BY 1")]
    if not specs:
        raise HospOpsError("No admissions with a specialty in this workspace.")
    prof = ws.df(
        "SELECT specialty, dayofweek(admit_ts) AS dow, hour(admit_ts) AS hod, count(*) AS n FROM stays "
        "WHERE admit_ts < ? AND admit_ts >= ? - INTERVAL 365 DAY GROUP BY ALL", [start, start])
    hours_idx = pd.date_range(start, periods=int(hours), freq="h")
    cols = level_columns(level)
    out = []
    for k, spec in enumerate(specs):
        rep(k / len(specs), f"admissions: {spec}")
        y = load_series(ws, f"admissions_daily:{spec}")
        hist = y[y["ds"] < day0]
        if len(hist) < 14:
            raise HospOpsError(f"Too little admissions history before {start:%Y-%m-%d} for {spec}.")
        m = CountGLM("negbin", country=ws.settings().get("country"), freq="D").fit(hist)
        n_days = int((hours_idx[-1].normalize() - hist["ds"].iloc[-1]) / pd.Timedelta(days=1))
        dd = m.predict_dist(n_days)
        days = m.future(n_days)[0]
        daily = pd.Series(dd.mean, index=days)
        p = prof[prof["specialty"] == spec]
        # DuckDB dayofweek: Sunday = 0; pandas: Monday = 0
        table = np.full((7, 24), 1.0)
        for r in p.itertuples():
            table[(int(r.dow) + 6) % 7, int(r.hod)] += r.n
        table /= table.sum(axis=1, keepdims=True)
        mu = np.array([daily.get(t.normalize(), daily.iloc[-1]) * table[t.day_of_week, t.hour] for t in hours_idx])
        fr = dist_frame(hours_idx, CountDist(mu, m.alpha_), cols)
        fr.insert(0, "specialty", spec)
        out.append(fr)
    rep(1.0, "done")
    return pd.concat(out, ignore_index=True)
