"""Calendar features for the count regression and Prophet: seasonal slots, yearly Fourier terms, holidays.

Holidays come from the ``holidays`` package for a country (and optional subdivision, e.g. ``GB``/``WLS``)
or from a user calendar: any iterable of dates.
"""
from __future__ import annotations

import functools
from typing import Iterable, Optional

import numpy as np
import pandas as pd

from datasets.errors import HospOpsError


@functools.lru_cache(maxsize=32)
def _country_holidays(country: str, subdiv: Optional[str], y0: int, y1: int) -> frozenset:
    import holidays

    try:
        cal = holidays.country_holidays(country, subdiv=subdiv, years=range(y0, y1 + 1))
    except (KeyError, NotImplementedError) as exc:
        raise HospOpsError(
            f"No public-holiday calendar for country {country!r}"
            + (f" / region {subdiv!r}" if subdiv else "") + ".",
            hint="Use a two-letter country code such as GB, US, DE, or give a holiday calendar file.",
        ) from exc
    return frozenset(pd.Timestamp(d) for d in cal.keys())


def holiday_dates(country: Optional[str], start, end, subdiv: Optional[str] = None,
                  extra: Optional[Iterable] = None) -> frozenset:
    """The public holidays between ``start`` and ``end`` (inclusive), as midnight Timestamps."""
    out: set = set()
    if country:
        out |= _country_holidays(country.upper(), subdiv, pd.Timestamp(start).year, pd.Timestamp(end).year)
    if extra is not None:
        out |= {pd.Timestamp(d).normalize() for d in extra}
    return frozenset(out)


def local_clock(ds) -> pd.DatetimeIndex:
    """Wall-clock times: time-zone-aware stamps are shown in their own zone without it."""
    idx = pd.DatetimeIndex(ds)
    return idx.tz_localize(None) if idx.tz is not None else idx


def slot_index(ds, freq: str, holidays: frozenset = frozenset(), holiday_as_sunday: bool = True) -> np.ndarray:
    """Seasonal slot per time: hour of week (0..167) for hourly, day of week for daily, month for monthly.

    A public holiday takes Sunday's slot (hospitals run a Sunday pattern on bank holidays); its own
    level shift is a separate dummy.
    """
    idx = local_clock(ds)
    dow = idx.day_of_week.to_numpy().copy()
    if holiday_as_sunday and holidays:
        hol = np.isin(idx.normalize().to_numpy(), np.array(sorted(holidays), dtype="datetime64[ns]"))
        dow[hol] = 6
    if freq == "h":
        return dow * 24 + idx.hour.to_numpy()
    if freq == "D":
        return dow
    if freq == "MS":
        return idx.month.to_numpy() - 1
    return np.zeros(len(idx), dtype=int)


def n_slots(freq: str) -> int:
    return {"h": 168, "D": 7, "MS": 12}.get(freq, 1)


def is_holiday(ds, holidays: frozenset) -> np.ndarray:
    if not holidays:
        return np.zeros(len(ds))
    idx = local_clock(ds)
    return np.isin(idx.normalize().to_numpy(), np.array(sorted(holidays), dtype="datetime64[ns]")).astype(float)


#: public holidays whose own effect departs from the holiday shift: Christmas Day is quiet in an ED (0.65 of a
#: usual day in an analyst's extract, where the one shift for all holidays forecast it as any bank holiday),
#: Boxing Day and New Year's Day are busy
NAMED_DAYS = ((12, 25), (12, 26), (1, 1))


def named_days(ds, holidays: frozenset) -> np.ndarray:
    """One column per :data:`NAMED_DAYS` date: 1 where that date is a public holiday (in ``holidays``)."""
    if not holidays:
        return np.zeros((len(ds), 0))
    idx = local_clock(ds)
    hol = is_holiday(ds, holidays).astype(bool)
    month, day = idx.month.to_numpy(), idx.day.to_numpy()
    return np.column_stack([(hol & (month == m) & (day == d)).astype(float) for m, d in NAMED_DAYS])


def year_fraction(ds) -> np.ndarray:
    idx = local_clock(ds)
    start = idx.to_period("Y").start_time
    days = np.where(idx.is_leap_year, 366.0, 365.0)
    return ((idx - start) / pd.Timedelta(days=1)).to_numpy() / days


def fourier(ds, k: int) -> np.ndarray:
    """``2k`` columns: sin/cos of the first ``k`` yearly harmonics."""
    if k <= 0:
        return np.zeros((len(ds), 0))
    f = year_fraction(ds)
    cols = []
    for j in range(1, k + 1):
        cols += [np.sin(2 * np.pi * j * f), np.cos(2 * np.pi * j * f)]
    return np.column_stack(cols)


def years_since(ds, origin) -> np.ndarray:
    idx = local_clock(ds)
    o = pd.Timestamp(origin)
    o = o.tz_localize(None) if o.tzinfo is not None else o
    return ((idx - o) / pd.Timedelta(days=365.25)).to_numpy()
