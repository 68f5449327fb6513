"""Solve a :class:`RosterProblem` with CP-SAT, reporting each improving roster; explain infeasibility."""
from __future__ import annotations

import math
import os
import random
import threading
import time
from typing import Callable, Optional

from ortools.sat.python import cp_model

from datasets.errors import Cancelled
from datasets.progress import Reporter
from optimization.cpsat import cp_solver

from .colgen import ColumnGeneration
from .colgen import applies as colgen_applies
from .model import RosterModel, build_model
from .pool import applies as pool_applies
from .pool import search as pool_search
from .problem import RosterProblem, RosterSolution

#: CP-SAT workers of the main portfolio (at least; all cores when there are more) and of the small
#: portfolio that looks for the first roster when the main one is larger
PORTFOLIO_WORKERS = 2
FIRST_WORKERS = 2
#: share of the time limit the CP-SAT portfolio gets before large-neighbourhood search takes over
LNS_SHARE = 0.5
#: ... and keeps it while it still improves: it hands over once it has found nothing better for
#: LNS_STALL of the time limit, or at LNS_MAX_SHARE at the latest
LNS_STALL = 0.15
LNS_MAX_SHARE = 0.8
#: LNS knobs (tuned on Curtois Instances 5-8 at 20 s on the shared 2-core machine: many short single-worker
#: neighbourhood solves beat few long ones): workers per neighbourhood solve, its work cap in CP-SAT
#: deterministic time, whether equal-cost rosters are accepted (plateau moves), and whether each
#: neighbourhood solve must beat the best cost (a cutoff; measured no better, off)
LNS_SUB_WORKERS = 1
LNS_SUB_LIMIT = 0.2  # deterministic time units: the same work per neighbourhood however busy the machine is
LNS_ACCEPT_EQUAL = True
LNS_CUTOFF = False
#: LNS begins with sweeps of best responses (one person free at a time, SWEEP_LIMIT_S each at most)
SWEEPS = True
SWEEP_LIMIT_S = 1.0
#: above this many person-day-shift cells (and without a hint) the roster is built and improved one person
#: at a time (:mod:`construct`) instead of by the full model: on Curtois Instance20-24 (35,000-1,000,000
#: cells) the full model found no roster at all in 60 s on the shared 2-core machine
ROW_SEARCH_CELLS = 30_000
#: column generation (:mod:`.colgen`) where it applies and the problem is no larger than ROW_SEARCH_CELLS:
#: the first roster's share of the time (at most FIRST_ROSTER_MAX_S; FIRST_SEEDED_S when the people's
#: dynamic programmes gave a first roster already), the time by which column
#: generation stops, and the share of the choice among its columns; the rest goes to the cell model hinted
#: with the best roster, then LNS
COLGEN = True
FIRST_ROSTER_SHARE = 0.08
FIRST_ROSTER_MAX_S = 5.0
FIRST_SEEDED_S = 1.0
COLGEN_UNTIL = 0.55
COLGEN_CHOICE_SHARE = 0.15
#: after column generation, when its master is settled (finished, or no longer moving: the dive rounds it)
#: and pricing is quick: a dive that prices again at each step until DIVE_FREE_SHARE of the people (at least
#: DIVE_FREE_MIN) are left, stopped after DIVE_SHARE of the time; then the cell model chooses those people's
#: rows exactly within FINISH_SHARE of the time (:meth:`.colgen.ColumnGeneration.dive_finish`). From a master
#: still falling it lost on Curtois 12, 17 and 18 (Instance12: 8,649 against 7,354 without it), so there the
#: plain dive and the choice among the columns remain
DIVE_FINISH = True
DIVE_FREE_SHARE = 0.2
DIVE_FREE_MIN = 3
DIVE_SHARE = 0.2
FINISH_SHARE = 0.12
#: dives are repeated (each a new one: DIVE_JITTER shakes the order in which columns are fixed) until this
#: share of the time after COLGEN_UNTIL
DIVES_SHARE = 0.25
DIVE_JITTER = 0.3
#: ... but only while another dive as long as the last would end by then (one cut at that deadline hands
#: back a half-fixed roster), and while they land within this factor of the master's bound (on Instance15,
#: 45 people over 42 days, a dive landed at 2.8 times the bound, and repeated dives left 10,683 at 60 s
#: against 5,700-6,600 without them). Until 2026-12-03 a dive that took more than a quarter of the time was
#: not repeated, and a dive run to its deadline with its finish takes up to DIVE_SHARE + FINISH_SHARE, a
#: third: on Curtois Instance8, whose dives land either near 1,305 or a cover slot (100) above it and take
#: 10-16 s, three runs of four then ended at 1,405-1,512 after one slow dive and 35 s of the cell model's
#: search, which moved them by a unit (with this rule: 1,306-1,311 in three runs of five; in the other two
#: every dive landed at 1,405)
DIVE_REPEAT_WITHIN = 1.5
#: ... and until this many dives in a row found nothing better: on Curtois 5 every dive after the first two
#: (from 4 s to 48 s) repeated 1,146, time the cell model's search then had for its polish (5-8 in one
#: run each: 1,144, 1,951, 1,057, 1,309 against 1,145, 1,952, 1,061, 1,317 without the rule)
DIVE_STALE = 3
#: where column generation finished with a bound and every person has the exact row search, and a dive has
#: brought the best roster within POOL_WITHIN units (or POOL_WITHIN_SHARE) of it: the search over every row
#: within the gap, target cost by target cost (:mod:`.pool`), starts in a thread of its own and runs until
#: POOL_UNTIL, while the dives, the choice among the columns and the cell model go on in this one (it is
#: single-threaded, and most of its time is HiGHS's simplex, which releases the GIL); it proves a roster
#: optimal or leaves the rest to them (Curtois 5 and 6 proven optimal in every run since, 7 at the best known
#: in most; BENCHMARKS.md). Until 2026-12-05 the dives stopped for it and it had the time to itself until
#: POOL_UNTIL: Instance7 proven optimal in 19 and 40 s that way, in 14 and 31 s beside the dives. Started at
#: once after column generation, beside the dives, it proved more targets but the dives, with one core, fared
#: worse (Instance8: 1,314 against 1,305-1,307); run alone before the dives it took the time they needed
#: where the gap is wide (Curtois 18: 6,414 against 4,995-5,819). POOL_WITHIN was 25 while the search held
#: the time to itself; beside the dives, 150 lets it start after a dive that landed a cover slot (100) above
#: the bound (Curtois 7 and 8: 1,160 and 1,404 over masters of 1,055 and 1,297), where it had not started
#: at all in runs whose dives never came nearer (Instance7: 1,062 at 60 s in one)
POOL = True
POOL_WITHIN = 150
POOL_WITHIN_SHARE = 0.01
POOL_UNTIL = 0.8

