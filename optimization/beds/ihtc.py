"""IHTC-2024 (Integrated Healthcare Timetabling Competition): reader, writer and independent validator.

The problem (IHTP): choose for each surgical patient an admission day, a room and an operating theatre
(OT), and for every room and shift the nurse who covers it. The competition's rules, as implemented here
(names follow the official validator's cost report):

Hard (each counted; a solution with any is infeasible)
- ``gender_mix`` — a room holds both genders on a day (one count per room-day).
- ``incompatible_room`` — a patient placed in one of its ``incompatible_room_ids``.
- ``surgeon_overtime`` — minutes of surgery above a surgeon's ``max_surgery_time`` on a day.
- ``ot_overtime`` — minutes above an OT's ``availability`` on a day.
- ``mandatory_unscheduled`` — a mandatory patient not admitted.
- ``admission_day`` — admitted before the release day, a mandatory patient after the due day, or a day
  outside the horizon.
- ``room_capacity`` — patients above a room's capacity on a day (occupants count).
- ``uncovered_room`` — a room with patients in a shift and no nurse assigned to it.
- ``nurse_not_working`` — a nurse assigned to a room in a shift the nurse does not work.
- ``room_multiple_nurses`` — a room with more than one nurse in a shift (the IHTP has one per room-shift).

Soft (weighted by the instance's ``weights``)
- ``AgeMix`` — per room-day: (oldest age group index) − (youngest) among those present.
- ``Skill`` — per patient-shift: max(0, skill required − skill of the room's nurse).
- ``Excess`` — per nurse-shift: max(0, workload of patients in the nurse's rooms − max_load).
- ``Continuity`` — per patient (and occupant): number of distinct nurses who cover the room during the stay.
- ``OpenOT`` — OT-days with at least one surgery.
- ``SurgeonTransfer`` — per surgeon-day: distinct OTs used − 1.
- ``Delay`` — admission day − release day of each admitted patient.
- ``Unscheduled`` — optional patients not admitted.

Stays run from the admission day for ``length_of_stay`` days, cut at the end of the horizon; the k-th
shift of a stay (k = 0 is the early shift of the admission day) carries ``workload_produced[k]`` and
``skill_level_required[k]``. Occupants are in their room from day 0. Surgery happens on the admission day.
"""
from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets.errors import HospOpsError

SOFT_ORDER = ("Unscheduled", "Delay", "OpenOT", "AgeMix", "Skill", "Excess", "Continuity", "SurgeonTransfer")
WEIGHT_KEY = {
    "AgeMix": "room_mixed_age", "Skill": "room_nurse_skill", "Continuity": "continuity_of_care",
    "Excess": "nurse_eccessive_workload", "OpenOT": "open_operating_theater",
    "SurgeonTransfer": "surgeon_transfer", "Delay": "patient_delay", "Unscheduled": "unscheduled_optional",
}
HARD_RULES = ("gender_mix", "incompatible_room", "surgeon_overtime", "ot_overtime", "mandatory_unscheduled",
              "admission_day", "room_capacity", "uncovered_room", "nurse_not_working", "room_multiple_nurses",
              "unknown_id")


@dataclass(frozen=True)
class Person:
    """A patient to schedule or an occupant already in a room (``room``/``mandatory`` apply to one kind)."""
    id: str
    gender: str
    age: int  # index into age_groups
    los: int
    workload: tuple[int, ...]
    skill: tuple[int, ...]
    occupant: bool = False
    room: str | None = None  # occupants only
    mandatory: bool = False
    release: int = 0
    due: int | None = None
    duration: int = 0
    surgeon: str | None = None
    incompatible: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Nurse:
    id: str
    skill: int
    max_load: dict[int, int]  # global shift index -> max load (only shifts worked)


