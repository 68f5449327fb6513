"""One place that builds a CP-SAT solver with a time limit, a number of workers and other parameters.

The solves in ``optimization`` (bed allocation, IHTC, PAS, rostering, column generation, infeasibility
explanations; not the row construction's two-branch set-up) set the same few fields; this keeps their names
and types in one spot.
"""
from __future__ import annotations

from typing import Any, Optional

from ortools.sat.python import cp_model


def cp_solver(time_limit_s: float, workers: int, seed: Optional[int] = None, **params: Any) -> cp_model.CpSolver:
    """A ``CpSolver`` limited to ``time_limit_s`` seconds on ``workers`` workers.

    ``seed``: CP-SAT's ``random_seed`` (left at CP-SAT's default when None). Further keyword arguments are
    ``SatParameters`` fields; a list or tuple is appended to a repeated field (e.g. ``subsolvers``).
    """
    solver = cp_model.CpSolver()
    solver.parameters.max_time_in_seconds = float(time_limit_s)
    solver.parameters.num_workers = int(workers)
    if seed is not None:
        solver.parameters.random_seed = int(seed)
    for name, value in params.items():
        if isinstance(value, (list, tuple)):
            getattr(solver.parameters, name).extend(value)
        else:
            setattr(solver.parameters, name, value)
    return solver
