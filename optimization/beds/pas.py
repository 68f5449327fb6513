"""PAS — Patient Admission Scheduling (Demeester, Souffriau, De Causmaecker, Vanden Berghe): reader, an
independent cost function and validator, the mapping onto our bed problem, and a CP-SAT solver.

    read_pas(path) -> PasInstance
    validate_pas(inst, sol) -> PasReport          # cost (original weights), components, hard {rule: count}
    solve_pas(inst, time_limit_s, progress=None, should_stop=None, on_solution=None, workers=2)
        -> (PasSolution, PasReport, stats)
    to_bed_problem(inst) -> BedProblem            # the same patients and beds as a several-day BedProblem

The problem: every patient has a fixed admission night and discharge night (the stay is the nights
``admission .. discharge-1``) and gets a bed for each night of the stay; a bed holds one patient a night (the
only hard rule). Everything else is a cost, with the original weights (anchors SOURCE.md, the PAS page):

- ``gender`` 5: a room whose policy is ``D`` (same gender per day) holding both genders on a night, once per
  such room-night; a patient of the other gender in a male-only (``M``) or female-only (``F``) room, per night;
- ``required_property`` 5: per night, per required room property (telemetry, oxygen, ...) the room lacks;
- ``age`` 10: per night in a department whose age limits (``minAge``/``maxAge``, 0 = none) exclude the patient;
- ``preferred_property`` 2: per night, per preferred property the room lacks;
- ``room_size`` 0.8: per night, times the beds by which the room is bigger than the patient's preferred
  capacity (0 = no preference) — our reading of "0.8 x (assigned - preferred category)";
- ``department_specialism`` 1: per night in a department that does not list the patient's specialism (the
  one with the most nights when a patient lists several);
- ``transfer`` 11: per change of room between consecutive nights.

Patients with no night inside the planning horizon (admission = discharge, or admission at or after the
horizon) are left out, as OptaPlanner's importer does; stays running past the horizon are cut at it. Costs are
kept in tenths (integers) inside; reported in the original units. Published best costs were not retrieved
(SOURCE.md), so there is no gap to quote; these figures are our cost under our reading of the definition.

The solver keeps each patient in one room for the whole stay (a transfer always costs, and a room change can
only help when capacity is tight). It starts from a greedy plan (by admission night, the cheapest room with
space every night, avoiding a gender mix in ``D`` rooms when it can), then runs a large-neighbourhood search:
the patients present in a window of nights are freed and re-solved with CP-SAT while everyone else keeps
their room — ``x[p, r]`` per freed patient and candidate room (the rooms whose per-night cost is within
``CANDIDATE_SLACK`` of the patient's cheapest, at least ``MIN_CANDIDATES``, plus the greedy plan's room), a
capacity per room and night net of the fixed patients, and per ``D`` room and night a mixed-gender
indicator; patients left without a room cost ``UNPLACED_PER_NIGHT`` a night (a hard violation for the
validator). Beds within a room are handed out first-fit by admission night.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from datasets.errors import Cancelled, HospOpsError
from datasets.progress import Reporter

# original weights, in tenths
W = {"gender": 50, "required_property": 50, "age": 100, "preferred_property": 20, "room_size": 8,
     "department_specialism": 10, "transfer": 110}
COMPONENTS = tuple(W)
UNPLACED_PER_NIGHT = 10_000  # tenths: 1000 a night
CANDIDATE_SLACK = 20  # tenths
MIN_CANDIDATES = 10
LNS_PATIENTS = 120  # patients freed per large-neighbourhood step
LNS_STEP_S = 2.0


@dataclass(frozen=True)
class PasDepartment:
    id: str
    name: str
    min_age: int | None
    max_age: int | None
    specialisms: dict[str, int]  # specialism -> level (1 main)


@dataclass(frozen=True)
class PasRoom:
    id: str
    name: str
    capacity: int
    department: str
    gender: str  # D, M, F, N
    specialisms: dict[str, int]  # specialism -> priority
    properties: tuple[bool, ...]


@dataclass(frozen=True)
class PasPatient:
    id: str
    name: str
    age: int
    gender: str
    admission: int
    discharge: int  # exclusive: nights admission .. discharge-1 (cut at the horizon)
    specialism: str
    preferred_capacity: int  # 0 = none
    required: tuple[bool, ...]
    preferred: tuple[bool, ...]

    @property
    def nights(self) -> range:
        return range(self.admission, self.discharge)


@dataclass(frozen=True)
class PasInstance:
    name: str
    horizon: int
    properties: tuple[str, ...]
    specialisms: dict[str, str]
    departments: dict[str, PasDepartment]
    rooms: dict[str, PasRoom]
    beds: dict[str, str]  # bed -> room
    patients: tuple[PasPatient, ...]
    skipped: int = 0  # patients listed without a night in the horizon


@dataclass
class PasSolution:
    """For each patient the bed of each night of the stay (``None`` = unplaced)."""
    beds: dict[str, list[str] | None]

    def to_text(self) -> str:
        return "\n".join(f"{p} " + (" ".join(b) if b else "-") for p, b in self.beds.items()) + "\n"


@dataclass
class PasReport:
    cost: float
    components: dict[str, float]
    hard: dict[str, int]
    messages: list[str] = field(default_factory=list)

    @property
    def hard_violations(self) -> int:
        return sum(self.hard.values())

    @property
    def feasible(self) -> bool:
        return self.hard_violations == 0


# ------------------------------------------------------------------------------------------------ reader
def read_instance(path) -> PasInstance:
    path = Path(path)
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines()]
    except OSError as exc:
        raise HospOpsError(f"Cannot read {path}: {exc.strerror}.") from None
    if not lines or not lines[0].startswith("ARTICLE BENCHMARK DATA SET"):
        raise HospOpsError(f"{path.name} is not a PAS instance (it should start with 'ARTICLE BENCHMARK DATA SET').")
    head: dict[str, int] = {}
    sections: dict[str, list[str]] = {}
    cur = None
    for ln in lines[1:]:
        if not ln or ln == "END.":
            continue
        if ln.endswith(":") and ln[:-1].isupper():
            cur = ln[:-1]
            sections[cur] = []
        elif cur is None:
            k, _, v = ln.partition(":")
            head[k.strip().lower()] = int(v)
        else:
            sections[cur].append(ln)
    try:
        return _parse(path.stem, head, sections)
    except (KeyError, ValueError, IndexError) as exc:
        raise HospOpsError(f"{path.name} is not a readable PAS instance ({exc!r}).") from None


def _pairs(tokens: list[str]) -> list[tuple[str, str]]:
    return [(tokens[i], tokens[i + 1]) for i in range(0, len(tokens) - 1, 2)]


def _parse(name: str, head: dict[str, int], sec: dict[str, list[str]]) -> PasInstance:
    horizon = head["planning horizon"]
    specs = {ln.split()[0]: ln.split()[1] for ln in sec["SPECIALISMS"]}
    props = tuple(ln.split()[1] for ln in sec["ROOMPROPERTIES"])
    deps = {}
    for ln in sec["DEPARTMENTS"]:
        a, _, b = ln.partition("|")
        t = a.split()
        lo, hi = int(t[2]), int(t[3])
        deps[t[0]] = PasDepartment(t[0], t[1], lo or None, hi or None, {s: int(lv) for lv, s in _pairs(b.split())})
    rooms = {}
    for ln in sec["ROOMS"]:
        f = [x.split() for x in ln.split("|")]
        rooms[f[0][0]] = PasRoom(f[0][0], f[0][1], int(f[1][0]), f[2][0], f[3][0],
                                 {s: int(pr) for pr, s in _pairs(f[4])}, tuple(x == "1" for x in f[5]))
    beds = {ln.split()[0]: ln.split()[1] for ln in sec["BEDS"]}
    patients, skipped = [], 0
    for ln in sec["PATIENTS"]:
        f = [x.split() for x in ln.split("|")]
        adm, dis = int(f[1][0]), min(int(f[1][1]), horizon)
        if dis <= adm:
            skipped += 1
            continue
        k = int(f[2][0])
        pairs = [(f[2][1 + 2 * i], int(f[2][2 + 2 * i])) for i in range(k)]
        spec = max(pairs, key=lambda sn: sn[1])[0] if pairs else ""
        patients.append(PasPatient(f[0][0], f[0][1], int(f[0][2]), f[0][3], adm, dis, spec, int(f[3][0]),
                                   tuple(x == "1" for x in f[4]), tuple(x == "1" for x in f[5])))
    for b, r in beds.items():
        if r not in rooms:
            raise KeyError(f"bed {b} in unknown room {r}")
    for r in rooms.values():
        if r.department not in deps:
            raise KeyError(f"room {r.id} in unknown department {r.department}")
    return PasInstance(name, horizon, props, specs, deps, rooms, beds, tuple(patients), skipped)


# ------------------------------------------------------------------------------------------------ costs
def night_cost(inst: PasInstance, p: PasPatient, r: PasRoom) -> dict[str, int]:
    """Per-night cost components (tenths) of patient ``p`` in room ``r``, without the room-level gender mix."""
    d = inst.departments[r.department]
    c = dict.fromkeys(COMPONENTS, 0)
    if r.gender in ("M", "F") and p.gender != r.gender:
        c["gender"] = W["gender"]
    c["required_property"] = W["required_property"] * sum(1 for need, has in zip(p.required, r.properties)
                                                          if need and not has)
    c["preferred_property"] = W["preferred_property"] * sum(1 for want, has in zip(p.preferred, r.properties)
                                                            if want and not has)
    if (d.min_age is not None and p.age < d.min_age) or (d.max_age is not None and p.age > d.max_age):
        c["age"] = W["age"]
    if p.preferred_capacity and r.capacity > p.preferred_capacity:
        c["room_size"] = W["room_size"] * (r.capacity - p.preferred_capacity)
    if p.specialism not in d.specialisms:
        c["department_specialism"] = W["department_specialism"]
    return c


def validate(inst: PasInstance, sol: PasSolution) -> PasReport:
    """Recompute the hard rule (one patient per bed and night, every night of every stay in a known bed) and
    the cost, from the solution alone."""
    hard = {"bed_night_double_booked": 0, "unplaced_nights": 0, "unknown_bed": 0}
    comp = dict.fromkeys(COMPONENTS, 0)
    msgs: list[str] = []
    holder: dict[tuple[str, int], str] = {}
    sexes: dict[tuple[str, int], set[str]] = {}
    for p in inst.patients:
        bl = sol.beds.get(p.id)
        if not bl:
            hard["unplaced_nights"] += len(p.nights)
            msgs.append(f"patient {p.id} has no bed")
            continue
        if len(bl) != len(p.nights):
            hard["unplaced_nights"] += max(0, len(p.nights) - len(bl))
            msgs.append(f"patient {p.id}: {len(bl)} beds for {len(p.nights)} nights")
        prev = None
        for t, b in zip(p.nights, bl):
            if b not in inst.beds:
                hard["unknown_bed"] += 1
                msgs.append(f"patient {p.id}: unknown bed {b}")
                continue
            if (b, t) in holder:
                hard["bed_night_double_booked"] += 1
                msgs.append(f"bed {b} night {t}: patients {holder[b, t]} and {p.id}")
            holder[b, t] = p.id
            room = inst.rooms[inst.beds[b]]
            for k, v in night_cost(inst, p, room).items():
                comp[k] += v
            if prev is not None and prev != room.id:
                comp["transfer"] += W["transfer"]
            prev = room.id
            sexes.setdefault((room.id, t), set()).add(p.gender)
    for (rid, _t), g in sexes.items():
        if inst.rooms[rid].gender == "D" and len(g) > 1:
            comp["gender"] += W["gender"]
    comps = {k: v / 10 for k, v in comp.items()}
    return PasReport(cost=sum(comp.values()) / 10, components=comps, hard=hard, messages=msgs)


# ------------------------------------------------------------------------------------------------ mapping
def to_bed_problem(inst: PasInstance):
    """The instance as one of our several-day bed problems: departments as units, the beds with their room,
    single-sex rooms (M/F) as single-sex beds, and each patient a planned admission whose window is the one
    admission night, keeping the bed for the stay. Our model's hard rules then mean what PAS's do (one patient
    a bed a night); PAS's costs have no counterpart in our weights, so :func:`solve_pas` optimizes them."""
    from optimization.beds.model import Bed, BedProblem, Patient, Unit

    units = tuple(Unit(d.id, specialty=f"specialism{min(d.specialisms, key=d.specialisms.get)}"
                       if d.specialisms else "medicine") for d in inst.departments.values())
    beds = tuple(Bed(b, inst.rooms[r].department, room=r,
                     sex=inst.rooms[r].gender if inst.rooms[r].gender in ("M", "F") else None)
                 for b, r in inst.beds.items())
    pats = tuple(Patient(p.id, sex=p.gender, age=max(p.age, 16), specialty=f"specialism{p.specialism}",
                         kind="elective", window=(p.admission, p.admission), los_days=len(p.nights))
                 for p in inst.patients)
    return BedProblem(units=units, beds=beds, patients=pats, days=inst.horizon)