#: large problems (over ROW_SEARCH_CELLS): once the row search's best-response passes stall (ROW_STALE passes
#: in a row without a better roster) with LARGE_COLGEN_MIN_S or more left, column generation from their roster
#: for LARGE_COLGEN_SHARE of the time left, then dives polished by the passes; the last LARGE_POLISH_SHARE of
#: it polishes the best. The cell model finishes a dive only up to LARGE_FINISH_CELLS cells (it is built whole).
#: Curtois Instance13 at 600 s: 2,084 against 7,907 (the passes stall in 10 s), and the master's bound 1,348 is
#: its optimum; the solver's whole column-generation path (ROW_SEARCH_CELLS raised): 2,485
ROW_STALE = 3
LARGE_COLGEN = True
LARGE_COLGEN_MIN_S = 60.0
LARGE_COLGEN_SHARE = 0.6
LARGE_POLISH_SHARE = 0.1
LARGE_FINISH_CELLS = 150_000

#: a hint that breaks a hard rule (a lock the scheduler just set, a published roster's shift on a day now
#: locked off, which also leaves that person short of their least hours) is first repaired: the cells around
#: what it breaks are re-solved with everything else fixed, in widening rings (the people concerned; then
#: everybody within REPAIR_RINGS days of the broken rule's days), each for a share of REPAIR_SHARE of the time
#: (at most REPAIR_MAX_S in all). Without it the search began from nothing: a re-roster asked to give one nurse
#: Christmas Day off changed 280 cells of a 6-week ward roster (15 s); repaired first, 3 (optimal in 3 s)
REPAIR_SHARE = 0.3
REPAIR_MAX_S = 10.0
REPAIR_RINGS = (3, 7)

OnSolution = Callable[[float, float, float], None]


class _Recorder(cp_model.CpSolverSolutionCallback):
    """Keeps the best roster found, reports it, and stops the search when asked to."""

    def __init__(self, rm: RosterModel, t0: float, time_limit: float, rep: Reporter,
                 on_solution: Optional[OnSolution]):
        super().__init__()
        self.rm, self.t0, self.limit, self.rep, self.on_solution = rm, t0, time_limit, rep, on_solution
        self.best: Optional[dict] = None
        self.objective: Optional[float] = None
        self.bound: Optional[float] = None
        self.history: list[tuple[float, float, float]] = []
        self.cancelled = False
        self.hand_over_at: Optional[float] = None
        self.stall: Optional[float] = None
        self.max_at: float = float("inf")
        self.handed_over = False

    def on_solution_callback(self) -> None:
        # integer weights: round away the float noise CP-SAT's objective scaling can leave (0.9999999999999996)
        obj, bound = float(round(self.objective_value)), self.best_objective_bound
        bound = float(round(bound)) if abs(bound - round(bound)) < 1e-6 else bound
        if self.objective is not None and obj >= self.objective:
            return
        self.objective, self.bound = obj, bound
        self.best = {(e, d): s for (e, d, s), v in self.rm.x.items() if self.boolean_value(v)}
        t = time.perf_counter() - self.t0
        self.history.append((round(t, 3), obj, bound))
        if self.on_solution:
            self.on_solution(obj, bound, t)
        self.rep.progress(min(t / self.limit, 0.99) if self.limit else 0.5, f"roster cost {obj:g} (bound {bound:g})")
        if self.rep.should_stop():
            self.cancelled = True
            self.stop_search()
        elif self.hand_over_at is not None and self.should_hand_over(t):
            self.handed_over = True
            self.stop_search()

    def should_hand_over(self, t: float) -> bool:
        if self.hand_over_at is None or t < self.hand_over_at:
            return False
        if self.stall is None:
            return True
        last = self.history[-1][0] if self.history else 0.0
        return t - last >= self.stall or t >= self.max_at


