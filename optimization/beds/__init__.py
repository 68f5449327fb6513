"""Bed management: allocation of waiting patients to beds with CP-SAT, and the IHTC-2024 benchmark.

Plain Python (no Qt). What the desktop app and ``hospops beds`` call:

Board, waiting list and outlook live in :mod:`datasets.metrics.beds`::

    bed_board(ws, at) -> DataFrame            # one row per bed, state occupied/free/blocked/cleaning
    waiting_list(ws, at) -> DataFrame         # who waits, since when, wait hours, needs, acuity
    outlook(ws, at, hours=72, progress=None, should_stop=None) -> DataFrame
        # unit_id, ts, expected, lo80, hi80, lo95, hi95, capacity
    outlook_backtest(ws, origins, hours=72) -> dict   # mae, coverage {"80", "95"}

Allocation (this package)::

    problem_from_workspace(ws, at, weights=None, include_next_hours=0, allow_transfers=True) -> BedProblem
    solve(problem, time_limit_s=10.0, progress=None, should_stop=None, on_solution=None) -> BedSolution
        # on_solution(objective, bound, seconds) for each improving solution; should_stop() -> Cancelled
        # BedSolution: status, assignment {patient: bed | None}, objective, bound, seconds,
        #              unplaced {patient: reason in words}, penalties {rule: cost}
    validate(problem, solution) -> BedValidation   # hard {rule: count}, penalties, objective, messages
    Weights(outlier=30, transfer=50, unplaced=200, wait_per_hour=5, acuity_factor=3, headroom=40)

IHTC-2024::

    read_ihtc(path) -> IhtcInstance; read_ihtc_solution(path, inst) -> IhtcSolution
    validate_ihtc(inst, sol) -> IhtcReport          # cost, soft {component: weighted}, hard {rule: count}
    solve_ihtc(inst, time_limit_s, progress=None, should_stop=None, on_solution=None)
        -> (IhtcSolution, IhtcReport, stats); IhtcSolution.to_json(inst) is the competition's solution JSON
"""
from __future__ import annotations

from optimization.beds.ihtc import IhtcInstance, IhtcReport, IhtcSolution
from optimization.beds.ihtc import read_instance as read_ihtc
from optimization.beds.ihtc import read_solution as read_ihtc_solution
from optimization.beds.ihtc import validate as validate_ihtc
from optimization.beds.ihtc_solver import solve_ihtc
from optimization.beds.model import (Bed, BedProblem, BedSolution, BedValidation, Patient, Unit, Weights,
                                     explain_unplaced, solve, validate)
from optimization.beds.workspace import problem_from_workspace

__all__ = [
    "Bed", "BedProblem", "BedSolution", "BedValidation", "Patient", "Unit", "Weights", "explain_unplaced",
    "solve", "validate", "problem_from_workspace",
    "IhtcInstance", "IhtcReport", "IhtcSolution", "read_ihtc", "read_ihtc_solution", "validate_ihtc", "solve_ihtc",
]
