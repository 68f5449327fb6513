"""The demo hospital: a realistic, deterministic ~400-bed hospital ("St Example General").

Same ``seed`` and ``days``, same hospital, byte for byte in every table. What it models:

* ED arrivals as a non-homogeneous Poisson process on real (UTC) hours shown on the local wall clock
  (so DST days have 23/25 hours): a daily cycle (quiet at 05:00, peak late morning), a weekly cycle
  (busy Mondays), a yearly cycle with a winter surge, public holidays (from the ``holidays`` package),
  a gentle upward trend;
* acuity (1-5), arrival mode, about 30 % admitted (more for acuity 1-2), a few who leave unseen;
* admissions by specialty with log-normal lengths of stay (long right tails) calibrated so wards run
  at about 90 % on average, discharges bunched in the afternoon, elective surgery on weekdays,
  maternity and paediatrics, ICU stays that step down to a ward;
* a bed-by-bed simulation: each stay takes a real bed (respecting single-sex bays and side rooms),
  waits in the ED when its ward is full (boarding), or goes to another ward as an outlier; beds are
  cleaned between patients; patients still in at the end have open stays;
* supplies used per patient-day and per ED attendance (some intermittent, e.g. platelets);
* nursing staff per ward with roles, skills and contracts; shift types; leave and requests.

Everything is vectorized with numpy except the bed simulation, a heap-ordered loop over stays.
The workspace is built in a temporary file and moved into place at the end, so an interrupted build
never leaves a half-built workspace behind.
"""
from __future__ import annotations

import contextlib
import heapq
import os
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from datasets.errors import WorkspaceError
from datasets.progress import Progress, Reporter, ShouldStop

HOSPITAL = "St Example General (demo)"
TIMEZONE = "Europe/London"
COUNTRY = "GB"
END = datetime(2026, 11, 21, 0, 0)
TARGET_OCCUPANCY = 0.76  # data runs up to here; patients still in then have open stays


@dataclass(frozen=True)
class UnitSpec:
    unit_id: str
    name: str
    kind: str
    specialty: str
    beds: int
    sex_policy: str = "single_sex_bays"
    side_rooms: int = 4
    telemetry: bool = False


UNITS: tuple[UnitSpec, ...] = (
    UnitSpec("ED", "Emergency Department", "ed", "emergency", 0, "mixed", 0),
    UnitSpec("AMU", "Acute Medical Unit", "assessment", "medicine", 36, side_rooms=6),
    UnitSpec("SAU", "Surgical Assessment Unit", "assessment", "surgery", 14, side_rooms=2),
    UnitSpec("M1", "Ward 1 – General Medicine", "ward", "medicine", 28),
    UnitSpec("M2", "Ward 2 – Respiratory", "ward", "medicine", 28, side_rooms=6),
    UnitSpec("M3", "Ward 3 – Cardiology", "ward", "cardiology", 24, telemetry=True),
    UnitSpec("M4", "Ward 4 – Gastroenterology", "ward", "medicine", 28),
    UnitSpec("M5", "Ward 5 – Elderly Care", "ward", "elderly", 30),
    UnitSpec("M6", "Ward 6 – Elderly Care", "ward", "elderly", 30),
    UnitSpec("M7", "Ward 7 – Stroke", "ward", "medicine", 24),
    UnitSpec("S1", "Ward 11 – General Surgery", "ward", "surgery", 28),
    UnitSpec("S2", "Ward 12 – Trauma & Orthopaedics", "ward", "orthopaedics", 30),
    UnitSpec("S3", "Ward 13 – Elective Orthopaedics", "ward", "orthopaedics", 20),
    UnitSpec("S4", "Ward 14 – Urology & Vascular", "ward", "surgery", 24),
    UnitSpec("ICU", "Intensive Care", "icu", "critical_care", 14, "mixed", 14, True),
    UnitSpec("HDU", "High Dependency Unit", "icu", "critical_care", 8, "mixed", 8, True),
    UnitSpec("PAED", "Children's Ward", "ward", "paediatrics", 26, "mixed", 8),
    UnitSpec("MAT", "Maternity", "ward", "obstetrics", 24, "female", 6),
)

# admission pathways: specialty -> (first unit group, ward group, median LOS days, sigma of log LOS)
WARDS = {
    "medicine": ("AMU", ("M1", "M2", "M4", "M7"), 4.0, 0.95),
    "cardiology": ("AMU", ("M3",), 3.5, 0.8),
    "elderly": ("AMU", ("M5", "M6"), 6.5, 0.9),
    "surgery": ("SAU", ("S1", "S4"), 3.0, 0.9),
    "orthopaedics": (None, ("S2",), 5.0, 0.85),
    "elective_ortho": (None, ("S3", "S2"), 2.6, 0.5),
    "elective_surgery": (None, ("S1", "S4"), 2.0, 0.7),
    "paediatrics": (None, ("PAED",), 1.1, 0.8),
    "obstetrics": (None, ("MAT",), 1.8, 0.6),
}
OUTLIER_WARDS = ("M1", "M2", "M4", "M7", "M5", "M6", "S1", "S4", "S2")
OUTLIER_SPECIALTIES = ("medicine", "cardiology", "elderly", "surgery", "orthopaedics")

