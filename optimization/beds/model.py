"""Bed allocation at a moment: who goes to which free bed, with CP-SAT.

Laid out as data -> variables -> hard rules -> soft penalties -> objective -> solve -> extract, with an
independent :func:`validate` that recomputes every rule and the objective from an assignment alone.

Hard rules (a bed a patient may not take under one of them gets no variable at all, and ``validate``
checks them again):
- ``one_bed_one_patient`` — a bed holds at most one patient, a patient takes at most one bed.
- ``sex`` — a single-sex bay's bed (``beds.sex``) and a single-sex unit (``sex_policy`` male/female) take
  only patients of that sex; patients of unknown sex go to beds with no sex (side rooms, mixed units).
- ``isolation`` — patients who need isolation go to side rooms.
- ``age`` — children (under 16) go to paediatric units and only children go there.
- ``telemetry`` — patients who need telemetry go to telemetry beds.
- ``mandatory_specialty`` — units whose specialty is mandatory (obstetrics, critical care) take only
  patients of that specialty, and those patients go only there (critical care takes nobody from a ward
  waiting list); the paediatric unit is governed by the age rule instead, so children of any specialty go there.
- ``no_return_to_assessment`` — patients waiting to move out of an assessment unit do not go to another.

Soft penalties (weights in :class:`Weights`, the user may change them):
- ``outlier`` — a patient placed in a unit that is not of their specialty.
- ``transfer`` — a patient already in a bed who is moved.
- ``unplaced`` — a waiting patient left without a bed: ``unplaced + wait_per_hour * wait_hours``, times
  ``acuity_factor`` for acuity 1-2 (high-acuity waits hurt most).
- ``headroom`` — per bed short of the free beds a critical unit should keep for the emergencies it expects.
- ``delay`` — a planned (elective) patient admitted later than the first day of their window:
  ``delay_per_day`` per day.

Several days (planned admissions): with ``BedProblem.days > 1`` a patient with an admission ``window``
(first, last day; day 0 = now) is admitted on a day the solver chooses within it and keeps the bed for
``los_days`` days (or to the end of the horizon); a bed is usable from its ``free_from_day`` (a current
occupant's expected discharge). Two more hard rules: ``admission_window`` (the day is in the window) and
``one_bed_one_patient`` per bed and day. Everyone without a window is placed now (day 0).

How the model is built: beds that no rule tells apart (same unit, side room, sex, telemetry) form one *bed
class*; the model chooses a class (and a day) per patient with a capacity per class and day, and concrete
beds are handed out afterwards, earliest admission first (for intervals on identical beds that is always
possible when the per-day counts fit). A model with one variable per patient and bed gave the same optimum
but took 10 s and more on the 400-bed demo; the class model is exact, not an approximation.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable

from datasets.errors import HospOpsError, with_article
from datasets.progress import Reporter

HARD_RULES = ("one_bed_one_patient", "sex", "isolation", "age", "telemetry", "mandatory_specialty",
              "no_return_to_assessment", "bed_not_available", "admission_window")
SOFT_RULES = ("outlier", "transfer", "unplaced", "headroom", "delay")

# patient specialty -> unit specialties that are "home" for it
HOME = {
    "medicine": ("medicine",), "cardiology": ("cardiology", "medicine"), "elderly": ("elderly",),
    "surgery": ("surgery",), "elective_surgery": ("surgery",), "orthopaedics": ("orthopaedics",),
    "elective_ortho": ("orthopaedics",), "obstetrics": ("obstetrics",), "paediatrics": ("paediatrics",),
    "critical_care": ("critical_care",),
}
MANDATORY_SPECIALTIES = ("obstetrics", "paediatrics", "critical_care")


@dataclass(frozen=True)
class Weights:
    outlier: int = 30
    transfer: int = 50
    unplaced: int = 200
    wait_per_hour: int = 5
    acuity_factor: int = 3
    headroom: int = 40
    delay_per_day: int = 20

    def __post_init__(self):
        for k, v in self.__dict__.items():
            if not isinstance(v, int) or v < 0:
                raise HospOpsError(f"The weight '{k}' must be a whole number of 0 or more (got {v!r}).")


@dataclass(frozen=True)
class Unit:
    unit_id: str
    specialty: str
    kind: str = "ward"
    sex_policy: str = "mixed"
    mandatory: bool = False  # only patients of this specialty
    paediatric: bool = False
    headroom: int = 0  # free beds wanted for expected emergencies (0 = no rule)


@dataclass(frozen=True)
class Bed:
    bed_id: str
    unit_id: str
    room: str = ""
    side_room: bool = False
    sex: str | None = None  # 'M'/'F' single-sex bay, None = any
    telemetry: bool = False
    available: bool = True  # free and open (or occupied by a patient in the problem)
    free_from_day: int = 0  # several-day problems: usable from this day (0 = now)


@dataclass(frozen=True)
class Patient:
    patient_id: str
    sex: str = "U"
    age: int | None = None
    specialty: str = "medicine"
    acuity: int | None = None  # 1 most urgent .. 5
    wait_hours: float = 0.0
    isolation: bool = False
    telemetry: bool = False
    kind: str = "ed_boarder"  # ed_boarder, elective, transfer, inpatient
    current_bed: str | None = None  # set for patients already in a bed (they may be moved)
    stay_id: str | None = None
    person_id: str | None = None  # the workspace's patient pseudonym (patient_id above is the stay, unique)
    window: tuple[int, int] | None = None  # planned admission: first and last admission day (None = now)
    los_days: int | None = None  # days the bed is kept from admission (None = to the end of the horizon)

    @property
    def paediatric(self) -> bool:
        return self.age is not None and self.age < 16


@dataclass(frozen=True)
class BedProblem:
    units: tuple[Unit, ...]
    beds: tuple[Bed, ...]
    patients: tuple[Patient, ...]
    weights: Weights = Weights()
    at: str = ""
    days: int = 1  # planning horizon in days (day 0 = now)

    def __post_init__(self):
        if not isinstance(self.days, int) or self.days < 1:
            raise HospOpsError(f"The planning horizon must be 1 day or more (got {self.days!r}).")
        uid = {u.unit_id for u in self.units}
        bid = set()
        for b in self.beds:
            if b.unit_id not in uid:
                raise HospOpsError(f"Bed {b.bed_id} is in unknown unit {b.unit_id}.")
            if b.bed_id in bid:
                raise HospOpsError(f"Bed {b.bed_id} appears twice.")
            bid.add(b.bed_id)
        seen = set()
        for p in self.patients:
            if p.patient_id in seen:
                raise HospOpsError(f"Patient {p.patient_id} appears twice.")
            seen.add(p.patient_id)
            if p.current_bed is not None and p.current_bed not in bid:
                raise HospOpsError(f"Patient {p.patient_id} is in unknown bed {p.current_bed}.")
            if p.window is not None:
                a, z = p.window
                if p.current_bed is not None:
                    raise HospOpsError(f"Patient {p.patient_id} is already in a bed and cannot have an "
                                       "admission window.")
                if not (0 <= a <= z < self.days):
                    raise HospOpsError(f"Patient {p.patient_id}: the admission window {a}-{z} is not within days "
                                       f"0-{self.days - 1} of the plan.")
            if p.los_days is not None and p.los_days < 1:
                raise HospOpsError(f"Patient {p.patient_id}: the length of stay must be 1 day or more.")
        for b in self.beds:
            if b.free_from_day < 0:
                raise HospOpsError(f"Bed {b.bed_id}: free_from_day must be 0 or more.")

    def unit(self, unit_id: str) -> Unit:
        return self._units[unit_id]

    @property
    def _units(self) -> dict[str, Unit]:
        return {u.unit_id: u for u in self.units}


@dataclass
class BedSolution:
    status: str
    assignment: dict[str, str | None]  # patient -> bed (None = unplaced)
    objective: float | None = None
    bound: float | None = None
    seconds: float = 0.0
    unplaced: dict[str, str] = field(default_factory=dict)  # patient -> reason in words
    penalties: dict[str, int] = field(default_factory=dict)
    admission_day: dict[str, int] = field(default_factory=dict)  # placed patient -> day (absent = day 0)
    stats: dict[str, float] = field(default_factory=dict)  # build_s, solve_s, variables, bed_classes


# -------------------------------------------------------------------------------------------- rules
def rule_breaks(p: Patient, b: Bed, u: Unit) -> list[str]:
    """The hard rules that forbid patient ``p`` in bed ``b`` of unit ``u`` (empty = allowed)."""
    out = []
    sex_needed = b.sex or {"male": "M", "female": "F"}.get(u.sex_policy)
    if sex_needed and p.sex != sex_needed:
        out.append("sex")
    if p.isolation and not b.side_room:
        out.append("isolation")
    if p.paediatric != u.paediatric:
        out.append("age")
    if p.telemetry and not b.telemetry:
        out.append("telemetry")
    home = HOME.get(p.specialty, (p.specialty,))
    # paediatric units are ruled by age (children of any specialty go there), the others by specialty
    if not u.paediatric and ((u.mandatory and u.specialty not in home)
                             or (p.specialty in MANDATORY_SPECIALTIES and u.specialty not in home and not p.paediatric)):
        out.append("mandatory_specialty")
    if p.kind == "transfer" and u.kind == "assessment" and p.current_bed is None:
        out.append("no_return_to_assessment")
    if not b.available and p.current_bed != b.bed_id:
        out.append("bed_not_available")
    return out


SIDE = {"medicine": "medical", "cardiology": "medical", "elderly": "medical", "surgery": "surgical",
        "orthopaedics": "surgical", "elective_surgery": "surgical", "elective_ortho": "surgical"}


def is_outlier(p: Patient, u: Unit) -> bool:
    """Placed off the patient's specialty. An assessment unit is home to emergency patients of its side of
    the house (medical or surgical); anyone else there (an elective, say) is an outlier."""
    if u.paediatric and p.paediatric:
        return False
    if u.kind == "assessment":
        side = SIDE.get(p.specialty)
        return not (p.kind == "ed_boarder" and side is not None and side == SIDE.get(u.specialty))  # assessment units take every specialty of their side of the house
    return u.specialty not in HOME.get(p.specialty, (p.specialty,))


def unplaced_cost(p: Patient, w: Weights) -> int:
    c = w.unplaced + int(round(w.wait_per_hour * p.wait_hours))
    if p.acuity is not None and p.acuity <= 2:
        c *= w.acuity_factor
    return c


def window_of(p: Patient) -> tuple[int, int]:
    return p.window if p.window is not None else (0, 0)


def occupied_days(p: Patient, day: int, days: int) -> range:
    """The plan days a patient admitted on ``day`` holds a bed (current patients: the whole horizon)."""
    end = days if (p.los_days is None or p.current_bed is not None) else min(days, day + p.los_days)
    return range(day, end)


def objective_terms(problem: BedProblem, assignment: dict[str, str | None],
                    admission_day: dict[str, int] | None = None) -> dict[str, int]:
    """The soft penalties of an assignment, computed from the problem alone."""
    w = problem.weights
    units = problem._units
    beds = {b.bed_id: b for b in problem.beds}
    days = admission_day or {}
    pen = {k: 0 for k in SOFT_RULES}
    used = {u: 0 for u in units}
    for p in problem.patients:
        bid = assignment.get(p.patient_id)
        if bid is None:
            if p.current_bed is None:
                pen["unplaced"] += unplaced_cost(p, w)
            continue
        u = units[beds[bid].unit_id]
        d = int(days.get(p.patient_id, 0))
        if is_outlier(p, u):
            pen["outlier"] += w.outlier
        if p.current_bed is not None and bid != p.current_bed:
            pen["transfer"] += w.transfer
        if p.window is not None and d > p.window[0]:
            pen["delay"] += w.delay_per_day * (d - p.window[0])
        if d == 0 and (p.current_bed is None or bid != p.current_bed):
            used[u.unit_id] += 1
        if p.current_bed is not None and bid != p.current_bed:
            used[beds[p.current_bed].unit_id] -= 1
    for u in units.values():
        if u.headroom > 0:
            free0 = sum(1 for b in problem.beds if b.unit_id == u.unit_id and b.available and b.free_from_day == 0
                        and not any(q.current_bed == b.bed_id for q in problem.patients))
            # beds of headroom this plan uses up; a shortfall the unit had before the plan is not charged
            base = max(0, u.headroom - free0)
            pen["headroom"] += w.headroom * max(0, u.headroom - free0 + used[u.unit_id] - base)
    return pen

# -------------------------------------------------------------------------------------------- solve
@dataclass
class BedClass:
    """Beds no hard rule tells apart: same unit, side room, sex and telemetry (``own``: the unavailable bed a
    current patient sits in, open to that patient only)."""
    unit_id: str
    beds: list[Bed]  # by (free_from_day, bed_id)
    cap: list[int]  # beds usable on each plan day
    own: str | None = None

    @property
    def rep(self) -> Bed:
        return self.beds[0]


def bed_classes(problem: BedProblem) -> list[BedClass]:
    groups: dict[tuple, list[Bed]] = {}
    current = {p.current_bed: p.patient_id for p in problem.patients if p.current_bed}
    for b in problem.beds:
        if b.available:
            groups.setdefault((b.unit_id, b.side_room, b.sex, b.telemetry), []).append(b)
        elif b.bed_id in current:
            groups[("own", b.bed_id)] = [replace(b, free_from_day=0)]
    out = []
    for key, bs in sorted(groups.items(), key=lambda kv: str(kv[0])):
        bs = sorted(bs, key=lambda b: (0 if b.bed_id in current else b.free_from_day, b.bed_id))
        cap = [sum(1 for b in bs if b.bed_id in current or b.free_from_day <= t) for t in range(problem.days)]
        out.append(BedClass(bs[0].unit_id, bs, cap, own=current[key[1]] if key[0] == "own" else None))
    return out


def _options(problem: BedProblem, classes: list[BedClass]) -> dict[str, list[tuple[int, int]]]:
    """Per patient, the (class, day) pairs no hard rule forbids; a current patient's own class at day 0 first."""
    units = problem._units
    out: dict[str, list[tuple[int, int]]] = {}
    for p in problem.patients:
        a, z = window_of(p)
        opts = []
        for ci, c in enumerate(classes):
            if c.own is not None and c.own != p.patient_id:
                continue
            if rule_breaks(p, c.rep, units[c.unit_id]):
                continue
            for d in range(a, z + 1):
                if c.cap[d] > 0:
                    opts.append((ci, d))
        out[p.patient_id] = opts
    return out


