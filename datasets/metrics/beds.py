"""The bed board, the waiting list and the 72-hour occupancy outlook at any time T (SQL in DuckDB, pandas at
the edge). Plain Python: the desktop app and ``hospops beds`` call the same functions.

API
- ``bed_board(ws, at) -> DataFrame`` — one row per bed: ``unit_id, bed_id, room, side_room, bed_sex,
  telemetry, state`` (occupied / reserved / free / blocked / cleaning), ``patient_id`` (the workspace
  pseudonym), ``stay_id, specialty, sex, age, admitted, in_unit_since, los_hours`` (so far),
  ``expected_discharge`` (the median of the stays as long so far), ``leave_today`` (the chance the stay ends
  before midnight) and ``placement_id`` (reserved beds: the accepted placement; its patient is in
  ``patient_id``/``stay_id``). ``board_summary`` sums ``leave_today`` per unit as ``expected_out_today``.
- ``active_placements(ws, at) -> DataFrame`` — accepted bed placements still waiting to happen at ``at``.
- ``waiting_list(ws, at) -> DataFrame`` — who waits for a bed at T: ``kind`` (ed_boarder / elective /
  transfer), ``patient_id, stay_id, since, wait_hours, acuity, specialty, sex, age, isolation, telemetry,
  target_unit`` (the unit the stay really went to, for reference), ``reserved_bed`` (the bed of an active
  accepted placement, else None: such patients no longer wait in allocation problems).
- ``outlook(ws, at, hours=72, progress=None, should_stop=None, arrivals="history") -> DataFrame`` — per unit
  and hour: ``unit_id, ts, expected, lo80, hi80, lo95, hi95, capacity``. ``arrivals="forecast"`` takes the
  expected arrivals from ``forecasting.admissions.admissions_forecast`` instead of the recent weeks' hourly
  rates; on the 3-year demo (36 origins, 72 h) it gave the same MAE (1.876 vs 1.880 beds) with 80 % bands
  slightly wider than nominal (89.0 % vs 88.6 %) at 4.5 times the time, so history stays the default.
- ``outlook_backtest(ws, origins, hours=72) -> dict`` — MAE and band coverage against what happened.
- ``patient_needs(stay_id, specialty, age)`` — the derived isolation/telemetry needs (see below).

Definitions (what the demo data does not carry is derived here, deterministically, and said so)
- A bed is *occupied* at T when a movement has ``in_ts <= T < out_ts`` (or ``out_ts`` NULL); *cleaning*
  when it is empty at T and its last occupant left less than ``CLEANING_HOURS`` (1 h) before T, or when
  ``beds.status`` says cleaning; *blocked* when ``beds.status`` says blocked (the table has no history of
  bed status, so that flag applies at every T); *reserved* when it is not occupied and an accepted placement
  (table ``bed_placements``) is active for it at T; otherwise *free*.
- A placement is *active* at T when its status is ``accepted``, it was made for a board time ``as_of <= T``,
  and the patient has not moved into any bed since ``as_of`` (no movement of the stay, or of the patient
  when the stay is unknown, with ``as_of < in_ts <= T``) nor left hospital (the stay's ``discharge_ts <= T``:
  a patient discharged from where they were no longer needs the bed). ``as_of`` rather than the wall-clock
  ``accepted_at`` is the reference, so that a placement made on a replayed past board behaves like a live
  one (in live use the two are the same moment).
- *Expected discharge* of an occupant: T plus the median remaining length of stay of past stays of the same
  specialty that had already lasted as long (stays discharged in the 365 days before T).
- Waiting at T: ED patients with a decision to admit at or before T who had not left the ED
  (``decision_ts <= T < departure_ts``); elective admissions booked later on T's day (``admit_ts`` in
  (T, end of day]); and *transfers*: patients in an assessment unit (kind ``assessment``) for more than
  ``TRANSFER_AFTER_HOURS`` (24 h) who need a ward bed.
- Needs not recorded in the workspace: *isolation* for a deterministic 8 % of stays (a hash of the stay id,
  standing in for infection-control flags), *telemetry* for cardiology stays; *paediatric* when age < 16.
"""
from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Callable

import numpy as np
import pandas as pd

from datasets.errors import HospOpsError
from datasets.progress import Reporter

CLEANING_HOURS = 1.0
TRANSFER_AFTER_HOURS = 24.0
ISOLATION_SHARE = 0.08
HISTORY_DAYS = 365
ARRIVAL_WEEKS = 8
PAEDIATRIC_AGE = 16
Z80, Z95 = 1.2815515655446004, 1.959963984540054