SUPPLIES = (
    # item_id, name, category, unit of measure, per patient-day on wards, per ED attendance, ICU factor, intermittent
    ("GLV-N-M", "Nitrile examination gloves, medium (box of 100)", "PPE", "box", 0.09, 0.02, 3.0, False),
    ("APR-PE", "Disposable plastic aprons (roll of 200)", "PPE", "roll", 0.025, 0.006, 3.0, False),
    ("MSK-FFP3", "FFP3 respirator masks", "PPE", "each", 0.08, 0.01, 6.0, False),
    ("IV-SET", "IV giving set, gravity", "IV therapy", "each", 0.55, 0.12, 3.5, False),
    ("CAN-20G", "IV cannula 20G", "IV therapy", "each", 0.35, 0.28, 2.0, False),
    ("SYR-10", "Syringe 10 ml", "Consumables", "each", 1.8, 0.6, 4.0, False),
    ("DRS-FOAM", "Foam dressing 10x10 cm", "Wound care", "each", 0.3, 0.05, 1.5, False),
    ("CATH-FOL", "Foley catheter 14Fr", "Urology", "each", 0.05, 0.01, 2.5, False),
    ("O2-MASK", "Oxygen mask, adult", "Respiratory", "each", 0.12, 0.05, 2.0, False),
    ("RBC-UNIT", "Red cells, 1 unit", "Blood products", "unit", 0.045, 0.004, 6.0, True),
    ("PLT-UNIT", "Platelets, 1 adult dose", "Blood products", "unit", 0.004, 0.0, 25.0, True),
    ("FFP-UNIT", "Fresh frozen plasma, 1 unit", "Blood products", "unit", 0.006, 0.001, 12.0, True),
)


def build_demo(
    path: str | os.PathLike,
    days: int = 3 * 365,
    seed: int = 7,
    progress: Optional[Progress] = None,
    should_stop: Optional[ShouldStop] = None,
    replace: bool = False,
    passphrase: Optional[str] = None,
) -> dict:
    """Build the demo hospital into a new workspace at ``path``; return a summary.

    ``passphrase``: make it an encrypted workspace (see ``datasets.store.crypto``). The hospital is written
    to ``PATH.building`` and moved into place only when complete (``datasets.store.replace_workspace``), so
    a crash or a kill at any moment leaves ``path`` as it was before (or absent, if it was).
    """
    from datasets.store import Workspace, replace_workspace
    from datasets.store.crypto import is_duckdb_file, keyinfo_path

    if days < 28 or days > 20 * 365:
        raise WorkspaceError(f"--days must be between 28 and {20 * 365}, not {days}.")
    path = Path(path)
    if path.is_dir():
        raise WorkspaceError(f"{path} is a folder; give a file name for the workspace.")
    if path.exists() and not replace:
        raise WorkspaceError(f"{path} already exists.", "Use --force to replace it, or give another name.")
    if path.exists():
        if path.stat().st_size and not is_duckdb_file(path):
            raise WorkspaceError(f"{path} is not a workspace; --force only replaces a workspace, never other files.",
                                 "Give the demo another name.")
        _refuse_if_in_use(path)
    rep = Reporter(progress, should_stop)
    tmp = path.with_name(path.name + ".building")
    leftovers = (tmp, Path(str(tmp) + ".wal"), keyinfo_path(tmp))
    for p in leftovers:  # a build that was killed leaves these behind
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    rep(0.0, "Designing the hospital")
    data = generate(days=days, seed=seed, rep=rep.scaled(0.0, 0.75))
    rep(0.75, "Writing the workspace")
    try:
        ws = Workspace.create(tmp, timezone=TIMEZONE, country=COUNTRY, hospital_name=HOSPITAL, passphrase=passphrase)
        try:
            with ws.transaction() as con:
                for name, frame in data.items():
                    if name.startswith("_"):
                        continue
                    rep.check()
                    con.register("_frame", frame)
                    cols = ", ".join(frame.columns)
                    con.execute(f"INSERT INTO {name} ({cols}) SELECT {cols} FROM _frame")
                    con.unregister("_frame")
            rep(0.85, "Recording supply use")
            usage = supply_usage(ws, seed)
            with ws.transaction() as con:
                con.register("_frame", usage)
                con.execute(
                    "INSERT INTO supply_usage (usage_id, usage_date, item_id, unit_id, quantity) "
                    "SELECT usage_id, usage_date, item_id, unit_id, quantity FROM _frame"
                )
                con.unregister("_frame")
                stock = supply_stock(usage, data["supply_items"], seed)
                con.register("_frame", stock)
                con.execute("INSERT INTO supply_stock (item_id, unit_id, as_of, on_hand) "
                            "SELECT item_id, unit_id, as_of, on_hand FROM _frame")
                con.unregister("_frame")
                con.execute("INSERT OR REPLACE INTO settings VALUES ('demo_seed', ?), ('demo_days', ?), ('demo_end', ?)",
                            [str(seed), str(days), END.isoformat()])
                ws._audit_in_tx("build demo hospital", str(path), {"days": days, "seed": seed})
            rep(0.95, "Checkpointing")
            ws.con.execute("CHECKPOINT")
            counts = ws.counts()
        finally:
            ws.close()
        rep.check()
        replace_workspace(tmp, path, passphrase)
    except BaseException:
        for p in leftovers:
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
        raise
    rep(1.0, "Demo hospital ready")
    return {
        "workspace": str(path),
        "hospital": HOSPITAL,
        "days": days,
        "seed": seed,
        "beds": int(data["beds"].shape[0]),
        "ed_visits": counts["ed_visits"],
        "stays": counts["stays"],
        "movements": counts["movements"],
        "supply_usage": counts["supply_usage"],
        "staff": counts["staff"],
    }


BLOCKED_SHARE = 0.02


def _refuse_if_in_use(path: Path) -> None:
    """Replacing a workspace another process has open would silently lose that process's work."""
    import duckdb

    from datasets.store import _translate

    try:
        duckdb.connect(str(path)).close()
    except duckdb.Error as exc:
        err = _translate(exc, path)
        if "in use" in err.message:
            raise err from None
        # damaged but a DuckDB file: --force may replace it