def _solve_watched(solver: cp_model.CpSolver, model: cp_model.CpModel, rec: _Recorder, t0: float):
    """Solve while a watcher thread stops the search on a cancel request, even between solutions, and
    at the hand-over time once a roster exists."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            if rec.rep.should_stop():
                rec.cancelled = True
                solver.stop_search()
                return
            if rec.hand_over_at is not None and rec.best is not None and rec.should_hand_over(time.perf_counter() - t0):
                rec.handed_over = True
                solver.stop_search()
                return

    th = threading.Thread(target=watch, daemon=True)
    th.start()
    try:
        return solver.solve(model, rec)
    finally:
        done.set()
        th.join()


def _params(time_limit_s: float, num_workers: Optional[int], seed: int) -> cp_model.CpSolver:
    return cp_solver(max(float(time_limit_s), 0.01), num_workers or max(os.cpu_count() or 1, 1), seed)


def _add_hint(rm: RosterModel, assignment: dict) -> None:
    for (e, d, s), v in rm.x.items():
        rm.model.add_hint(v, assignment.get((e, d)) == s)


def solve(problem: RosterProblem, time_limit_s: float = 30.0, progress=None, should_stop=None,
          on_solution: Optional[OnSolution] = None, hint: Optional[RosterSolution] = None,
          num_workers: Optional[int] = None, seed: int = 0, lns: bool = True,
          explain: bool = True, colgen: bool = True, sweeps: bool = True) -> RosterSolution:
    """Find the cheapest roster within ``time_limit_s`` seconds.

    Status is OPTIMAL, FEASIBLE, INFEASIBLE (with ``conflicts`` in words), UNKNOWN (no roster found in time)
    or CANCELLED (``should_stop`` turned true: the best roster so far comes back; when there is none yet,
    :class:`Cancelled` is raised). ``on_solution(objective, bound, seconds)`` is called for each improving
    roster. ``hint`` (e.g. the previous roster) seeds the search. ``num_workers``: CP-SAT workers of the
    main portfolio (default: all cores, at least ``PORTFOLIO_WORKERS``).

    Large problems (over ``ROW_SEARCH_CELLS`` person-day-shift cells, no hint) are built and improved one
    person at a time instead (:mod:`.construct`), then, where column generation applies and the passes stall
    early enough, by column generation and dives (:func:`_large_colgen`; its bound when it finished).
    Problems whose people are coupled only through cover (no fairness terms; ``colgen``, no hint, ``lns``)
    go through column generation first (:mod:`.colgen`, :func:`_colgen_solve`): a first roster from each
    person's own cheapest row (or, without row programmes, from the search below in ``FIRST_ROSTER_SHARE`` of the
    time), whole rows priced by the master's duals until ``COLGEN_UNTIL``, rosters rounded from the master
    (dives, the last people chosen by CP-SAT) and, from a settled master, the best choice among the rows,
    then the search below hinted with the best roster for the rest; the bound is the master's when it was
    proven. Otherwise:

    Search: (1) when the portfolio is larger than ``FIRST_WORKERS``, a small portfolio finds a first roster
    (a large portfolio on two busy cores took tens of seconds to find one on Curtois Instance8); (2) the
    portfolio, hinted with it, runs for at least ``LNS_SHARE`` of the time and on while it still
    improves; (3) with ``lns``, adaptive large-neighbourhood search re-solves a few people, a window of
    days, or both, with everything else fixed, accepting equal-cost moves. The bound is the portfolio's.
    Measured on the shared 2-core machine (Curtois 1-8, 60 s): a 2-worker portfolio then LNS beat both an
    8-worker portfolio then LNS and a 2-worker portfolio alone on most instances.
    """
    from .explain import explain_infeasible, precheck

    rep = Reporter(progress, should_stop)
    rep(0.0, "checking the requirements")
    t0 = time.perf_counter()
    conflicts = precheck(problem)
    if conflicts:
        return RosterSolution({}, "INFEASIBLE", seconds=time.perf_counter() - t0, conflicts=tuple(conflicts))
    if hint is None and _cells(problem) > ROW_SEARCH_CELLS:
        return _row_search(problem, time_limit_s, rep, on_solution, t0, seed)
    if hint is None and lns and colgen and COLGEN and colgen_applies(problem):
        return _colgen_solve(problem, time_limit_s, rep, on_solution, t0, num_workers, seed, explain)
    rm = build_model(problem)
    hinted = dict(hint.assignment) if hint is not None else None
    if hinted is not None:
        _add_hint(rm, hinted)
    workers = num_workers or max(PORTFOLIO_WORKERS, os.cpu_count() or 1)
    rec = _Recorder(rm, t0, time_limit_s, rep, on_solution)
    if hinted is not None:
        # a hint that keeps every hard rule is the incumbent: only better rosters count, and the search after
        # the portfolio starts from it (CP-SAT's portfolio does not always take up a hint: after column
        # generation on Curtois Instance8 it went on from its own 1,716 while the hint cost 1,302)
        from .validate import validate

        check = validate(problem, hinted)
        if check.hard_violations:
            rep(0.005, "repairing the starting roster")
            fixed = _repair(problem, rm, hinted, check, t0 + min(time_limit_s * REPAIR_SHARE, REPAIR_MAX_S),
                            seed, rep.should_stop)
            if fixed is not None:
                hinted = fixed
                rm.model.clear_hints()
                _add_hint(rm, hinted)
                check = validate(problem, hinted)
        if check.hard_violations == 0:
            rec.best, rec.objective = hinted, float(check.objective)
            rec.history.append((round(time.perf_counter() - t0, 3), rec.objective, float("nan")))
            if on_solution:
                on_solution(rec.objective, float("nan"), rec.history[-1][0])
    rep(0.01, "searching")
    status = None
    if workers > FIRST_WORKERS and hint is None:
        # a first roster from a small portfolio: a large one shares two cores badly before its first solution
        rec.hand_over_at = 0.0
        solver = _params(time_limit_s, FIRST_WORKERS, seed)
        status = _solve_watched(solver, rm.model, rec, t0)
        if rec.best is not None and status not in (cp_model.OPTIMAL, cp_model.INFEASIBLE) and not rec.cancelled:
            _add_hint(rm, rec.best)
            status = None
    if status is None or (rec.best is None and status == cp_model.UNKNOWN and not rec.cancelled
                          and time.perf_counter() - t0 < time_limit_s):
        # the full portfolio runs until a share of the time has passed, then LNS takes over
        rec.hand_over_at = time_limit_s * LNS_SHARE if lns else None
        rec.stall, rec.max_at = time_limit_s * LNS_STALL, time_limit_s * LNS_MAX_SHARE
        left = max(time_limit_s - (time.perf_counter() - t0), 0.01)
        solver = _params(left, workers, seed)
        status = _solve_watched(solver, rm.model, rec, t0)
    name = solver.status_name(status)
    if name == "UNKNOWN" and rec.best is not None:  # none found in the time, but the hint is a roster
        name = "FEASIBLE"
    bound = solver.best_objective_bound if rec.best is not None else None
    if bound is not None and abs(bound - round(bound)) < 1e-6:
        bound = float(round(bound))
    if status == cp_model.INFEASIBLE:
        left = max(time_limit_s - (time.perf_counter() - t0), 1.0) if explain else 0
        conf = explain_infeasible(problem, min(left, 30.0)) if explain else []
        return RosterSolution({}, "INFEASIBLE", seconds=time.perf_counter() - t0,
                              conflicts=tuple(conf or ["The hard rules cannot all hold together."]))
    if rec.best is None:
        if rec.cancelled or rep.should_stop():
            raise Cancelled()
        return RosterSolution({}, "UNKNOWN", seconds=time.perf_counter() - t0)
    best, best_obj = rec.best, rec.objective
    if status == cp_model.OPTIMAL:
        bound = best_obj
    if lns and status != cp_model.OPTIMAL and not rec.cancelled:
        best, best_obj, bound, name = _lns(problem, rm, best, best_obj, bound, t0, time_limit_s, rec,
                                           num_workers, seed, sweeps=sweeps and SWEEPS)
    if rec.cancelled:
        name = "CANCELLED"
    # the model's penalties are bounded below by the rules they price, so before optimality one may stand
    # above what the roster breaks (a run under load reported 102 for a roster costing 101): the roster's own
    # cost is what it is sold at. (A model that prices a roster *below* its cost is a bug the tests catch.)
    from .validate import validate

    best_obj = min(best_obj, float(validate(problem, best).objective))
    rep.progress(1.0, f"roster cost {best_obj:g}")
    return RosterSolution(best, name, best_obj, bound, round(time.perf_counter() - t0, 3),
                          history=tuple(rec.history))


def _colgen_solve(problem, limit, rep, on_solution, t0, num_workers, seed, explain) -> RosterSolution:
    """A first roster (each person's own cheapest row, else the cell model briefly), column generation,
    dives with a CP-SAT finish and the best choice among the columns (when the master settled) or a plain
    dive, then the cell model hinted with the best roster and LNS for the rest of the time. The bound is the
    larger of the master's (when column generation finished) and the cell model's."""
    history: list[tuple[float, float, float]] = []
    best: dict = {}
    best_obj: Optional[float] = None
    bound: Optional[float] = None

    lock = threading.RLock()  # the pool search reports from a thread of its own

    def improved(obj: float, assignment: Optional[dict] = None, at: Optional[float] = None,
                 b: Optional[float] = None) -> None:
        with lock:
            _improved(obj, assignment, at, b)

    def _improved(obj: float, assignment: Optional[dict] = None, at: Optional[float] = None,
                  b: Optional[float] = None) -> None:
        nonlocal best, best_obj, bound
        if b is not None and b == b:  # not NaN
            bound = max(bound, b) if bound is not None else b
        if best_obj is not None and obj >= best_obj:
            return
        if assignment is not None:
            best = dict(assignment)
        best_obj = float(obj)
        t = at if at is not None else time.perf_counter() - t0
        shown = bound if bound is not None else float("nan")
        history.append((round(t, 3), best_obj, shown))
        if on_solution:
            on_solution(best_obj, shown, t)
        rep.progress(min(t / limit, 0.99), f"roster cost {best_obj:g}")

    def left() -> float:
        return limit - (time.perf_counter() - t0)

    from .validate import validate

    cg = ColumnGeneration(problem)
    seeded = cg.seed_rows()
    if seeded:
        # every person's own cheapest row: cover being priced, that is a roster at once, and column generation
        # from these rows was as quick as from the cell model's first roster (Curtois 7, 8, 12, 14: 3-19 s
        # against 4-23 s, and the first roster's 5 s saved; on 17 and 18 the cell model found none in 5 s)
        check = validate(problem, seeded)
        if check.hard_violations == 0:
            best = seeded
            improved(check.objective, best)
        else:  # pragma: no cover - a programme that missed a rule: start as without one
            cg = ColumnGeneration(problem)
    # the cell model briefly: small problems are solved outright (Curtois Instance1: optimal in 0.2 s, where
    # column generation and its dives took 48 s to prove it), and its roster's rows join the columns
    first_limit = max(min(limit * FIRST_ROSTER_SHARE, FIRST_ROSTER_MAX_S), min(1.0, limit * 0.3))
    try:
        first = solve(problem, min(first_limit, FIRST_SEEDED_S) if best else first_limit,
                      should_stop=rep.should_stop, num_workers=num_workers, seed=seed, lns=False, explain=explain,
                      on_solution=lambda obj, b, t: improved(obj, None, t, b))
    except Cancelled:
        if not best:
            raise
        first = RosterSolution({}, "CANCELLED")  # stopped before it began: the seeded roster comes back
    if (first.status in ("INFEASIBLE", "OPTIMAL") or (first.status == "CANCELLED" and not best)
            or (not (first.assignment or best) and left() <= 1.0)):
        return first
    if first.assignment:
        cg.add_roster(dict(first.assignment))
        if best_obj is None or first.objective <= best_obj:  # (its solutions were heard without their rosters)
            best = dict(first.assignment)
            improved(first.objective, best)
    elif not best:  # no roster yet and no rows to start from: the cell model with what is left
        return solve(problem, left(), should_stop=rep.should_stop, on_solution=on_solution,
                     num_workers=num_workers, seed=seed, explain=explain, colgen=False)

    def gap_open() -> bool:
        return best_obj is None or bound is None or best_obj > bound

    def said(v: float) -> str:
        return (f"roster cost {best_obj:g}, " if best_obj is not None else "") + f"bound from rows {v:,.1f}"

    rep.progress(0.1, "generating rows (column generation)")
    cg.generate(t0 + limit * COLGEN_UNTIL, rep.should_stop,
                on_iteration=lambda k, v: rep.progress(min((time.perf_counter() - t0) / limit, 0.99), said(v)))
    if cg.bound is not None:
        bound = float(cg.bound)
    use_pool = POOL and pool_applies(cg)

    def near() -> bool:
        """Whether the best roster is within a few units of the master's bound: the pool search's ground."""
        return (use_pool and best_obj is not None and cg.lp_value is not None
                and best_obj - cg.lp_value <= max(POOL_WITHIN, POOL_WITHIN_SHARE * cg.lp_value))

    def halt() -> bool:  # the pool search may prove the best roster optimal
        return rep.should_stop() or not gap_open()

    pool_job: dict = {}

    def start_pool() -> None:
        """The search over the rows within the gap (:mod:`.pool`) in a thread of its own, once: the dives and
        the cell model go on beside it on the other core (most of its time is HiGHS's simplex, and the GIL
        is released there)."""
        if pool_job or halt():
            return
        master = cg.solve_master()  # here: the dives re-solve the master in this thread
        if master is None:
            return

        def pooled(roster: dict, _cost: int) -> None:
            check = validate(problem, roster)
            if check.hard_violations == 0:
                improved(check.objective, roster)

        def work() -> None:
            try:
                pool_search(
                    cg, lambda: best_obj if best_obj is not None else math.inf, t0 + limit * POOL_UNTIL,
                    lambda: rep.should_stop() or "stop" in pool_job, on_roster=pooled,
                    on_bound=lambda b: improved(math.inf, None, None, float(b)), master=master)
            except BaseException as exc:  # pragma: no cover - raised again in the solve's own thread
                pool_job["error"] = exc

        pool_job["thread"] = threading.Thread(target=work, name="roster-pool", daemon=True)
        pool_job["thread"].start()

    def join_pool(failing: bool = False) -> None:
        th = pool_job.get("thread")
        if th is not None:
            th.join()
            if "error" in pool_job and not failing:
                raise pool_job["error"]

    try:
        if near():  # (the first roster may be near enough already)
            start_pool()
        if not halt():
            if DIVE_FINISH and cg.priced_quickly and cg.settled:
                _dives(problem, cg, limit, t0, improved, halt, num_workers, seed,
                       after_each=lambda: near() and start_pool())
            else:
                dived = cg.dive(time.perf_counter() + limit * COLGEN_CHOICE_SHARE / 2)
                check = validate(problem, dived) if dived is not None else None
                if check is not None and check.hard_violations == 0:  # a dive ignores cover's hard minimum
                    improved(check.objective, dived)
        if near():
            start_pool()
        # the choice among the columns only from a settled master: from one still falling it found nothing in
        # its share of the time (Curtois 15 and 19, 84 days: 13 s without a better roster), time the cell
        # model's search then used well (15: 7,291 to 5,596 in 8 s)
        if cg.settled and not halt() and left() > 0.5:
            picked = cg.best_roster(min(limit * COLGEN_CHOICE_SHARE, left() - 0.2), hint=best,
                                    workers=num_workers or PORTFOLIO_WORKERS, seed=seed, should_stop=halt)
            if picked is not None:
                improved(picked[1], picked[0])
        rest = None
        if not halt() and left() > 0.5:
            offset = time.perf_counter() - t0
            try:
                # (no sweeps: the dives' finish leaves no one person's row to improve, and on Curtois Instance8
                # a sweep that found nothing took 2-3 s of the search's last 12; 1,305-1,311 against 1,303-1,306)
                rest = solve(problem, left(), should_stop=halt, hint=RosterSolution(best) if best else None,
                             on_solution=lambda obj, b, t: improved(obj, None, offset + t, b),
                             num_workers=num_workers, seed=seed, explain=explain, colgen=False, sweeps=False)
            except Cancelled:
                if rep.should_stop():
                    raise
        join_pool()
    except BaseException:
        pool_job["stop"] = True
        join_pool(failing=True)
        raise
    # the roster's own cost, whatever a solve reported (the cell model's reports come without their rosters)
    cost = float(validate(problem, best).objective) if best else math.inf
    if rest is not None:
        rest_cost = float(validate(problem, rest.assignment).objective) if rest.assignment else None
        if rest_cost is not None and rest_cost <= cost:
            best, cost = dict(rest.assignment), rest_cost
        if rest.bound is not None:
            bound = max(rest.bound, bound) if bound is not None else rest.bound
    if not best:
        if rep.should_stop():
            raise Cancelled()
        return RosterSolution({}, "UNKNOWN", seconds=round(time.perf_counter() - t0, 3), history=tuple(history))
    best_obj = cost
    status = "OPTIMAL" if bound is not None and best_obj <= bound else "FEASIBLE"
    if rep.should_stop():
        status = "CANCELLED"
    rep.progress(1.0, f"roster cost {best_obj:g}")
    return RosterSolution(best, status, best_obj, bound, round(time.perf_counter() - t0, 3), history=tuple(history))


def _dives(problem, cg, limit, t0, improved, halt, num_workers, seed,
           after_each: Callable[[], object] = lambda: None) -> None:
    """Dives with a CP-SAT finish (:meth:`.colgen.ColumnGeneration.dive_finish`) until DIVES_SHARE of the
    time after COLGEN_UNTIL, each one's fixing order shaken by DIVE_JITTER after the first; ``improved``
    hears of every roster, then ``after_each()`` is called. The same code gave 1,064, 1,085 and 1,163 on
    Curtois Instance7 in three runs: a dive is a gamble, the best of several a better one. No dive starts
    that would not end in time, nor once ``halt()`` (cancelled, or the best roster proven optimal)."""
    end = t0 + limit * (COLGEN_UNTIL + DIVES_SHARE)
    free = max(DIVE_FREE_MIN, round(DIVE_FREE_SHARE * len(problem.employees)))
    stale = k = 0
    best_dive = math.inf
    while not halt() and stale < DIVE_STALE:
        now = time.perf_counter()
        if now > end - 0.5:
            return
        dive_by = min(end, now + limit * DIVE_SHARE)
        out = _dive(problem, cg, dive_by, free, min(limit * FINISH_SHARE, end - now), seed, k, halt, improved,
                    num_workers)
        if out is None:
            return
        dived, check = out
        after_each()
        cg.add_roster(dived)  # its finish's rows too: the choice among the columns can then combine dives
        stale = stale + 1 if check.objective >= best_dive else 0
        best_dive = min(best_dive, check.objective)
        floor = cg.bound if cg.bound is not None else cg.lp_value  # not a bound when unfinished, but near one
        done = time.perf_counter()
        if done + (done - now) > end or check.objective > DIVE_REPEAT_WITHIN * floor:
            return  # no time for another as long, or a poor dive: the time is better left to the search
        k += 1


def _dive(problem, cg, by, free, finish_s, seed, k, should_stop, improved, num_workers=None):
    """The ``k``-th dive (seed ``seed + k``) with its CP-SAT finish (:meth:`.colgen.ColumnGeneration.dive_finish`;
    its fixing order shaken after the first): ``improved(cost, roster)`` hears of its roster when that keeps
    every hard rule. (roster, its validation), or None when the master failed."""
    from .validate import validate

    dived = cg.dive_finish(by, free, finish_s, workers=num_workers or PORTFOLIO_WORKERS, seed=seed + k,
                           should_stop=should_stop, jitter=DIVE_JITTER if k else 0.0)
    if dived is None:
        return None
    check = validate(problem, dived)
    if check.hard_violations == 0:
        improved(check.objective, dived)
    return dived, check


def _cells(problem: RosterProblem) -> int:
    return sum(1 for e in problem.employees for s in problem.shifts if e.max_shifts.get(s.id, 1) > 0) * problem.days


def _row_search(problem, limit, rep, on_solution, t0, seed) -> RosterSolution:
    """Large problems: build the roster one person at a time, then improve it by best-response passes
    (each person's row re-solved with everybody else fixed). Once the passes stall (``ROW_STALE`` in a row
    without a better roster) with ``LARGE_COLGEN_MIN_S`` or more left, column generation from the roster's
    rows (:func:`_large_colgen`); otherwise passes until the time is up. The bound is column generation's when
    it finished, else none."""
    from .construct import construct
    from .validate import validate

    rep(0.01, "building a first roster one person at a time")
    deadline = t0 + limit
    cache: dict = {}  # each person's row problem and dynamic programme, built once
    best = construct(problem, deadline, seed, should_stop=rep.should_stop, cache=cache)
    if best is None:
        if rep.should_stop():
            raise Cancelled()
        return RosterSolution({}, "UNKNOWN", seconds=time.perf_counter() - t0)
    history: list[tuple[float, float, float]] = []
    obj = math.inf

    def improved(new_obj: float, roster: dict) -> None:
        nonlocal best, obj
        if new_obj >= obj:
            return
        best, obj = roster, new_obj
        t = time.perf_counter() - t0
        shown = float(bound) if bound is not None else 0.0
        history.append((round(t, 3), obj, shown))
        if on_solution:
            on_solution(obj, shown, t)
        rep.progress(min(t / limit, 0.99), f"roster cost {obj:g}")

    bound: Optional[int] = None
    improved(validate(problem, best).objective, best)
    k = 1  # the next pass's seed (after seed)

    def proven() -> bool:
        return bound is not None and obj <= bound

    def passes(until: float, stall: Optional[int], start: Optional[tuple[dict, float]] = None) -> None:
        """Best-response passes from ``start`` (a roster and its cost; by default the best roster) until
        ``until``, or until ``stall`` passes in a row found nothing better than the roster they started from."""
        nonlocal k
        cur, cur_obj = start if start is not None else (best, obj)
        stale = 0
        while (time.perf_counter() < until - 0.1 and not rep.should_stop() and not proven()
               and (stall is None or stale < stall)):
            nxt = construct(problem, until, seed + k, start=cur, should_stop=rep.should_stop, cache=cache)
            k += 1
            new = validate(problem, nxt).objective
            stale = stale + 1 if new >= cur_obj else 0
            if new < cur_obj:
                cur, cur_obj = nxt, new
                improved(new, nxt)

    if LARGE_COLGEN and colgen_applies(problem):
        passes(deadline, ROW_STALE)
        if deadline - time.perf_counter() >= LARGE_COLGEN_MIN_S and not rep.should_stop():

            def found(b: int) -> None:
                nonlocal bound
                bound = b

            _large_colgen(problem, best, obj, limit, t0, rep, improved, found, proven,
                          lambda until, start: passes(until, ROW_STALE, start), seed)
    passes(deadline, None)
    status = "OPTIMAL" if proven() else "FEASIBLE"
    if rep.should_stop():
        status = "CANCELLED"
    return RosterSolution(best, status, obj, bound, round(time.perf_counter() - t0, 3), history=tuple(history))


def _large_colgen(problem, start, start_cost, limit, t0, rep, improved, on_bound, proven, polish, seed) -> None:
    """Column generation for a large problem whose best-response passes have stalled: the master over the
    people's own cheapest rows and the stalled roster's rows, priced for ``LARGE_COLGEN_SHARE`` of the time
    left; then dives (the last people chosen by the cell model only where it is small enough,
    ``LARGE_FINISH_CELLS``), each dive's roster polished by best-response passes, until ``LARGE_POLISH_SHARE``
    of that time is left for the polish of the best. ``improved(cost, roster)`` hears of each roster,
    ``on_bound(b)`` of the master's bound when generation finished, ``proven()`` says whether the best roster
    has reached that bound (the search ends there), ``polish(until, (roster, cost))`` runs passes from a
    roster."""
    rep.progress(min((time.perf_counter() - t0) / limit, 0.99), f"roster cost {start_cost:g}, generating rows")
    cg = ColumnGeneration(problem)
    cg.seed_rows()
    cg.add_roster(start)
    now = time.perf_counter()
    left = t0 + limit - now
    cg.generate(now + left * LARGE_COLGEN_SHARE, rep.should_stop,
                on_iteration=lambda _k, v: rep.progress(min((time.perf_counter() - t0) / limit, 0.99),
                                                        f"bound from rows {v:,.1f}"))
    if cg.bound is not None:
        on_bound(cg.bound)
    end = t0 + limit - left * LARGE_POLISH_SHARE
    free = max(DIVE_FREE_MIN, round(DIVE_FREE_SHARE * len(problem.employees)))
    finish = _cells(problem) <= LARGE_FINISH_CELLS
    k = 0
    while not rep.should_stop() and not proven() and time.perf_counter() < end - 1.0:
        now = time.perf_counter()
        # the dive ends early enough for its finish to end by ``end`` (a finish begun just before it ran on past
        # the time limit: Curtois Instance22, 651 s for 600)
        finish_s = min(limit * FINISH_SHARE, (end - now) / 3) if finish else 0.0
        out = _dive(problem, cg, end - finish_s, free, finish_s, seed, k, rep.should_stop, improved)
        if out is None:
            break
        dived, check = out
        cg.add_roster(dived)
        polish(end, (dived, check.objective))
        k += 1
        done = time.perf_counter()
        if done + (done - now) > end:
            break  # no time for another dive as long


def _fixed_outside(rm: RosterModel, roster: dict, free: Callable[[str, int], bool]) -> cp_model.CpModel:
    """A copy of the model with every cell outside ``free`` fixed to ``roster`` and the free ones hinted."""
    sub = rm.model.clone()
    sub.clear_hints()
    for (e, d, s), v in rm.x.items():
        val = int(roster.get((e, d)) == s)
        if free(e, d):
            sub.add_hint(sub.get_bool_var_from_proto_index(v.index), val)
        else:  # fixed in its domain: cheaper than a constraint each (the clone is most of a small solve's time)
            dom = sub.proto.variables[v.index].domain  # a boolean's is [0, 1]
            dom[0] = dom[1] = val
    return sub


def _repair(problem: RosterProblem, rm: RosterModel, roster: dict, check, deadline: float, seed: int,
            should_stop: Callable[[], bool] = lambda: False) -> Optional[dict]:
    """The roster nearest ``roster`` (which breaks the hard rules in ``check``) found by re-solving only the
    cells around what it breaks, everything else fixed: first the rows of the people concerned, then also
    everybody on the days concerned, give or take each of REPAIR_RINGS days (a rule about a whole row, such as
    least hours, names no day: its person's whole row is free from the first ring). Each ring has a share of
    the time to ``deadline``; the cheapest roster of the first ring that has one is returned (with a change
    price, as in a re-roster, that is the one with fewest changes), or None."""
    hard = [v for v in check.violations if v.hard]
    people = {v.employee for v in hard if v.employee}
    days = {v.day for v in hard if v.day is not None}
    if not people and not days:
        return None
    rings: list[Callable[[str, int], bool]] = [lambda e, d: e in people] if people else []
    for w in REPAIR_RINGS:
        if days:
            rings.append(lambda e, d, w=w: e in people or any(abs(d - d0) <= w for d0 in days))
    for k, free in enumerate(rings):
        left = deadline - time.perf_counter()
        if left <= 0.05 or should_stop():
            return None
        sub = _fixed_outside(rm, roster, free)
        solver = _params(left / (len(rings) - k), 1, seed)
        st = solver.solve(sub)
        if st in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            return {(e, d): s for (e, d, s), v in rm.x.items() if solver.boolean_value(v)}
    return None


def _sweeps(rm: RosterModel, best: dict, best_obj: float, deadline: float, rng: random.Random,
            should_stop: Callable[[], bool] = lambda: False,
            on_better: Callable[[dict, float], None] = lambda roster, obj: None) -> tuple[dict, float]:
    """Best responses, person by person in a random order (each one's row re-solved by CP-SAT with everyone
    else fixed, at most SWEEP_LIMIT_S), sweep after sweep until one finds nothing better or ``deadline``:
    the roster returned then has no one person whose row alone could make it cheaper."""
    emps = [e.id for e in rm.problem.employees]
    sweeping = True
    while sweeping:
        sweeping = False
        order = emps[:]
        rng.shuffle(order)
        for who in order:
            left = deadline - time.perf_counter()
            if left <= 0 or should_stop():
                return best, best_obj
            solver = _params(min(left, SWEEP_LIMIT_S), 1, rng.randrange(10**6))
            st = solver.solve(_fixed_outside(rm, best, lambda e, d: e == who))
            if st in (cp_model.OPTIMAL, cp_model.FEASIBLE) and solver.objective_value < best_obj - 0.5:
                best = {(e, d): sh for (e, d, sh), v in rm.x.items() if solver.boolean_value(v)}
                best_obj = float(round(solver.objective_value))
                on_better(best, best_obj)
                sweeping = True
    return best, best_obj


def _lns(problem, rm, best, best_obj, bound, t0, limit, rec, num_workers, seed, sweeps: bool = True):
    """Adaptive large-neighbourhood search: free some people, a window of days, or both; fix the rest
    to the best roster; re-solve briefly. A neighbourhood solved to optimality grows, one that times out
    shrinks."""
    rng = random.Random(seed)
    p = problem
    emps = [e.id for e in p.employees]
    frac = 0.3
    sub_workers = min(num_workers or LNS_SUB_WORKERS, LNS_SUB_WORKERS)
    objective = rm.model.proto.objective

    def better(_roster: dict, obj: float) -> None:  # (reported: the roster is kept by whoever found it)
        t = time.perf_counter() - t0
        rec.history.append((round(t, 3), obj, bound))
        if rec.on_solution:
            rec.on_solution(obj, bound, t)

    # sweeps first: each person's row re-solved with everyone else fixed (a best response), in a random order,
    # while a sweep finds anything (ward M3, 42 days, from the roster of a 15-second solve: 3,916 -> 1,351 in one
    # sweep of 3 s, 1,118 after the second; the neighbourhoods below, 30 % of the people at first, mostly ran
    # out of their time; the 30-second solve reached 1,786)
    if sweeps:
        best, best_obj = _sweeps(rm, best, best_obj, t0 + limit - 0.05, rng, rec.rep.should_stop, better)
        if bound is not None and best_obj <= bound:
            return best, best_obj, bound, "OPTIMAL"
    while time.perf_counter() - t0 < limit - 0.05:
        if rec.rep.should_stop():
            rec.cancelled = True
            break
        kind = rng.random()
        k = max(2, min(len(emps), round(frac * len(emps))))
        if kind < 0.5:
            free_e = set(rng.sample(emps, k))
            free = lambda e, d: e in free_e  # noqa: E731
        elif kind < 0.75:
            L = max(3, min(p.days, round(frac * p.days)))
            d0 = rng.randrange(0, p.days - L + 1)
            free = lambda e, d: d0 <= d < d0 + L  # noqa: E731
        else:
            free_e = set(rng.sample(emps, min(len(emps), 2 * k)))
            L = max(3, min(p.days, round(2 * frac * p.days)))
            d0 = rng.randrange(0, p.days - L + 1)
            free = lambda e, d: e in free_e and d0 <= d < d0 + L  # noqa: E731
        sub = _fixed_outside(rm, best, free)
        left = limit - (time.perf_counter() - t0)
        if left <= 0.05:
            break
        if LNS_CUTOFF:
            sub.add(sum(c * sub.get_int_var_from_proto_index(v) for v, c in zip(objective.vars, objective.coeffs))
                    <= int(best_obj) - 1)
        solver = _params(left, sub_workers, seed + rng.randrange(10**6))
        solver.parameters.max_deterministic_time = LNS_SUB_LIMIT
        sub_rm = RosterModel(p, sub, x={k2: sub.get_bool_var_from_proto_index(v.index) for k2, v in rm.x.items()})
        sub_rec = _Recorder(sub_rm, t0, limit, rec.rep, None)
        # only better rosters are recorded (or equally good ones: plateau moves)
        sub_rec.objective = best_obj + (0.5 if LNS_ACCEPT_EQUAL else 0)
        st = solver.solve(sub, sub_rec)
        if sub_rec.cancelled:
            rec.cancelled = True
        explored = st in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
        if sub_rec.best is not None and sub_rec.objective <= best_obj:
            improved = sub_rec.objective < best_obj
            best, best_obj = sub_rec.best, sub_rec.objective
            if not improved:
                frac = min(0.9, frac * 1.1) if explored else max(0.05, frac * 0.85)
                continue
            better(best, best_obj)
        frac = min(0.9, frac * 1.1) if explored else max(0.05, frac * 0.85)
        if bound is not None and best_obj <= bound:
            return best, best_obj, bound, "OPTIMAL"
    return best, best_obj, bound, "FEASIBLE"
