"""Simulated annealing for IHTC-2024: moves on a complete solution, every cost kept exact as it goes.

The CP-SAT decomposition (:mod:`optimization.beds.ihtc_solver`) sees the nurse costs of a plan only through
the previous roster, so it settles where neither of its two models can improve alone. This search moves
patients and nurses together under the competition's whole objective. The state holds, per room-day and
room-shift, who is there and what they need; each move is a removal and an insertion (of a stay, a
surgery or a nurse) that updates those counts and the cost by the difference it makes, so a move costs
time in proportion to the length of the stay it touches, not to the size of the instance.

Every hard rule holds at every step: a move that would break one (capacity, gender, incompatible room,
admission window, surgeon and theatre minutes, a nurse who does not work the shift) is not made, and a
mandatory patient is never left out. Moves: another room; another admission day (with its room and theatre
kept where they fit); another theatre; an optional patient admitted or left out; two patients exchange
rooms; a room-shift gets another nurse (half the time one who covers the same room in a neighbouring
shift, which is what continuity of care rewards); two rooms of a shift exchange nurses. Acceptance is
Metropolis with a temperature falling geometrically with the time used; the best state seen is returned.
"""
from __future__ import annotations

import math
import random
import time
from typing import Callable

from optimization.beds.ihtc import IhtcInstance, IhtcSolution, admission_window

NEIGHBOUR_SHIFTS = 3  # a nurse "nearby" covers the room within this many shifts either side
T_END = 0.5  # final temperature (cost units; the smallest weights are 1)
T_START = 1.5  # starting temperature, as a multiple of the median cost increase of random moves
PATIENT_MOVES = 0.55  # share of moves on patients; the rest change (0.3) or swap (0.15) nurses
NURSE_SWAPS = 0.15
CHECK_EVERY = 256  # moves between clock checks
TICK_S = 0.5  # seconds between progress reports


def _mix(counts: list[int]) -> int:
    """Age mix of a room-day: oldest group index - youngest, 0 when empty."""
    lo = hi = -1
    for a, c in enumerate(counts):
        if c:
            if lo < 0:
                lo = a
            hi = a
    return hi - lo if lo >= 0 else 0