def _ts(at) -> datetime:
    if isinstance(at, str):  # ISO 8601 only: 03/04/2026 is 3 April to a bed manager in the UK, 4 March to pandas
        try:
            at = datetime.fromisoformat(at.strip())
        except ValueError:
            raise HospOpsError(f"'{at}' is not a time in the form 2026-11-16T09:00 (year-month-day).",
                               "Use e.g. 2026-11-16T09:00.") from None
        if at.tzinfo is not None:  # (it was dropped: 09:00+05:00 read as 09:00 here)
            raise HospOpsError(f"'{at.isoformat()}' has a UTC offset; give the time without one: times are read in "
                               "the workspace's own time zone.", "Use e.g. 2026-11-16T09:00.")
    try:
        t = pd.Timestamp(at)
    except (ValueError, TypeError):
        raise HospOpsError(f"'{at}' is not a time.", "Use e.g. 2026-11-16T09:00.") from None
    if pd.isna(t):
        raise HospOpsError(f"'{at}' is not a time.", "Use e.g. 2026-11-16T09:00.")
    if t.tzinfo is not None:
        t = t.tz_localize(None)
    return t.to_pydatetime()


def data_span(ws) -> tuple[datetime | None, datetime | None]:
    """The first and last times the workspace's movements and ED visits record (None, None when empty)."""
    lo, hi = ws.con.execute(
        """SELECT min(t0), max(t1) FROM (
               SELECT min(in_ts) AS t0, greatest(max(in_ts), max(out_ts)) AS t1 FROM movements
               UNION ALL SELECT min(arrival_ts), greatest(max(arrival_ts), max(departure_ts)) FROM ed_visits)"""
    ).fetchone()
    return lo, hi


#: how long after the last record a moment is still shown (with a warning): waits keep growing past the data
GRACE_DAYS = 7.0


def check_in_span(ws, at, grace_days: float = GRACE_DAYS) -> str | None:
    """Refuse a time outside the workspace's data (a board there would be made up); a time after its last
    record but within ``grace_days`` gives back a warning to show (waits keep growing past the data)."""
    t = _ts(at)
    lo, hi = data_span(ws)
    if lo is None:
        raise HospOpsError("The workspace holds no movements or ED visits yet.", "Import some first.")
    span = f"the workspace's data runs from {lo:%d %b %Y %H:%M} to {hi:%d %b %Y %H:%M}"
    if t < lo or (t - hi).total_seconds() > grace_days * 86400:
        raise HospOpsError(f"{t:%d %b %Y %H:%M} is outside the data: {span}.", "Choose a time inside it.")
    if (t - hi).total_seconds() > 3600:
        return f"note: {t:%d %b %Y %H:%M} is after the last record ({hi:%d %b %Y %H:%M}); waits and stays since then are not known."
    return None