@dataclass(frozen=True)
class IhtcInstance:
    name: str
    days: int
    shift_types: tuple[str, ...]
    age_groups: tuple[str, ...]
    weights: dict[str, int]
    occupants: tuple[Person, ...]
    patients: tuple[Person, ...]
    surgeon_max: dict[str, tuple[int, ...]]
    ot_avail: dict[str, tuple[int, ...]]
    rooms: dict[str, int]  # id -> capacity
    nurses: tuple[Nurse, ...]

    @property
    def n_shifts(self) -> int:
        return self.days * len(self.shift_types)

    def weight(self, component: str) -> int:
        return int(self.weights[WEIGHT_KEY[component]])


@dataclass
class IhtcSolution:
    admission: dict[str, int | None]  # patient id -> day or None
    room: dict[str, str | None]
    theater: dict[str, str | None]
    nurse_rooms: dict[tuple[str, int], list[str]]  # (nurse, global shift) -> rooms

    def to_json(self, inst: IhtcInstance) -> dict[str, Any]:
        pats = []
        for p in inst.patients:
            d = self.admission.get(p.id)
            if d is None:
                pats.append({"id": p.id, "admission_day": "none"})
            else:
                pats.append({"id": p.id, "admission_day": int(d), "room": self.room[p.id],
                             "operating_theater": self.theater[p.id]})
        S = len(inst.shift_types)
        nurses = []
        for n in inst.nurses:
            asg = []
            for s in sorted(n.max_load):
                asg.append({"day": s // S, "shift": inst.shift_types[s % S],
                            "rooms": list(self.nurse_rooms.get((n.id, s), []))})
            nurses.append({"id": n.id, "assignments": asg})
        return {"patients": pats, "nurses": nurses}


@dataclass
class IhtcReport:
    cost: int
    soft: dict[str, int]  # weighted cost per component
    soft_raw: dict[str, int]  # unweighted counts
    hard: dict[str, int]
    messages: list[str] = field(default_factory=list)

    @property
    def hard_violations(self) -> int:
        return sum(self.hard.values())

    @property
    def feasible(self) -> bool:
        return self.hard_violations == 0


def admission_window(inst: IhtcInstance, p: Person) -> range:
    """The days patient ``p`` may be admitted: from its release day to its due day (mandatory patients) or
    the end of the horizon."""
    last = inst.days - 1 if not p.mandatory or p.due is None else min(p.due, inst.days - 1)
    return range(p.release, last + 1)


