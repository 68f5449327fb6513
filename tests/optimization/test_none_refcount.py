"""The workaround for OR-Tools' occasional lost reference to None (see optimization._pin_none)."""
import sys

import pytest

import optimization  # noqa: F401 - importing it applies the workaround


@pytest.mark.skipif(sys.implementation.name != "cpython" or sys.version_info >= (3, 12),
                    reason="None is immortal from CPython 3.12")
def test_none_has_more_references_than_any_session_of_solves_can_lose():
    from ortools.sat.python import cp_model

    before = sys.getrefcount(None)
    assert before > 1 << 39
    m = cp_model.CpModel()
    x = m.new_int_var(0, 3, "x")
    m.minimize(x)

    class Stop(cp_model.CpSolverSolutionCallback):
        def on_solution_callback(self):
            self.stop_search()

    for _ in range(50):
        cp_model.CpSolver().solve(m, Stop())
    assert sys.getrefcount(None) > 1 << 39
