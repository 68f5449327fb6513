"""Why a roster cannot exist, in words a scheduler understands.

Two steps: :func:`precheck` counts (people available per shift after leave, hours a contract can reach)
and names the shortfall directly; when the counts pass but the solver still proves the hard rules
incompatible, :func:`explain_infeasible` posts every hard rule behind an assumption literal and asks CP-SAT
for a sufficient set of assumptions, then shrinks it by deletion while time allows.
"""
from __future__ import annotations

import time

from ortools.sat.python import cp_model

from optimization.cpsat import cp_solver

from .model import build_model
from .problem import RosterProblem


def _names(ids: list[str], limit: int = 6) -> str:
    if len(ids) <= limit:
        return ", ".join(ids)
    return ", ".join(ids[:limit]) + f" and {len(ids) - limit} more"


def precheck(problem: RosterProblem) -> list[str]:
    """Counting bounds that must hold for any roster; each failure in words (empty list: none found)."""
    p = problem
    out: list[str] = []
    where = f"{p.unit}, " if p.unit else ""
    locks = {(lk.employee, lk.day): lk.shift for lk in p.locks}
    emp_by_id = {e.id: e for e in p.employees}
    # locks that cannot hold
    for lk in p.locks:
        emp = emp_by_id[lk.employee]
        if lk.shift is not None and not p.allowed(emp, lk.day, lk.shift):
            why = "is on leave" if lk.day in p.days_off.get(emp.id, ()) else f"may not work {lk.shift} shifts"
            out.append(f"{where}{emp.label} is locked to {lk.shift} on {p.day_label(lk.day)} but {why}.")
    # two locks of one person on following days that the rest rules forbid (N then E): said at once, where the
    # solver's explanation took 6.5 s on a ward to say the same
    forbid = {sh.id: set(sh.forbidden_next) for sh in p.shifts}
    for (eid, d), sid in sorted(locks.items()):
        nxt = locks.get((eid, d + 1))
        if sid is not None and nxt is not None and nxt in forbid.get(sid, ()):
            out.append(f"{where}{emp_by_id[eid].label} is locked to {sid} on {p.day_label(d)} and to {nxt} on "
                       f"{p.day_label(d + 1)}, but {nxt} may not follow {sid} (the rest between shifts).")
    # cover minimums: people who could work that shift at all
    for c in p.cover:
        if c.hard_min <= 0:
            continue
        skilled = [e for e in p.employees if c.skill is None or c.skill in e.skills]
        able = [e for e in skilled if any(p.allowed(e, c.day, sid) for sid in c.counted)
                and locks.get((e.id, c.day), c.shift) in c.counted]
        if len(able) < c.hard_min:
            away = [e.label for e in skilled if c.day in p.days_off.get(e.id, ())]
            locked = [e.label for e in skilled if (e.id, c.day) in locks and locks[(e.id, c.day)] not in c.counted]
            why = []
            if away:
                why.append(f"leave of {_names(away)}")
            if locked:
                why.append(f"locks of {_names(locked)}")
            who = f"{c.skill} staff" if c.skill else "staff"
            out.append(f"{where}{p.day_label(c.day)} {c.shift}: {c.hard_min} {who} needed, {len(able)} available"
                       + (f" after {' and '.join(why)}" if why else "") + ".")
    # capacity per skill: shifts the skilled people can work at most vs the shifts that need one of them
    need: dict[str, int] = {}
    for c in p.cover:
        if c.hard_min > 0:
            need[c.skill or ""] = need.get(c.skill or "", 0) + c.hard_min
    shortest = min(s.minutes for s in p.shifts)
    for skill, n in need.items():
        skilled = [e for e in p.employees if not skill or skill in e.skills]
        cap, limits = 0, []
        for e in skilled:
            free_days = p.days - len(p.days_off.get(e.id, ()))
            runs = -(-p.days // (e.max_consecutive + 1)) if e.max_consecutive < p.days else 0
            c = min(free_days, p.days - runs, e.max_minutes // shortest)
            cap += c
        if cap < n:
            who = f"{skill} staff" if skill else "staff"
            out.append(f"{where}{n} shifts over {p.days} days need {who}, but the {len(skilled)} {who} "
                       f"({_names([e.label for e in skilled])}) can work at most {cap} shifts within their "
                       f"contracted hours, leave and days-in-a-row limits.")
    # contracts that cannot reach their minimum hours
    for emp in p.employees:
        if emp.min_minutes <= 0:
            continue
        free_days = [d for d in range(p.days) if d not in p.days_off.get(emp.id, ())]
        per_shift = sorted(((s.minutes, emp.max_shifts.get(s.id, p.days)) for s in p.shifts), reverse=True)
        cap_days = min(len(free_days), emp.max_consecutive * p.days)
        reach, left = 0, cap_days
        for minutes, cap in per_shift:  # longest shifts first, each up to its cap
            take = min(cap, left)
            reach += take * minutes
            left -= take
        if reach < emp.min_minutes:
            off = p.days - len(free_days)
            out.append(f"{where}{emp.label} must work at least {emp.min_minutes / 60:g} hours but can reach at most "
                       f"{reach / 60:g} hours" + (f" with {off} days of leave" if off else "") + ".")
    return out


def cover_shortfalls(problem: RosterProblem) -> list[str]:
    """Shifts that will be short whatever the roster, in words: for each skill (and for all staff), the hours of
    the shifts that ask for it against the most hours its people can work within their contracts and leave.

    A counting bound, per skill on its own (one person may count for several skills), so it can only under-state
    the shortfall. Soft cover too: the solver then reports a feasible roster with short shifts, and this says
    why before anyone blames the solver.
    """
    p = problem
    where = f"{p.unit}: " if p.unit else ""
    minutes = {s.id: s.minutes for s in p.shifts}
    need: dict[str, list[int]] = {}  # skill -> minutes of each required person-shift
    for c in p.cover:
        n = max(c.requirement, c.hard_min)
        if n > 0:
            need.setdefault(c.skill or "", []).extend([minutes[c.shift]] * n)
    out = []
    for skill, shifts in sorted(need.items()):
        skilled = [e for e in p.employees if not skill or skill in e.skills]
        longest = max(minutes.values())
        cap = sum(min(e.max_minutes, (p.days - len(p.days_off.get(e.id, ()))) * longest) for e in skilled)
        total = sum(shifts)
        if cap >= total:
            continue
        short = -(-(total - cap) // max(1, round(total / len(shifts))))
        who = f"{skill} staff" if skill else "staff"
        out.append(f"{where}{len(shifts):,} shifts over {p.days} days ask for {who} ({total / 60:,.0f} hours), but the "
                   f"{len(skilled)} {who} can work at most {cap / 60:,.0f} hours within their contracts and leave: "
                   f"about {short:,} shift(s) will be short whatever the roster.")
    for skill, n, cap in weekend_cover(p):
        if n > cap:
            out.append(f"{where}weekend shifts ask for {n:,} {_weekend_words(skill)}, but the weekend rule lets them "
                       f"work at most {cap:,}: about {n - cap:,} weekend shift(s) will be short whatever the roster.")
    return out + daily_shortfalls(p)


#: weekend cover asking for this share or more of the weekend shifts the weekend rule allows is named as tight
WEEKEND_TIGHT = 0.85


def weekend_cover(problem: RosterProblem) -> list[tuple[str, int, int]]:
    """For each skill asked for on weekend days (and for all staff): ``(skill, weekend person-shifts cover asks
    for, the most its people can work)``. The most: at one shift a day, each person's ``max_weekends`` weekends
    with the fewest days of leave, so the hard weekend rule (at most one weekend in two on the workspace's
    wards) is what bounds it; '' is everybody. Only where someone has a weekend cap."""
    p = problem
    if all(e.max_weekends >= 10**6 for e in p.employees):
        return []
    weekend = {d for b in p.weekend_blocks((5, 6)) for d in b}
    need: dict[str, int] = {}
    for c in p.cover:
        if c.day in weekend:
            need[c.skill or ""] = need.get(c.skill or "", 0) + max(c.requirement, c.hard_min)
    out = []
    for skill, n in sorted(need.items()):
        cap = 0
        for e in p.employees:
            if skill and skill not in e.skills:
                continue
            off = p.days_off.get(e.id, ())
            free = sorted((sum(1 for d in b if d not in off) for b in p.weekend_blocks(e.weekend_days)), reverse=True)
            cap += sum(free[:min(e.max_weekends, len(free))])
        if n:
            out.append((skill, n, cap))
    return out


def _weekend_words(skill: str) -> str:
    return f"{skill} staff" if skill else "staff"


def weekend_tight(problem: RosterProblem) -> list[str]:
    """Weekend cover close to what the weekend rule allows (WEEKEND_TIGHT or more, and no more than it: beyond
    is :func:`cover_shortfalls`'), in one sentence (or none). On the demo's cardiology ward 30 of 31 people
    worked their three weekends in six, every short shift was a weekend's, and the advice given was about hours
    over cover."""
    tight = [(skill, n, cap) for skill, n, cap in weekend_cover(problem) if cap and WEEKEND_TIGHT <= n / cap <= 1]
    if not tight:
        return []
    where = f"{problem.unit}: " if problem.unit else ""
    parts = [f"{'all' if n == cap else f'{n:,} of the'} {cap:,} weekend shifts its {_weekend_words(skill)} may work "
             f"({n / cap:.0%})"
             for skill, n, cap in tight]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return [f"{where}weekend cover asks for {listed} under the weekend rule: with so little room, weekend gaps are "
            "hard to fill, and weekday staff above cover cannot move there."]


def daily_shortfalls(problem: RosterProblem, most: int = 12) -> list[str]:
    """Days on which a skill's shifts ask for more people than are there, in words: each person works one shift
    a day at most, and leave takes people away. The hours over the whole roster (:func:`cover_shortfalls`) hid
    a day when every nurse in charge was on leave, and a week when 9 of 13 support workers were; the note then
    said a longer search might fill those shifts. Days in a row with the same shortfall are one line."""
    p = problem
    where = f"{p.unit}: " if p.unit else ""
    need: dict[tuple[str, int], int] = {}
    for c in p.cover:
        n = max(c.requirement, c.hard_min)
        if n > 0:
            need[(c.skill or "", c.day)] = need.get((c.skill or "", c.day), 0) + n
    found: dict[tuple, list[int]] = {}  # (skill, asked, there, away) -> days
    for (skill, day), asked in sorted(need.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        skilled = [e for e in p.employees if not skill or skill in e.skills]
        there = [e for e in skilled if any(p.allowed(e, day, s.id) for s in p.shifts)]
        if len(there) >= asked:
            continue
        away = tuple(sorted(e.label for e in skilled if day in p.days_off.get(e.id, ())))
        found.setdefault((skill, asked, len(there), away, len(skilled)), []).append(day)
    out = []
    for (skill, asked, there, away, total), days in found.items():
        runs, start = [], days[0]
        for a, b in zip(days, days[1:] + [None]):
            if b != a + 1:
                runs.append((start, a))
                start = b
        for first, last in runs:
            when = p.day_label(first) if first == last else f"{p.day_label(first)} to {p.day_label(last)}"
            who = f"{skill} staff" if skill else "staff"
            on_leave = f" (on leave: {', '.join(away[:4])}{' and others' if len(away) > 4 else ''})" if away else ""
            each = "each day " if first != last else ""
            out.append(f"{where}{when}: {each}{asked} shift(s) ask for {who}, but only {there} of the {total} can "
                       f"work that day{on_leave}: {asked - there} short whatever the roster.")
    return out[:most] + ([f"{where}and {len(out) - most} more such day(s)."] if len(out) > most else [])


def cover_surplus(problem: RosterProblem) -> str | None:
    """The mirror of :func:`cover_shortfalls`: contracts whose least hours add up to well over the hours cover asks
    for, in words. Every hour over it is a person above cover somewhere, which reads as nonsense without this. Where
    cover prices each further extra person on a shift more (``Cover.over_step``, the workspace's rosters) they are
    spread over shifts and days; at a flat price they pile up where an extra person costs least, often nights
    (longer shifts: fewer extra shifts for the same hours). Cover is counted per role (rows for a skill nobody has
    as a role, a nurse in charge, are within a role's count). None when the contracts fit."""
    p = problem
    minutes = {s.id: s.minutes for s in p.shifts}
    roles = {e.role for e in p.employees if getattr(e, "role", None)}
    need = sum(max(c.requirement, c.hard_min) * minutes[c.shift] for c in p.cover
               if c.skill is None or c.skill in roles)
    least = sum(max(0, e.min_minutes or 0) for e in p.employees)
    if need <= 0 or least <= 1.1 * need:
        return None
    where = f"{p.unit}: " if p.unit else ""
    spread = any(c.over_step for c in p.cover)
    put = ("spread over the shifts and days (each further extra person on a shift costs more)" if spread else
           "put where an extra person costs least (often nights: longer shifts, so fewer of them)")
    return (f"{where}the contracts ask for at least {least / 60:,.0f} hours of work in these {p.days} days, and cover "
            f"asks for about {need / 60:,.0f}: the {(least - need) / 60:,.0f} hours over it are staff above cover, "
            f"{put}. Lower the contracts' least hours for this period, or raise the cover.")


def explain_infeasible(problem: RosterProblem, time_limit_s: float = 10.0) -> list[str]:
    """A small set of hard requirements that cannot all hold, in words (empty when none could be named)."""
    t0 = time.perf_counter()
    rm = build_model(problem, explain=True)
    lits = list(rm._lits.values())
    rm.model.add_assumptions(lits)

    def run(active: list, limit: float):
        m = rm.model.clone()
        m.clear_assumptions()
        m.add_assumptions(active)
        m.clear_objective()
        s = cp_solver(max(limit, 0.05), 1)  # one worker: the core comes from the worker that proves infeasibility
        st = s.solve(m)
        return st, s

    st, s = run(lits, time_limit_s)
    if st != cp_model.INFEASIBLE:
        return []
    core = list(s.sufficient_assumptions_for_infeasibility())
    by_index = {v.index: v for v in lits}
    core_vars = [by_index[i] for i in core if i in by_index]
    # shrink by deletion while time allows
    i = 0
    while i < len(core_vars) and len(core_vars) > 1 and time.perf_counter() - t0 < time_limit_s:
        trial = core_vars[:i] + core_vars[i + 1:]
        st2, _ = run(trial, min(2.0, time_limit_s - (time.perf_counter() - t0)))
        if st2 == cp_model.INFEASIBLE:
            core_vars = trial
        else:
            i += 1
    texts = [rm.assumptions[v.index] for v in core_vars]
    return [f"These requirements cannot all hold: {t}." for t in texts] if texts else []


def stopped_short_note(status: str, short_shifts: int, unavoidable: list[str]) -> str | None:
    """A sentence for a roster the search handed back at its time limit with shifts still short that no
    counting bound (:func:`cover_shortfalls`) calls unavoidable: the scheduler should know a longer search may
    fill them, rather than take the gaps as the ward's. None when there is nothing to say."""
    if status not in ("FEASIBLE", "CANCELLED") or short_shifts <= 0 or unavoidable:
        return None
    return (f"The search stopped {'at its time limit' if status == 'FEASIBLE' else 'when asked'} with "
            f"{short_shifts:,} shift(s) still short, and nothing shows they have to be: a longer search may "
            f"fill them.")
