"""The dynamic programme over one person's row: exact on the sequence rules, feasible on the limits, and
the same answer compiled or not."""
from __future__ import annotations

import random

import numpy as np
import pytest
from ortools.sat.python import cp_model

from optimization.rostering import Pattern, Request, ShiftType, validate
from optimization.rostering._rowkernel import COMPILED, shortest_rows, shortest_rows_levels
from optimization.rostering.construct import row_problem
from optimization.rostering.model import build_model
from optimization.rostering.rowdp import RowDP, applies
from roster_helpers import person, tiny

SHIFTS = (ShiftType("E", 480), ShiftType("L", 480, ("E",)), ShiftType("N", 600, ("E", "L"), is_night=True))


def random_case(seed: int, limits: bool):
    """One person, 10-21 days, random sequence rules, requests, leave and prices; with ``limits`` also
    minutes, caps per type and weekends."""
    rng = random.Random(seed)
    days = rng.randint(10, 21)
    kw = dict(max_consecutive=rng.randint(2, 6), min_days_off=rng.randint(1, 3))
    kw["min_consecutive"] = rng.randint(1, min(3, kw["max_consecutive"]))
    if limits:
        lo = rng.randint(2, days // 2)
        kw.update(min_minutes=480 * lo, max_minutes=480 * lo + rng.choice([480, 960, 1440]),
                  max_shifts={"N": rng.randint(0, 3)}, max_weekends=rng.randint(0, 2))
    leave = frozenset(rng.sample(range(days), rng.randint(0, 3)))
    reqs = tuple(Request("A", rng.randrange(days), rng.choice(["E", "L", None]), rng.randint(1, 5),
                         rng.choice(["on", "off"])) for _ in range(rng.randint(0, 4)))
    p = tiny(days, [person("A", **kw)], shifts=SHIFTS, requests=reqs, days_off={"A": leave})
    prices = {(d, s.id): float(rng.randint(-30, 10)) for d in range(days) for s in SHIFTS if rng.random() < 0.7}
    return row_problem(p, "A"), prices


def capped_case(seed: int):
    """One person, 14-28 days, the minutes in a window of one or two shifts, caps on all three types and a
    weekend limit: the exact search must price the caps it does not count."""
    rng = random.Random(seed)
    days = rng.choice([14, 21, 28])
    lo = rng.randint(days // 4, days // 2)
    kw = dict(max_consecutive=rng.randint(3, 6), min_days_off=rng.randint(1, 3), min_consecutive=rng.randint(1, 2),
              min_minutes=480 * lo, max_minutes=480 * lo + rng.choice([480, 960]), max_weekends=rng.randint(1, 3),
              max_shifts={"N": rng.randint(1, 4), "E": rng.randint(2, lo), "L": rng.randint(2, lo)})
    leave = frozenset(rng.sample(range(days), rng.randint(0, 3)))
    reqs = tuple(Request("A", rng.randrange(days), rng.choice(["E", "L", None]), rng.randint(1, 5),
                         rng.choice(["on", "off"])) for _ in range(rng.randint(0, 6)))
    p = tiny(days, [person("A", **kw)], shifts=SHIFTS, requests=reqs, days_off={"A": leave})
    prices = {(d, s.id): float(rng.randint(-30, 10)) for d in range(days) for s in SHIFTS if rng.random() < 0.7}
    return row_problem(p, "A"), prices


def exact(sub, prices) -> float | None:
    """CP-SAT's cheapest row cost (own rules + prices), or None when no row exists."""
    rm = build_model(sub)
    terms = [round(prices[(d, s)]) * v for (e, d, s), v in rm.x.items() if (d, s) in prices]
    rm.model.minimize(sum(pen.weight * pen.var for pen in rm.penalties) + sum(terms))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 2
    st = solver.solve(rm.model)
    if st == cp_model.INFEASIBLE:
        return None
    assert st == cp_model.OPTIMAL
    return solver.objective_value


def cost_of(sub, prices, row) -> float:
    return validate(sub, row).objective + sum(prices.get((d, s), 0.0) for (_, d), s in row.items())


@pytest.mark.parametrize("seed", range(12))
def test_without_horizon_limits_the_row_is_the_cheapest(seed):
    sub, prices = random_case(seed, limits=False)
    assert applies(sub) or not COMPILED
    found = RowDP(sub).solve(prices, seed=seed)
    best = exact(sub, prices)
    if best is None:
        assert found is None
        return
    row, _ = found
    check = validate(sub, row)
    assert check.hard_violations == 0, check.violations
    assert cost_of(sub, prices, row) == pytest.approx(best)


def test_with_limits_every_row_keeps_every_rule_and_most_cases_find_one():
    found_n = feasible_n = 0
    for seed in range(30):
        sub, prices = random_case(100 + seed, limits=True)
        best = exact(sub, prices)
        found = RowDP(sub).solve(prices, seed=seed)
        if best is None:
            assert found is None
            continue
        feasible_n += 1
        if found is not None:
            found_n += 1
            check = validate(sub, found[0])
            assert check.hard_violations == 0, (seed, check.violations)
            assert cost_of(sub, prices, found[0]) >= best - 1e-6
    assert feasible_n >= 10 and found_n >= 0.8 * feasible_n, (found_n, feasible_n)


def test_the_exact_search_proves_its_rows_and_bounds_the_rest():
    """Minutes and the tightest cap counted in the states, every choice of open weekends: the rows it calls
    proven are CP-SAT's optimum, and its lower bound (through the rows' constant offset) is never above it."""
    if not COMPILED:
        pytest.skip("the dynamic programme is used only compiled")
    proven = feasible = 0
    for seed in range(24):
        sub, prices = (random_case(100 + seed, limits=True) if seed % 2 else capped_case(seed))
        dp = RowDP(sub)
        assert dp.exact
        best = exact(sub, prices)
        found = dp.solve(prices, seed=seed)
        if best is None:
            assert found is None
            continue
        feasible += 1
        if found is None:
            continue
        cost = cost_of(sub, prices, found[0])
        offset = cost - found[1]  # requests granted by a shift-on are written as negative prices
        assert dp.lower + offset <= best + 1e-6, seed
        if dp.proven:
            proven += 1
            assert cost == pytest.approx(best), seed
    assert feasible >= 15 and proven >= 0.8 * feasible, (proven, feasible)


def test_without_the_exact_search_nothing_is_claimed():
    sub, prices = random_case(104, limits=True)
    dp = RowDP(sub)
    dp.levels = None  # as for a person whose minutes have no common step, or too many states
    assert not dp.exact
    found = dp.solve(prices)
    assert found is not None and not dp.proven and dp.lower == -np.inf


def test_a_start_row_is_never_made_worse():
    sub, prices = random_case(7, limits=True)
    dp = RowDP(sub)
    first = dp.solve(prices, first=True)
    assert first is not None
    again = dp.solve(prices, start=first[0], rounds=1)
    assert cost_of(sub, prices, again[0]) <= cost_of(sub, prices, first[0]) + 1e-9


def test_locks_and_closed_cells_hold():
    sub, prices = random_case(3, limits=False)
    from optimization.rostering import Lock
    import dataclasses
    sub = dataclasses.replace(sub, locks=(Lock("A", 1, "L"), Lock("A", 4, None)), days_off={"A": frozenset()})
    prices = dict(prices)
    prices[(2, "E")] = float("inf")
    prices[(4, "E")] = -1000.0  # tempting, but the lock says off
    row, _ = RowDP(sub).solve(prices)
    assert row.get(("A", 1)) == "L" and ("A", 4) not in row and row.get(("A", 2)) != "E"
    assert validate(sub, row).hard_violations == 0


def test_rules_it_does_not_know_leave_it_to_cp_sat():
    base = tiny(7, [person("A", soft={"max_assignments": (3, 1)})])
    assert not applies(row_problem(base, "A"))
    pat = tiny(7, [person("A")], patterns=(Pattern("p", 1, ("L", "E"), frozenset({"A"})),))
    assert not applies(row_problem(pat, "A"))
    assert applies(row_problem(tiny(7, [person("A", max_weekends=1)]), "A")) or not COMPILED


def test_no_row_in_the_window_gives_none_and_a_near_row():
    # 5 days, at most 2 in a row with 2 days off between: at most 3 shifts (WW..W), but 5 are asked for
    sub = row_problem(tiny(5, [person("A", max_consecutive=2, min_days_off=2, min_minutes=480 * 5)]), "A")
    dp = RowDP(sub)
    assert dp.solve({}) is None
    assert len(dp.near_row()) == 3


def test_compiled_and_plain_python_kernels_agree():
    fn = getattr(shortest_rows, "py_func", None)
    if fn is None:
        pytest.skip("numba not installed: the kernel runs as plain Python already")
    sub, prices = random_case(5, limits=False)
    dp = RowDP(sub)
    rng = np.random.default_rng(0)
    cost = np.repeat((dp.base + dp.blocked)[None], 4, axis=0) + rng.uniform(-20, 20, (4, dp.D, dp.S + 1))
    args = (cost, dp.S, dp.R, dp.Ro, dp.bounded, dp.minc, dp.mino, dp.group_of, len(dp.group_start), dp.follows,
            dp.pattern_of, dp.patterns)
    c1, a1 = shortest_rows(*args)
    c2, a2 = fn(*args)
    assert (a1 == a2).all() and (c1[a1] == c2[a2]).all()
    sub, prices = capped_case(3)
    dp = RowDP(sub)
    cost = np.repeat((dp.base + dp.blocked)[None], 3, axis=0) + rng.uniform(-20, 20, (3, dp.D, dp.S + 1))
    args = (cost, dp.S, dp.R, dp.Ro, dp.bounded, dp.minc, dp.mino, dp.group_of, len(dp.group_start), dp.follows,
            dp.pattern_of, dp.patterns, dp.levels["nxt"], dp.levels["final_ok"], dp.levels["KW"], dp.levels["role"])
    c1, a1, v1 = shortest_rows_levels(*args)
    c2, a2, v2 = shortest_rows_levels.py_func(*args)
    assert a1.any() and (a1 == a2).all() and (c1[a1] == c2[a2]).all() and np.allclose(v1[a1], v2[a2])
