"""IHTC-2024: two CP-SAT models solved in turn (block-coordinate descent), then simulated annealing.

A. *Patients* — ``x[p, d, r]`` (patient p admitted on day d into room r) and ``w[p, d, t]`` (operated on day d
   in theatre t), with every hard rule of the competition except nurse cover (capacity with occupants,
   gender per room-day, incompatible rooms, release/due days, surgeon and theatre minutes) and the costs
   unscheduled, delay, open theatres, surgeon transfers and age mix. The first time it runs there is no
   nurse roster and nurse costs are left out; afterwards the roster (a nurse for every room and shift) is
   fixed, and skill shortfall and continuity become exact constants per (p, d, r). Excess workload is left
   to B (as a linear sum per nurse-shift it made A too slow to find anything in its time slice).
B. *Nurses* — given who is in which room, ``y[r, s, n]``: exactly one working nurse per occupied room-shift,
   minimising skill shortfall, excess workload and continuity of care. Empty room-shifts are then given a
   nurse too (at no cost), so that A can place patients anywhere.

Model A is built once; later rounds only change its objective and start from its previous solution (a
complete hint), B starts from the previous roster. Every round's plan is scored by the independent
validator (``optimization.beds.ihtc``) and the best one is kept and returned; a round that comes out worse
(A does not see excess workload) is dropped and the next starts from the best. The rounds have the first
``1 - SEARCH_SHARE`` of the time limit: 45 % of it for the first A, 20 % for the first B (which may borrow
from the search: without a roster there is no plan), then slices of 15 % (A) and 8 % (B).

The rest of the time goes to :mod:`optimization.beds.ihtc_search`, simulated annealing from the best plan of
the rounds with patients and nurses moved together under the whole objective: the rounds settle where
neither model can improve alone (on i02, ten times the time found nothing better), and the search goes on
from there. On the public instances at 60 s it took the mean gap to the best known from 39 % to 16 %
(BENCHMARKS.md).

Large instances: the first A starts from :func:`greedy_plan` (a feasible plan in milliseconds, completed
into a full hint), and CP-SAT's presolve is switched off above ``PRESOLVE_MAX_VARS`` variables and in every
hinted round: with presolve, i27 (148,000 x variables) found nothing in 60 s on the shared machine; without
it the hinted plan is the first solution after about a second. If A still finds nothing, the greedy plan
is used as it is.
"""
from __future__ import annotations

import time
from collections import defaultdict
from typing import Callable

from datasets.errors import Cancelled, HospOpsError
from datasets.progress import Reporter
from optimization.beds.ihtc import IhtcInstance, IhtcReport, IhtcSolution, admission_window, validate
from optimization.beds.ihtc_search import anneal


PRESOLVE_MAX_VARS = 30_000
SEARCH_SHARE = 0.5  # of the time limit, for the local search from the decomposition's best plan


def _days_for(inst: IhtcInstance, p) -> list[int]:
    out = []
    for d in admission_window(inst, p):
        if inst.surgeon_max[p.surgeon][d] < p.duration:
            continue
        if not any(av[d] >= p.duration for av in inst.ot_avail.values()):
            continue
        out.append(d)
    return out


def _run(cp_model, model, limit: float, workers: int, seed: int, rep: Reporter, t0: float, label: str,
         total: float, report_cost: Callable[[float], float] | None = None, on_solution=None,
         presolve: bool | None = None, first_solution: bool = False):
    """One CP-SAT slice of at most ``limit`` seconds; progress is the time since ``t0`` over ``total``, the
    whole solve's limit, so the bar moves forward across rounds and into the search instead of refilling
    for each slice."""
    from optimization.cpsat import cp_solver

    solver = cp_solver(max(0.2, limit), workers, seed, stop_after_first_solution=first_solution)
    if presolve is False or (presolve is None and len(model.proto.variables) > PRESOLVE_MAX_VARS):
        # on large models presolve alone can eat the whole slice; without it the hinted plan is found at once
        solver.parameters.cp_model_presolve = False

    class CB(cp_model.CpSolverSolutionCallback):
        def __init__(self):
            super().__init__()
            self.cancelled = False

        def on_solution_callback(self):
            el = time.perf_counter() - t0
            obj = self.objective_value
            shown = report_cost(obj) if report_cost else obj
            if on_solution:
                on_solution(shown, float("nan"), el)
            rep.progress(min(0.99, el / max(total, 1e-6)), f"{label}: cost {shown:,.0f}")
            if rep.should_stop():
                self.cancelled = True
                self.stop_search()

    cb = CB()
    st = solver.solve(model, cb)
    if cb.cancelled or rep.should_stop():
        raise Cancelled()
    return solver, st


