"""Build a :class:`BedProblem` from a workspace at time T (the bed board and the waiting list), and keep the
placements a bed manager accepts (table ``bed_placements``).

    problem_from_workspace(ws, at, ...) -> BedProblem
    placements_from_solution(problem, solution) -> DataFrame   # patient_id, stay_id, unit_id, bed_id, kind, from_bed
    accept_placements(ws, placements, as_of, note=None) -> list[str]   # placement ids
    cancel_placement(ws, placement_id) -> None
    active_placements(ws, as_of) -> DataFrame   # accepted, not cancelled, patient not yet moved since

A bed with an active placement shows as ``reserved`` on the board; problems built here treat it as unavailable
and its patient as no longer waiting.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pandas as pd

from datasets.errors import HospOpsError
from datasets.metrics.beds import _ts, active_placements, admissions_rate, bed_board, patient_needs, waiting_list
from datasets.store import os_user
from optimization.beds.model import (MANDATORY_SPECIALTIES, Bed, BedProblem, Patient, Unit, Weights, is_outlier,
                                     rule_breaks)

HEADROOM_HOURS = 4  # critical and assessment units keep free beds for the emergencies expected this long


def _int_or_none(v):
    return None if v is None or pd.isna(v) else int(v)


ELECTIVE_SLACK_DAYS = 2  # several-day plans: a planned admission may move this many days after its booking


def _median_los_days(ws, at) -> dict[str, int]:
    """Median length of stay in whole days (at least 1) per specialty, from stays discharged in the year
    before ``at``; key '' is every specialty together."""
    h = ws.df("""SELECT specialty, median(date_diff('second', admit_ts, discharge_ts)) / 86400.0 AS d
                 FROM stays WHERE discharge_ts <= CAST(? AS TIMESTAMP)
                   AND discharge_ts > CAST(? AS TIMESTAMP) - INTERVAL 365 DAY GROUP BY ROLLUP (specialty)""",
              [at, at])
    out = {}
    for spec, d in zip(h["specialty"], h["d"]):
        if d is not None and not pd.isna(d):
            out["" if spec is None or pd.isna(spec) else spec] = max(1, int(-(-float(d) // 1)))
    return out


def problem_from_workspace(ws, at, weights: Weights | dict | None = None, include_next_hours: int = 0,
                           allow_transfers: bool = True, planning_days: int = 1,
                           elective_slack_days: int = ELECTIVE_SLACK_DAYS) -> BedProblem:
    """The allocation problem at ``at``: free beds, the waiting list (see ``datasets.metrics.beds``), and —
    when ``allow_transfers`` — current patients who may usefully move (outliers, and patients without an
    isolation need in side rooms when someone waiting needs isolation), with a transfer penalty.

    ``include_next_hours`` (replay mode for a past T): also treat decisions to admit and elective admissions
    in the next hours as waiting now, to test a busy morning; it uses later data, so it is for what-if
    replays, never for a live board.
    Headroom: assessment and critical-care units keep as many free beds as the arrivals expected in the next
    ``HEADROOM_HOURS`` hours (:func:`datasets.metrics.beds.admissions_rate`).

    ``planning_days`` > 1: a several-day plan (day 0 = T's date). Elective admissions booked on days 0 ..
    ``planning_days`` - 1 are planned patients with the window (booked day, booked day +
    ``elective_slack_days``) cut at the horizon; every new patient keeps the bed for the median length of
    stay of their specialty (whole days, from the year before T); an occupied bed that is not part of the
    problem becomes usable the day after its occupant's expected discharge (``bed_board``), a bed being
    cleaned from day 1; blocked and reserved beds stay out.
    """
    at_ts = _ts(at)
    if isinstance(weights, dict):
        weights = Weights(**weights)
    weights = weights or Weights()
    units_df = ws.df("SELECT unit_id, kind, specialty, sex_policy FROM units WHERE coalesce(is_inpatient, true)")
    rate = admissions_rate(ws, at_ts)
    t0 = pd.Timestamp(at_ts)
    hows = [((t0 + pd.Timedelta(hours=h)).day_of_week * 24 + (t0 + pd.Timedelta(hours=h)).hour)
            for h in range(HEADROOM_HOURS)]
    units = []
    for r in units_df.itertuples():
        spec = r.specialty or "medicine"
        head = 0
        if r.kind in ("assessment", "icu"):
            rr = rate[rate["unit_id"] == r.unit_id].set_index("how")["rate"]
            head = int(round(sum(float(rr.get(h, 0.0)) for h in hows)))
        units.append(Unit(unit_id=r.unit_id, specialty=spec, kind=r.kind or "ward",
                          sex_policy=r.sex_policy or "mixed",
                          mandatory=spec in MANDATORY_SPECIALTIES, paediatric=spec == "paediatrics", headroom=head))
    unit_ids = {u.unit_id for u in units}
    umap = {u.unit_id: u for u in units}

    board = bed_board(ws, at_ts)
    board = board[board["unit_id"].isin(unit_ids)]
    wl = waiting_list(ws, at_ts)
    reserved_stays = set(active_placements(ws, at_ts)["stay_id"].dropna())  # accepted: no longer waiting
    wl = wl[wl["reserved_bed"].isna() & ~wl["stay_id"].isin(reserved_stays)]
    if include_next_hours > 0:
        extra = ws.df(
            """SELECT 'ed_boarder' AS kind, e.patient_id, e.stay_id, e.decision_ts AS since, e.acuity,
                      coalesce(s.specialty, e.admit_specialty) AS specialty, p.sex, year(CAST(? AS TIMESTAMP)) - p.birth_year AS age
               FROM ed_visits e LEFT JOIN stays s USING (stay_id) LEFT JOIN patients p ON p.patient_id = e.patient_id
               WHERE e.decision_ts > CAST(? AS TIMESTAMP) AND e.decision_ts <= CAST(? AS TIMESTAMP)
               UNION ALL
               SELECT 'elective', s.patient_id, s.stay_id, s.admit_ts, NULL, s.specialty, p.sex,
                      year(CAST(? AS TIMESTAMP)) - p.birth_year
               FROM stays s LEFT JOIN patients p USING (patient_id)
               WHERE s.admission_type = 'elective' AND s.admit_ts > CAST(? AS TIMESTAMP)
                 AND s.admit_ts <= CAST(? AS TIMESTAMP)""",
            [at_ts, at_ts, at_ts + timedelta(hours=include_next_hours)] * 2,
        )
        extra = extra[~extra["stay_id"].isin(set(wl["stay_id"]) | reserved_stays)]
        extra["wait_hours"] = 0.0
        for k in ("isolation", "telemetry", "paediatric"):
            extra[k] = [patient_needs(s, sp, a)[k] for s, sp, a in zip(extra["stay_id"], extra["specialty"], extra["age"])]
        wl = pd.concat([wl, extra], ignore_index=True)

    D = max(1, int(planning_days))
    day0 = pd.Timestamp(at_ts).normalize()
    los = _median_los_days(ws, at_ts) if D > 1 else {}
    booked_day: dict[str, int] = {}
    if D > 1:
        later = ws.df(
            """SELECT 'elective' AS kind, s.patient_id, s.stay_id, s.admit_ts AS since, NULL AS acuity, s.specialty,
                      p.sex, year(CAST(? AS TIMESTAMP)) - p.birth_year AS age
               FROM stays s LEFT JOIN patients p USING (patient_id)
               WHERE s.admission_type = 'elective' AND s.admit_ts > CAST(? AS TIMESTAMP)
                 AND s.admit_ts < CAST(? AS TIMESTAMP)""",
            [at_ts, at_ts, (day0 + pd.Timedelta(days=D)).to_pydatetime()])
        later = later[~later["stay_id"].isin(set(wl["stay_id"]) | reserved_stays)]
        later["wait_hours"] = 0.0
        for k in ("isolation", "telemetry", "paediatric"):
            later[k] = [patient_needs(s, sp, a)[k]
                        for s, sp, a in zip(later["stay_id"], later["specialty"], later["age"])]
        wl = pd.concat([wl, later], ignore_index=True)
        for r in wl[wl["kind"] == "elective"].itertuples():
            booked_day[r.stay_id] = max(0, min(D - 1, (pd.Timestamp(r.since).normalize() - day0).days))

    patients: list[Patient] = []
    seen = set()
    for r in wl.itertuples():
        pid = str(r.stay_id or r.patient_id)  # a patient may appear once per stay
        if pid in seen:
            continue
        seen.add(pid)
        patients.append(Patient(
            patient_id=pid, sex=(r.sex if isinstance(r.sex, str) else "U"), age=_int_or_none(r.age),
            specialty=r.specialty or "medicine", acuity=_int_or_none(r.acuity), wait_hours=float(r.wait_hours),
            isolation=bool(r.isolation), telemetry=bool(r.telemetry), kind=r.kind, stay_id=r.stay_id,
            person_id=r.patient_id if isinstance(r.patient_id, str) else None,
            window=((booked_day[r.stay_id], min(D - 1, booked_day[r.stay_id] + elective_slack_days))
                    if r.stay_id in booked_day else None),
            los_days=(los.get(r.specialty or "", los.get("")) if D > 1 else None),
        ))
    need_iso = any(p.isolation for p in patients)

    beds: list[Bed] = []
    for r in board.itertuples():
        occupied = r.state == "occupied"
        movable = False
        if occupied and allow_transfers and r.stay_id not in seen and r.stay_id not in reserved_stays:
            nd = patient_needs(r.stay_id, r.specialty, _int_or_none(r.age))
            cur = Patient(patient_id=str(r.stay_id), sex=r.sex if isinstance(r.sex, str) else "U",
                          age=_int_or_none(r.age), specialty=r.specialty or "medicine", isolation=nd["isolation"],
                          telemetry=nd["telemetry"], kind="inpatient", current_bed=r.bed_id, stay_id=r.stay_id,
                          person_id=r.patient_id if isinstance(r.patient_id, str) else None)
            u = umap[r.unit_id]
            b = Bed(r.bed_id, r.unit_id, r.room or "", bool(r.side_room), r.bed_sex if isinstance(r.bed_sex, str)
                    else None, bool(r.telemetry), True)
            if (u.kind != "assessment" and is_outlier(cur, u) and not rule_breaks(cur, b, u)) or (
                    need_iso and b.side_room and not cur.isolation and not rule_breaks(cur, b, u)):
                movable = True
                patients.append(cur)
                seen.add(cur.patient_id)
        available, free_from = (r.state == "free") or movable, 0
        if D > 1 and not available:
            if r.state == "cleaning":
                available, free_from = True, 1
            elif occupied and not pd.isna(r.expected_discharge):
                k = (pd.Timestamp(r.expected_discharge).normalize() - day0).days + 1
                if k < D:
                    available, free_from = True, max(1, k)
        beds.append(Bed(
            bed_id=r.bed_id, unit_id=r.unit_id, room=r.room or "", side_room=bool(r.side_room),
            sex=r.bed_sex if isinstance(r.bed_sex, str) else None, telemetry=bool(r.telemetry),
            available=available, free_from_day=free_from,
        ))
    return BedProblem(units=tuple(units), beds=tuple(beds), patients=tuple(patients), weights=weights,
                      at=str(at_ts), days=D)


# ------------------------------------------------------------------------------------------------ placements
def placements_from_solution(problem: BedProblem, solution) -> pd.DataFrame:
    """The moves a solution proposes (waiting patients placed, current patients moved), as the table
    :func:`accept_placements` takes: ``patient_id`` (workspace pseudonym), ``stay_id``, ``unit_id``, ``bed_id``,
    ``kind``, ``from_bed``, ``admission_day`` (0 = now)."""
    beds = {b.bed_id: b for b in problem.beds}
    days = getattr(solution, "admission_day", {}) or {}
    rows = []
    for p in problem.patients:
        bid = solution.assignment.get(p.patient_id)
        if bid is None or bid == p.current_bed:
            continue
        rows.append({"patient_id": p.person_id, "stay_id": p.stay_id or p.patient_id, "unit_id": beds[bid].unit_id,
                     "bed_id": bid, "kind": p.kind, "from_bed": p.current_bed,
                     "admission_day": int(days.get(p.patient_id, 0))})
    return pd.DataFrame(rows, columns=["patient_id", "stay_id", "unit_id", "bed_id", "kind", "from_bed",
                                       "admission_day"])


def accept_placements(ws, placements: pd.DataFrame, as_of, note: str | None = None) -> list[str]:
    """Record the bed manager's decision: one ``accepted`` row per placement in ``bed_placements``, all in one
    transaction, audited as 'accept bed placement'. Returns the new placement ids (in the frame's order).

    ``placements`` needs the columns ``patient_id, stay_id, unit_id, bed_id``. Refused (nothing stored) when the
    workspace is read-only, a bed is unknown or blocked, a bed is occupied at ``as_of`` (unless its occupant is
    one of the patients being moved by the same set of placements), a bed is already reserved, a bed appears
    twice, or a patient already has an active placement (cancel it first).
    """
    if getattr(ws, "read_only", False):
        raise HospOpsError("The workspace is open read-only; the placements were not accepted.",
                           "Open the workspace for writing (not read-only) to accept placements.")
    need = ["patient_id", "stay_id", "unit_id", "bed_id"]
    missing = [c for c in need if c not in placements.columns]
    if missing:
        raise HospOpsError(f"The placements lack the column(s) {', '.join(missing)}.")
    if placements.empty:
        return []
    at = _ts(as_of)
    pl = placements.reset_index(drop=True)
    dup = pl["bed_id"][pl["bed_id"].duplicated()]
    if len(dup):
        raise HospOpsError(f"Bed {dup.iloc[0]} appears twice in the placements; nothing was accepted.")
    if pl["bed_id"].isna().any():
        raise HospOpsError("A placement has no bed; nothing was accepted.")
    ids = [uuid.uuid4().hex[:12] for _ in range(len(pl))]
    now = datetime.now().replace(microsecond=0)
    user = os_user()
    with ws.transaction() as con:
        board = bed_board(ws, at).set_index("bed_id")
        moving = set(pl["stay_id"].dropna().astype(str))
        active = active_placements(ws, at)
        problems = []
        for r in pl.itertuples():
            if r.bed_id not in board.index:
                problems.append(f"bed {r.bed_id} does not exist")
                continue
            b = board.loc[r.bed_id]
            if b["unit_id"] != r.unit_id:
                problems.append(f"bed {r.bed_id} is in unit {b['unit_id']}, not {r.unit_id}")
            if b["state"] == "occupied" and str(b["stay_id"]) not in moving:
                problems.append(f"bed {r.bed_id} is occupied at {at:%Y-%m-%d %H:%M}")
            elif b["state"] == "reserved":
                problems.append(f"bed {r.bed_id} is already reserved (placement {b['placement_id']})")
            elif b["state"] == "blocked":
                problems.append(f"bed {r.bed_id} is blocked")
            mine = active[(active["stay_id"] == r.stay_id) if isinstance(r.stay_id, str)
                          else (active["patient_id"] == r.patient_id)]
            if len(mine):
                problems.append(f"patient {r.patient_id or r.stay_id} already has placement "
                                f"{mine['placement_id'].iloc[0]} (bed {mine['bed_id'].iloc[0]}); cancel it first")
        if problems:
            raise HospOpsError("The placements were not accepted: " + "; ".join(problems[:5])
                               + (f" (and {len(problems) - 5} more)" if len(problems) > 5 else "") + ".",
                               "Refresh the board and propose again.")
        rows = pd.DataFrame({  # noqa: F841 - read by DuckDB below
            "placement_id": ids, "accepted_at": now, "as_of": pd.Timestamp(at),
            "patient_id": pl["patient_id"].astype("object"), "stay_id": pl["stay_id"].astype("object"),
            "unit_id": pl["unit_id"].astype(str), "bed_id": pl["bed_id"].astype(str), "status": "accepted",
            "os_user": user, "note": note,
        })
        con.execute("INSERT INTO bed_placements SELECT placement_id, accepted_at, as_of, patient_id, stay_id, "
                    "unit_id, bed_id, status, os_user, note FROM rows")
        ws.audit("accept bed placement", f"{len(ids)} placement(s) at {at:%Y-%m-%d %H:%M}",
                 {"placements": [{"placement_id": i, "stay_id": s, "bed_id": b}
                                 for i, s, b in zip(ids, pl["stay_id"], pl["bed_id"])], "note": note})
    return ids


def cancel_placement(ws, placement_id: str) -> list[str]:
    """Mark an accepted placement cancelled (the bed is free again on the board); audited. A placement into the
    bed this one's patient was to leave (the other half of a move) depends on it and is cancelled with it: kept,
    it would reserve a bed still occupied. Returns the ids cancelled, this one first."""
    if getattr(ws, "read_only", False):
        raise HospOpsError("The workspace is open read-only; the placement was not cancelled.")
    with ws.transaction() as con:
        row = con.execute("SELECT status, bed_id, stay_id, as_of FROM bed_placements WHERE placement_id = ?",
                          [placement_id]).fetchone()
        if row is None:
            raise HospOpsError(f"There is no placement '{placement_id}'.",
                               "List them with `hospops beds placements WS`.")
        if row[0] == "cancelled":
            raise HospOpsError(f"Placement '{placement_id}' is already cancelled.")
        cancelled, todo = [], [(placement_id, row[1], row[2], row[3])]
        while todo:
            pid, bed, stay, as_of = todo.pop()
            con.execute("UPDATE bed_placements SET status = 'cancelled' WHERE placement_id = ?", [pid])
            ws.audit("cancel bed placement", pid, {"bed_id": bed, "stay_id": stay,
                                                   **({"because": placement_id} if cancelled else {})})
            cancelled.append(pid)
            # the bed this patient is in at the placement's board time, and placements of others into it
            todo += con.execute(
                """SELECT bp.placement_id, bp.bed_id, bp.stay_id, bp.as_of FROM bed_placements bp
                   WHERE bp.status = 'accepted' AND bp.as_of = ? AND bp.bed_id IN (
                       SELECT m.bed_id FROM movements m WHERE m.stay_id = ? AND m.in_ts <= ?
                         AND (m.out_ts IS NULL OR m.out_ts > ?))""", [as_of, stay, as_of, as_of]).fetchall()
    return cancelled


__all__ = ["problem_from_workspace", "placements_from_solution", "accept_placements", "cancel_placement",
           "active_placements"]
