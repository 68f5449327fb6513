"""Build a roster problem from a workspace: a unit's staff, shift types, leave and requests, and cover
derived from the unit's recent census (expected patients per shift ÷ a staffing ratio)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, time as dtime, timedelta
from typing import Iterable, Mapping, Optional

import pandas as pd

from datasets.errors import HospOpsError

from .problem import Cover, Employee, Lock, Request, RosterProblem, RosterSolution, ShiftType

#: patients per member of staff, by role and by day/night (1 RN per 8 patients by day, per 10 by night)
DEFAULT_RATIOS: Mapping[str, Mapping[str, float]] = {"RN": {"day": 8.0, "night": 10.0},
                                                     "HCA": {"day": 12.0, "night": 15.0}}


@dataclass(frozen=True)
class WardRules:
    """The unit's contract and law rules applied to everyone (the staff table has no per-person columns)."""

    rest_hours: float = 11.0  # minimum rest between shifts: sets the forbidden successions
    max_consecutive: int = 5
    max_consecutive_nights: int = 3
    fair_nights_weight: int = 1  # per night of spread between the most and fewest nights worked
    fair_weekends_weight: int = 1
    # per bank holiday of spread between the most and fewest worked (the workspace's country's public holidays):
    # a holiday is worth more than a weekend day
    fair_holidays_weight: int = 3
    # per night a person works outside their share of the nights their role's cover asks for (in proportion to
    # contracted hours, leave credited), give or take the tolerance: the spread alone left the demo's M3 at 4 to
    # 17 nights a person. Give or take 2, M3's 7 nurses in charge could work at most 45 nights without a price
    # for the 42 a nurse in charge must work, and the search lost the time: 4.2 shifts short at 30 s against
    # 2.8 give or take 3 (mean of the same 6 seeds); the first roster is the same either way
    night_share_weight: int = 5
    night_share_tolerance: int = 3
    min_consecutive: int = 1
    min_days_off: int = 2
    weekend_share: float = 0.5  # at most this share of the weekends
    # hours below/above the contracted hours over the horizon that are allowed. Where the contracts exceed what
    # cover needs (the demo's wards), every hour worked is a person above cover at a price, so the cheapest roster
    # works most people near the least: 1-8 h under contract on the demo (validate.hours_table shows it)
    hours_slack: float = 8.0
    cover_under_weight: int = 100
    # per person above cover on an 8-hour shift, longer shifts in proportion (a 10.5 h night: 7), and the
    # step: each further extra person on the same shift and role costs that much more than the one before
    # (1st 5, 2nd 10, 3rd 15, then 20 each: Cover.over_rises). Priced per person alone, surplus hours went where
    # a person absorbs most of them, nights: on the demo's M3 nights were staffed 4 to 12 against 4 while Earlies
    # and Lates stood at cover
    cover_over_weight: int = 5
    cover_over_step: int = 5
    charge_per_shift: int = 1  # a nurse in charge on every shift
    charge_hard: bool = False  # True: a shift without one makes the roster infeasible; False: costs charge_weight
    charge_weight: int = 200
    history_days: int = 28  # census days used to estimate demand per weekday and shift
    # the season carried into the roster: each day's cover scaled by how the census moved from the history's
    # window to that date in earlier years (winter pressure: M5's census rose 5-7 % from November to January)
    seasonal: bool = True
    extra: Mapping[str, object] = field(default_factory=dict)


def _minute(t) -> int:
    if isinstance(t, str):
        h, m = t.split(":")[:2]
        return int(h) * 60 + int(m)
    return t.hour * 60 + t.minute


def forbidden_successions(shifts: list[tuple[str, int, int]], rest_hours: float) -> dict[str, tuple[str, ...]]:
    """{shift: shifts that may not follow it the next day} from (id, start minute, minutes) and the rest rule."""
    out = {}
    for s, start, dur in shifts:
        end = start + dur
        out[s] = tuple(t for t, tstart, _ in shifts if 24 * 60 + tstart - end < rest_hours * 60)
    return out


def unit_census(ws, unit_id: str) -> pd.DataFrame:
    """The unit's hourly census, ``ds, census``: read once for both the weekday profile and the season (each
    read of the census view sweeps every unit, 0.3 s on the 3-year demo)."""
    return ws.df("SELECT ds, census FROM census_hourly WHERE unit_id = ?", [unit_id])