def _complete_hint(cp_model, m, workers: int, limit: float = 5.0) -> bool:
    """Turn the model's partial hint (the decision variables) into a complete one: solve a copy with those
    variables fixed (only the auxiliary variables are left, so it is quick), then hint every variable.
    A complete, feasible hint makes CP-SAT start from the previous solution instead of losing it."""
    hint = m.proto.solution_hint
    if not len(hint.vars):
        return False
    c = m.clone()
    for i, val in zip(list(hint.vars), list(hint.values)):
        c.add(c.get_int_var_from_proto_index(i) == val)
    from optimization.cpsat import cp_solver

    solver = cp_solver(limit, workers)
    st = solver.solve(c)
    if st not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return False
    sol = list(solver.response_proto.solution)
    m.clear_hints()
    for i, val in enumerate(sol):
        m.add_hint(m.get_int_var_from_proto_index(i), val)
    return True


def greedy_plan(inst: IhtcInstance) -> IhtcSolution | None:
    """A quick feasible admission plan (no nurses): mandatory patients first, then optional ones, each on the
    earliest day and the first room and theatre where every hard rule still holds. Mandatory patients are
    tried in a few orders (due day; fewest possible days; longest stay); None when every order leaves one
    without a place (the solver then starts from nothing)."""
    D = inst.days
    orders = [
        lambda p: (not p.mandatory, p.due if p.due is not None else D, p.release),
        lambda p: (not p.mandatory, len(_days_for(inst, p)), -p.los),
        lambda p: (not p.mandatory, -p.los, p.due if p.due is not None else D),
    ]
    for key in orders:
        plan = _greedy(inst, sorted(inst.patients, key=key))
        if plan is not None:
            return plan
    return None


def _greedy(inst: IhtcInstance, order) -> IhtcSolution | None:
    D = inst.days
    load = defaultdict(int)  # (room, day) -> patients
    gender: dict[tuple[str, int], str] = {}
    for o in inst.occupants:
        for d in range(min(o.los, D)):
            load[o.room, d] += 1
            gender[o.room, d] = o.gender
    surg = defaultdict(int)
    ot_used = defaultdict(int)
    adm: dict[str, int | None] = {p.id: None for p in inst.patients}
    room: dict[str, str | None] = {p.id: None for p in inst.patients}
    ot: dict[str, str | None] = {p.id: None for p in inst.patients}
    for p in order:
        done = False
        for d in _days_for(inst, p):
            if surg[p.surgeon, d] + p.duration > inst.surgeon_max[p.surgeon][d]:
                continue
            ots = [t for t in inst.ot_avail if ot_used[t, d] + p.duration <= inst.ot_avail[t][d]]
            if not ots:
                continue
            for r in inst.rooms:
                if r in p.incompatible:
                    continue
                days = range(d, min(d + p.los, D))
                if all(load[r, t] < inst.rooms[r] and gender.get((r, t), p.gender) == p.gender for t in days):
                    t_pick = max(ots, key=lambda t: (ot_used[t, d] > 0, -ot_used[t, d]))  # an open theatre first
                    for t in days:
                        load[r, t] += 1
                        gender[r, t] = p.gender
                    surg[p.surgeon, d] += p.duration
                    ot_used[t_pick, d] += p.duration
                    adm[p.id], room[p.id], ot[p.id] = d, r, t_pick
                    done = True
                    break
            if done:
                break
        if not done and p.mandatory:
            return None
    return IhtcSolution(adm, room, ot, {})


def _hint_plan(m, x, w, plan: IhtcSolution) -> None:
    m.clear_hints()
    for (pid, d, r), v in x.items():
        m.add_hint(v, plan.admission.get(pid) == d and plan.room.get(pid) == r)
    for (pid, d, o), v in w.items():
        m.add_hint(v, plan.admission.get(pid) == d and plan.theater.get(pid) == o)