def patient_needs(stay_id: str, specialty: str | None, age: int | None) -> dict[str, bool]:
    """Derived needs: isolation (8 % of stays, by a stable hash of the stay id), telemetry (cardiology),
    paediatric (age under 16). Deterministic, so the board, the waiting list and the solver agree."""
    h = int(hashlib.sha256(str(stay_id).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return {
        "isolation": h < ISOLATION_SHARE,
        "telemetry": (specialty or "") == "cardiology",
        "paediatric": age is not None and not pd.isna(age) and int(age) < PAEDIATRIC_AGE,
    }


def _check_data(ws) -> None:
    n = ws.sql("SELECT count(*) FROM beds")[0][0]
    if n == 0:
        raise HospOpsError("The workspace has no beds.", "Import a beds table, or build the demo hospital.")


# ------------------------------------------------------------------------------------------------ board
_OCCUPANTS_SQL = """
    SELECT m.bed_id, m.unit_id, m.stay_id, m.in_ts AS in_unit_since, s.admit_ts AS admitted, s.specialty,
           s.admission_type, s.patient_id, p.sex, year(CAST(? AS TIMESTAMP)) - p.birth_year AS age
    FROM movements m JOIN stays s USING (stay_id) LEFT JOIN patients p ON p.patient_id = s.patient_id
    WHERE m.in_ts <= CAST(? AS TIMESTAMP) AND (m.out_ts > CAST(? AS TIMESTAMP) OR m.out_ts IS NULL)
    QUALIFY row_number() OVER (PARTITION BY m.bed_id ORDER BY m.in_ts DESC) = 1
"""


def _remaining_los_hours(ws, at: datetime, occ: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For each occupant: the median remaining stay in hours, and the chance that the stay ends before
    midnight. Both from the past year's stays of the specialty that were still in on the same day of their
    stay (counted in calendar days from the admission's) at the same time of day: discharges follow the day
    (ward rounds, afternoon discharges), not hours since admission. Measured on the demo at 09:00 and 14:00
    on four days: the summed chances came within 0.1-11 of the discharges that followed (72, 92, 77, 77 at
    09:00); the hours-since-admission reading said 57-62 at 09:00, and its medians fell after today for
    nearly everyone, so the board showed no bed freeing today."""
    hist = ws.df(
        """SELECT specialty, date_diff('day', CAST(admit_ts AS DATE), CAST(discharge_ts AS DATE)) AS k,
                  hour(discharge_ts) + minute(discharge_ts) / 60.0 AS dh
           FROM stays WHERE discharge_ts IS NOT NULL AND discharge_ts <= CAST(? AS TIMESTAMP)
             AND discharge_ts > CAST(? AS TIMESTAMP) - INTERVAL (?) DAY""",
        [at, at, HISTORY_DAYS],
    )
    at_ts = pd.Timestamp(at)
    hour = at_ts.hour + at_ts.minute / 60.0
    by_spec = {k: (g["k"].to_numpy(), g["dh"].to_numpy()) for k, g in hist.groupby("specialty")}
    every = (hist["k"].to_numpy(), hist["dh"].to_numpy())
    kin = (at_ts.normalize() - pd.to_datetime(occ["admitted"]).dt.normalize()).dt.days.to_numpy()
    out, today = np.full(len(occ), np.nan), np.full(len(occ), np.nan)
    memo: dict[tuple, tuple[float, float]] = {}
    for i, (spec, day) in enumerate(zip(occ["specialty"], kin)):
        key = (spec, int(day))
        if key not in memo:
            k, dh = by_spec.get(spec, every)
            if len(k) < 20:
                k, dh = every
            still = (k > day) | ((k == day) & (dh >= hour))
            if still.any():
                ahead = (k[still] - day) * 24.0 + dh[still] - hour
                memo[key] = (float(np.median(ahead)), float(np.mean(k[still] == day)))
            else:  # stayed longer than anyone before: expect about a day more
                memo[key] = (24.0, 0.0) if len(k) else (np.nan, np.nan)
        out[i], today[i] = memo[key]
    return out, today


def bed_board(ws, at) -> pd.DataFrame:
    """One row per bed at time ``at`` (any past or present time); see the module docstring."""
    at = _ts(at)
    _check_data(ws)
    beds = ws.df("SELECT bed_id, unit_id, room, side_room, sex AS bed_sex, telemetry, status FROM beds")
    occ = ws.df(_OCCUPANTS_SQL, [at, at, at])
    last_out = ws.df(
        "SELECT bed_id, max(out_ts) AS last_out FROM movements WHERE out_ts <= CAST(? AS TIMESTAMP) GROUP BY 1",
        [at],
    )
    occ["los_hours"] = (pd.Timestamp(at) - pd.to_datetime(occ["admitted"])).dt.total_seconds() / 3600.0
    occ["expected_discharge"] = pd.NaT
    occ["leave_today"] = np.nan
    if len(occ):
        rem, occ["leave_today"] = _remaining_los_hours(ws, at, occ)
        occ["expected_discharge"] = pd.Timestamp(at) + pd.to_timedelta(np.round(rem * 60), unit="min")
    occ = occ.drop(columns=["unit_id"])
    b = beds.merge(occ, on="bed_id", how="left").merge(last_out, on="bed_id", how="left")
    since_out = (pd.Timestamp(at) - pd.to_datetime(b["last_out"])).dt.total_seconds() / 3600.0
    state = np.where(b["stay_id"].notna(), "occupied",
             np.where(b["status"].eq("blocked"), "blocked",
             np.where(b["status"].eq("cleaning") | (since_out < CLEANING_HOURS), "cleaning", "free")))
    b["state"] = state
    b["placement_id"] = None
    res = active_placements(ws, at)
    if len(res):
        res = res.drop_duplicates("bed_id", keep="last").set_index("bed_id")
        hit = b["bed_id"].isin(res.index) & b["state"].ne("occupied")
        ids = b.loc[hit, "bed_id"]
        for c in ("patient_id", "stay_id"):
            if b[c].dtype.kind == "f":  # all empty (nobody in a bed at T): make room for the ids
                b[c] = b[c].astype(object)
        b.loc[hit, "state"] = "reserved"
        b.loc[hit, "patient_id"] = res.loc[ids, "patient_id"].to_numpy()
        b.loc[hit, "stay_id"] = res.loc[ids, "stay_id"].to_numpy()
        b.loc[hit, "placement_id"] = res.loc[ids, "placement_id"].to_numpy()
    b["age"] = b["age"].astype("Int64")
    cols = ["unit_id", "bed_id", "room", "side_room", "bed_sex", "telemetry", "state", "patient_id", "stay_id",
            "specialty", "sex", "age", "admitted", "in_unit_since", "los_hours", "expected_discharge", "leave_today",
            "placement_id"]
    return b[cols].sort_values(["unit_id", "bed_id"]).reset_index(drop=True)


def board_summary(board: pd.DataFrame) -> pd.DataFrame:
    """Per unit: beds, occupied, free, blocked, cleaning, reserved."""
    t = pd.crosstab(board["unit_id"], board["state"])
    states = ["occupied", "free", "blocked", "cleaning", "reserved"]
    for c in states:
        if c not in t:
            t[c] = 0
    t["beds"] = t[states].sum(axis=1)
    out = t[["beds"] + states]
    if "leave_today" in board:
        # how many of the unit's patients are expected to leave before midnight: each occupant's expected
        # discharge is a median, which for 9 in 10 lies after today, so the board showed no bed freeing today
        # on days when 90 patients left
        out = out.join(board.groupby("unit_id")["leave_today"].sum().round(1).rename("expected_out_today"))
    return out.reset_index()


# ------------------------------------------------------------------------------------------------ placements
PLACEMENT_COLUMNS = ["placement_id", "accepted_at", "as_of", "patient_id", "stay_id", "unit_id", "bed_id",
                     "status", "os_user", "note"]


def _has_placements_table(ws) -> bool:
    return bool(ws.sql("SELECT count(*) FROM information_schema.tables WHERE table_name = 'bed_placements'")[0][0])


def active_placements(ws, at) -> pd.DataFrame:
    """Accepted bed placements still to happen at ``at`` (see the module docstring), oldest first."""
    at = _ts(at)
    if not _has_placements_table(ws):
        return pd.DataFrame(columns=PLACEMENT_COLUMNS)
    return ws.df(
        """SELECT bp.* FROM bed_placements bp
           WHERE bp.status = 'accepted' AND bp.as_of <= CAST(? AS TIMESTAMP)
             AND NOT EXISTS (
               SELECT 1 FROM movements m LEFT JOIN stays s USING (stay_id)
               WHERE (m.stay_id = bp.stay_id OR (bp.stay_id IS NULL AND s.patient_id = bp.patient_id))
                 AND m.in_ts > bp.as_of AND m.in_ts <= CAST(? AS TIMESTAMP))
             AND NOT EXISTS (
               SELECT 1 FROM stays s WHERE s.stay_id = bp.stay_id AND s.discharge_ts <= CAST(? AS TIMESTAMP))
           ORDER BY bp.accepted_at, bp.placement_id""",
        [at, at, at],
    )[PLACEMENT_COLUMNS]


# ------------------------------------------------------------------------------------------------ waiting
def waiting_list(ws, at) -> pd.DataFrame:
    """Who waits for a bed at ``at``: ED boarders, electives due later that day, assessment-unit transfers."""
    at = _ts(at)
    df = ws.df(
        """
        WITH ed AS (
            SELECT 'ed_boarder' AS kind, e.patient_id, e.stay_id, e.decision_ts AS since, e.acuity,
                   coalesce(s.specialty, e.admit_specialty) AS specialty, (SELECT m.unit_id FROM movements m WHERE m.stay_id = e.stay_id ORDER BY seq LIMIT 1)
                       AS target_unit
            FROM ed_visits e LEFT JOIN stays s USING (stay_id)
            WHERE e.decision_ts <= CAST(? AS TIMESTAMP)
              AND (e.departure_ts > CAST(? AS TIMESTAMP) OR e.departure_ts IS NULL)
        ),
        el AS (
            SELECT 'elective' AS kind, s.patient_id, s.stay_id, s.admit_ts AS since, CAST(NULL AS TINYINT) AS acuity,
                   s.specialty, (SELECT m.unit_id FROM movements m WHERE m.stay_id = s.stay_id ORDER BY seq LIMIT 1)
            FROM stays s
            WHERE s.admission_type = 'elective' AND s.admit_ts > CAST(? AS TIMESTAMP)
              AND s.admit_ts < date_trunc('day', CAST(? AS TIMESTAMP)) + INTERVAL 1 DAY
        ),
        tr AS (
            SELECT 'transfer' AS kind, s.patient_id, s.stay_id, m.in_ts AS since, CAST(NULL AS TINYINT),
                   s.specialty, m.unit_id
            FROM movements m JOIN stays s USING (stay_id) JOIN units u ON u.unit_id = m.unit_id
            WHERE u.kind = 'assessment' AND m.in_ts <= CAST(? AS TIMESTAMP) - INTERVAL (?) HOUR
              AND (m.out_ts > CAST(? AS TIMESTAMP) OR m.out_ts IS NULL)
        ),
        w AS (SELECT * FROM ed UNION ALL SELECT * FROM el UNION ALL SELECT * FROM tr)
        SELECT w.*, p.sex, year(CAST(? AS TIMESTAMP)) - p.birth_year AS age
        FROM w LEFT JOIN patients p USING (patient_id)
        """,
        [at, at, at, at, at, TRANSFER_AFTER_HOURS, at, at],
    )
    df["wait_hours"] = ((pd.Timestamp(at) - pd.to_datetime(df["since"])).dt.total_seconds() / 3600.0).clip(lower=0)
    df["due_later"] = pd.to_datetime(df["since"]) > pd.Timestamp(at)  # electives due later today: not waiting yet
    needs = [patient_needs(s, sp, a) for s, sp, a in zip(df["stay_id"], df["specialty"], df["age"])]
    for k in ("isolation", "telemetry", "paediatric"):
        df[k] = [n[k] for n in needs]
    df["age"] = df["age"].astype("Int64")
    df["acuity"] = df["acuity"].astype("Int64")
    order = {"ed_boarder": 0, "transfer": 1, "elective": 2}
    df = df.assign(_o=df["kind"].map(order)).sort_values(["_o", "acuity", "since"], na_position="last")
    res = active_placements(ws, at)
    by_stay = dict(zip(res["stay_id"], res["bed_id"]))
    df["reserved_bed"] = [by_stay.get(s) for s in df["stay_id"]]
    cols = ["kind", "patient_id", "stay_id", "since", "wait_hours", "due_later", "acuity", "specialty", "sex", "age",
            "isolation", "telemetry", "paediatric", "target_unit", "reserved_bed"]
    return df[cols].reset_index(drop=True)


def split_waiting(waiting: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The waiting list's rows of those waiting now, and the number of electives due later today."""
    if not len(waiting):
        return waiting, 0
    due = waiting["due_later"].astype(bool)
    return waiting[~due], int(due.sum())


def waiting_summary(waiting: pd.DataFrame) -> str:
    """The waiting list in one phrase, the same on the Beds page and in the CLI: who waits now (by where they
    wait; the Overview's card is the 'in the ED' part) and the electives due later today, which are not waiting
    yet. E.g. '5 waiting for a bed (5 in the ED), 10 electives due later today'."""
    now, due = split_waiting(waiting)
    kinds = now["kind"].value_counts() if len(now) else {}
    parts = [f"{kinds.get('ed_boarder', 0):,} in the ED"]
    if kinds.get("transfer", 0):
        parts.append(f"{kinds['transfer']:,} in assessment units")
    if kinds.get("elective", 0):
        parts.append(f"{kinds['elective']:,} electives already due")
    out = f"{len(now):,} waiting for a bed ({', '.join(parts)})"
    if due:
        out += f", {due:,} elective{'s' if due != 1 else ''} due later today"
    return out


# ------------------------------------------------------------------------------------------------ outlook
def _hour_cdf(hours: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """Cumulative share of departures by time of day (hours 0..24), linear within each hour."""
    if len(hours) == 0:
        return lambda x: np.clip(np.asarray(x, float) / 24.0, 0, 1)
    counts = np.bincount(np.clip(hours.astype(int), 0, 23), minlength=24).astype(float)
    cum = np.concatenate([[0.0], np.cumsum(counts) / counts.sum()])
    return lambda x: np.interp(np.asarray(x, float), np.arange(25), cum)


def admissions_rate(ws, at: datetime, unit_id: str | None = None) -> pd.DataFrame:
    """Expected arrivals into each unit per hour-of-week: the empirical mean over the ``ARRIVAL_WEEKS``
    weeks before ``at`` (movements starting in the unit, so transfers in count too). The single place to
    swap in the forecasting package's admissions forecast when it lands. Columns: unit_id, how (0 = Monday
    00:00 .. 167), rate."""
    first = ws.sql("SELECT min(in_ts) FROM movements")[0][0]
    weeks = float(ARRIVAL_WEEKS)
    if first is not None:  # a short history: divide by the weeks the data really covers
        weeks = min(weeks, max((pd.Timestamp(at) - pd.Timestamp(first)).total_seconds() / (7 * 86400.0), 1 / 7))
    df = ws.df(
        """SELECT unit_id, (isodow(in_ts) - 1) * 24 + hour(in_ts) AS how, count(*) / CAST(? AS DOUBLE) AS rate
           FROM movements WHERE in_ts < CAST(? AS TIMESTAMP)
             AND in_ts >= CAST(? AS TIMESTAMP) - INTERVAL (?) DAY GROUP BY ALL""",
        [weeks, at, at, 7 * ARRIVAL_WEEKS],
    )
    return df if unit_id is None else df[df["unit_id"] == unit_id]


ARRIVALS = ("history", "forecast")


def _transfers_rate(ws, at: datetime, weeks: float) -> pd.DataFrame:
    """Like :func:`admissions_rate` for movements that are not a stay's first (transfers between units)."""
    return ws.df(
        """WITH m AS (SELECT unit_id, in_ts, row_number() OVER (PARTITION BY stay_id ORDER BY in_ts, seq) AS k
                      FROM movements WHERE in_ts < CAST(? AS TIMESTAMP)
                        AND in_ts >= CAST(? AS TIMESTAMP) - INTERVAL (?) DAY - INTERVAL 60 DAY)
           SELECT unit_id, (isodow(in_ts) - 1) * 24 + hour(in_ts) AS how, count(*) / CAST(? AS DOUBLE) AS rate
           FROM m WHERE k > 1 AND in_ts >= CAST(? AS TIMESTAMP) - INTERVAL (?) DAY GROUP BY ALL""",
        [at, at, 7 * ARRIVAL_WEEKS, weeks, at, 7 * ARRIVAL_WEEKS])


def expected_arrivals(ws, at, hours: int, source: str = "history") -> dict[str, np.ndarray]:
    """Expected arrivals into each unit in hour j after ``at`` (j = 0 .. hours-1).

    ``history``: :func:`admissions_rate` (the mean of the last ``ARRIVAL_WEEKS`` weeks per hour of the week).
    ``forecast``: first arrivals of new stays from ``forecasting.admissions.admissions_forecast`` (per
    specialty and hour), shared among units as the specialty's stays of the last ``ARRIVAL_WEEKS`` weeks
    were; plus transfers between units at their historical hour-of-week rate. Falls back on ``history`` when
    the forecast cannot be made (too little history)."""
    at = _ts(at)
    t0 = pd.Timestamp(at)
    idx = (t0.day_of_week * 24 + t0.hour + np.arange(hours)) % 168

    def by_how(df):
        return {uid: g.set_index("how")["rate"].reindex(range(168), fill_value=0.0).to_numpy()[idx]
                for uid, g in df.groupby("unit_id")}

    if source not in ARRIVALS:
        raise HospOpsError(f"Unknown arrivals source '{source}'.", f"Use one of {', '.join(ARRIVALS)}.")
    if source == "history":
        return by_how(admissions_rate(ws, at))
    from forecasting.admissions import admissions_forecast  # lazily: the forecasting package sits above this one

    try:
        fc = admissions_forecast(ws, at, hours)
    except HospOpsError:
        return by_how(admissions_rate(ws, at))
    first = ws.sql("SELECT min(in_ts) FROM movements")[0][0]
    weeks = float(ARRIVAL_WEEKS)
    if first is not None:
        weeks = min(weeks, max((t0 - pd.Timestamp(first)).total_seconds() / (7 * 86400.0), 1 / 7))
    out = by_how(_transfers_rate(ws, at, weeks))
    share = ws.df(
        """WITH f AS (SELECT stay_id, arg_min(unit_id, in_ts) AS unit_id FROM movements
                      WHERE in_ts < CAST(? AS TIMESTAMP) GROUP BY stay_id)
           SELECT s.specialty, f.unit_id, count(*) AS n FROM stays s JOIN f USING (stay_id)
           WHERE s.admit_ts < CAST(? AS TIMESTAMP) AND s.admit_ts >= CAST(? AS TIMESTAMP) - INTERVAL (?) DAY
           GROUP BY ALL""", [at, at, at, 7 * ARRIVAL_WEEKS])
    share["p"] = share["n"] / share.groupby("specialty")["n"].transform("sum")
    mu = {spec: g["mean"].to_numpy()[:hours] for spec, g in fc.groupby("specialty")}
    for r in share.itertuples():
        if r.specialty in mu:
            out[r.unit_id] = out.get(r.unit_id, np.zeros(hours)) + r.p * mu[r.specialty]
    return out


def outlook(ws, at, hours: int = 72, progress=None, should_stop=None, arrivals: str = "history") -> pd.DataFrame:
    """Hourly expected occupancy per inpatient unit for ``hours`` hours after ``at``, with 80/95 % bands.

    Current patients: each one's chance of still being in the unit at T+h, from the unit's distribution of
    nights spent in it (Kaplan-Meier over the movements of the 365 days before T: those still there at T
    count as censored), conditional on the nights already spent, with the day of leaving spread over the
    hours by the unit's time-of-day pattern of departures. A unit with no departures in its history keeps
    everyone (probability 1).
    Arrivals: :func:`admissions_rate` per hour-of-week, each arrival present at T+h with the unit's empirical
    hourly survival (arrivals at least ``hours`` before T, so none is censored). Bands: normal approximation
    with variance sum p(1-p) (current patients) plus the Poisson mean of arrivals still present; clipped
    at 0. (Scaling the arrivals' variance by their day-to-day dispersion was tried: bands too wide, 91 %
    coverage for the 80 % band on the demo.) Steps are naive local hours after ``at``: across a DST change one
    step stands for 0 or 2 real hours.
    """
    if hours < 1 or hours > 24 * 14:
        raise HospOpsError("The outlook covers 1 to 336 hours.")
    at = _ts(at)
    rep = Reporter(progress, should_stop)
    _check_data(ws)
    rep(0.05, "Reading units and current patients")
    units = ws.df("SELECT unit_id, capacity FROM units WHERE coalesce(is_inpatient, true) ORDER BY unit_id")
    occ = ws.df(
        """SELECT m.unit_id, m.in_ts FROM movements m
           WHERE m.in_ts <= CAST(? AS TIMESTAMP) AND (m.out_ts > CAST(? AS TIMESTAMP) OR m.out_ts IS NULL)""",
        [at, at],
    )
    hist = ws.df(
        """SELECT unit_id, date_diff('day', CAST(in_ts AS DATE), CAST(out_ts AS DATE)) AS nights,
                  date_diff('second', in_ts, out_ts) / 3600.0 AS hours_in,
                  hour(out_ts) + minute(out_ts) / 60.0 AS out_hour
           FROM movements WHERE out_ts IS NOT NULL AND out_ts <= CAST(? AS TIMESTAMP)
             AND out_ts > CAST(? AS TIMESTAMP) - INTERVAL (?) DAY""",
        [at, at, HISTORY_DAYS],
    )
    # censored: everyone in a unit at T (in the history window) has stayed at least this many nights
    cur_all = ws.df(
        """SELECT unit_id, in_ts FROM movements WHERE in_ts <= CAST(? AS TIMESTAMP)
             AND in_ts > CAST(? AS TIMESTAMP) - INTERVAL (?) DAY
             AND (out_ts > CAST(? AS TIMESTAMP) OR out_ts IS NULL)""", [at, at, HISTORY_DAYS, at])
    # time in the unit of arrivals old enough to have been watched for the whole horizon (no censoring bias)
    arr_dur = ws.df(
        """SELECT unit_id, date_diff('second', in_ts, least(coalesce(out_ts, CAST(? AS TIMESTAMP)),
                                                       CAST(? AS TIMESTAMP))) / 3600.0 AS hours_in
           FROM movements WHERE in_ts <= CAST(? AS TIMESTAMP) - INTERVAL (?) HOUR
             AND in_ts > CAST(? AS TIMESTAMP) - INTERVAL (?) DAY""",
        [at, at, at, hours, at, HISTORY_DAYS])
    lam_by_unit = expected_arrivals(ws, at, hours, arrivals)
    steps = np.arange(1, hours + 1)
    t0 = pd.Timestamp(at)
    ts = t0 + pd.to_timedelta(steps, unit="h")
    # local date offsets and time of day of each step
    day_off = np.array([(t.normalize() - t0.normalize()).days for t in ts])
    tod = np.array([t.hour + t.minute / 60.0 + t.second / 3600.0 for t in ts])
    tod0 = t0.hour + t0.minute / 60.0 + t0.second / 3600.0
    how = np.array([(t.day_of_week * 24 + t.hour) for t in ts])
    frames = []
    for k, (uid, cap) in enumerate(zip(units["unit_id"], units["capacity"])):
        rep(0.1 + 0.85 * k / max(len(units), 1), f"Outlook for {uid}")
        h = hist[hist["unit_id"] == uid]
        cur = occ[occ["unit_id"] == uid]
        mean = np.zeros(hours)
        var = np.zeros(hours)
        if len(h) == 0:
            mean += len(cur)  # nobody has ever left this unit: assume nobody leaves
        else:
            Q = _hour_cdf(h["out_hour"].to_numpy())
            cur_nights = np.array([(t0.normalize() - t.normalize()).days for t in pd.to_datetime(cur_all[
                cur_all["unit_id"] == uid]["in_ts"])], dtype=int)
            pmf = _nights_pmf(h["nights"].to_numpy().astype(int), cur_nights, hours // 24 + 3)
            q_now, q_at = float(Q(tod0)), Q(tod)
            for in_ts in pd.to_datetime(cur["in_ts"]):
                e = (t0.normalize() - in_ts.normalize()).days
                p = _stay_probability(pmf, e, q_now, q_at, day_off)
                mean += p
                var += p * (1 - p)
            # arrivals: survival after tau hours in the unit
            dur = np.sort(arr_dur[arr_dur["unit_id"] == uid]["hours_in"].to_numpy())
            if len(dur) == 0:
                dur = np.sort(h["hours_in"].to_numpy())
            lam = lam_by_unit.get(uid, np.zeros(hours))  # arrivals in hour j (0-based, during (T+j, T+j+1])
            for i in range(hours):
                tau = (i + 1) - np.arange(i + 1) - 0.5  # age at step i+1 of arrivals in hours 0..i
                surv = 1.0 - np.searchsorted(dur, tau, side="right") / len(dur)
                m = float((lam[: i + 1] * surv).sum())
                mean[i] += m
                var[i] += m
        sd = np.sqrt(var)
        frames.append(pd.DataFrame({
            "unit_id": uid, "ts": ts, "expected": mean,
            "lo80": np.clip(mean - Z80 * sd, 0, None), "hi80": mean + Z80 * sd,
            "lo95": np.clip(mean - Z95 * sd, 0, None), "hi95": mean + Z95 * sd,
            "capacity": cap,
        }))
    rep(1.0, "Outlook ready")
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["unit_id", "ts", "expected", "lo80", "hi80", "lo95", "hi95", "capacity"])


def _nights_pmf(ended: np.ndarray, censored: np.ndarray, extra: int) -> np.ndarray:
    """Distribution of nights spent in a unit, Kaplan-Meier style: stays that ended leave at their night
    count; stays still there at T are at risk up to the nights they have stayed (without them, a short history
    undercounts long stays). Beyond the longest observation the chance of leaving is 1 in 7 per day."""
    K = int(max(ended.max(initial=0), censored.max(initial=0))) + 1
    events = np.bincount(ended, minlength=K + 1).astype(float)
    # at risk at k: ended at >= k, plus censored with nights >= k
    at_risk = (np.cumsum(events[::-1])[::-1]
               + np.cumsum(np.bincount(censored, minlength=K + 1)[::-1])[::-1])
    pmf = np.zeros(K + 1 + extra + 60)
    surv = 1.0
    for k in range(K + 1):
        h = events[k] / at_risk[k] if at_risk[k] > 0 else 0.0
        pmf[k] = surv * h
        surv *= 1.0 - h
    for k in range(K + 1, len(pmf)):
        pmf[k] = surv / 7.0
        surv *= 6.0 / 7.0
    pmf[-1] += surv
    return pmf / pmf.sum()


def _stay_probability(pmf: np.ndarray, e: int, q_now: float, q_at: np.ndarray, day_off: np.ndarray) -> np.ndarray:
    """P(still in the unit at each step) for someone who arrived ``e`` local days before today and is still
    there now (time of day with departure-CDF value ``q_now``)."""
    n = len(pmf)
    def mass(k: int) -> float:
        return float(pmf[k]) if 0 <= k < n else 0.0
    today = mass(e) * (1.0 - q_now)
    later_total = float(pmf[e + 1:].sum()) if e + 1 < n else 0.0
    Z = today + later_total
    if Z <= 1e-12:
        # stayed longer than anyone in the history: leaves with the tail's daily chance (about 1 in 7)
        return np.power(6.0 / 7.0, day_off + q_at)
    out = np.empty(len(day_off))
    for i, (d, q) in enumerate(zip(day_off, q_at)):
        if d == 0:
            still = mass(e) * max(0.0, 1.0 - max(q, q_now)) + later_total
        else:
            beyond = float(pmf[e + d + 1:].sum()) if e + d + 1 < n else 0.0
            still = beyond + mass(e + d) * (1.0 - q)
        out[i] = min(1.0, still / Z)
    return out


def actual_census(ws, at, hours: int = 72) -> pd.DataFrame:
    """What happened: patients in each unit at T+1h .. T+hours (for backtests)."""
    at = _ts(at)
    return ws.df(
        """WITH g AS (SELECT unnest(generate_series(CAST(? AS TIMESTAMP) + INTERVAL 1 HOUR,
                                                    CAST(? AS TIMESTAMP) + INTERVAL (?) HOUR, INTERVAL 1 HOUR)) AS ts)
           SELECT u.unit_id, g.ts,
                  (SELECT count(*) FROM movements m WHERE m.unit_id = u.unit_id AND m.in_ts <= g.ts
                     AND (m.out_ts > g.ts OR m.out_ts IS NULL)) AS actual
           FROM g, units u WHERE coalesce(u.is_inpatient, true) ORDER BY 1, 2""",
        [at, at, hours],
    )


def outlook_backtest(ws, origins, hours: int = 72, progress=None, should_stop=None,
                     arrivals: str = "history") -> dict:
    """Rolling-origin backtest of :func:`outlook`: MAE of ``expected`` and coverage of the 80/95 % bands
    against the actual census, over every unit, origin and step."""
    rep = Reporter(progress, should_stop)
    parts = []
    origins = list(origins)
    for i, o in enumerate(origins):
        rep(i / max(len(origins), 1), f"Backtest origin {o}")
        f = outlook(ws, o, hours, arrivals=arrivals)
        a = actual_census(ws, o, hours)
        m = f.merge(a, on=["unit_id", "ts"])
        m["origin"] = pd.Timestamp(_ts(o))
        parts.append(m)
    rep(1.0, "Backtest done")
    df = pd.concat(parts, ignore_index=True)
    err = (df["expected"] - df["actual"]).abs()
    return {
        "origins": len(origins), "hours": hours, "points": int(len(df)),
        "mae": float(err.mean()), "bias": float((df["expected"] - df["actual"]).mean()),
        "coverage": {"80": float(((df["actual"] >= df["lo80"]) & (df["actual"] <= df["hi80"])).mean()),
                     "95": float(((df["actual"] >= df["lo95"]) & (df["actual"] <= df["hi95"])).mean())},
        "mae_by_unit": {k: float(v) for k, v in err.groupby(df["unit_id"]).mean().items()},
    }


__all__ = ["bed_board", "board_summary", "active_placements", "waiting_list", "outlook", "outlook_backtest",
           "expected_arrivals", "actual_census",
           "admissions_rate", "patient_needs", "split_waiting", "waiting_summary", "CLEANING_HOURS",
           "TRANSFER_AFTER_HOURS"]
