"""Bed board, waiting list and 72-hour outlook (datasets.metrics.beds) on the demo hospital and on a tiny
hand-made workspace; plus the `hospops beds` commands end to end."""
from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from datasets.errors import HospOpsError
from datasets.metrics.beds import (CLEANING_HOURS, _nights_pmf, _stay_probability, bed_board, board_summary,
                                   outlook, outlook_backtest, patient_needs, waiting_list)
from datasets.store import Workspace

T = "2026-11-16 09:00"  # a Monday morning inside the 60-day demo (ends 2026-11-21)


@pytest.fixture(scope="module")
def demo(demo_ws):
    with Workspace.open(demo_ws, read_only=True) as ws:
        yield ws


def test_board_one_row_per_bed_and_occupancy_matches_movements(demo):
    board = bed_board(demo, T)
    beds = demo.df("SELECT bed_id FROM beds")
    assert len(board) == len(beds) and board["bed_id"].is_unique
    assert set(board["state"]) <= {"occupied", "free", "blocked", "cleaning"}
    mv = demo.df("SELECT bed_id, in_ts, out_ts FROM movements")
    t = pd.Timestamp(T)
    inside = mv[(mv["in_ts"] <= t) & ((mv["out_ts"] > t) | mv["out_ts"].isna())]
    occ = board[board["state"] == "occupied"]
    assert set(occ["bed_id"]) == set(inside["bed_id"])
    assert occ["patient_id"].notna().all() and (occ["los_hours"] >= 0).all()
    assert (pd.to_datetime(occ["expected_discharge"]) > t).all()
    s = board_summary(board)
    assert s["beds"].sum() == len(board) and (s["occupied"] + s["free"] + s["blocked"] + s["cleaning"] == s["beds"]).all()


def test_the_board_expects_about_as_many_to_leave_today_as_do(demo):
    """Each occupant's expected discharge was a median of hours since admission, which lay after today for
    nearly everyone: on days when 70-90 patients left, the board showed no bed freeing today. The chance of
    leaving today follows the day of the stay and the hour; summed, it is near the discharges that followed."""
    end = pd.Timestamp(demo.settings()["demo_end"]).normalize()
    stays = demo.df("SELECT stay_id, discharge_ts FROM stays")
    for back in (5, 12):
        at = end - pd.Timedelta(days=back) + pd.Timedelta(hours=9)
        board = bed_board(demo, at)
        occ = board[board["state"] == "occupied"].merge(stays, on="stay_id")
        out = occ["discharge_ts"]
        left = int(((out >= at) & (out < at.normalize() + pd.Timedelta(days=1))).sum())
        expected = board_summary(board)["expected_out_today"].sum()
        assert left > 10 and abs(expected - left) < 0.25 * left, (at, expected, left)
        assert (occ["leave_today"].between(0, 1)).all()


def test_board_cleaning_then_free_after_a_discharge(demo):
    mv = demo.df("""SELECT m.bed_id, m.out_ts FROM movements m
                    WHERE m.out_ts IS NOT NULL AND m.out_ts < TIMESTAMP '2026-11-15'
                      AND NOT EXISTS (SELECT 1 FROM movements n WHERE n.bed_id = m.bed_id AND n.in_ts > m.in_ts
                                      AND n.in_ts < m.out_ts + INTERVAL 3 HOUR)
                    ORDER BY m.out_ts LIMIT 1""")
    bed, out = mv.loc[0, "bed_id"], mv.loc[0, "out_ts"]
    at_clean = out + timedelta(hours=CLEANING_HOURS / 2)
    at_free = out + timedelta(hours=CLEANING_HOURS * 2)
    assert bed_board(demo, at_clean).set_index("bed_id").loc[bed, "state"] == "cleaning"
    assert bed_board(demo, at_free).set_index("bed_id").loc[bed, "state"] == "free"


def test_board_before_any_data_is_empty(demo):
    board = bed_board(demo, "2020-01-01 00:00")
    # nobody in any bed; beds.status has no history, so the demo's few blocked beds show as blocked at any time
    assert set(board["state"]) == {"free", "blocked"}
    assert (board["state"] == "blocked").sum() == (board["bed_id"].isin(
        demo.df("SELECT bed_id FROM beds WHERE status = 'blocked'")["bed_id"])).sum() > 0


def test_board_rejects_a_non_time(demo):
    with pytest.raises(HospOpsError):
        bed_board(demo, "next tuesday-ish")