class _Stays:
    """Who is in which room in each shift, for a given admission plan."""

    def __init__(self, inst: IhtcInstance, admission, room):
        D, S = inst.days, len(inst.shift_types)
        self.present: dict[tuple[str, int], list] = defaultdict(list)
        self.stays = [(o, o.room, 0) for o in inst.occupants] + [
            (p, room[p.id], admission[p.id]) for p in inst.patients if admission.get(p.id) is not None]
        for p, r, d0 in self.stays:
            for d in range(d0, min(d0 + p.los, D)):
                for s in range(S):
                    self.present[r, d * S + s].append((p, (d - d0) * S + s))


def _patients_model(inst: IhtcInstance):
    """Model A without nurse costs. Returns (model, x, w, terms of the objective); the objective is set by
    the caller (see :func:`_nurse_costs`)."""
    from ortools.sat.python import cp_model

    D, S = inst.days, len(inst.shift_types)
    W = {k: inst.weight(k) for k in ("AgeMix", "Delay", "OpenOT", "SurgeonTransfer", "Unscheduled", "Skill",
                                      "Excess", "Continuity")}
    m = cp_model.CpModel()
    rooms = list(inst.rooms)
    ots = list(inst.ot_avail)
    occ_n = defaultdict(int)
    occ_g: dict[tuple[str, int], set] = defaultdict(set)
    occ_a: dict[tuple[str, int], set] = defaultdict(set)
    for o in inst.occupants:
        for d in range(min(o.los, D)):
            occ_n[o.room, d] += 1
            occ_g[o.room, d].add(o.gender)
            occ_a[o.room, d].add(o.age)
    genders = sorted({p.gender for p in inst.patients} | {o.gender for o in inst.occupants})
    if len(genders) > 2:
        raise HospOpsError("IHTC instance has more than two genders; the model handles two.")

    x: dict[tuple[str, int, str], object] = {}
    w: dict[tuple[str, int, str], object] = {}
    adm: dict[tuple[str, int], list] = defaultdict(list)
    cover: dict[tuple[str, int], list] = defaultdict(list)
    terms = []
    for p in inst.patients:
        days = _days_for(inst, p)
        if p.mandatory and not days:
            raise HospOpsError(f"IHTC instance: mandatory patient {p.id} has no feasible admission day.")
        prs = [r for r in rooms if r not in p.incompatible]
        for d in days:
            for r in prs:
                v = m.new_bool_var(f"x[{p.id},{d},{r}]")
                x[p.id, d, r] = v
                adm[p.id, d].append(v)
                for t in range(d, min(d + p.los, D)):
                    cover[r, t].append((p, v))
                c = W["Delay"] * (d - p.release)
                if c:
                    terms.append(c * v)
            ws = []
            for o in ots:
                if inst.ot_avail[o][d] >= p.duration:
                    v = m.new_bool_var(f"w[{p.id},{d},{o}]")
                    w[p.id, d, o] = v
                    ws.append(v)
            m.add(sum(ws) == sum(adm[p.id, d]))
        total = sum(v for d in days for v in adm[p.id, d])
        if p.mandatory:
            m.add(total == 1)  # mandatory patients are admitted in their window
        else:
            m.add(total <= 1)
            terms.append(W["Unscheduled"] * (1 - total))  # unscheduled optional patient

    for r in rooms:
        for t in range(D):
            lst = cover.get((r, t), [])
            if not lst:
                continue
            # room capacity (occupants included)
            m.add(sum(v for _, v in lst) <= max(inst.rooms[r] - occ_n[r, t], 0))
            # one gender per room-day
            if len(genders) == 2:
                g = m.new_bool_var(f"g[{r},{t}]")
                if occ_g[r, t]:
                    m.add(g == (1 if genders[1] in occ_g[r, t] else 0))
                a_list = [v for p, v in lst if p.gender == genders[0]]
                b_list = [v for p, v in lst if p.gender == genders[1]]
                if a_list:
                    m.add(sum(a_list) <= len(a_list) * (1 - g))
                if b_list:
                    m.add(sum(b_list) <= len(b_list) * g)
            # age mix: oldest minus youngest age group present
            groups = sorted({p.age for p, _ in lst} | occ_a[r, t])
            if len(groups) > 1:
                ag = {}
                for k in groups:
                    if k in occ_a[r, t]:
                        ag[k] = 1
                    else:
                        vk = [v for p, v in lst if p.age == k]
                        b = m.new_bool_var(f"age[{r},{t},{k}]")
                        m.add(sum(vk) <= len(vk) * b)
                        ag[k] = b
                mix = m.new_int_var(0, len(inst.age_groups), f"agemix[{r},{t}]")
                for i, k1 in enumerate(groups):
                    for k2 in groups[i + 1:]:
                        m.add(mix >= (k2 - k1) * (ag[k1] + ag[k2] - 1))
                terms.append(W["AgeMix"] * mix)

    pmap = {p.id: p for p in inst.patients}
    # surgeon minutes per day
    by_sd: dict[tuple[str, int], list] = defaultdict(list)
    for (pid, d), vs in adm.items():
        p = pmap[pid]
        by_sd[p.surgeon, d].extend((p.duration, v) for v in vs)
    for (s, d), lst in by_sd.items():
        if sum(c for c, _ in lst) > inst.surgeon_max[s][d]:
            m.add(sum(c * v for c, v in lst) <= inst.surgeon_max[s][d])
    # theatre minutes per day and open theatres
    by_od: dict[tuple[str, int], list] = defaultdict(list)
    by_sod: dict[tuple[str, int, str], list] = defaultdict(list)
    for (pid, d, o), v in w.items():
        by_od[o, d].append((pmap[pid].duration, v))
        by_sod[pmap[pid].surgeon, d, o].append(v)
    for (o, d), lst in by_od.items():
        opn = m.new_bool_var(f"open[{o},{d}]")
        m.add(sum(c * v for c, v in lst) <= inst.ot_avail[o][d] * opn)
        terms.append(W["OpenOT"] * opn)
    # surgeon transfers
    used: dict[tuple[str, int], list] = defaultdict(list)
    for (s, d, o), vs in by_sod.items():
        u = m.new_bool_var(f"uses[{s},{d},{o}]")
        m.add(sum(vs) <= len(vs) * u)
        used[s, d].append(u)
    for (s, d), us in used.items():
        if len(us) > 1:
            tr = m.new_int_var(0, len(us), f"transfer[{s},{d}]")
            m.add(tr >= sum(us) - 1)
            terms.append(W["SurgeonTransfer"] * tr)
    return m, x, w, terms


