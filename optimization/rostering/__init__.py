"""Staff rostering with CP-SAT (plain Python; no Qt).

The API the desktop app and the ``hospops roster`` command call::

    from optimization.rostering import (problem_from_workspace, solve, validate, reroster, absent,
                                        to_csv, from_csv, to_xlsx, to_ics, to_pdf, read_curtois)

    problem = problem_from_workspace(ws, "M5", date(2026, 11, 23), 42, ratios=DEFAULT_RATIOS, locks=[Lock(...)])
    sol = solve(problem, time_limit_s=60, progress=cb, should_stop=stop, on_solution=chart.add, hint=previous)
    check = validate(problem, sol)        # objective, hard_violations, by_rule(), by_person() in words
    sol.grid(problem)                     # pandas DataFrame: staff × day, shift ids ('' = day off)
    new = reroster(absent(problem, "N0270", range(10, 14)), published=sol, from_day=10, time_limit_s=30)
    new.changes                           # every changed cell in words

* :class:`RosterProblem` (shifts, employees, hard days off, weighted requests, cover, locks) and
  :class:`RosterSolution` (``assignment[(employee, day)] = shift``, status, objective, bound, history,
  conflicts, changes) are frozen dataclasses; problems are checked when made (``HospOpsError``).
* :func:`solve` — CP-SAT with all cores, then large-neighbourhood search; reports each improving roster
  through ``progress`` and ``on_solution(objective, bound, seconds)``; ``should_stop`` stops the search and
  the best roster so far comes back with status ``CANCELLED`` (``Cancelled`` is raised when none exists yet).
  Infeasible problems come back with status ``INFEASIBLE`` and ``conflicts`` in words: counting checks first
  (:func:`precheck`), then the solver's sufficient assumptions (:func:`explain_infeasible`).
* :func:`validate` — independent of the model: recomputes every rule and the objective.
* Readers for the Curtois–Qu benchmark (:func:`read_curtois`, solutions as ``employee,day,shift`` CSV) and
  INRC-I (:func:`read_inrc`; its priced contract rules live in ``Employee.soft``, unwanted sequences in
  :class:`Pattern`).
"""
from __future__ import annotations

from .curtois import read_curtois, read_solution_csv, write_solution_csv
from .explain import cover_shortfalls, cover_surplus, explain_infeasible, precheck, stopped_short_note
from .inrc import read_inrc
from .export import from_csv, to_csv, to_ics, to_pdf, to_xlsx
from .model import build_model
from .problem import Cover, Employee, Lock, Pattern, Request, RosterProblem, RosterSolution, ShiftType
from .reroster import absent, list_changes, reroster, rerostering_problem
from .solver import solve
from .validate import Validation, Violation, validate
from .workspace import DEFAULT_RATIOS, WardRules, problem_from_workspace

__all__ = [
    "Cover", "Employee", "Lock", "Pattern", "Request", "RosterProblem", "RosterSolution", "ShiftType", "Validation",
    "Violation", "WardRules", "DEFAULT_RATIOS", "absent", "build_model", "explain_infeasible", "from_csv",
    "list_changes", "cover_shortfalls", "cover_surplus", "stopped_short_note", "precheck", "problem_from_workspace", "read_curtois", "read_inrc", "read_solution_csv", "reroster",
    "rerostering_problem", "solve", "to_csv", "to_ics", "to_pdf", "to_xlsx", "validate", "write_solution_csv",
]
