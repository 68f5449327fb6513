"""Reorder points, safety stock and stock-out risk from each item's forecast distribution.

For every item and unit (``supply_usage_daily``): the distribution of total demand over the lead time. For
intermittent items (at least 30% zero days) it is the past year's use over every span of the lead time; for
the others the negative binomial count regression with day-of-week levels, its per-day distributions summed
by a fixed-seed inverse-CDF draw (the table is the same every run), with the reorder point and stock-out risk
the cautious of that model's and the past year's spans. From it:

- ``reorder_point``: the ``service_level`` quantile of lead-time demand, a whole count (order when stock
  falls to it);
- ``safety_stock``: reorder point minus expected lead-time demand (0 where the reorder point is below it);
- ``forecast_to_delivery``: expected use before the next delivery (over the lead time);
- ``days_of_cover``: how many days the stock on hand lasts at the forecast daily use;
- ``stockout_prob``: the probability that lead-time demand exceeds the stock on hand.

Stock on hand comes, in this order, from ``on_hand`` given per ``item@unit`` (or per item); from the
workspace's ``supply_stock`` table (schema 4: the latest count per item and unit, less the use recorded
from the day of the count on, so a count taken a few days ago is brought up to the end of the use
history); else it is taken as what a "reorder what we used" rule holds: the last 28 days' average daily
use times the lead time. ``stock_basis`` says which (``given``, ``recorded``, ``assumed: ...``) and
``stock_as_of`` when a recorded count was taken. Deliveries are not recorded, so where more was used since the
last count than it held, the stock is not known: ``on_hand``, ``days_of_cover`` and ``stockout_prob`` are NaN and
``stock_basis`` says to count it (it read 0 on hand, a certain stock-out). ``uom``: the item's unit of measure.
The table is sorted by stock-out probability, highest first, stores of unknown stock last.
"""
from __future__ import annotations

import zlib
from typing import Callable, Mapping, Optional, Sequence

import numpy as np
import pandas as pd

from datasets.errors import HospOpsError
from datasets.progress import Reporter
from forecasting.intermittent import TSB
from forecasting.models import CountGLM

N_PATHS = 1000


def lead_time_demand(dist, lead_steps: int, n: int = N_PATHS, seed: int = 0) -> np.ndarray:
    """Draws of total demand over the first ``lead_steps`` steps of a forecast distribution."""
    paths = dist.sample_paths(n, seed)[:, :lead_steps]
    return paths.sum(axis=1)


def recorded_stock(ws, use: pd.DataFrame, at: Optional[pd.Timestamp] = None) -> dict:
    """``(item, unit) -> (on_hand, as_of)``: the latest ``supply_stock`` count of each item and unit (taken at or
    before ``at`` when given), less the use in ``use`` from the day of the count on (a count at midnight precedes
    that day's use; one during a day is taken as counted before that day's use too, the cautious reading). Empty
    when the table is absent (a workspace older than schema 4) or holds nothing. ``on_hand`` is negative where
    more was used since the count than it held: a delivery came that no count shows yet (deliveries are not
    recorded), so the stock is not known (:func:`reorder_table` says so instead of a certain stock-out)."""
    if not ws.sql("SELECT count(*) FROM information_schema.tables WHERE table_name = 'supply_stock'")[0][0]:
        return {}  # a workspace from before schema 4 (opened read-only, so not migrated)
    st = ws.df("SELECT item_id, unit_id, as_of, on_hand FROM supply_stock WHERE ? IS NULL OR as_of <= ? "
               "QUALIFY row_number() OVER (PARTITION BY item_id, unit_id ORDER BY as_of DESC) = 1",
               [None if at is None else at.to_pydatetime()] * 2)
    if st.empty:
        return {}
    st["day"] = pd.to_datetime(st["as_of"]).dt.normalize()
    u = use[["item_id", "unit_id", "ds", "y"]].merge(st[["item_id", "unit_id", "day"]], on=["item_id", "unit_id"])
    since = u[pd.to_datetime(u["ds"]) >= u["day"]].groupby(["item_id", "unit_id"])["y"].sum()
    out = {}
    for r in st.itertuples(index=False):
        used = float(since.get((r.item_id, r.unit_id), 0.0))
        out[(r.item_id, r.unit_id)] = (float(r.on_hand) - used, pd.Timestamp(r.as_of).isoformat())
    return out


PAST_DAYS = 365
#: ``stock_basis`` of a store whose recorded count, less the use since, is below zero
RECOUNT = "unknown: more used since the count than it held (a delivery not recorded); count it"


