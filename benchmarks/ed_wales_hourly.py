"""Hourly ED arrivals, Wales: our models under the protocol of Rostami-Tabar, Browell & Svetunkov (2023).

    python benchmarks/ed_wales_hourly.py [--quick] [--json] [--models a,b,...] [--tune]

Protocol (anchors/ed_arrivals/uk_wales_hourly_rostamitabar2023/SOURCE.md): hourly counts converted to
Europe/London; forecasts issued at 00:00 and 12:00 local time from 2018-03-01 00:00 to 2019-02-26 00:00
(the evaluation script's last issue time: 725 issue times; the paper's text says 727), lead times 0..48 h,
every model re-estimated at every origin on all data before the issue time, 19 quantiles 0.05..0.95.
Scores over every (origin, lead time) pair: mean pinball loss; Quantile Bias = mean over the 19 levels of
|nominal − share of observations strictly below the quantile| (ProbCast's ``mean(q > y)``); |mean error| of
the expectation (what the paper's "RMSE" column really holds) and a true RMSE beside it.

``--quick``: every 7th issue time counting from the first. ``--tune``: the same protocol one year earlier
(issue times 2017-03-01 .. 2018-02-26, all inside the paper's training period): where model choices
(e.g. the recent-level adaptation) were made, never on the test year.

Holidays: the repository's bank-holiday list (public holidays) and its daily calendar's school holidays
(as a regressor); no temperature (the paper's GAMLSS models use Cardiff temperature).
``seconds``: wall time of the whole evaluation of that model (all fits and forecasts), on this machine.
``--tag T`` writes ``NAME.T[.quick].json`` (runs of extra models beside the main file).

Models: ``benchmark2`` (empirical hour-of-week quantiles of the last 365 days, rolled), ``seasonal_naive``,
``ets`` (A,N,A, period 24, last 8 weeks), ``glm_poisson`` / ``glm_negbin`` (count regression: hour-of-week
levels with holidays on Sunday's, 4 yearly harmonics, trend, holiday dummy, school-holiday regressor),
``glm_negbin_adapt`` (+ 7-day recent-level adaptation), ``glm_negbin_full`` (+ hour-of-day x yearly
harmonic, day after a holiday), ``glm_negbin_plus`` (+ school holidays shifting the hourly profile,
8 harmonics, last 3 years), ``glm_negbin_w2y`` (the same on the last 2 years), ``glm_negbin_hlD``
(glm_negbin_plus's terms on the last 3 years, recency-weighted: weights halving every D days),
``glm_negbin_plus_hd`` / ``glm_negbin_w2y_hd`` (one NB dispersion per hour of day), ``ensemble`` (quantile
average of the richest GLM run and ETS), ``qavg:a+b`` (quantile average of models a and b run earlier in
the same ``--models`` list). Each addition was chosen on the training year (``--tune``-style
runs over issue times 2017-03-01..2018-02-26, every 7th), before it was run on the test year.
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

NAME = "ed_wales_hourly"
ANCHOR = Path(__file__).resolve().parents[2] / "shared" / "anchors" / "ed_arrivals" / "uk_wales_hourly_rostamitabar2023"
TZ = "Europe/London"
QUANTILES = tuple(round(0.05 * i, 2) for i in range(1, 20))
LEADS = 49  # lead times 0..48 h
TEST = ("2018-03-01 00:00", "2019-02-26 00:00")
TUNE = ("2017-03-01 00:00", "2018-02-26 00:00")
DEFAULT_MODELS = ("benchmark2", "seasonal_naive", "ets", "glm_poisson", "glm_negbin", "glm_negbin_adapt")


def load(anchor: Path = ANCHOR) -> tuple[pd.DataFrame, frozenset]:
    """The series (time-zone-aware local ds, y, school-holiday flag) and the bank-holiday dates."""
    raw = pd.read_csv(anchor / "h2_hourly_gb.csv")
    ds = pd.to_datetime(raw["arrival_1h"], utc=True).dt.tz_convert(TZ)
    cal = pd.read_csv(anchor / "calendar_daily.csv", parse_dates=["Date"])
    school = dict(zip(cal["Date"].dt.normalize(), cal["is_school_holiday"].astype(float)))
    df = pd.DataFrame({"ds": ds, "y": raw["n_attendance"].astype(float)})
    df["school"] = [school.get(d, 0.0) for d in ds.dt.tz_localize(None).dt.normalize()]
    bank = frozenset(pd.to_datetime(pd.read_csv(anchor / "bank_holidays.csv")["ds"]))
    return df, bank


def make_model(name: str, bank):
    from forecasting.models import ETS, CountGLM, EmpiricalSlots, ProphetModel, SARIMAX, SeasonalNaive

    if name == "benchmark2":
        m = EmpiricalSlots(window_days=365)
        m.alias = "benchmark2"
        return m, False
    if name == "seasonal_naive":
        return SeasonalNaive(), False
    if name == "ets":
        return ETS(), False
    if name == "sarimax":
        return SARIMAX(), False
    if name == "prophet":
        return ProphetModel(country="GB"), False
    if name == "glm_poisson":
        return CountGLM("poisson", holidays=bank), True
    if name == "glm_negbin":
        return CountGLM("negbin", holidays=bank), True
    if name == "glm_negbin_adapt":
        return CountGLM("negbin", holidays=bank, adapt_days=7, adapt_weight=0.5, alias="glm_negbin_adapt"), True
    if name == "glm_negbin_full":  # + the daily profile drifting through the year, + day after a holiday
        return CountGLM("negbin", holidays=bank, adapt_days=7, adapt_weight=0.5, seasonal_profile=True,
                        after_holiday=True, alias="glm_negbin_full"), True
    if name == "glm_negbin_plus":  # + school holidays shifting the hourly profile, 8 yearly harmonics, last 3 years
        return CountGLM("negbin", holidays=bank, adapt_days=7, adapt_weight=0.5, seasonal_profile=True,
                        after_holiday=True, x_by_hour=True, fourier=8, window=3 * 365 * 24,
                        alias="glm_negbin_plus"), True
    if name == "glm_negbin_w2y":  # glm_negbin_plus fitted on the last 2 years (chosen with --tune-style runs)
        return CountGLM("negbin", holidays=bank, adapt_days=7, adapt_weight=0.5, seasonal_profile=True,
                        after_holiday=True, x_by_hour=True, fourier=8, window=2 * 365 * 24,
                        alias="glm_negbin_w2y"), True
    if name in ("glm_negbin_plus_hd", "glm_negbin_w2y_hd"):  # + one NB dispersion per hour of day
        years = 3 if "plus" in name else 2
        return CountGLM("negbin", holidays=bank, adapt_days=7, adapt_weight=0.5, seasonal_profile=True,
                        after_holiday=True, x_by_hour=True, fourier=8, window=years * 365 * 24,
                        alpha_by="hour", alias=name), True
    if name.startswith("glm_negbin_hl"):  # glm_negbin_plus terms, last 3 years, recency-weighted (half-life in days)
        return CountGLM("negbin", holidays=bank, adapt_days=7, adapt_weight=0.5, seasonal_profile=True,
                        after_holiday=True, x_by_hour=True, fourier=8, window=3 * 365 * 24,
                        halflife_days=float(name[len("glm_negbin_hl"):]), alias=name), True
    if name == "ensemble" or name.startswith("qavg:"):
        return None, True
    raise SystemExit(f"unknown model {name!r}")


def origins(period: tuple[str, str], quick: bool) -> list[pd.Timestamp]:
    lo, hi = (pd.Timestamp(p).tz_localize(TZ) for p in period)
    out = []
    day = lo.tz_localize(None).normalize()
    while True:
        for hh in (0, 12):
            t = (day + pd.Timedelta(hours=hh)).tz_localize(TZ)
            if lo <= t <= hi:
                out.append(t)
        if day + pd.Timedelta(days=1) > hi.tz_localize(None):
            break
        day += pd.Timedelta(days=1)
    return out[::7] if quick else out


def score(q: np.ndarray, mean: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """q (n, 19), mean (n,), y (n,) → the paper's metrics."""
    lv = np.asarray(QUANTILES)
    diff = y[:, None] - q
    pin = np.mean(np.where(diff >= 0, lv * diff, (lv - 1) * diff))
    below = (q > y[:, None]).mean(axis=0)  # strict: share of observations below the quantile
    return {
        "pinball": float(pin),
        "quantile_bias": float(np.mean(np.abs(lv - below))),
        "abs_mean_error": float(abs(np.mean(mean - y))),
        "rmse": float(np.sqrt(np.mean((mean - y) ** 2))),
        "coverage_80": float(np.mean((q[:, 1] <= y) & (y <= q[:, -2]))),
    }