def _nurse_costs(inst: IhtcInstance, roster: dict[tuple[str, int], str], x) -> tuple[list, int]:
    """With the roster fixed: skill shortfall and continuity of each (p, d, r) as objective terms, and the
    occupants' (constant) share."""
    D, S = inst.days, len(inst.shift_types)
    ws, wc = inst.weight("Skill"), inst.weight("Continuity")
    nurses = {n.id: n for n in inst.nurses}
    pmap = {p.id: p for p in inst.patients}
    const = 0
    for o in inst.occupants:
        seen = set()
        for k in range(min(o.los, D) * S):
            n = nurses[roster[o.room, k]]
            const += ws * max(0, o.skill[k] - n.skill)
            seen.add(n.id)
        const += wc * len(seen)
    terms = []
    for (pid, d, r), v in x.items():
        p = pmap[pid]
        c, seen = 0, set()
        for k in range((min(d + p.los, D) - d) * S):
            nid = roster[r, d * S + k]
            c += ws * max(0, p.skill[k] - nurses[nid].skill)
            seen.add(nid)
        c += wc * len(seen)
        if c:
            terms.append(c * v)
    return terms, const


def _nurses_model(inst: IhtcInstance, stays: _Stays, hint_roster: dict[tuple[str, int], str] | None):
    """Model B: a nurse for each occupied room-shift."""
    from ortools.sat.python import cp_model

    D, S = inst.days, len(inst.shift_types)
    W = {k: inst.weight(k) for k in ("Skill", "Excess", "Continuity")}
    working: dict[int, list] = defaultdict(list)
    for n in inst.nurses:
        for s in n.max_load:
            working[s].append(n)
    m = cp_model.CpModel()
    y: dict[tuple[str, int, str], object] = {}
    terms = []
    for (r, s), lst in stays.present.items():
        ns = working.get(s, [])
        if not ns:
            raise HospOpsError(f"IHTC: no nurse works shift {s}, but room {r} has patients.")
        vs = []
        for n in ns:
            v = m.new_bool_var(f"y[{r},{s},{n.id}]")
            y[r, s, n.id] = v
            vs.append(v)
            short = sum(max(0, p.skill[k] - n.skill) for p, k in lst)
            if short:
                terms.append(W["Skill"] * short * v)
        m.add_exactly_one(vs)  # one nurse covers each occupied room-shift
    by_ns: dict[tuple[str, int], list] = defaultdict(list)
    for (r, s, nid), v in y.items():
        by_ns[nid, s].append((sum(p.workload[k] for p, k in stays.present[r, s]), v))
    nurses = {n.id: n for n in inst.nurses}
    for (nid, s), lst in by_ns.items():
        cap = nurses[nid].max_load[s]
        if sum(c for c, _ in lst) > cap:
            ex = m.new_int_var(0, sum(c for c, _ in lst), f"excess[{nid},{s}]")
            m.add(ex >= sum(c * v for c, v in lst) - cap)
            terms.append(W["Excess"] * ex)
    # continuity: distinct nurses per patient
    for p, r, d0 in stays.stays:
        seen: dict[str, list] = defaultdict(list)
        for d in range(d0, min(d0 + p.los, D)):
            for s in range(S):
                for n in working.get(d * S + s, []):
                    seen[n.id].append(y[r, d * S + s, n.id])
        for nid, vs in seen.items():
            c = m.new_bool_var(f"cares[{p.id},{nid}]")
            for v in vs:
                m.add_implication(v, c)
            terms.append(W["Continuity"] * c)
    m.minimize(sum(terms))
    if hint_roster is not None:
        for (r, s, nid), v in y.items():
            m.add_hint(v, hint_roster.get((r, s)) == nid)
    return m, y, working


