"""PAS (Demeester et al.): cost of the greedy + CP-SAT large-neighbourhood solver on testdata01-13.

    python benchmarks/beds_pas.py [--instances 1-13] [--time-limit S] [--workers N] [--quick] [--json]

For each instance: ``cost`` (under the original weights, as recomputed by the independent validator,
``optimization.beds.pas.validate``), ``best_known`` (None: the published best costs were not retrieved,
anchors SOURCE.md), ``gap`` (None without a best known), ``validated`` (no hard violation and nobody
unplaced), ``seconds`` (wall time of the solve), plus ``greedy_cost`` (the start) and the cost components.
``--quick`` solves testdata01 only with 10 s unless told otherwise. Results go to
``benchmarks/results/beds_pas[.quick].json``. The anchors live outside the repository
(``../shared/anchors/bed_allocation/pas_demeester``); set ``HOSPOPS_PAS_DIR`` to point elsewhere.
"""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log  # type: ignore
    from beds_ihtc import solved_row  # type: ignore
else:
    from ._common import base_parser, finish, log
    from .beds_ihtc import solved_row

NAME = "beds_pas"
ROOT = Path(__file__).resolve().parents[1]
PAS_DIR = Path(os.environ.get("HOSPOPS_PAS_DIR",
                              ROOT.parent / "shared" / "anchors" / "bed_allocation" / "pas_demeester"))

BEST_KNOWN: dict[str, float] = {}  # not retrieved (SOURCE.md); fill from Bastos et al. 2019 / the PAS page


def parse_instances(spec: str) -> list[str]:
    out: list[str] = []
    for part in spec.split(","):
        part = part.strip().lower().replace("testdata", "")
        m = re.fullmatch(r"(\d+)\s*-\s*(\d+)", part)
        if m:
            out += [f"testdata{k:02d}" for k in range(int(m.group(1)), int(m.group(2)) + 1)]
        elif re.fullmatch(r"\d+", part):
            out.append(f"testdata{int(part):02d}")
        elif part == "overconstrained01":
            out.append(part)
        elif part:
            raise SystemExit(f"bad instance list: {spec!r} (use e.g. 1-13 or 1,3 or testdata05)")
    return out


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--instances", default=None, help="e.g. 1-13 (default 1-13; quick: 1)")
    p.add_argument("--time-limit", type=float, default=None, help="seconds per instance (default 60; quick 10)")
    p.add_argument("--workers", type=int, default=2, help="CP-SAT workers (default 2)")
    p.add_argument("--pas-dir", type=Path, default=PAS_DIR)
    args = p.parse_args(argv)
    names = parse_instances(args.instances or ("1" if args.quick else "1-13"))
    limit = args.time_limit or (10.0 if args.quick else 60.0)

    from optimization.beds.pas import read_instance, solve

    rows = []
    for name in names:
        path = args.pas_dir / f"{name}.txt"
        if not path.exists():
            raise SystemExit(f"{path} not found (set HOSPOPS_PAS_DIR or --pas-dir)")
        inst = read_instance(path)
        log(f"{name}: {len(inst.patients)} patients ({inst.skipped} outside the horizon), {len(inst.rooms)} rooms, "
            f"{len(inst.beds)} beds, {inst.horizon} nights; limit {limit:g} s; load {os.getloadavg()[0]:.2f}")
        row, rep, stats = solved_row(name, BEST_KNOWN.get(name), lambda: solve(inst, limit, workers=args.workers))
        if rep is not None:
            row["components"] = rep.components
            row["hard_violations"] = rep.hard_violations
            row["greedy_cost"] = stats.get("greedy_cost")
            row["unplaced"] = stats.get("unplaced")
            row["lns_improvements"] = stats.get("lns_improvements")
        log(f"  cost {row['cost']} (greedy start {row.get('greedy_cost')}) validated {row['validated']} "
            f"in {row['seconds']} s")
        rows.append(row)
    result = {"rows": rows, "time_limit_s": limit, "workers": args.workers,
              "feasible": sum(1 for r in rows if r["validated"]), "instances": len(rows),
              "load_average": [round(x, 2) for x in os.getloadavg()]}
    return finish(NAME, args, result)


if __name__ == "__main__":
    main(None)
