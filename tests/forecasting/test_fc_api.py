"""The API the app calls: series from a workspace and a CSV, run_forecast, reorder table, admissions."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from datasets.errors import Cancelled, HospOpsError, SourceError
from datasets.store import Workspace
from forecasting import admissions_forecast, list_series, load_csv, load_series, parse_horizon, run_forecast
from forecasting.inventory import reorder_table


@pytest.fixture(scope="module")
def wsr(demo_ws):
    ws = Workspace.open(demo_ws, read_only=True)
    yield ws
    ws.close()


def test_list_and_load_series(wsr):
    names = {s["name"]: s for s in list_series(wsr)}
    assert {"ed_arrivals_hourly", "ed_arrivals_daily"} <= set(names)
    assert any(n.startswith("admissions_daily:") for n in names)
    assert any(n.startswith("supply:") and "@" in n for n in names)
    assert all(s["label"] and s["freq"] in ("h", "D", "W") for s in names.values())
    h = load_series(wsr, "ed_arrivals_hourly")
    d = load_series(wsr, "ed_arrivals_daily")
    w = load_series(wsr, "ed_arrivals_weekly")  # whole weeks, Monday to Sunday, each the sum of its days
    assert w.attrs["freq"] == "W" and (w["ds"].dt.weekday == 0).all() and len(w)
    first = w["ds"].iloc[0]
    assert w["y"].iloc[0] == d.loc[(d["ds"] >= first) & (d["ds"] < first + pd.Timedelta(days=7)), "y"].sum()
    assert list(h.columns[:3]) == ["unique_id", "ds", "y"] and h.attrs["freq"] == "h"
    assert h.attrs["tz"] == "Europe/London"
    assert h["y"].sum() == d["y"].sum()
    spec = next(n for n in names if n.startswith("admissions_daily:"))
    a = load_series(wsr, spec)
    assert a["ds"].diff().dropna().eq(pd.Timedelta(days=1)).all()  # zero-filled daily grid
    sup = next(n for n in names if n.startswith("supply:"))
    assert len(load_series(wsr, sup)) > 30
    with pytest.raises(HospOpsError, match="Unknown series"):
        load_series(wsr, "nope")


def test_run_forecast_hourly_with_backtest(wsr):
    y = load_series(wsr, "ed_arrivals_hourly")
    seen = []
    res = run_forecast(y, "48h", models=["seasonal_naive", "empirical", "glm_negbin", "ensemble"], backtest=True,
                       n_windows=2, progress=lambda f, m: seen.append(f))
    assert res.horizon == 48 and set(res.forecasts) == {"seasonal_naive", "empirical", "glm_negbin", "ensemble"}
    assert res.best in res.forecasts
    assert res.best == res.backtest.sort_values("pinball").iloc[0]["model"]
    for fc in res.forecasts.values():
        assert list(fc.columns) == ["ds", "mean", "lo-80", "hi-80", "lo-95", "hi-95"]
        assert (fc["lo-95"] <= fc["lo-80"]).all() and (fc["lo-80"] <= fc["mean"]).all()
        assert (fc["mean"] <= fc["hi-80"]).all() and (fc["hi-80"] <= fc["hi-95"]).all()
        assert (fc["lo-95"] >= 0).all()
        assert fc["ds"].iloc[0] > y["ds"].iloc[-1]
    assert set(res.cv["model"]) >= {"seasonal_naive", "ensemble"}
    assert "last week's pattern" in res.verdict and "80% band held" in res.verdict
    # what the band's figure rests on: 2 windows of 48 hours, too few to judge a band by
    assert "(96 hours in 2 backtest windows; few to judge a band by)" in res.verdict
    assert set(res.backtest["windows"]) == {2}
    assert seen and seen[-1] == 1.0 and all(b >= a for a, b in zip(seen, seen[1:]))
    js = json.loads(json.dumps(res.to_json()))
    m = {x["name"]: x for x in js["models"]}
    assert js["best"] == res.best
    assert set(m[res.best]["backtest"]) >= {"mae", "rmse", "mase", "pinball", "coverage"}
    assert set(m[res.best]["backtest"]["coverage"]) == {"80", "95"}
    assert len(m[res.best]["forecast"]) == 48 and "hi-95" in m[res.best]["forecast"][0]


def test_run_forecast_daily_defaults_and_no_backtest(wsr):
    y = load_series(wsr, "ed_arrivals_daily")
    res = run_forecast(y, "14d")
    assert res.horizon == 14 and res.backtest is None and res.best in res.forecasts
    assert "not backtested" in res.verdict
    assert {"seasonal_naive", "ets", "glm_negbin"} <= set(res.forecasts)
    # the ensemble asked for beside the naive baseline (as the app asks for a chosen model) has its members
    res = run_forecast(y, "14d", models=["ensemble", "seasonal_naive"])
    assert "ensemble" in res.forecasts and len(set(res.forecasts) - {"ensemble", "seasonal_naive"}) >= 2


def test_run_forecast_cancel(wsr):
    y = load_series(wsr, "ed_arrivals_daily")
    with pytest.raises(Cancelled):
        run_forecast(y, 7, backtest=True, should_stop=lambda: True)


def test_parse_horizon_and_bad_arguments(wsr):
    assert parse_horizon("48h", "h") == 48 and parse_horizon("2d", "h") == 48
    assert parse_horizon("28d", "D") == 28 and parse_horizon(5, "D") == 5 and parse_horizon("2w", "D") == 14
    with pytest.raises(HospOpsError, match="does not fit"):
        parse_horizon("5h", "D")
    with pytest.raises(HospOpsError, match="too far"):
        parse_horizon("30d", "h")
    with pytest.raises(HospOpsError, match="Cannot read"):
        parse_horizon("soon", "h")
    for zero in ("0h", "0d", "0"):  # a zero horizon is too short, not a duration that does not fit
        with pytest.raises(HospOpsError, match="at least one step"):
            parse_horizon(zero, "h")
    y = load_series(wsr, "ed_arrivals_daily")
    with pytest.raises(HospOpsError, match="Unknown model"):
        run_forecast(y, 7, models=["magic"])


def test_load_csv(tmp_path):
    p = tmp_path / "s.csv"
    ds = pd.date_range("2024-01-01", periods=40, freq="D").strftime("%Y-%m-%d")
    pd.DataFrame({"day": list(ds) + [ds[-1]], "n": list(range(40)) + [5]}).drop(index=[10]).to_csv(p, index=False)
    y = load_csv(p, "day", "n")
    assert y.attrs["freq"] == "D" and len(y) == 40  # the missing day is a gap, the repeated day summed
    assert np.isnan(y["y"].iloc[10]) and y["y"].iloc[-1] == 39 + 5
    with pytest.raises(SourceError, match="no column"):
        load_csv(p, "date", "n")
    # a value that is not a number, or below zero, is refused with its line (it was dropped or clipped unseen)
    for bad, said in (("abc", "not a number; the first on line 5: 'abc'"), ("-3", "below 0")):
        q = tmp_path / "bad.csv"
        q.write_text("day,n\n2024-01-01,1\n2024-01-02,\n2024-01-03,2\n2024-01-04," + bad + "\n")
        with pytest.raises(SourceError, match=said):
            load_csv(q, "day", "n")
    # a name or a patient number there (a shifted row) is quoted as its shape, as the import quotes it
    q.write_text("day,n\n2024-01-01,John Smith 9434765919\n")
    with pytest.raises(SourceError, match="'xxxx xxxxx 9999999999'"):
        load_csv(q, "day", "n")
    # files as Excel saves them: semicolons with decimal commas, UTF-16, Windows-1252 (each was refused)
    frame = pd.DataFrame({"day": ds, "n": [f"{v}.5" for v in range(40)]})
    for name, kw in (("semi.csv", {"sep": ";", "decimal_comma": True}), ("u16.csv", {"encoding": "utf-16"}),
                     ("win.csv", {"encoding": "cp1252"})):
        out = frame.assign(n=frame["n"].str.replace(".", ",")) if kw.pop("decimal_comma", False) else frame
        out.rename(columns={"n": "n €"}).to_csv(tmp_path / name, index=False, **kw)
        got = load_csv(tmp_path / name, "day", "n €")
        assert len(got) == 40 and got["y"].iloc[3] == 3.5, name
    res = run_forecast(y, 7, models=["seasonal_naive", "ets"])
    assert len(res.forecasts["ets"]) == 7


def test_load_csv_reads_times_as_the_import_does(tmp_path):
    """UK dates over months were read month first (a June-February series forecast from December), dates
    that read either way follow the country and say so, and a UTC offset that changes at a clock change
    crashed the read (mixed time zones)."""
    uk = tmp_path / "uk.csv"
    days = pd.date_range("2025-06-01", "2026-02-28", freq="D")
    pd.DataFrame({"date": days.strftime("%d/%m/%Y"), "n": 5}).to_csv(uk, index=False)
    y = load_csv(uk, "date", "n")
    assert y["ds"].iloc[0] == pd.Timestamp("2025-06-01") and y["ds"].iloc[-1] == pd.Timestamp("2026-02-28")
    assert not y.attrs["note"]
    short = tmp_path / "short.csv"
    pd.DataFrame({"date": days[:12].strftime("%d/%m/%Y"), "n": 5}).to_csv(short, index=False)
    y = load_csv(short, "date", "n")
    assert y.attrs["freq"] == "D" and "read day first" in y.attrs["note"]
    assert load_csv(short, "date", "n", month_first=True).attrs["freq"] == "MS"  # 1 Jan, 2 Jan, ... as months
    off = tmp_path / "offsets.csv"
    local = pd.date_range("2026-03-28", periods=48, freq="h", tz="Europe/London")
    pd.DataFrame({"t": [t.isoformat() for t in local], "n": 3}).to_csv(off, index=False)
    y = load_csv(off, "t", "n").set_index("ds")["y"]
    assert y.index[0] == pd.Timestamp("2026-03-28 00:00") and len(y) == 49 and y.isna().sum() == 1
    assert np.isnan(y[pd.Timestamp("2026-03-29 01:00")]), "the hour the clocks skipped is a gap"
    assert "offsets dropped" in load_csv(off, "t", "n").attrs["note"]


def test_reorder_table(wsr):
    keys = [s["name"].split(":", 1)[1] for s in list_series(wsr) if s["name"].startswith("supply:")][:12]
    t = reorder_table(wsr, lead_time_days=5, service_level=0.95, items=keys)
    assert sorted(t["item"] + "@" + t["unit"]) == sorted(keys)
    for col in ("item", "unit", "daily_use_28d", "forecast_to_delivery", "reorder_point", "safety_stock",
                "days_of_cover", "stockout_prob"):
        assert col in t.columns
    smooth = t[t["model"] != "tsb"]
    assert len(smooth) and (smooth["reorder_point"] >= smooth["forecast_to_delivery"]).all()
    assert t["stockout_prob"].is_monotonic_decreasing
    assert t["stockout_prob"].between(0, 1).all()
    hi = reorder_table(wsr, lead_time_days=5, service_level=0.99, items=keys).set_index(["item", "unit"])
    lo = t.set_index(["item", "unit"]).loc[hi.index]
    assert (hi["reorder_point"] >= lo["reorder_point"]).all() and hi["reorder_point"].sum() > lo["reorder_point"].sum()
    # given stock: far more than any use means no stock-out risk
    big = {k: 1e6 for k in (t["item"] + "@" + t["unit"])}
    assert reorder_table(wsr, 5, 0.95, on_hand=big, items=keys[:3])["stockout_prob"].max() == 0
    none = {k: 0.0 for k in keys[:3]}
    assert (reorder_table(wsr, 5, 0.95, on_hand=none, items=keys[:3])["days_of_cover"] == 0).all()
    with pytest.raises(HospOpsError, match="service level"):
        reorder_table(wsr, 5, 95)


def test_admissions_forecast(wsr):
    start = load_series(wsr, "ed_arrivals_daily")["ds"].iloc[-1] + pd.Timedelta(days=1)
    a = admissions_forecast(wsr, start, 48)
    specs = a["specialty"].unique()
    assert len(specs) >= 2 and len(a) == 48 * len(specs)
    assert (a["mean"] >= 0).all() and (a["lo-80"] <= a["mean"]).all() and (a["mean"] <= a["hi-80"]).all()
    # a day's expected admissions match the history's scale
    hist = load_series(wsr, f"admissions_daily:{specs[0]}")["y"].tail(28).mean()
    day = a[a["specialty"] == specs[0]]["mean"].iloc[:24].sum()
    assert 0.3 * hist < day < 3 * hist + 1


def test_verdict_speaks_of_what_the_choice_was_made_on():
    # chosen on the quantile loss; a worse point error beside it is said as such, not as "worse" alone
    from forecasting.forecast import verdict_for

    t = pd.DataFrame({"model": ["sba", "seasonal_naive"], "mae": [1.19, 1.0], "pinball": [0.45, 0.5],
                      "coverage_80": [0.82, 0.7]})
    v = verdict_for(t, "sba", "D")
    assert v.startswith("Better than last week's pattern by 10% on its ranges")
    assert "worse by 19% on its single-number forecast (MAE)" in v and "80% band held 82%" in v
    t["mae"] = [0.9, 1.0]
    assert "MAE" not in verdict_for(t, "sba", "D")


def test_load_csv_with_a_time_zone_follows_clock_changes(tmp_path):
    """Hourly CSV times were taken as written: the forecast had an hour the UK clocks jump over (01:00 on 29
    March 2026) and took the doubled autumn hour for one. With a time zone, as the workspace's series."""
    rng = np.random.default_rng(4)
    times = pd.date_range("2026-02-01 00:00", "2026-03-28 23:00", freq="h")
    p = tmp_path / "spring.csv"
    pd.DataFrame({"t": times.strftime("%Y-%m-%d %H:%M"), "n": rng.poisson(5, len(times))}).to_csv(p, index=False)
    y = load_csv(p, "t", "n", timezone="Europe/London")
    assert y.attrs["tz"] == "Europe/London" and (y["hours"] == 1).all()
    ahead = run_forecast(y, "48h", models=["seasonal_naive"]).forecasts["seasonal_naive"]["ds"]
    assert pd.Timestamp("2026-03-29 01:00") not in set(ahead) and len(ahead) == 48
    assert pd.Timestamp("2026-03-29 02:00") in set(ahead)
    plain = run_forecast(load_csv(p, "t", "n"), "48h", models=["seasonal_naive"]).forecasts["seasonal_naive"]["ds"]
    assert pd.Timestamp("2026-03-29 01:00") in set(plain)  # (what it was without: an hour that never is)
    # autumn: 01:00 on 25 October 2026 is written twice (or once, counting both hours): two real hours
    times = pd.date_range("2026-10-20 00:00", "2026-10-26 23:00", freq="h")
    rows = [(t.strftime("%Y-%m-%d %H:%M"), 4) for t in times]
    rows.insert(rows.index(("2026-10-25 01:00", 4)), ("2026-10-25 01:00", 3))
    q = tmp_path / "autumn.csv"
    pd.DataFrame(rows, columns=["t", "n"]).to_csv(q, index=False)
    y = load_csv(q, "t", "n", timezone="Europe/London")
    row = y[y["ds"] == pd.Timestamp("2026-10-25 01:00")].iloc[0]
    assert (row["y"], row["hours"]) == (7, 2) and (y["hours"] != 1).sum() == 1
    with pytest.raises(SourceError, match="Unknown time zone"):
        load_csv(q, "t", "n", timezone="Europe/Lundon")
    # a forecast over the autumn change says which step covers two hours (in --json)
    z = y[y["ds"] < pd.Timestamp("2026-10-24 00:00")].copy()
    z.attrs.update(y.attrs)
    js = run_forecast(z, "48h", models=["glm_negbin"]).to_json()
    doubled = [r for r in js["models"][0]["forecast"] if "hours" in r]
    assert [(r["ds"], r["hours"]) for r in doubled] == [("2026-10-25T01:00:00", 2.0)]
    # a file that writes the hour the clocks jump over anyway (a count of 0 at 01:00 on 29 March): kept, one
    # hour, and the other gaps still filled
    times = pd.date_range("2026-03-28 00:00", "2026-03-29 23:00", freq="h")
    r = tmp_path / "spring_written.csv"
    pd.DataFrame({"t": times.strftime("%Y-%m-%d %H:%M"), "n": 2}).drop(index=[5]).to_csv(r, index=False)
    y = load_csv(r, "t", "n", timezone="Europe/London")
    assert len(y) == 48 and (y["hours"] == 1).all() and np.isnan(y["y"].iloc[5])


def test_a_verdict_says_when_the_backtest_held_no_holiday_the_forecast_spans():
    rng = np.random.default_rng(3)
    ds = pd.date_range("2025-09-01", "2025-12-10", freq="D")
    y = pd.DataFrame({"unique_id": "ed", "ds": ds, "y": rng.poisson(200, len(ds)).astype(float)})
    res = run_forecast(y, "28d", models=["seasonal_naive", "glm_negbin"], backtest=True, n_windows=2,
                       holidays_country="GB")
    assert "spans 3 public holidays (25 Dec, 26 Dec, 01 Jan) and no backtest window held one" in res.verdict
    short = run_forecast(y, "7d", models=["seasonal_naive", "glm_negbin"], backtest=True, n_windows=2,
                         holidays_country="GB")
    assert "public holiday" not in short.verdict  # none ahead