# ------------------------------------------------------------------------------------------------ solve
def _submodel(inst: PasInstance, free: list[PasPatient], cand: dict[str, list[str]], nc: dict, fixed: dict,
              hint: dict[str, str | None]):
    """CP-SAT model for the patients in ``free`` with everyone else kept where ``fixed`` puts them.
    Returns (model, x, unplaced)."""
    from ortools.sat.python import cp_model

    pmap = {p.id: p for p in inst.patients}
    load: dict[tuple[str, int], int] = {}
    sexes: dict[tuple[str, int], set[bool]] = {}
    for pid, r in fixed.items():
        if r is not None:
            for t in pmap[pid].nights:
                load[r, t] = load.get((r, t), 0) + 1
                sexes.setdefault((r, t), set()).add(pmap[pid].gender == "M")
    m = cp_model.CpModel()
    x = {}
    for p in free:
        for r in cand[p.id]:
            room = inst.rooms[r]
            if all(load.get((r, t), 0) < room.capacity for t in p.nights):
                x[p.id, r] = m.new_bool_var(f"x[{p.id},{r}]")
    unplaced = {p.id: m.new_bool_var(f"unplaced[{p.id}]") for p in free}
    # hard: each patient one room for the whole stay (or unplaced, at a prohibitive cost)
    by_p: dict[str, list] = {p.id: [] for p in free}
    present: dict[tuple[str, int], list[tuple[bool, object]]] = {}
    for (pid, r), v in x.items():
        by_p[pid].append(v)
        for t in pmap[pid].nights:
            present.setdefault((r, t), []).append((pmap[pid].gender == "M", v))
    for p in free:
        m.add_exactly_one(by_p[p.id] + [unplaced[p.id]])
    # hard: a room holds at most its capacity each night
    for (r, t), lst in present.items():
        room_left = inst.rooms[r].capacity - load.get((r, t), 0)
        if len(lst) > room_left:
            m.add(sum(v for _, v in lst) <= room_left)
    # soft: per-night patient-room costs, unplaced patients
    terms = [nc[pid, r] * len(pmap[pid].nights) * v for (pid, r), v in x.items() if nc[pid, r]]
    terms += [UNPLACED_PER_NIGHT * len(pmap[pid].nights) * u for pid, u in unplaced.items()]
    # soft: same gender per room and night in 'D' rooms (a night already mixed by fixed patients is a constant)
    hint_sex: dict[tuple[str, int], set[bool]] = {}
    for pid, r in hint.items():
        if r is not None and pid in by_p:
            for t in pmap[pid].nights:
                hint_sex.setdefault((r, t), set()).add(pmap[pid].gender == "M")
    for (r, t), lst in present.items():
        room = inst.rooms[r]
        fixed_sex = sexes.get((r, t), set())
        if room.gender != "D" or len(fixed_sex) > 1:
            continue
        has = {}
        for male in (True, False):
            vs = [v for g, v in lst if g == male]
            if male in fixed_sex:
                has[male] = 1
            elif vs:
                h = m.new_bool_var(f"has_{'m' if male else 'f'}[{r},{t}]")
                m.add(sum(vs) <= len(vs) * h)
                m.add_hint(h, male in hint_sex.get((r, t), set()))
                has[male] = h
            else:
                has[male] = 0
        if isinstance(has[True], int) and isinstance(has[False], int):
            continue
        mixed = m.new_bool_var(f"gender_mixed[{r},{t}]")
        m.add(mixed >= has[True] + has[False] - 1)
        m.add_hint(mixed, len(hint_sex.get((r, t), set()) | fixed_sex) > 1)
        terms.append(W["gender"] * mixed)
    m.minimize(sum(terms))
    for (pid, r), v in x.items():
        m.add_hint(v, hint.get(pid) == r)
    for pid, u in unplaced.items():
        m.add_hint(u, hint.get(pid) is None or (pid, hint.get(pid)) not in x)
    return m, x, unplaced


