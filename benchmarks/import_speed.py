"""Import speed: HospOps' validated CSV import vs bare DuckDB and pandas on one ED-visits extract.

    python benchmarks/import_speed.py [--quick] [--json] [--rows N]

The input is generated deterministically (numpy, seed 20261121) and cached under ``benchmarks/data/``:
5,000,000 ED visits (``--quick``: 200,000) with the canonical column names, of which about 0.1 % are bad
on purpose: half have the departure before the arrival, half an unparseable arrival or departure time.

Contenders, each timed into a fresh on-disk DuckDB file (or into memory for pandas), same run:

* ``hospops_s`` — ``datasets.importers.csv.import_csv(ws, path, table="ed_visits")`` into a new workspace:
  staging, type checks, sanity rules, duplicate keys, rejects with line and reason, pseudonymized ids,
  one transaction and the bookkeeping;
* ``duckdb_s`` — ``CREATE TABLE t AS SELECT * FROM read_csv(path)``: DuckDB's own reader, no checks;
* ``pandas_s`` / ``pandas_pyarrow_s`` — ``pandas.read_csv(path)`` with the default and the pyarrow engine.

Each is repeated (full: 3, quick: 1) and the median reported. The run also checks the HospOps books:
read == loaded + rejected, and rejected == the number of bad rows planted.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded, scratch_dir, timed  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded, scratch_dir, timed

import numpy as np

NAME = "import_speed"
SEED = 20261121
FULL_ROWS = 5_000_000
QUICK_ROWS = 200_000
BAD_SHARE = 0.001
COLUMNS = ["visit_id", "patient_id", "arrival_ts", "departure_ts", "acuity", "arrival_mode", "disposition"]
GEN_VERSION = 1  # bump when the generator changes, so cached files are regenerated


def generate(rows: int, data_dir: Path) -> tuple[Path, dict[str, int], dict[str, str]]:
    """Write (or reuse) the CSV; return its path, the planted bad rows by kind and {line: kind}."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"ed_visits_{rows}_v{GEN_VERSION}.csv"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("rows") == rows and path.stat().st_size == meta.get("bytes"):
            return path, meta["bad"], meta["bad_lines"]
    log(f"generating {rows:,} ED visits → {path}")
    rng = np.random.default_rng(SEED)
    n = rows
    start = np.datetime64("2023-01-01T00:00:00", "s")
    span_s = 3 * 365 * 86400
    arrival = start + np.sort(rng.integers(0, span_s, n)).astype("timedelta64[s]")
    stay_min = np.clip(rng.lognormal(np.log(200), 0.7, n), 5, 72 * 60).astype(np.int64)
    departure = arrival + (stay_min * 60 + rng.integers(0, 60, n)).astype("timedelta64[s]")
    acuity = rng.choice(np.arange(1, 6, dtype=np.int8), n, p=[0.02, 0.15, 0.45, 0.30, 0.08])
    modes = np.array(["walk_in", "ambulance", "helicopter", "other", "unknown"])
    mode = modes[rng.choice(5, n, p=[0.70, 0.25, 0.005, 0.035, 0.01])]
    dispositions = np.array(["discharged", "admitted", "transferred", "left", "died", "unknown"])
    dispo = dispositions[rng.choice(6, n, p=[0.65, 0.25, 0.03, 0.05, 0.002, 0.018])]
    visit_id = pc.binary_join_element_wise("V", pc.utf8_lpad(pa.array(np.arange(1, n + 1)).cast(pa.string()), 9, "0"), "")
    patient_num = rng.integers(1, max(2, n // 3), n)
    patient_id = pc.binary_join_element_wise("P", pc.utf8_lpad(pa.array(patient_num).cast(pa.string()), 8, "0"), "")
    arr_txt = pc.strftime(pa.array(arrival, type=pa.timestamp("s")), "%Y-%m-%d %H:%M:%S")
    dep_txt = pc.strftime(pa.array(departure, type=pa.timestamp("s")), "%Y-%m-%d %H:%M:%S")

    # ~0.1 % bad rows, at distinct positions: departure before arrival, or a timestamp that cannot be parsed
    n_bad = max(4, int(round(n * BAD_SHARE)))
    bad_idx = rng.choice(n, n_bad, replace=False)
    kinds = np.arange(n_bad) % 4  # 0, 1: departure before arrival; 2: bad arrival; 3: bad departure
    arr_list = arr_txt.to_numpy(zero_copy_only=False).astype(object)
    dep_list = dep_txt.to_numpy(zero_copy_only=False).astype(object)
    garbage = ["2024-02-30 25:61:00", "not recorded", "31/31/2024 10:00", "??"]
    for j, (i, k) in enumerate(zip(bad_idx, kinds)):
        if k in (0, 1):
            before = arrival[i] - np.timedelta64(int(rng.integers(60, 6 * 3600)), "s")
            dep_list[i] = str(before).replace("T", " ")
        elif k == 2:
            arr_list[i] = garbage[j % len(garbage)]
        else:
            dep_list[i] = garbage[j % len(garbage)]
    table = pa.table(
        {
            "visit_id": visit_id,
            "patient_id": patient_id,
            "arrival_ts": pa.array(arr_list, type=pa.string()),
            "departure_ts": pa.array(dep_list, type=pa.string()),
            "acuity": pa.array(acuity),
            "arrival_mode": pa.array(mode),
            "disposition": pa.array(dispo),
        }
    )
    tmp = path.with_suffix(".csv.tmp")
    pacsv.write_csv(table, tmp, pacsv.WriteOptions(include_header=True, quoting_style="needed"))
    tmp.replace(path)
    bad = {
        "departure_before_arrival": int(np.sum(kinds <= 1)),
        "bad_arrival_ts": int(np.sum(kinds == 2)),
        "bad_departure_ts": int(np.sum(kinds == 3)),
    }
    names = ["departure_before_arrival", "departure_before_arrival", "bad_arrival_ts", "bad_departure_ts"]
    bad_lines = {str(int(i) + 2): names[k] for i, k in zip(bad_idx, kinds)}  # header is line 1
    meta_path.write_text(json.dumps({"rows": rows, "bytes": path.stat().st_size, "seed": SEED, "bad": bad,
                                     "bad_lines": bad_lines}))
    return path, bad, bad_lines


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=None, help=f"rows in the generated file (default {FULL_ROWS:,}; quick {QUICK_ROWS:,})")
    args = p.parse_args(argv)
    rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    repeats = args.repeats or (1 if args.quick else 3)

    import duckdb
    import pandas as pd

    from datasets.importers.csv import import_csv
    from datasets.store import Workspace

    path, bad, bad_lines = generate(rows, args.data_dir)
    _warm(path)
    n_bad = sum(bad.values())
    size_mb = path.stat().st_size / 2**20
    log(f"{path.name}: {rows:,} rows, {size_mb:.0f} MiB, {n_bad:,} bad rows planted; {repeats} repeat(s)")

    with scratch_dir(args.data_dir, "import_bench_") as work:
        counter = {"n": 0}

        def fresh(stem: str) -> Path:
            counter["n"] += 1
            return work / f"{stem}_{counter['n']}.db"

        # (a) HospOps: validated import into a new workspace (creating the workspace is not timed)
        def hospops_setup():
            return Workspace.create(fresh("hospops"), timezone="UTC")

        def hospops_run(ws):
            res = import_csv(ws, path, table="ed_visits")
            return ws, res

        checks: dict[str, Any] = {}

        def hospops_check(out):
            ws, res = out
            t = res.tables()["ed_visits"]
            stored = ws.con.execute("SELECT count(*) FROM ed_visits").fetchone()[0]
            rej = ws.con.execute(
                "SELECT line, column_name, reason FROM rejects WHERE table_name = 'ed_visits' ORDER BY line"
            ).fetchall()
            got = {str(line): (col, reason) for line, col, reason in rej}
            wrong = [
                (line, kind, got.get(line))
                for line, kind in bad_lines.items()
                if line not in got or not _reason_fits(kind, *got[line])
            ]
            checks.update(read=t["read"], loaded=t["loaded"], rejected=t["rejected"], stored=stored,
                          rejects_rows=len(rej), rejects_lines_ok=not wrong and len(got) == len(rej) == len(bad_lines))
            if wrong:
                log(f"WARNING: {len(wrong)} planted bad rows not rejected as expected, e.g. {wrong[:3]}")
            ws.close()

        hospops_s, hospops_all, _ = timed(hospops_run, repeats, "hospops import_csv", setup=hospops_setup,
                                          teardown=hospops_check)

        # (b) bare DuckDB: CTAS from read_csv into a fresh file
        def duck_setup():
            return duckdb.connect(str(fresh("duckdb")))

        def duck_run(con):
            con.execute(f"CREATE TABLE t AS SELECT * FROM read_csv('{path}')")
            return con

        duck_rows = {}

        def duck_check(con):
            duck_rows["n"] = con.execute("SELECT count(*) FROM t").fetchone()[0]
            con.close()

        duckdb_s, duckdb_all, _ = timed(duck_run, repeats, "duckdb CTAS", setup=duck_setup, teardown=duck_check)

        # (c), (d) pandas
        pandas_rows = {}
        pandas_s, pandas_all, df = timed(lambda: pd.read_csv(path), repeats, "pandas.read_csv")
        pandas_rows["c"] = len(df)
        del df
        pyarrow_s, pyarrow_all, df = timed(lambda: pd.read_csv(path, engine="pyarrow"), repeats,
                                           "pandas.read_csv(engine=pyarrow)")
        pandas_rows["pyarrow"] = len(df)
        del df

    books_ok = checks["read"] == checks["loaded"] + checks["rejected"] == rows
    rejects_ok = checks["rejected"] == n_bad and checks["rejects_rows"] == n_bad and checks["rejects_lines_ok"] \
        and checks["stored"] == rows - n_bad
    result = {
        "rows": rows,
        "file_mib": round(size_mb, 1),
        "hospops_s": rounded(hospops_s),
        "duckdb_s": rounded(duckdb_s),
        "pandas_s": rounded(pandas_s),
        "pandas_pyarrow_s": rounded(pyarrow_s),
        "ratio_vs_duckdb": rounded(hospops_s / duckdb_s, 3),
        "ratio_pandas_vs_hospops": rounded(pandas_s / hospops_s, 3),
        "ratio_pandas_pyarrow_vs_hospops": rounded(pyarrow_s / hospops_s, 3),
        "repeats": repeats,
        "times": {
            "hospops_s": [rounded(t) for t in hospops_all],
            "duckdb_s": [rounded(t) for t in duckdb_all],
            "pandas_s": [rounded(t) for t in pandas_all],
            "pandas_pyarrow_s": [rounded(t) for t in pyarrow_all],
        },
        "read": checks["read"],
        "loaded": checks["loaded"],
        "rejected": checks["rejected"],
        "bad_planted": n_bad,
        "bad_by_kind": bad,
        "books_ok": bool(books_ok),
        "rejects_ok": bool(rejects_ok),
        "duckdb_rows": duck_rows["n"],
        "pandas_rows": pandas_rows["c"],
        "pandas_pyarrow_rows": pandas_rows["pyarrow"],
    }
    if not (books_ok and rejects_ok):
        log(f"WARNING: HospOps counts do not add up: {checks} (planted {n_bad})")
    return finish(NAME, args, result)


def _warm(path: Path) -> None:
    """Flush a freshly written file and read it once, so every contender starts from the page cache."""
    os.sync()
    with open(path, "rb") as fh:
        while fh.read(1 << 24):
            pass


def _reason_fits(kind: str, column: str, reason: str) -> bool:
    """Does a rejects row (column, reason) say what was planted on that line?"""
    if kind == "departure_before_arrival":
        return column == "departure_ts" and "departure before arrival" in reason
    if kind == "bad_arrival_ts":
        return column == "arrival_ts" and "not a date and time" in reason
    if kind == "bad_departure_ts":
        return column == "departure_ts" and "not a date and time" in reason
    return False


if __name__ == "__main__":
    main()
