"""`hospops forecast` and `hospops supplies`: forecasts with backtests, and the supplies reorder table."""
from __future__ import annotations

import argparse
import json
import math
import sys


def register(sub: argparse._SubParsersAction) -> None:
    from desktop.cli import count_between

    f = sub.add_parser(
        "forecast",
        help="forecast a series from a workspace or a CSV file, with an optional backtest",
        description="Forecast ED arrivals, admissions or supply use. Series names: --list shows them.",
    )
    f.add_argument("workspace", nargs="?", help="workspace file (or use --csv)")
    f.add_argument("--series", help="series name, e.g. ed_arrivals_hourly, admissions_daily:medicine")
    f.add_argument("--list", action="store_true", help="list the series this workspace can forecast")
    f.add_argument("--csv", help="CSV file with a time column and a value column")
    f.add_argument("--time-col", help="time column of the CSV")
    f.add_argument("--value-col", help="value column of the CSV")
    f.add_argument("--horizon", help="steps ahead, or a duration such as 48h, 28d, 2w")
    f.add_argument("--models", nargs="+", help="models to run (default: the standard set for the series)")
    f.add_argument("--backtest", action="store_true", help="rolling-origin backtest and selection by it")
    f.add_argument("--windows", type=count_between(1, 52), default=None,
                   help="backtest origins, with --backtest (default 3, at most 52)")
    f.add_argument("--country", help="holiday calendar country (default: the workspace's)")
    f.add_argument("--timezone", help="time zone of a CSV's local times, e.g. Europe/London, for clock changes "
                   "(default: the --country's where it has one)")
    f.add_argument("--save", action="store_true", help="store the forecast (and backtest) in the workspace")
    f.add_argument("--out", metavar="FILE.csv", help="write the chosen model's whole forecast (every step, with "
                   "its 80%% and 95%% bounds) to a CSV file")
    f.add_argument("--json", action="store_true", help="print one JSON object")
    f.set_defaults(func=cmd_forecast)

    s = sub.add_parser("supplies", help="reorder points, safety stock and stock-out risk per item and unit")
    s.add_argument("workspace", help="workspace file")
    s.add_argument("--lead-time", type=float, default=None,
                   help="days from order to delivery (default: each item's recorded lead time)")
    s.add_argument("--service-level", type=float, default=0.95,
                   help="chance of no stock-out before a delivery, e.g. 0.95 (default)")
    s.add_argument("--on-hand", help="CSV with columns item (or item@unit) and on_hand: current stock")
    s.add_argument("--items", nargs="+", help="only these items (ITEM or ITEM@UNIT)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_supplies)


def _clean(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _country_zone(country: str | None) -> str | None:
    """The time zone of a country that has one (GB: Europe/London), else None (the US has several)."""
    if not country:
        return None
    import pytz

    zones = pytz.country_timezones.get({"UK": "GB"}.get(country.upper(), country.upper()), [])
    return zones[0] if len(zones) == 1 else None


def cmd_forecast(args: argparse.Namespace) -> int:
    from datasets.errors import HospOpsError
    from desktop.cli import _fmt, _progress_printer, _show_progress, _table

    if args.list:
        if not args.workspace:
            raise HospOpsError("--list needs a workspace.")
        from desktop.cli import open_workspace
        from forecasting import list_series

        with open_workspace(args.workspace, read_only=True) as ws:
            series = list_series(ws)
        if args.json:
            print(json.dumps({"series": series}))
        else:
            print(_table([["name", "label", "freq"]] + [[s["name"], s["label"], s["freq"]] for s in series]))
        return 0
    if args.csv and (args.workspace or args.series):
        raise HospOpsError("Give either a workspace with --series or --csv with --time-col and --value-col, not both.")
    if not args.csv and not (args.workspace and args.series):
        raise HospOpsError("Say what to forecast: WORKSPACE --series NAME, or --csv FILE --time-col C --value-col V.",
                           hint="`hospops forecast WORKSPACE --list` shows the series in a workspace.")
    if args.csv and not (args.time_col and args.value_col):
        raise HospOpsError("--csv needs --time-col and --value-col.")
    if args.timezone and not args.csv:
        raise HospOpsError("--timezone is for a CSV's times: a workspace's series use its own time zone.")
    if not args.horizon:
        raise HospOpsError("Give --horizon: a number of steps or a duration such as 48h or 28d.")
    if args.windows is not None and args.windows < 1:
        raise HospOpsError("--windows must be at least 1.")
    if args.save and args.csv:  # (said before the forecast, not after it ran)
        raise HospOpsError("--save needs a workspace to save into; a forecast of --csv is printed only.")
    if args.out and not args.out.lower().endswith(".csv"):
        raise HospOpsError(f"--out {args.out}: the forecast is written as CSV; give a name ending in .csv.")
    if args.out:  # checked before the run: with --save the forecast was stored, then the file refused
        import os
        from pathlib import Path

        folder = Path(args.out).expanduser().resolve().parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            raise HospOpsError(f"--out {args.out}: cannot write into {folder} (no such folder, or not writable).")
    if args.windows is not None and not args.backtest:
        print("note: --windows sets the backtest's origins; without --backtest there is none.", file=sys.stderr)
    if args.country:  # (an unknown code was taken silently, and changed the default models)
        from datasets.store import check_country

        check_country(args.country)

    from forecasting import load_csv, load_series, run_forecast

    ws = None
    if args.csv:
        from datasets.importers.engine import MONTH_FIRST_COUNTRIES

        zone = args.timezone or _country_zone(args.country)
        y = load_csv(args.csv, args.time_col, args.value_col,
                     month_first=(args.country or "").upper() in MONTH_FIRST_COUNTRIES, timezone=zone)
        said = []
        if y.attrs.get("freq") == "h":
            said.append(f"hours are local times in {zone}, clock changes included" if zone else
                        "hours are taken as written, with no time zone: a clock change's missing or doubled hour "
                        "is not accounted (give --timezone, or --country)")
        if y.attrs.get("freq") in ("h", "D") and not args.country:  # (Christmas read as any Friday, unsaid)
            said.append("no public holidays are taken into account: give --country (e.g. GB) for its holidays")
        y.attrs["note"] = "; ".join(x for x in (y.attrs.get("note"), *said) if x)
        if y.attrs.get("note"):
            print(f"note: {y.attrs['note']}", file=sys.stderr)
    else:
        from desktop.cli import open_workspace

        ws = open_workspace(args.workspace, read_only=not args.save)
    try:
        if ws is not None:
            y = load_series(ws, args.series)
        res = run_forecast(y, args.horizon, models=args.models, backtest=args.backtest,
                           holidays_country=args.country, n_windows=args.windows or 3,
                           progress=_progress_printer(_show_progress(args)))
        stock = _supply_stock(ws, args.series) if ws is not None else None
        run_id = None
        if args.save:
            if ws is None:
                raise HospOpsError("--save needs a workspace to save into.")
            from forecasting.store import save_result

            run_id = save_result(ws, res)
    finally:
        if ws is not None:
            ws.close()
    if args.out:
        _write_forecast_csv(res, args.out)
        if args.workspace:  # as the app's table exports are
            from desktop.cli import audit_cli

            audit_cli(args.workspace, "export forecast", args.out, {"series": args.series, "model": res.best})
    if args.json:
        out = res.to_json()
        if args.out:
            out["out"] = args.out
        if run_id:
            out["run_id"] = run_id
        if stock is not None:
            out["stock"] = stock
        print(json.dumps(out, default=_clean))
        return 0
    from forecasting.forecast import STEP_WORDS

    unit = STEP_WORDS.get(res.freq, "steps")
    if res.horizon == 1:
        unit = unit[:-1]  # ("1 days ahead")
    print(f"{res.name}: {res.horizon} {unit} ahead; best model: {res.best}")
    print(res.verdict)
    if res.backtest is not None:
        cols = ["model", "mae", "rmse", "mase", "pinball", "coverage_80", "coverage_95"]
        rows = [cols] + [[_fmt(_clean(r.get(c))) for c in cols] for r in res.backtest.to_dict("records")]
        print(_table(rows))
    fc = res.forecasts[res.best]
    show = fc if len(fc) <= 48 else fc.head(48)
    head = ["ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]

    def when(t) -> str:  # a daily or monthly step is a date, an hourly one a time
        t = str(t)
        return t[:10] if res.freq in ("D", "W", "MS") and t[10:].strip(" T0:") == "" else t[:16]

    hours = list(res.hours) if res.hours is not None else []
    # the hour the clocks go back through holds two real hours, so about twice the arrivals: marked, or it read
    # as a surge at 01:00
    rows = [head] + [[when(r["ds"]) + (" (2 h)" if i < len(hours) and hours[i] == 2 else "")]
                     + [f"{r[c]:.1f}" for c in head[1:] if c in r] for i, r in enumerate(show.to_dict("records"))]
    print(_table(rows))
    if len(fc) > 48:
        print(f"({len(fc) - 48} more steps: --out FILE.csv or --json for all)")
    if args.out:
        print(f"Wrote {len(fc)} steps of {res.best} to {args.out}")
    if stock is not None:
        print(_stock_line(stock))
    for name, why in res.failed.items():
        print(f"note: {name} was skipped: {why}")
    if run_id:
        print(f"saved as run {run_id}")
    return 0


def _write_forecast_csv(res, path: str) -> None:
    """The chosen model's forecast, every step: ds, mean and the bounds (plus ``hours`` where a step is not one
    hour), as a spreadsheet reads it."""
    import numpy as np

    from datasets.errors import HospOpsError

    fc = res.forecasts[res.best].copy()
    fc.insert(1, "model", res.best)
    if res.hours is not None and len(res.hours) == len(fc):
        fc["hours"] = np.asarray(res.hours).astype(int)
    try:
        fc.to_csv(path, index=False, float_format="%.2f",
                  date_format="%Y-%m-%d %H:%M" if res.freq == "h" else "%Y-%m-%d")
    except OSError as exc:
        raise HospOpsError(f"Cannot write {path}: {exc.strerror or exc}.") from None


def _supply_stock(ws, series: str):
    """For a ``supply:ITEM@UNIT`` series: stock on hand, days of cover, reorder point and the chance of a
    stock-out before the next delivery (the item's lead time, 95% service level), from the reorder table."""
    if not series or not series.startswith("supply:"):
        return None
    from forecasting.inventory import reorder_table

    uid = series.split(":", 1)[1]
    t = reorder_table(ws, None, 0.95, items=[uid])
    if t.empty:
        return None
    r = t.iloc[0].to_dict()
    keys = ("on_hand", "stock_basis", "stock_as_of", "lead_time_days", "forecast_to_delivery", "reorder_point",
            "safety_stock", "days_of_cover", "stockout_prob", "model")
    return {"service_level": 0.95, **{k: _clean(r.get(k)) for k in keys}}


def _stock_line(st: dict) -> str:
    cover = st.get("days_of_cover")
    cover_txt = "more than a year" if cover is None else f"{cover:.1f} days"
    when = st.get("stock_as_of")
    try:
        from datetime import datetime

        when = f"{datetime.fromisoformat(str(when)):%d %b %Y %H:%M}"
    except ValueError:
        pass
    basis = {"given": "given", "recorded": f"counted {when}"}.get(st["stock_basis"], st["stock_basis"])
    if st.get("on_hand") is None:  # more used since the count than it held: a delivery no count shows yet
        return (f"Stock: not known: more was used since the count of {when} than it held (a delivery not "
                f"recorded); count it. Reorder at {st['reorder_point']:.0f} (`hospops supplies`' figures: its model "
                f"{st['model']}, not the forecast above).")
    return (f"Stock: {st['on_hand']:.0f} on hand ({basis}), cover {cover_txt}; reorder at {st['reorder_point']:.0f}; "
            f"chance of running out before a delivery ordered now ({st['lead_time_days']:.0f} "
            f"day{'' if st['lead_time_days'] == 1 else 's'}): {st['stockout_prob']:.0%} (`hospops supplies`' figures: "
            f"its model {st['model']}, not the forecast above).")


def _read_on_hand(path) -> dict:
    import pandas as pd

    from datasets.errors import SourceError

    try:
        t = pd.read_csv(path, sep=None, engine="python", dtype=str)  # , ; tab or | as the file has it
    except Exception as exc:
        raise SourceError(f"Cannot read the stock file {path}: {str(exc).splitlines()[0]}") from None
    t.columns = [str(c).strip() for c in t.columns]
    if not {"item", "on_hand"} <= set(t.columns):
        raise SourceError(f"The stock file needs the columns item and on_hand (it has {', '.join(t.columns)}).")
    qty = pd.to_numeric(t["on_hand"].str.strip(), errors="coerce")
    bad = t.index[qty.isna() | (qty < 0)]
    if len(bad):
        i = bad[0]
        raise SourceError(f"{path}, line {i + 2}: on_hand {t['on_hand'][i]!r} is not a count of 0 or more.")
    keys = t["item"].astype(str).str.strip()
    twice = keys[keys.duplicated(keep=False)]
    if len(twice):  # (the last count was used, silently)
        lines = ", ".join(str(i + 2) for i in twice.index[:4])
        raise SourceError(f"{path}: {twice.iloc[0]} is counted more than once (lines {lines}).",
                          "Give one count per store (ITEM@UNIT).")
    return {k: float(v) for k, v in zip(keys, qty)}


def cmd_supplies(args: argparse.Namespace) -> int:
    from desktop.cli import _fmt, _progress_printer, _show_progress, _table, open_workspace
    import pandas as pd

    from forecasting.inventory import RECOUNT, reorder_table

    on_hand = _read_on_hand(args.on_hand) if args.on_hand else None
    with open_workspace(args.workspace, read_only=True) as ws:
        t = reorder_table(ws, args.lead_time, args.service_level,
                          progress=_progress_printer(_show_progress(args)), on_hand=on_hand,
                          items=args.items)
    if args.json:
        recs = [{k: _clean(v) for k, v in r.items()} for r in t.to_dict("records")]
        print(json.dumps({"lead_time_days": args.lead_time, "service_level": args.service_level, "rows": recs}))
        return 0
    # column -> (header, format): whole counts as counts, rates to one decimal, the risk as a percentage
    # (days of cover is on hand / forecast per day: that rate is shown, and the counts' dates, so both can be
    # checked by hand; "unit" is the hospital unit, "uom" what one of the item is, e.g. a box of 100 gloves)
    cols = {"item": ("item", str), "unit": ("unit", str), "uom": ("uom", str), "on_hand": ("on hand", "{:,.0f}"),
            "stock_as_of": ("counted", str), "lead_time_days": ("lead (d)", "{:g}"),
            "daily_use_28d": ("use/day (28 d)", "{:,.1f}"), "forecast_daily": ("forecast/day", "{:,.2f}"),
            "forecast_to_delivery": ("use to delivery", "{:,.1f}"), "reorder_point": ("reorder point", "{:,.0f}"),
            "safety_stock": ("safety stock", "{:,.1f}"), "days_of_cover": ("days of cover", "{:,.1f}"),
            "stockout_prob": ("stock-out risk", "{:.1%}")}
    unknown = t["stock_basis"].eq(RECOUNT)
    assumed = t["stock_basis"].str.startswith("assumed")

    def cell(v, fmt, col="", r=None) -> str:
        v = _clean(v)
        if col == "days_of_cover" and v is not None and v > 365:  # (73,360.4 days read as a precise figure)
            return "over a year"
        if r is not None and r["stock_basis"] == RECOUNT and col in ("on_hand", "stockout_prob"):
            return "count it" if col == "on_hand" else "?"
        if col == "on_hand" and r is not None and r["stock_basis"].startswith("assumed") and v is not None:
            return fmt.format(v) + "*"  # an assumed figure, marked on the row it is on
        if col == "stock_as_of":
            return "" if v is None else f"{pd.Timestamp(v):%d %b %H:%M}".replace(" 00:00", "")
        return "" if v is None else (_fmt(v) if fmt is str else fmt.format(v))

    if args.lead_time:
        whole = math.ceil(args.lead_time)
        lead = f"a lead time of {args.lead_time:g} day(s)" + (
            f" (counted as {whole} whole day{'s' if whole > 1 else ''})" if whole != args.lead_time else "")
    else:
        lead = "each item's recorded lead time"
    print(f"Reorder points for {lead} and a {args.service_level:.1%} service level (the chance of no stock-out "
          "before a delivery); counts in each item's unit of measure (uom).")
    if assumed.any():  # said before the rows, not after 215 of them
        which = "any store" if assumed.all() else f"{int(assumed.sum())} of {len(t)} stores"
        print(f"note: stock on hand is not recorded for {which} (marked *): assumed the last 28 days' use x lead "
              "time (give --on-hand, or record counts in supply_stock).")
    if unknown.any():
        names = ", ".join(f"{r.item}@{r.unit}" for r in t[unknown].head(6).itertuples())
        print(f"note: {int(unknown.sum())} store(s) used more since their last count than it held, so a delivery "
              f"came that no count shows: count them ({names}{', ...' if unknown.sum() > 6 else ''}); "
              "listed last, with no risk.")
    rows = [[h for h, _ in cols.values()]] + [[cell(r[c], f, c, r) for c, (_, f) in cols.items()]
                                             for r in t.to_dict("records")]
    print(_table(rows))
    return 0
