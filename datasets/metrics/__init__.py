"""Derived views: the operational picture, in SQL only.

The views are stored in the workspace, so any DuckDB client (and ``hospops query``) sees them.

Hours and DST. Timestamps are naive local time in the workspace's zone. Hourly series are built on a
grid of real hours (generated in UTC and shown on the local wall clock), so a spring-forward day has 23
rows (the skipped hour does not exist) and the autumn day has 24 rows of which the repeated hour
(e.g. 01:00) has ``hours = 2``: naive local timestamps cannot tell its two occurrences apart, so its
count covers both. A time inside the skipped hour (an impossible local time in the source) is counted
in the next real hour, never dropped. Daily series carry ``hours`` (23, 24 or 25) so rates stay honest.

Census is a snapshot at the top of each hour: a patient is present at ``h`` when ``in_ts <= h < out_ts``;
an open stay (``out_ts`` NULL) counts until the end of the data. It is computed by a +1/-1 event sweep
(window sum), not by exploding stays into hours.
"""
from __future__ import annotations

import hashlib

import duckdb

TZ = "(SELECT coalesce(max(value), 'UTC') FROM settings WHERE key = 'timezone')"
TZ_ROW = "SELECT coalesce(max(value), 'UTC') AS tz FROM settings WHERE key = 'timezone'"  # one row, column tz

# local wall-clock hour label -> number of real hours it stands for, between two local timestamps
HOUR_GRID_MACRO = f"""
CREATE OR REPLACE MACRO hour_grid(lo, hi) AS TABLE
    SELECT timezone({TZ}, u.ts) AS ds, count(*)::INTEGER AS hours
    FROM (SELECT unnest(generate_series(timezone({TZ}, date_trunc('hour', lo)),
                                        timezone({TZ}, date_trunc('hour', hi)),
                                        INTERVAL 1 HOUR)) AS ts) u
    WHERE lo IS NOT NULL
    GROUP BY 1
"""

# normalizes an impossible local time (inside the spring-forward gap) to the real time it denotes
NORMALIZE_MACRO = f"""
CREATE OR REPLACE MACRO local_norm(ts) AS timezone({TZ}, timezone({TZ}, ts))
"""

CEIL_HOUR_MACRO = """
CREATE OR REPLACE MACRO ceil_hour(ts) AS
    CASE WHEN ts = date_trunc('hour', ts) THEN ts ELSE date_trunc('hour', ts) + INTERVAL 1 HOUR END
"""

