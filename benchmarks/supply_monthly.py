"""Monthly demand panels (hospital products, car parts): WQL and MASE against published Chronos figures.

    python benchmarks/supply_monthly.py [--quick] [--json] [--models a,b] [--datasets hospital,carparts]

Protocol (anchors/supply_demand/expsmooth_hyndman2008/SOURCE.md, as Chronos' evaluation): every series
is fitted on all but its last 12 months and forecast 12 months ahead once. MASE: MAE of the *median*
forecast over the 12 test months divided by the mean |y_t − y_{t−12}| over the training months (NAs
ignored), averaged over series where it is finite. WQL: for each quantile 0.1..0.9, twice the summed
pinball loss over all series and test months divided by the summed |y|, averaged over the nine
quantiles, each model's quantiles coming from its own predictive distribution. NA targets are skipped.
``seconds``: wall time to fit and forecast the whole data set with that model (one core of this machine).
``--quick``: the first 60 series of each data set. ``ensemble``: the quantile average of ETS and the count
regression; ``ensemble3``: of ETS, the count regression and SARIMAX (computed from the members' forecasts,
so their ``seconds`` is the members' sum). ``theta``: the Theta method (statsmodels). ``ens3_theta``: ensemble3's
quantile average moved so its median is the mean of the four members' medians (ETS, count regression,
SARIMAX and Theta): Theta adds to the centre only, its own intervals being far too wide here. ``pooled_nb``: one negative binomial regression fitted on every
series' training part at once (``forecasting.intermittent.PooledNB``; its windows end inside the training
months, so it never sees the test year); ``pooled_nb_x``: the same with interaction terms (the log levels
times the recent non-zero share, and the log EWMAs squared). ``shrunk_seasonal``: an exponentially weighted
level (half-life 3.5 months) times a seasonal index shrunk towards flat by its own year-to-year noise
(``forecasting.models.ShrunkSeasonal``; both settings were chosen on the validation year, the last 12
training months, never on the test year).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded

# numpy after _common, which sets one BLAS thread before numpy loads
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

NAME = "supply_monthly"
ANCHOR = Path(__file__).resolve().parents[2] / "shared" / "anchors" / "supply_demand" / "expsmooth_hyndman2008"
H = 12
WQL_Q = tuple(round(0.1 * i, 1) for i in range(1, 10))
QUICK_SERIES = 60
MODELS = {
    "hospital": ("seasonal_naive", "ets", "glm_negbin", "sarimax", "theta", "ensemble", "ensemble3", "ens3_theta",
                 "shrunk_seasonal"),
    "carparts": ("seasonal_naive", "zero", "empirical", "croston", "sba", "tsb", "tsb_empirical12", "pooled_nb",
                 "pooled_nb_x"),
}
# ensembles: the quantile average of members already run on the same series (their time is the sum)
ENSEMBLES = {"ensemble": ("ets", "glm_negbin"), "ensemble3": ("ets", "glm_negbin", "sarimax")}
CACHE: dict = {}
SECONDS: dict = {}
PUBLISHED = [
    {"dataset": "hospital", "model": "seasonal-naive (Chronos repo)", "mase": 0.9205278266364826, "wql": 0.0726263373268254},
    {"dataset": "hospital", "model": "chronos-bolt-small (Chronos repo)", "mase": 0.6954489513780618, "wql": 0.058119864671526154},
    {"dataset": "carparts", "model": "seasonal-naive (Chronos repo)", "mase": 1.2014638390969912, "wql": 1.5999522140809177},
    {"dataset": "carparts", "model": "chronos-bolt-small (Chronos repo)", "mase": 0.8584574663781737, "wql": 1.0074689402521324},
]


def load(name: str, limit: Optional[int] = None) -> list[tuple[str, pd.DataFrame]]:
    df = pd.read_csv(ANCHOR / f"{name}_long.csv", usecols=["unique_id", "ds", "y"], parse_dates=["ds"])
    order = list(dict.fromkeys(df["unique_id"]))
    if limit:
        order = order[:limit]
        df = df[df["unique_id"].isin(order)]
    groups = {k: g.sort_values("ds").reset_index(drop=True) for k, g in df.groupby("unique_id", sort=False)}
    return [(k, groups[k]) for k in order]


def zero_dist(h):
    from forecasting.base import NormalDist

    return NormalDist(np.zeros(h), np.zeros(h))


def make(name: str):
    from forecasting.forecast import make_model
    from forecasting.intermittent import TSB
    from forecasting.models import ETS, CountGLM, EmpiricalSlots, Ensemble, ShrunkSeasonal

    if name == "shrunk_seasonal":
        return ShrunkSeasonal(freq="MS")
    if name == "ets":
        return ETS(auto=True, freq="MS")
    if name == "glm_negbin":
        return CountGLM("negbin", freq="MS", adapt_days=None)
    if name in ENSEMBLES:
        return Ensemble([make(m) for m in ENSEMBLES[name]], alias=name, freq="MS")
    if name == "empirical_all":  # empirical quantiles of the whole training history
        m = EmpiricalSlots(window_points=10 ** 6, freq="MS")
        m.alias = name
        return m
    if name.startswith("empirical") and name[9:].isdigit():  # empirical quantiles of the last N months
        m = EmpiricalSlots(window_points=int(name[9:]), freq="MS")
        m.alias = name
        return m
    if name == "tsb_empirical12":  # quantile average of TSB's mixture and the last 12 months' quantiles
        return Ensemble([TSB(freq="MS"), EmpiricalSlots(window_points=12, freq="MS")], alias=name, freq="MS")
    if name == "tsb_empirical":  # quantile average of TSB's mixture and the whole-history empirical quantiles
        return Ensemble([TSB(freq="MS"), EmpiricalSlots(window_points=10 ** 6, freq="MS")], alias=name, freq="MS")
    return make_model(name, "MS")


def run_model(series, name: str, dataset: str = ""):
    from datasets.errors import HospOpsError
    from forecasting.base import NormalDist, QuantileAverage, Recentered

    qs = np.array(WQL_Q)
    loss = np.zeros(len(qs))
    abs_y = 0.0
    mases = []
    failed = 0
    t0 = time.perf_counter()
    pooled = None
    if name in ("pooled_nb", "pooled_nb_x"):  # one model fitted on every series' training part at once
        from forecasting.intermittent import PooledNB

        train_all = pd.concat([g.iloc[:-H].assign(unique_id=uid) for uid, g in series], ignore_index=True)
        pooled = PooledNB(horizon=H, interactions=name == "pooled_nb_x").fit(
            train_all[["unique_id", "ds", "y"]]).predict_dist(H)
    for uid, g in series:
        train, test = g.iloc[:-H], g.iloc[-H:]
        y_te = test["y"].to_numpy(dtype=float)
        if pooled is not None:
            d = pooled[uid]
        elif name == "zero":
            d = zero_dist(H)
        elif name == "ens3_theta" and all((dataset, m, uid) in CACHE for m in ENSEMBLES["ensemble3"] + ("theta",)):
            members = [CACHE[(dataset, m, uid)] for m in ENSEMBLES["ensemble3"]]
            d = Recentered(QuantileAverage(members), members + [CACHE[(dataset, "theta", uid)]])
        elif name in ENSEMBLES and all((dataset, m, uid) in CACHE for m in ENSEMBLES[name]):
            d = QuantileAverage([CACHE[(dataset, m, uid)] for m in ENSEMBLES[name]])
        else:
            try:
                d = make(name).fit(train[["ds", "y"]]).predict_dist(H)
            except (HospOpsError, ValueError, np.linalg.LinAlgError):
                failed += 1
                last = float(pd.Series(train["y"]).dropna().iloc[-1]) if train["y"].notna().any() else 0.0
                d = NormalDist(np.full(H, last), np.zeros(H))
        CACHE[(dataset, name, uid)] = d
        Q = np.sort(d.quantile(qs), axis=1)
        med = d.quantile([0.5])[:, 0]
        ok = np.isfinite(y_te)
        diff = y_te[ok, None] - Q[ok]
        loss += np.where(diff >= 0, qs * diff, (qs - 1) * diff).sum(axis=0)
        abs_y += np.abs(y_te[ok]).sum()
        ytr = train["y"].to_numpy(dtype=float)
        sd = np.abs(ytr[12:] - ytr[:-12])
        sd = sd[np.isfinite(sd)]
        scale = sd.mean() if len(sd) else np.nan
        if ok.any() and np.isfinite(scale) and scale > 0:
            mases.append(np.abs(med[ok] - y_te[ok]).mean() / scale)
    secs = time.perf_counter() - t0
    if name in ENSEMBLES or name == "ens3_theta":
        secs += sum(SECONDS.get((dataset, m), 0.0) for m in ENSEMBLES.get(name, ENSEMBLES["ensemble3"] + ("theta",)))
    SECONDS[(dataset, name)] = secs
    wql = float(np.mean(2 * loss / abs_y))
    return {"mase": float(np.mean(mases)), "wql": wql, "seconds": secs, "series": len(series),
            "mase_series": len(mases), "fallbacks": failed}


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--models", default=None, help="comma-separated models (default: per data set)")
    p.add_argument("--datasets", default="hospital,carparts")
    p.add_argument("--limit", type=int, default=None, help="only the first N series (tests)")
    args = p.parse_args(argv)
    limit = args.limit or (QUICK_SERIES if args.quick else None)
    rows = []
    for ds_name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        series = load(ds_name, limit)
        names = [m.strip() for m in args.models.split(",")] if args.models else list(MODELS[ds_name])
        for name in names:
            r = run_model(series, name, ds_name)
            log(f"{ds_name} {name}: MASE {r['mase']:.4f}  WQL {r['wql']:.4f}  {r['seconds']:.1f} s")
            rows.append({"dataset": ds_name, "model": name, "mase": rounded(r["mase"], 4), "wql": rounded(r["wql"], 4),
                         "seconds": rounded(r["seconds"], 1), "series": r["series"], "mase_series": r["mase_series"],
                         "fallbacks": r["fallbacks"]})
    result = {"rows": rows, "published": PUBLISHED, "horizon": H, "quantiles": list(WQL_Q),
              "series_limit": limit}
    return finish(NAME, args, result)


if __name__ == "__main__":
    main()
