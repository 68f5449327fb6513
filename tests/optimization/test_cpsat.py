"""The shared CP-SAT solver factory: limits, seeds and extra parameters land where CP-SAT reads them."""
from __future__ import annotations

from ortools.sat.python import cp_model

from optimization.cpsat import cp_solver


def test_fields_and_repeated_fields_are_set():
    s = cp_solver(2.5, 3, 7, subsolvers=("max_lp", "default_lp"), linearization_level=2)
    p = s.parameters
    assert (p.max_time_in_seconds, p.num_workers, p.random_seed) == (2.5, 3, 7)
    assert list(p.subsolvers) == ["max_lp", "default_lp"]
    assert p.linearization_level == 2


def test_seed_left_at_cp_sat_default_when_not_given():
    assert cp_solver(1, 1).parameters.random_seed == cp_model.CpSolver().parameters.random_seed


def test_solves_a_small_model_to_optimality():
    m = cp_model.CpModel()
    x = [m.new_bool_var(f"x{i}") for i in range(6)]
    m.add(sum(x) >= 4)
    m.minimize(sum((i + 1) * v for i, v in enumerate(x)))
    s = cp_solver(5, 1, 0)
    assert s.solve(m) == cp_model.OPTIMAL
    assert s.objective_value == 1 + 2 + 3 + 4