def _simple_roster(inst: IhtcInstance, stays: _Stays, working) -> dict[tuple[str, int], str]:
    """A nurse for each occupied room-shift without a solver: per shift, the busiest rooms first, each to the
    working nurse with the most load left."""
    out: dict[tuple[str, int], str] = {}
    for s in range(inst.n_shifts):
        rooms = [(sum(p.workload[k] for p, k in stays.present[r, s]), r)
                 for r in inst.rooms if stays.present.get((r, s))]
        if not rooms:
            continue
        if not working.get(s):
            raise HospOpsError(f"IHTC: no nurse works shift {s}, but rooms have patients.")
        left = {n.id: n.max_load[s] for n in working[s]}
        for load, r in sorted(rooms, reverse=True):
            nid = max(left, key=left.get)
            out[r, s] = nid
            left[nid] -= load
    return out


def _complete_roster(inst: IhtcInstance, chosen: dict[tuple[str, int], str], working) -> dict[tuple[str, int], str]:
    """A nurse for every room-shift: the chosen ones, and for empty room-shifts the nurse of the same room in
    the nearest earlier shift of that type if working, else the most skilled nurse working (no cost now)."""
    S = len(inst.shift_types)
    out = dict(chosen)
    for r in inst.rooms:
        for s in range(inst.n_shifts):
            if (r, s) in out:
                continue
            ns = working.get(s, [])
            if not ns:
                continue
            ids = {n.id for n in ns}
            pick = None
            for back in range(s - S, -1, -S):
                if out.get((r, back)) in ids:
                    pick = out[r, back]
                    break
            out[r, s] = pick or max(ns, key=lambda n: (n.skill, n.max_load[s])).id
    return out


