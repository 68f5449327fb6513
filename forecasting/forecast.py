"""``run_forecast``: the default model set, the backtest, the selection and a verdict in plain English."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import pandas as pd

from datasets.errors import Cancelled, HospOpsError, with_article
from datasets.progress import Reporter
from forecasting.backtest import add_ensemble, cross_validation, metrics, seasonal_scale, select_best
from forecasting.base import (
    FREQ_SEASON,
    PINBALL_QUANTILES,
    Forecaster,
    QuantileAverage,
    as_series,
    dist_frame,
    infer_freq,
    level_columns,
)
from forecasting.intermittent import SBA, TSB, Croston
from forecasting.models import (ETS, NAIVE_SEASON, SARIMAX, CountGLM, EmpiricalSlots, ProphetModel, SeasonalNaive,
                               Theta)

MODEL_NAMES = ("seasonal_naive", "empirical", "ets", "theta", "sarimax", "glm_poisson", "glm_negbin", "prophet",
               "croston", "sba", "tsb", "ensemble")
MAX_HORIZON = {"h": 24 * 14, "D": 366, "W": 104, "MS": 36}


def make_model(name: str, freq: str, tz: Optional[str] = None, country: Optional[str] = None) -> Forecaster:
    """A model by name with the defaults this package uses for a series of frequency ``freq``."""
    kw = {"freq": freq, "tz": tz}
    if name == "seasonal_naive":
        return SeasonalNaive(**kw)
    if name == "empirical":
        return EmpiricalSlots(**kw)
    if name == "ets":
        return ETS(auto=freq != "h", **kw)
    if name == "sarimax":
        return SARIMAX(**kw)
    if name == "theta":
        return Theta(**kw)
    if name == "glm_poisson":
        return CountGLM("poisson", country=country, **kw)
    if name == "glm_negbin":
        # terms chosen on the Wales training year (issue times 2017-03-01..2018-02-26), never the test year
        extra = {"fourier": 8, "window": 2 * 365 * 24, "x_by_hour": True} if freq == "h" else {}
        return CountGLM("negbin", country=country, adapt_days=7, adapt_weight=0.5, seasonal_profile=True,
                        after_holiday=True, **extra, **kw)
    if name == "prophet":
        return ProphetModel(country=country, **kw)
    if name == "croston":
        return Croston(**kw)
    if name == "sba":
        return SBA(**kw)
    if name == "tsb":
        return TSB(**kw)
    raise HospOpsError(f"Unknown model {name!r}.", hint=f"Models: {', '.join(MODEL_NAMES)}.")


def default_models(df: pd.DataFrame, freq: str) -> list[str]:
    """The default set: fast enough for a 3-year hourly series to run with its backtest in under a minute."""
    y = df["y"].dropna()
    zeros = float((y == 0).mean()) if len(y) else 0.0
    counts = bool(len(y)) and bool(np.all(np.isclose(y, np.round(y)))) and bool((y >= 0).all())
    names = ["seasonal_naive", "empirical"] if freq in ("h", "D") else ["seasonal_naive"]
    names.append("ets")
    if freq == "D":
        names.append("sarimax")
    if counts and freq in ("h", "D"):
        names.append("glm_negbin")
    if zeros >= 0.3:
        names += ["croston", "sba", "tsb"]
    if len([n for n in names if n != "seasonal_naive"]) >= 2:
        names.append("ensemble")
    return names


STEP_WORDS = {"h": "hours", "D": "days", "W": "weeks", "MS": "months"}


def parse_horizon(value, freq: str) -> int:
    """Steps from a number (``48``) or a duration (``48h``, ``28d``, ``2w``, ``3m``), for ``freq``."""
    if isinstance(value, (int, np.integer)):
        steps = int(value)
    else:
        text = str(value).strip().lower()
        m = re.fullmatch(r"(\d+)\s*([hdwm]?)", text)
        if not m:
            raise HospOpsError(f"Cannot read the horizon {value!r}.",
                               hint="Give a number of steps (48) or a duration such as 48h, 28d, 2w.")
        n, unit = int(m.group(1)), m.group(2)
        if n < 1:
            raise HospOpsError("The horizon must be at least one step.")
        if not unit:
            steps = n
        else:
            if unit == "m" and freq == "h":  # 30m on an hourly series: minutes, surely, not 30 months
                raise HospOpsError(f"A horizon of {value} is read as months (m), too far for an hourly series.",
                                   hint="Hours are h (48h), days d (14d); a horizon shorter than an hour has no step.")
            hours = {"h": 1, "d": 24, "w": 168, "m": 24 * 30.4375}[unit] * n
            per = {"h": 1, "D": 24, "W": 168, "MS": 24 * 30.4375}[freq]
            steps = int(round(hours / per))
            # a calendar month is 28-31 days, so "90d" of a monthly series is 3 steps and "3m" of a daily one 91;
            # "10d" of a weekly one is no whole number of weeks (it became 1 week unsaid)
            if steps < 1 or abs(steps * per - hours) > (0.5 if unit == "m" else 0.15) * per:
                near = sorted({max(1, int(hours // per)), max(1, int(-(-hours // per)))})
                raise HospOpsError(
                    f"A horizon of {value} does not fit {with_article(freq_word(freq))} series.",
                    hint=f"Give a whole number of {STEP_WORDS.get(freq, 'months')}, e.g. "
                         + " or ".join(f"{k}{ {'h': 'h', 'D': 'd', 'W': 'w', 'MS': 'm'}[freq]}" for k in near) + ".",
                )
    if steps < 1:
        raise HospOpsError("The horizon must be at least one step.")
    if steps > MAX_HORIZON.get(freq, 10 ** 6):
        coarser = {"h": " Use the daily series for longer horizons (ed_arrivals_daily, up to 366 days)."}
        raise HospOpsError(f"A horizon of {steps} steps is too far for {with_article(freq_word(freq))} series "
                           f"(at most {MAX_HORIZON[freq]}).{coarser.get(freq, '')}")
    return steps


def freq_word(freq: str) -> str:
    return {"h": "hourly", "D": "daily", "W": "weekly", "MS": "monthly"}.get(freq, freq)


@dataclass
class ForecastResult:
    """What ``run_forecast`` gives back; ``to_json()`` is the CLI's ``--json`` shape."""

    name: str
    freq: str
    horizon: int
    history: pd.DataFrame
    forecasts: dict[str, pd.DataFrame]
    backtest: Optional[pd.DataFrame]
    best: str
    verdict: str
    cv: Optional[pd.DataFrame] = None
    seconds: dict[str, float] = field(default_factory=dict)
    levels: tuple = (80, 95)
    failed: dict[str, str] = field(default_factory=dict)
    #: real hours each forecast step covers where a clock change makes it other than one (the autumn 01:00
    #: covers two), else None
    hours: Optional[np.ndarray] = None

    def to_json(self) -> dict:
        models = []
        bt = {} if self.backtest is None else {r["model"]: r for r in self.backtest.to_dict("records")}
        for name, fc in self.forecasts.items():
            item = {"name": name, "seconds": round(self.seconds.get(name, 0.0), 3), "forecast": [
                {"ds": pd.Timestamp(r["ds"]).isoformat(),
                 **{k: float(r[k]) for k in fc.columns if k != "ds"},
                 **({"hours": float(self.hours[i])} if self.hours is not None and i < len(self.hours)
                    and self.hours[i] != 1 else {})}
                for i, r in enumerate(fc.to_dict("records"))]}
            if name in bt:
                r = bt[name]
                item["backtest"] = {
                    **{k: _num(r.get(k)) for k in ("mae", "rmse", "mase", "pinball", "crps", "quantile_bias")},
                    "coverage": {str(lv): _num(r.get(f"coverage_{lv}")) for lv in self.levels},
                    "n": int(r.get("n", 0)), "windows": int(r.get("windows", 0) or 0),
                }
            models.append(item)
        return {"series": self.name, "freq": self.freq, "horizon": self.horizon, "best": self.best,
                "verdict": self.verdict, "models": models, "failed": self.failed}


