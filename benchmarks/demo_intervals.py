"""Interval coverage on the demo hospital: the 80% and 95% bands of the ED arrivals models over its last year.

    python benchmarks/demo_intervals.py [--quick] [--json] [--models a,b] [--days N] [--max-origins K]

Builds the seeded demo hospital (``datasets.synthetic.build_demo``, 3 years by default) into a scratch
folder, loads ``ed_arrivals_hourly`` and ``ed_arrivals_daily`` through the same loaders the app uses
(so time zone, DST hours and the country's holidays are as in the app), and runs a rolling-origin
backtest over the last 365 days of each:

- hourly: an origin at every local midnight of the last year, 48 hours ahead (tonight and tomorrow), each
  model refit at every origin on all history before it;
- daily: an origin every day of the last year (the last leaving 28 days), 28 days ahead, refit at each.

Each model is built by ``forecasting.make_model`` exactly as ``hospops forecast`` builds it (the app's
defaults); the ensemble is the quantile average of the default set's non-naive members, as
``run_forecast`` makes it. Coverage of a band: the share of actual values inside [lo, hi] (inclusive).
Goal (issue 7): the 80% and 95% coverage within 3 points of nominal. ``--quick``: every 7th origin.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded, scratch_dir  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded, scratch_dir

# numpy after _common, which sets one BLAS thread before numpy loads
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

NAME = "demo_intervals"
LEVELS = (80, 95)
TOLERANCE = 0.03
SERIES = {
    # series: (horizon in steps, origin spacing in steps, models)
    "ed_arrivals_hourly": (48, 24, ("seasonal_naive", "empirical", "ets", "glm_negbin", "ensemble")),
    "ed_arrivals_daily": (28, 1, ("seasonal_naive", "empirical", "ets", "sarimax", "glm_negbin", "ensemble")),
}


def origins_for(df: pd.DataFrame, freq: str, horizon: int, spacing: int, days: int = 365) -> list[int]:
    """Positions of the last training point of each origin: the last ``days`` days, local midnights."""
    ds = pd.DatetimeIndex(df["ds"])
    start = ds[-1].normalize() - pd.Timedelta(days=days) + pd.Timedelta(days=1)
    first = int(np.searchsorted(ds, start))  # the first forecast point of the first origin
    if freq == "h":  # origins at local midnights: the last point seen is 23:00 the day before
        pos = [i - 1 for i in range(first, len(ds)) if ds[i].hour == 0]
    else:
        pos = list(range(first - 1, len(ds) - 1, spacing))
    return [p for p in pos if p + horizon < len(ds) and p >= 0]


def run_series(df: pd.DataFrame, name: str, models: Sequence[str], quick: bool,
               max_origins: Optional[int]) -> list[dict]:
    from forecasting import make_model
    from forecasting.backtest import add_ensemble, cross_validation, metrics

    freq, tz, country = df.attrs["freq"], df.attrs.get("tz"), df.attrs.get("country")
    horizon, spacing, _ = SERIES[name]
    pos = origins_for(df, freq, horizon, spacing)
    if quick:
        pos = pos[::7]
    if max_origins:
        pos = pos[:max_origins]
    qs = [0.025, 0.05, 0.1, 0.5, 0.9, 0.95, 0.975]
    members = [m for m in models if m not in ("seasonal_naive", "ensemble")]
    base = [m for m in models if m != "ensemble"]
    if "ensemble" in models:
        base += [m for m in members if m not in base]
    frames, secs = [], {}
    for m in base:
        t0 = time.perf_counter()
        frames.append(cross_validation([make_model(m, freq, tz, country)], df, horizon,
                                       cutoff_positions=pos, quantiles=qs))
        secs[m] = time.perf_counter() - t0
        log(f"  {name} {m}: {len(pos)} origins, {secs[m]:.1f} s")
    cv = pd.concat(frames, ignore_index=True)
    if "ensemble" in models and len(members) >= 2:
        cv = add_ensemble(cv, members)
        secs["ensemble"] = sum(secs[m] for m in members)
    table = metrics(cv, levels=LEVELS).set_index("model")
    rows = []
    for m in models:
        r = table.loc[m]
        row = {"series": name, "model": m, "origins": len(pos), "horizon": horizon, "n": int(r["n"]),
               "mae": rounded(r["mae"], 3)}
        for lv in LEVELS:
            c = float(r[f"coverage_{lv}"])
            row[f"coverage_{lv}"] = rounded(c, 4)
        row["within_3_points"] = bool(all(abs(row[f"coverage_{lv}"] - lv / 100) <= TOLERANCE for lv in LEVELS))
        row["seconds"] = rounded(secs.get(m, 0.0), 1)
        rows.append(row)
        log(f"{name} {m}: 80% {row['coverage_80']:.3f}  95% {row['coverage_95']:.3f}  "
            f"MAE {row['mae']:.2f}  {'ok' if row['within_3_points'] else 'MISS'}")
    return rows


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--models", default=None, help="comma-separated models (default: each series' set)")
    p.add_argument("--series", default=",".join(SERIES), help="comma-separated series")
    p.add_argument("--days", type=int, default=3 * 365, help="days of demo hospital (default 3 years)")
    p.add_argument("--max-origins", type=int, default=None)
    args = p.parse_args(argv)
    from datasets.store import Workspace
    from datasets.synthetic import build_demo
    from forecasting import load_series

    rows = []
    t_all = time.perf_counter()
    with scratch_dir(args.data_dir, "demo_intervals_") as d:
        path = d / "demo.hospops"
        log(f"building the demo hospital ({args.days} days)")
        build_demo(path, days=args.days)
        with Workspace.open(path, read_only=True) as ws:
            series = {s: load_series(ws, s) for s in args.series.split(",") if s}
    for s, df in series.items():
        models = SERIES[s][2] if not args.models else tuple(m for m in args.models.split(",") if m)
        rows += run_series(df, s, models, args.quick, args.max_origins)
    defaults = {"ed_arrivals_hourly": "glm_negbin", "ed_arrivals_daily": "glm_negbin"}
    met = all(r["within_3_points"] for r in rows if defaults.get(r["series"]) == r["model"])
    result = {"days": args.days, "levels": list(LEVELS), "tolerance": TOLERANCE, "rows": rows,
              "default_models": defaults, "goal_met": bool(met),
              "seconds": rounded(time.perf_counter() - t_all, 1)}
    return finish(NAME, args, result)


if __name__ == "__main__":
    main()