VIEWS: dict[str, str] = {
    # The series ends at the hour of the last arrival: an extract that stops mid-afternoon (14:23) had its
    # evening padded with zero arrivals, which pulled the forecast's level down and started it at the next
    # midnight. (That last hour may be cut short too, but its arrivals are counted: none is left out.)
    "ed_arrivals_hourly": """
        WITH b AS (SELECT date_trunc('day', min(arrival_ts)) AS lo, date_trunc('hour', max(arrival_ts)) AS hi
                   FROM ed_visits),
        grid AS (SELECT g.* FROM b, hour_grid(b.lo, b.hi) g),
        c AS (SELECT date_trunc('hour', local_norm(arrival_ts)) AS ds, count(*) AS y FROM ed_visits GROUP BY 1)
        SELECT 'ed_arrivals' AS unique_id, grid.ds, coalesce(c.y, 0)::BIGINT AS y, grid.hours
        FROM grid LEFT JOIN c USING (ds)
        ORDER BY grid.ds
    """,
    # whole days only: a last day whose hours stop before 23:00 is left out, not counted as a quiet day
    "ed_arrivals_daily": """
        SELECT 'ed_arrivals' AS unique_id, CAST(ds AS DATE) AS ds, sum(y)::BIGINT AS y, sum(hours)::INTEGER AS hours
        FROM ed_arrivals_hourly GROUP BY 2
        HAVING max(hour(ds)) = 23
        ORDER BY 2
    """,
    # Performance: the same as ceil_hour(local_norm(ts)) per event, but the time zone is read once and the
    # (ICU) conversion runs once per event; macros expand textually, so ceil_hour(local_norm(x)) converted
    # each timestamp six times. In UTC the normalization is the identity and is skipped.
    "census_events": f"""
        WITH tz AS ({TZ_ROW}),
        ed AS (SELECT coalesce((SELECT min(unit_id) FROM units WHERE kind = 'ed'), 'ED') AS unit_id),
        ev AS (
            SELECT unit_id, in_ts AS t, 1 AS delta FROM movements
            UNION ALL
            SELECT unit_id, out_ts, -1 FROM movements WHERE out_ts IS NOT NULL
            UNION ALL
            SELECT ed.unit_id, arrival_ts, 1 FROM ed_visits, ed
            UNION ALL
            SELECT ed.unit_id, departure_ts, -1 FROM ed_visits, ed WHERE departure_ts IS NOT NULL
        ),
        norm AS (
            SELECT unit_id,
                   CASE WHEN tz.tz IN ('UTC', 'Etc/UTC') THEN t ELSE timezone(tz.tz, timezone(tz.tz, t)) END AS t,
                   delta
            FROM ev, tz
        )
        SELECT unit_id, make_timestamp(hn * 3600000000) AS ts, hn, delta
        FROM (SELECT unit_id, (epoch_us(t) + 3599999999) // 3600000000 AS hn, delta FROM norm)
    """,
    # The sweep: the summed deltas per unit and hour, matched to every unit x grid hour (a full join keeps any
    # delta off the grid, so it still counts), one running sum over all cells, then the grid rows only.
    # Performance (benchmarks/census_speed.py, 1 M stays: 0.70 -> 0.46 -> 0.31 s, then this form 0.290 s
    # against the previous one's 0.353, alternating in one process on a slower day): each cell is one
    # BIGINT key ``k`` = the unit's rank << 32 | the hour's offset from ``h0``, 32 hours before the first
    # event's hour (so the grid's first midnight is still positive), because sorting on one integer is about
    # twice as fast as on (unit name, hour) and the sort carries only k, d and hours; ds comes back from k by
    # arithmetic and the unit's name from its rank. One unpartitioned running sum is a third faster than
    # ``PARTITION BY unit_id``; each unit starts from zero through one ``reset`` row at its key 0 that takes away
    # the unit before's total. The deltas are summed as DOUBLE (exact: every partial sum is a small integer),
    # because DuckDB sums integers into HUGEINT, and hashing and sweeping 128-bit sums made the whole view
    # 13 % slower (0.409 -> 0.355 s, thirteenth session); the unit's name is picked from a list by its rank
    # instead of a join back to the units (another 3 %).
    "census_hourly": """
        WITH deltas AS (SELECT unit_id, hn, sum(delta::DOUBLE) AS d FROM census_events GROUP BY ALL),
        us AS (SELECT unit_id, row_number() OVER (ORDER BY unit_id)::BIGINT << 32 AS uk, sum(d) AS total
               FROM deltas GROUP BY unit_id),
        b AS (SELECT min(hn) AS first_hn, max(hn) AS last_hn, min(hn) - 32 AS h0 FROM deltas),
        grid AS (SELECT g.hours, epoch_us(g.ds) // 3600000000 - b.h0 AS o
                 FROM b, hour_grid(date_trunc('day', make_timestamp(b.first_hn * 3600000000)),
                                   make_timestamp(b.last_hn * 3600000000)) g),
        dk AS (SELECT us.uk + deltas.hn - b.h0 AS k, deltas.d FROM deltas JOIN us USING (unit_id), b),
        gk AS (SELECT us.uk + grid.o AS k, grid.hours FROM us, grid),
        cells AS (
            SELECT coalesce(gk.k, dk.k) AS k, gk.hours, coalesce(dk.d, 0) AS d FROM gk FULL JOIN dk ON dk.k = gk.k
            UNION ALL
            SELECT uk, NULL, -coalesce(lag(total) OVER (ORDER BY uk), 0) FROM us  -- reset
        ),
        swept AS (SELECT k, hours, sum(d) OVER (ORDER BY k ROWS UNBOUNDED PRECEDING) AS run FROM cells)
        SELECT (SELECT list(unit_id ORDER BY uk) FROM us)[swept.k >> 32] AS unit_id,
               make_timestamp(((swept.k & 4294967295) + (SELECT h0 FROM b)) * 3600000000) AS ds,
               swept.run::BIGINT AS census, swept.hours
        FROM swept
        WHERE swept.hours IS NOT NULL
    """,
    "occupancy_daily": """
        SELECT c.unit_id, CAST(c.ds AS DATE) AS ds,
               round(sum(c.census * c.hours) / sum(c.hours), 3) AS mean_census,
               max(c.census) AS max_census,
               max(CASE WHEN hour(c.ds) = 0 THEN c.census END) AS midnight_census,
               any_value(u.capacity) AS capacity,
               CASE WHEN any_value(u.capacity) > 0
                    THEN round(sum(c.census * c.hours) / sum(c.hours) / any_value(u.capacity), 4) END AS occupancy,
               sum(c.hours) AS hours  -- of the day the data covers: 24 (23, 25 on DST days), fewer on its last day
        FROM census_hourly c LEFT JOIN units u USING (unit_id)
        GROUP BY 1, 2
    """,
    "los": """
        SELECT s.stay_id, s.patient_id, s.specialty, s.admission_type, s.admit_ts, s.discharge_ts,
               date_diff('minute', s.admit_ts, s.discharge_ts) / 60.0 AS los_hours,
               date_diff('minute', s.admit_ts, s.discharge_ts) / 1440.0 AS los_days
        FROM stays s
    """,
    "ed_los": """
        SELECT visit_id, patient_id, arrival_ts, departure_ts, acuity, disposition,
               date_diff('minute', arrival_ts, departure_ts) / 60.0 AS ed_los_hours
        FROM ed_visits
    """,
    "boarding": """
        SELECT visit_id, patient_id, stay_id, acuity, decision_ts, departure_ts,
               date_diff('minute', decision_ts, departure_ts) / 60.0 AS boarding_hours
        FROM ed_visits WHERE decision_ts IS NOT NULL
    """,
    "supply_usage_daily": """
        WITH u AS (SELECT item_id, coalesce(unit_id, 'ALL') AS unit_id, usage_date AS ds, sum(quantity) AS y
                   FROM supply_usage GROUP BY ALL),
        b AS (SELECT min(ds) AS lo, max(ds) AS hi FROM u),
        days AS (SELECT CAST(unnest(generate_series(b.lo, b.hi, INTERVAL 1 DAY)) AS DATE) AS ds FROM b WHERE b.lo IS NOT NULL),
        series AS (SELECT DISTINCT item_id, unit_id FROM u)
        SELECT s.item_id || '@' || s.unit_id AS unique_id, s.item_id, s.unit_id, d.ds, coalesce(u.y, 0) AS y
        FROM series s CROSS JOIN days d LEFT JOIN u USING (item_id, unit_id, ds)
        ORDER BY 1, 4
    """,
}


