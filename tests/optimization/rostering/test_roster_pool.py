"""Every row within a gap, listed by the dynamic programme, and the search over them: the same rows as CP-SAT
enumerates, and the optimum with its proof."""
from __future__ import annotations

import time

import pytest
from ortools.sat.python import cp_model

from optimization.rostering import pool, read_curtois, solve, validate
from optimization.rostering._rowkernel import COMPILED
from optimization.rostering.colgen import ColumnGeneration
from optimization.rostering.model import build_model
from optimization.rostering.rowdp import RowDP
from roster_helpers import CURTOIS, requires_curtois
from test_roster_colgen import priced_problem
from test_roster_rowdp import capped_case, cost_of, random_case

pytestmark = pytest.mark.skipif(not (COMPILED and pool.AVAILABLE),
                                reason="the pool search needs the compiled row search and HiGHS")


class _Rows(cp_model.CpSolverSolutionCallback):
    def __init__(self, rm):
        super().__init__()
        self.rm, self.rows = rm, set()

    def on_solution_callback(self) -> None:
        self.rows.add(tuple(sorted((d, s) for (e, d, s), v in self.rm.x.items() if self.boolean_value(v))))


def enumerated(sub, prices, limit: int) -> set:
    """Every row CP-SAT finds with cost (own rules + prices) at most ``limit``: the independent check."""
    rm = build_model(sub)
    terms = [round(prices[(d, s)]) * v for (e, d, s), v in rm.x.items() if (d, s) in prices]
    rm.model.clear_objective()  # with an objective, CP-SAT enumerates only improving solutions
    rm.model.add(sum(pen.weight * pen.var for pen in rm.penalties) + sum(terms) <= limit)
    solver = cp_model.CpSolver()
    solver.parameters.enumerate_all_solutions = True
    solver.parameters.cp_model_presolve = False
    solver.parameters.num_workers = 1
    cb = _Rows(rm)
    assert solver.solve(rm.model, cb) in (cp_model.OPTIMAL, cp_model.INFEASIBLE)
    return cb.rows


@pytest.mark.parametrize("seed", range(8))
def test_rows_within_are_exactly_the_rows_cp_sat_enumerates(seed):
    sub, prices = (random_case(300 + seed, limits=True) if seed % 2 else capped_case(300 + seed))
    if sub.days > 14:  # keep CP-SAT's enumeration small
        sub, prices = random_case(400 + seed, limits=True)
    dp = RowDP(sub)
    assert dp.exact
    found = dp.solve(prices)
    if found is None:
        assert dp.rows_within(prices, 1e9, 10) in (None, [])
        return
    best = cost_of(sub, prices, found[0])
    offset = best - found[1]  # the constant of the shift-on requests, left out of the programme's costs
    limit = round(best) + 3
    listed = dp.rows_within(prices, limit - offset, 100_000)
    assert listed is not None
    got = {tuple(sorted((d, s) for (_, d), s in row.items())) for row, _ in listed}
    assert len(got) == len(listed)  # no row twice
    assert got == enumerated(sub, prices, limit), seed
    for row, value in listed:
        assert validate(sub, row).hard_violations == 0
        assert cost_of(sub, prices, row) == pytest.approx(value + offset)
    # too many rows: None, not a partial list
    if len(listed) > 1:
        assert dp.rows_within(prices, limit - offset, len(listed) - 1) is None


def _converged(p):
    cg = ColumnGeneration(p)
    cg.seed_rows()
    cg.generate(time.perf_counter() + 300)  # a deadline only a very busy machine reaches (Instance8: 4-6 s alone)
    assert cg.bound is not None and pool.applies(cg)
    return cg


