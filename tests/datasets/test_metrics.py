"""Derived views: zero-filled hourly/daily series across DST, census with open stays, occupancy, LOS."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from datasets.store import Workspace


def add_visits(ws, rows):
    ws.con.executemany("INSERT INTO ed_visits (visit_id, arrival_ts, departure_ts, decision_ts) VALUES (?, ?, ?, ?)", rows)


def test_ed_arrivals_hourly_is_zero_filled_and_dst_correct(ws):
    add_visits(ws, [
        ("a", "2024-03-31 00:30", "2024-03-31 03:10", None),
        ("b", "2024-03-31 01:30", None, None),  # inside the skipped hour: counted, never dropped
        ("c", "2024-10-27 01:15", "2024-10-27 02:00", None),
        ("d", "2024-10-27 01:45", "2024-10-27 05:00", None),
        ("e", "2024-06-01 12:00", "2024-06-01 13:00", None),
        ("z", "2024-10-27 23:40", None, None),  # the extract runs to midnight: its last day is whole
    ])
    hourly = ws.sql("SELECT ds, y, hours FROM ed_arrivals_hourly")
    spring = [r for r in hourly if r[0].date() == date(2024, 3, 31)]
    autumn = [r for r in hourly if r[0].date() == date(2024, 10, 27)]
    june = [r for r in hourly if r[0].date() == date(2024, 6, 1)]
    assert len(spring) == 23 and sum(r[1] for r in spring) == 2
    assert datetime(2024, 3, 31, 1) not in [r[0] for r in spring]
    assert sum(r[2] for r in autumn) == 25 and len(autumn) == 24
    assert [r for r in autumn if r[0].hour == 1] == [(datetime(2024, 10, 27, 1), 2, 2)]
    assert len(june) == 24 and sum(r[1] for r in june) == 1
    assert sum(r[1] for r in hourly) == 6
    daily = dict((r[0], (r[1], r[2])) for r in ws.sql("SELECT ds, y, hours FROM ed_arrivals_daily"))
    assert daily[date(2024, 3, 31)] == (2, 23) and daily[date(2024, 10, 27)] == (3, 25)
    assert daily[date(2024, 6, 2)] == (0, 24)
    assert len(daily) == (date(2024, 10, 27) - date(2024, 3, 31)).days + 1
    assert sum(h for _, h in daily.values()) == len(hourly) + 1  # the repeated hour is one row of 2 hours


def test_an_extract_that_stops_mid_day_ends_at_its_last_arrival(ws):
    """The hours after the last arrival of an extract cut at 14:23 had counted as zero arrivals (so the
    evening looked empty to the forecast, which began at the next midnight), and that half day as a quiet day."""
    add_visits(ws, [("a", "2024-06-01 08:10", None, None), ("b", "2024-06-02 09:05", None, None),
                    ("c", "2024-06-02 14:23", None, None)])
    hourly = ws.sql("SELECT ds, y FROM ed_arrivals_hourly ORDER BY ds")
    assert hourly[-1] == (datetime(2024, 6, 2, 14), 1) and sum(r[1] for r in hourly) == 3
    assert [r[0] for r in ws.sql("SELECT ds FROM ed_arrivals_daily")] == [date(2024, 6, 1)]


def test_census_counts_patients_present_at_the_top_of_each_hour_including_open_stays(ws):
    ws.con.execute("INSERT INTO units VALUES ('W1', 'Ward 1', 'ward', 'medicine', 2, 'mixed', true)")
    ws.con.executemany(
        "INSERT INTO movements (stay_id, seq, unit_id, in_ts, out_ts) VALUES (?, 1, 'W1', ?, ?)",
        [("s1", "2024-06-01 10:30", "2024-06-01 13:00"),  # present at 11, 12
         ("s2", "2024-06-01 12:00", None),  # present from 12 until the end of the data
         ("s3", "2024-06-01 14:15", "2024-06-01 16:45")],  # present at 15, 16
    )
    census = dict(ws.sql("SELECT hour(ds), census FROM census_hourly WHERE unit_id = 'W1' AND ds::DATE = '2024-06-01'"))
    assert [census[h] for h in range(10, 18)] == [0, 1, 2, 1, 1, 2, 2, 1]
    occ = ws.sql("SELECT mean_census, max_census, capacity, occupancy, hours FROM occupancy_daily "
                 "WHERE unit_id = 'W1' AND ds = '2024-06-01'")[0]
    assert occ[1] == 2 and occ[2] == 2 and occ[3] == pytest.approx(occ[0] / 2, abs=1e-3)
    assert occ[4] == 18  # the data covers 00:00-17:00 of its only day (the last event at 16:45), not 24 hours


def test_census_includes_the_ed_from_visits(ws):
    add_visits(ws, [("a", "2024-06-01 09:10", "2024-06-01 11:05", None), ("b", "2024-06-01 09:50", None, None)])
    census = dict(ws.sql("SELECT hour(ds), census FROM census_hourly WHERE unit_id = 'ED' AND ds::DATE = '2024-06-01'"))
    assert census[9] == 0 and census[10] == 2 and census[11] == 2 and census[12] == 1


def test_los_ed_los_and_boarding(ws):
    add_visits(ws, [("a", "2024-06-01 09:00", "2024-06-01 15:30", "2024-06-01 12:00")])
    ws.con.execute("INSERT INTO stays (stay_id, admit_ts, discharge_ts, specialty) VALUES ('s', '2024-06-01 15:30', '2024-06-04 15:30', 'medicine')")
    assert ws.sql("SELECT ed_los_hours FROM ed_los")[0][0] == 6.5
    assert ws.sql("SELECT boarding_hours FROM boarding")[0][0] == 3.5
    assert ws.sql("SELECT los_days FROM los")[0][0] == 3.0


def test_supply_usage_daily_is_zero_filled(ws):
    ws.con.executemany(
        "INSERT INTO supply_usage VALUES (?, ?, ?, ?, ?, NULL, NULL)",
        [("u1", "2024-01-01", "GLV", "W1", 3.0), ("u2", "2024-01-04", "GLV", "W1", 2.0), ("u3", "2024-01-02", "IV", None, 1.0)],
    )
    rows = ws.sql("SELECT unique_id, ds, y FROM supply_usage_daily ORDER BY 1, 2")
    glv = [(str(d), y) for u, d, y in rows if u == "GLV@W1"]
    assert glv == [("2024-01-01", 3.0), ("2024-01-02", 0.0), ("2024-01-03", 0.0), ("2024-01-04", 2.0)]
    assert len([r for r in rows if r[0] == "IV@ALL"]) == 4


def test_views_work_on_an_empty_workspace(ws):
    for view in ("ed_arrivals_hourly", "ed_arrivals_daily", "census_hourly", "occupancy_daily", "supply_usage_daily"):
        assert ws.sql(f"SELECT count(*) FROM {view}")[0][0] == 0


def test_utc_workspace_has_no_dst(tmp_path):
    with Workspace.create(tmp_path / "u.hospops", timezone="UTC") as w:
        add_visits(w, [("a", "2024-03-31 01:30", None, None), ("b", "2024-10-27 01:30", None, None)])
        daily = dict(w.sql("SELECT ds, hours FROM ed_arrivals_daily"))
        assert set(daily.values()) == {24}


def test_census_window_matches_census_hourly_across_dst_and_past_the_data(ws):
    """The windowed census (what the Overview asks for) gives census_hourly's rows in the window exactly:
    stays begun before it, open stays, both DST changes (Europe/London), windows reaching past the data."""
    from datetime import timedelta

    ws.con.execute("INSERT INTO units VALUES ('W1', 'Ward 1', 'ward', 'medicine', 4, 'mixed', true)")
    ws.con.execute("INSERT INTO units VALUES ('W2', 'Ward 2', 'ward', 'surgery', 4, 'mixed', true)")
    rows, t = [], datetime(2024, 3, 20, 7, 20)
    for i in range(60):  # stays of 5-70 hours every 13 hours, across both clock changes
        out = None if i % 17 == 5 else t + timedelta(hours=5 + (i * 7) % 66)
        rows.append((f"s{i}", "W1" if i % 3 else "W2", t, out))
        t += timedelta(hours=13) if i != 30 else timedelta(days=200)  # to late October for the second half
    ws.con.executemany("INSERT INTO movements (stay_id, seq, unit_id, in_ts, out_ts) VALUES (?, 1, ?, ?, ?)", rows)
    add_visits(ws, [("a", "2024-03-31 00:30", "2024-03-31 03:10", None), ("b", "2024-10-27 01:15", None, None)])
    windows = [("2024-03-30", "2024-04-02"), ("2024-10-26 05:00", "2024-10-28"), ("2024-03-25 13:00", "2024-03-25 14:00"),
               ("2024-01-01", "2025-06-01"), ("2023-01-01", "2023-02-01"), ("2030-01-01", "2030-01-02"),
               ("2024-03-30 10:30", "2024-03-31 05:00"),  # off the hour: starts at 11:00, as the filter does
               ("2024-10-27 01:00", "2024-10-27 04:00"), ("2024-03-31 01:00", "2024-03-31 04:00")]
    seen = 0
    for lo, hi in windows:
        want = ws.sql(f"SELECT unit_id, ds, census, hours FROM census_hourly WHERE ds >= '{lo}' AND ds < '{hi}' "
                      "ORDER BY ALL")
        got = ws.sql(f"SELECT * FROM census_window(TIMESTAMP '{lo}', TIMESTAMP '{hi}') ORDER BY ALL")
        assert got == want, (lo, hi)
        seen += len(got)
    autumn = ws.sql("SELECT hours FROM census_window(TIMESTAMP '2024-10-27', TIMESTAMP '2024-10-28')")
    assert seen > 1000 and (2,) in autumn, "the windows must hold rows, the repeated autumn hour too"


def test_overview_census_falls_back_to_the_whole_view_without_the_macro(ws):
    from datasets.metrics.overview import census_grid

    ws.con.execute("INSERT INTO units VALUES ('W1', 'Ward 1', 'ward', 'medicine', 2, 'mixed', true)")
    ws.con.execute("INSERT INTO movements (stay_id, seq, unit_id, in_ts, out_ts) VALUES "
                   "('s1', 1, 'W1', '2024-06-01 10:30', '2024-06-02 09:00')")
    a = census_grid(ws, datetime(2024, 6, 1), datetime(2024, 6, 2))
    ws.con.execute("DROP MACRO TABLE census_window")  # as in a read-only workspace from an older HospOps
    b = census_grid(ws, datetime(2024, 6, 1), datetime(2024, 6, 2))
    assert a[0] == b[0] == ["W1"] and a[2].equals(b[2])
    assert a[2].iloc[0].tolist()[9:13] == [0.0, 0.0, 0.5, 0.5]  # in at 10:30: present from 11:00
