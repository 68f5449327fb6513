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
    placements_from_solution(problem, solution) -> DataFrame  # patient_id, stay_id, unit_id, bed_id, kind, from_bed
    accept_placements(ws, placements, as_of, note=None) -> list[str]   # one transaction, audited
    cancel_placement(ws, placement_id)                                 # status 'cancelled', audited
    active_placements(ws, as_of) -> DataFrame   # accepted, not cancelled, patient not yet moved since as_of
    problem_from_workspace(..., planning_days=1, elective_slack_days=2)  # several days: electives get windows
    solve(problem, time_limit_s=10.0, progress=None, should_stop=None, on_solution=None, workers=2,
          params=None) -> BedSolution
        # on_solution(objective, bound, seconds) for each improving solution; should_stop() -> Cancelled
        # BedSolution: status, assignment {patient: bed | None}, admission_day {patient: day}, objective,
        #              bound, seconds, unplaced {patient: reason in words}, penalties {rule: cost},
        #              stats {build_s, solve_s, variables, bed_classes}
    validate(problem, solution, admission_day=None) -> BedValidation   # hard {rule: count}, penalties, objective
    Weights(outlier=30, transfer=50, unplaced=200, wait_per_hour=5, acuity_factor=3, headroom=40, delay_per_day=20)
    BedProblem(..., days=1); Patient(..., window=(first, last) | None, los_days=None); Bed(..., free_from_day=0)

IHTC-2024::

    read_ihtc(path) -> IhtcInstance; read_ihtc_solution(path, inst) -> IhtcSolution
    validate_ihtc(inst, sol) -> IhtcReport          # cost, soft {component: weighted}, hard {rule: count}
    solve_ihtc(inst, time_limit_s, progress=None, should_stop=None, on_solution=None)
        -> (IhtcSolution, IhtcReport, stats); IhtcSolution.to_json(inst) is the competition's solution JSON

PAS (Demeester), in :mod:`optimization.beds.pas`::

    read_instance(path) -> PasInstance; read_solution(path, inst) -> PasSolution (text: id bed bed ...)
    validate(inst, sol) -> PasReport   # cost under the original weights, components, hard {rule: count}
    solve(inst, time_limit_s=60, progress=None, should_stop=None, on_solution=None, workers=2)
        -> (PasSolution, PasReport, stats)
    to_bed_problem(inst) -> BedProblem  # the same patients and beds as a several-day BedProblem
"""
from __future__ import annotations

from optimization.beds.ihtc import IhtcInstance, IhtcReport, IhtcSolution
from optimization.beds.ihtc import read_instance as read_ihtc
from optimization.beds.ihtc import read_solution as read_ihtc_solution
from optimization.beds.ihtc import validate as validate_ihtc
from optimization.beds.ihtc_solver import solve_ihtc
from optimization.beds.model import (Bed, BedProblem, BedSolution, BedValidation, Patient, Unit, Weights,
                                     explain_unplaced, solve, validate)
from optimization.beds.workspace import (accept_placements, active_placements, cancel_placement,
                                         placements_from_solution, problem_from_workspace)

__all__ = [
    "Bed", "BedProblem", "BedSolution", "BedValidation", "Patient", "Unit", "Weights", "explain_unplaced",
    "solve", "validate", "problem_from_workspace", "placements_from_solution", "accept_placements",
    "cancel_placement", "active_placements",
    "IhtcInstance", "IhtcReport", "IhtcSolution", "read_ihtc", "read_ihtc_solution", "validate_ihtc", "solve_ihtc",
]