def _current_class(problem: BedProblem, classes: list[BedClass]) -> dict[str, int]:
    where = {b.bed_id: ci for ci, c in enumerate(classes) for b in c.beds}
    return {p.patient_id: where[p.current_bed] for p in problem.patients if p.current_bed in where}


def _concrete_beds(problem: BedProblem, classes: list[BedClass], choice: dict[str, tuple[int, int] | None]
                   ) -> tuple[dict[str, str | None], dict[str, int]]:
    """Hand out beds within each class: patients staying put keep theirs, the others first-fit by admission
    day (for intervals on identical beds, first-fit by start never runs out when the per-day counts fit)."""
    c0 = _current_class(problem, classes)
    pmap = {p.patient_id: p for p in problem.patients}
    assignment: dict[str, str | None] = {p.patient_id: None for p in problem.patients}
    admission: dict[str, int] = {}
    per_class: dict[int, list[tuple[int, str]]] = {}
    for pid, ch in choice.items():
        if ch is None:
            continue
        ci, d = ch
        if c0.get(pid) == ci:
            assignment[pid] = pmap[pid].current_bed
            admission[pid] = 0
        else:
            per_class.setdefault(ci, []).append((d, pid))
    for ci, lst in per_class.items():
        c = classes[ci]
        stayers = {assignment[pid] for pid, ch in choice.items() if ch and ch[0] == ci and c0.get(pid) == ci}
        busy = {b.bed_id: (problem.days if b.bed_id in stayers else b.free_from_day) for b in c.beds}
        for d, pid in sorted(lst):
            bid = next((b.bed_id for b in c.beds if busy[b.bed_id] <= d), None)
            if bid is None:
                raise RuntimeError(f"bed class of {c.rep.bed_id} over capacity on day {d}")  # a bug, not user data
            assignment[pid] = bid
            admission[pid] = d
            busy[bid] = occupied_days(pmap[pid], d, problem.days).stop
    return assignment, admission