def expected_census(census: pd.DataFrame, unit_id: str, shifts: Iterable[ShiftType],
                    history_days: int) -> dict[tuple[int, str], float]:
    """Mean census per (weekday 0=Mon, shift) over the unit's last ``history_days`` days of ``census``
    (:func:`unit_census`)."""
    if census.empty:
        raise HospOpsError(f"Unit {unit_id} has no census to derive cover from.",
                           "Import stays and movements for it, or type the cover in.")
    ds = pd.to_datetime(census["ds"])
    recent = census[ds >= ds.max() - pd.Timedelta(days=int(history_days))]
    when = pd.to_datetime(recent["ds"])
    means = recent["census"].astype(float).groupby([when.dt.day_of_week, when.dt.hour]).mean()
    by = {(int(wd), int(h)): float(v) for (wd, h), v in means.items()}
    mean = sum(by.values()) / len(by)
    out = {}
    for s in shifts:
        for wd in range(7):
            vals = []
            for k in range(0, s.minutes, 60):
                m = (s.start_minute or 0) + k
                vals.append(by.get(((wd + m // 1440) % 7, (m % 1440) // 60), mean))
            out[(wd, s.id)] = sum(vals) / len(vals)
    return out


#: a day's seasonal factor is held within these: a year with an outbreak or a ward closure is not the next one
SEASON_LIMITS = (0.8, 1.25)
SEASON_HALF_WIDTH = 7  # days either side of the same date in an earlier year


def seasonal_factors(census: pd.DataFrame, start: date, days: int, history_days: int) -> list[float]:
    """Per roster day, the census on that date in earlier years relative to the census over the history's
    window (the last ``history_days`` days of data) in the same earlier years: the forecast of how demand
    moves from now to then. Each year steps back 364 days (whole weeks), each date's census is the mean of the
    15 days around it, and the years are averaged; 1.0 where no earlier year covers both (under a year of data).
    ``census``: the unit's hourly census (:func:`unit_census`).
    """
    if census.empty:
        return [1.0] * days
    daily = census["census"].astype(float).groupby(pd.to_datetime(census["ds"]).dt.normalize()).mean().sort_index()
    daily = daily.reindex(pd.date_range(daily.index.min(), daily.index.max()))
    end = daily.index.max()
    # each date's census: the mean of the 15 days around it (at least 7 of them recorded)
    near = daily.rolling(2 * SEASON_HALF_WIDTH + 1, center=True, min_periods=SEASON_HALF_WIDTH).mean()
    lo, hi = SEASON_LIMITS
    years = []
    for k in range(1, 6):
        back = pd.Timedelta(days=364 * k)
        ref = daily[end - back - pd.Timedelta(days=history_days - 1):end - back]
        if ref.notna().sum() >= history_days // 2 and ref.mean() > 0:
            years.append((back, float(ref.mean())))
    out = []
    for d in range(days):
        when = pd.Timestamp(start + timedelta(days=d))
        ratios = [near[when - back] / ref for back, ref in years
                  if when - back in near.index and pd.notna(near[when - back])]
        out.append(float(min(max(sum(ratios) / len(ratios), lo), hi)) if ratios else 1.0)
    return out


def problem_from_workspace(ws, unit_id: str, start: date, days: int,
                           ratios: Optional[Mapping[str, Mapping[str, float]]] = None,
                           locks: Iterable[Lock] = (), previous: Optional[RosterSolution] = None,
                           rules: WardRules = WardRules(), shifts: Optional[Iterable[str]] = None,
                           cover: Optional[Iterable[Cover]] = None,
                           needs: Optional[Mapping[tuple[int, str], Mapping[Optional[str], int]]] = None,
                           ) -> RosterProblem:
    """The roster problem for ``unit_id`` over ``days`` days from ``start``.

    ``ratios`` {role: {"day": patients per person, "night": ...}} turn the expected census into cover;
    ``needs`` {(day, shift): {skill or None (anyone): people}} is cover typed in instead (:func:`read_cover_csv`),
    priced and with its nurse in charge as the derived one; a day and shift it leaves out needs nobody (and
    people rostered there are priced as a surplus).
    ``cover`` replaces the whole cover with the given rows. ``shifts`` limits the shift types used (default:
    all but long days, which count towards Early and Late cover when included). ``previous`` is kept as a
    solution hint by :func:`solve` callers (returned problems do not store it).

    Long days are left out by default because cover is per shift, not per hour: a long day (07:00-19:30 on
    the demo) would have to count as both an Early and a Late and would leave the Late's last hours (to 21:30)
    uncovered, and the workspace does not say which units work them. The problem's ``left_out`` says so in
    words, for a lock or request that names one.
    """
    if days < 1 or days > 366:
        raise HospOpsError("A roster covers 1 to 366 days.")
    ratios = ratios or DEFAULT_RATIOS
    staff = ws.df("SELECT * FROM staff WHERE unit_id = ? ORDER BY staff_id", [unit_id])
    if staff.empty:
        known = [r[0] for r in ws.sql("SELECT DISTINCT unit_id FROM staff ORDER BY 1")]
        raise HospOpsError(f"No staff belong to unit {unit_id!r}.",
                           f"Units with staff: {', '.join(map(str, known)) or 'none'}.")
    st = ws.df("SELECT * FROM shift_types ORDER BY start_time, shift_id")
    if st.empty:
        raise HospOpsError("The workspace has no shift types.")
    wanted = set(shifts) if shifts else {r.shift_id for r in st.itertuples() if r.shift_id != "LD"}
    rows = [(r.shift_id, _minute(r.start_time), int(round(float(r.duration_h) * 60)), bool(r.is_night), r.name)
            for r in st.itertuples() if r.shift_id in wanted]
    if not rows:
        raise HospOpsError(f"None of the shift types {sorted(wanted)} exist in the workspace.")
    left_out = _left_out(st, wanted, [r[0] for r in rows])
    forbid = forbidden_successions([(a, b, c) for a, b, c, _, _ in rows], rules.rest_hours)
    shift_types = tuple(ShiftType(sid, dur, forbid[sid], name or sid, start_m, night)
                        for sid, start_m, dur, night, name in rows)
    nights = [s.id for s in shift_types if s.is_night]
    n_weekends = len(RosterProblem(days, shift_types, (Employee("x"),), start=start).weekends)
    ids = set(staff["staff_id"])
    end = start + timedelta(days=days - 1)
    req = ws.df("SELECT * FROM requests WHERE request_date BETWEEN ? AND ? ORDER BY request_date, request_id",
                [start, end])
    days_off: dict[str, set[int]] = {}
    requests = []
    sids = {s.id for s in shift_types}
    for r in req.itertuples():
        if r.staff_id not in ids:
            continue
        d = (r.request_date.date() if isinstance(r.request_date, datetime) else r.request_date) - start
        d = d.days if hasattr(d, "days") else int(d)
        weight = 1 if r.weight is None or pd.isna(r.weight) else int(r.weight)  # a missing weight (leave) counts 1
        if r.kind == "leave":
            days_off.setdefault(r.staff_id, set()).add(d)
        elif r.kind == "day_off":
            requests.append(Request(r.staff_id, d, None, weight, "off"))
        elif r.kind in ("shift_on", "shift_off") and r.shift_id in sids:
            requests.append(Request(r.staff_id, d, r.shift_id, weight, "on" if r.kind == "shift_on" else "off"))
    employees = []
    for r in staff.itertuples():
        # leave is credited as time worked, a fifth of the weekly hours for each weekday on leave (as NHS annual
        # leave is; a weekend day off is a day off, not leave taken). Shrinking the horizon in proportion instead
        # (hours x days not on leave / 7) asked 48 h in the 9 days after a Monday-Friday leave in a fortnight,
        # which one weekend in two and two days off in a row made infeasible
        weekly = float(r.contract_hours or 0) * 60
        weekdays_off = sum(1 for d in days_off.get(r.staff_id, ()) if (start + timedelta(days=d)).weekday() < 5)
        per_horizon = max(0.0, weekly * days / 7 - weekly / 5 * weekdays_off)
        skills = {x.strip() for x in str(r.skills or "").split(",") if x.strip()} | {str(r.role)}
        caps = {n: 0 for n in nights} if r.nights_ok is False else {}
        in_a_row = {} if caps else {n: rules.max_consecutive_nights for n in nights}
        employees.append(Employee(
            r.staff_id, caps, int(per_horizon + rules.hours_slack * 60), int(max(per_horizon - rules.hours_slack * 60, 0)),
            rules.max_consecutive, rules.min_consecutive, rules.min_days_off,
            max(1, math.ceil(n_weekends * rules.weekend_share)), frozenset(skills),
            str(r.display_name or r.staff_id), str(r.role or ""), in_a_row, contract_minutes=int(round(per_horizon)),
        ))
    if needs is not None:
        unknown = sorted({s for _, s in needs} - sids)
        if unknown:
            raise HospOpsError(f"The cover names shift(s) {', '.join(unknown)}, not rostered here "
                               f"({', '.join(sorted(sids))}).")
        held = set().union(*(e.skills for e in employees))
        strange = sorted({k for w in needs.values() for k in w if k is not None} - held)
        if strange:
            raise HospOpsError(f"No one on {unit_id} has {', '.join(map(repr, strange))}.",
                               f"Roles and skills here: {', '.join(sorted(held))}.")
    if ratios is not DEFAULT_RATIOS:  # (a role of the defaults' a ward lacks is asked for as any ward does)
        roles = set(staff["role"].astype(str))
        missing = sorted(set(ratios) - roles - set(DEFAULT_RATIOS))
        if missing:
            raise HospOpsError(f"No one on {unit_id} has the role {', '.join(missing)} that a ratio is given for.",
                               f"Roles here: {', '.join(sorted(roles))}.")
    if cover is None:
        census = None if needs is not None else unit_census(ws, unit_id)
        expected = None if census is None else expected_census(census, unit_id, shift_types, rules.history_days)
        season = (seasonal_factors(census, start, days, rules.history_days) if expected and rules.seasonal
                  else [1.0] * days)
        cov = []
        first = start.weekday()
        has_ld = "LD" in sids
        for d in range(days):
            wd = (first + d) % 7
            for s in shift_types:
                if s.id == "LD":
                    continue
                if needs is not None:
                    # typed in: a shift the file leaves out needs nobody, and anyone rostered there is a surplus
                    want = needs.get((d, s.id)) or {None: 0}
                else:
                    census = expected[(wd, s.id)] * season[d]
                    want = {role: max(1, math.ceil(census / r["night" if s.is_night else "day"] - 1e-9))
                            for role, r in ratios.items()}
                also = ("LD",) if has_ld and not s.is_night else ()
                # an extra person's price per 8 hours of their shift: a night's is no cheaper per hour
                over, step = (max(1, round(w * s.minutes / 480)) if w else 0
                              for w in (rules.cover_over_weight, rules.cover_over_step))
                for role, need in want.items():
                    cov.append(Cover(d, s.id, need, rules.cover_under_weight, over, role, 0, also, over_step=step))
                if rules.charge_per_shift and any(want.values()) and "charge" not in want:  # (typed in: theirs)
                    cov.append(Cover(d, s.id, rules.charge_per_shift, rules.charge_weight, 0, "charge",
                                     rules.charge_per_shift if rules.charge_hard else 0, also))
        cover = cov
    unit_name = ws.sql("SELECT name FROM units WHERE unit_id = ?", [unit_id])
    return RosterProblem(days, shift_types, tuple(employees), {k: frozenset(v) for k, v in days_off.items()},
                         tuple(requests), tuple(cover), tuple(locks), start=start,
                         name=f"{unit_id} {start.isoformat()} +{days}d", unit=unit_name[0][0] if unit_name else unit_id,
                         fair_nights_weight=rules.fair_nights_weight, fair_weekends_weight=rules.fair_weekends_weight,
                         night_share_weight=rules.night_share_weight, night_share_tolerance=rules.night_share_tolerance,
                         left_out=left_out, timezone=ws.timezone if getattr(ws, "timezone", None) else None,
                         holidays=_bank_holidays(ws, start, days), fair_holidays_weight=rules.fair_holidays_weight)


#: patients per member of staff that a ratio may give (below: more than two people per patient)
RATIO_LIMITS = (0.5, 100.0)
#: the most people one shift and skill may need in a typed-in cover (a need of 1e9 built a model out of memory)
MAX_NEED = 500


def parse_ratio(text: str) -> tuple[str, dict[str, float]]:
    """``ROLE:DAY[/NIGHT]`` (patients per person by day and by night, e.g. ``RN:8/10``; one figure for both)."""
    role, _, figures = text.partition(":")
    parts = figures.split("/")
    try:
        values = [float(v) for v in parts]
    except ValueError:
        values = []
    if not role.strip() or len(values) not in (1, 2) or min(values, default=0) <= 0:
        raise HospOpsError(f"--ratio {text}: expected ROLE:DAY/NIGHT, patients per person by day and by night, "
                           "e.g. RN:8/10 (or RN:8 for both).")
    lo, hi = RATIO_LIMITS
    if not all(lo <= v <= hi for v in values):  # (nan and inf too: RN:0.01 asked for 732 nurses a shift)
        raise HospOpsError(f"--ratio {text}: patients per person from {lo:g} (two nurses to a patient) to {hi:g}.")
    return role.strip(), {"day": values[0], "night": values[-1]}


def read_cover_csv(path, start: date, days: int) -> dict[tuple[int, str], dict[Optional[str], int]]:
    """Cover typed in, from a CSV of ``date,shift,need`` rows and an optional ``skill`` column (empty: anyone;
    else a role such as RN, or a skill such as charge): {(day index, shift): {skill: people}}. A date may be a
    day number from 0. Rows outside the roster's days are left out (one file may cover a quarter); a
    malformed row is refused naming its line. Excel's byte-order mark and semicolons are read."""
    import csv
    import io

    from .problem import csv_delimiter, read_text

    text = read_text(path, "cover file", "cover CSV")
    head = text.split("\n", 1)[0]
    reader = csv.DictReader(io.StringIO(text), delimiter=csv_delimiter(head.rstrip("\r")))
    reader.fieldnames = [f.strip().lower() for f in reader.fieldnames or []]
    if not {"date", "shift", "need"} <= set(reader.fieldnames):
        raise HospOpsError(f"{path}: expected the columns date,shift,need (and skill, optional); its first line is "
                           f"{head.strip()!r}.")
    out: dict[tuple[int, str], dict[Optional[str], int]] = {}
    seen: dict = {}
    for no, row in enumerate(reader, start=2):
        when, shift = (row.get("date") or "").strip(), (row.get("shift") or "").strip()
        skill = (row.get("skill") or row.get("role") or "").strip() or None
        if not when and not shift:
            continue
        text = (row.get("need") or "").strip()
        try:
            d = int(when) if when.isdigit() else (date.fromisoformat(when) - start).days
            need = int(text)  # a whole number: 2.7 had become 2, a shift short unsaid
        except ValueError:
            raise HospOpsError(f"{path}, line {no}: expected a date (YYYY-MM-DD) or day number and a whole number of "
                               f"people, got {when!r} and {text!r}.") from None
        if not 0 <= need <= MAX_NEED or not shift:
            raise HospOpsError(f"{path}, line {no}: a shift and a need of 0 to {MAX_NEED} people are needed "
                               f"(got {shift!r} and {need}).")
        if not 0 <= d < days:
            continue
        key = (d, shift, skill)
        if key in seen:
            raise HospOpsError(f"{path}, line {no}: {when} {shift} {skill or 'anyone'} already has its need on line "
                               f"{seen[key]}.")
        seen[key] = no
        out.setdefault((d, shift), {})[skill] = need
    if not out:
        raise HospOpsError(f"{path} has no row within the roster ({start.isoformat()} and the {days - 1} days after).")
    return out


def _bank_holidays(ws, start: date, days: int) -> dict[int, str]:
    """{day index: name} of the workspace's country's public holidays in the roster (none without a country)."""
    country = (ws.settings().get("country") or "").strip().upper()
    if not country:
        return {}
    import holidays

    end = start + timedelta(days=days - 1)
    try:
        cal = holidays.country_holidays(country, years=range(start.year, end.year + 1))
    except (KeyError, NotImplementedError):
        return {}  # (a country the calendar does not know: the roster goes on without its holidays)
    return {(d - start).days: str(name) for d, name in cal.items() if start <= d <= end}


def _left_out(st: pd.DataFrame, wanted: set, used: list[str]) -> dict[str, str]:
    """{shift id: why this roster leaves it out, in words} for the workspace's shift types it does not use."""
    out = {}
    names = {r.shift_id: str(r.name or r.shift_id) for r in st.itertuples()}
    span = {r.shift_id: (_minute(r.start_time), _minute(r.start_time) + int(round(float(r.duration_h) * 60)))
            for r in st.itertuples()}
    for sid in names:
        if sid in used:
            continue
        said = f"{sid} ({names[sid]}) is not used on this unit's rosters"
        if sid not in wanted and sid == "LD":
            a, b = span[sid]
            late = [t for t in used if span[t][0] < b < span[t][1]]  # a shift the long day ends inside
            gap = f", and would leave the {names[late[0]]}'s last {(span[late[0]][1] - b) / 60:g} h uncovered" \
                if late else ""
            said += (f": they are built from {_and([names[t] for t in used])} shifts with cover per shift, where a "
                     f"long day ({_hhmm(a)}-{_hhmm(b)}) would have to count as both an Early and a Late{gap}.")
        else:
            said += f" (its shifts: {', '.join(used)})."
        out[sid] = said
    return out


def _and(words: list[str]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def _hhmm(m: int) -> str:
    return f"{m // 60 % 24:02d}:{m % 60:02d}"
