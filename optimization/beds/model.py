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
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable

from datasets.errors import HospOpsError
from datasets.progress import Reporter

HARD_RULES = ("one_bed_one_patient", "sex", "isolation", "age", "telemetry", "mandatory_specialty",
              "no_return_to_assessment", "bed_not_available")
SOFT_RULES = ("outlier", "transfer", "unplaced", "headroom")

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

    def __post_init__(self):
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


def objective_terms(problem: BedProblem, assignment: dict[str, str | None]) -> dict[str, int]:
    """The soft penalties of an assignment, computed from the problem alone."""
    w = problem.weights
    units = problem._units
    beds = {b.bed_id: b for b in problem.beds}
    pen = {k: 0 for k in SOFT_RULES}
    used = {u: 0 for u in units}
    for p in problem.patients:
        bid = assignment.get(p.patient_id)
        if bid is None:
            if p.current_bed is None:
                pen["unplaced"] += unplaced_cost(p, w)
            continue
        u = units[beds[bid].unit_id]
        if is_outlier(p, u):
            pen["outlier"] += w.outlier
        if p.current_bed is not None and bid != p.current_bed:
            pen["transfer"] += w.transfer
        if p.current_bed is None or bid != p.current_bed:
            used[u.unit_id] += 1
        if p.current_bed is not None and bid != p.current_bed:
            used[beds[p.current_bed].unit_id] -= 1
    for u in units.values():
        if u.headroom > 0:
            free0 = sum(1 for b in problem.beds if b.unit_id == u.unit_id and b.available
                        and not any(q.current_bed == b.bed_id for q in problem.patients))
            # beds of headroom this plan uses up; a shortfall the unit had before the plan is not charged
            base = max(0, u.headroom - free0)
            pen["headroom"] += w.headroom * max(0, u.headroom - free0 + used[u.unit_id] - base)
    return pen


# -------------------------------------------------------------------------------------------- solve
def solve(problem: BedProblem, time_limit_s: float = 10.0, progress=None, should_stop=None,
          on_solution: Callable[[float, float, float], None] | None = None, workers: int = 2) -> BedSolution:
    from ortools.sat.python import cp_model

    rep = Reporter(progress, should_stop)
    t0 = time.perf_counter()
    rep(0.0, "Building the bed model")
    w = problem.weights
    units = problem._units
    beds = {b.bed_id: b for b in problem.beds}
    m = cp_model.CpModel()

    # variables: x[p, b] only where no hard rule forbids it
    x: dict[tuple[str, str], cp_model.IntVar] = {}
    for p in problem.patients:
        for b in problem.beds:
            if not rule_breaks(p, b, units[b.unit_id]):
                x[p.patient_id, b.bed_id] = m.new_bool_var(f"x[{p.patient_id},{b.bed_id}]")
    by_p: dict[str, list] = {p.patient_id: [] for p in problem.patients}
    by_b: dict[str, list] = {b: [] for b in beds}
    for (pid, bid), v in x.items():
        by_p[pid].append((bid, v))
        by_b[bid].append((pid, v))

    # hard: a patient takes at most one bed (``unplaced`` when none); a patient already in a bed keeps one
    unplaced: dict[str, cp_model.IntVar] = {}
    for p in problem.patients:
        vs = [v for _, v in by_p[p.patient_id]]
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
    # hard: a bed holds at most one patient
    for bid, lst in by_b.items():
        if len(lst) > 1:
            m.add_at_most_one([v for _, v in lst])

    terms = []
    # soft: outliers and transfers
    pmap = {p.patient_id: p for p in problem.patients}
    for (pid, bid), v in x.items():
        p, u = pmap[pid], units[beds[bid].unit_id]
        c = (w.outlier if is_outlier(p, u) else 0) + (w.transfer if p.current_bed not in (None, bid) else 0)
        if c:
            terms.append(c * v)
    # soft: unplaced waiting patients
    for pid, u in unplaced.items():
        terms.append(unplaced_cost(pmap[pid], w) * u)
    # soft: headroom in critical units
    occupied_now = {q.current_bed for q in problem.patients if q.current_bed}
    shorts = []
    for u in problem.units:
        if u.headroom <= 0:
            continue
        ub = [b for b in problem.beds if b.unit_id == u.unit_id]
        free0 = sum(1 for b in ub if b.available and b.bed_id not in occupied_now)
        base = max(0, u.headroom - free0)
        inflow = []
        for b in ub:
            for pid, v in by_b[b.bed_id]:
                if pmap[pid].current_bed != b.bed_id:
                    inflow.append(v)
        outflow = [v for p in problem.patients if p.current_bed and beds[p.current_bed].unit_id == u.unit_id
                   for bid, v in by_p[p.patient_id] if beds[bid].unit_id != u.unit_id]
        short = m.new_int_var(0, len(ub) + u.headroom, f"headroom_short[{u.unit_id}]")
        m.add(short >= u.headroom - free0 + sum(inflow) - sum(outflow) - base)
        terms.append(w.headroom * short)
        shorts.append((short, u))
    m.minimize(sum(terms))

    # hint: everyone already in a bed stays; waiting patients greedily, most costly wait first, home unit first
    taken = {p.current_bed for p in problem.patients if p.current_bed}
    greedy: dict[str, str | None] = {p.patient_id: p.current_bed for p in problem.patients}
    for p in sorted(problem.patients, key=lambda q: -unplaced_cost(q, w)):
        if p.current_bed:
            continue
        opts = sorted(by_p[p.patient_id], key=lambda bv: is_outlier(p, units[beds[bv[0]].unit_id]))
        for bid, _ in opts:
            if bid not in taken:
                taken.add(bid)
                hint_bed = bid
                break
        else:
            hint_bed = None
        greedy[p.patient_id] = hint_bed
        for bid, v in by_p[p.patient_id]:
            m.add_hint(v, bid == hint_bed)
        m.add_hint(unplaced[p.patient_id], hint_bed is None)
    for short, u in shorts:  # complete the hint: the headroom shortfall of the greedy plan
        placed_in = sum(1 for pid, bid in greedy.items() if bid and pmap[pid].current_bed is None
                        and beds[bid].unit_id == u.unit_id)
        free0 = sum(1 for b in problem.beds if b.unit_id == u.unit_id and b.available and b.bed_id not in occupied_now)
        m.add_hint(short, max(0, u.headroom - free0 + placed_in - max(0, u.headroom - free0)))
    for p in problem.patients:
        if p.current_bed:
            for bid, v in by_p[p.patient_id]:
                m.add_hint(v, bid == p.current_bed)

    rep(0.1, f"Solving: {len(x):,} patient-bed options")
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = max(0.1, float(time_limit_s))
    solver.parameters.num_workers = workers

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
    assignment: dict[str, str | None] = {p.patient_id: None for p in problem.patients}
    objective, bound = None, None
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        for (pid, bid), v in x.items():
            if solver.boolean_value(v):
                assignment[pid] = bid
        objective, bound = solver.objective_value, solver.best_objective_bound
    elif status == cp_model.UNKNOWN:
        # no solution in the time (a very short limit on a busy machine): fall back on the greedy plan, which
        # keeps every hard rule by construction; the validator scores it
        assignment = dict(greedy)
        name = "FEASIBLE"
        objective = float(sum(objective_terms(problem, assignment).values()))
    sol = BedSolution(status=name, assignment=assignment, objective=objective, bound=bound,
                      seconds=time.perf_counter() - t0)
    sol.unplaced = explain_unplaced(problem, assignment)
    sol.penalties = objective_terms(problem, assignment)
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