def solve(problem: BedProblem, time_limit_s: float = 10.0, progress=None, should_stop=None,
          on_solution: Callable[[float, float, float], None] | None = None, workers: int = 2,
          params: dict | None = None) -> BedSolution:
    """Place the waiting patients (see the module docstring). ``params``: extra CP-SAT parameters by name."""
    from ortools.sat.python import cp_model

    from optimization.cpsat import cp_solver

    rep = Reporter(progress, should_stop)
    t0 = time.perf_counter()
    rep(0.0, "Building the bed model")
    w = problem.weights
    units = problem._units
    beds = {b.bed_id: b for b in problem.beds}
    pmap = {p.patient_id: p for p in problem.patients}
    D = problem.days
    classes = bed_classes(problem)
    options = _options(problem, classes)
    c0 = _current_class(problem, classes)
    m = cp_model.CpModel()

    # variables: y[p, class, day] only where no hard rule forbids it
    y: dict[tuple[str, int, int], cp_model.IntVar] = {}
    for p in problem.patients:
        for ci, d in options[p.patient_id]:
            y[p.patient_id, ci, d] = m.new_bool_var(f"y[{p.patient_id},{classes[ci].rep.bed_id}~,{d}]")

    # hard: a patient takes at most one bed (``unplaced`` when none); a patient already in a bed keeps one
    unplaced: dict[str, cp_model.IntVar] = {}
    for p in problem.patients:
        vs = [y[p.patient_id, ci, d] for ci, d in options[p.patient_id]]
        if p.current_bed is not None:
            if not vs:
                cb = beds[p.current_bed]
                raise HospOpsError(
                    f"Patient {p.patient_id} is already in bed {p.current_bed}, which breaks "
                    f"{', '.join(rule_breaks(p, cb, units[cb.unit_id])) or 'a rule'}, and no other bed is allowed.",
                    "Leave this patient out of the problem or correct the bed's attributes.")
            m.add_exactly_one(vs)
        else:
            unplaced[p.patient_id] = m.new_bool_var(f"unplaced[{p.patient_id}]")
            m.add_exactly_one(vs + [unplaced[p.patient_id]])
    # hard: one patient per bed and day (admission_window and the rule-by-rule hard rules are in the options)
    load: dict[tuple[int, int], list] = {}
    for (pid, ci, d), v in y.items():
        for t in occupied_days(pmap[pid], d, D):
            load.setdefault((ci, t), []).append(v)
    for (ci, t), vs in load.items():
        if len(vs) > classes[ci].cap[t]:
            m.add(sum(vs) <= classes[ci].cap[t])

    terms = []
    # soft: outliers, transfers, delayed planned admissions
    for (pid, ci, d), v in y.items():
        p = pmap[pid]
        c = ((w.outlier if is_outlier(p, units[classes[ci].unit_id]) else 0)
             + (w.transfer if p.current_bed is not None and c0.get(pid) != ci else 0)
             + (w.delay_per_day * (d - p.window[0]) if p.window is not None else 0))
        if c:
            terms.append(c * v)
    # soft: unplaced waiting patients
    for pid, u in unplaced.items():
        terms.append(unplaced_cost(pmap[pid], w) * u)
    # soft: headroom in critical units (arrivals now, net of current patients moving out)
    occupied_now = {q.current_bed for q in problem.patients if q.current_bed}
    shorts = []
    for u in problem.units:
        if u.headroom <= 0:
            continue
        free0 = sum(1 for b in problem.beds if b.unit_id == u.unit_id and b.available and b.free_from_day == 0
                    and b.bed_id not in occupied_now)
        base = max(0, u.headroom - free0)
        inflow = [v for (pid, ci, d), v in y.items() if d == 0 and classes[ci].unit_id == u.unit_id
                  and c0.get(pid) != ci]
        outflow = [v for (pid, ci, d), v in y.items() if pid in c0 and c0[pid] != ci
                   and classes[c0[pid]].unit_id == u.unit_id]
        if not inflow:
            continue
        short = m.new_int_var(0, len(inflow) + u.headroom, f"headroom_short[{u.unit_id}]")
        m.add(short >= u.headroom - free0 + sum(inflow) - sum(outflow) - base)
        terms.append(w.headroom * short)
        shorts.append((short, u, free0, base))
    m.minimize(sum(terms))

    # hint: everyone already in a bed stays; waiting patients greedily, most costly wait first, home unit and
    # earliest day first
    used = [[0] * D for _ in classes]
    greedy: dict[str, tuple[int, int] | None] = {}
    for p in problem.patients:
        if p.current_bed is not None:
            ch = (c0[p.patient_id], 0) if p.patient_id in c0 and (c0[p.patient_id], 0) in options[p.patient_id] \
                else options[p.patient_id][0]
            greedy[p.patient_id] = ch
            for t in occupied_days(p, 0, D):
                used[ch[0]][t] += 1
    for p in sorted(problem.patients, key=lambda q: -unplaced_cost(q, w)):
        if p.current_bed is not None:
            continue
        opts = sorted(options[p.patient_id], key=lambda o: (is_outlier(p, units[classes[o[0]].unit_id]), o[1], o[0]))
        greedy[p.patient_id] = None
        for ci, d in opts:
            span = occupied_days(p, d, D)
            if all(used[ci][t] < classes[ci].cap[t] for t in span):
                for t in span:
                    used[ci][t] += 1
                greedy[p.patient_id] = (ci, d)
                break
    for (pid, ci, d), v in y.items():
        m.add_hint(v, greedy.get(pid) == (ci, d))
    for pid, u in unplaced.items():
        m.add_hint(u, greedy[pid] is None)
    for short, u, free0, base in shorts:
        moved_in = sum(1 for pid, ch in greedy.items() if ch and ch[1] == 0 and classes[ch[0]].unit_id == u.unit_id
                       and c0.get(pid) != ch[0])
        m.add_hint(short, max(0, u.headroom - free0 + moved_in - base))
    build_s = time.perf_counter() - t0

    rep(0.1, f"Solving: {len(y):,} patient-bed options in {len(classes)} bed classes")
    # the model is close to a transportation problem: a worker on the full LP relaxation (``max_lp``) proves
    # the optimum in well under a second where the default two-worker portfolio kept improving for 10 s+
    tuned = {2: {"subsolvers": ["max_lp", "default_lp"]}, 1: {"linearization_level": 2}}.get(workers, {})
    merged = dict(tuned)
    for k, v in (params or {}).items():  # a caller's repeated field (subsolvers) adds to ours, as before
        merged[k] = list(merged[k]) + list(v) if isinstance(v, (list, tuple)) and k in merged else v
    solver = cp_solver(max(0.1, float(time_limit_s)), workers, **merged)

    class CB(cp_model.CpSolverSolutionCallback):
        def __init__(self):
            super().__init__()
            self.cancelled = False

        def on_solution_callback(self):
            el = time.perf_counter() - t0
            if on_solution:
                on_solution(self.objective_value, self.best_objective_bound, el)
            rep.progress(min(0.95, 0.1 + 0.85 * el / max(time_limit_s, 1e-6)),
                         f"cost {self.objective_value:,.0f} (bound {self.best_objective_bound:,.0f})")
            if rep.should_stop():
                self.cancelled = True
                self.stop_search()

    cb = CB()
    status = solver.solve(m, cb)
    if cb.cancelled or rep.should_stop():
        from datasets.errors import Cancelled
        raise Cancelled()
    name = {cp_model.OPTIMAL: "OPTIMAL", cp_model.FEASIBLE: "FEASIBLE", cp_model.INFEASIBLE: "INFEASIBLE",
            cp_model.MODEL_INVALID: "MODEL_INVALID"}.get(status, "UNKNOWN")
    choice: dict[str, tuple[int, int] | None] = {p.patient_id: None for p in problem.patients}
    objective, bound = None, None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for key, v in y.items():
            if solver.boolean_value(v):
                choice[key[0]] = key[1:]
        # integer costs: drop the solver's floating-point noise (50.00000000000006)
        objective, bound = float(round(solver.objective_value)), float(round(solver.best_objective_bound))
    elif status == cp_model.UNKNOWN:
        # no solution in the time (a very short limit on a busy machine): fall back on the greedy plan, which
        # keeps every hard rule by construction; the validator scores it
        choice = dict(greedy)
        name = "FEASIBLE"
    assignment, admission = _concrete_beds(problem, classes, choice)
    if objective is None and name == "FEASIBLE":
        objective = float(sum(objective_terms(problem, assignment, admission).values()))
    sol = BedSolution(status=name, assignment=assignment, objective=objective, bound=bound,
                      seconds=time.perf_counter() - t0, admission_day=admission,
                      stats={"build_s": round(build_s, 3), "solve_s": round(solver.wall_time, 3),
                             "variables": len(y), "bed_classes": len(classes)})
    sol.unplaced = explain_unplaced(problem, assignment)
    sol.penalties = objective_terms(problem, assignment, admission)
    rep(1.0, f"{name}: {sum(1 for b in assignment.values() if b)} placed, {len(sol.unplaced)} unplaced")
    return sol


