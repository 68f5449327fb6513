"""Shared plumbing for the benchmarks: timing, argument parsing, machine description, result files.

Contract (ARCHITECTURE.md, Benchmarks): ``python benchmarks/NAME.py [--quick] [--json]``; with ``--json``
the last line of stdout is one JSON object, and the same object is written to
``benchmarks/results/NAME.json`` (full run) or ``NAME.quick.json`` (quick run).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads; as the app does (desktop/__init__.py)

BENCH_DIR = Path(__file__).resolve().parent
DATA_DIR = BENCH_DIR / "data"  # git-ignored: generated inputs, cached between runs
RESULTS_DIR = BENCH_DIR / "results"  # committed: the figures BENCHMARKS.md quotes

# make `import datasets` work when run as `python benchmarks/NAME.py` from a checkout without install
_ROOT = BENCH_DIR.parent
if str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="small sizes and a single repeat (minutes → seconds)")
    p.add_argument("--json", action="store_true", help="print one JSON object as the last line of stdout")
    p.add_argument("--repeats", type=int, default=None, help="timed repeats per contender (median is reported)")
    p.add_argument("--data-dir", type=Path, default=DATA_DIR, help="where generated inputs are cached")
    p.add_argument(
        "--results-dir",
        type=Path,
        default=RESULTS_DIR,
        help="where the result JSON is written (NAME.json / NAME.quick.json)",
    )
    p.add_argument("--no-save", action="store_true", help="do not write the result file")
    return p


def log(msg: str) -> None:
    """Progress for people: stderr, so stdout stays clean for --json."""
    print(msg, file=sys.stderr, flush=True)


def timed(fn: Callable[[], Any], repeats: int, label: str = "", setup: Optional[Callable[[], Any]] = None,
          teardown: Optional[Callable[[Any], None]] = None) -> tuple[float, list[float], Any]:
    """Run ``fn`` ``repeats`` times (``setup`` before each, untimed) and return (median s, all s, last result).

    When ``setup`` is given, ``fn`` receives its return value. ``teardown`` gets ``fn``'s result, untimed.
    """
    times: list[float] = []
    result: Any = None
    for i in range(repeats):
        arg = setup() if setup else None
        gc.collect()
        t0 = time.perf_counter()
        result = fn(arg) if setup else fn()
        dt = time.perf_counter() - t0
        times.append(dt)
        if label:
            log(f"  {label} [{i + 1}/{repeats}]: {dt:.3f} s")
        if teardown:
            teardown(result)
    return statistics.median(times), times, result


@contextlib.contextmanager
def scratch_dir(parent: Path, prefix: str) -> Iterator[Path]:
    """A fresh folder for on-disk databases, removed afterwards."""
    parent.mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def machine() -> dict[str, Any]:
    import duckdb
    import numpy
    import pandas

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
    }
    with contextlib.suppress(Exception):
        import pyarrow

        info["pyarrow"] = pyarrow.__version__
    with contextlib.suppress(Exception):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    with contextlib.suppress(Exception):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
                break
    return info


def finish(name: str, args: argparse.Namespace, result: dict[str, Any]) -> dict[str, Any]:
    """Stamp, save (unless --no-save) and print the result; return it."""
    result = {
        **result,
        "quick": bool(args.quick),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine(),
    }
    if not args.no_save:
        args.results_dir.mkdir(parents=True, exist_ok=True)
        out = args.results_dir / f"{name}{'.quick' if args.quick else ''}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        log(f"wrote {out}")
    if args.json:
        print(json.dumps(result), flush=True)
    else:
        for k, v in result.items():
            if k != "machine":
                print(f"{k:>20}: {v}")
    return result


def rounded(x: float, nd: int = 4) -> float:
    return round(float(x), nd)


def run_main(main: Callable[[Optional[Sequence[str]]], Any]) -> None:
    main(None)