def past_lead_time_use(y: np.ndarray, lead_days: int, days: int = PAST_DAYS,
                       n: int = N_PATHS, seed: int = 0) -> Optional[np.ndarray]:
    """The use over every span of ``lead_days`` days in the last ``days`` days (overlapping spans), as draws of
    lead-time demand; None where the history is too short to say (under 8 weeks). A lead time longer than a
    quarter of those days has too few spans of its own: its draws are ``n`` sums of whole weeks drawn from
    those days (fixed ``seed``; each week kept whole, so its weekday pattern stays), cut to the lead time.
    Until 2026-12-05 it was None there, and a platelet store at a 92-day lead time fell back to TSB's decayed
    chance of use: reorder point 0 and 73,000 days of cover, where 91 days gave 7.

    On the demo hospital's last year (``benchmarks/supply_reorder.py``: a lead time of 7 days, an origin every 15
    days) the 95 % quantile of these sums held in 96.2 % of the intermittent items' lead times, TSB's in 92.7 %
    (90 %: 91.9 % against 88.8 %)."""
    y = np.nan_to_num(np.asarray(y, dtype=float)[-days:])
    if len(y) < 56:
        return None
    if len(y) >= 4 * lead_days:
        return np.convolve(y, np.ones(lead_days), "valid")
    weeks = y[len(y) % 7:].reshape(-1, 7)
    k = -(-lead_days // 7)
    picks = np.random.default_rng(seed).integers(0, len(weeks), size=(n, k))
    return weeks[picks].reshape(n, -1)[:, :lead_days].sum(axis=1)


def demand_model(y: pd.DataFrame, country: Optional[str] = None):
    zeros = float((y["y"].fillna(0) == 0).mean())
    if zeros >= 0.3:
        return TSB(freq="D")
    # named for what it is: the forecast's own glm_negbin has yearly terms and a longer window, and a stock
    # line under that name could not be traced to the forecast printed above it
    return CountGLM("negbin", country=country, freq="D", window=365, fourier=0, alias="glm_negbin_365d")


def reorder_table(
    ws,
    lead_time_days: Optional[float],
    service_level: float,
    progress: Optional[Callable[[float, str], None]] = None,
    should_stop: Optional[Callable[[], bool]] = None,
    *,
    on_hand: Optional[Mapping[str, float]] = None,
    items: Optional[Sequence[str]] = None,
    as_of=None,
) -> pd.DataFrame:
    """The reorder table for every item and unit; see the module docstring for its columns.

    ``items``: only these items (``ITEM``) or item-unit pairs (``ITEM@UNIT``). ``as_of``: the table as it stood
    then (the app's "as of" time): the use of the whole days before it, and stock counts taken by then.
    """
    if not 0.5 <= float(service_level) < 1:
        hint = "For example 0.95 for a 95% chance of no stock-out before a delivery."
        if 50 <= float(service_level) < 100:
            hint = f"As a probability: {float(service_level) / 100:g} for {float(service_level):g}%."
        raise HospOpsError(f"The service level must be a probability of at least 0.5 and below 1 (got "
                           f"{service_level}).", hint=hint)
    if lead_time_days is not None and not (0 < lead_time_days <= 365):  # (NaN too)
        raise HospOpsError(f"The lead time must be more than 0 and at most 365 days (got {lead_time_days}); "
                           "part of a day counts as a whole day.")
    rep = Reporter(progress, should_stop)
    rep(0.0, "reading supply use")
    at = None if as_of is None else pd.Timestamp(as_of)
    use = ws.df("SELECT unique_id, item_id, unit_id, CAST(ds AS TIMESTAMP) AS ds, CAST(y AS DOUBLE) AS y "
                "FROM supply_usage_daily WHERE ? IS NULL OR ds < ? ORDER BY unique_id, ds",
                [None if at is None else at.normalize().to_pydatetime()] * 2)
    if use.empty:
        if at is not None and ws.sql("SELECT count(*) FROM supply_usage_daily")[0][0]:
            raise HospOpsError(f"No supply use was recorded before {at:%d %b %Y %H:%M}.",
                               hint="Choose a later 'as of' time.")
        raise HospOpsError("This workspace has no supply use recorded.",
                           hint="Import supply_usage first (or build the demo hospital).")
    units_of = use.groupby("item_id")["unit_id"].unique()
    for key in on_hand or {}:  # a count names one store: ITEM@UNIT, or ITEM for an item kept in one unit only
        if key in set(use["unique_id"]):
            continue
        if key not in units_of.index:
            raise HospOpsError(f"The stock count for {key!r} names no item (or ITEM@UNIT) with supply use here.")
        if len(units_of[key]) > 1:
            raise HospOpsError(f"The stock count for {key!r} does not say which unit it is for: {key} is used in "
                               f"{len(units_of[key])} units ({', '.join(sorted(units_of[key])[:6])}).",
                               f"Give one count per unit, as {key}@UNIT.")
    if items is not None:
        want = set(items)
        unknown = sorted(want - set(use["unique_id"]) - set(use["item_id"]))
        if unknown:
            raise HospOpsError(f"No supply use is recorded for {', '.join(map(repr, unknown[:5]))}.",
                               "Items are named ITEM or ITEM@UNIT, as in the reorder table.")
        use = use[use["unique_id"].isin(want) | use["item_id"].isin(want)]
    recorded = recorded_stock(ws, use, at)
    if at is not None and at != at.normalize() and recorded:
        # the as-of day's use so far: its share of the day's recorded use (the app's as-of 23:00 showed the
        # midnight count untouched by the day's use, 109 against the 47 left at the end of the day)
        frac = (at - at.normalize()) / pd.Timedelta(days=1)
        day = ws.df("SELECT item_id, unit_id, CAST(y AS DOUBLE) AS y FROM supply_usage_daily WHERE ds = ?",
                    [at.normalize().to_pydatetime()])
        so_far = {(r.item_id, r.unit_id): frac * float(r.y) for r in day.itertuples() if r.y == r.y}
        recorded = {k: (v - so_far.get(k, 0.0), when) for k, (v, when) in recorded.items()}
    items = ws.df("SELECT item_id, name, lead_time_days, unit_of_measure FROM supply_items")
    item_lt = dict(zip(items["item_id"], items["lead_time_days"]))
    item_name = dict(zip(items["item_id"], items["name"]))
    item_uom = {i: (u if isinstance(u, str) else "") for i, u in zip(items["item_id"], items["unit_of_measure"])}
    country = ws.settings().get("country")
    on_hand = dict(on_hand or {})
    rows = []
    groups = list(use.groupby("unique_id", sort=True))
    for k, (uid, g) in enumerate(groups):
        rep(0.05 + 0.9 * k / len(groups), f"forecasting {uid}")
        item, unit = g["item_id"].iloc[0], g["unit_id"].iloc[0]
        lt = lead_time_days if lead_time_days is not None else item_lt.get(item)
        if lt is None or not np.isfinite(lt) or lt <= 0:
            raise HospOpsError(f"No lead time for {item}: give --lead-time.",
                               hint="Or record lead_time_days in supply_items.")
        L = int(np.ceil(lt))
        hist = g[["ds", "y"]].reset_index(drop=True)
        daily28 = float(hist["y"].iloc[-28:].mean())
        as_of = None
        if uid in on_hand or item in on_hand:
            stock, basis = float(on_hand.get(uid, on_hand.get(item))), "given"
        elif (item, unit) in recorded:
            stock, as_of = recorded[(item, unit)]
            basis = "recorded"
            if stock < -1e-6:  # more used since the count than it held: a delivery no count shows yet
                stock, basis = np.nan, RECOUNT
            stock = max(stock, 0.0) if stock == stock else stock  # (float noise of an exact count: -1e-12)
        else:
            stock, basis = daily28 * L, "assumed: 28-day use x lead time"
        past = past_lead_time_use(hist["y"].to_numpy(dtype=float), L, seed=zlib.crc32(str(uid).encode()) % 2 ** 31)
        model = demand_model(hist, country)
        if model.alias == "tsb" and past is not None:
            # intermittent use (blood products, some line sets): the past year's use over each span of the lead
            # time. TSB's chance of use decayed to nothing after weeks without any (a platelet store used 4
            # times a year showed 73,000 days of cover and a reorder point of 0 at a 99.9 % service level)
            y_past = np.nan_to_num(hist["y"].to_numpy(dtype=float)[-PAST_DAYS:])
            draws, alias, mean_lt = past, "past use", L * float(y_past.mean())  # (the spans count edges less)
        else:
            model.fit(hist)
            dist = model.predict_dist(L)
            draws, alias = lead_time_demand(dist, L, seed=zlib.crc32(str(uid).encode()) % 2 ** 31), model.alias
            mean_lt = float(dist.mean[:L].sum())
        # the reorder point is a whole count: the least stock that meets the service level
        rop = max(0.0, float(np.ceil(np.quantile(draws, service_level, method="inverted_cdf") - 1e-9)))
        risk = float(np.mean(draws > stock)) if stock == stock else np.nan
        if past is not None and alias != "past use":
            # the cautious of the model's figure and the past year's: the model's days are drawn independently,
            # and its 95 % reorder points held in 93.3 % of the demo's lead times, the cautious ones in 94.8 %
            # (benchmarks/supply_reorder.py)
            rop = max(rop, float(np.ceil(np.quantile(past, service_level, method="inverted_cdf") - 1e-9)))
            risk = max(risk, float(np.mean(past > stock))) if stock == stock else np.nan
        daily_fc = mean_lt / L
        rows.append({
            "item": item,
            "name": item_name.get(item, item),
            "unit": unit,
            "uom": item_uom.get(item, ""),
            "model": alias,
            "lead_time_days": float(lt),
            "daily_use_28d": daily28,
            "forecast_daily": daily_fc,
            "forecast_to_delivery": mean_lt,
            "reorder_point": rop,
            # what the reorder point holds above the expected use; 0 where the service level is met below it
            # (a mostly idle item: it read -0.1)
            "safety_stock": max(0.0, rop - mean_lt),
            "on_hand": stock,
            "stock_basis": basis,
            "stock_as_of": as_of,
            "days_of_cover": stock / daily_fc if daily_fc > 0 else (np.inf if stock == stock else np.nan),
            "stockout_prob": risk,
        })
    rep(1.0, "done")
    out = pd.DataFrame(rows)
    # stores whose stock is not known (a recount is due) after those at risk
    return out.sort_values(["stockout_prob", "days_of_cover"], ascending=[False, True],
                           na_position="last").reset_index(drop=True)