def test_waiting_list_has_boarders_with_their_wait(demo):
    b = demo.df("""SELECT visit_id, stay_id, decision_ts, departure_ts FROM ed_visits
                   WHERE decision_ts IS NOT NULL AND departure_ts > decision_ts + INTERVAL 2 HOUR
                   ORDER BY decision_ts LIMIT 1""")
    at = b.loc[0, "decision_ts"] + timedelta(hours=1.5)
    wl = waiting_list(demo, at)
    row = wl[wl["stay_id"] == b.loc[0, "stay_id"]]
    assert len(row) == 1 and row.iloc[0]["kind"] == "ed_boarder"
    assert abs(row.iloc[0]["wait_hours"] - 1.5) < 1e-6
    assert set(wl["kind"]) <= {"ed_boarder", "elective", "transfer"}
    # nobody listed who had already left the ED
    after = waiting_list(demo, b.loc[0, "departure_ts"] + timedelta(minutes=1))
    assert b.loc[0, "stay_id"] not in set(after["stay_id"])


def test_electives_due_later_are_listed_apart_and_counted_as_the_overview_counts(demo):
    from datasets.metrics.beds import waiting_summary
    from datasets.metrics.overview import snapshot

    el = demo.df("""SELECT admit_ts FROM stays WHERE admission_type = 'elective' AND hour(admit_ts) BETWEEN 15 AND 20
                    ORDER BY admit_ts LIMIT 1 OFFSET 30""")
    at = el.loc[0, "admit_ts"].replace(hour=13, minute=0, second=0)  # the same day, before it is due
    wl = waiting_list(demo, at)
    due = wl[wl["due_later"]]
    assert len(due) >= 1 and set(due["kind"]) == {"elective"} and (due["wait_hours"] == 0).all()
    assert (pd.to_datetime(due["since"]) > at).all() and (pd.to_datetime(wl[~wl["due_later"]]["since"]) <= at).all()
    text = waiting_summary(wl)
    boarders = int((wl["kind"] == "ed_boarder").sum())
    assert text.startswith(f"{len(wl) - len(due)} waiting for a bed ({boarders} in the ED")
    assert text.endswith(f"{len(due)} elective{'s' if len(due) > 1 else ''} due later today")
    # the Overview's card ("waiting for a bed", in the ED) and the Beds page's "in the ED" are one number
    assert snapshot(demo, at)["waiting_for_bed"] == boarders


def test_needs_are_deterministic_and_sensible():
    assert patient_needs("S1", "cardiology", 70)["telemetry"] is True
    assert patient_needs("S1", "medicine", 7)["paediatric"] is True
    assert patient_needs("S1", "medicine", 70) == patient_needs("S1", "medicine", 70)
    share = np.mean([patient_needs(f"S{i:08d}", "medicine", 50)["isolation"] for i in range(4000)])
    assert 0.05 < share < 0.11


def test_outlook_shape_and_bands(demo):
    df = outlook(demo, T, hours=72)
    units = demo.df("SELECT unit_id FROM units WHERE is_inpatient")["unit_id"]
    assert set(df["unit_id"]) == set(units) and len(df) == 72 * len(units)
    assert (df["lo95"] <= df["lo80"] + 1e-9).all() and (df["lo80"] <= df["expected"] + 1e-9).all()
    assert (df["expected"] <= df["hi80"] + 1e-9).all() and (df["hi80"] <= df["hi95"] + 1e-9).all()
    # the first hour starts from the census now
    board = bed_board(demo, T)
    now = board[board["state"] == "occupied"].groupby("unit_id").size()
    first = df[df["ts"] == df["ts"].min()].set_index("unit_id")["expected"]
    assert abs(first.sum() - now.sum()) < 0.15 * now.sum()


def test_outlook_backtest_reports_coverage_and_mae(demo):
    res = outlook_backtest(demo, ["2026-11-10 08:00", "2026-11-14 20:00"], hours=24)
    assert res["points"] > 0 and 0 <= res["coverage"]["80"] <= res["coverage"]["95"] <= 1
    assert res["mae"] >= 0 and res["coverage"]["95"] > 0.5