def _num(v):
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if not np.isfinite(f) else f


def verdict_for(table: Optional[pd.DataFrame], best: str, freq: str = "h", history: Optional[int] = None) -> str:
    """One plain-English line on how the chosen model did in the backtest against last season's pattern.
    ``history``: the series' length, where known; shorter than a season, the naive baseline has no last
    week (or year) to repeat, and is named for what it is."""
    if table is None or table.empty:
        return f"Chosen by default ({best}); not backtested, so there is no evidence yet of how it does."
    t = table.set_index("model")
    r = t.loc[best]
    cov = r.get("coverage_80")
    cov_txt = f"; the 80% band held {cov:.0%} of the time" if cov is not None and np.isfinite(cov) else ""
    n, windows = int(r.get("n", 0) or 0), int(r.get("windows", 0) or 0)
    if cov_txt and n:  # how much it rests on: 3 windows of 48 h are 144 hours, and a band can miss by chance
        unit = {"h": "hours", "D": "days"}.get(freq, "steps")
        cov_txt += (f" ({n:,} {unit} in {windows} backtest window{'' if windows == 1 else 's'}"
                    + ("; few to judge a band by" if n < 200 else "") + ")")
    if "seasonal_naive" in t.index and best != "seasonal_naive":
        pattern = {"h": "last week's pattern", "D": "last week's pattern"}.get(freq, "last year's pattern")
        if history is not None and history <= NAIVE_SEASON.get(freq, 1):
            # 30 hours of history: "better than last week's pattern" where there is no last week
            pattern = (f"repeating the latest values (less than a {'week' if freq in ('h', 'D') else 'year'} of "
                       "history, so no pattern to repeat)")

        def gain(metric: str) -> Optional[float]:
            mine, base = r.get(metric), t.loc["seasonal_naive"].get(metric)
            ok = mine is not None and base is not None and np.isfinite(mine) and np.isfinite(base) and base > 0
            return 1 - mine / base if ok else None

        # said on what the choice was made on (the quantile loss: the whole range, see select_best), and the
        # point error beside it where the two disagree: "worse by 19%" under a model chosen as best misled
        q, m = gain("pinball"), gain("mae")
        if q is not None:
            text = f"{'Better' if q >= 0 else 'Worse'} than {pattern} by {abs(q):.0%} on its ranges (quantile loss)"
            if m is not None and (m >= 0) != (q >= 0):
                text += f", {'better' if m >= 0 else 'worse'} by {abs(m):.0%} on its single-number forecast (MAE)"
            return text + f"{cov_txt}."
        if m is not None:
            return f"{'Better' if m >= 0 else 'Worse'} than {pattern} by {abs(m):.0%}{cov_txt}."
    return f"Typical error {r['mae']:.3g} per step{cov_txt}."