def explain_unplaced(problem: BedProblem, assignment: dict[str, str | None]) -> dict[str, str]:
    """For each waiting patient without a bed, the reason in words: which rule leaves no bed, or who took
    the beds that were possible."""
    units = problem._units
    taken = {b: pid for pid, b in assignment.items() if b}
    out = {}
    for p in problem.patients:
        if p.current_bed is not None or assignment.get(p.patient_id):
            continue
        cands = list(problem.beds)
        reason = None
        for rule in ("bed_not_available", "mandatory_specialty", "age", "sex", "isolation", "telemetry",
                     "no_return_to_assessment"):
            keep = [b for b in cands if rule not in rule_breaks(p, b, units[b.unit_id])]
            if not keep:
                need = "; ".join(sorted({RULE_WORDS[r] for r in [rule]}))
                reason = (f"no bed meets the hard rules: {len(cands)} beds passed the earlier rules but none is "
                          f"{need}" + (f" (needs: {', '.join(_needs(p))})" if _needs(p) else ""))
                break
            cands = keep
        if reason is None:
            others = [taken[b.bed_id] for b in cands if b.bed_id in taken]
            free = [b for b in cands if b.bed_id not in taken]
            needs = f" (needs: {', '.join(_needs(p))})" if _needs(p) else ""
            if not free:
                reason = (f"all {len(cands)} beds that meet the hard rules{needs} went to other patients "
                          f"({len(set(others))} placed there by priority)")
            else:
                reason = (f"{len(free)} suitable bed(s) are free, but placing this patient would cost more than "
                          f"waiting under the current weights (headroom kept for expected emergencies or an "
                          f"outlier placement)")
        out[p.patient_id] = reason
    return out


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


def validate(problem: BedProblem, solution: BedSolution | dict) -> BedValidation:
    """Recompute every hard rule and the objective from the assignment, without the solver model."""
    assignment = solution.assignment if isinstance(solution, BedSolution) else dict(solution)
    units = problem._units
    beds = {b.bed_id: b for b in problem.beds}
    hard = {k: 0 for k in HARD_RULES}
    msgs = []
    holders: dict[str, list[str]] = {}
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
        holders.setdefault(bid, []).append(p.patient_id)
        for r in rule_breaks(p, beds[bid], units[beds[bid].unit_id]):
            hard[r] += 1
            msgs.append(f"{p.patient_id} in {bid} breaks '{r}'")
    for bid, ps in holders.items():
        if len(ps) > 1:
            hard["one_bed_one_patient"] += len(ps) - 1
            msgs.append(f"bed {bid} holds {', '.join(ps)}")
    pen = objective_terms(problem, assignment)
    return BedValidation(hard=hard, penalties=pen, objective=sum(pen.values()), messages=msgs)


def with_weights(problem: BedProblem, **changes) -> BedProblem:
    return replace(problem, weights=replace(problem.weights, **changes))
