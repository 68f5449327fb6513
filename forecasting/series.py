"""Series that can be forecast: listed and loaded from a workspace's views, or read from a CSV file.

Every loader returns a long table ``unique_id, ds, y`` (plus ``hours`` for ED arrivals) whose ``attrs``
carry ``name``, ``label``, ``freq``, ``tz`` and ``country`` for :func:`forecasting.run_forecast`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import pandas as pd

from datasets.errors import HospOpsError, SourceError
from forecasting.base import infer_freq

ADMISSIONS_SQL = """
WITH a AS (SELECT CAST(admit_ts AS DATE) AS ds, count(*) AS y FROM stays WHERE specialty = ? GROUP BY 1),
-- whole days only: the extract's last day counts when its records reach 23:00 (one cut mid-afternoon had
-- that day's evening counted as no admissions)
e AS (SELECT max(t) AS t FROM (SELECT max(admit_ts) AS t FROM stays UNION ALL SELECT max(arrival_ts) FROM ed_visits)),
b AS (SELECT min(CAST(admit_ts AS DATE)) AS lo,
             CAST((SELECT t FROM e) AS DATE) - CASE WHEN hour((SELECT t FROM e)) = 23 THEN 0 ELSE 1 END AS hi
      FROM stays),
days AS (SELECT CAST(unnest(generate_series(lo, hi, INTERVAL 1 DAY)) AS DATE) AS ds FROM b WHERE lo IS NOT NULL)
SELECT ? AS unique_id, CAST(days.ds AS TIMESTAMP) AS ds, coalesce(a.y, 0)::DOUBLE AS y
FROM days LEFT JOIN a USING (ds) ORDER BY days.ds
"""


def _count(ws, sql: str) -> int:
    try:
        return int(ws.sql(sql)[0][0])
    except Exception:  # a view over an empty table can fail in odd ways; treat as nothing there
        return 0


def list_series(ws) -> list[dict]:
    """Every series this workspace can forecast: ``name``, ``label`` (for people) and ``freq``."""
    out: list[dict] = []
    if _count(ws, "SELECT count(*) FROM ed_visits") > 0:
        out.append({"name": "ed_arrivals_hourly", "label": "ED arrivals per hour", "freq": "h"})
        out.append({"name": "ed_arrivals_daily", "label": "ED arrivals per day", "freq": "D"})
        out.append({"name": "ed_arrivals_weekly", "label": "ED arrivals per week (Monday to Sunday)", "freq": "W"})
    for (spec,) in ws.sql("SELECT DISTINCT specialty FROM stays WHERE specialty IS NOT NULL ORDER BY 1"):
        out.append({"name": f"admissions_daily:{spec}", "label": f"Admissions per day, {spec.replace('_', ' ')}",
                    "freq": "D"})
    rows = ws.sql(
        "SELECT DISTINCT u.item_id, coalesce(u.unit_id, 'ALL'), any_value(i.name) "
        "FROM supply_usage u LEFT JOIN supply_items i USING (item_id) GROUP BY 1, 2 ORDER BY 1, 2"
    )
    for item, unit, name in rows:
        out.append({"name": f"supply:{item}@{unit}", "label": f"Use per day of {name or item} on {unit}", "freq": "D"})
    return out


def _stamp(df: pd.DataFrame, ws, name: str, label: str, freq: str) -> pd.DataFrame:
    s = ws.settings()
    df.attrs.update({"name": name, "label": label, "freq": freq, "tz": s.get("timezone"),
                     "country": s.get("country")})
    return df


def load_series(ws, name: str) -> pd.DataFrame:
    """One series by its ``list_series`` name, as ``unique_id, ds, y`` (+ ``hours`` for ED arrivals)."""
    if name == "ed_arrivals_hourly":
        df = ws.df("SELECT unique_id, ds, CAST(y AS DOUBLE) AS y, hours FROM ed_arrivals_hourly ORDER BY ds")
        label, freq = "ED arrivals per hour", "h"
    elif name == "ed_arrivals_daily":
        df = ws.df("SELECT unique_id, CAST(ds AS TIMESTAMP) AS ds, CAST(y AS DOUBLE) AS y, hours "
                   "FROM ed_arrivals_daily ORDER BY ds")
        # a 23/25-hour DST day is still one day: keep hours for the record, count per day
        df["hours"] = 1.0
        label, freq = "ED arrivals per day", "D"
    elif name == "ed_arrivals_weekly":  # whole weeks, Monday to Sunday: a part week is no quiet week
        df = ws.df("SELECT 'ed_arrivals' AS unique_id, CAST(date_trunc('week', ds) AS TIMESTAMP) AS ds, "
                   "CAST(sum(y) AS DOUBLE) AS y FROM ed_arrivals_daily GROUP BY 2 HAVING count(*) = 7 ORDER BY 2")
        label, freq = "ED arrivals per week (Monday to Sunday)", "W"
        if df.empty:
            raise HospOpsError("The ED arrivals hold no whole week (Monday to Sunday) yet.",
                               hint="ed_arrivals_daily forecasts them day by day.")
    elif name.startswith("admissions_daily:"):
        spec = name.split(":", 1)[1]
        df = ws.df(ADMISSIONS_SQL, [spec, name])
        if df.empty or df["y"].sum() == 0:
            raise HospOpsError(f"No admissions for specialty {spec!r} in this workspace.",
                               hint="`hospops forecast WS --list` shows the series there are.")
        label, freq = f"Admissions per day, {spec.replace('_', ' ')}", "D"
    elif name.startswith("supply:"):
        key = name.split(":", 1)[1]
        df = ws.df("SELECT unique_id, CAST(ds AS TIMESTAMP) AS ds, CAST(y AS DOUBLE) AS y FROM supply_usage_daily "
                   "WHERE unique_id = ? ORDER BY ds", [key])
        if df.empty:
            if "@" not in key:  # an item alone: its stores are per unit
                units = [u for (u,) in ws.sql("SELECT DISTINCT coalesce(unit_id, 'ALL') FROM supply_usage "
                                              "WHERE item_id = ? ORDER BY 1", [key])]
                if units:
                    shown = (", ".join(f"supply:{key}@{u}" for u in units[:4])
                             + (" or another" if len(units) > 4 else ""))
                    raise HospOpsError(f"{key} is used on {len(units)} unit(s): name one, e.g. {shown}.",
                                       hint="Supply use is forecast per store: supply:ITEM@UNIT.")
            raise HospOpsError(f"No supply use recorded for {key!r}.",
                               hint="Names look like supply:ITEM@UNIT; `hospops forecast WS --list` shows them.")
        label, freq = f"Use per day of {key}", "D"
    else:
        every = list_series(ws)
        # the kinds there are, not the first six of some 230 (the supply stores listed one by one)
        kinds = [s["name"] for s in every if not s["name"].startswith(("admissions_daily:", "supply:"))]
        specs = [s["name"] for s in every if s["name"].startswith("admissions_daily:")]
        stores = [s["name"] for s in every if s["name"].startswith("supply:")]
        if specs:
            kinds.append(f"admissions_daily:SPECIALTY ({len(specs)}: "
                         + ", ".join(s.split(":", 1)[1] for s in specs[:8]) + (" ..." if len(specs) > 8 else "") + ")")
        if stores:
            kinds.append(f"supply:ITEM@UNIT ({len(stores)} stores, e.g. {stores[0]})")
        raise HospOpsError(f"Unknown series {name!r}.", hint="Series here: " + "; ".join(kinds)
                           + ". `hospops forecast WS --list` lists every one.")
    if df.empty:
        raise HospOpsError(f"The series {name!r} has no data in this workspace yet.")
    df["ds"] = pd.to_datetime(df["ds"])
    return _stamp(df, ws, name, label, freq)


def load_csv(path, time_col: str, value_col: str, id_col: Optional[str] = None,
             unique_id: Optional[str] = None, month_first: bool = False,
             timezone: Optional[str] = None) -> pd.DataFrame:
    """A series from a CSV of timestamps and values; rows with the same time are summed. Times are read by
    :func:`read_times` (``month_first``: dates that read either way are month first); ``attrs["note"]`` says
    how, where that was a choice. Hourly times are local times; with ``timezone`` (e.g. Europe/London) an hour
    the clocks jump over is no gap, the hour they go back through counts two real hours (``hours``, as the
    workspace's series), and the forecast's hours follow the clock changes ahead.

    With ``id_col`` the file may hold several series; ``unique_id`` picks one (the first otherwise).
    """
    p = Path(path)
    if not p.exists():
        raise SourceError(f"No such file: {p}")
    from datasets.importers.engine import detect_encoding
    from datasets.privacy import shape_if_wordy  # (a name or patient number quoted as the import quotes it)

    # as the import reads a file: its encoding (Excel's Windows-1252 or UTF-16, a UTF-8 mark) and its delimiter
    # (a comma, or Excel's semicolon where the decimal mark is a comma), which a plain read_csv refused
    encoding = detect_encoding(p)
    try:
        with open(p, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as fh:
            head = fh.readline()
        sep = max((",", ";", "\t"), key=head.count) if head.strip() else ","
        # as text: the numbers are read below, where the decimal and thousands marks are known
        raw = pd.read_csv(p, sep=sep, encoding="utf-8-sig" if encoding == "utf-8" else encoding, dtype=str)
    except Exception as exc:
        raise SourceError(f"Cannot read {p.name} as CSV: {exc}") from exc
    raw.columns = [str(c).strip() for c in raw.columns]  # " timestamp " is the column timestamp
    missing = [c for c in (time_col, value_col, id_col) if c and c not in raw.columns]
    if missing:
        raise SourceError(f"{p.name} has no column {', '.join(map(repr, missing))}.",
                          hint=f"Its columns are: {', '.join(map(str, raw.columns))}.")
    if id_col:
        ids = raw[id_col].astype(str)
        pick = unique_id or ids.iloc[0]
        raw = raw[ids == pick]
    else:
        pick = unique_id or p.stem
    if len(raw) == 0:
        raise SourceError(f"{p.name} has a header but no rows.")
    ds, note = read_times(raw[time_col], month_first, timezone)
    text = raw[value_col].astype("string").str.strip()
    try:
        number, marks = _numbers(text, comma_decimal=sep == ";")
    except SourceError as exc:
        raise SourceError(f"{p.name}, column {value_col!r}: {exc.message}", exc.hint) from None
    y = pd.Series(pd.to_numeric(number, errors="coerce").to_numpy(dtype=float, na_value=np.nan), index=raw.index)
    if marks:
        note = "; ".join(filter(None, [note, marks]))
    bad = ds.isna()
    if bad.all():
        raise SourceError(f"No readable times in column {time_col!r} of {p.name}.")
    if bad.any():
        first = int(bad.to_numpy().nonzero()[0][0])
        raise SourceError(f"{int(bad.sum())} row(s) of {p.name} have a time that cannot be read in {time_col!r}; "
                          f"the first on line {int(raw.index[first]) + 2}: "
                          f"{shape_if_wordy(str(raw[time_col].iloc[first]))!r}.",
                          hint="A total or comment row at the end? Remove it and load the file again."
                          if first == len(raw) - 1 else "Times are read in one form for the whole column.")
    # a value that is there but not a number, or below zero, is refused with its line (empty cells are gaps):
    # dropped or clipped, it changed the forecast unseen
    for wrong, what in ((y.isna() & text.notna() & (text != ""), "is not a number"),
                        (y < 0, "is below 0 (HospOps forecasts counts and quantities used)")):
        if wrong.any():
            first = int(wrong.to_numpy().nonzero()[0][0])
            line = int(raw.index[first]) + 2  # the header is line 1
            raise SourceError(f"{int(wrong.sum())} value(s) in {value_col!r} of {p.name} {what}; the first on line "
                              f"{line}: {shape_if_wordy(str(raw[value_col].iloc[first]))!r}.")
    if getattr(ds.dt, "tz", None) is not None:
        ds = ds.dt.tz_localize(None)
    # the same time twice is summed (a file of several rows per hour, or the autumn hour written twice), and
    # said: a block pasted twice had added 18 % to the forecast unseen
    repeated = ds[ds.duplicated(keep="first")]
    if timezone and len(repeated):
        repeated = repeated[local_hours(pd.DatetimeIndex(repeated), timezone) != 2]
    if len(repeated):
        said = (f"{len(repeated)} row(s) repeat a time already in the file (the first {repeated.iloc[0]:%Y-%m-%d %H:%M}"
                "): the values of each time are summed")
        note = "; ".join(filter(None, [note, said]))
    df = pd.DataFrame({"ds": ds, "y": y}).groupby("ds", as_index=False)["y"].sum(min_count=1)
    df.insert(0, "unique_id", str(pick))
    freq = infer_freq(df["ds"])
    if freq in ("h", "D"):  # missing times become gaps (NaN), not silently shortened history
        full = pd.date_range(df["ds"].iloc[0], df["ds"].iloc[-1], freq=freq)
        hours = local_hours(full, timezone) if freq == "h" and timezone else None
        if hours is not None:  # a spring-forward hour is no gap: it never was (unless the file has it)
            full = full[(hours > 0) | full.isin(df["ds"])]
        if len(full) != len(df) and df["ds"].isin(full).all():
            df = df.set_index("ds").reindex(full).rename_axis("ds").reset_index()
            df["unique_id"] = str(pick)
            df = df[["unique_id", "ds", "y"]]
        if hours is not None:  # the autumn hour written once covers two real hours (the workspace's `hours`);
            # a spring-forward hour the file has anyway counts as one
            df["hours"] = np.maximum(local_hours(pd.DatetimeIndex(df["ds"]), timezone), 1.0)
    df.attrs.update({"name": p.stem, "label": f"{value_col} from {p.name}", "freq": freq,
                     "tz": timezone if freq == "h" else None, "country": None, "note": note})
    return df


_GROUPED = r"[1-9]\d{0,2}(?:\.\d{3})+(?:,\d*)?"  # (0.737 is no thousand: a leading 0 groups nothing)


def _numbers(text: pd.Series, comma_decimal: bool) -> tuple[pd.Series, str]:
    """Values as Python reads numbers, and a note where thousands marks were read. In a semicolon file (a
    comma-decimal locale's Excel) a comma is the decimal mark, and a point between groups of three digits the
    thousands mark: "1.540" is 1540, which had been read as 1.54, a thousand-fold error unsaid. A column with no
    comma whose every point groups three digits is read so too (a count is not written to three decimals)."""
    if not comma_decimal:
        return text, ""
    dotted = text.str.contains(".", regex=False, na=False)
    grouped = text.str.fullmatch(_GROUPED, na=False)
    comma = text.str.contains(",", regex=False, na=False).any()
    if not comma and grouped.any() and (dotted & ~grouped).any():
        # 1.737 beside 1.5: a thousands mark or a decimal point? Read either way one of them is a thousand-fold
        # error, so the file is refused, naming both
        odd = text[dotted & ~grouped].iloc[0]
        raise SourceError(f"The values mix {text[grouped].iloc[0]} (a point between groups of three digits: a "
                          f"thousands mark?) and {odd} (a decimal point?), so neither reading is safe.",
                          hint="Write the numbers one way throughout (1737 or 1.737,0; 1,5 for one and a half).")
    if not (comma or (dotted.any() and (grouped | ~dotted).all())):
        return text, ""
    out = text.where(~grouped, text.str.replace(".", "", regex=False)).str.replace(",", ".", regex=False)
    note = ""
    if grouped.any():
        first = text[grouped].iloc[0]
        note = f"a point between groups of three digits is read as a thousands mark ({first} as {out[grouped].iloc[0]})"
    return out, note


def local_hours(labels: pd.DatetimeIndex, timezone: str) -> np.ndarray:
    """How many real hours each local hour label covers in ``timezone``: 1, 2 for the hour a clock goes back
    through, 0 for the hour it jumps over."""
    try:
        first = labels.tz_localize(timezone, ambiguous=np.ones(len(labels), bool), nonexistent="NaT")
        second = labels.tz_localize(timezone, ambiguous=np.zeros(len(labels), bool), nonexistent="NaT")
    except Exception as exc:  # (pytz/zoneinfo: an unknown name)
        raise SourceError(f"Unknown time zone {timezone!r}.", hint="Names look like Europe/London.") from exc
    return np.where(first.isna(), 0.0, np.where(first != second, 2.0, 1.0))


OFFSET = r"(?:Z|[+-]\d\d:?\d\d)$"


def read_times(texts: pd.Series, month_first: bool = False,
               timezone: Optional[str] = None) -> tuple[pd.Series, str]:
    """Times from a CSV column, read as the import reads them: the form is chosen over the whole column (UK
    dates 12/02/2026 were read month first: a series of June to February forecast from December), and dates
    that read either way follow ``month_first``. A time with a UTC offset (``Z``, ``+01:00``) is turned into
    the local time of ``timezone`` when one is given (UTC times read as London's had put summer's hours an hour
    late); without one the offset is dropped, so that the time stays the local time written (a file whose
    offset changed at a clock change crashed). ``(times, note)``: the note says which form was read, where
    that was a choice."""
    import duckdb

    from datasets.importers.engine import format_example, sniff_order, swapped

    text = texts.astype("string").str.strip()
    offset = text.str.contains(OFFSET, regex=True, na=False)
    note = ""
    if offset.any() and timezone:
        # dates written as midnight UTC ("2026-06-05T00:00:00Z", a daily export) are dates: turned into New York's
        # time every day moved to the evening before, and its weekday and holidays with it
        written = pd.to_datetime(text[offset].str.replace(OFFSET, "", regex=True), errors="coerce", format="ISO8601")
        if written.notna().all() and (written == written.dt.normalize()).all():
            timezone = None
    if offset.any() and timezone:
        try:
            aware = pd.to_datetime(text.where(offset), utc=True, errors="coerce", format="ISO8601")
            local = aware.dt.tz_convert(timezone).dt.tz_localize(None)
        except Exception:  # an unknown zone is said where the hours are counted; here the offsets are dropped
            local = None
        if local is not None and local[offset].notna().all():
            if offset.all():
                return local, f"times with a UTC offset turned into {timezone} local times"
            text = text.where(~offset, local.dt.strftime("%Y-%m-%d %H:%M:%S").astype("string"))
            note = f"times with a UTC offset turned into {timezone} local times"
    offset = text.str.contains(OFFSET, regex=True, na=False)
    if offset.any():
        text = text.where(~offset, text.str.replace(OFFSET, "", regex=True))
        note = "UTC offsets dropped: times are read as the local times written"
    present = text.dropna()
    present = present[present != ""]
    step = max(1, len(present) // 4000)
    sample = [str(v) for v in present.iloc[::step].tolist()]
    con = duckdb.connect()
    try:
        fmts, _aware, ambiguous = sniff_order(con, sample, month_first)
    finally:
        con.close()
    if fmts:
        times = pd.to_datetime(text, errors="coerce", format=fmts[0])
        if ambiguous:
            order = "month first" if "%m/%d" in fmts[0] else "day first"
            hint = ("give the country (e.g. --country US) to read month first" if order == "day first" else
                    f"as the country's dates are written; the other form would be {format_example(swapped(fmts[0]))}")
            note = "; ".join(filter(None, [note, f"every date reads day first and month first alike: read {order} "
                                                 f"({format_example(fmts[0])}), {hint}"]))
        return times, note
    return pd.to_datetime(text, errors="coerce", format="mixed"), note