# -------------------------------------------------------------------------------------------- explain
RULE_WORDS = {
    "sex": "a bed of the right sex (single-sex bays and units)",
    "isolation": "a side room for isolation",
    "age": "a paediatric bed" ,
    "telemetry": "a telemetry bed",
    "mandatory_specialty": "a unit that accepts this specialty",
    "no_return_to_assessment": "a bed outside the assessment units",
    "bed_not_available": "an open, empty bed",
}


#: a rule as the one thing that keeps a free bed from a waiting patient
NEAR_WORDS = {
    "sex": "the single-sex rule",
    "isolation": "isolation (not a side room)",
    "age": "the paediatric rule",
    "telemetry": "telemetry (no monitor)",
    "mandatory_specialty": "their unit's specialties",
    "no_return_to_assessment": "the rule against a return to an assessment unit",
}


def explain_unplaced(problem: BedProblem, assignment: dict[str, str | None]) -> dict[str, str]:
    """For each waiting patient without a bed, the reason in words: which rule leaves no bed, or who took
    the beds that were possible."""
    units = problem._units
    taken = {b: pid for pid, b in assignment.items() if b}
    current = {p.patient_id: p.current_bed for p in problem.patients if p.current_bed is not None}
    out = {}
    rules = ("mandatory_specialty", "age", "sex", "isolation", "telemetry", "no_return_to_assessment")
    for p in problem.patients:
        if p.current_bed is not None or assignment.get(p.patient_id):
            continue
        needs = f" (needs: {', '.join(_needs(p))})" if _needs(p) else ""
        # the rules over every bed first, whether in use or not: counting open beds first named "all 3 beds"
        # for a telemetry patient when 12 telemetry beds would take her, and never the single-sex rule
        breaks = {b.bed_id: set(rule_breaks(p, b, units[b.unit_id])) for b in problem.beds}
        cands, reason = list(problem.beds), None
        for rule in rules:
            keep = [b for b in cands if rule not in breaks[b.bed_id]]
            if not keep:
                reason = (f"no bed meets the hard rules: {len(cands)} beds passed the earlier rules but none is "
                          f"{RULE_WORDS[rule]}{needs}")
                break
            cands = keep
        if reason is None:
            open_ = [b for b in cands if "bed_not_available" not in breaks[b.bed_id]]
            others = [taken[b.bed_id] for b in open_ if b.bed_id in taken]
            free = [b for b in open_ if b.bed_id not in taken]
            if not free:
                staying = sum(1 for pid in others if current.get(pid) == assignment.get(pid))
                in_use = len(cands) - len(open_) + staying
                reason = (f"all {len(cands)} beds that meet the hard rules{needs} are in use: {in_use} by patients "
                          f"in them, {len(others) - staying} by patients placed now ahead of this one")
                # free beds one rule away: the rule that keeps the patient waiting, said
                near: dict[str, int] = {}
                for b in problem.beds:
                    why = breaks[b.bed_id] - {"bed_not_available"}
                    if "bed_not_available" not in breaks[b.bed_id] and b.bed_id not in taken and len(why) == 1:
                        (rule,) = why
                        near[rule] = near.get(rule, 0) + 1
                if near:
                    reason += "; free beds ruled out by one rule only: " + ", ".join(
                        f"{n} by {NEAR_WORDS[r]}" for r, n in sorted(near.items(), key=lambda kv: -kv[1]))
            else:
                reason = (f"{len(free)} suitable bed(s) are free, but placing this patient would cost more than "
                          f"waiting under the current weights (headroom kept for expected emergencies or an "
                          f"outlier placement)")
        out[p.patient_id] = reason
    return out


