"""Reorder points on the demo hospital: how often the stock they hold lasted to the next delivery.

    python benchmarks/supply_reorder.py [--quick] [--json] [--days N] [--lead-time D] [--every K]

Builds the seeded demo hospital (2 years by default) into a scratch folder and, at an origin every ``--every``
days over its last year, asks for each item and unit the lead-time demand distribution the supplies table
uses (``forecasting.inventory``) from the use recorded before the origin, and its reorder points at service
levels 90, 95 and 99 %. A reorder point *held* when the use over the ``--lead-time`` days after the origin did
not exceed it. The service level is the share that should hold.

Two rules, on the same origins: **ours**, as ``reorder_table`` computes it (intermittent items, at least 30 %
zero days: the past year's use over each span of the lead time; the others: the cautious of the count model's
figure and that one), against the **baseline**, the rule before it (TSB for intermittent items, the count model
alone for the others: per-day draws summed). Reported per group (intermittent, busy): the coverage at each
level and its distance from nominal.
"""
from __future__ import annotations

import sys
import time
import zlib
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded, scratch_dir  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded, scratch_dir

# numpy after _common, which sets one BLAS thread before numpy loads
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

NAME = "supply_reorder"
LEVELS = (0.90, 0.95, 0.99)


def rule_points(hist: pd.DataFrame, lead: int, country: Optional[str], uid: str) -> tuple[dict, dict, str]:
    """Reorder points at each level by our rule and by the baseline, and the item's group."""
    from forecasting.inventory import demand_model, lead_time_demand, past_lead_time_use

    past = past_lead_time_use(hist["y"].to_numpy(dtype=float), lead)
    model = demand_model(hist, country)
    group = "intermittent" if model.alias == "tsb" else "busy"
    model.fit(hist)
    draws = lead_time_demand(model.predict_dist(lead), lead, seed=zlib.crc32(uid.encode()) % 2 ** 31)

    def q(x, lv):
        return float(np.ceil(np.quantile(x, lv, method="inverted_cdf") - 1e-9))

    base = {lv: q(draws, lv) for lv in LEVELS}
    if past is None:
        ours = dict(base)
    elif group == "intermittent":
        ours = {lv: q(past, lv) for lv in LEVELS}
    else:
        ours = {lv: max(q(draws, lv), q(past, lv)) for lv in LEVELS}
    return ours, base, group


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=2 * 365, help="days of demo hospital (default 2 years)")
    p.add_argument("--lead-time", type=int, default=7, help="days from order to delivery (default 7)")
    p.add_argument("--every", type=int, default=15, help="days between origins (default 15; quick 60)")
    args = p.parse_args(argv)
    every = 60 if args.quick and args.every == 15 else args.every
    days = 400 if args.quick and args.days == 2 * 365 else args.days
    from datasets.store import Workspace
    from datasets.synthetic import build_demo

    t_all = time.perf_counter()
    with scratch_dir(args.data_dir, "supply_reorder_") as d:
        path = d / "demo.hospops"
        log(f"building the demo hospital ({days} days)")
        build_demo(path, days=days)
        with Workspace.open(path, read_only=True) as ws:
            use = ws.df("SELECT unique_id, CAST(ds AS TIMESTAMP) AS ds, CAST(y AS DOUBLE) AS y "
                        "FROM supply_usage_daily ORDER BY unique_id, ds")
            country = ws.settings().get("country")
    held = {(rule, g, lv): [] for rule in ("ours", "baseline") for g in ("intermittent", "busy") for lv in LEVELS}
    L = args.lead_time
    for k, (uid, g) in enumerate(use.groupby("unique_id", sort=True)):
        g = g.reset_index(drop=True)
        y = g["y"].fillna(0).to_numpy()
        for cut in range(max(len(y) - 365, 60), len(y) - L, every):
            ours, base, group = rule_points(g.iloc[:cut][["ds", "y"]].reset_index(drop=True), L, country, uid)
            actual = y[cut:cut + L].sum()
            for lv in LEVELS:
                held[("ours", group, lv)].append(actual <= ours[lv])
                held[("baseline", group, lv)].append(actual <= base[lv])
        if k % 25 == 0:
            log(f"  {k} series")
    rows = []
    for (rule, group, lv), hits in held.items():
        if hits:
            cov = float(np.mean(hits))
            rows.append({"rule": rule, "group": group, "level": lv, "n": len(hits), "coverage": rounded(cov, 4),
                         "shortfall_points": rounded(100 * (lv - cov), 2)})
            log(f"{rule:8s} {group:12s} {lv:.2f}: held {cov:.3f} of {len(hits)}")
    gap = {r: float(np.mean([abs(x["shortfall_points"]) for x in rows if x["rule"] == r]))
           for r in ("ours", "baseline")}
    result = {"days": days, "lead_time_days": L, "every_days": every, "rows": rows,
              "mean_abs_points_off": {k: rounded(v, 2) for k, v in gap.items()},
              "ratio_points_off_vs_baseline": rounded(gap["ours"] / gap["baseline"], 3) if gap["baseline"] else None,
              "seconds": rounded(time.perf_counter() - t_all, 1)}
    return finish(NAME, args, result)


if __name__ == "__main__":
    main()