class IhtcSearch:
    """The state of a complete IHTC solution with its exact cost, and the moves on it."""

    def __init__(self, inst: IhtcInstance, sol: IhtcSolution, seed: int = 0):
        self.inst = inst
        self.rng = random.Random(seed)
        D, S = inst.days, len(inst.shift_types)
        self.D, self.S, NS = D, S, D * S
        self.room_ids = list(inst.rooms)
        rix = {r: i for i, r in enumerate(self.room_ids)}
        R = len(self.room_ids)
        self.cap = [inst.rooms[r] for r in self.room_ids]
        self.nurse_ids = [n.id for n in inst.nurses]
        nix = {n: i for i, n in enumerate(self.nurse_ids)}
        self.nskill = [n.skill for n in inst.nurses]
        self.maxload = [[n.max_load.get(s, -1) for s in range(NS)] for n in inst.nurses]
        self.working = [[i for i, n in enumerate(inst.nurses) if s in n.max_load] for s in range(NS)]
        self.ot_ids = list(inst.ot_avail)
        tix = {t: i for i, t in enumerate(self.ot_ids)}
        self.ot_cap = [list(inst.ot_avail[t]) for t in self.ot_ids]
        surgeons = list(inst.surgeon_max)
        gix = {g: i for i, g in enumerate(surgeons)}
        self.sg_cap = [list(inst.surgeon_max[g]) for g in surgeons]
        w = inst.weight
        self.wA, self.wS, self.wC, self.wE = w("AgeMix"), w("Skill"), w("Continuity"), w("Excess")
        self.wOT, self.wTr, self.wDelay, self.wUns = (w("OpenOT"), w("SurgeonTransfer"), w("Delay"),
                                                      w("Unscheduled"))
        # persons: occupants first, then patients (index i - n_occ into inst.patients)
        people = list(inst.occupants) + list(inst.patients)
        self.n_occ = len(inst.occupants)
        genders = sorted({p.gender for p in people})
        self.gender = [genders.index(p.gender) for p in people]
        self.n_genders = max(1, len(genders))
        self.age = [p.age for p in people]
        self.los = [p.los for p in people]
        self.work = [p.workload for p in people]
        self.req = [p.skill for p in people]
        levels = 1 + max([max(p.skill, default=0) for p in people] + [max(self.nskill, default=0)])
        self.mandatory = [p.mandatory for p in people]
        self.release = [p.release for p in people]
        self.dur = [p.duration for p in people]
        self.surgeon = [gix.get(p.surgeon, -1) for p in people]
        self.rooms_ok = [[r for r in range(R) if self.room_ids[r] not in p.incompatible] for p in people]
        self.rooms_bad = [{rix[r] for r in p.incompatible if r in rix} for p in people]
        self.days_ok = [list(admission_window(inst, p)) for p in people]  # occupants never move
        A = len(inst.age_groups)
        # counts per room-day and room-shift
        self.rd_n = [[0] * D for _ in range(R)]
        self.rd_g = [[[0] * self.n_genders for _ in range(D)] for _ in range(R)]
        self.rd_age = [[[0] * A for _ in range(D)] for _ in range(R)]
        self.rs_mem: list[list[dict[int, int]]] = [[{} for _ in range(NS)] for _ in range(R)]
        self.rs_load = [[0] * NS for _ in range(R)]
        self.rs_req = [[[0] * levels for _ in range(NS)] for _ in range(R)]
        self.nload = [[0] * NS for _ in inst.nurses]
        self.pn: list[dict[int, int]] = [{} for _ in people]
        self.ot_load = [[0] * D for _ in self.ot_ids]
        self.sg_load = [[0] * D for _ in surgeons]
        self.so: list[list[dict[int, int]]] = [[{} for _ in range(D)] for _ in surgeons]
        self.adm = [-1] * len(people)
        self.room = [-1] * len(people)
        self.ot = [-1] * len(people)
        # the roster first (every room-shift gets a working nurse), then the stays
        self.nurse_of = [[-1] * NS for _ in range(R)]
        for (nid, s), rooms in sol.nurse_rooms.items():
            if nid in nix and 0 <= s < NS and s in inst.nurses[nix[nid]].max_load:
                for r in rooms:
                    if r in rix:
                        self.nurse_of[rix[r]][s] = nix[nid]
        for r in range(R):
            for s in range(NS):
                if self.nurse_of[r][s] < 0 and self.working[s]:
                    self.nurse_of[r][s] = self._nearby_nurse(r, s) if s else self.working[s][0]
        self.cost = self.wUns * sum(1 for p in inst.patients if not p.mandatory)
        for i, o in enumerate(inst.occupants):
            self.room[i] = rix[o.room]
            self.adm[i] = 0
            self._stay(i, 0, rix[o.room], 1)
        for j, p in enumerate(inst.patients):
            d = sol.admission.get(p.id)
            if d is None:
                continue
            i = self.n_occ + j
            self._admit(i, d, rix[sol.room[p.id]], tix[sol.theater[p.id]], 1)
        self.patients = list(range(self.n_occ, len(people)))
        self.optional = [i for i in self.patients if not self.mandatory[i]]

    # ------------------------------------------------------------------ primitives (exact cost updates)
    def _nearby_nurse(self, r: int, s: int) -> int:
        """The nurse of the room's previous shift if working now, else the first working nurse."""
        prev = self.nurse_of[r][s - 1]
        return prev if prev >= 0 and self.maxload[prev][s] >= 0 else self.working[s][0]

    def _stay(self, i: int, d0: int, r: int, sign: int) -> None:
        """Add (sign 1) or remove (-1) person i's stay in room r from day d0: room counts and nurse costs."""
        S = self.S
        g, a, W, K, pc = self.gender[i], self.age[i], self.work[i], self.req[i], self.pn[i]
        wA, wS, wC, wE = self.wA, self.wS, self.wC, self.wE
        nurse_of, rs_load, rs_req, rs_mem = self.nurse_of[r], self.rs_load[r], self.rs_req[r], self.rs_mem[r]
        rd_age, rd_n, rd_g = self.rd_age[r], self.rd_n[r], self.rd_g[r]
        nload, maxload, nskill = self.nload, self.maxload, self.nskill
        adding = sign > 0
        cost = 0
        k = 0
        for d in range(d0, min(d0 + self.los[i], self.D)):
            ages = rd_age[d]
            had = ages[a]
            if had == (0 if adding else 1):  # the age group appears or goes: the mix may change
                before = _mix(ages)
                ages[a] = had + sign
                cost += wA * (_mix(ages) - before)
            else:
                ages[a] = had + sign
            rd_n[d] += sign
            rd_g[d][g] += sign
            for s in range(d * S, d * S + S):
                w, q = W[k], K[k]
                rs_req[s][q] += sign
                if adding:
                    rs_mem[s][i] = k
                else:
                    del rs_mem[s][i]
                k += 1
                n = nurse_of[s]
                if w:
                    rs_load[s] += sign * w
                    if n >= 0:
                        nl = nload[n]
                        ml = maxload[n][s]
                        old = nl[s]
                        new = old + sign * w
                        nl[s] = new
                        if new > ml or old > ml:
                            cost += wE * ((new - ml if new > ml else 0) - (old - ml if old > ml else 0))
                if n < 0:
                    continue
                if q > nskill[n]:
                    cost += sign * wS * (q - nskill[n])
                c = pc.get(n, 0) + sign
                if c:
                    pc[n] = c
                    if c == 1 and adding:
                        cost += wC
                else:
                    del pc[n]
                    cost -= wC
        self.cost += cost

    def _admit(self, i: int, d: int, r: int, t: int, sign: int) -> None:
        """Admit (1) or un-admit (-1) patient i on day d into room r with surgery in theatre t."""
        self._stay(i, d, r, sign)
        self._surgery(i, d, t, sign)
        self.cost += sign * self.wDelay * (d - self.release[i]) - (sign * self.wUns if not self.mandatory[i] else 0)
        if sign > 0:
            self.adm[i], self.room[i], self.ot[i] = d, r, t
        else:
            self.adm[i] = self.room[i] = self.ot[i] = -1

    def _surgery(self, i: int, d: int, t: int, sign: int) -> None:
        """Add (1) or remove (-1) patient i's surgery on day d in theatre t: minutes, open theatres, transfers."""
        g, dur = self.surgeon[i], self.dur[i]
        self.sg_load[g][d] += sign * dur
        old = self.ot_load[t][d]
        new = old + sign * dur
        self.ot_load[t][d] = new
        so = self.so[g][d]
        before = len(so)
        c = so.get(t, 0) + sign
        if c:
            so[t] = c
        else:
            del so[t]
        after = len(so)
        self.cost += (self.wOT * ((new > 0) - (old > 0))
                      + self.wTr * ((after - 1 if after > 1 else 0) - (before - 1 if before > 1 else 0)))

    def _set_nurse(self, r: int, s: int, n: int) -> None:
        """Room r in shift s gets nurse n (who works s)."""
        old_n = self.nurse_of[r][s]
        if n == old_n:
            return
        mem = self.rs_mem[r][s]
        load = self.rs_load[r][s]
        cost = 0
        if old_n >= 0:
            ml, old = self.maxload[old_n][s], self.nload[old_n][s]
            self.nload[old_n][s] = old - load
            cost += self.wE * (max(0, old - load - ml) - max(0, old - ml))
        ml, old = self.maxload[n][s], self.nload[n][s]
        self.nload[n][s] = old + load
        cost += self.wE * (max(0, old + load - ml) - max(0, old - ml))
        if mem:
            sk_new = self.nskill[n]
            sk_old = self.nskill[old_n] if old_n >= 0 else 0
            cost += self.wS * sum(c * (max(0, q - sk_new) - max(0, q - sk_old))
                                  for q, c in enumerate(self.rs_req[r][s]) if c)
            for i in mem:
                pc = self.pn[i]
                if old_n >= 0:
                    c = pc[old_n] - 1
                    if c:
                        pc[old_n] = c
                    else:
                        del pc[old_n]
                        cost -= self.wC
                c = pc.get(n, 0) + 1
                pc[n] = c
                if c == 1:
                    cost += self.wC
        self.nurse_of[r][s] = n
        self.cost += cost

    # ------------------------------------------------------------------ feasibility
    def _room_fits(self, i: int, d0: int, r: int) -> bool:
        """Can person i (not placed) stay in room r from day d0 without breaking a room rule?"""
        g = self.gender[i]
        cap, rd_n, rd_g, nurse_of = self.cap[r], self.rd_n[r], self.rd_g[r], self.nurse_of[r]
        S = self.S
        for d in range(d0, min(d0 + self.los[i], self.D)):
            if rd_n[d] >= cap:
                return False
            gd = rd_g[d]
            if rd_n[d] != gd[g]:  # somebody of another gender is there
                return False
            for s in range(d * S, d * S + S):
                if nurse_of[s] < 0:
                    return False
        return True

    def _surgery_fits(self, i: int, d: int, t: int) -> bool:
        dur = self.dur[i]
        return (self.sg_load[self.surgeon[i]][d] + dur <= self.sg_cap[self.surgeon[i]][d]
                and self.ot_load[t][d] + dur <= self.ot_cap[t][d])

    def _place(self, i: int, d: int, r: int, t: int) -> bool:
        """Admit patient i (not placed) if every rule holds; choose a fitting theatre if ``t`` does not fit."""
        if r in self.rooms_bad[i] or not self._room_fits(i, d, r):
            return False
        if t < 0 or not self._surgery_fits(i, d, t):
            fits = [u for u in range(len(self.ot_ids)) if self._surgery_fits(i, d, u)]
            if not fits:
                return False
            # prefer a theatre the surgeon already uses that day, then an open one
            so = self.so[self.surgeon[i]][d]
            t = max(fits, key=lambda u: (u in so, self.ot_load[u][d] > 0, self.rng.random()))
        self._admit(i, d, r, t, 1)
        return True

    # ------------------------------------------------------------------ moves: each returns an undo or None
    def _move_patient(self, i: int, d: int, r: int, t: int):
        od, orr, ot = self.adm[i], self.room[i], self.ot[i]
        if d >= 0 and r != orr and (r in self.rooms_bad[i] or not self._room_fits(i, d, r)):
            return None  # another room: its rules do not depend on i's own stay, so check before moving
        if od >= 0:
            self._admit(i, od, orr, ot, -1)
        if d >= 0 and not self._place(i, d, r, t):
            if od >= 0:
                self._admit(i, od, orr, ot, 1)
            return None
        return ("p", i, od, orr, ot)

    def _move_theatre(self, i: int, t: int):
        d, old = self.adm[i], self.ot[i]
        if t == old or self.ot_load[t][d] + self.dur[i] > self.ot_cap[t][d]:
            return None
        self._surgery(i, d, old, -1)
        self._surgery(i, d, t, 1)
        self.ot[i] = t
        return ("o", i, old)

    def _undo(self, undo) -> None:
        if undo[0] == "o":
            _, i, t = undo
            self._surgery(i, self.adm[i], self.ot[i], -1)
            self._surgery(i, self.adm[i], t, 1)
            self.ot[i] = t
        elif undo[0] == "p":
            _, i, od, orr, ot = undo
            if self.adm[i] >= 0:
                self._admit(i, self.adm[i], self.room[i], self.ot[i], -1)
            if od >= 0:
                self._admit(i, od, orr, ot, 1)
        elif undo[0] == "n":
            for r, s, n in reversed(undo[1]):
                self._set_nurse(r, s, n)
        else:  # "pp": two patients
            _, a, b = undo
            self._undo(b)
            self._undo(a)

    def random_move(self):
        rng = self.rng
        x = rng.random()
        if x < PATIENT_MOVES and self.patients:
            i = rng.choice(self.patients)
            d, r, t = self.adm[i], self.room[i], self.ot[i]
            if d < 0:
                if self.mandatory[i]:
                    return None
                if rng.random() < 0.5:
                    return self._move_patient(i, rng.choice(self.days_ok[i]), rng.choice(self.rooms_ok[i]), -1)
                return self._replace(i, rng.choice(self.optional))
            y = rng.random()
            if y < 0.35:
                return self._move_patient(i, d, rng.choice(self.rooms_ok[i]), t)
            if y < 0.7:
                nd = rng.choice(self.days_ok[i])
                return self._move_patient(i, nd, r if rng.random() < 0.5 else rng.choice(self.rooms_ok[i]), t)
            if y < 0.8:
                return self._move_theatre(i, rng.randrange(len(self.ot_ids)))
            if y < 0.9 and not self.mandatory[i]:
                return self._move_patient(i, -1, -1, -1)
            return self._swap_rooms(i, rng.choice(self.patients))
        # nurses
        r = rng.randrange(len(self.room_ids))
        s = rng.randrange(self.D * self.S)
        if not self.rs_mem[r][s] or len(self.working[s]) < 2:
            return None
        if x < 1.0 - NURSE_SWAPS:
            n = self._nurse_choice(r, s)
            if n == self.nurse_of[r][s]:
                return None
            undo = ("n", [(r, s, self.nurse_of[r][s])])
            self._set_nurse(r, s, n)
            return undo
        r2 = rng.randrange(len(self.room_ids))
        n1, n2 = self.nurse_of[r][s], self.nurse_of[r2][s]
        if r2 == r or n1 == n2:
            return None
        undo = ("n", [(r, s, n1), (r2, s, n2)])
        self._set_nurse(r, s, n2)
        self._set_nurse(r2, s, n1)
        return undo

    def _nurse_choice(self, r: int, s: int) -> int:
        rng = self.rng
        if rng.random() < 0.5:
            lo, hi = max(0, s - NEIGHBOUR_SHIFTS), min(self.D * self.S, s + NEIGHBOUR_SHIFTS + 1)
            near = [n for n in {self.nurse_of[r][u] for u in range(lo, hi)} if n >= 0 and self.maxload[n][s] >= 0]
            if near:
                return rng.choice(near)
        return rng.choice(self.working[s])

    def _replace(self, i: int, j: int):
        """Optional patient j (admitted) leaves; i (not admitted) takes its room, on j's day if i may come then."""
        dj = self.adm[j]
        if dj < 0 or i == j:
            return None
        d = dj if dj in self.days_ok[i] else self.rng.choice(self.days_ok[i])
        a = self._move_patient(j, -1, -1, -1)
        b = self._move_patient(i, d, a[3], -1)
        if b is None:
            self._undo(a)
            return None
        return ("pp", a, b)

    def _swap_rooms(self, i: int, j: int):
        di, dj = self.adm[i], self.adm[j]
        if i == j or di < 0 or dj < 0 or self.room[i] == self.room[j]:
            return None
        ri, rj = self.room[i], self.room[j]
        a = self._move_patient(i, -1, -1, -1)
        b = self._move_patient(j, dj, ri, self.ot[j])
        if b is None:
            self._undo(a)
            return None
        c = self._move_patient(i, di, rj, a[4])
        if c is None:
            self._undo(b)
            self._undo(a)
            return None
        return ("pp", a, b)

    # ------------------------------------------------------------------ the search
    def snapshot(self):
        return (self.adm[:], self.room[:], self.ot[:], [row[:] for row in self.nurse_of])

    def solution(self, snap=None) -> IhtcSolution:
        adm, room, ot, nurse_of = snap or self.snapshot()
        S, D = self.S, self.D
        admission, rooms, theater = {}, {}, {}
        occupied = set()
        for i in range(len(adm)):
            if adm[i] >= 0:
                for d in range(adm[i], min(adm[i] + self.los[i], D)):
                    for s in range(d * S, d * S + S):
                        occupied.add((room[i], s))
        for j, p in enumerate(self.inst.patients):
            i = self.n_occ + j
            if adm[i] < 0:
                admission[p.id] = rooms[p.id] = theater[p.id] = None
            else:
                admission[p.id], rooms[p.id], theater[p.id] = adm[i], self.room_ids[room[i]], self.ot_ids[ot[i]]
        nurse_rooms: dict[tuple[str, int], list[str]] = {}
        for r, s in sorted(occupied):
            n = nurse_of[r][s]
            if n >= 0:
                nurse_rooms.setdefault((self.nurse_ids[n], s), []).append(self.room_ids[r])
        return IhtcSolution(admission, rooms, theater, nurse_rooms)

    def anneal(self, seconds: float, should_stop: Callable[[], bool] | None = None,
               on_improve: Callable[[int], None] | None = None,
               on_tick: Callable[[float, int], None] | None = None) -> dict:
        """Anneal for ``seconds``; leaves the state at the best solution seen. Returns statistics.

        ``on_improve(cost)`` is called at each new best, ``on_tick(fraction of the time used, best cost)`` about
        every ``TICK_S`` seconds, ``should_stop()`` every ``CHECK_EVERY`` moves."""
        t0 = time.perf_counter()
        next_tick = t0 + TICK_S
        best, best_snap = self.cost, self.snapshot()
        # starting temperature: the median cost increase of a sample of random moves
        ups = []
        for _ in range(400):
            before = self.cost
            undo = self.random_move()
            if undo is not None:
                if self.cost > before:
                    ups.append(self.cost - before)
                self._undo(undo)
        ups.sort()
        t_start = max(T_END * 2, T_START * ups[len(ups) // 2] if ups else 1.0)
        moves = accepted = 0
        temp = t_start
        log_ratio = math.log(T_END / t_start)
        rng = self.rng
        while True:
            if moves % CHECK_EVERY == 0:
                now = time.perf_counter()
                frac = (now - t0) / seconds if seconds > 0 else 1.0
                if frac >= 1.0 or (should_stop is not None and should_stop()):
                    break
                temp = t_start * math.exp(log_ratio * frac)
                if on_tick is not None and now >= next_tick:
                    on_tick(frac, best)
                    next_tick = now + TICK_S
            moves += 1
            before = self.cost
            undo = self.random_move()
            if undo is None:
                continue
            delta = self.cost - before
            if delta <= 0 or rng.random() < math.exp(-delta / temp):
                accepted += 1
                if self.cost < best:
                    best, best_snap = self.cost, self.snapshot()
                    if on_improve is not None:
                        on_improve(best)
            else:
                self._undo(undo)
        self._restore(best_snap)
        return {"moves": moves, "accepted": accepted, "seconds": round(time.perf_counter() - t0, 2),
                "t_start": t_start, "best": best}

    def _restore(self, snap) -> None:
        adm, room, ot, nurse_of = snap
        for i in self.patients:
            if self.adm[i] >= 0:
                self._admit(i, self.adm[i], self.room[i], self.ot[i], -1)
        for r, row in enumerate(nurse_of):
            for s, n in enumerate(row):
                if n >= 0:
                    self._set_nurse(r, s, n)
        for i in self.patients:
            if adm[i] >= 0:
                self._admit(i, adm[i], room[i], ot[i], 1)


def anneal(inst: IhtcInstance, sol: IhtcSolution, seconds: float, seed: int = 0,
           should_stop: Callable[[], bool] | None = None,
           on_improve: Callable[[int], None] | None = None,
           on_tick: Callable[[float, int], None] | None = None) -> tuple[IhtcSolution, dict]:
    """Improve a feasible ``sol`` by simulated annealing for ``seconds``; never returns a worse solution."""
    search = IhtcSearch(inst, sol, seed)
    stats = search.anneal(seconds, should_stop, on_improve, on_tick)
    stats["cost"] = search.cost
    return search.solution(), stats
