"""The rostering problem and its solution as plain, validated dataclasses.

A problem is a horizon of ``days`` (day 0 is a Monday unless ``start`` says otherwise), shift types,
employees with their contracts, hard days off, weighted requests, cover requirements per day and shift,
and cells locked by hand. Everything is keyed by the ids people see (``"A"``, ``"E"``), days are 0-based.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Mapping, Optional

from datasets.errors import HospOpsError

#: re-rostering: the price of each cell that differs from the published roster. Above what a change can save
#: on over-cover (5), fairness (1) or requests, below what filling a shortfall saves (100 a person short):
#: so a re-roster moves people only to cover gaps. At 5, one absence of four days on the demo's ward
#: re-optimized the whole published roster (202 changed cells).
DEFAULT_CHANGE_WEIGHT = 40


@dataclass(frozen=True)
class ShiftType:
    """A kind of shift. ``forbidden_next``: shift ids that may not be worked the day after this one."""

    id: str
    minutes: int
    forbidden_next: tuple[str, ...] = ()
    name: str = ""
    start_minute: Optional[int] = None  # minutes after midnight, when known
    is_night: bool = False

    def __post_init__(self) -> None:
        if not self.id:
            raise HospOpsError("A shift type needs an id.")
        if self.minutes <= 0:
            raise HospOpsError(f"Shift {self.id} must last longer than 0 minutes (got {self.minutes}).")


#: soft contract rules an :class:`Employee` may carry (INRC-I contracts; hospital contracts alike)
SOFT_LIMITS = (
    "max_assignments", "min_assignments",  # shifts over the horizon
    "max_consecutive_work", "min_consecutive_work",  # working days in a row
    "max_consecutive_off", "min_consecutive_off",  # days off in a row
    "max_consecutive_weekends", "min_consecutive_weekends",  # worked weekends in a row
    "complete_weekends",  # work all days of a weekend or none (value unused)
    "identical_weekend_shifts",  # the same shift on every day of a fully worked weekend (value unused)
)


def incomplete_weekend_cost(worked: tuple[bool, ...]) -> int:
    """Price units of a partly worked weekend (rule ``complete_weekends``), as the INRC-I evaluator counts
    them: 1 for a 2-day weekend; for 3 days (e.g. Fri-Sun, in order) F-W-W or W-W-F 1, W-F-W 4, any single
    worked day 2; for longer weekends (our own choice) the number of days off. 0 when all or none worked."""
    if all(worked) or not any(worked):
        return 0
    if len(worked) == 2:
        return 1
    if len(worked) == 3:
        return {(False, True, True): 1, (True, True, False): 1, (True, False, True): 4}.get(tuple(worked), 2)
    return sum(1 for w in worked if not w)


@dataclass(frozen=True)
class Employee:
    """One person and their contract over the horizon.

    ``max_shifts`` caps shifts per type (a type missing from it is uncapped; 0 forbids it).
    ``max_weekends`` counts weekends with any shift on Saturday or Sunday. Consecutive rules count
    working days (any shift) and days off; runs touching the horizon's ends are not held to a minimum.
    """

    id: str
    max_shifts: Mapping[str, int] = field(default_factory=dict)
    max_minutes: int = 10**9
    min_minutes: int = 0
    max_consecutive: int = 10**6
    min_consecutive: int = 1
    min_days_off: int = 1
    max_weekends: int = 10**6
    skills: frozenset[str] = frozenset()
    name: str = ""
    role: str = ""
    #: at most this many of one shift type in a row, e.g. {"N": 3} (consecutive nights)
    max_consecutive_shift: Mapping[str, int] = field(default_factory=dict)
    #: contract rules that may be broken at a price: ``{rule: (value, weight)}`` with rule in SOFT_LIMITS.
    #: Unlike the hard rules above, runs touching the horizon's ends count, and the price is per unit
    #: (each shift over/under, each day a run is too long/short; weekends: see validate)
    soft: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    #: weekdays (Monday 0) of this person's weekend for the soft weekend rules, e.g. (4, 5, 6) for Fri-Sun
    weekend_days: tuple[int, ...] = (5, 6)
    #: contracted minutes over the horizon, leave credited (None: unknown). ``min_minutes``/``max_minutes`` are
    #: the hard limits around it; this is what a person is owed, for the hours report and the night share
    contract_minutes: Optional[int] = None

    def __post_init__(self) -> None:
        if not self.id:
            raise HospOpsError("An employee needs an id.")
        object.__setattr__(self, "max_consecutive_shift", dict(self.max_consecutive_shift))
        object.__setattr__(self, "soft", {k: (int(v[0]), int(v[1])) for k, v in dict(self.soft).items()})
        object.__setattr__(self, "weekend_days", tuple(self.weekend_days))  # in order: (5, 6, 0) is Sat-Mon
        bad = set(self.soft) - set(SOFT_LIMITS)
        if bad:
            raise HospOpsError(f"{self.label}: unknown contract rules {sorted(bad)} (known: {', '.join(SOFT_LIMITS)}).")
        if any(w < 0 for _, w in self.soft.values()):
            raise HospOpsError(f"{self.label}: contract rule weights are 0 or more.")
        if not self.weekend_days or any(not 0 <= d <= 6 for d in self.weekend_days):
            raise HospOpsError(f"{self.label}: weekend days are weekdays 0 (Monday) to 6 (Sunday).")
        if self.contract_minutes is not None and self.contract_minutes < 0:
            raise HospOpsError(f"{self.label}: contracted minutes are 0 or more.")
        if self.min_minutes > self.max_minutes:
            raise HospOpsError(
                f"{self.label}: the minimum of {self.min_minutes} minutes is above the maximum of {self.max_minutes}."
            )
        if self.min_consecutive > self.max_consecutive:
            raise HospOpsError(f"{self.label}: minimum consecutive shifts above the maximum.")
        object.__setattr__(self, "max_shifts", dict(self.max_shifts))
        object.__setattr__(self, "skills", frozenset(self.skills))

    @property
    def label(self) -> str:
        return self.name or self.id


@dataclass(frozen=True)
class Request:
    """A wish: ``on`` = work ``shift`` that day (any shift when ``shift`` is None), ``off`` = not work ``shift``
    (or any shift when ``shift`` is None)."""

    employee: str
    day: int
    shift: Optional[str]
    weight: int
    kind: str = "on"
    #: the rule its cost is reported under when not the request's own (INRC-I's alternative skill is priced as
    #: shift-off requests on every day)
    rule: str = ""

    @property
    def rule_name(self) -> str:
        """``day_off_request`` for a day off asked for, ``shift_on_request`` for a shift, ... or ``rule``."""
        return self.rule or f"{'day' if self.shift is None else 'shift'}_{self.kind}_request"

    def __post_init__(self) -> None:
        if self.kind not in ("on", "off"):
            raise HospOpsError(f"A request is 'on' or 'off', not {self.kind!r}.")
        if self.weight < 0:
            raise HospOpsError("Request weights are 0 or more.")


@dataclass(frozen=True)
class Cover:
    """How many people one shift needs on one day (``skill`` set: people with that skill).

    Below ``requirement`` costs ``under_weight`` per missing person, above it ``over_weight`` for the first
    extra one and ``over_step`` more for each further one, for ``over_rises`` rises (the k-th extra costs
    ``over_weight + min(k - 1, over_rises) * over_step``; 5, 10, 15, 20, 20, ... for 5, 5, 3): a rising
    price spreads people above cover over shifts and days instead of piling them on the shift where one costs
    least. ``hard_min`` people are needed whatever it costs (0: none).
    """

    day: int
    shift: str
    requirement: int
    under_weight: int = 100
    over_weight: int = 1
    skill: Optional[str] = None
    hard_min: int = 0
    also: tuple[str, ...] = ()  # other shifts that count towards this cover (a long day covers Early and Late)
    hard_max: Optional[int] = None  # at most this many people whatever it saves (None: no cap)
    over_step: int = 0  # what each extra person beyond the first costs more than the one before (0: flat)
    over_rises: int = 3  # how many extra people after the first cost a step more (then the price stays)

    @property
    def counted(self) -> tuple[str, ...]:
        return (self.shift, *self.also)

    def __post_init__(self) -> None:
        object.__setattr__(self, "also", tuple(self.also))
        if self.requirement < 0 or self.hard_min < 0:
            raise HospOpsError("Cover requirements are 0 or more.")
        if self.over_step < 0 or self.over_rises < 0:
            raise HospOpsError(f"Cover for {self.shift} on day {self.day}: the over-cover step and its rises are "
                               "0 or more.")
        if self.hard_max is not None and self.hard_max < self.hard_min:
            raise HospOpsError(f"Cover for {self.shift} on day {self.day}: at most {self.hard_max} is below the "
                               f"minimum of {self.hard_min}.")


@dataclass(frozen=True)
class Pattern:
    """An unwanted sequence of days (e.g. Late then Day; a Friday off before a worked weekend): each
    occurrence in a person's row costs ``weight``. ``entries``: one per day, a shift id, ``ANY`` (any shift),
    ``OFF`` (no shift) or ``EITHER`` (anything). ``start_weekday`` (Monday 0): occurrences start only on
    that weekday (None: any day). ``employees``: whom it applies to."""

    id: str
    weight: int
    entries: tuple[str, ...]
    employees: frozenset[str]
    start_weekday: Optional[int] = None

    ANY = "*"
    OFF = "-"
    EITHER = "?"

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))
        object.__setattr__(self, "employees", frozenset(self.employees))
        if not self.entries:
            raise HospOpsError(f"Pattern {self.id} has no days.")
        if self.weight < 0:
            raise HospOpsError(f"Pattern {self.id}: the weight is 0 or more.")

    def matches(self, cell: Optional[str], entry: str) -> bool:
        if entry == self.EITHER:
            return True
        if entry == self.ANY:
            return cell is not None
        if entry == self.OFF:
            return cell is None
        return cell == entry


@dataclass(frozen=True)
class Lock:
    """A cell fixed by hand: ``shift`` None means a day off."""

    employee: str
    day: int
    shift: Optional[str]


@dataclass(frozen=True)
class RosterProblem:
    days: int
    shifts: tuple[ShiftType, ...]
    employees: tuple[Employee, ...]
    days_off: Mapping[str, frozenset[int]] = field(default_factory=dict)  # hard (leave)
    requests: tuple[Request, ...] = ()
    cover: tuple[Cover, ...] = ()
    locks: tuple[Lock, ...] = ()
    start: Optional[date] = None  # calendar date of day 0 (None: an abstract Monday)
    name: str = "roster"
    unit: str = ""
    #: re-rostering: the published roster ({(employee, day): shift}) and the price of each changed cell
    published: Optional[Mapping[tuple[str, int], str]] = None
    change_weight: int = DEFAULT_CHANGE_WEIGHT
    change_from_day: int = 0
    #: fairness: each unit of (most - fewest) nights / weekends worked among the people allowed them costs this
    fair_nights_weight: int = 0
    fair_weekends_weight: int = 0
    #: unwanted sequences of shifts, each occurrence priced (see :class:`Pattern`)
    patterns: tuple[Pattern, ...] = ()
    #: night share: each night a person works outside their fair share of the nights cover asks of their role,
    #: give or take ``night_share_tolerance``, costs this (see :meth:`night_share_bands`). The spread above prices
    #: only the extremes and ignores contracts: at weight 1 the demo's ward had 4 to 17 nights a person
    night_share_weight: int = 0
    night_share_tolerance: int = 1
    #: shift types the source defines but this problem leaves out, with why in words: a lock or request naming
    #: one is refused with the reason, not as an unknown shift
    left_out: Mapping[str, str] = field(default_factory=dict)
    #: the ward's time zone (IANA, e.g. Europe/London; None: unknown): a shift's hours as worked, which differ
    #: from its nominal length across a clock change (a night 21:00-07:30 is 11.5 h in October, 9.5 h in March)
    timezone: Optional[str] = None
    # (new fields go last: some callers build problems positionally, construct.row_problem among them)
    #: bank holidays (day indexes, with their names): each unit of (most - fewest) bank holidays worked among the
    #: staff costs ``fair_holidays_weight`` (a re-roster put a nurse on Christmas Day as on any Friday)
    holidays: Mapping[int, str] = field(default_factory=dict)
    fair_holidays_weight: int = 0

    def worked_minutes(self, shift: str, day: int) -> int:
        """Minutes of ``shift`` started on ``day`` as the clock on the wall runs them: its nominal length, but
        across a clock change in :attr:`timezone` an hour more or less."""
        s = self.shift(shift)
        if self.timezone is None or self.start is None or s.start_minute is None:
            return s.minutes
        from datetime import datetime, timedelta, timezone as tz
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(self.timezone)
        begin = datetime.combine(self.date_of(day), datetime.min.time()) + timedelta(minutes=s.start_minute)
        end = begin + timedelta(minutes=s.minutes)  # the wall-clock end, as the rota prints it
        real = end.replace(tzinfo=zone).astimezone(tz.utc) - begin.replace(tzinfo=zone).astimezone(tz.utc)
        return int(real.total_seconds() // 60)

    def __post_init__(self) -> None:
        object.__setattr__(self, "patterns", tuple(self.patterns))
        object.__setattr__(self, "left_out", dict(self.left_out))
        object.__setattr__(self, "holidays", {int(d): str(n) for d, n in dict(self.holidays).items()
                                              if 0 <= int(d) < self.days})
        if self.night_share_weight < 0 or self.night_share_tolerance < 0:
            raise HospOpsError("The night share's weight and tolerance are 0 or more.")
        object.__setattr__(self, "shifts", tuple(self.shifts))
        object.__setattr__(self, "employees", tuple(self.employees))
        object.__setattr__(self, "requests", tuple(self.requests))
        object.__setattr__(self, "cover", tuple(self.cover))
        object.__setattr__(self, "locks", tuple(self.locks))
        object.__setattr__(self, "days_off", {k: frozenset(v) for k, v in dict(self.days_off).items()})
        if self.days <= 0:
            raise HospOpsError("A roster needs at least one day.")
        sids = [s.id for s in self.shifts]
        eids = [e.id for e in self.employees]
        if len(set(sids)) != len(sids):
            raise HospOpsError("Shift ids must be unique.")
        if len(set(eids)) != len(eids):
            raise HospOpsError("Employee ids must be unique.")
        S, E = set(sids), set(eids)
        for s in self.shifts:
            bad = set(s.forbidden_next) - S
            if bad:
                raise HospOpsError(f"Shift {s.id} names unknown shifts that cannot follow it: {sorted(bad)}.")
        for e in self.employees:
            bad = (set(e.max_shifts) | set(e.max_consecutive_shift)) - S
            if bad:
                raise HospOpsError(f"{e.label}: limits for unknown shifts {sorted(bad)}.")
        for k, v in self.days_off.items():
            if k not in E:
                raise HospOpsError(f"Days off for unknown employee {k}.")
            if any(d < 0 or d >= self.days for d in v):
                raise HospOpsError(f"Days off for {k} fall outside the {self.days}-day horizon.")
        for r in self.requests:
            self._check_cell(r.employee, r.day, r.shift, "request")
        for c in self.cover:
            if not set(c.counted) <= S or not 0 <= c.day < self.days:
                raise HospOpsError(f"Cover for unknown shift {c.shift} or day {c.day}.")
        for lk in self.locks:
            self._check_cell(lk.employee, lk.day, lk.shift, "lock")
        special = {Pattern.ANY, Pattern.OFF, Pattern.EITHER}
        for pt in self.patterns:
            if not set(pt.entries) <= S | special or not pt.employees <= E:
                raise HospOpsError(f"Pattern {pt.id} names unknown shifts or people.")

    def weekday(self, d: int) -> int:
        """Weekday of day ``d`` (Monday 0)."""
        return ((self.start.weekday() if self.start else 0) + d) % 7

    def weekend_blocks(self, weekend_days: tuple[int, ...]) -> list[tuple[int, ...]]:
        """Day indexes of each weekend (weekdays ``weekend_days``, consecutive) starting inside the horizon; a
        weekend cut by the horizon's end keeps its days inside it, one cut to a single day is dropped (as the
        INRC-I evaluator does)."""
        first = weekend_days[0]
        n = len(weekend_days)
        out = []
        for d0 in range(self.days):
            if self.weekday(d0) == first:
                days = tuple(d for d in range(d0, d0 + n) if d < self.days)
                if len(days) > 1 or (len(days) == 1 and n == 1):
                    out.append(days)
        return out

    def _check_cell(self, emp: str, day: int, shift: Optional[str], what: str) -> None:
        if emp not in {e.id for e in self.employees}:
            raise HospOpsError(f"A {what} names unknown employee {emp}.")
        if not 0 <= day < self.days:
            raise HospOpsError(f"A {what} for {emp} falls on day {day}, outside the {self.days}-day horizon.")
        if shift is not None and shift not in {s.id for s in self.shifts}:
            if shift in self.left_out:
                raise HospOpsError(f"A {what} for {emp} names shift {shift}: {self.left_out[shift]}")
            raise HospOpsError(f"A {what} for {emp} names unknown shift {shift}.")

    # ---------------------------------------------------------------- helpers
    def shift(self, sid: str) -> ShiftType:
        return next(s for s in self.shifts if s.id == sid)

    def employee(self, eid: str) -> Employee:
        return next(e for e in self.employees if e.id == eid)

    @property
    def weekends(self) -> list[tuple[int, ...]]:
        """Day indexes of each weekend (Saturday, Sunday) that the horizon touches."""
        first = self.start.weekday() if self.start else 0
        out: dict[int, list[int]] = {}
        for d in range(self.days):
            wd = (first + d) % 7
            if wd >= 5:
                out.setdefault((first + d - wd) // 7, []).append(d)
        return [tuple(v) for _, v in sorted(out.items())]

    def day_label(self, d: int) -> str:
        if self.start is None:
            return f"day {d}"
        return (self.start + timedelta(days=d)).strftime("%a %d %b")

    def date_of(self, d: int) -> Optional[date]:
        return None if self.start is None else self.start + timedelta(days=d)

    def allowed(self, emp: Employee, day: int, sid: str) -> bool:
        """Whether a cell can hold ``sid`` at all (not on leave, shift type not capped at 0)."""
        if day in self.days_off.get(emp.id, ()):
            return False
        return emp.max_shifts.get(sid, 1) > 0

    def night_share_groups(self) -> list[tuple[str, tuple[tuple[str, int], ...], int]]:
        """Who shares which nights, and in what proportion: ``(role, ((employee, weight), ...), nights)``. A
        role that night cover names (``Cover.skill``) shares the nights its cover asks for; everyone else who
        may work nights shares the night cover without a skill (role ""). Members are the people who may work
        a night shift on some day; the weight is their contracted minutes (leave credited: a part-timer or
        someone on leave owes fewer nights) where every member has them, else 1 each. Groups of one, or with
        no nights or no weight to share, are left out."""
        nights = {s.id for s in self.shifts if s.is_night}
        need: dict[Optional[str], int] = {}
        for c in self.cover:
            if c.shift in nights:
                need[c.skill] = need.get(c.skill, 0) + c.requirement
        by_role: dict[str, list[Employee]] = {}
        for e in self.employees:
            if any(self.allowed(e, d, n) for d in range(self.days) for n in nights):
                by_role.setdefault(e.role if e.role and e.role in need else "", []).append(e)
        out = []
        for role, members in by_role.items():
            exact = all(e.contract_minutes is not None for e in members)
            weights = tuple((e.id, int(e.contract_minutes) if exact else 1) for e in members)
            total = need.get(role or None, 0)
            if len(weights) > 1 and total > 0 and sum(w for _, w in weights) > 0:
                out.append((role, weights, total))
        return out

    def night_share_bands(self) -> dict[str, tuple[int, int, float]]:
        """{employee: (fewest, most, share)} nights each person may work without the night-share price: the
        fair share is the group's nights times the person's weight over the group's (see
        :meth:`night_share_groups`), the band that share give or take ``night_share_tolerance``, rounded inwards
        to whole nights. Fixed by the problem, not by the roster (a share of the nights actually worked tied
        every person's price to everybody's nights: the first roster came 2-5 times later on the demo); people
        above cover go to the nights about as much as to the days and fall within the tolerance."""
        tol = self.night_share_tolerance
        out = {}
        for _role, members, total in self.night_share_groups():
            C = sum(w for _, w in members)
            for e, c in members:
                lo = max(0, -((tol * C - c * total) // C))  # ceil((c T - tol C) / C)
                out[e] = (lo, (c * total + tol * C) // C, c * total / C)
        return out


@dataclass(frozen=True)
class RosterSolution:
    """Who works which shift: ``assignment[(employee, day)] = shift id`` (absent: day off)."""

    assignment: Mapping[tuple[str, int], str]
    status: str = "UNKNOWN"
    objective: Optional[float] = None
    bound: Optional[float] = None
    seconds: float = 0.0
    conflicts: tuple[str, ...] = ()
    history: tuple[tuple[float, float, float], ...] = ()  # (seconds, objective, bound) per improvement
    changes: tuple[str, ...] = ()  # re-rostering: the changed cells in words

    def shift_of(self, emp: str, day: int) -> Optional[str]:
        return self.assignment.get((emp, day))

    def grid(self, problem: RosterProblem):
        """A pandas DataFrame, one row per employee, one column per day ('' for a day off)."""
        import pandas as pd

        cols = [str(problem.date_of(d)) if problem.start else d for d in range(problem.days)]
        data = [[self.assignment.get((e.id, d), "") for d in range(problem.days)] for e in problem.employees]
        return pd.DataFrame(data, index=[e.id for e in problem.employees], columns=cols)


UTF16_MARKS = (b"\xff\xfe", b"\xfe\xff")


def decode_text(raw: bytes) -> str:
    """A text file's text whatever the machine's locale: UTF-8 (with or without the byte-order mark that Excel's
    "CSV UTF-8" and Notepad put first), UTF-16 with its mark (Excel's "Unicode Text"), else the Windows code
    page that Excel's "CSV (comma delimited)" saves in."""
    if raw.startswith(UTF16_MARKS):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError:
            pass
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def csv_delimiter(header: str) -> str:
    """The header line's delimiter among comma, semicolon and tab: Excel in a locale whose decimal mark is a
    comma (most of Europe) saves "CSV" with semicolons."""
    import csv

    try:
        return csv.Sniffer().sniff(header, delimiters=",;\t").delimiter
    except csv.Error:  # (a single column: no delimiter to find; the column check says what is wrong)
        return ","


def read_text(path, what: str, kind: str) -> str:
    """A rostering file's text (:func:`decode_text`); a missing or binary file is a :class:`HospOpsError` naming
    ``what`` it was to be (``instance``, ``solution``) and the ``kind`` of file expected."""
    from pathlib import Path

    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise HospOpsError(f"Cannot read the {what} {path}: {exc.strerror or exc}.") from None
    if b"\0" in data and not data.startswith(UTF16_MARKS):
        raise HospOpsError(f"{path} is not a text file, so it is not a {kind}.")
    return decode_text(data)
