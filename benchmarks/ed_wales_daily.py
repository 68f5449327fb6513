"""Daily ED arrivals, Wales (the hourly anchor summed by local day): MASE 1–28 days ahead over the last year.

    python benchmarks/ed_wales_daily.py [--quick] [--json] [--models a,b]

Origins: every day from 2018-03-01 to 2019-01-31 (the last leaving 28 days), each model refit on all days
before the origin and forecasting days 1..28. MASE: the mean absolute error over every (origin, day)
divided by the in-sample MAE of the weekly seasonal naive over the training days before 2018-03-01
(so the seasonal naive row shows how hard the test year is). The paper publishes no daily table.
``--quick``: every 7th origin. Holidays: the anchor's bank-holiday list; school holidays as a regressor.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded  # type: ignore
    from ed_wales_hourly import load as load_hourly  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded
    from .ed_wales_hourly import load as load_hourly

# numpy after _common, which sets one BLAS thread before numpy loads
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

NAME = "ed_wales_daily"
H = 28
DEFAULT_MODELS = ("seasonal_naive", "ets", "sarimax", "glm_negbin")


def daily():
    df, bank = load_hourly()
    day = df["ds"].dt.tz_localize(None).dt.normalize()
    d = df.groupby(day).agg(y=("y", "sum"), school=("school", "max")).reset_index().rename(columns={"ds": "ds"})
    d.columns = ["ds", "y", "school"]
    return d, bank


def make(name, bank):
    from forecasting.models import ETS, SARIMAX, CountGLM, ProphetModel, SeasonalNaive

    return {
        "seasonal_naive": lambda: (SeasonalNaive(), False),
        "ets": lambda: (ETS(auto=True), False),
        "sarimax": lambda: (SARIMAX(), False),
        "glm_negbin": lambda: (CountGLM("negbin", holidays=bank, adapt_days=14, adapt_weight=0.5), True),
        "prophet": lambda: (ProphetModel(country="GB"), False),
    }[name]()


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(DEFAULT_MODELS))
    p.add_argument("--max-origins", type=int, default=None)
    args = p.parse_args(argv)
    d, bank = daily()
    first = int(np.flatnonzero(d["ds"] == pd.Timestamp("2018-03-01"))[0])
    last = int(np.flatnonzero(d["ds"] == pd.Timestamp("2019-01-31"))[0])
    origins = list(range(first, last + 1))[:: 7 if args.quick else 1]
    if args.max_origins:
        origins = origins[: args.max_origins]
    ytr = d["y"].to_numpy()[:first]
    scale = float(np.mean(np.abs(ytr[7:] - ytr[:-7])))
    y = d["y"].to_numpy()
    rows = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        model, uses_x = make(name, bank)
        errs = []
        t0 = time.perf_counter()
        for i in origins:
            hist = d.iloc[:i]
            model.fit(hist[["ds", "y"]], hist[["school"]] if uses_x else None)
            fx = d.iloc[i:i + H][["school"]] if uses_x else None
            m = model.predict_dist(H, fx).mean
            errs.append(np.abs(m - y[i:i + H]))
        secs = time.perf_counter() - t0
        e = np.concatenate(errs)
        rows.append({"model": name, "mase": rounded(e.mean() / scale, 4), "mae": rounded(e.mean(), 2),
                     "seconds": rounded(secs, 1)})
        log(f"{name}: MASE {e.mean() / scale:.4f}  MAE {e.mean():.2f}  {secs:.1f} s")
    result = {"origins": len(origins), "horizon_days": H, "scale_mae_seasonal_naive_train": rounded(scale, 3),
              "rows": rows}
    return finish(NAME, args, result)


if __name__ == "__main__":
    main()