# Census over one window [lo, hi) of local hours, the same numbers as census_hourly's rows in it: each unit's
# deltas before the window summed once (``base``), then the sweep over the window's hours only. Pages that
# show a fortnight ask this instead of filtering census_hourly, whose grid spans the whole data: MIMIC-IV's
# date-shifted stays run from 2110 to 2201, 25 million unit-hours for 100 patients (minutes, for a chart of
# 14 days). Units and hours outside the data's first day and last event are left out, as there. The grid starts
# an hour early and is cut at ``lo``: a window from 10:30 starts at 11:00, one from the repeated autumn 01:00
# keeps that hour's ``hours = 2`` (the zone conversion of ``lo`` itself picks one of its two instants).
CENSUS_WINDOW_MACRO = """
CREATE OR REPLACE MACRO census_window(lo, hi) AS TABLE
    WITH deltas AS MATERIALIZED (SELECT unit_id, hn, sum(delta::DOUBLE) AS d FROM census_events GROUP BY ALL),
    span AS (SELECT min(hn) AS first_hn, max(hn) AS last_hn FROM deltas),
    grid AS (SELECT g.ds, g.hours, epoch_us(g.ds) // 3600000000 AS hn
             FROM span, hour_grid(greatest(lo - INTERVAL 1 HOUR,
                                           date_trunc('day', make_timestamp(span.first_hn * 3600000000))),
                                  least(hi, make_timestamp(span.last_hn * 3600000000))) g
             WHERE g.ds >= lo AND g.ds < hi),
    lim AS (SELECT min(hn) AS h0, max(hn) AS h1 FROM grid),
    base AS (SELECT e.unit_id, sum(e.d) FILTER (WHERE e.hn < lim.h0) AS b FROM deltas e, lim GROUP BY ALL),
    win AS (SELECT e.unit_id, e.hn, e.d FROM deltas e, lim WHERE e.hn >= lim.h0 AND e.hn <= lim.h1),
    cells AS (
        SELECT coalesce(x.unit_id, w.unit_id) AS unit_id, coalesce(x.hn, w.hn) AS hn, x.ds, x.hours,
               coalesce(w.d, 0) AS d
        FROM (SELECT base.unit_id, grid.* FROM base, grid) x
        FULL JOIN win w ON w.unit_id = x.unit_id AND w.hn = x.hn
    ),
    swept AS (
        SELECT unit_id, ds, hours, sum(d) OVER (PARTITION BY unit_id ORDER BY hn ROWS UNBOUNDED PRECEDING) AS run
        FROM cells
    )
    SELECT s.unit_id, s.ds, (coalesce(base.b, 0) + s.run)::BIGINT AS census, s.hours
    FROM swept s JOIN base USING (unit_id) WHERE s.hours IS NOT NULL
"""


