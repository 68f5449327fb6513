"""Privacy costs: the same ED visits CSV imported into a plain and an encrypted workspace; hostile inputs tried.

    python benchmarks/import_encrypted.py [--quick] [--json] [--rows N] [--hostile | --no-hostile]

The input is ``import_speed``'s generated ED-visits extract (same generator, same seed, same cache under
``benchmarks/data/``): 1,000,000 rows by default (``--quick``: 50,000), about 0.1 % of them bad on purpose.

Contenders, timed in the same run, alternating so that drift in a shared machine hits both alike:

* ``plain_s`` — ``import_csv(ws, path, table="ed_visits")`` into a new plain workspace;
* ``encrypted_s`` — the same into a new workspace created with a passphrase (DuckDB AES-256-GCM with
  OpenSSL from the signed httpfs extension; see ``datasets/store/crypto.py``).

Creating the workspace (which, encrypted, includes the slow scrypt key derivation) is not timed; the import
and its commit are. Each is repeated (full: 3, quick: 1) and the median reported with ``ratio`` =
encrypted / plain (goal: under 1.3). The run checks that both workspaces hold the same answer (the same
rows and rejects, apart from the per-workspace pseudonyms) and that the books balance.

``hostile`` (full runs, or ``--hostile``): runs ``tests/datasets/test_hostile_inputs.py`` as CI does and
reports how many generated hostile inputs each importer was given and their outcomes (loaded, partly
rejected, refused with a message), with the test result.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded, scratch_dir  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded, scratch_dir

NAME = "import_encrypted"
FULL_ROWS = 1_000_000
QUICK_ROWS = 50_000
PASSPHRASE = "benchmark passphrase, not a secret"
REPO = Path(__file__).resolve().parents[1]
HOSTILE_TESTS = "tests/datasets/test_hostile_inputs.py"


def _import_speed():
    """The sibling benchmark whose generated ED-visits file this one reuses."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("_bench_import_speed", Path(__file__).with_name("import_speed.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def answer(ws) -> dict[str, Any]:
    """What an import stored, independent of the workspace's pseudonym key."""
    rows, digest = ws.sql(
        "SELECT count(*), md5(string_agg(concat_ws('|', arrival_ts, departure_ts, acuity, arrival_mode, disposition), "
        "',' ORDER BY arrival_ts, departure_ts, acuity, arrival_mode, disposition)) FROM ed_visits")[0]
    rejects, rdigest = ws.sql(
        "SELECT count(*), md5(string_agg(concat_ws('|', line, column_name, reason), ',' ORDER BY line)) FROM rejects")[0]
    return {"rows": rows, "digest": digest, "rejects": rejects, "rejects_digest": rdigest}


def run_hostile(select: Optional[str] = None, timeout_s: int = 900) -> dict[str, Any]:
    """Run the hostile-input property tests as CI does (``select``: only those matching ``-k select``)."""
    with tempfile.TemporaryDirectory(prefix="hostile_report_") as d:
        report = Path(d) / "report.json"
        env = {**os.environ, "HOSPOPS_HOSTILE_REPORT": str(report)}
        env.pop("HOSPOPS_HOSTILE_SCALE", None)
        t0 = time.perf_counter()
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", HOSTILE_TESTS]
        p = subprocess.run(cmd + (["-k", select] if select else []),
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout_s)
        seconds = time.perf_counter() - t0
        data = json.loads(report.read_text()) if report.exists() else {"outcomes": {}}
    outcomes = data["outcomes"]
    tail = [line for line in p.stdout.strip().splitlines() if line.strip()][-1:] or [""]
    per = {fmt: {"tried": sum(c.values()), **c} for fmt, c in outcomes.items()}
    total: dict[str, int] = {}
    for c in outcomes.values():
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    return {
        "tried": sum(total.values()),
        "outcomes": total,
        "by_importer": per,
        "tests_passed": p.returncode == 0,
        "pytest_summary": tail[0],
        "seconds": rounded(seconds, 1),
    }


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=None,
                   help=f"rows in the generated file (default {FULL_ROWS:,}; quick {QUICK_ROWS:,})")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--hostile", dest="hostile", action="store_true", default=None,
                   help="also run the hostile-input tests and report their outcomes (default in full runs)")
    g.add_argument("--no-hostile", dest="hostile", action="store_false")
    args = p.parse_args(argv)
    rows = args.rows or (QUICK_ROWS if args.quick else FULL_ROWS)
    repeats = args.repeats or (1 if args.quick else 3)
    hostile = (not args.quick) if args.hostile is None else args.hostile

    from datasets.importers.csv import import_csv
    from datasets.store import Workspace, is_encrypted

    speed = _import_speed()
    path, bad, _ = speed.generate(rows, args.data_dir)
    speed._warm(path)
    n_bad = sum(bad.values())
    log(f"{path.name}: {rows:,} rows, {path.stat().st_size / 2**20:.0f} MiB; {repeats} repeat(s) each, alternating")

    times: dict[str, list[float]] = {"plain": [], "encrypted": []}
    answers: dict[str, dict] = {}
    books_ok = True
    with scratch_dir(args.data_dir, "import_encrypted_") as work:
        for i in range(repeats):
            for kind in ("plain", "encrypted"):
                ws_path = work / f"{kind}_{i}.hospops"
                ws = Workspace.create(ws_path, timezone="UTC", passphrase=PASSPHRASE if kind == "encrypted" else None)
                try:
                    t0 = time.perf_counter()
                    res = import_csv(ws, path, table="ed_visits")
                    dt = time.perf_counter() - t0
                    t = res.tables()["ed_visits"]
                    books_ok &= t["read"] == t["loaded"] + t["rejected"] == rows and t["rejected"] == n_bad
                    answers[kind] = answer(ws)
                finally:
                    ws.close()
                assert is_encrypted(ws_path) == (kind == "encrypted")
                times[kind].append(dt)
                log(f"  {kind} [{i + 1}/{repeats}]: {dt:.3f} s")
                for f in work.glob(f"{kind}_{i}.hospops*"):
                    if f.is_file():
                        f.unlink()

    import statistics

    plain_s = statistics.median(times["plain"])
    enc_s = statistics.median(times["encrypted"])
    result: dict[str, Any] = {
        "rows": rows,
        "plain_s": rounded(plain_s),
        "encrypted_s": rounded(enc_s),
        "ratio": rounded(enc_s / plain_s, 3),
        "goal_ratio": 1.3,
        "repeats": repeats,
        "times": {k: [rounded(x) for x in v] for k, v in times.items()},
        "rows_per_s": {"plain": round(rows / plain_s), "encrypted": round(rows / enc_s)},
        "bad_planted": n_bad,
        "books_ok": bool(books_ok),
        "same_answer": answers["plain"] == answers["encrypted"],
        "loaded": answers["plain"]["rows"],
        "rejected": answers["plain"]["rejects"],
    }
    if not (result["books_ok"] and result["same_answer"]):
        log(f"WARNING: the two imports differ or their books do not balance: {answers}")
    if hostile:
        log(f"running {HOSTILE_TESTS} (the hostile-input property tests, CI settings)")
        result["hostile"] = run_hostile()
        log(f"  {result['hostile']['tried']} hostile inputs: {result['hostile']['outcomes']}")
    return finish(NAME, args, result)


if __name__ == "__main__":
    main()