def test_search_finds_the_optimum_below_a_known_roster_and_proves_it():
    p = priced_problem()
    exact = solve(p, 30, num_workers=2, colgen=False)
    assert exact.status == "OPTIMAL"
    cg = _converged(p)
    found, bounds = [], []
    out = pool.search(cg, int(exact.objective) + 25, time.perf_counter() + 60,
                      on_roster=lambda roster, cost: found.append((roster, cost)), on_bound=bounds.append)
    assert out is not None and out.proven
    roster, cost = found[-1]
    check = validate(p, roster)
    assert check.hard_violations == 0 and check.objective == cost == exact.objective
    assert bounds == sorted(bounds) and all(b <= exact.objective for b in bounds)
    # from the optimum itself: nothing cheaper, and that is the proof (the last bound heard is the optimum,
    # unless the master's own bound was it already)
    bounds.clear()
    cg = _converged(p)
    again = pool.search(cg, int(exact.objective), time.perf_counter() + 60, on_bound=bounds.append)
    assert again.proven and again.roster is None
    assert (bounds[-1] if bounds else cg.bound) == exact.objective


def test_pool_rows_cover_the_gap_with_their_own_costs():
    p = priced_problem()
    cg = _converged(p)
    value, duals, mus = cg.solve_master()
    rows = pool.Pool(cg, duals, mus, 2.0)
    assert rows.complete and len(rows) >= len(p.employees)
    assert (rows.rc0 >= -1e-6).all() and (rows.rc0 <= 2.0 + 1e-6).all()
    for j in range(0, len(rows), max(1, len(rows) // 25)):
        row = rows.row(j)
        eid = rows.people[rows.owner[j]]
        assert validate(cg._subs[eid], row).objective == rows.cost[j]


@requires_curtois
def test_curtois_instance5_reaches_its_proven_optimum():
    """Curtois Instance5 (16 people, 28 days): 1,143 is optimal. Before the pool search, three sessions of
    60-second runs ended at 1,143-1,146; from a roster of 1,150 the search proves 1,143."""
    p = read_curtois(CURTOIS / "Instance5.txt")
    cg = _converged(p)
    found = []
    out = pool.search(cg, 1150, time.perf_counter() + 120, on_roster=lambda r, c: found.append((r, c)))
    assert out.proven and found
    roster, cost = found[-1]
    assert cost == 1143 and validate(p, roster).objective == 1143


def _decide_targets(p, best: int, targets, monkeypatch):
    cg = _converged(p)
    value, duals, mus = cg.solve_master()
    monkeypatch.setattr(pool, "RESTART_NODES", 2)  # restarts after 2, 4, 8... nodes
    for t in targets:
        rows = pool.Pool(cg, duals, mus, max(t - value, 0.0), whole=True)
        plain = pool.branch_and_bound(rows, t + 1, time.perf_counter() + 120, first=True)
        assert plain[2] or plain[0] is not None
        roster, cost, done, nodes = pool.target(rows, t, time.perf_counter() + 120)
        assert (roster is None) == (plain[0] is None) == (t < best)
        if roster is None:
            assert done
        else:
            assert cost <= t and validate(p, roster).objective == cost
        capped = pool.branch_and_bound(rows, t + 1, time.perf_counter() + 60, first=True, max_nodes=1)
        assert capped[3] <= 1


def test_restarted_search_decides_each_target_as_one_search_to_the_end(monkeypatch):
    """Restarts with a node budget and jittered branching change how a target is decided, never the answer:
    below the optimum nothing (searched to the end), at it a roster of that cost."""
    p = priced_problem()
    exact = solve(p, 30, num_workers=2, colgen=False)
    assert exact.status == "OPTIMAL"
    best = int(exact.objective)
    _decide_targets(p, best, range(best - 2, best + 1), monkeypatch)


@requires_curtois
def test_restarted_search_on_curtois_instance5(monkeypatch):
    """The same where the master leaves a gap: Instance5's master is 1,140.6, its optimum 1,143."""
    _decide_targets(read_curtois(CURTOIS / "Instance5.txt"), 1143, (1141, 1142, 1143), monkeypatch)


def _certified(p) -> None:
    """The converged master's duals are a certificate: the cover and person duals add up to the master's value
    and no column has a negative reduced cost, so a roster's cost is that value plus its rows' and slacks'
    reduced costs, the identity every pool rests on."""
    cg = _converged(p)
    value, duals, mus = cg.solve_master()
    req = [c.requirement for c in p.cover]
    assert sum(r * y for r, y in zip(req, duals)) + sum(mus.values()) == pytest.approx(value, abs=1e-6)
    for eid, cols in cg.columns.items():
        for col in cols:
            assert col.cost - sum(duals[i] for i in col.covers) - mus[eid] >= -1e-6


def test_master_duals_are_a_certificate():
    _certified(priced_problem())


@requires_curtois
def test_master_duals_are_a_certificate_on_curtois_instance8():
    """Instance8's master held some people's columns at an upper bound of 1 with negative reduced costs: its
    duals added up to 1,298.05 against its value 1,296.57, and the pools built on them were not the rows
    within the gap."""
    _certified(read_curtois(CURTOIS / "Instance8.txt"))


def test_solve_runs_the_pool_search_in_its_own_thread_to_the_proven_optimum(monkeypatch):
    """Through ``solve``: the cell model given no time to prove anything, the pool search starts in its own
    thread as soon as a roster is near the master's bound, and the solve ends with the optimum, proven."""
    import threading

    from optimization.rostering import solver

    p = priced_problem()
    exact = solve(p, 30, num_workers=2, colgen=False)
    ran = []

    def spied(*args, **kwargs):
        ran.append(threading.current_thread().name)
        return pool.search(*args, **kwargs)

    monkeypatch.setattr(solver, "pool_search", spied)
    monkeypatch.setattr(solver, "FIRST_SEEDED_S", 0.0)
    monkeypatch.setattr(solver, "POOL_WITHIN", 10_000)
    sol = solve(p, 30, num_workers=2)
    assert ran == ["roster-pool"]
    assert sol.status == "OPTIMAL" and sol.objective == sol.bound == exact.objective
    assert validate(p, sol).objective == exact.objective


def test_rows_cut_from_a_wider_pool_are_the_pool_of_the_smaller_gap(monkeypatch):
    p = priced_problem()
    cg = _converged(p)
    value, duals, mus = cg.solve_master()
    wide = pool.Pool(cg, duals, mus, 6.0)

    def rows(x):
        return sorted((int(x.owner[j]), tuple(x.cells[j].tolist()), int(x.cost[j])) for j in range(len(x)))

    for gap in (0.0, 1.5, 3.0):
        fresh, cut = pool.Pool(cg, duals, mus, gap), wide.within(gap)
        assert cut.complete == fresh.complete and cut.gap == gap
        assert rows(cut) == rows(fresh)
        assert (cut.A != wide.A[:, wide.rc0 <= gap + pool.SLACK + 1e-7]).nnz == 0
        assert (cut.AT.T != cut.A).nnz == 0
    # a listing cut short for someone: a cut beyond what was listed for them is no proof
    monkeypatch.setattr(pool, "PER_PERSON", 3)
    monkeypatch.setattr(pool, "LEAST_PER_PERSON", 3)
    few = pool.Pool(cg, duals, mus, 6.0)
    assert not few.complete and not few.within(6.0).complete and few.within(0.0).complete == (few.reach >= 0).all()


def test_a_listing_of_rows_stops_between_people_when_asked():
    """The walk is compiled and cannot be interrupted, so a cancel is heard between one person's rows and the
    next: the listing stops at once, and a search asked to stop while listing returns without a roster."""
    p = priced_problem()
    cg = _converged(p)
    value, duals, mus = cg.solve_master()
    asked = []

    def stop_after_two() -> bool:
        asked.append(1)
        return len(asked) > 2

    with pytest.raises(pool.Stopped):
        pool.Pool(cg, duals, mus, 6.0, should_stop=stop_after_two)
    assert len(asked) == 3 < len(p.employees)  # two people listed, the third never started
    asked.clear()  # a search cancelled during its first listing: back without a roster, nothing proven
    out = pool.search(cg, 10**9, time.perf_counter() + 60, should_stop=stop_after_two, master=(value, duals, mus))
    assert len(asked) == 3 and out is not None and out.roster is None and not out.proven and out.nodes == 0
