"""The operational picture at one moment: what the Overview page and `hospops info` style reports show.

All SQL over the canonical tables and the derived views; any past moment works (``at`` is naive local time).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Optional

import duckdb
import pandas as pd

from datasets.progress import Progress, Reporter, ShouldStop


def snapshot(ws, at: datetime, progress: Optional[Progress] = None,
             should_stop: Optional[ShouldStop] = None) -> dict[str, Any]:
    """Today's numbers at ``at``: ED arrivals so far against the usual for this weekday and hour, patients in
    the ED, patients waiting for a bed (decision to admit made, still in the ED), occupancy by unit, and
    discharges so far today."""
    rep = Reporter(progress, should_stop)
    rep(0.0, "today's numbers")
    day = at.replace(hour=0, minute=0, second=0, microsecond=0)
    arrivals_today = ws.sql("SELECT count(*) FROM ed_visits WHERE arrival_ts >= ? AND arrival_ts < ?", [day, at])[0][0]
    # The usual: the same weekday over the previous 8 weeks, arrivals up to the same time of day.
    usual = ws.sql(
        """SELECT avg(n) FROM (
               SELECT k, count(v.visit_id) AS n
               FROM range(1, 9) r(k)
               -- only weeks the data covers, or a short extract would make the usual look low
               JOIN (SELECT min(arrival_ts) AS first FROM ed_visits) f ON ?::TIMESTAMP - INTERVAL 7 DAY * k >= f.first
               LEFT JOIN ed_visits v ON v.arrival_ts >= ?::TIMESTAMP - INTERVAL 7 DAY * k
                                     AND v.arrival_ts < ?::TIMESTAMP - INTERVAL 7 DAY * k
               GROUP BY k)""",
        [day, day, at],
    )[0][0]
    in_ed = ws.sql(
        """SELECT count(*), count(*) FILTER (WHERE decision_ts IS NOT NULL AND decision_ts <= ?),
                  max(CASE WHEN decision_ts <= ? THEN date_diff('minute', decision_ts, ?::TIMESTAMP) END) / 60.0
           FROM ed_visits WHERE arrival_ts <= ? AND (departure_ts IS NULL OR departure_ts > ?)""",
        [at, at, at, at, at],
    )[0]
    discharged = ws.sql("SELECT count(*) FROM stays WHERE discharge_ts >= ? AND discharge_ts < ?", [day, at])[0][0]
    rep(0.5, "occupancy by unit")
    units = occupancy_at(ws, at)
    inpatient = units[units["is_inpatient"].fillna(False).astype(bool)]
    occ = float(inpatient["occupied"].sum()) / float(inpatient["capacity"].sum()) if inpatient["capacity"].sum() else None
    rep(1.0, "done")
    return {
        "at": at,
        "ed_arrivals_today": int(arrivals_today),
        "ed_arrivals_usual": float(usual) if usual is not None else None,
        "in_ed": int(in_ed[0]),
        "waiting_for_bed": int(in_ed[1]),
        "longest_wait_hours": float(in_ed[2]) if in_ed[2] is not None else None,
        "discharged_today": int(discharged),
        "inpatient_occupancy": occ,
        "units": units,
    }


def occupancy_at(ws, at: datetime) -> pd.DataFrame:
    """Patients in each unit at ``at`` against its staffed beds (ED from ED visits)."""
    return ws.df(
        """WITH inside AS (
               SELECT unit_id, count(*) AS occupied FROM movements
               WHERE in_ts <= ? AND (out_ts IS NULL OR out_ts > ?) GROUP BY 1),
           ed AS (SELECT count(*) AS n FROM ed_visits WHERE arrival_ts <= ? AND (departure_ts IS NULL OR departure_ts > ?))
           SELECT u.unit_id, coalesce(u.name, u.unit_id) AS name, u.kind, u.specialty, u.is_inpatient,
                  u.capacity,
                  CASE WHEN u.kind = 'ed' THEN (SELECT n FROM ed) ELSE coalesce(i.occupied, 0) END AS occupied,
                  CASE WHEN u.capacity > 0 THEN
                       (CASE WHEN u.kind = 'ed' THEN (SELECT n FROM ed) ELSE coalesce(i.occupied, 0) END) / u.capacity
                  END AS occupancy
           FROM units u LEFT JOIN inside i USING (unit_id)
           ORDER BY u.is_inpatient DESC, u.kind, u.unit_id""",
        [at, at, at, at],
    )


def arrivals_hourly(ws, start: datetime, end: datetime) -> pd.DataFrame:
    """ED arrivals per hour in [start, end) from the zero-filled, DST-aware view."""
    return ws.df("SELECT ds, y FROM ed_arrivals_hourly WHERE ds >= ? AND ds < ? ORDER BY ds", [start, end])


def usual_arrivals_hourly(ws, start: datetime, end: datetime, weeks: int = 8) -> pd.DataFrame:
    """Mean and 10th/90th percentiles of arrivals for each hour of the week over the ``weeks`` before ``start``:
    the "usual pattern" drawn behind the recent days."""
    return ws.df(
        """WITH hist AS (
               SELECT isodow(ds) AS dow, hour(ds) AS h, y FROM ed_arrivals_hourly
               WHERE ds >= ?::TIMESTAMP - INTERVAL 7 DAY * ? AND ds < ?),
           prof AS (SELECT dow, h, avg(y) AS mean, quantile_cont(y, 0.1) AS lo, quantile_cont(y, 0.9) AS hi
                    FROM hist GROUP BY 1, 2),
           grid AS (SELECT unnest(generate_series(?::TIMESTAMP, ?::TIMESTAMP - INTERVAL 1 HOUR, INTERVAL 1 HOUR)) AS ds)
           SELECT grid.ds, prof.mean, prof.lo, prof.hi
           FROM grid LEFT JOIN prof ON prof.dow = isodow(grid.ds) AND prof.h = hour(grid.ds)
           ORDER BY grid.ds""",
        [start, weeks, start, start, end],
    )


def census_grid(ws, start: datetime, end: datetime) -> tuple[list[str], pd.Series, "pd.DataFrame"]:
    """Occupancy (census / capacity) per inpatient unit and hour in [start, end): rows, hours, matrix.

    From the ``census_window`` macro (the window's hours only); where it cannot be defined (a read-only open of
    a workspace whose stored views are too old for it), the whole ``census_hourly`` view, filtered."""
    sql = """SELECT c.unit_id, c.ds, c.census, u.capacity
             FROM {census} c JOIN units u USING (unit_id)
             WHERE c.ds >= ? AND c.ds < ? AND u.capacity > 0 AND coalesce(u.is_inpatient, true)
             ORDER BY u.kind, c.unit_id, c.ds"""
    try:
        df = ws.df(sql.format(census="census_window(?::TIMESTAMP, ?::TIMESTAMP)"), [start, end, start, end])
    except duckdb.CatalogException:
        df = ws.df(sql.format(census="census_hourly"), [start, end])
    if df.empty:
        return [], pd.Series([], dtype="datetime64[ns]"), pd.DataFrame()
    df["occupancy"] = df["census"] / df["capacity"]
    wide = df.pivot_table(index="unit_id", columns="ds", values="occupancy", aggfunc="last", sort=False)
    return list(wide.index), pd.Series(wide.columns), wide


def los_by_specialty(ws, start: datetime, end: datetime) -> pd.DataFrame:
    """Length of stay (days) of stays discharged in [start, end), by specialty."""
    return ws.df(
        """SELECT coalesce(specialty, 'unknown') AS specialty, count(*) AS stays,
                  round(avg(los_days), 1) AS mean_days, round(median(los_days), 1) AS median_days,
                  round(quantile_cont(los_days, 0.9), 1) AS p90_days
           FROM los WHERE discharge_ts >= ? AND discharge_ts < ?
           GROUP BY 1 ORDER BY stays DESC""",
        [start, end],
    )


def overview(ws, at: datetime, days: int = 14, progress: Optional[Progress] = None,
             should_stop: Optional[ShouldStop] = None) -> dict[str, Any]:
    """Everything the Overview page shows, in one call (a job on the app's worker thread)."""
    rep = Reporter(progress, should_stop)
    snap = snapshot(ws, at, rep.scaled(0.0, 0.3), should_stop)
    start = (at - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    end = at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    rep(0.35, "ED arrivals by hour")
    arrivals = arrivals_hourly(ws, start, end)
    usual = usual_arrivals_hourly(ws, start, end + timedelta(hours=48))
    rep(0.6, "census by unit and hour")
    rows, hours, grid = census_grid(ws, start, end)
    rep(0.9, "length of stay")
    los = los_by_specialty(ws, at - timedelta(days=90), at)
    rep(1.0, "done")
    return {"snapshot": snap, "arrivals": arrivals, "usual": usual, "census_rows": rows, "census_hours": hours,
            "census": grid, "los": los, "start": start, "end": end}
