"""EHR importers: each maps one source format into the canonical tables, in SQL over DuckDB's readers.

``run_import(ws, path, fmt)`` is the one entry point used by the CLI and the app. Every format module
exposes ``import_<fmt>(ws, path, progress=None, should_stop=None, **options) -> ImportResult``.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Optional

from datasets.errors import SourceError
from datasets.importers.engine import ImportResult
from datasets.progress import Progress, ShouldStop
from datasets.store import Workspace

FORMATS = ("csv", "mimic", "synthea", "omop", "fhir")

__all__ = ["FORMATS", "ImportResult", "run_import", "detect_format"]


def run_import(
    ws: Workspace,
    path: str | Path,
    fmt: Optional[str] = None,
    *,
    table: Optional[str] = None,
    mapping: Optional[str | Path] = None,
    progress: Optional[Progress] = None,
    should_stop: Optional[ShouldStop] = None,
) -> ImportResult:
    path = Path(path)
    if not path.exists():
        raise SourceError(f"There is no file or folder {path}.")
    fmt = fmt or detect_format(path)
    if fmt not in FORMATS:
        raise SourceError(f"Unknown format '{fmt}'.", f"Formats: {', '.join(FORMATS)}.")
    if fmt == "csv":
        from datasets.importers.csv import import_csv

        return import_csv(ws, path, table=table, mapping=mapping, progress=progress, should_stop=should_stop)
    if table or mapping:
        raise SourceError(f"--table and --mapping apply to the csv format only, not {fmt}.")
    module = importlib.import_module(f"datasets.importers.{fmt}")
    return getattr(module, f"import_{fmt}")(ws, path, progress=progress, should_stop=should_stop)


def detect_format(path: Path) -> str:
    """Guess the format of a file or folder from its names; CSV when nothing more specific fits."""
    names = {p.name.lower() for p in (path.iterdir() if path.is_dir() else [path])}
    if path.is_dir():
        sub = {p.name.lower() for p in path.iterdir() if p.is_dir()}
        if "hosp" in sub or any(n.startswith(("admissions.csv", "transfers.csv", "edstays.csv")) for n in names):
            return "mimic"
        if any(n.endswith(".ndjson") for n in names):
            return "fhir"
        if any(n.startswith("visit_occurrence") for n in names):
            return "omop"
        if "encounters.csv" in names:
            return "synthea"
        raise SourceError(f"Cannot tell the format of the folder {path}.", f"Give --format ({', '.join(FORMATS[1:])}).")
    if path.suffix.lower() == ".ndjson":
        return "fhir"
    return "csv"