def _person(d: dict, age_groups: list[str], occupant: bool) -> Person:
    try:
        return Person(
            id=str(d["id"]), gender=str(d["gender"]), age=age_groups.index(d["age_group"]),
            los=int(d["length_of_stay"]), workload=tuple(int(x) for x in d["workload_produced"]),
            skill=tuple(int(x) for x in d["skill_level_required"]), occupant=occupant,
            room=d.get("room_id"), mandatory=bool(d.get("mandatory", False)),
            release=int(d.get("surgery_release_day", 0)),
            due=int(d["surgery_due_day"]) if d.get("surgery_due_day") is not None else None,
            duration=int(d.get("surgery_duration", 0)), surgeon=d.get("surgeon_id"),
            incompatible=frozenset(d.get("incompatible_room_ids", [])),
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise HospOpsError(f"IHTC instance: a patient entry is malformed ({exc!r}).") from None


def _load_json(path: str | Path, what: str):
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise HospOpsError(f"{path} does not exist.") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HospOpsError(f"{path} is not an {what}: not JSON ({exc}).") from None


def read_instance(path: str | Path) -> IhtcInstance:
    path = Path(path)
    raw = _load_json(path, "IHTC-2024 instance")
    missing = [k for k in ("days", "shift_types", "age_groups", "patients", "rooms", "nurses", "weights",
                           "surgeons", "operating_theaters") if k not in raw]
    if missing:
        raise HospOpsError(f"{path} is not an IHTC-2024 instance: missing {', '.join(missing)}.",
                           "Use --format pas for Patient Admission Scheduling files.")
    ages = list(raw["age_groups"])
    shifts = tuple(raw["shift_types"])
    S = len(shifts)
    nurses = []
    for n in raw["nurses"]:
        ml = {int(w["day"]) * S + shifts.index(w["shift"]): int(w["max_load"]) for w in n["working_shifts"]}
        nurses.append(Nurse(str(n["id"]), int(n["skill_level"]), ml))
    return IhtcInstance(
        name=path.stem, days=int(raw["days"]), shift_types=shifts, age_groups=tuple(ages),
        weights={k: int(v) for k, v in raw["weights"].items()},
        occupants=tuple(_person(o, ages, True) for o in raw.get("occupants", [])),
        patients=tuple(_person(p, ages, False) for p in raw["patients"]),
        surgeon_max={s["id"]: tuple(int(x) for x in s["max_surgery_time"]) for s in raw["surgeons"]},
        ot_avail={t["id"]: tuple(int(x) for x in t["availability"]) for t in raw["operating_theaters"]},
        rooms={r["id"]: int(r["capacity"]) for r in raw["rooms"]},
        nurses=tuple(nurses),
    )


def read_solution(path: str | Path, inst: IhtcInstance) -> IhtcSolution:
    return solution_from_json(_load_json(path, "IHTC solution"), inst)


def solution_from_json(raw: dict, inst: IhtcInstance) -> IhtcSolution:
    if not isinstance(raw, dict) or "patients" not in raw:
        raise HospOpsError("Not an IHTC solution: no 'patients' list.")
    adm: dict[str, int | None] = {}
    room: dict[str, str | None] = {}
    ot: dict[str, str | None] = {}
    for p in raw["patients"]:
        pid = str(p["id"])
        d = p.get("admission_day", "none")
        if d == "none" or d is None:
            adm[pid], room[pid], ot[pid] = None, None, None
        else:
            adm[pid], room[pid], ot[pid] = int(d), p.get("room"), p.get("operating_theater")
    S = len(inst.shift_types)
    nr: dict[tuple[str, int], list[str]] = {}
    for n in raw.get("nurses", []):
        for a in n.get("assignments", []):
            if a["shift"] not in inst.shift_types:
                raise HospOpsError(f"IHTC solution: unknown shift {a['shift']!r}.")
            key = (str(n["id"]), int(a["day"]) * S + inst.shift_types.index(a["shift"]))
            nr.setdefault(key, []).extend(str(r) for r in a.get("rooms", []))
    return IhtcSolution(adm, room, ot, nr)


def validate(inst: IhtcInstance, sol: IhtcSolution) -> IhtcReport:
    """Recompute every hard rule and soft cost of ``sol`` from the instance alone (no solver model)."""
    D, S = inst.days, len(inst.shift_types)
    hard: dict[str, int] = {k: 0 for k in HARD_RULES}
    raw: dict[str, int] = {k: 0 for k in SOFT_ORDER}
    msgs: list[str] = []

    def bad(rule: str, n: int, msg: str) -> None:
        hard[rule] += n
        if len(msgs) < 50:
            msgs.append(msg)

    # who is where: (room, day) -> persons; stays as (person, room, start day)
    stays: list[tuple[Person, str, int]] = []
    for o in inst.occupants:
        stays.append((o, o.room, 0))
    surg_day: dict[tuple[str, int], int] = defaultdict(int)
    ot_day: dict[tuple[str, int], int] = defaultdict(int)
    surgeon_ots: dict[tuple[str, int], set[str]] = defaultdict(set)
    for p in inst.patients:
        d = sol.admission.get(p.id)
        if d is None:
            if p.mandatory:
                bad("mandatory_unscheduled", 1, f"mandatory patient {p.id} is not admitted")
            else:
                raw["Unscheduled"] += 1
            continue
        r, t = sol.room.get(p.id), sol.theater.get(p.id)
        if r not in inst.rooms or t not in inst.ot_avail:
            bad("unknown_id", 1, f"patient {p.id}: unknown room {r!r} or theatre {t!r}")
            continue
        if d not in admission_window(inst, p):
            bad("admission_day", 1, f"patient {p.id} admitted on day {d}, outside its window")
        if r in p.incompatible:
            bad("incompatible_room", 1, f"patient {p.id} in incompatible room {r}")
        raw["Delay"] += max(0, d - p.release)
        if 0 <= d < D:
            surg_day[(p.surgeon, d)] += p.duration
            ot_day[(t, d)] += p.duration
            surgeon_ots[(p.surgeon, d)].add(t)
        stays.append((p, r, d))

    for (s, d), m in surg_day.items():
        cap = inst.surgeon_max[s][d]
        if m > cap:
            bad("surgeon_overtime", m - cap, f"surgeon {s} day {d}: {m} min > {cap}")
    for (t, d), m in ot_day.items():
        cap = inst.ot_avail[t][d]
        if m > cap:
            bad("ot_overtime", m - cap, f"theatre {t} day {d}: {m} min > {cap}")
    raw["OpenOT"] = sum(1 for m in ot_day.values() if m > 0)
    raw["SurgeonTransfer"] = sum(len(v) - 1 for v in surgeon_ots.values() if len(v) > 1)

    room_day: dict[tuple[str, int], list[Person]] = defaultdict(list)
    # (room, shift) -> list of (person, k index into the person's arrays)
    room_shift: dict[tuple[str, int], list[tuple[Person, int]]] = defaultdict(list)
    for p, r, d0 in stays:
        for d in range(d0, min(d0 + p.los, D)):
            if d < 0:
                continue
            room_day[(r, d)].append(p)
            for s in range(S):
                k = (d - d0) * S + s
                room_shift[(r, d * S + s)].append((p, k))
    for (r, d), ps in room_day.items():
        if len(ps) > inst.rooms[r]:
            bad("room_capacity", len(ps) - inst.rooms[r], f"room {r} day {d}: {len(ps)} > {inst.rooms[r]}")
        if len({p.gender for p in ps}) > 1:
            bad("gender_mix", 1, f"room {r} day {d} mixes genders")
        ages = [p.age for p in ps]
        raw["AgeMix"] += max(ages) - min(ages)

    nurses = {n.id: n for n in inst.nurses}
    cover: dict[tuple[str, int], list[str]] = defaultdict(list)
    for (nid, s), rooms in sol.nurse_rooms.items():
        n = nurses.get(nid)
        if n is None:
            bad("unknown_id", 1, f"unknown nurse {nid}")
            continue
        if rooms and s not in n.max_load:
            bad("nurse_not_working", 1, f"nurse {nid} assigned in shift {s} it does not work")
        for r in rooms:
            if r not in inst.rooms:
                bad("unknown_id", 1, f"nurse {nid}: unknown room {r}")
                continue
            cover[(r, s)].append(nid)
        load = sum(p.workload[k] for r in rooms for p, k in room_shift.get((r, s), []))
        if s in n.max_load and load > n.max_load[s]:
            raw["Excess"] += load - n.max_load[s]
    for (r, s), nids in cover.items():
        if len(nids) > 1:
            bad("room_multiple_nurses", len(nids) - 1, f"room {r} shift {s} has nurses {nids}")
    person_nurses: dict[str, set[str]] = defaultdict(set)
    for (r, s), pk in room_shift.items():
        nids = cover.get((r, s), [])
        if not nids:
            bad("uncovered_room", 1, f"room {r} shift {s} has patients and no nurse")
            continue
        n = nurses[nids[0]]
        for p, k in pk:
            raw["Skill"] += max(0, p.skill[k] - n.skill)
            person_nurses[p.id].add(n.id)
    raw["Continuity"] = sum(len(v) for v in person_nurses.values())

    soft = {k: raw[k] * inst.weight(k) for k in SOFT_ORDER}
    return IhtcReport(cost=sum(soft.values()), soft=soft, soft_raw=raw, hard=hard, messages=msgs)


def parse_reference_costs(text: str) -> dict[str, int]:
    """Parse the ``costs`` line of a reference solution: 'Cost: 3177, Unscheduled: 1200, ...'."""
    out = {}
    for part in text.split(","):
        if ":" in part:
            k, v = part.split(":", 1)
            out[k.strip()] = int(v.strip())
    return out