def evaluate(df, bank, names, issue_times, progress=log):
    from forecasting.base import QuantileAverage

    y_all = df["y"].to_numpy()
    pos = {t: i for i, t in enumerate(df["ds"])}
    store: dict[str, dict] = {}
    rows = []
    for name in names:
        if name == "ensemble" or name.startswith("qavg:"):
            continue
        model, uses_x = make_model(name, bank)
        qs, means, ys = [], [], []
        dists = []
        t0 = time.perf_counter()
        for k, t in enumerate(issue_times):
            i = pos[t]
            hist = df.iloc[:i]
            X = hist[["school"]] if uses_x else None
            model.tz = TZ
            model.fit(hist[["ds", "y"]], X)
            fx = df.iloc[i:i + LEADS][["school"]] if uses_x else None
            d = model.predict_dist(LEADS, fx)
            dists.append(d)
            qs.append(np.sort(d.quantile(QUANTILES), axis=1))
            means.append(d.mean)
            ys.append(y_all[i:i + LEADS])
            if k % 50 == 0:
                progress(f"  {name}: origin {k + 1}/{len(issue_times)} ({t:%Y-%m-%d %H:%M})")
        secs = time.perf_counter() - t0
        store[name] = {"dists": dists}
        res = score(np.vstack(qs), np.concatenate(means), np.concatenate(ys))
        rows.append({"model": name, **{k: rounded(v, 5) for k, v in res.items()}, "seconds": rounded(secs, 1)})
        progress(f"{name}: pinball {res['pinball']:.4f}  bias {res['quantile_bias']:.4f}  "
                 f"|ME| {res['abs_mean_error']:.4f}  {secs:.1f} s")
    if "ensemble" in names:
        glm = next((n for n in ("glm_negbin_w2y", "glm_negbin_plus", "glm_negbin_full", "glm_negbin_adapt") if n in store), None)
        members = [n for n in (glm, "ets") if n in store]
        if members:
            qs, means, ys = [], [], []
            for k, t in enumerate(issue_times):
                i = pos[t]
                d = QuantileAverage([store[m]["dists"][k] for m in members])
                qs.append(np.sort(d.quantile(QUANTILES), axis=1))
                means.append(d.mean)
                ys.append(y_all[i:i + LEADS])
            res = score(np.vstack(qs), np.concatenate(means), np.concatenate(ys))
            rows.append({"model": "ensemble(" + "+".join(members) + ")",
                         **{k: rounded(v, 5) for k, v in res.items()},
                         "seconds": rounded(sum(r["seconds"] for r in rows if r["model"] in members), 1)})
    for name in names:  # quantile averages of count models run above: "qavg:a+b"
        if not name.startswith("qavg:"):
            continue
        members = name[5:].split("+")
        if not all(m in store for m in members):
            raise SystemExit(f"{name}: run its members in the same --models list first")
        qs, means, ys = [], [], []
        for k, t in enumerate(issue_times):
            i = pos[t]
            d = QuantileAverage([store[m]["dists"][k] for m in members])
            qs.append(np.sort(d.quantile(QUANTILES), axis=1))
            means.append(d.mean)
            ys.append(y_all[i:i + LEADS])
        res = score(np.vstack(qs), np.concatenate(means), np.concatenate(ys))
        rows.append({"model": name, **{k: rounded(v, 5) for k, v in res.items()},
                     "seconds": rounded(sum(r["seconds"] for r in rows if r["model"] in members), 1)})
        progress(f"{name}: pinball {res['pinball']:.4f}  bias {res['quantile_bias']:.4f}  "
                 f"|ME| {res['abs_mean_error']:.4f}")
    return rows