def views_fingerprint() -> str:
    """A short hash of every macro and view definition: a workspace whose stored one differs gets them anew."""
    text = "\n".join([HOUR_GRID_MACRO, NORMALIZE_MACRO, CEIL_HOUR_MACRO, *(f"{k}\n{v}" for k, v in VIEWS.items()),
                      CENSUS_WINDOW_MACRO])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def install_temp_macros(ws) -> None:
    """On a read-only connection to a workspace whose stored views are older: the macros newer code calls,
    as temporary (this connection's) definitions over the stored views; nothing is written."""
    try:
        ws.con.execute(CENSUS_WINDOW_MACRO.replace("CREATE OR REPLACE MACRO", "CREATE OR REPLACE TEMP MACRO", 1))
    except duckdb.Error:  # stored views too old to read from: callers fall back to the views themselves
        pass


def install_views(ws) -> None:
    """(Re)create the macros and views in a workspace. Idempotent; run on create, after migrations and when
    a writable open finds views from another HospOps version (``views_fingerprint``)."""
    if ws.read_only:
        return
    with ws.transaction() as con:
        for macro in (HOUR_GRID_MACRO, NORMALIZE_MACRO, CEIL_HOUR_MACRO):
            con.execute(macro)
        for name, body in VIEWS.items():
            con.execute(f"CREATE OR REPLACE VIEW {name} AS {body}")
        con.execute(CENSUS_WINDOW_MACRO)  # after the views: it reads census_events
        con.execute("INSERT OR REPLACE INTO settings VALUES ('views', ?)", [views_fingerprint()])