def run_forecast(
    y_df: pd.DataFrame,
    horizon,
    models: Optional[Sequence[str]] = None,
    backtest: bool = False,
    level: Sequence[int] = (80, 95),
    holidays_country: Optional[str] = None,
    progress: Optional[Callable[[float, str], None]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
    *,
    tz: Optional[str] = None,
    n_windows: int = 3,
    X: Optional[pd.DataFrame] = None,
    X_future: Optional[pd.DataFrame] = None,
) -> ForecastResult:
    """Fit the models, optionally backtest them, pick the best and forecast ``horizon`` steps.

    ``y_df``: a long table ``unique_id, ds, y`` (one series; ``hours`` used when present). ``horizon``:
    steps or a duration (``"48h"``, ``"28d"``). ``models``: names from ``MODEL_NAMES`` (default: see
    ``default_models``). ``backtest``: rolling origin over ``n_windows`` origins, ``horizon`` apart; the
    best model is then the one with the lowest pinball loss, else the default preference (the count
    model for counts, else ETS). ``holidays_country``/``tz`` default to ``y_df.attrs`` (set by the
    loaders). Cancel with ``should_stop``; progress through ``progress(fraction, message)``.
    """
    rep = Reporter(progress, should_stop)
    t_all = time.perf_counter()
    df = as_series(y_df)
    attrs = getattr(y_df, "attrs", {}) or {}
    freq = attrs.get("freq") or infer_freq(df["ds"])
    tz = tz or attrs.get("tz")
    country = holidays_country or attrs.get("country")
    steps = parse_horizon(horizon, freq)
    level = tuple(int(lv) if float(lv).is_integer() else float(lv) for lv in level)
    cols = level_columns(level)
    names = list(models) if models else default_models(df, freq)
    # the baseline a backtest's verdict is judged against, beside models asked for without it: for comparison,
    # never chosen in their place (--models croston --backtest had handed back the naive forecast)
    baseline_added = backtest and "seasonal_naive" not in names
    if baseline_added:
        names.insert(0, "seasonal_naive")
    unknown = [m for m in names if m not in MODEL_NAMES]
    if unknown:
        raise HospOpsError(f"Unknown model {unknown[0]!r}.", hint=f"Models: {', '.join(MODEL_NAMES)}.")
    if df["y"].notna().sum() < 8:
        raise HospOpsError(f"Too little history to forecast: {int(df['y'].notna().sum())} values.",
                           hint="Forecasts need at least 8 observed points.")
    want_ensemble = "ensemble" in names
    base_names = [n for n in names if n != "ensemble"]
    if want_ensemble and not [n for n in base_names if n != "seasonal_naive"]:
        # an ensemble asked for alone (or beside the naive baseline, as the app asks): of the default members
        base_names = list(dict.fromkeys(base_names + [n for n in default_models(df, freq) if n != "ensemble"]))
    members = [n for n in base_names if n != "seasonal_naive"]  # the ensemble: every model but the naive
    fit_models = {n: make_model(n, freq, tz, country) for n in base_names}
    future_hours = None

    cv = table = None
    failed: dict[str, str] = {}
    if backtest:
        qs = sorted(set(PINBALL_QUANTILES) | {round(q, 4) for _, q in cols})
        frames = []
        sub = rep.scaled(0.0, 0.7)
        k = len(fit_models)
        for j, (n, m) in enumerate(fit_models.items()):
            try:
                frames.append(cross_validation([m], df, steps, n_windows=n_windows, quantiles=qs, X=X,
                                               progress=sub.scaled(j / k, (j + 1) / k).progress,
                                               should_stop=rep.should_stop))
            except Cancelled:
                raise
            except HospOpsError as exc:
                failed[n] = str(exc)
        rep.check()
        if not frames:
            raise HospOpsError("No model could be backtested on this series.",
                               hint=next(iter(failed.values()), None))
        cv = pd.concat(frames, ignore_index=True)
        ok_members = [n for n in members if n not in failed]
        if want_ensemble and len(ok_members) >= 2:
            cv = add_ensemble(cv, ok_members)
        table = metrics(cv, seasonal_scale(df["y"].to_numpy(), FREQ_SEASON.get(freq, 1) if freq != "h" else 168),
                        levels=[lv for lv in level if float(lv).is_integer()])

    forecasts: dict[str, pd.DataFrame] = {}
    dists = {}
    seconds: dict[str, float] = {}
    sub = rep.scaled(0.7 if backtest else 0.0, 0.98)
    for j, (n, m) in enumerate(fit_models.items()):
        sub(j / max(1, len(fit_models)), f"fitting {n}")
        if n in failed:
            continue
        t0 = time.perf_counter()
        try:
            m.fit(df, X)
            dists[n] = m.predict_dist(steps, X_future)
        except Cancelled:
            raise
        except HospOpsError as exc:
            failed[n] = str(exc)
            continue
        seconds[n] = time.perf_counter() - t0
        grid, step_hours = m.future(steps)
        forecasts[n] = dist_frame(grid, dists[n], cols)
        if freq == "h" and step_hours is not None and np.any(np.asarray(step_hours) != 1):
            future_hours = np.asarray(step_hours, float)
    if not forecasts:
        raise HospOpsError("No model could forecast this series.", hint=next(iter(failed.values()), None))
    ok_members = [n for n in members if n in dists]
    if want_ensemble and len(ok_members) >= 2:
        ds = next(iter(forecasts.values()))["ds"]
        forecasts["ensemble"] = dist_frame(ds, QuantileAverage([dists[n] for n in ok_members]), cols)
        seconds["ensemble"] = sum(seconds[n] for n in ok_members)
    if table is not None:
        table = table[table["model"].isin(list(forecasts))].reset_index(drop=True)
        asked = table[table["model"] != "seasonal_naive"] if baseline_added else table
        best = select_best(asked if len(asked) else table)
    else:
        # the count model first: on the demo hospital's last year its 80%/95% bands hold 80%/95% of the
        # hours and days (benchmarks/demo_intervals.py), where the quantile-averaged ensemble's daily
        # 80% band, widened by ETS/SARIMAX's Gaussian spread, held 86%
        pref = ["glm_negbin", "glm_poisson", "ensemble", "ets", "tsb", "sarimax", "prophet", "empirical",
                "seasonal_naive"]
        best = next((p for p in pref if p in forecasts), next(iter(forecasts)))
    rep(1.0, "done")
    seconds["total"] = time.perf_counter() - t_all
    verdict = verdict_for(table, best, freq, history=len(df))
    if table is not None and freq in ("h", "D") and country:
        verdict += _untested_holidays(next(iter(forecasts.values()))["ds"], cv, country)
    return ForecastResult(
        name=str(attrs.get("name") or (y_df["unique_id"].iloc[0] if "unique_id" in y_df.columns else "series")),
        freq=freq, horizon=steps, history=df, forecasts=forecasts, backtest=table, best=best,
        verdict=verdict, cv=cv, seconds=seconds, levels=level, failed=failed, hours=future_hours,
    )


def _untested_holidays(ahead: pd.Series, cv: Optional[pd.DataFrame], country: Optional[str]) -> str:
    """A sentence where the forecast spans public holidays and no backtest window held one: the backtest's
    verdict then says nothing of them (windows over June-November picked a model without holiday terms for
    a horizon over Christmas, its verdict unqualified)."""
    from forecasting.features import holiday_dates, local_clock

    if not country or cv is None or cv.empty or ahead.empty:
        return ""
    days = local_clock(ahead).normalize()
    hol = holiday_dates(country, min(days.min(), pd.Timestamp(cv["ds"].min())), days.max())
    coming = sorted({d for d in days if d in hol})
    if not coming or any(d in hol for d in local_clock(cv["ds"]).normalize().unique()):
        return ""
    named = ", ".join(f"{d:%d %b}" for d in coming[:4]) + (" ..." if len(coming) > 4 else "")
    return (f" The forecast spans {len(coming)} public holiday{'' if len(coming) == 1 else 's'} ({named}) and no "
            "backtest window held one: how it does on them is untested.")