def solve(inst: PasInstance, time_limit_s: float = 60.0, progress=None, should_stop=None,
          on_solution: Callable[[float, float, float], None] | None = None, workers: int = 2,
          params: dict | None = None):
    """Greedy start, then large-neighbourhood search with CP-SAT (see the module docstring).
    Returns ``(solution, report, stats)``."""
    from ortools.sat.python import cp_model

    from optimization.cpsat import cp_solver

    rep = Reporter(progress, should_stop)
    t0 = time.perf_counter()
    rep(0.0, f"PAS {inst.name}: building the model")
    pmap = {p.id: p for p in inst.patients}
    nc: dict[tuple[str, str], int] = {}
    cand: dict[str, list[str]] = {}
    for p in inst.patients:
        costs = sorted((sum(night_cost(inst, p, r).values()), r.id) for r in inst.rooms.values())
        best = costs[0][0]
        keep = [rid for c, rid in costs if c <= best + CANDIDATE_SLACK]
        cand[p.id] = keep if len(keep) >= MIN_CANDIDATES else [rid for _, rid in costs[:MIN_CANDIDATES]]
        for c, rid in costs:
            nc[p.id, rid] = c

    # greedy start: by admission night, the cheapest room (any room: it joins the candidates) with space every
    # night, avoiding a gender mix in D rooms when it can
    load: dict[tuple[str, int], int] = {}
    sex_in: dict[tuple[str, int], set[str]] = {}
    greedy: dict[str, str | None] = {}
    for p in sorted(inst.patients, key=lambda q: (q.admission, -len(q.nights))):
        choice = None
        for relax in (False, True):
            for r in sorted(inst.rooms, key=lambda r: nc[p.id, r]):
                room = inst.rooms[r]
                if any(load.get((r, t), 0) >= room.capacity for t in p.nights):
                    continue
                if not relax and room.gender == "D" and any(sex_in.get((r, t), {p.gender}) != {p.gender}
                                                             for t in p.nights):
                    continue
                choice = r
                break
            if choice:
                break
        greedy[p.id] = choice
        if choice:
            for t in p.nights:
                load[choice, t] = load.get((choice, t), 0) + 1
                sex_in.setdefault((choice, t), set()).add(p.gender)
            if choice not in cand[p.id]:
                cand[p.id].append(choice)

    def cost_of(assign: dict[str, str | None]) -> int:
        tot, sx = 0, {}
        for pid, r in assign.items():
            p = pmap[pid]
            if r is None:
                tot += UNPLACED_PER_NIGHT * len(p.nights)
                continue
            tot += nc[pid, r] * len(p.nights)
            if inst.rooms[r].gender == "D":
                for t in p.nights:
                    sx.setdefault((r, t), set()).add(p.gender == "M")
        return tot + W["gender"] * sum(1 for g in sx.values() if len(g) > 1)

    # large neighbourhood search: free the patients present in a window of nights (about LNS_PATIENTS), keep
    # the others in their rooms, re-solve those with CP-SAT, keep improvements. (CP-SAT on the whole model
    # with 2 workers did not improve on the greedy start in 30 s on testdata01; alternating with "swap among a
    # few rooms" steps was tried and was not clearly better under the load of the shared machine.)
    cur = dict(greedy)
    cur_cost = cost_of(cur)
    build_s = time.perf_counter() - t0
    rng = random.Random(0)
    deadline = t0 + float(time_limit_s)
    iters = improved = optimal_steps = 0
    by_start = sorted(inst.patients, key=lambda q: q.admission)
    size = LNS_PATIENTS
    while deadline - time.perf_counter() > 0.2:
        if rep.should_stop():
            raise Cancelled()
        iters += 1
        a = rng.randrange(inst.horizon)
        b = a + 1
        while True:
            free = [p for p in by_start if p.admission < b and p.discharge > a]
            if len(free) >= size or (a == 0 and b >= inst.horizon):
                break
            a, b = max(0, a - 1), min(inst.horizon, b + 1)
        ids = {p.id for p in free}
        m, x, unplaced = _submodel(inst, free, cand, nc, {pid: r for pid, r in cur.items() if pid not in ids}, cur)
        solver = cp_solver(max(0.05, min(LNS_STEP_S, deadline - time.perf_counter())), workers, **(params or {}))
        st = solver.solve(m)
        if st == cp_model.OPTIMAL:
            optimal_steps += 1
            size = min(len(inst.patients), int(size * 1.2) + 1)  # easy: widen the window
        elif st != cp_model.FEASIBLE:
            size = max(20, int(size * 0.8))
        if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            new = dict(cur)
            for pid in ids:
                new[pid] = None
            for (pid, r), v in x.items():
                if solver.boolean_value(v):
                    new[pid] = r
            c = cost_of(new)
            if c < cur_cost:
                cur, cur_cost, improved = new, c, improved + 1
                el = time.perf_counter() - t0
                if on_solution:
                    on_solution(cur_cost / 10, float("nan"), el)
                rep.progress(min(0.95, 0.05 + 0.9 * el / max(time_limit_s, 1e-6)), f"cost {cur_cost / 10:,.1f}")
    sol = PasSolution(_hand_out_beds(inst, {pid: r for pid, r in cur.items() if r}))
    report = validate(inst, sol)
    stats = {"seconds": time.perf_counter() - t0, "build_s": build_s, "greedy_cost": cost_of(greedy) / 10,
             "lns_iterations": iters, "lns_improvements": improved, "lns_optimal_steps": optimal_steps,
             "neighbourhood": size, "unplaced": sum(1 for v in sol.beds.values() if not v)}
    rep(1.0, f"PAS {inst.name}: cost {report.cost:,.1f}")
    return sol, report, stats


