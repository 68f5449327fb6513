"""Census speed: HospOps' ``census_hourly`` view vs a straightforward pandas implementation.

    python benchmarks/census_speed.py [--quick] [--json] [--stays N]

Input, generated deterministically (numpy, seed 20261122) straight into a workspace's ``movements`` and
``units`` tables (no import): 1,000,000 inpatient stays over 3 years (``--quick``: 50,000 over 6 months)
across 20 units; each stay has 1-3 movements (unit transfers), half-open ``[in_ts, out_ts)``, times to
the second; stays still in hospital at the end of the period have an open last movement
(``out_ts`` NULL), which counts until the end of the data.

* ``hospops_s`` — ``SELECT * FROM census_hourly`` fully materialized (fetched as an Arrow table);
* ``pandas_s`` — for every movement, the top-of-hour snapshot times it covers (hours ``h`` with
  ``in_ts <= h < out_ts``), exploded (numpy repeat), counted per unit and hour with ``groupby``, and
  zero-filled on the unit x hour grid the view uses (from midnight of the first event's day to the last
  event's hour).

The workspace time zone is UTC, so every hour is a real hour and the reference needs no DST logic (the
view's DST handling only matters for zones with clock changes). ``same_answer`` compares the two
complete tables (unit, hour, census) exactly.
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

import numpy as np

NAME = "census_speed"
SEED = 20261122
FULL = (1_000_000, 3 * 365)  # stays, days
QUICK = (50_000, 182)
N_UNITS = 20
START = np.datetime64("2023-01-01T00:00:00", "s")


def generate_movements(stays: int, days: int) -> dict[str, np.ndarray]:
    """Movements of ``stays`` stays admitted uniformly over ``days`` days: arrays stay, seq, unit, in, out."""
    rng = np.random.default_rng(SEED)
    span = days * 86400
    admit = np.sort(rng.integers(0, span, stays))  # seconds since START
    k = rng.choice(np.array([1, 2, 3]), stays, p=[0.6, 0.3, 0.1])  # movements per stay
    n = int(k.sum())
    stay_of = np.repeat(np.arange(stays), k)
    first = np.concatenate(([0], np.cumsum(k)[:-1]))
    seq = np.arange(n) - np.repeat(first, k) + 1
    # length of each movement: log-normal, median about 1.3 days, at least 10 minutes, at most 60 days
    dur = np.clip(rng.lognormal(np.log(32 * 3600), 1.0, n), 600, 60 * 86400).astype(np.int64)
    ends = np.cumsum(dur)
    start_in_stay = ends - dur - np.repeat(ends[first] - dur[first], k)  # offset of each movement in its stay
    t_in = np.repeat(admit, k) + start_in_stay
    t_out = t_in + dur
    # unit: a home unit per stay; transfers move to another unit
    unit = (np.repeat(rng.integers(0, N_UNITS, stays), k) + (seq - 1) * rng.integers(1, N_UNITS, n)) % N_UNITS
    # still in hospital at the end of the period: the movement that spans the end stays open and later
    # ones (which would start after the end) are dropped
    keep = t_in < span
    open_ = keep & (t_out > span)
    t_out = np.where(open_, -1, t_out)
    return {
        "stay": stay_of[keep],
        "seq": seq[keep],
        "unit": unit[keep],
        "in_s": t_in[keep],
        "out_s": t_out[keep],  # -1: open
    }


def unit_ids() -> list[str]:
    return [f"U{i:02d}" for i in range(N_UNITS)]


def fill_workspace(ws, mv: dict[str, np.ndarray]) -> None:
    import pyarrow as pa

    units = unit_ids()
    kinds = ["icu" if i < 2 else "ward" for i in range(N_UNITS)]
    ws.con.executemany(
        "INSERT INTO units (unit_id, name, kind, capacity, is_inpatient) VALUES (?, ?, ?, ?, true)",
        [[u, f"Unit {u}", kinds[i], 16 if kinds[i] == "icu" else 32] for i, u in enumerate(units)],
    )
    out = mv["out_s"]
    tbl = pa.table(
        {
            "stay_n": pa.array(mv["stay"]),
            "seq": pa.array(mv["seq"].astype(np.int32)),
            "unit_n": pa.array(mv["unit"].astype(np.int32)),
            "in_ts": pa.array(START + mv["in_s"].astype("timedelta64[s]")),
            "out_ts": pa.array(
                np.where(out < 0, np.datetime64("NaT"), START + out.astype("timedelta64[s]")),
                mask=out < 0,
            ),
        }
    )
    ws.con.register("_bench_mv", tbl)
    ws.con.execute(
        """INSERT INTO movements (stay_id, seq, unit_id, bed_id, in_ts, out_ts)
           SELECT 'S' || lpad(CAST(stay_n AS VARCHAR), 8, '0'), seq, 'U' || lpad(CAST(unit_n AS VARCHAR), 2, '0'),
                  NULL, CAST(in_ts AS TIMESTAMP), CAST(out_ts AS TIMESTAMP)
           FROM _bench_mv ORDER BY stay_n, seq"""
    )
    ws.con.unregister("_bench_mv")
    ws.con.execute("CHECKPOINT")


def census_pandas(mv):
    """The reference: explode each movement into the hours it covers, count per unit and hour, zero-fill.

    ``mv`` is a DataFrame with unit_id, in_ts, out_ts (datetime64, out_ts NaT = open), as read from the
    workspace. Returns a DataFrame unit_id, ds, census sorted by unit and hour.
    """
    import pandas as pd

    hour = np.int64(3600)
    t_in = mv["in_ts"].to_numpy("datetime64[s]").astype(np.int64)
    out = mv["out_ts"]
    is_open = out.isna().to_numpy()
    t_out = out.to_numpy("datetime64[s]", na_value=np.datetime64("NaT")).astype(np.int64)
    first = -(-t_in // hour) * hour  # first snapshot hour >= in_ts
    # the grid: midnight of the first event's day .. the last event's hour (every event rounded up to the hour)
    events = np.concatenate([first, -(-t_out[~is_open] // hour) * hour])
    lo = events.min() // 86400 * 86400
    hi = events.max()
    end = np.where(is_open, hi + hour, -(-t_out // hour) * hour)  # exclusive: hours h < out_ts
    n_hours = np.maximum((end - first) // hour, 0)
    # explode: one row per (movement, hour covered)
    total = int(n_hours.sum())
    rep_first = np.repeat(first, n_hours)
    offset = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(n_hours) - n_hours, n_hours)
    unit = pd.Categorical(mv["unit_id"])  # 20 distinct strings: repeat small codes, not string objects
    exploded = pd.DataFrame(
        {
            "unit_id": pd.Categorical.from_codes(np.repeat(unit.codes, n_hours), unit.categories),
            "ds": (rep_first + offset * hour).astype("datetime64[s]"),
        }
    )
    counts = exploded.groupby(["unit_id", "ds"], observed=True).size()
    units = np.sort(unit.categories.to_numpy())
    grid = pd.date_range(pd.Timestamp(lo, unit="s"), pd.Timestamp(hi, unit="s"), freq="h", unit="s")
    full = pd.MultiIndex.from_product([units, grid], names=["unit_id", "ds"])
    out_df = counts.reindex(full, fill_value=0).rename("census").reset_index()
    out_df["census"] = out_df["census"].astype(np.int64)
    return out_df


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--stays", type=int, default=None, help="number of stays (default 1,000,000; quick 50,000)")
    p.add_argument("--days", type=int, default=None, help="days the admissions span (default 1095; quick 182)")
    args = p.parse_args(argv)
    stays, days = QUICK if args.quick else FULL
    stays = args.stays or stays
    days = args.days or days
    repeats = args.repeats or (1 if args.quick else 3)

    import pandas as pd

    from datasets.store import Workspace

    log(f"generating {stays:,} stays over {days} days")
    mv = generate_movements(stays, days)
    with scratch_dir(args.data_dir, "census_bench_") as work:
        ws = Workspace.create(work / "census.hospops", timezone="UTC")
        try:
            fill_workspace(ws, mv)
            n_mov, n_open = ws.con.execute("SELECT count(*), count(*) - count(out_ts) FROM movements").fetchone()
            log(f"{n_mov:,} movements ({n_open:,} open) in {N_UNITS} units; {repeats} repeat(s)")

            hospops_s, hospops_all, arrow = timed(
                lambda: ws.con.execute("SELECT * FROM census_hourly").fetch_arrow_table(), repeats, "hospops census_hourly"
            )
            # the reference reads the same rows from the workspace (not timed: both start from the table)
            mv_df = ws.con.execute("SELECT unit_id, in_ts, out_ts FROM movements").df()
        finally:
            ws.close()
    del mv
    pandas_s, pandas_all, ref = timed(lambda: census_pandas(mv_df), repeats, "pandas explode + groupby")

    got = arrow.to_pandas()
    got = got.sort_values(["unit_id", "ds"], kind="stable").reset_index(drop=True)
    got_cmp = pd.DataFrame(
        {
            "unit_id": got["unit_id"].astype(str).to_numpy(),
            "ds": got["ds"].to_numpy("datetime64[s]"),
            "census": got["census"].to_numpy(np.int64),
        }
    )
    ref_cmp = pd.DataFrame(
        {
            "unit_id": ref["unit_id"].astype(str).to_numpy(),
            "ds": ref["ds"].to_numpy("datetime64[s]"),
            "census": ref["census"].to_numpy(np.int64),
        }
    )
    same = len(got_cmp) == len(ref_cmp) and bool(
        (got_cmp["unit_id"].to_numpy() == ref_cmp["unit_id"].to_numpy()).all()
        and (got_cmp["ds"].to_numpy() == ref_cmp["ds"].to_numpy()).all()
        and (got_cmp["census"].to_numpy() == ref_cmp["census"].to_numpy()).all()
    )
    hours_ok = bool((got["hours"].to_numpy() == 1).all())
    if not same:
        log(f"WARNING: answers differ: hospops {len(got_cmp):,} rows, pandas {len(ref_cmp):,} rows")
    result = {
        "stays": stays,
        "days": days,
        "movements": int(n_mov),
        "open_movements": int(n_open),
        "units": N_UNITS,
        "rows": int(len(got_cmp)),
        "hospops_s": rounded(hospops_s),
        "pandas_s": rounded(pandas_s),
        "same_answer": bool(same),
        "speedup": rounded(pandas_s / hospops_s, 2),
        "hours_all_one": hours_ok,
        "peak_census": int(got_cmp["census"].max()) if len(got_cmp) else 0,
        "repeats": repeats,
        "times": {"hospops_s": [rounded(t) for t in hospops_all], "pandas_s": [rounded(t) for t in pandas_all]},
    }
    return finish(NAME, args, result)


if __name__ == "__main__":
    main()