# ------------------------------------------------------------------------------------------ generation
def generate(days: int, seed: int, rep: Reporter) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    start = END - timedelta(days=days)
    units, beds = _units_and_beds()
    rep(0.05, "Simulating ED arrivals")
    arrivals = _ed_arrivals(rng, start, days)
    n = len(arrivals)
    rep(0.2, f"{n:,} ED arrivals; triage and decisions")

    # patients: frequent attenders exist, so draw visit -> patient with a skewed pool
    n_pat = int(n * 0.55)
    propensity = rng.gamma(0.6, 1.0, n_pat)
    pat_idx = rng.choice(n_pat, size=n, p=propensity / propensity.sum())
    age_at = _ages(rng, n_pat)
    sex = np.where(rng.random(n_pat) < 0.51, "F", "M")
    birth_year = (start.year + 1) - age_at
    age = np.clip(arrivals.year.to_numpy().astype(np.int64) - birth_year[pat_idx], 0, 104)

    acuity = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.02, 0.15, 0.45, 0.30, 0.08])
    night = (arrivals.hour < 7) | (arrivals.hour >= 22)
    acuity = np.where(night & (acuity == 4) & (rng.random(n) < 0.15), 3, acuity)
    acuity = np.where((age >= 75) & (acuity >= 4) & (rng.random(n) < 0.35), 3, acuity)
    p_amb = np.array([0, 0.9, 0.6, 0.3, 0.1, 0.03])[acuity] + np.where(age >= 75, 0.25, 0)
    mode = np.where(rng.random(n) < p_amb, "ambulance", "walk_in")
    mode = np.where((acuity == 1) & (rng.random(n) < 0.04), "helicopter", mode)
    p_adm = np.array([0, 0.85, 0.58, 0.33, 0.08, 0.02])[acuity] * np.where(age >= 70, 1.45, 1.0)
    p_adm = np.where(age < 16, p_adm * 0.45, p_adm)
    admitted = rng.random(n) < np.minimum(p_adm, 0.97)
    left = ~admitted & (rng.random(n) < np.where(acuity >= 4, 0.045, 0.01))
    transferred = ~admitted & ~left & (rng.random(n) < 0.01)

    # time to be seen, treated and decided (hours)
    t_decide = rng.lognormal(np.log(3.0), 0.5, n) * np.where(acuity <= 2, 0.75, 1.0)
    t_home = rng.lognormal(np.log(2.6), 0.55, n) * np.where(acuity >= 4, 0.8, 1.15)
    t_home = np.where(left, rng.uniform(0.5, 4, n), t_home)
    arr_ns = arrivals.values.astype("datetime64[ns]")
    decision = arr_ns + (t_decide * 3.6e12).astype("timedelta64[ns]")

    # specialty of admitted ED patients
    spec = np.full(n, "", dtype=object)
    u = rng.random(n)
    child = age < 16
    spec[admitted & child] = "paediatrics"
    adult = admitted & ~child
    spec[adult] = np.where(
        u[adult] < 0.08, "cardiology",
        np.where(u[adult] < 0.34, "surgery", np.where(u[adult] < 0.46, "orthopaedics", "medicine")),
    )
    spec[adult & (age >= 80) & (spec == "medicine")] = "elderly"
    icu = admitted & ((acuity == 1) & (rng.random(n) < 0.45) | (acuity == 2) & (rng.random(n) < 0.08))

    rep(0.35, "Planning elective and maternity admissions")
    # stays: ED admissions + electives (weekdays) + maternity (direct)
    ed_adm = np.flatnonzero(admitted)
    elect = _electives(rng, start, days)
    mat = _maternity(rng, start, days)
    stays = _stay_requests(rng, ed_adm, spec, icu, decision, age, pat_idx, sex, elect, mat, n_pat)
    rep(0.45, f"Placing {len(stays['req']):,} admissions in beds")
    placed = _simulate_beds(rng, stays, beds, rep.scaled(0.45, 0.9))
    rep(0.9, "Assembling tables")

    # ED departure: admitted patients leave the ED when their first bed is ready (boarding)
    departure = arr_ns + (t_home * 3.6e12).astype("timedelta64[ns]")
    first_in = placed["first_in"]
    ed_rows = stays["ed_index"]
    is_ed_stay = ed_rows >= 0
    departure[ed_rows[is_ed_stay]] = first_in[is_ed_stay]
    end64 = np.datetime64(END, "ns")
    visit_ids = np.array([f"E{i:08d}" for i in range(1, n + 1)], dtype=object)
    stay_ids = np.array([f"S{i:08d}" for i in range(1, len(stays["req"]) + 1)], dtype=object)
    stay_of_visit = np.full(n, None, dtype=object)
    stay_of_visit[ed_rows[is_ed_stay]] = stay_ids[is_ed_stay]
    admit_spec = np.full(n, None, dtype=object)  # the bed request's specialty, known while the patient boards
    admit_spec[ed_rows[is_ed_stay]] = np.asarray(stays["specialty"], dtype=object)[is_ed_stay]
    disposition = np.where(admitted, "admitted", np.where(left, "left", np.where(transferred, "transferred", "discharged")))
    died_ed = ~admitted & (acuity == 1) & (rng.random(n) < 0.06)
    disposition = np.where(died_ed, "died", disposition)
    keep = arr_ns < end64
    ed_visits = pd.DataFrame(
        {
            "visit_id": visit_ids,
            "patient_id": _pids(pat_idx),
            "arrival_ts": arr_ns,
            "departure_ts": np.where(departure < end64, departure, np.datetime64("NaT")),
            "acuity": acuity.astype(np.int8),
            "arrival_mode": mode,
            "disposition": np.where(departure < end64, disposition, None),
            "decision_ts": np.where(admitted & (decision < end64), decision, np.datetime64("NaT")),
            "stay_id": stay_of_visit,
            "admit_specialty": np.where(admitted & (decision < end64), admit_spec, None),
        }
    )[keep]
    ed_visits["departure_ts"] = pd.to_datetime(ed_visits["departure_ts"])
    ed_visits["decision_ts"] = pd.to_datetime(ed_visits["decision_ts"])

    admit = placed["first_in"]
    disch = placed["discharge"]
    in_window = admit < end64
    died = stays["died"]
    stays_df = pd.DataFrame(
        {
            "stay_id": stay_ids,
            "patient_id": _pids(stays["patient"]),
            "admit_ts": admit,
            "discharge_ts": np.where(disch < end64, disch, np.datetime64("NaT")),
            "admission_type": stays["admission_type"],
            "specialty": stays["specialty"],
            "admit_source": stays["admit_source"],
            "discharge_disposition": np.where(disch < end64, np.where(died, "died", stays["dest"]), None),
            "died": np.where(disch < end64, died, False),
        }
    )[in_window]
    stays_df["discharge_ts"] = pd.to_datetime(stays_df["discharge_ts"])
    mv = placed["movements"]
    mv = mv[mv["in_ts"] < end64].copy()
    mv["out_ts"] = mv["out_ts"].where(mv["out_ts"] < end64)
    mv["stay_id"] = stay_ids[mv["stay"].to_numpy()]
    movements = mv[["stay_id", "seq", "unit_id", "bed_id", "in_ts", "out_ts"]]

    used = np.unique(np.concatenate([pat_idx[keep], stays["patient"][in_window]]))
    patients = pd.DataFrame(
        {
            "patient_id": _pids(used),
            "sex": sex[used],
            "birth_year": birth_year[used].astype(np.int32),
            "deceased": np.isin(used, stays["patient"][died & in_window & (disch < end64)]),
        }
    )
    # nobody is born after their first visit or admission (an infant counted from the year after the start had
    # age -1 on the boards of its first year)
    first = pd.concat([ed_visits.loc[keep, ["patient_id", "arrival_ts"]].rename(columns={"arrival_ts": "ts"}),
                       stays_df[["patient_id", "admit_ts"]].rename(columns={"admit_ts": "ts"})])
    first_year = pd.to_datetime(first["ts"]).dt.year.groupby(first["patient_id"]).min()
    seen = patients["patient_id"].map(first_year)
    patients["birth_year"] = np.minimum(patients["birth_year"], seen.fillna(patients["birth_year"])).astype(np.int32)
    # own stream: staffing can change without changing the supply usage drawn after it
    staff, shift_types, requests = _staff(np.random.default_rng(seed + 4))
    items = pd.DataFrame(
        {
            "item_id": [s[0] for s in SUPPLIES],
            "name": [s[1] for s in SUPPLIES],
            "category": [s[2] for s in SUPPLIES],
            "unit_of_measure": [s[3] for s in SUPPLIES],
            "pack_size": [100 if s[3] == "box" else 1 for s in SUPPLIES],
            "lead_time_days": [3 if s[2] != "Blood products" else 1 for s in SUPPLIES],
        }
    )
    # A few beds out of use now (maintenance, a broken hoist, an infection-control closure): ~2% of the beds
    # empty at the end of the data. The status has no history, so only beds nobody occupies at the end.
    occupied_at_end = set(movements.loc[movements["out_ts"].isna(), "bed_id"])
    empty = np.flatnonzero(~beds["bed_id"].isin(occupied_at_end).to_numpy())
    n_blocked = min(len(empty), max(1, round(BLOCKED_SHARE * len(beds))))
    beds = beds.copy()
    beds.loc[np.random.default_rng(seed + 2).choice(empty, size=n_blocked, replace=False), "status"] = "blocked"
    return {
        "units": units,
        "beds": beds,
        "patients": patients,
        "ed_visits": ed_visits,
        "stays": stays_df,
        "movements": movements,
        "supply_items": items,
        "staff": staff,
        "shift_types": shift_types,
        "requests": requests,
    }