def _hand_out_beds(inst: PasInstance, room_of: dict[str, str]) -> dict[str, list[str] | None]:
    """First-fit by admission night within each room: a bed per patient for the whole stay."""
    beds_in: dict[str, list[str]] = {}
    for b, r in inst.beds.items():
        beds_in.setdefault(r, []).append(b)
    free_from = {b: 0 for b in inst.beds}
    out: dict[str, list[str] | None] = {p.id: None for p in inst.patients}
    for p in sorted(inst.patients, key=lambda q: (q.admission, q.id)):
        r = room_of.get(p.id)
        if r is None:
            continue
        b = next((b for b in sorted(beds_in.get(r, [])) if free_from[b] <= p.admission), None)
        if b is None:
            continue  # over the room's capacity: left unplaced, the validator reports it
        free_from[b] = p.discharge
        out[p.id] = [b] * len(p.nights)
    return out


def read_solution(path, inst: PasInstance) -> PasSolution:
    """Our solution text (what ``PasSolution.to_text`` writes): one line per patient, ``id bed bed ...`` (the
    bed of each night of the stay) or ``id -`` when unplaced."""
    beds: dict[str, list[str] | None] = {p.id: None for p in inst.patients}
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise HospOpsError(f"Cannot read {path}: {exc.strerror}.") from None
    for n, ln in enumerate(text.splitlines(), 1):
        t = ln.split()
        if not t:
            continue
        if t[0] not in beds:
            raise HospOpsError(f"{Path(path).name} line {n}: patient {t[0]} is not in {inst.name}.")
        beds[t[0]] = None if t[1:] == ["-"] else t[1:]
    return PasSolution(beds)