def solve_ihtc(inst: IhtcInstance, time_limit_s: float = 60.0, progress=None, should_stop=None,
               on_solution: Callable[[float, float, float], None] | None = None, workers: int = 2,
               first_share: float = 0.45, seed: int = 0,
               search_share: float = SEARCH_SHARE) -> tuple[IhtcSolution, IhtcReport, dict]:
    """Solve an IHTC instance within ``time_limit_s``; returns (solution, validator report, statistics)."""
    from ortools.sat.python import cp_model

    rep = Reporter(progress, should_stop)
    t0 = time.perf_counter()
    total_s = time_limit_s
    decomp_s = total_s * (1.0 - search_share)  # the decomposition's part; the search has the rest

    def left() -> float:
        return decomp_s - (time.perf_counter() - t0)

    # ---------------------------------------------------------------- A without nurses
    rep(0.0, "Patients: admission days, rooms and theatres")
    m, x, w, base_terms = _patients_model(inst)
    plan = greedy_plan(inst)
    stats: dict = {"rounds": [], "greedy_start": plan is not None}
    if plan is None:
        # the greedy left a mandatory patient out (i16, i20: mandatory stays fill 90 % of the beds); without
        # costs CP-SAT finds a plan in seconds (4-6 s), with them none in 24 s
        fs, fst = _run(cp_model, m, decomp_s * first_share, workers, seed, rep, t0, "patients (a first plan)",
                       total_s, first_solution=True)
        if fst in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            plan = _extract_patients(inst, fs, x, w)
            stats["first_plan"] = "cp-sat"
    m.minimize(sum(base_terms))
    if plan is not None:  # start from a feasible plan: large instances on a busy machine need it
        _hint_plan(m, x, w, plan)
        _complete_hint(cp_model, m, workers)
    solver, st = _run(cp_model, m, decomp_s * first_share, workers, seed, rep, t0, "patients", total_s)
    total_left = total_s - (time.perf_counter() - t0)
    if st == cp_model.UNKNOWN and plan is None and total_left > 1.0:
        # nothing yet: most of what is left, the search's time too (without a plan there is nothing to search)
        solver, st = _run(cp_model, m, total_left * 0.8, workers, seed + 1, rep, t0, "patients", total_s)
    if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        sol = _extract_patients(inst, solver, x, w)
        a_values = list(solver.response_proto.solution)  # every variable of A: a complete hint for later rounds
    elif plan is not None:  # CP-SAT found nothing better in time: go on from the greedy plan
        sol = plan
        h = m.proto.solution_hint
        a_values = ([v for _, v in sorted(zip(list(h.vars), list(h.values)))]
                    if len(h.vars) == len(m.proto.variables) else None)
        stats["stage_a_fallback"] = "greedy"
    else:
        raise HospOpsError(f"IHTC: no admission plan found in {time.perf_counter() - t0:.0f} s "
                           f"({solver.status_name(st)}).", "Give it a longer --time-limit.")
    best_values = a_values
    # ---------------------------------------------------------------- B, then A and B in turn
    roster_full: dict[tuple[str, int], str] | None = None
    best_sol, best_rep = None, None
    k = 0
    while True:
        k += 1
        stays = _Stays(inst, sol.admission, sol.room)
        mb, y, working = _nurses_model(inst, stays, roster_full)
        if roster_full is not None:
            _complete_hint(cp_model, mb, workers)
        # the first roster may borrow from the search's time: without one there is no plan at all
        limit_b = max(0.5, min(left() if k > 1 else total_s - (time.perf_counter() - t0),
                               decomp_s * (0.2 if k == 1 else 0.08)))
        sb, stb = _run(cp_model, mb, limit_b, workers, seed + k, rep, t0, f"nurses (round {k})", total_s)
        if stb in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            chosen = {(r, s): nid for (r, s, nid), v in y.items() if sb.boolean_value(v)}
        elif best_sol is not None:
            break
        else:  # no roster in time (a large instance, a short limit): a simple one, which the search improves
            chosen = _simple_roster(inst, stays, working)
            stats["nurses_fallback"] = True
        roster_full = _complete_roster(inst, chosen, working)
        sol.nurse_rooms = _roster_to_nurse_rooms(chosen)
        report = validate(inst, sol)
        stats["rounds"].append({"round": k, "cost": report.cost, "feasible": report.feasible,
                                "seconds": round(time.perf_counter() - t0, 2)})
        if best_rep is None or (report.feasible, -report.cost) > (best_rep.feasible, -best_rep.cost):
            best_sol, best_rep, best_values = _copy(sol), report, a_values
            if on_solution:
                on_solution(float(report.cost), float("nan"), time.perf_counter() - t0)
        if left() < 1.0:
            break
        # A again, the roster fixed: skill and continuity exact; same constraints, so the last plan is a
        # complete feasible hint
        nurse_terms, const = _nurse_costs(inst, roster_full, x)
        m.minimize(sum(base_terms) + sum(nurse_terms))
        m.clear_hints()
        if a_values is not None:
            for i, val in enumerate(a_values):
                m.add_hint(m.get_int_var_from_proto_index(i), val)
        else:
            _hint_plan(m, x, w, sol)
            _complete_hint(cp_model, m, workers)
        limit_a = max(0.5, min(left() - 0.5, decomp_s * 0.15))
        sa, sta = _run(cp_model, m, limit_a, workers, seed + k, rep, t0, f"patients (round {k + 1})", total_s,
                       report_cost=lambda o, c=const: o + c, presolve=False)  # complete hint: start from it
        if sta not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break
        new = _extract_patients(inst, sa, x, w)
        occupied = _Stays(inst, new.admission, new.room).present
        new.nurse_rooms = _roster_to_nurse_rooms(
            {(r, s): nid for (r, s), nid in roster_full.items() if occupied.get((r, s))})
        r2 = validate(inst, new)  # exact: the roster covers every room-shift
        stats["rounds"].append({"round": k + 0.5, "cost": r2.cost, "feasible": r2.feasible,
                                "seconds": round(time.perf_counter() - t0, 2)})
        if (r2.feasible, -r2.cost) > (best_rep.feasible, -best_rep.cost):
            sol, a_values = new, list(sa.response_proto.solution)
            best_sol, best_rep, best_values = _copy(sol), r2, a_values
            if on_solution:
                on_solution(float(r2.cost), float("nan"), time.perf_counter() - t0)
        elif (r2.feasible, -r2.cost) == (best_rep.feasible, -best_rep.cost):
            sol, a_values = new, list(sa.response_proto.solution)
        else:
            sol, a_values = _copy(best_sol), best_values  # never continue from a worse plan
        if left() < 1.0:
            break
    if search_share > 0 and best_rep.feasible:
        rep(min(0.99, (time.perf_counter() - t0) / total_s), f"IHTC {inst.name}: local search from {best_rep.cost:,}")
        def on_improve(cost: int) -> None:
            if on_solution:
                on_solution(float(cost), float("nan"), time.perf_counter() - t0)

        def on_tick(_frac: float, cost: int) -> None:
            el = time.perf_counter() - t0
            rep.progress(min(0.99, el / total_s), f"IHTC {inst.name}: local search, cost {cost:,}")

        found, stats["search"] = anneal(inst, best_sol, total_s - (time.perf_counter() - t0), seed=seed,
                                        should_stop=rep.should_stop, on_improve=on_improve, on_tick=on_tick)
        found_rep = validate(inst, found)
        if found_rep.feasible and found_rep.cost < best_rep.cost:
            best_sol, best_rep = found, found_rep
        rep.check()
    stats["seconds"] = time.perf_counter() - t0
    rep(1.0, f"IHTC {inst.name}: cost {best_rep.cost:,} ({'feasible' if best_rep.feasible else 'INFEASIBLE'})")
    return best_sol, best_rep, stats


def _extract_patients(inst: IhtcInstance, solver, x, w) -> IhtcSolution:
    admission: dict[str, int | None] = {p.id: None for p in inst.patients}
    room: dict[str, str | None] = {p.id: None for p in inst.patients}
    theater: dict[str, str | None] = {p.id: None for p in inst.patients}
    for (pid, d, r), v in x.items():
        if solver.boolean_value(v):
            admission[pid], room[pid] = d, r
    for (pid, d, o), v in w.items():
        if solver.boolean_value(v):
            theater[pid] = o
    return IhtcSolution(admission, room, theater, {})


def _roster_to_nurse_rooms(chosen: dict[tuple[str, int], str]) -> dict[tuple[str, int], list[str]]:
    out: dict[tuple[str, int], list[str]] = defaultdict(list)
    for (r, s), nid in sorted(chosen.items()):
        out[nid, s].append(r)
    return dict(out)


def _copy(sol: IhtcSolution) -> IhtcSolution:
    return IhtcSolution(dict(sol.admission), dict(sol.room), dict(sol.theater),
                        {k: list(v) for k, v in sol.nurse_rooms.items()})