def _pids(idx: np.ndarray) -> np.ndarray:
    return np.char.add("P", np.char.zfill(idx.astype(np.int64).astype(str), 7)).astype(object)


def _ages(rng: np.random.Generator, n: int) -> np.ndarray:
    # ED attenders: children, young adults and a large elderly share
    group = rng.choice(4, size=n, p=[0.2, 0.38, 0.24, 0.18])
    lo = np.array([0, 16, 50, 75])[group]
    hi = np.array([16, 50, 75, 100])[group]
    return (lo + rng.random(n) * (hi - lo)).astype(np.int64)


def _holiday_dates(start: datetime, days: int) -> set[date]:
    try:
        import holidays

        years = range(start.year, (start + timedelta(days=days)).year + 1)
        return set(holidays.country_holidays(COUNTRY, subdiv="ENG", years=years).keys())
    except Exception:  # the package is a dependency; a missing calendar only flattens holiday effects
        return set()


def _ed_arrivals(rng: np.random.Generator, start: datetime, days: int) -> pd.DatetimeIndex:
    """Arrival times (local naive) of a non-homogeneous Poisson process on real hours."""
    t0 = pd.Timestamp(start).tz_localize(TIMEZONE)
    t1 = pd.Timestamp(start + timedelta(days=days)).tz_localize(TIMEZONE)
    hours_utc = pd.date_range(t0.tz_convert("UTC"), t1.tz_convert("UTC"), freq="h", inclusive="left")
    local = hours_utc.tz_convert(TIMEZONE)
    h = local.hour.to_numpy()
    dow = local.day_of_week.to_numpy()
    doy = local.day_of_year.to_numpy()
    years = (hours_utc - hours_utc[0]).total_seconds().to_numpy() / (365.25 * 86400)
    daily = np.array([0.55, 0.45, 0.38, 0.33, 0.30, 0.30, 0.38, 0.60, 0.95, 1.25, 1.42, 1.48,
                      1.45, 1.40, 1.35, 1.32, 1.30, 1.30, 1.28, 1.22, 1.10, 0.95, 0.80, 0.66])
    daily = daily / daily.mean()
    weekly = np.array([1.12, 1.02, 0.99, 0.98, 1.0, 0.93, 0.96])
    yearly = 1 + 0.07 * np.cos(2 * np.pi * (doy - 15) / 365.25) + 0.02 * np.cos(4 * np.pi * (doy - 200) / 365.25)
    # winter surge: respiratory season peaking early January
    surge = 1 + 0.06 * np.exp(-0.5 * ((((doy + 10) % 365.25) - 10) / 18.0) ** 2)
    hol = _holiday_dates(start, days)
    local_dates = local.date
    is_hol = np.fromiter((d in hol for d in local_dates), bool, len(local_dates))
    holiday = np.where(is_hol, np.where((h >= 10) & (h < 20), 1.12, 1.0), 1.0) * np.where(is_hol, 1 / weekly[dow] * 0.99, 1.0)
    trend = 1 + 0.022 * years
    rate = 232 / 24 * daily[h] * weekly[dow] * yearly * surge * holiday * trend
    counts = rng.poisson(rate)
    base = np.repeat(hours_utc.as_unit("ns").asi8, counts)
    offs = (rng.random(base.size) * 3.6e12).astype(np.int64)
    t = pd.DatetimeIndex(np.sort(base + offs)).tz_localize("UTC").tz_convert(TIMEZONE).tz_localize(None)
    return t.floor("s")


