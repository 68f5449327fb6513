"""The CP-SAT model, rule by rule: data → variables → hard rules → soft penalties → objective.

``build_model(problem)`` returns a :class:`RosterModel` holding the ``CpModel``, the assignment literals
``x[(employee, day, shift)]`` (only for cells that may hold that shift), the working literals
``w[(employee, day)]`` and the named penalty terms. With ``explain=True`` every hard rule is posted once
per person (or per shift) behind an enforcement literal, so that the solver can name a small set of rules
that cannot hold together (see :mod:`optimization.rostering.explain`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ortools.sat.python import cp_model

from .problem import Pattern, RosterProblem, incomplete_weekend_cost


@dataclass
class Penalty:
    rule: str
    var: cp_model.IntVar
    weight: int
    employee: Optional[str] = None
    day: Optional[int] = None


@dataclass
class RosterModel:
    problem: RosterProblem
    model: cp_model.CpModel
    x: dict[tuple[str, int, str], cp_model.IntVar] = field(default_factory=dict)
    w: dict[tuple[str, int], cp_model.IntVar] = field(default_factory=dict)
    penalties: list[Penalty] = field(default_factory=list)
    explain: bool = False
    assumptions: dict[int, str] = field(default_factory=dict)  # literal index -> the rule in words
    _lits: dict[str, cp_model.IntVar] = field(default_factory=dict)
    _cell: dict[tuple[str, int], list] = field(default_factory=dict)
    _by_emp: dict[str, list] = field(default_factory=dict)
    _by_shift: dict[tuple[int, str], list] = field(default_factory=dict)
    _counts: dict[str, Optional[cp_model.IntVar]] = field(default_factory=dict)  # shared counts, e.g. nights

    def guard(self, key: str, text: str):
        """The enforcement literal of one hard requirement (explain mode), or None."""
        if not self.explain:
            return None
        lit = self._lits.get(key)
        if lit is None:
            lit = self.model.new_bool_var(f"hard[{key}]")
            self._lits[key] = lit
            self.assumptions[lit.index] = text
        return lit

    def post(self, ct, key: str, text: str) -> None:
        lit = self.guard(key, text)
        if lit is not None:
            ct.only_enforce_if(lit)

    def by_employee(self, e: str) -> list[tuple[int, str, cp_model.IntVar]]:
        return self._by_emp.get(e, [])

    def by_shift(self, d: int, s: str) -> list[tuple[str, cp_model.IntVar]]:
        return self._by_shift.get((d, s), [])


def build_model(problem: RosterProblem, explain: bool = False) -> RosterModel:
    p = problem
    m = cp_model.CpModel()
    rm = RosterModel(p, m, explain=explain)
    # --- variables: one literal per person, day and shift the person may work
    for emp in p.employees:
        for d in range(p.days):
            cell = []
            for s in p.shifts:
                if explain or p.allowed(emp, d, s.id):
                    v = m.new_bool_var(f"x[{emp.id},{d},{s.id}]")
                    rm.x[(emp.id, d, s.id)] = v
                    rm._by_emp.setdefault(emp.id, []).append((d, s.id, v))
                    rm._by_shift.setdefault((d, s.id), []).append((emp.id, v))
                    cell.append(v)
            rm._cell[(emp.id, d)] = cell
            wv = m.new_bool_var(f"w[{emp.id},{d}]")
            rm.w[(emp.id, d)] = wv
            # one shift per day at most; w is the "works that day" literal
            m.add(sum(cell) == wv)
    add_leave(rm)
    add_locks(rm)
    add_forbidden_successions(rm)
    add_max_shifts(rm)
    add_minutes(rm)
    add_max_consecutive(rm)
    add_max_consecutive_shift(rm)
    add_min_consecutive(rm)
    add_min_days_off(rm)
    add_max_weekends(rm)
    add_cover(rm)
    add_requests(rm)
    add_changes(rm)
    add_fairness(rm)
    add_night_share(rm)
    add_soft_contract(rm)
    add_patterns(rm)
    m.minimize(sum(pen.weight * pen.var for pen in rm.penalties))
    return rm


# ------------------------------------------------------------------------------------------ hard rules
def add_leave(rm: RosterModel) -> None:
    """Leave and pre-assigned days off: no shift (cells without a variable are off already)."""
    p = rm.problem
    if not rm.explain:
        return
    for emp in p.employees:
        days = sorted(p.days_off.get(emp.id, ()))
        for d in days:
            rm.post(rm.model.add(rm.w[(emp.id, d)] == 0), f"leave:{emp.id}",
                    f"{emp.label} is on leave on {_days(p, days)}")
        for s, cap in emp.max_shifts.items():
            if cap == 0:
                for d in range(p.days):
                    rm.post(rm.model.add(rm.x[(emp.id, d, s)] == 0), f"max_shifts:{emp.id}:{s}",
                            f"{emp.label} may not work {s} shifts")


def add_locks(rm: RosterModel) -> None:
    """Cells the scheduler fixed by hand."""
    p = rm.problem
    for lk in p.locks:
        key, text = f"lock:{lk.employee}:{lk.day}", f"{lk.employee} is locked to {lk.shift or 'a day off'} on {p.day_label(lk.day)}"
        if lk.shift is None:
            rm.post(rm.model.add(rm.w[(lk.employee, lk.day)] == 0), key, text)
        else:
            v = rm.x.get((lk.employee, lk.day, lk.shift))
            if v is None:  # the locked shift is not allowed at all: post an impossible constraint
                rm.post(rm.model.add_bool_or([]), key, text + " (not allowed by leave or contract)")
            else:
                rm.post(rm.model.add(v == 1), key, text)


def add_forbidden_successions(rm: RosterModel) -> None:
    """A shift may not be followed the next day by one of its forbidden successors (e.g. Night → Early).

    Posted as one clique per person, day and group of shifts with the same forbidden successors:
    ``sum(x[d, s] for s in group) + sum(x[d + 1, t] for t in forbidden) <= 1``. With at most one shift a
    day this is exactly the pairwise rule, with far fewer constraints (Curtois Instance23: 1.4 M pairwise
    clauses, 6 s to build) and a stronger LP relaxation.
    """
    p = rm.problem
    groups: dict[tuple[str, ...], list[str]] = {}
    for s in p.shifts:
        if s.forbidden_next:
            groups.setdefault(tuple(sorted(set(s.forbidden_next))), []).append(s.id)
    for emp in p.employees:
        for forbidden, group in groups.items():
            for d in range(p.days - 1):
                a = [rm.x[k] for k in ((emp.id, d, s) for s in group) if k in rm.x]
                b = [rm.x[k] for k in ((emp.id, d + 1, t) for t in forbidden) if k in rm.x]
                if a and b:
                    rm.post(rm.model.add_at_most_one(a + b), f"succession:{emp.id}",
                            f"{emp.label}'s rest rules between shifts")


def add_max_shifts(rm: RosterModel) -> None:
    p = rm.problem
    for emp in p.employees:
        for s, cap in emp.max_shifts.items():
            vs = [v for d, ss, v in rm.by_employee(emp.id) if ss == s]
            if cap < len(vs):
                rm.post(rm.model.add(sum(vs) <= cap), f"max_shifts:{emp.id}:{s}",
                        f"{emp.label} works at most {cap} {s} shifts")


def _minutes_expr(rm: RosterModel, emp):
    p = rm.problem
    minutes = {s.id: s.minutes for s in p.shifts}
    return sum(minutes[s] * v for d, s, v in rm.by_employee(emp.id))


def add_minutes(rm: RosterModel) -> None:
    """Contracted minutes over the horizon: at least the minimum, at most the maximum."""
    p = rm.problem
    longest = max(s.minutes for s in p.shifts)
    for emp in p.employees:
        expr = _minutes_expr(rm, emp)
        if emp.max_minutes < longest * p.days:
            rm.post(rm.model.add(expr <= emp.max_minutes), f"max_minutes:{emp.id}",
                    f"{emp.label} works at most {emp.max_minutes / 60:g} hours")
        if emp.min_minutes > 0:
            rm.post(rm.model.add(expr >= emp.min_minutes), f"min_minutes:{emp.id}",
                    f"{emp.label} works at least {emp.min_minutes / 60:g} hours")


def add_max_consecutive(rm: RosterModel) -> None:
    """No more than ``max_consecutive`` working days in any window of ``max_consecutive + 1`` days."""
    p = rm.problem
    for emp in p.employees:
        k = emp.max_consecutive
        for d in range(p.days - k):
            rm.post(rm.model.add(sum(rm.w[(emp.id, d + i)] for i in range(k + 1)) <= k),
                    f"max_consecutive:{emp.id}", f"{emp.label} works at most {k} days in a row")


def add_max_consecutive_shift(rm: RosterModel) -> None:
    """No more than k of one shift type in a row (e.g. at most 3 nights)."""
    p = rm.problem
    for emp in p.employees:
        for sid, k in emp.max_consecutive_shift.items():
            for d in range(p.days - k):
                vs = [rm.x[(emp.id, d + i, sid)] for i in range(k + 1) if (emp.id, d + i, sid) in rm.x]
                if len(vs) > k:
                    rm.post(rm.model.add(sum(vs) <= k), f"max_consecutive_shift:{emp.id}:{sid}",
                            f"{emp.label} works at most {k} {sid} shifts in a row")


def _forbid_short_runs(rm: RosterModel, emp, k: int, working: bool, key: str, text: str) -> None:
    """Forbid each inner run (bounded by the opposite value on both sides) shorter than ``k`` days."""
    p = rm.problem
    for start in range(1, p.days - 1):
        for length in range(1, k):
            end = start + length  # first day after the run
            if end > p.days - 1:
                break
            lits = [rm.w[(emp.id, start - 1)], rm.w[(emp.id, end)]]
            inner = [rm.w[(emp.id, start + i)] for i in range(length)]
            if working:
                clause = lits + [v.Not() for v in inner]
            else:
                clause = [v.Not() for v in lits] + inner
            rm.post(rm.model.add_bool_or(clause), key, text)


def add_min_consecutive(rm: RosterModel) -> None:
    """A run of working days that starts and ends inside the horizon lasts ``min_consecutive`` days or more."""
    for emp in rm.problem.employees:
        if emp.min_consecutive > 1:
            _forbid_short_runs(rm, emp, emp.min_consecutive, True, f"min_consecutive:{emp.id}",
                               f"{emp.label} works at least {emp.min_consecutive} days in a row")


def add_min_days_off(rm: RosterModel) -> None:
    """A run of days off that starts and ends inside the horizon lasts ``min_days_off`` days or more."""
    for emp in rm.problem.employees:
        if emp.min_days_off > 1:
            _forbid_short_runs(rm, emp, emp.min_days_off, False, f"min_days_off:{emp.id}",
                               f"{emp.label} has at least {emp.min_days_off} days off in a row")


def add_max_weekends(rm: RosterModel) -> None:
    """A weekend counts as worked when any shift falls on its Saturday or Sunday."""
    p = rm.problem
    wks = p.weekends
    for emp in p.employees:
        if emp.max_weekends >= len(wks):
            continue
        flags = []
        for i, days in enumerate(wks):
            f = rm.model.new_bool_var(f"weekend[{emp.id},{i}]")
            ws = [rm.w[(emp.id, d)] for d in days]
            rm.model.add_max_equality(f, ws)
            flags.append(f)
        rm.post(rm.model.add(sum(flags) <= emp.max_weekends), f"max_weekends:{emp.id}",
                f"{emp.label} works at most {emp.max_weekends} weekends")


# ------------------------------------------------------------------------------------------ soft rules
def add_cover(rm: RosterModel) -> None:
    """Cover: missing people cost ``under_weight`` each, extra people ``over_weight`` and ``over_step`` more for
    each further one (see :func:`_rising_cover`); ``hard_min`` must hold."""
    p = rm.problem
    m = rm.model
    skills = {e.id: e.skills for e in p.employees}
    n = len(p.employees)
    for c in p.cover:
        vs = [v for sid in c.counted for e, v in rm.by_shift(c.day, sid) if c.skill is None or c.skill in skills[e]]
        tag = f"{c.shift}@{c.day}" + (f":{c.skill}" if c.skill else "")
        if c.hard_min > 0:
            what = f"{c.hard_min} {c.skill + ' ' if c.skill else ''}staff on {c.shift} on {p.day_label(c.day)}"
            if len(vs) < c.hard_min and not rm.explain:
                m.add_bool_or([])  # cannot hold; pre-checks explain it
            rm.post(m.add(sum(vs) >= c.hard_min), f"cover:{tag}", what)
        if c.hard_max is not None:
            rm.post(m.add(sum(vs) <= c.hard_max), f"cover_max:{tag}",
                    f"at most {c.hard_max} {c.skill + ' ' if c.skill else ''}staff on {c.shift} on {p.day_label(c.day)}")
        if c.over_step:
            _rising_cover(rm, c, vs, tag)
            continue
        under = m.new_int_var(0, c.requirement, f"cover_under[{tag}]")
        over = m.new_int_var(0, n, f"cover_over[{tag}]")
        m.add(sum(vs) + under - over == c.requirement)
        if c.requirement > 0:  # never both short and over: the penalties then equal the true shortfall/excess
            short = m.new_bool_var(f"cover_short[{tag}]")
            m.add(under == 0).only_enforce_if(short.Not())
            m.add(over == 0).only_enforce_if(short)
        else:
            m.add(under == 0)
        if c.under_weight:
            rm.penalties.append(Penalty("cover_under", under, c.under_weight, None, c.day))
        if c.over_weight:
            rm.penalties.append(Penalty("cover_over", over, c.over_weight, None, c.day))


def _rising_cover(rm: RosterModel, c, vs: list, tag: str) -> None:
    """A cover row whose price rises with each extra person (``over_step``): shortfall and excess as sums
    bounded below, exact once minimized (the solver sells a roster at the validator's cost whatever the
    model's bounds stood at), and the excess priced person by person (:func:`_over_cover`). On the demo's M3
    (42 days, 2 workers, 30 s, seeds 0-3) this left 0-2 shifts short where the flat rows' form below (one
    equality, a literal saying which side is 0: every flipped cell moved three variables) with the same
    prices left 6-12, and the first roster came no later. Flat rows (the benchmarks' tuned runs) keep that
    form. Where the requirement or the possible excess is 1, presolve turns a bound into a clause the LP does
    not see (a 5-person test problem took 8-17 s to prove optimal for 0.1 s), so those keep one equality."""
    m = rm.model
    most = len(vs) - c.requirement  # the most people this shift can have above cover
    under = m.new_int_var(0, c.requirement, f"cover_under[{tag}]")
    if most > 0:
        over = _over_cover(rm, c, most, tag)
    else:
        over = m.new_int_var(0, 0, f"cover_over[{tag}]")
    if c.requirement >= 2 and most >= 2:
        m.add(under >= c.requirement - sum(vs))
        m.add(over >= sum(vs) - c.requirement)
    else:
        m.add(sum(vs) + under - over == c.requirement)
    if c.under_weight:
        rm.penalties.append(Penalty("cover_under", under, c.under_weight, None, c.day))


def _over_cover(rm: RosterModel, c, most: int, tag: str):
    """The people above one cover row as a sum priced at a rising rate: one literal for each of the first
    ``over_rises + 1`` extra people (the k-th at ``over_weight + (k - 1) * over_step``) and a count for the rest
    (each at the last rate). Cheaper first, so the cheapest split of any excess fills them in order: exact
    once minimized, all linear. (A variable bounded below by the price's chords, or their maximum, made
    presolve hand the first-solution local search a constraint it moves through slowly: the demo's M3 first
    roster took up to 1.3 s for 0.6.)"""
    m = rm.model
    w, step = c.over_weight, c.over_step
    rises = min(c.over_rises, most - 1)
    parts = []
    for k in range(1, rises + 2):
        t = m.new_bool_var(f"cover_over[{tag},{k}]")
        if parts:
            m.add_implication(t, parts[-1])  # in order: the k-th extra only after the (k-1)-th
        parts.append(t)
        if w + (k - 1) * step:
            rm.penalties.append(Penalty("cover_over", t, w + (k - 1) * step, None, c.day))
    if most > rises + 1:
        rest = m.new_int_var(0, most - rises - 1, f"cover_over[{tag},more]")
        parts.append(rest)
        if w + rises * step:
            rm.penalties.append(Penalty("cover_over", rest, w + rises * step, None, c.day))
    return sum(parts)


def add_requests(rm: RosterModel) -> None:
    """Shift-on requests cost their weight when not granted, shift-off requests when the shift is worked."""
    p = rm.problem
    m = rm.model
    for i, r in enumerate(p.requests):
        if r.weight == 0:
            continue
        if r.kind == "on":
            v = rm.w[(r.employee, r.day)] if r.shift is None else rm.x.get((r.employee, r.day, r.shift))
            miss = m.new_bool_var(f"shift_on_request[{r.employee},{r.day},{r.shift}]")
            if v is None:
                m.add(miss == 1)
            else:
                m.add(miss + v == 1)
            rm.penalties.append(Penalty(r.rule_name, miss, r.weight, r.employee, r.day))
        else:
            v = rm.w[(r.employee, r.day)] if r.shift is None else rm.x.get((r.employee, r.day, r.shift))
            if v is not None:
                rm.penalties.append(Penalty(r.rule_name, v, r.weight, r.employee, r.day))


def add_changes(rm: RosterModel) -> None:
    """Re-rostering: each cell from ``change_from_day`` on that differs from the published roster costs
    ``change_weight``; days before it are kept as published (hard)."""
    p = rm.problem
    if p.published is None:
        return
    m = rm.model
    pub = dict(p.published)
    for emp in p.employees:
        for d in range(p.days):
            old = pub.get((emp.id, d))
            keep = rm.x.get((emp.id, d, old)) if old is not None else rm.w[(emp.id, d)].Not()
            if d < p.change_from_day:
                if keep is None:
                    continue
                rm.post(m.add_bool_or([keep]), f"published:{emp.id}", f"{emp.label}'s published shifts before the change")
                continue
            changed = m.new_bool_var(f"roster_change[{emp.id},{d}]")
            if keep is None:
                m.add(changed == 1)
            else:
                m.add_bool_or([keep, changed])
                m.add_implication(changed, keep.Not())
            rm.penalties.append(Penalty("roster_change", changed, p.change_weight, emp.id, d))


def add_fairness(rm: RosterModel) -> None:
    """Nights, weekends and bank holidays shared evenly: the spread (most - fewest) among the people allowed them
    (bank holidays: among everyone) costs ``fair_nights_weight`` / ``fair_weekends_weight`` /
    ``fair_holidays_weight`` per unit."""
    p = rm.problem
    m = rm.model
    if p.fair_nights_weight and any(s.is_night for s in p.shifts):
        counts = [c for c in (_nights(rm, emp.id) for emp in p.employees) if c is not None]
        _spread(rm, counts, p.days, "nights", p.fair_nights_weight)
    wks = p.weekends
    if p.fair_weekends_weight and wks:
        counts = []
        for emp in p.employees:
            flags = []
            for i, days in enumerate(wks):
                f = m.new_bool_var(f"fair_weekend[{emp.id},{i}]")
                m.add_max_equality(f, [rm.w[(emp.id, d)] for d in days])
                flags.append(f)
            c = m.new_int_var(0, len(wks), f"weekends[{emp.id}]")
            m.add(c == sum(flags))
            counts.append(c)
        _spread(rm, counts, len(wks), "weekends", p.fair_weekends_weight)
    hol = sorted(p.holidays)
    if p.fair_holidays_weight and hol:
        counts = []
        for emp in p.employees:
            c = m.new_int_var(0, len(hol), f"holidays[{emp.id}]")
            m.add(c == sum(rm.w[(emp.id, d)] for d in hol))
            counts.append(c)
        _spread(rm, counts, len(hol), "holidays", p.fair_holidays_weight)


def _spread(rm: RosterModel, counts: list, top: int, what: str, weight: int) -> None:
    """The penalty ``fair_<what>``: ``weight`` per unit of most - fewest among ``counts`` (each 0..``top``);
    nothing to share among fewer than two people."""
    if len(counts) < 2:
        return
    m = rm.model
    hi, lo = m.new_int_var(0, top, f"{what}_max"), m.new_int_var(0, top, f"{what}_min")
    m.add_max_equality(hi, counts)
    m.add_min_equality(lo, counts)
    spread = m.new_int_var(0, top, f"fair_{what}")
    m.add(spread == hi - lo)
    rm.penalties.append(Penalty(f"fair_{what}", spread, weight))


def _nights(rm: RosterModel, e: str) -> Optional[cp_model.IntVar]:
    """The number of nights ``e`` works, made once (fairness and the night share both count them); None when
    they may work none."""
    key = f"nights[{e}]"
    if key not in rm._counts:
        nights = {s.id for s in rm.problem.shifts if s.is_night}
        vs = [v for d, s, v in rm.by_employee(e) if s in nights]
        c = None
        if vs:
            c = rm.model.new_int_var(0, rm.problem.days, key)
            rm.model.add(c == sum(vs))
        rm._counts[key] = c
    return rm._counts[key]


def add_night_share(rm: RosterModel) -> None:
    """Nights shared in proportion to contracts: each night a person works outside the band of
    :meth:`RosterProblem.night_share_bands` costs ``night_share_weight``. The band is fixed by the problem, so
    each person's term is their own: shares of the nights actually worked (every person's term over everybody's
    nights) made the first roster 2-5 times slower on the demo and left 2-4 times as many shifts short at 30 s."""
    p = rm.problem
    if not p.night_share_weight:
        return
    m = rm.model
    for e, (lo, hi, _share) in p.night_share_bands().items():
        n = _nights(rm, e)
        if n is None:
            continue
        # one variable a side, each in one inequality: as the maximum of both (one variable), presolve made it
        # a constraint the first-solution local search moves through slowly
        above = m.new_int_var(0, p.days, f"night_share_above[{e}]")
        m.add(above >= n - hi)
        rm.penalties.append(Penalty("night_share", above, p.night_share_weight, e))
        if lo > 0:
            below = m.new_int_var(0, lo, f"night_share_below[{e}]")
            m.add(below >= lo - n)
            rm.penalties.append(Penalty("night_share", below, p.night_share_weight, e))


def _soft_max_run(m, lits, v: int, name: str) -> list[tuple[cp_model.IntVar, int, int]]:
    """Each window of ``v + 1`` true literals in a row costs 1: a run of length L > v then costs L - v.
    Returns (penalty literal, multiplier, index of the window's first literal)."""
    out = []
    for i in range(len(lits) - v):
        b = m.new_bool_var(f"{name}[{i}]")
        m.add_bool_or([lit.Not() for lit in lits[i:i + v + 1]] + [b])
        out.append((b, 1, i))
    return out


def _soft_min_run(m, lits, v: int, name: str) -> list[tuple[cp_model.IntVar, int, int]]:
    """Each maximal run of true literals shorter than ``v`` (runs at either end included) costs v - length."""
    out = []
    n = len(lits)
    for s in range(n):
        for length in range(1, v):
            e = s + length
            if e > n:
                break
            b = m.new_bool_var(f"{name}[{s},{length}]")
            clause = [lit.Not() for lit in lits[s:e]] + [b]
            if s > 0:
                clause.append(lits[s - 1])
            if e < n:
                clause.append(lits[e])
            m.add_bool_or(clause)
            out.append((b, v - length, s))
    return out


def add_soft_contract(rm: RosterModel) -> None:
    """Contract rules that may be broken at a price (``Employee.soft``; INRC-I contracts): shifts over the
    horizon, working days / days off / worked weekends in a row (runs at the horizon's ends count), complete
    weekends, identical shifts on a fully worked weekend."""
    p = rm.problem
    m = rm.model
    for emp in p.employees:
        if not emp.soft:
            continue
        e = emp.id
        W = [rm.w[(e, d)] for d in range(p.days)]
        off = [w.Not() for w in W]
        blocks = p.weekend_blocks(emp.weekend_days)

        def pen(rule: str, terms, weight: int, days=None) -> None:
            for var, mult, i in terms:
                rm.penalties.append(Penalty(rule, var, weight * mult, e, days[i] if days else i))

        for rule, (v, wt) in emp.soft.items():
            if wt <= 0:
                continue
            if rule == "max_assignments" and v < p.days:
                ex = m.new_int_var(0, p.days - v, f"max_assignments[{e}]")
                m.add(sum(W) - v <= ex)
                rm.penalties.append(Penalty(rule, ex, wt, e))
            elif rule == "min_assignments" and v > 0:
                de = m.new_int_var(0, v, f"min_assignments[{e}]")
                m.add(v - sum(W) <= de)
                rm.penalties.append(Penalty(rule, de, wt, e))
            elif rule == "max_consecutive_work":
                pen(rule, _soft_max_run(m, W, v, f"{rule}[{e}]"), wt)
            elif rule == "min_consecutive_work" and v > 1:
                pen(rule, _soft_min_run(m, W, v, f"{rule}[{e}]"), wt)
            elif rule == "max_consecutive_off":
                pen(rule, _soft_max_run(m, off, v, f"{rule}[{e}]"), wt)
            elif rule == "min_consecutive_off" and v > 1:
                pen(rule, _soft_min_run(m, off, v, f"{rule}[{e}]"), wt)
            elif rule in ("max_consecutive_weekends", "min_consecutive_weekends") and blocks:
                flags = []
                for i, days in enumerate(blocks):
                    f = m.new_bool_var(f"worked_weekend[{e},{i}]")
                    m.add_max_equality(f, [W[d] for d in days])
                    flags.append(f)
                first_days = [days[0] for days in blocks]
                if rule == "max_consecutive_weekends":
                    pen(rule, _soft_max_run(m, flags, v, f"{rule}[{e}]"), wt, first_days)
                elif v > 1:
                    pen(rule, _soft_min_run(m, flags, v, f"{rule}[{e}]"), wt, first_days)
            elif rule == "complete_weekends":
                for days in blocks:
                    n = len(days)
                    for mask in range(1, 2 ** n - 1):
                        worked = tuple(bool(mask >> k & 1) for k in range(n))
                        cost = incomplete_weekend_cost(worked)
                        if cost:
                            b = m.new_bool_var(f"complete_weekends[{e},{days[0]},{mask}]")
                            m.add_bool_or([(W[d].Not() if wk else W[d]) for d, wk in zip(days, worked)] + [b])
                            rm.penalties.append(Penalty(rule, b, wt * cost, e, days[0]))
            elif rule == "identical_weekend_shifts":
                for days in blocks:
                    n = len(days)
                    all_worked = m.new_bool_var(f"full_weekend[{e},{days[0]}]")
                    m.add_bool_or([W[d].Not() for d in days] + [all_worked])
                    used = []
                    for s in p.shifts:
                        vs = [rm.x[(e, d, s.id)] for d in days if (e, d, s.id) in rm.x]
                        if vs:
                            u = m.new_bool_var(f"weekend_uses[{e},{days[0]},{s.id}]")
                            for v_ in vs:
                                m.add_implication(v_, u)
                            used.append(u)
                    if len(used) > 1:
                        q = m.new_int_var(0, n * (len(used) - 1), f"identical_weekend_shifts[{e},{days[0]}]")
                        m.add(q >= n * (sum(used) - 1)).only_enforce_if(all_worked)
                        rm.penalties.append(Penalty(rule, q, wt, e, days[0]))


def add_patterns(rm: RosterModel) -> None:
    """Unwanted sequences (:class:`Pattern`): each occurrence in a person's row costs the pattern's weight."""
    p = rm.problem
    m = rm.model
    for pt in p.patterns:
        if pt.weight <= 0:
            continue
        L = len(pt.entries)
        for emp in p.employees:
            if emp.id not in pt.employees:
                continue
            for d in range(p.days - L + 1):
                if pt.start_weekday is not None and p.weekday(d) != pt.start_weekday:
                    continue
                lits, possible = [], True
                for i, ent in enumerate(pt.entries):
                    if ent == Pattern.EITHER:
                        continue
                    if ent == Pattern.ANY:
                        lits.append(rm.w[(emp.id, d + i)])
                    elif ent == Pattern.OFF:
                        lits.append(rm.w[(emp.id, d + i)].Not())
                    else:
                        v = rm.x.get((emp.id, d + i, ent))
                        if v is None:
                            possible = False
                            break
                        lits.append(v)
                if not possible:
                    continue
                b = m.new_bool_var(f"pattern[{pt.id},{emp.id},{d}]")
                m.add_bool_or([lit.Not() for lit in lits] + [b])
                rm.penalties.append(Penalty("unwanted_pattern", b, pt.weight, emp.id, d))


def _days(p: RosterProblem, days: list[int]) -> str:
    if not days:
        return "no days"
    if len(days) > 4:
        return f"{p.day_label(days[0])} … {p.day_label(days[-1])} ({len(days)} days)"
    return ", ".join(p.day_label(d) for d in days)
