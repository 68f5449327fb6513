"""Stock on hand (supply_stock, schema 4): the demo's counts, the reorder table's use of them, the migration."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from datasets.errors import HospOpsError
from datasets.store import SCHEMA_VERSION, Workspace
from desktop.cli import main
from forecasting.inventory import RECOUNT, recorded_stock, reorder_table


@pytest.fixture(scope="module")
def wsr(demo_ws):
    ws = Workspace.open(demo_ws, read_only=True)
    yield ws
    ws.close()


def test_demo_records_plausible_stock(wsr):
    pairs = set(wsr.sql("SELECT DISTINCT item_id, unit_id FROM supply_usage"))
    counted = set(wsr.sql("SELECT DISTINCT item_id, unit_id FROM supply_stock"))
    assert counted == pairs  # every store that uses an item keeps it
    last, n_keys, n = wsr.sql("""SELECT max(as_of), count(DISTINCT (item_id, unit_id, as_of)), count(*)
                                 FROM supply_stock""")[0]
    assert n_keys == n  # key (item_id, unit_id, as_of) is unique
    end = pd.Timestamp(wsr.settings()["demo_end"])
    assert pd.Timestamp(last) == end  # the last count is the demo's "now"
    assert wsr.sql("SELECT min(on_hand) FROM supply_stock")[0][0] >= 0
    # stores run out now and then, but rarely; typical stock covers days of use, not months
    empty = wsr.sql("SELECT avg((on_hand = 0)::INT) FROM supply_stock")[0][0]
    assert 0 < empty < 0.1
    cover = wsr.sql("""
        WITH use AS (SELECT item_id, unit_id, sum(quantity) / 28 AS daily FROM supply_usage
                     WHERE usage_date >= CAST(? AS DATE) - 28 GROUP BY ALL)
        SELECT median(s.on_hand / u.daily) FROM supply_stock s JOIN use u USING (item_id, unit_id)
        WHERE s.as_of = ? AND u.daily > 1""", [end.date(), end])[0][0]
    assert 1 < cover < 30


def test_reorder_table_uses_recorded_stock(wsr):
    keys = ["IV-SET@M1", "CAN-20G@ED", "RBC-UNIT@ICU"]
    t = reorder_table(wsr, None, 0.95, items=keys).set_index(["item", "unit"])
    assert (t["stock_basis"] == "recorded").all()
    end = pd.Timestamp(wsr.settings()["demo_end"])
    for (item, unit), r in t.iterrows():
        on_hand = wsr.sql("SELECT on_hand FROM supply_stock WHERE item_id = ? AND unit_id = ? AND as_of = ?",
                          [item, unit, end])[0][0]
        assert r["on_hand"] == pytest.approx(on_hand)  # counted at the end: no use since to take off
        assert pd.Timestamp(r["stock_as_of"]) == end
        assert r["days_of_cover"] == pytest.approx(on_hand / r["forecast_daily"])
    # more stock, less risk: the table's stock-out chance falls as given stock rises
    probs = [reorder_table(wsr, None, 0.95, items=keys[:1], on_hand={keys[0]: s})["stockout_prob"].iloc[0]
             for s in (0, 30, 45, 60, 1000)]
    assert probs[0] == 1 and probs[-1] == 0 and all(a >= b for a, b in zip(probs, probs[1:]))
    # a count names one store: an item kept in several units needs ITEM@UNIT (it was copied to every unit,
    # multiplying the stock), and a name with no supply use is refused rather than ignored
    with pytest.raises(HospOpsError, match="which unit"):
        reorder_table(wsr, None, 0.95, items=keys[1:2], on_hand={"CAN-20G": 100})
    with pytest.raises(HospOpsError, match="NOSUCH"):
        reorder_table(wsr, None, 0.95, items=keys[1:2], on_hand={"NOSUCH": 100})
    with pytest.raises(HospOpsError, match="NOSUCH"):
        reorder_table(wsr, None, 0.95, items=["NOSUCH"])
    # the same table every run
    again = reorder_table(wsr, None, 0.95, items=keys).set_index(["item", "unit"])
    assert np.allclose(again["reorder_point"], t.loc[again.index, "reorder_point"])


def item_x(ws, use) -> pd.DatetimeIndex:
    """Item X (lead time 2 days) used on ward W1 on 60 days from 1 Jan 2026, ``use(i)`` on day ``i``."""
    days = pd.date_range("2026-01-01", periods=60, freq="D")
    with ws.transaction() as con:
        con.execute("INSERT INTO supply_items (item_id, name, lead_time_days) VALUES ('X', 'Item X', 2)")
        con.executemany("INSERT INTO supply_usage (usage_id, usage_date, item_id, unit_id, quantity) "
                        "VALUES (?, ?, 'X', 'W1', ?)", [(f"U{i}", d.date(), use(i)) for i, d in enumerate(days)])
    return days


def test_a_count_before_the_last_use_is_brought_forward(ws, capsys):
    days = item_x(ws, lambda i: 3.0 + i % 2)
    with ws.transaction() as con:
        # an old count, then the latest one four days before the end of the use history (midnight)
        con.executemany("INSERT INTO supply_stock VALUES ('X', 'W1', ?, ?)",
                        [(days[-20], 5.0), (days[-4], 40.0)])
    use = ws.df("SELECT unique_id, item_id, unit_id, CAST(ds AS TIMESTAMP) AS ds, y FROM supply_usage_daily")
    used_since = sum(3.0 + i % 2 for i in range(56, 60))  # the last four days' use
    on_hand, as_of = recorded_stock(ws, use)[("X", "W1")]
    assert on_hand == pytest.approx(40.0 - used_since)
    assert pd.Timestamp(as_of) == days[-4]
    with ws.transaction() as con:  # an item nobody counted: stock assumed from recent use
        con.execute("INSERT INTO supply_items (item_id, name, lead_time_days) VALUES ('Y', 'Item Y', 2)")
        con.executemany("INSERT INTO supply_usage (usage_id, usage_date, item_id, unit_id, quantity) "
                        "VALUES (?, ?, 'Y', 'W1', 2.0)", [(f"V{i}", d.date()) for i, d in enumerate(days)])
    t = reorder_table(ws, None, 0.9).set_index("item")
    assert t.loc["X", "stock_basis"] == "recorded" and t.loc["X", "on_hand"] == pytest.approx(40 - used_since)
    assert t.loc["X", "lead_time_days"] == 2
    assert t.loc["Y", "stock_basis"].startswith("assumed") and t.loc["Y", "on_hand"] == pytest.approx(4.0)
    assert pd.isna(t.loc["Y", "stock_as_of"])
    # more used since the count than was counted: a delivery came that no count shows, so the stock is not
    # known. It read 0 on hand and a certain stock-out, at the top of the table; now it says to count the store
    with ws.transaction() as con:
        con.execute("INSERT INTO supply_stock VALUES ('X', 'W1', ?, 6.0)", [days[-3]])
    assert recorded_stock(ws, use)[("X", "W1")][0] == pytest.approx(6.0 - sum(3.0 + i % 2 for i in range(57, 60)))
    t = reorder_table(ws, None, 0.9)
    x = t.set_index("item").loc["X"]
    assert x["stock_basis"] == RECOUNT and pd.isna(x["on_hand"]) and pd.isna(x["stockout_prob"])
    assert pd.isna(x["days_of_cover"]) and x["reorder_point"] > 0  # the reorder point does not need the stock
    assert t["item"].iloc[-1] == "X"  # after the stores with a known risk
    ws.close()  # (the command line opens the file itself)
    assert main(["supplies", str(ws.path)]) == 0
    text = capsys.readouterr().out
    assert "1 store(s) used more since their last count than it held" in text and "X@W1" in text
    row = next(line for line in text.splitlines() if line.startswith("X "))
    assert "count it" in row and "?" in row


def test_the_table_as_it_stood_at_an_earlier_time(ws):
    # the app's "as of" time: use of the whole days before it, and the last count taken by then
    days = item_x(ws, lambda i: 3.0 if i < 40 else 30.0)
    with ws.transaction() as con:
        con.executemany("INSERT INTO supply_stock VALUES ('X', 'W1', ?, ?)", [(days[30], 50.0), (days[-1], 500.0)])
    at = days[35] + pd.Timedelta(hours=14)
    then = reorder_table(ws, None, 0.9, as_of=at).iloc[0]
    now = reorder_table(ws, None, 0.9).iloc[0]
    assert then["stock_as_of"] == days[30].isoformat() and now["stock_as_of"] == days[-1].isoformat()
    # days 30-34 used since the count, and 14 of day 35's 24 hours (the app at 23:00 took none of that day's use,
    # and showed the midnight count where the command line, at the next count, showed what was left)
    assert then["on_hand"] == pytest.approx(50.0 - 3.0 * 5 - 3.0 * 14 / 24)
    assert then["daily_use_28d"] == pytest.approx(3.0) and now["daily_use_28d"] > 20  # the later surge unseen
    with pytest.raises(HospOpsError, match="before"):
        reorder_table(ws, None, 0.9, as_of=days[0])


def test_a_rarely_used_item_keeps_a_reorder_point_and_a_sane_cover(ws):
    """A store used on 4 days a year, 2-5 units each time (platelets on a surgical unit): TSB's chance of use
    decayed after weeks without any, to a reorder point of 0 at a 99.9 % service level, 73,000 days of cover
    and a safety stock of -0.1. The past year's use over each span of the lead time is the distribution."""
    days = pd.date_range("2025-01-01", periods=400, freq="D")
    used = {40: 3, 150: 2, 260: 5, 300: 3}  # the last use 100 days before the end
    with ws.transaction() as con:
        con.execute("INSERT INTO supply_items (item_id, name, lead_time_days) VALUES ('PLT', 'Platelets', 14)")
        con.executemany("INSERT INTO supply_usage (usage_id, usage_date, item_id, unit_id, quantity) "
                        "VALUES (?, ?, 'PLT', 'SAU', ?)", [(f"U{i}", d.date(), float(used.get(i, 0)))
                                                         for i, d in enumerate(days)])
    r = reorder_table(ws, None, 0.999, on_hand={"PLT": 4}).iloc[0]
    assert r["model"] == "past use" and r["reorder_point"] == 5, r.to_dict()
    assert r["forecast_daily"] == pytest.approx(13 / 365, rel=0.02) and 100 < r["days_of_cover"] < 130
    assert r["stockout_prob"] > 0 and r["safety_stock"] >= 0
    low = reorder_table(ws, None, 0.5, on_hand={"PLT": 4}).iloc[0]
    assert low["reorder_point"] == 0 and low["safety_stock"] == 0  # met below the mean: 0, not negative
    # a longer lead time never lowers the reorder point: past 91 days (a quarter of the year's spans) the year's
    # weeks are drawn instead; it fell back to TSB there, and 92 days gave a reorder point of 0 against 91's 7
    rows = [reorder_table(ws, lt, 0.95, on_hand={"PLT": 4}).iloc[0] for lt in (30, 91, 92, 200, 365)]
    assert all(r["model"] == "past use" for r in rows)
    rops = [r["reorder_point"] for r in rows]
    assert rops == sorted(rops) and rops[2] >= 5, rops
    assert all(100 < r["days_of_cover"] < 130 for r in rows)  # the rate, not the lead time, sets the cover