def _electives(rng: np.random.Generator, start: datetime, days: int) -> pd.DataFrame:
    hol = _holiday_dates(start, days)
    dates = pd.date_range(start, periods=days, freq="D")
    rows = []
    for kind, per_day in (("elective_ortho", 5.5), ("elective_surgery", 8.5)):
        n = rng.poisson(per_day, len(dates))
        workday = (dates.day_of_week < 5) & ~np.isin(dates.date, list(hol))
        # fewer lists over Christmas and in August
        n = np.where(workday, n, 0)
        n = np.where((dates.month == 12) & (dates.day > 20) | (dates.month == 8), (n * 0.6).astype(int), n)
        d = np.repeat(dates.values, n)
        t = d + (rng.uniform(7, 9.5, d.size) * 3.6e12).astype("timedelta64[ns]")
        rows.append(pd.DataFrame({"t": t, "specialty": kind}))
    return pd.concat(rows, ignore_index=True)


def _maternity(rng: np.random.Generator, start: datetime, days: int) -> pd.DataFrame:
    n = rng.poisson(9.0 * days)
    t = np.datetime64(start, "ns") + (rng.random(n) * days * 8.64e13).astype("timedelta64[ns]")
    return pd.DataFrame({"t": np.sort(t), "specialty": "obstetrics"})


def _stay_requests(rng, ed_adm, spec, icu, decision, age, pat_idx, sex, elect, mat, n_pat) -> dict:
    """One row per stay: when a bed is first wanted, the pathway and the planned length of each segment."""
    n_ed, n_el, n_mat = len(ed_adm), len(elect), len(mat)
    n = n_ed + n_el + n_mat
    specialty = np.concatenate([spec[ed_adm], elect["specialty"].to_numpy(), mat["specialty"].to_numpy()]).astype(object)
    req = np.concatenate([decision[ed_adm], elect["t"].to_numpy(), mat["t"].to_numpy()]).astype("datetime64[ns]")
    # electives and maternity patients: new people mostly (adults; maternity female 18-44)
    women = np.flatnonzero(sex == "F")
    extra_pat = np.concatenate([rng.integers(0, n_pat, n_el), women[rng.integers(0, len(women), n_mat)]])
    patient = np.concatenate([pat_idx[ed_adm], extra_pat])
    sex_s = sex[patient].astype(object)
    age_s = np.concatenate([age[ed_adm], rng.integers(25, 85, n_el), rng.integers(18, 45, n_mat)])
    is_icu = np.concatenate([icu[ed_adm], rng.random(n_el) < 0.015, rng.random(n_mat) < 0.004])
    # lengths of stay: log-normal per specialty, scaled so each ward group runs at about 90 % on average
    days = max((req.max() - req.min()) / np.timedelta64(1, "D"), 1.0)
    capacity = {u.unit_id: u.beds for u in UNITS}
    share = {"surgery": 0.68, "elective_surgery": 0.32}
    los = np.empty(n)
    for name, (first, wards, _, sigma) in WARDS.items():
        m = specialty == name
        if not m.any():
            continue
        beds = sum(capacity[w] for w in wards) * share.get(name, 1.0)
        per_day = m.sum() / days
        mean_los = TARGET_OCCUPANCY * beds / per_day + (0.65 if first else 0.0)
        los[m] = rng.lognormal(np.log(mean_los) - sigma**2 / 2, sigma, m.sum())
    los = np.clip(los, 0.15, 150.0)
    icu_days = np.where(is_icu, np.clip(rng.lognormal(np.log(3.0), 0.8, n), 0.5, 40), 0.0)
    died = rng.random(n) < np.where(is_icu, 0.16, np.where(age_s >= 80, 0.05, 0.012))
    died &= specialty != "obstetrics"
    isolation = rng.random(n) < np.where(specialty == "medicine", 0.07, 0.03)
    admission_type = np.array(["emergency"] * n_ed + ["elective"] * n_el + ["emergency"] * n_mat, dtype=object)
    admit_source = np.array(["ED"] * n_ed + ["waiting list"] * n_el + ["direct"] * n_mat, dtype=object)
    dest = rng.choice(["home", "home", "home", "home", "care home", "other hospital"], n)
    order = np.argsort(req, kind="stable")
    ed_index = np.concatenate([ed_adm, np.full(n_el + n_mat, -1)])
    out = {
        "req": req, "specialty": specialty, "patient": patient, "sex": sex_s, "icu": is_icu, "los": los,
        "icu_days": icu_days, "died": died, "isolation": isolation, "admission_type": admission_type,
        "admit_source": admit_source, "dest": dest, "ed_index": ed_index,
    }
    return {k: v[order] for k, v in out.items()}