def _tiny(ws, discharged: bool):
    con = ws.con
    con.execute("INSERT INTO units (unit_id, name, kind, specialty, capacity, sex_policy, is_inpatient) "
                "VALUES ('W1', 'Ward 1', 'ward', 'medicine', 4, 'mixed', true)")
    for i, status in enumerate(["open", "open", "open", "blocked"]):
        con.execute("INSERT INTO beds (bed_id, unit_id, room, side_room, sex, telemetry, status) "
                    "VALUES (?, 'W1', 'A', false, NULL, false, ?)", [f"W1-{i}", status])
    t0 = datetime(2026, 3, 2, 10, 0)
    for i in range(3):
        con.execute("INSERT INTO patients (patient_id, sex, birth_year) VALUES (?, 'F', 1950)", [f"P{i}"])
        con.execute("INSERT INTO stays (stay_id, patient_id, admit_ts, admission_type, specialty) "
                    "VALUES (?, ?, ?, 'emergency', 'medicine')", [f"S{i}", f"P{i}", t0 + timedelta(hours=i)])
        con.execute("INSERT INTO movements (stay_id, seq, unit_id, bed_id, in_ts) VALUES (?, 1, 'W1', ?, ?)",
                    [f"S{i}", f"W1-{i}", t0 + timedelta(hours=i)])
    if discharged:
        con.execute("UPDATE movements SET out_ts = in_ts + INTERVAL 30 HOUR WHERE stay_id = 'S0'")
        con.execute("UPDATE stays SET discharge_ts = admit_ts + INTERVAL 30 HOUR WHERE stay_id = 'S0'")
    return t0


def test_outlook_when_nobody_is_ever_discharged(ws):
    t0 = _tiny(ws, discharged=False)
    at = t0 + timedelta(hours=5)
    board = bed_board(ws, at)
    assert list(board["state"]) == ["occupied", "occupied", "occupied", "blocked"]
    df = outlook(ws, at, hours=48)
    assert np.allclose(df["expected"], 3.0) and np.allclose(df["hi95"], 3.0) and np.allclose(df["lo95"], 3.0)
    assert (df["capacity"] == 4).all()


def test_outlook_discharges_someone_who_stayed_beyond_all_history(ws):
    t0 = _tiny(ws, discharged=True)
    at = t0 + timedelta(days=5)  # the two still there have stayed far longer than the only past stay
    df = outlook(ws, at, hours=72)
    assert df["expected"].iloc[0] <= 2.0 + 1e-9 and (df["lo95"] >= 0).all()
    # the current patients' part alone: someone who has stayed 5 nights when the only past stay lasted 1
    # keeps a chance of leaving every day (no one is kept forever, no one leaves for sure)
    pmf = _nights_pmf(np.array([1]), np.array([5, 5]), extra=4)
    day_off = np.repeat(np.arange(4), 24)[:72]
    p = _stay_probability(pmf, 5, 0.0, np.tile(np.linspace(0, 1, 24), 3), day_off)
    assert np.all(np.diff(p) <= 1e-12) and 0 < p[-1] < p[0] <= 1


# ------------------------------------------------------------------------------------------------ CLI
def _run(capsys, *argv):
    from desktop.cli import main

    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_cli_board_and_outlook_json(demo_ws, capsys):
    rc, out, _ = _run(capsys, "beds", "board", str(demo_ws), "--at", T, "--json")
    assert rc == 0
    d = json.loads(out)
    assert len(d["beds"]) == 416 and {"units", "waiting"} <= set(d)
    rc, out, _ = _run(capsys, "beds", "outlook", str(demo_ws), "--at", T, "--hours", "6", "--json")
    d = json.loads(out)
    assert rc == 0 and d["hours"] == 6 and {"expected", "lo80", "hi95", "capacity"} <= set(d["rows"][0])
    rc, out, _ = _run(capsys, "beds", "board", str(demo_ws), "--at", T, "--unit", "M3")
    assert rc == 0 and "M3-" in out and "waiting for a bed (" in out


def test_cli_outlook_text_marks_units_expected_over_their_beds(demo_ws, capsys):
    import re

    rc, out, _ = _run(capsys, "beds", "outlook", str(demo_ws), "--at", T, "--hours", "24")
    lines = out.splitlines()
    assert rc == 0 and lines[0].startswith("Expected patients per unit after")
    rows = [line.split() for line in lines[3:] if re.match(r"^[A-Z0-9]+\s+\d+\s", line)]
    assert rows
    flagged = False
    for unit, beds, *cells in rows:
        for value in re.findall(r"(\d+\.\d)(!?) \[", " ".join(cells)):
            assert (float(value[0]) > int(beds)) == (value[1] == "!"), (unit, beds, cells)
            flagged = flagged or value[1] == "!"
    assert flagged == any(line.startswith("More patients expected than beds") for line in lines)
