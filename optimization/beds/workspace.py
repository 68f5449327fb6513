"""Build a :class:`BedProblem` from a workspace at time T (the bed board and the waiting list)."""
from __future__ import annotations

from datetime import timedelta

import pandas as pd

from datasets.metrics.beds import _ts, admissions_rate, bed_board, patient_needs, waiting_list
from optimization.beds.model import (MANDATORY_SPECIALTIES, Bed, BedProblem, Patient, Unit, Weights, is_outlier,
                                     rule_breaks)

HEADROOM_HOURS = 4  # critical and assessment units keep free beds for the emergencies expected this long


def _int_or_none(v):
    return None if v is None or pd.isna(v) else int(v)


def problem_from_workspace(ws, at, weights: Weights | dict | None = None, include_next_hours: int = 0,
                           allow_transfers: bool = True) -> BedProblem:
    """The allocation problem at ``at``: free beds, the waiting list (see ``datasets.metrics.beds``), and —
    when ``allow_transfers`` — current patients who may usefully move (outliers, and patients without an
    isolation need in side rooms when someone waiting needs isolation), with a transfer penalty.

    ``include_next_hours`` (replay mode for a past T): also treat decisions to admit and elective admissions
    in the next hours as waiting now, to test a busy morning; it uses later data, so it is for what-if
    replays, never for a live board.
    Headroom: assessment and critical-care units keep as many free beds as the arrivals expected in the next
    ``HEADROOM_HOURS`` hours (:func:`datasets.metrics.beds.admissions_rate`).
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
    if include_next_hours > 0:
        extra = ws.df(
            """SELECT 'ed_boarder' AS kind, e.patient_id, e.stay_id, e.decision_ts AS since, e.acuity, s.specialty,
                      p.sex, year(CAST(? AS TIMESTAMP)) - p.birth_year AS age
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
        extra = extra[~extra["stay_id"].isin(wl["stay_id"])]
        extra["wait_hours"] = 0.0
        for k in ("isolation", "telemetry", "paediatric"):
            extra[k] = [patient_needs(s, sp, a)[k] for s, sp, a in zip(extra["stay_id"], extra["specialty"], extra["age"])]
        wl = pd.concat([wl, extra], ignore_index=True)

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
        ))
    need_iso = any(p.isolation for p in patients)

    beds: list[Bed] = []
    for r in board.itertuples():
        occupied = r.state == "occupied"
        movable = False
        if occupied and allow_transfers and r.stay_id not in seen:
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
        beds.append(Bed(
            bed_id=r.bed_id, unit_id=r.unit_id, room=r.room or "", side_room=bool(r.side_room),
            sex=r.bed_sex if isinstance(r.bed_sex, str) else None, telemetry=bool(r.telemetry),
            available=(r.state == "free") or movable,
        ))
    return BedProblem(units=tuple(units), beds=tuple(beds), patients=tuple(patients), weights=weights,
                      at=str(at_ts))