def published(anchor: Path = ANCHOR) -> list[dict[str, Any]]:
    t = pd.read_csv(anchor / "published_table_tab-results.csv")
    return [{"model": r.Method, "pinball": float(r.Pinball), "quantile_bias": float(r._2),
             "abs_mean_error": float(r.RMSE_as_published_abs_mean_error), "minutes_first_origin": float(r.Time_minutes)}
            for r in t.itertuples()]


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated; also sarimax, prophet, ensemble")
    p.add_argument("--tune", action="store_true", help="evaluate on the last training year instead (model choices)")
    p.add_argument("--max-origins", type=int, default=None, help="only the first N issue times (tests)")
    p.add_argument("--tag", default="", help="suffix for the result file name (NAME.TAG[.quick].json)")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    df, bank = load()
    issue = origins(TUNE if args.tune else TEST, args.quick)
    if args.max_origins:
        issue = issue[: args.max_origins]
    log(f"{len(issue)} issue times, {LEADS} lead times each; models: {', '.join(names)}")
    t0 = time.perf_counter()
    rows = evaluate(df, bank, names, issue)
    total = time.perf_counter() - t0
    goal = [r["model"] for r in rows if r["pinball"] <= 1.185 and r["quantile_bias"] < 0.02]
    result = {
        "origins": len(issue),
        "period": "tune (2017-03-01..2018-02-26, training data)" if args.tune else "test (2018-03-01..2019-02-26)",
        "every_nth_origin": 7 if args.quick else 1,
        "rows": rows,
        "published": published(),
        "goal": {"pinball_max": 1.185, "quantile_bias_below": 0.02, "met_by": goal},
        "total_seconds": rounded(total, 1),
    }
    name = NAME + (".tune" if args.tune else "") + (f".{args.tag}" if args.tag else "")
    return finish(name, args, result)


if __name__ == "__main__":
    main()