def _units_and_beds() -> tuple[pd.DataFrame, pd.DataFrame]:
    urows, brows = [], []
    for u in UNITS:
        urows.append(
            {
                "unit_id": u.unit_id, "name": u.name, "kind": u.kind, "specialty": u.specialty,
                "capacity": u.beds if u.beds else 60, "sex_policy": u.sex_policy,
                "is_inpatient": u.kind != "ed",
            }
        )
        bays = u.beds - u.side_rooms
        for k in range(u.side_rooms):
            brows.append((f"{u.unit_id}-SR{k + 1}", u.unit_id, f"SR{k + 1}", True,
                          "F" if u.sex_policy == "female" else None, u.telemetry, "open"))
        for k in range(bays):
            bay = k // 6
            sexes = {"single_sex_bays": ("M" if bay % 2 == 0 else "F"), "female": "F", "male": "M"}
            brows.append((f"{u.unit_id}-{chr(65 + bay)}{k % 6 + 1}", u.unit_id, f"Bay {chr(65 + bay)}", False,
                          sexes.get(u.sex_policy), u.telemetry, "open"))
    units = pd.DataFrame(urows)
    beds = pd.DataFrame(brows, columns=["bed_id", "unit_id", "room", "side_room", "sex", "telemetry", "status"])
    return units, beds


def _simulate_beds(rng, stays: dict, beds: pd.DataFrame, rep: Reporter) -> dict:
    """Place every stay in real beds in time order; wait (board) or outlie when the right ward is full.

    Times are int64 nanoseconds inside the loop (numpy datetime scalars are slow in a heap).
    """
    n = len(stays["req"])
    H = 3_600_000_000_000
    DAY = 24 * H
    HELD = np.iinfo(np.int64).max // 2  # bed held by a patient who will move on at an unknown time
    bed_unit = beds["unit_id"].to_numpy()
    bed_sex = beds["sex"].fillna("").to_numpy(dtype=object)
    bed_side = beds["side_room"].to_numpy(dtype=bool)
    bed_ids = beds["bed_id"].to_numpy()
    free_at = np.zeros(len(beds), dtype=np.int64)
    unit_beds = {u: np.flatnonzero(bed_unit == u) for u in np.unique(bed_unit)}
    discharge_hours = np.array([0.2, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 3.2, 4.2, 4.6, 4.8,
                                4.8, 4.6, 4.0, 2.8, 1.8, 1.2, 0.8, 0.5, 0.3])
    discharge_hours /= discharge_hours.sum()
    clean = (rng.uniform(0.75, 2.5, 2 * n + 10) * H).astype(np.int64).tolist()
    dis_hour = rng.choice(24, size=n, p=discharge_hours).tolist()
    dis_jitter = (rng.random(n) * H).astype(np.int64).tolist()
    assess_days = rng.uniform(0.3, 1.0, n).tolist()
    req = stays["req"].astype("datetime64[ns]").astype(np.int64).tolist()
    los = stays["los"].tolist()
    icu_days = stays["icu_days"].tolist()
    is_icu = stays["icu"].tolist()
    died = stays["died"].tolist()
    iso_l = stays["isolation"].tolist()
    sex_l = stays["sex"].tolist()
    spec_l = stays["specialty"].tolist()
    emergency = (stays["admission_type"] == "emergency").tolist()
    mv_stay, mv_seq, mv_unit, mv_bed, mv_in, mv_out = [], [], [], [], [], []
    first_in = [0] * n
    discharge = [0] * n
    k_clean = 0
    cache: dict = {}

    def candidates(units: tuple, sex: str, iso: bool) -> np.ndarray:
        key = (units, sex, iso)
        if key not in cache:
            idx = np.concatenate([unit_beds[u] for u in units])
            ok = bed_side[idx] if iso else ((bed_sex[idx] == "") | (bed_sex[idx] == sex) | bed_side[idx])
            cache[key] = idx[ok] if ok.any() else idx
        return cache[key]

    # pending segment requests: (time, stay, step); step 0 = first unit, 1 = ward after assessment/ICU
    heap = [(req[i], i, 0) for i in range(n)]
    heapq.heapify(heap)
    seq = [0] * n
    placed_at: dict[int, int] = {}
    done = 0
    while heap:
        t, i, step = heapq.heappop(heap)
        spec = spec_l[i]
        first_group, wards, _, _ = WARDS[spec]
        needs_icu = is_icu[i] and step == 0
        if needs_icu:
            units, dur = ("ICU", "HDU"), icu_days[i]
        elif step == 0 and first_group:
            units, dur = (first_group,), min(los[i], assess_days[i])
        else:
            units, dur = wards, None
        cand = candidates(units, sex_l[i], iso_l[i])
        j = int(cand[np.argmin(free_at[cand])])
        if free_at[j] > t and not needs_icu and emergency[i] and spec in OUTLIER_SPECIALTIES:
            # the right unit is full: an assessment-unit patient goes straight to a ward, then any
            # general ward with a compatible free bed takes the patient as an outlier
            for pool in ((wards,) if units != wards else ()) + (OUTLIER_WARDS,):
                alt = candidates(pool, sex_l[i], iso_l[i] and pool == wards)
                jj = int(alt[np.argmin(free_at[alt])])
                if free_at[jj] <= t:
                    j, units, dur = jj, wards, None
                    break
        if free_at[j] > t:
            # no bed yet: wait (in the ED, or in the current bed) and try again when one may be free
            retry = int(free_at[j]) if free_at[j] < HELD else t + H
            heapq.heappush(heap, (retry, i, step))
            continue
        start = t
        if i in placed_at:  # the previous segment lasts until this bed is ready (delayed step-down)
            prev = placed_at.pop(i)
            mv_out[prev] = start
            free_at[mv_bed[prev]] = start + clean[k_clean]
            k_clean += 1
        else:
            first_in[i] = start
        seq[i] += 1
        mv_stay.append(i), mv_seq.append(seq[i]), mv_unit.append(bed_unit[j]), mv_bed.append(j), mv_in.append(start)
        if dur is None:
            end = max(first_in[i] + int((los[i] + icu_days[i]) * DAY), start + H)
            if not died[i]:  # discharges bunch in the afternoon
                end = max(end - end % DAY + dis_hour[i] * H + dis_jitter[i], start + 2 * H)
            discharge[i] = end
            mv_out.append(end)
            free_at[j] = end + clean[k_clean]
            k_clean += 1
        else:
            end = start + int(dur * DAY)
            mv_out.append(end)
            if step == 0 and los[i] <= dur and not is_icu[i]:
                # short stay: discharged straight from the assessment unit
                discharge[i] = end
                free_at[j] = end + clean[k_clean]
                k_clean += 1
            else:
                free_at[j] = HELD
                placed_at[i] = len(mv_in) - 1
                heapq.heappush(heap, (end, i, 1))
        done += 1
        if done % 20000 == 0:
            rep(done / (1.6 * n), f"Placed {done:,} bed moves")
    mv = pd.DataFrame(
        {
            "stay": np.array(mv_stay, dtype=np.int64),
            "seq": np.array(mv_seq, dtype=np.int32),
            "unit_id": np.array(mv_unit, dtype=object),
            "bed_id": bed_ids[np.array(mv_bed, dtype=np.int64)],
            "in_ts": np.array(mv_in, dtype=np.int64).astype("datetime64[ns]"),
            "out_ts": np.array(mv_out, dtype=np.int64).astype("datetime64[ns]"),
        }
    )
    return {
        "first_in": np.array(first_in, dtype=np.int64).astype("datetime64[ns]"),
        "discharge": np.array(discharge, dtype=np.int64).astype("datetime64[ns]"),
        "movements": mv,
    }