def test_schema_3_workspace_gains_supply_stock(tmp_path):
    p = tmp_path / "old.hospops"
    with Workspace.create(p) as ws:  # make it look like a schema-3 workspace
        ws.con.execute("DROP TABLE supply_stock")
        ws.con.execute("UPDATE settings SET value = '3' WHERE key = 'schema_version'")
    assert SCHEMA_VERSION >= 4
    with Workspace.open(p) as ws:
        assert ws.settings()["schema_version"] == str(SCHEMA_VERSION)
        cols = {r[0]: r[1] for r in ws.sql("DESCRIBE supply_stock")}
        assert cols == {"item_id": "VARCHAR", "unit_id": "VARCHAR", "as_of": "TIMESTAMP", "on_hand": "DOUBLE"}
        # a workspace without counts still gets a reorder table, on the assumed stock
        assert recorded_stock(ws, pd.DataFrame(columns=["item_id", "unit_id", "ds", "y"])) == {}
        ws.con.execute("DROP TABLE supply_stock")
        assert recorded_stock(ws, pd.DataFrame(columns=["item_id", "unit_id", "ds", "y"])) == {}


def test_cli_supply_forecast_reports_stock(demo_ws, capsys):
    assert main(["forecast", str(demo_ws), "--series", "supply:IV-SET@M1", "--horizon", "7", "--models",
                 "seasonal_naive", "--json"]) == 0
    js = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    st = js["stock"]
    assert st["stock_basis"] == "recorded" and st["on_hand"] >= 0 and 0 <= st["stockout_prob"] <= 1
    assert st["reorder_point"] >= st["forecast_to_delivery"] and st["lead_time_days"] == 3
    assert main(["forecast", str(demo_ws), "--series", "supply:IV-SET@M1", "--horizon", "7", "--models",
                 "seasonal_naive"]) == 0
    out = capsys.readouterr().out
    assert "Stock:" in out and "chance of running out" in out
    # the stock line's model is named for what it is, not as the forecast's own glm_negbin
    assert st["model"] in ("glm_negbin_365d", "tsb", "past use") and f"its model {st['model']}" in out
    assert main(["supplies", str(demo_ws), "--items", "IV-SET", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"]
    assert rows and all(r["stock_basis"] == "recorded" for r in rows)