def placement_note(problem: BedProblem, p: Patient, bed_id: str, day: int | None = None) -> str:
    """Why a proposed placement costs something, in words ('' when it is in the patient's own specialty): an
    outlier, the penalty that usually makes up most of a proposal's cost, and a planned admission put off
    beyond its day (``day``: the admission day proposed; electives due today were moved to "+2" with no
    word). (A move shows in its from-bed.)"""
    notes = []
    if day is not None and p.window is not None and day > p.window[0]:
        late = day - p.window[0]
        notes.append(f"postponed {late} day{'s' if late > 1 else ''}: due "
                     + ("today" if p.window[0] == 0 else f"on day +{p.window[0]}"))
    bed = next(b for b in problem.beds if b.bed_id == bed_id)
    u = problem._units[bed.unit_id]
    if is_outlier(p, u):
        if u.kind == "assessment":
            side = SIDE.get(u.specialty) or u.specialty
            who = "elective" if p.kind == "elective" else p.specialty.replace("_", " ")
            notes.append(f"outlier: {u.unit_id} is an assessment unit for {side} emergencies; "
                         f"this is {with_article(who)} patient")
        else:
            notes.append(f"outlier: {p.specialty.replace('_', ' ')} patient on {u.unit_id} "
                         f"({u.specialty.replace('_', ' ') if u.specialty else u.kind})")
    return "; ".join(notes)