def _staff(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    first = ["Alex", "Sam", "Jo", "Priya", "Tom", "Aisha", "Ben", "Chloe", "Dan", "Ewa", "Femi", "Grace", "Hana",
             "Ivan", "Jade", "Kofi", "Lena", "Mo", "Nia", "Omar", "Pat", "Rosa", "Sean", "Tara", "Uma", "Vic", "Wen",
             "Yusuf", "Zoe", "Ali", "Beth", "Cal"]
    last = ["Smith", "Khan", "Jones", "Patel", "Brown", "Ahmed", "Taylor", "Nowak", "Wilson", "Okafor", "Evans",
            "Singh", "Roberts", "Murphy", "Lee", "Walker", "Hughes", "Ali", "Wood", "Clarke"]
    rows, k = [], 0
    for u in UNITS:
        if u.kind == "ed" or not u.beds:
            n_rn, n_hca = 60, 30
        else:
            # enough people for the forecast-driven cover of 6-week rosters (checked with
            # optimization.rostering.cover_shortfalls): a 28-bed ward has 21 RNs (7 can take charge) and 15 HCAs
            ratio = 1.1 if u.kind == "icu" else 0.75
            n_rn = int(round(u.beds * ratio))
            n_hca = max(6, int(round(u.beds * 0.4))) if u.kind == "icu" else int(round(u.beds * 0.55))
        for role, count in (("RN", n_rn), ("HCA", n_hca)):
            for c in range(count):
                k += 1
                skills = []
                if role == "RN" and c < max(7, count // 3 + 1):
                    skills.append("charge")
                if u.kind == "icu" and role == "RN":
                    skills.append("icu")
                if u.unit_id == "PAED" and role == "RN":
                    skills.append("paeds")
                if u.unit_id == "MAT" and role == "RN":
                    skills.append("midwife")
                hours = rng.choice([37.5, 37.5, 37.5, 30.0, 22.5], p=[0.45, 0.2, 0.1, 0.15, 0.1])
                rows.append(
                    {
                        "staff_id": f"N{k:04d}",
                        "display_name": f"{first[rng.integers(len(first))]} {last[rng.integers(len(last))]}",
                        "role": role,
                        "unit_id": u.unit_id,
                        "skills": ",".join(skills),
                        "contract_hours": float(hours),
                        "nights_ok": bool(rng.random() < 0.85),
                    }
                )
    staff = pd.DataFrame(rows)
    shift_types = pd.DataFrame(
        {
            "shift_id": ["E", "L", "N", "LD"],
            "name": ["Early", "Late", "Night", "Long day"],
            "start_time": pd.to_datetime(["07:00", "13:30", "21:00", "07:00"], format="%H:%M").time,
            "duration_h": [8.0, 8.0, 10.5, 12.5],
            "is_night": [False, False, True, False],
        }
    )
    # leave and requests for the 8 weeks after the data ends (what the next roster must respect)
    req = []
    first_day = END.date()
    for sid in staff["staff_id"]:
        if rng.random() < 0.18:
            d0 = first_day + timedelta(days=int(rng.integers(0, 50)))
            for d in range(int(rng.integers(3, 8))):
                req.append((sid, d0 + timedelta(days=d), "leave", None, 100))
        for _ in range(rng.poisson(1.2)):
            d = first_day + timedelta(days=int(rng.integers(0, 56)))
            kind = rng.choice(["day_off", "shift_off", "shift_on"], p=[0.6, 0.25, 0.15])
            req.append((sid, d, str(kind), None if kind == "day_off" else str(rng.choice(["E", "L", "N"])),
                        int(rng.choice([1, 2, 3]))))
    requests = pd.DataFrame(req, columns=["staff_id", "request_date", "kind", "shift_id", "weight"])
    requests = requests.drop_duplicates(["staff_id", "request_date"]).reset_index(drop=True)
    requests.insert(0, "request_id", [f"R{i:05d}" for i in range(1, len(requests) + 1)])
    return staff, shift_types, requests


def supply_usage(ws, seed: int) -> pd.DataFrame:
    """Daily use per item and unit, driven by each unit's census and the ED's attendances."""
    rng = np.random.default_rng(seed + 1)
    occ = ws.df(
        """SELECT o.unit_id, o.ds, o.mean_census, u.kind FROM occupancy_daily o JOIN units u USING (unit_id)
           WHERE u.kind <> 'ed' AND o.ds < CAST(? AS DATE) ORDER BY o.unit_id, o.ds""",
        [END.date()],
    )
    ed = ws.df(
        "SELECT ds, y FROM ed_arrivals_daily WHERE ds < CAST(? AS DATE) ORDER BY ds", [END.date()]
    )
    frames = []
    for item_id, _, _, _, per_pd, per_ed, icu_factor, intermittent in SUPPLIES:
        factor = np.where(occ["kind"].to_numpy() == "icu", icu_factor, 1.0)
        mu = occ["mean_census"].to_numpy() * per_pd * factor
        qty = _draw(rng, mu, intermittent)
        frames.append(pd.DataFrame({"usage_date": occ["ds"], "item_id": item_id, "unit_id": occ["unit_id"], "quantity": qty}))
        if per_ed > 0:
            q_ed = _draw(rng, ed["y"].to_numpy() * per_ed, intermittent)
            frames.append(pd.DataFrame({"usage_date": ed["ds"], "item_id": item_id, "unit_id": "ED", "quantity": q_ed}))
    usage = pd.concat(frames, ignore_index=True)
    usage = usage[usage["quantity"] > 0].reset_index(drop=True)
    usage.insert(0, "usage_id", [f"U{i:08d}" for i in range(1, len(usage) + 1)])
    usage["quantity"] = usage["quantity"].astype(float)
    return usage


STOCK_DAYS = 56


def supply_stock(usage: pd.DataFrame, items: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Stock on hand per item and unit at the end of each of the last ``STOCK_DAYS`` days (``as_of`` is the
    following midnight, so the last count is at the demo's end).

    Each unit's store is kept by a periodic review, as ward top-up services run: every ``review`` days
    (weekly; blood products every second day) the store orders up to its expected use over the review
    period plus the lead time and a safety margin of ``z`` standard deviations of that use (mean and
    spread of daily use over the 28 days before the review), delivered ``lead_time_days`` later. ``z`` differs by store (0.8-2.8), so some stores run lean and now and then run out, and some
    are well stocked; use is the recorded use, stock never below zero.
    """
    rng = np.random.default_rng(seed + 3)
    if usage.empty:
        return pd.DataFrame(columns=["item_id", "unit_id", "as_of", "on_hand"])
    lead = dict(zip(items["item_id"], items["lead_time_days"]))
    blood = set(items.loc[items["category"] == "Blood products", "item_id"])
    last = pd.Timestamp(END.date()) - pd.Timedelta(days=1)
    warm = 28
    days = pd.date_range(last - pd.Timedelta(days=STOCK_DAYS + warm - 1), last, freq="D")
    base_days = pd.date_range(days[0] - pd.Timedelta(days=28), days[0] - pd.Timedelta(days=1), freq="D")
    u = usage.assign(usage_date=pd.to_datetime(usage["usage_date"]))
    first_use = u["usage_date"].min()
    u = u[u["usage_date"] >= base_days[0]]
    pairs = pd.MultiIndex.from_frame(usage[["item_id", "unit_id"]].drop_duplicates())
    table = u.pivot_table(index="usage_date", columns=["item_id", "unit_id"], values="quantity", aggfunc="sum")
    table = table.reindex(index=base_days.append(days), columns=pairs).fillna(0.0)
    # a short demo has no 28 days before the simulated stretch: average what there is
    seen = np.asarray(table.index >= first_use)
    base_rows = seen & (np.arange(len(table)) < len(base_days))
    if base_rows.sum() < 7:
        base_rows = seen
    nb = len(base_days)
    rows = []
    for item_id, unit_id in sorted(table.columns):
        full = table[(item_id, unit_id)].to_numpy()
        L = int(lead.get(item_id) or 3)
        review = 2 if item_id in blood else 7
        offset = int(rng.integers(0, review))
        z = rng.uniform(0.8, 2.8)

        def par_level(t: int) -> float:  # re-set at each review from the 28 days before it
            window = full[max(0, nb + t - 28):nb + t][seen[max(0, nb + t - 28):nb + t]]
            if len(window) < 7:
                window = full[base_rows]
            return float(np.ceil(max(window.mean(), 0.1) * (review + L) + z * window.std() * np.sqrt(review + L)))

        use = full[nb:]
        stock, arriving = par_level(0), {}
        for t in range(len(days)):
            stock += arriving.pop(t, 0.0)
            stock = max(0.0, stock - use[t])
            if t % review == offset:
                up_to = par_level(t + 1)
                position = stock + sum(arriving.values())
                if position < up_to:
                    arriving[t + L] = arriving.get(t + L, 0.0) + float(np.ceil(up_to - position))
            if t >= warm:
                rows.append((item_id, unit_id, days[t] + pd.Timedelta(days=1), stock))
    return pd.DataFrame(rows, columns=["item_id", "unit_id", "as_of", "on_hand"])


def _draw(rng: np.random.Generator, mu: np.ndarray, intermittent: bool) -> np.ndarray:
    mu = np.maximum(mu, 0.0)
    if intermittent:
        # clumped demand: few days with use, several units at once
        events = rng.poisson(mu / 2.5)
        return np.where(events > 0, events * 2 + rng.poisson(0.5, mu.size), 0)
    # negative binomial: over-dispersed counts around the mean
    r = 8.0
    return rng.negative_binomial(r, r / (r + mu + 1e-9))
