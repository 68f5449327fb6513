"""Demo build: how long ``hospops demo`` takes to build the demo hospital, against a bare DuckDB write.

    python benchmarks/demo_build.py [--quick] [--json] [--days N] [--seed S]

* ``seconds`` — ``datasets.synthetic.build_demo(path, days=1095, seed=7)`` (``--quick``: 90 days) into a
  fresh file, end to end: generating the hospital (ED arrivals, stays, the bed-by-bed simulation,
  supplies, staff), writing every table in one transaction, supply use, the checkpoint and the final
  rename. Median of 3 runs (``--quick``: 1).
* ``baseline_s`` — the same-run yardstick: a bare DuckDB write of as many rows as the demo's
  ``ed_visits + stays + movements + supply_usage`` tables hold, each row shaped like an ED visit (two
  short ids, three timestamps, a small integer, two short strings, an id) —
  ``CREATE TABLE t AS SELECT ... FROM range(N)`` into a fresh file, checkpointed and closed. It is what
  writing that much data costs with no generation, no simulation and no checks at all.
* ``ratio_vs_bare_write`` — ``seconds / baseline_s``: how many bare writes of the same volume the whole
  build is worth. Generation and the bed simulation dominate, so this is expected to be well above 1.

``rows`` has every table's row count from the last build (the same for every run: the build is
deterministic).
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded, scratch_dir, timed  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded, scratch_dir, timed

NAME = "demo_build"
SEED = 7
FULL_DAYS = 3 * 365
QUICK_DAYS = 90
BASELINE_TABLES = ("ed_visits", "stays", "movements", "supply_usage")

# one ED-visit-shaped row per id: the columns and types of ed_visits, values cheap to compute
BARE_WRITE_SQL = """
CREATE TABLE t AS
SELECT 'V' || lpad(CAST(range AS VARCHAR), 9, '0')                              AS visit_id,
       'P' || lpad(CAST(range % 250000 AS VARCHAR), 9, '0')                     AS patient_id,
       TIMESTAMP '2023-11-22 00:00:00' + to_seconds(range * 67)                 AS arrival_ts,
       TIMESTAMP '2023-11-22 00:00:00' + to_seconds(range * 67 + 3600 + range % 18000) AS departure_ts,
       CAST(1 + range % 5 AS TINYINT)                                           AS acuity,
       CASE range % 4 WHEN 0 THEN 'ambulance' ELSE 'walk_in' END                AS arrival_mode,
       CASE range % 10 WHEN 0 THEN 'admitted' WHEN 1 THEN 'admitted' WHEN 2 THEN 'admitted'
            ELSE 'discharged' END                                               AS disposition,
       CASE WHEN range % 10 < 3
            THEN TIMESTAMP '2023-11-22 00:00:00' + to_seconds(range * 67 + 1800) END AS decision_ts,
       CASE WHEN range % 10 < 3 THEN 'S' || lpad(CAST(range AS VARCHAR), 9, '0') END AS stay_id
FROM range(?)
"""


def bare_write(path: Path, n: int) -> int:
    """Write ``n`` ED-visit-shaped rows into a fresh DuckDB file at ``path``; checkpoint; close."""
    import duckdb

    con = duckdb.connect(str(path))
    try:
        con.execute(BARE_WRITE_SQL, [n])
        con.execute("CHECKPOINT")
        got = con.execute("SELECT count(*) FROM t").fetchone()[0]
    finally:
        con.close()
    return int(got)


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=None,
                   help=f"days of demo data (default {FULL_DAYS}; quick {QUICK_DAYS}; build_demo allows 28 and up)")
    p.add_argument("--seed", type=int, default=SEED, help=f"demo seed (default {SEED})")
    args = p.parse_args(argv)
    days = args.days or (QUICK_DAYS if args.quick else FULL_DAYS)
    repeats = args.repeats or (1 if args.quick else 3)

    from datasets.store import Workspace
    from datasets.synthetic import build_demo

    with scratch_dir(args.data_dir, "demo_bench_") as work:
        counter = iter(range(10**6))

        def fresh_path() -> Path:
            return work / f"demo_{next(counter)}.hospops"

        def cleanup() -> None:  # keep the scratch folder small between the two contenders
            for f in work.iterdir():
                f.unlink()

        log(f"building the demo hospital: {days} days, seed {args.seed}; {repeats} repeat(s)")
        seconds, all_s, summary = timed(
            lambda path: build_demo(path, days=days, seed=args.seed), repeats, "build_demo",
            setup=fresh_path,
        )
        # the row counts of the last build (re-opened read-only, not timed)
        last = Path(summary["workspace"])
        ws = Workspace.open(last, read_only=True)
        try:
            rows = {k: int(v) for k, v in ws.counts().items()}
        finally:
            ws.close()
        cleanup()

        n = sum(rows[t] for t in BASELINE_TABLES)
        log(f"bare DuckDB write of {n:,} ED-visit-shaped rows ({' + '.join(BASELINE_TABLES)})")
        baseline_s, base_all, bare_rows = timed(
            lambda path: bare_write(path, n), repeats, "bare write", setup=fresh_path,
        )
        assert bare_rows == n, (bare_rows, n)

    result = {
        "days": days,
        "seed": args.seed,
        "seconds": rounded(seconds),
        "baseline_s": rounded(baseline_s),
        "ratio_vs_bare_write": rounded(seconds / baseline_s, 2),
        "baseline_rows": n,
        "rows": rows,
        "repeats": repeats,
        "times": {"seconds": [rounded(t) for t in all_s], "baseline_s": [rounded(t) for t in base_all]},
    }
    return finish(NAME, args, result)


if __name__ == "__main__":
    main()