def _needs(p: Patient) -> list[str]:
    n = []
    if p.isolation:
        n.append("isolation")
    if p.telemetry:
        n.append("telemetry")
    if p.paediatric:
        n.append("paediatric")
    return n


# -------------------------------------------------------------------------------------------- validate
@dataclass
class BedValidation:
    hard: dict[str, int]
    penalties: dict[str, int]
    objective: int
    messages: list[str]

    @property
    def hard_violations(self) -> int:
        return sum(self.hard.values())


def validate(problem: BedProblem, solution: BedSolution | dict,
             admission_day: dict[str, int] | None = None) -> BedValidation:
    """Recompute every hard rule and the objective from the assignment (and the admission days of a
    several-day plan; absent = day 0), without the solver model."""
    if isinstance(solution, BedSolution):
        assignment, days = solution.assignment, dict(solution.admission_day)
    else:
        assignment, days = dict(solution), {}
    days.update(admission_day or {})
    units = problem._units
    beds = {b.bed_id: b for b in problem.beds}
    hard = {k: 0 for k in HARD_RULES}
    msgs = []
    holders: dict[tuple[str, int], list[str]] = {}
    known = {p.patient_id for p in problem.patients}
    for pid in assignment:
        if pid not in known:
            hard["one_bed_one_patient"] += 1
            msgs.append(f"unknown patient {pid}")
    for p in problem.patients:
        bid = assignment.get(p.patient_id)
        if bid is None:
            if p.current_bed is not None:
                hard["one_bed_one_patient"] += 1
                msgs.append(f"{p.patient_id} lost the bed {p.current_bed} without a new one")
            continue
        if bid not in beds:
            hard["bed_not_available"] += 1
            msgs.append(f"{p.patient_id}: unknown bed {bid}")
            continue
        d = int(days.get(p.patient_id, 0))
        a, z = window_of(p)
        if not a <= d <= z:
            hard["admission_window"] += 1
            msgs.append(f"{p.patient_id} admitted on day {d}, outside the window {a}-{z}")
        b = beds[bid]
        if bid != p.current_bed and d < b.free_from_day:
            hard["bed_not_available"] += 1
            msgs.append(f"{p.patient_id} in {bid} on day {d}, before it is free (day {b.free_from_day})")
        for t in occupied_days(p, d, problem.days):
            holders.setdefault((bid, t), []).append(p.patient_id)
        for r in rule_breaks(p, b, units[b.unit_id]):
            hard[r] += 1
            msgs.append(f"{p.patient_id} in {bid} breaks '{r}'")
    for (bid, t), ps in holders.items():
        if len(ps) > 1:
            hard["one_bed_one_patient"] += len(ps) - 1
            msgs.append(f"bed {bid} holds {', '.join(ps)}" + (f" on day {t}" if problem.days > 1 else ""))
    pen = objective_terms(problem, assignment, days)
    return BedValidation(hard=hard, penalties=pen, objective=sum(pen.values()), messages=msgs)


def with_weights(problem: BedProblem, **changes) -> BedProblem:
    return replace(problem, weights=replace(problem.weights, **changes))
