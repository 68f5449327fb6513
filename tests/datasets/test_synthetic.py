"""The demo hospital: deterministic, realistic in the ways the forecasts and solvers rely on."""
from __future__ import annotations

import hashlib

import pytest

from datasets.errors import Cancelled, WorkspaceError
from datasets.store import Workspace
from datasets.synthetic import build_demo


def table_digest(ws, table):
    rows = ws.sql(f"SELECT * FROM {table} ORDER BY ALL")
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_same_seed_same_hospital_other_seed_other_hospital(tmp_path, demo_ws):
    again = tmp_path / "again.hospops"
    build_demo(again, days=60, seed=11)
    other = tmp_path / "other.hospops"
    build_demo(other, days=60, seed=12)
    with Workspace.open(demo_ws, read_only=True) as a, Workspace.open(again, read_only=True) as b, \
            Workspace.open(other, read_only=True) as c:
        for table in ("ed_visits", "stays", "movements", "supply_usage", "staff", "requests", "beds"):
            assert table_digest(a, table) == table_digest(b, table), table
        assert table_digest(a, "ed_visits") != table_digest(c, "ed_visits")


def test_demo_shape(demo_ws):
    with Workspace.open(demo_ws, read_only=True) as ws:
        assert 390 <= ws.sql("SELECT count(*) FROM beds")[0][0] <= 430
        assert ws.sql("SELECT sum(capacity) FROM units WHERE is_inpatient")[0][0] == ws.sql("SELECT count(*) FROM beds")[0][0]
        per_day = ws.sql("SELECT avg(y) FROM ed_arrivals_daily")[0][0]
        assert 180 < per_day < 300
        admitted = ws.sql("SELECT avg((disposition = 'admitted')::INT) FROM ed_visits WHERE disposition IS NOT NULL")[0][0]
        assert 0.25 < admitted < 0.40
        acuity = dict(ws.sql("SELECT acuity, count(*) FROM ed_visits GROUP BY 1"))
        assert set(acuity) == {1, 2, 3, 4, 5} and acuity[3] > acuity[1]
        # daily cycle: the small hours are quiet, late morning is busy
        by_hour = dict(ws.sql("SELECT hour(ds), avg(y) FROM ed_arrivals_hourly GROUP BY 1"))
        assert by_hour[11] > 3 * by_hour[5]
        # every admitted ED visit links to a stay whose first bed is when the patient left the ED
        bad = ws.sql("""SELECT count(*) FROM ed_visits v JOIN movements m ON m.stay_id = v.stay_id AND m.seq = 1
                        WHERE v.departure_ts <> m.in_ts""")[0][0]
        assert bad == 0
        # no bed holds two patients at once
        overlaps = ws.sql("""SELECT count(*) FROM (
              SELECT bed_id, in_ts, lag(out_ts) OVER (PARTITION BY bed_id ORDER BY in_ts) AS prev_out FROM movements)
            WHERE prev_out > in_ts""")[0][0]
        assert overlaps == 0
        # single-sex bays hold one sex; side rooms take isolation
        wrong_sex = ws.sql("""SELECT count(*) FROM movements m JOIN beds b USING (bed_id) JOIN stays s USING (stay_id)
                              JOIN patients p USING (patient_id) WHERE b.sex IS NOT NULL AND b.sex <> p.sex""")[0][0]
        assert wrong_sex == 0
        # patients still in hospital at the end have open stays and movements
        assert ws.sql("SELECT count(*) FROM stays WHERE discharge_ts IS NULL")[0][0] > 200
        assert ws.sql("SELECT count(*) FROM movements WHERE out_ts IS NULL")[0][0] == \
            ws.sql("SELECT count(*) FROM stays WHERE discharge_ts IS NULL")[0][0]
        assert ws.sql("SELECT count(*) FROM supply_usage WHERE quantity < 0")[0][0] == 0
        assert ws.sql("SELECT count(DISTINCT item_id) FROM supply_usage")[0][0] >= 10
        assert ws.sql("SELECT count(*) FROM staff WHERE skills LIKE '%charge%'")[0][0] > 50
        assert ws.sql("SELECT count(*) FROM shift_types")[0][0] >= 3
        assert ws.settings()["timezone"] == "Europe/London"


def test_wards_run_mostly_85_to_95_percent_full_over_three_years(tmp_path):
    p = tmp_path / "full.hospops"
    summary = build_demo(p, days=3 * 365, seed=7)
    assert summary["ed_visits"] > 200_000
    with Workspace.open(p, read_only=True) as ws:
        occ = dict(ws.sql("""SELECT unit_id, avg(occupancy) FROM occupancy_daily o JOIN units u USING (unit_id)
                             WHERE u.kind = 'ward' AND o.ds >= (SELECT min(ds) + 30 FROM occupancy_daily)
                               AND o.ds < (SELECT max(ds) FROM occupancy_daily) GROUP BY 1"""))
        general = [v for k, v in occ.items() if k.startswith(("M", "S"))]
        assert sum(0.84 <= v <= 0.97 for v in general) >= len(general) - 3, occ
        assert all(0.6 <= v <= 0.99 for v in occ.values()), occ
        # winter is busier than summer
        season = dict(ws.sql("""SELECT month(ds) IN (12, 1, 2), avg(y) FROM ed_arrivals_daily GROUP BY 1"""))
        assert season[True] > season[False] * 1.05
        # DST days have 23 and 25 hours
        assert {r[0] for r in ws.sql("SELECT hours FROM ed_arrivals_daily")} == {23, 24, 25}


def test_an_existing_workspace_is_not_replaced_without_asking(tmp_path):
    p = tmp_path / "x.hospops"
    p.write_text("precious")
    with pytest.raises(WorkspaceError, match="already exists"):
        build_demo(p, days=30)
    assert p.read_text() == "precious"


def test_cancelled_build_leaves_nothing_behind(tmp_path):
    p = tmp_path / "x.hospops"
    steps = []

    def stop():
        steps.append(1)
        return len(steps) > 3

    with pytest.raises(Cancelled):
        build_demo(p, days=60, should_stop=stop)
    assert list(tmp_path.iterdir()) == []


def test_days_are_validated(tmp_path):
    with pytest.raises(WorkspaceError, match="between"):
        build_demo(tmp_path / "x.hospops", days=3)
