"""The independent validator: recomputes every rule and the objective from a roster, with no solver.

It shares nothing with the model but the problem dataclasses, so when solver and validator agree on the
objective (tests assert it) both are likely right.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

from .problem import RosterProblem, RosterSolution, incomplete_weekend_cost

HARD_RULES = (
    "unknown_shift", "leave", "lock", "forbidden_succession", "max_shifts", "max_minutes", "min_minutes",
    "max_consecutive", "max_consecutive_shift", "min_consecutive", "min_days_off", "max_weekends", "cover_minimum",
    "cover_maximum",
)
SOFT_RULES = ("shift_on_request", "shift_off_request", "day_on_request", "day_off_request", "alternative_skill",
              "cover_under", "cover_over", "roster_change", "fair_nights",
              "fair_weekends", "fair_holidays", "max_assignments", "min_assignments", "max_consecutive_work", "min_consecutive_work",
              "max_consecutive_off", "min_consecutive_off", "max_consecutive_weekends", "min_consecutive_weekends",
              "complete_weekends", "identical_weekend_shifts", "unwanted_pattern", "night_share")


@dataclass(frozen=True)
class Violation:
    rule: str
    hard: bool
    penalty: int  # 0 for hard violations (they have no price: the roster is not allowed)
    text: str
    employee: Optional[str] = None
    day: Optional[int] = None


@dataclass
class Validation:
    objective: int
    violations: list[Violation] = field(default_factory=list)

    @property
    def hard_violations(self) -> int:
        return sum(1 for v in self.violations if v.hard)

    @property
    def feasible(self) -> bool:
        return self.hard_violations == 0

    def by_rule(self) -> dict[str, int]:
        return dict(Counter(v.rule for v in self.violations))

    def penalty_by_rule(self) -> dict[str, int]:
        out: Counter = Counter()
        for v in self.violations:
            out[v.rule] += v.penalty
        return dict(out)

    def by_person(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for v in self.violations:
            out.setdefault(v.employee or "(ward)", []).append(v.text)
        return out


def _runs(flags: list[bool]) -> list[tuple[int, int, bool]]:
    """(first day, length, value) for each maximal run of equal flags."""
    out, start = [], 0
    for d in range(1, len(flags) + 1):
        if d == len(flags) or flags[d] != flags[start]:
            out.append((start, d - start, flags[start]))
            start = d
    return out


def validate(problem: RosterProblem, solution: RosterSolution | dict) -> Validation:
    """Check ``solution`` (or a bare ``{(employee, day): shift}`` dict) against every rule of ``problem``."""
    p = problem
    a = dict(solution.assignment if isinstance(solution, RosterSolution) else solution)
    V: list[Violation] = []
    minutes = {s.id: s.minutes for s in p.shifts}
    forbid = {s.id: set(s.forbidden_next) for s in p.shifts}
    lab = p.day_label
    emp_ids = {e.id for e in p.employees}

    for (e, d), s in a.items():
        if e not in emp_ids or s not in minutes or not 0 <= d < p.days:
            V.append(Violation("unknown_shift", True, 0, f"{e} on day {d}: unknown person, day or shift {s!r}", e, d))

    for emp in p.employees:
        e = emp.id
        row = [a.get((e, d)) for d in range(p.days)]
        row = [s if s in minutes else None for s in row]
        name = emp.label
        for d in sorted(p.days_off.get(e, ())):
            if row[d] is not None:
                V.append(Violation("leave", True, 0, f"{name} works {row[d]} on {lab(d)} but is on leave", e, d))
        for d in range(p.days - 1):
            if row[d] is not None and row[d + 1] in forbid[row[d]]:
                V.append(Violation("forbidden_succession", True, 0,
                                   f"{name}: {row[d + 1]} on {lab(d + 1)} may not follow {row[d]}", e, d + 1))
        counts = Counter(s for s in row if s is not None)
        for s, cap in emp.max_shifts.items():
            if counts.get(s, 0) > cap:
                V.append(Violation("max_shifts", True, 0, f"{name} works {counts[s]} {s} shifts, at most {cap}", e))
        total = sum(minutes[s] for s in row if s is not None)
        if total > emp.max_minutes:
            V.append(Violation("max_minutes", True, 0, f"{name} works {total} minutes, at most {emp.max_minutes}", e))
        if total < emp.min_minutes:
            V.append(Violation("min_minutes", True, 0, f"{name} works {total} minutes, at least {emp.min_minutes}", e))
        for first, length, working in _runs([s is not None for s in row]):
            inner = first > 0 and first + length < p.days
            if working and length > emp.max_consecutive:
                V.append(Violation("max_consecutive", True, 0,
                                   f"{name} works {length} days in a row from {lab(first)}, at most {emp.max_consecutive}",
                                   e, first))
            if working and inner and length < emp.min_consecutive:
                V.append(Violation("min_consecutive", True, 0,
                                   f"{name} works only {length} day(s) in a row from {lab(first)}, at least {emp.min_consecutive}",
                                   e, first))
            if not working and inner and length < emp.min_days_off:
                V.append(Violation("min_days_off", True, 0,
                                   f"{name} has only {length} day(s) off in a row from {lab(first)}, at least {emp.min_days_off}",
                                   e, first))
        for sid, k in emp.max_consecutive_shift.items():
            for first, length, same in _runs([s == sid for s in row]):
                if same and length > k:
                    V.append(Violation("max_consecutive_shift", True, 0,
                                       f"{name} works {length} {sid} shifts in a row from {lab(first)}, at most {k}",
                                       e, first))
        worked = sum(1 for wk in p.weekends if any(row[d] is not None for d in wk))
        if worked > emp.max_weekends:
            V.append(Violation("max_weekends", True, 0, f"{name} works {worked} weekends, at most {emp.max_weekends}", e))

    for lk in p.locks:
        if a.get((lk.employee, lk.day)) != lk.shift:
            V.append(Violation("lock", True, 0, f"{lk.employee} on {lab(lk.day)} was locked to "
                               f"{lk.shift or 'a day off'} but has {a.get((lk.employee, lk.day)) or 'a day off'}",
                               lk.employee, lk.day))

    for r in p.requests:
        got = a.get((r.employee, r.day))
        if r.kind == "on" and (got is None if r.shift is None else got != r.shift) and r.weight:
            V.append(Violation(r.rule_name, False, r.weight,
                               f"{r.employee} asked for {r.shift or 'a shift'} on {lab(r.day)} (weight {r.weight})",
                               r.employee, r.day))
        if r.kind == "off" and got is not None and (r.shift is None or got == r.shift) and r.weight:
            V.append(Violation(r.rule_name, False, r.weight,
                               f"{r.employee} asked not to work {r.shift or 'at all'} on {lab(r.day)} (weight {r.weight})",
                               r.employee, r.day))

    skills = {e.id: e.skills for e in p.employees}
    by_day: dict[int, list[tuple[str, str]]] = {}  # the roster by day: one pass, not one per cover line
    for (e, d), s in a.items():
        by_day.setdefault(d, []).append((e, s))
    for c in p.cover:
        n = sum(1 for e, s in by_day.get(c.day, ())
                if s in c.counted and e in skills and (c.skill is None or c.skill in skills[e]))
        who = f"{c.shift} on {lab(c.day)}" + (f" ({c.skill})" if c.skill else "")
        if n < c.hard_min:
            V.append(Violation("cover_minimum", True, 0, f"{who}: {n} staffed, at least {c.hard_min} needed", None, c.day))
        if c.hard_max is not None and n > c.hard_max:
            V.append(Violation("cover_maximum", True, 0, f"{who}: {n} staffed, at most {c.hard_max} allowed", None, c.day))
        if n < c.requirement and c.under_weight:
            V.append(Violation("cover_under", False, (c.requirement - n) * c.under_weight,
                               f"{who}: {n} staffed, {c.requirement} wanted", None, c.day))
        extra = n - c.requirement
        if extra > 0 and (c.over_weight or c.over_step):
            # the k-th extra person costs over_weight + min(k - 1, over_rises) * over_step
            cost = sum(c.over_weight + min(k - 1, c.over_rises) * c.over_step for k in range(1, extra + 1))
            if cost:
                V.append(Violation("cover_over", False, cost, f"{who}: {n} staffed, {c.requirement} wanted", None,
                                   c.day))

    if p.published is not None:
        pub = dict(p.published)
        for emp in p.employees:
            for d in range(p.change_from_day, p.days):
                old, new = pub.get((emp.id, d)), a.get((emp.id, d))
                if old != new:
                    V.append(Violation("roster_change", False, p.change_weight,
                                       f"{emp.label} on {lab(d)}: {old or 'off'} → {new or 'off'}", emp.id, d))

    nights = {s.id for s in p.shifts if s.is_night}
    if p.fair_nights_weight and nights:
        counts = {emp.label: sum(1 for d in range(p.days) if a.get((emp.id, d)) in nights) for emp in p.employees
                  if any(p.allowed(emp, d, n) for d in range(p.days) for n in nights)}
        if len(counts) > 1 and max(counts.values()) > min(counts.values()):
            hi, lo = max(counts.values()), min(counts.values())
            V.append(Violation("fair_nights", False, (hi - lo) * p.fair_nights_weight,
                               f"nights range from {lo} ({min(counts, key=counts.get)}) to {hi} ({max(counts, key=counts.get)})"))
    if p.fair_weekends_weight and p.weekends and len(p.employees) > 1:
        counts = {emp.label: sum(1 for wk in p.weekends if any((emp.id, d) in a for d in wk)) for emp in p.employees}
        hi, lo = max(counts.values()), min(counts.values())
        if hi > lo:
            V.append(Violation("fair_weekends", False, (hi - lo) * p.fair_weekends_weight,
                               f"weekends worked range from {lo} ({min(counts, key=counts.get)}) to {hi} ({max(counts, key=counts.get)})"))
    if p.fair_holidays_weight and p.holidays and len(p.employees) > 1:
        counts = {emp.label: sum(1 for d in p.holidays if (emp.id, d) in a) for emp in p.employees}
        hi, lo = max(counts.values()), min(counts.values())
        if hi > lo:
            V.append(Violation("fair_holidays", False, (hi - lo) * p.fair_holidays_weight,
                               f"bank holidays worked range from {lo} ({min(counts, key=counts.get)}) to {hi} "
                               f"({max(counts, key=counts.get)})"))
    if p.night_share_weight and nights:
        V.extend(_night_share(p, a, nights))
    for emp in p.employees:
        if emp.soft:
            V.extend(_soft_contract(p, emp, [a.get((emp.id, d)) for d in range(p.days)]))
    for pt in p.patterns:
        if pt.weight <= 0:
            continue
        L = len(pt.entries)
        for emp in p.employees:
            if emp.id not in pt.employees:
                continue
            row = [a.get((emp.id, d)) for d in range(p.days)]
            for d in range(p.days - L + 1):
                if pt.start_weekday is not None and p.weekday(d) != pt.start_weekday:
                    continue
                if all(pt.matches(row[d + i], ent) for i, ent in enumerate(pt.entries)):
                    V.append(Violation("unwanted_pattern", False, pt.weight,
                                       f"{emp.label}: unwanted pattern {pt.id} from {lab(d)}", emp.id, d))
    return Validation(objective=sum(v.penalty for v in V), violations=V)


def _night_share(p: RosterProblem, a: dict, nights: set) -> list[Violation]:
    """Each night a person works outside their band (their fair share of the nights their role's cover asks
    for, give or take ``night_share_tolerance``: :meth:`RosterProblem.night_share_bands`)."""
    out = []
    for e, (lo, hi, share) in p.night_share_bands().items():
        n = sum(1 for d in range(p.days) if a.get((e, d)) in nights)
        units = max(n - hi, lo - n, 0)
        if units:
            out.append(Violation("night_share", False, units * p.night_share_weight,
                                 f"{p.employee(e).label} works {n} nights, fair share {share:.1f} "
                                 f"(from {lo} to {hi} without a price)", e))
    return out


def hours_table(problem: RosterProblem, solution: RosterSolution | dict):
    """Contracted against rostered hours per person, one row each (a pandas DataFrame): ``employee``, ``name``,
    ``role``, ``contracted_h`` (over the horizon, leave credited; NaN when unknown), ``rostered_h`` (as worked:
    a night across a clock change counts 11.5 or 9.5 hours, where the problem knows its time zone),
    ``difference_h`` (rostered - contracted: below 0 the hours are owed), ``least_h`` / ``most_h`` (the hard
    limits the roster keeps), ``shifts``, ``nights``, ``leave_days``. Workspace contracts allow
    ``WardRules.hours_slack`` below and above the contracted hours, and a roster pays for every extra person,
    so a cheapest roster leaves most people near the least: this table shows by how much."""
    import pandas as pd

    p = problem
    a = dict(solution.assignment if isinstance(solution, RosterSolution) else solution)
    minutes = {s.id: s.minutes for s in p.shifts}
    nights = {s.id for s in p.shifts if s.is_night}
    rows = []
    for emp in p.employees:
        row = [a.get((emp.id, d)) for d in range(p.days)]
        # hours as worked: a night across a clock change counts its 11.5 or 9.5 hours, as pay does
        worked = sum(p.worked_minutes(s, d) if s in minutes else 0 for d, s in enumerate(row) if s is not None)
        owed = emp.contract_minutes
        rows.append({
            "employee": emp.id, "name": emp.label, "role": emp.role,
            "contracted_h": None if owed is None else round(owed / 60, 2), "rostered_h": round(worked / 60, 2),
            "difference_h": None if owed is None else round((worked - owed) / 60, 2),
            "least_h": round(emp.min_minutes / 60, 2),
            "most_h": None if emp.max_minutes >= 10**9 else round(emp.max_minutes / 60, 2),
            "shifts": sum(1 for s in row if s is not None), "nights": sum(1 for s in row if s in nights),
            "leave_days": len(p.days_off.get(emp.id, ())),
        })
    cols = ["employee", "name", "role", "contracted_h", "rostered_h", "difference_h", "least_h", "most_h", "shifts",
            "nights", "leave_days"]
    return pd.DataFrame(rows, columns=cols).astype({"contracted_h": float, "difference_h": float,
                                                     "most_h": float})


def _soft_contract(p: RosterProblem, emp, row: list) -> list[Violation]:
    """The priced contract rules of one person (``Employee.soft``), counted as the INRC-I evaluator does."""
    out: list[Violation] = []
    e, name, lab = emp.id, emp.label, p.day_label
    worked = [s is not None for s in row]
    blocks = p.weekend_blocks(emp.weekend_days)
    wk_worked = [any(worked[d] for d in days) for days in blocks]

    def add(rule, units, weight, text, day=None):
        if units > 0 and weight > 0:
            out.append(Violation(rule, False, units * weight, text, e, day))

    for rule, (v, wt) in emp.soft.items():
        n = sum(worked)
        if rule == "max_assignments":
            add(rule, n - v, wt, f"{name} works {n} shifts, at most {v} wanted")
        elif rule == "min_assignments":
            add(rule, v - n, wt, f"{name} works {n} shifts, at least {v} wanted")
        elif rule in ("max_consecutive_work", "min_consecutive_work", "max_consecutive_off", "min_consecutive_off"):
            want = rule.endswith("work")
            for first, length, value in _runs(worked):
                if value != want:
                    continue
                what = "working days" if want else "days off"
                if rule.startswith("max"):
                    add(rule, length - v, wt, f"{name}: {length} {what} in a row from {lab(first)}, at most {v}", first)
                elif v > 1:
                    add(rule, v - length, wt, f"{name}: {length} {what} in a row from {lab(first)}, at least {v}", first)
        elif rule in ("max_consecutive_weekends", "min_consecutive_weekends") and blocks:
            for first, length, value in _runs(wk_worked):
                if not value:
                    continue
                day = blocks[first][0]
                if rule.startswith("max"):
                    add(rule, length - v, wt, f"{name}: {length} weekends in a row from {lab(day)}, at most {v}", day)
                elif v > 1:
                    add(rule, v - length, wt, f"{name}: {length} weekends in a row from {lab(day)}, at least {v}", day)
        elif rule == "complete_weekends":
            for days in blocks:
                cost = incomplete_weekend_cost(tuple(worked[d] for d in days))
                add(rule, cost, wt, f"{name} works only part of the weekend of {lab(days[0])}", days[0])
        elif rule == "identical_weekend_shifts":
            for days in blocks:
                if all(worked[d] for d in days):
                    kinds = len({row[d] for d in days})
                    add(rule, len(days) * (kinds - 1), wt,
                        f"{name} works different shifts over the weekend of {lab(days[0])}", days[0])
    return out
