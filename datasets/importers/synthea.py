"""Synthea CSV exporter output: ``patients.csv``, ``encounters.csv`` and (optionally) ``supplies.csv``.

- ``patients.csv`` → patients: sex, birth year (from ``BIRTHDATE``) and deceased (``DEATHDATE`` present).
  Names, addresses, SSN, passport, driver's licence, coordinates and costs are never read into the workspace.
- ``encounters.csv`` → ``ENCOUNTERCLASS = 'emergency'`` become ED visits (``urgentcare`` too when asked:
  urgent care clinics are not an emergency department), ``inpatient`` become stays with one movement each in
  the pseudo-unit ``INPATIENT`` (Synthea knows the facility, not the ward). Other classes (wellness,
  ambulatory, outpatient, ...) are not candidates and are not counted as read.
  An ED visit is ``admitted`` (and linked to the stay) when the same patient's inpatient encounter starts
  during it; Synthea has no other discharge disposition, so the rest stay ``unknown``.
- ``supplies.csv`` → supply_items (``CODE``, ``DESCRIPTION``) and supply_usage (``DATE``, ``CODE``,
  ``QUANTITY``, the encounter as the stay).

``START``/``STOP`` are UTC (``...Z``): they are converted to the workspace's local wall clock. ``DATE`` is a
local calendar date and is stored as it is.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from datasets.errors import SourceError
from datasets.importers.csv import normalize_sex
from datasets.importers.engine import (
    ImportResult,
    ImportSession,
    Parsed,
    has_rows,
    parse_date,
    parse_number,
    sql_str,
)
from datasets.importers.mimic import typed_select, find_file, load_units, parse_local_ts
from datasets.progress import Progress, ShouldStop
from datasets.store import Workspace

__all__ = ["import_synthea", "INPATIENT_UNIT"]

INPATIENT_UNIT = "INPATIENT"


def import_synthea(
    ws: Workspace,
    path: str | Path,
    progress: Optional[Progress] = None,
    should_stop: Optional[ShouldStop] = None,
    *,
    include_urgentcare: bool = False,
) -> ImportResult:
    root = Path(path)
    if root.is_file():
        root = root.parent if root.name.lower() == "encounters.csv" else root
    if not root.is_dir():
        raise SourceError(f"{root} is not a folder.", "Give the Synthea CSV output folder (with encounters.csv).")
    folders = [root, root / "csv"]
    files = {n: find_file(folders, n, (".csv", ".csv.gz")) for n in ("patients", "encounters", "supplies")}
    if files["encounters"] is None and files["patients"] is None:
        raise SourceError(f"No Synthea CSV files (patients.csv, encounters.csv) found in {root}.")
    # a header-only file (no supplies in the extract's period, say) is skipped with a note, not refused
    empty = sorted(p.name for p in files.values() if p is not None and not has_rows(p))
    files = {n: (None if p is not None and p.name in empty else p) for n, p in files.items()}
    ed_classes = ("emergency", "urgentcare") if include_urgentcare else ("emergency",)
    ed_in = ", ".join(sql_str(c) for c in ed_classes)

    with ImportSession(ws, str(root), "synthea", progress, should_stop) as session:
        tz = session.tz
        rep = session.rep
        if empty:
            session.notes.append(f"header-only or empty (no rows): {', '.join(empty)}")

        if files["patients"]:
            rep(0.02, f"Reading {files['patients'].name}")
            pat = session.stage_csv(files["patients"])
            pat.pseudonymize("Id", "pid('patient', {v})")
            birth = parse_date(f"s.{pat.col('BIRTHDATE')}", "BIRTHDATE", tz)
            death = pat.col("DEATHDATE", required=False)
            gender = pat.col("GENDER", required=False)
            exprs = {
                "patient_id": Parsed(f"pid('patient', s.{pat.col('Id')})"),
                "sex": Parsed(normalize_sex(f"s.{gender}") if gender else "NULL"),
                "birth_year": Parsed(f"CAST(year({birth.value}) AS INTEGER)", birth.error),
                "deceased": Parsed(f"(nullif(trim(s.{death}), '') IS NOT NULL)" if death else "NULL"),
            }
            session.load("patients", typed_select("patients", exprs, source=pat.name), pat)
            session.notes.append(f"{files['patients'].name}: only sex, birth year and deceased are kept "
                                 "(names, addresses, SSN and other identifiers are not read)")

        enc = None
        if files["encounters"]:
            rep(0.2, f"Reading {files['encounters'].name}")
            enc = session.stage_csv(files["encounters"])
            e = {n: enc.col(n) for n in ("Id", "START", "STOP", "PATIENT", "ENCOUNTERCLASS")}
            cls = f"lower(trim(s.{e['ENCOUNTERCLASS']}))"
            enc.pseudonymize("Id", f"CASE WHEN lower(trim({{row}}.{e['ENCOUNTERCLASS']})) = 'inpatient' "
                                   "THEN pid('stay', {v}) ELSE pid('visit', {v}) END")
            start = parse_local_ts(f"s.{e['START']}", "START", tz)
            stop = parse_local_ts(f"s.{e['STOP']}", "STOP", tz)
            counts = dict(session.con.execute(
                f"SELECT coalesce({cls}, '(empty)'), count(*) FROM {enc.name} s GROUP BY 1").fetchall())
            skipped = {k: v for k, v in counts.items() if k not in (*ed_classes, "inpatient")}
            if skipped:
                session.notes.append(
                    f"{files['encounters'].name}: encounters of class "
                    + ", ".join(f"{k} ({v})" for k, v in sorted(skipped.items(), key=lambda kv: -kv[1]))
                    + " are not ED visits or inpatient stays and were not read"
                )

            rep(0.35, "Inpatient stays")
            exprs = {
                "stay_id": Parsed(f"pid('stay', s.{e['Id']})"),
                "patient_id": Parsed(f"pid('patient', s.{e['PATIENT']})"),
                "admit_ts": start,
                "discharge_ts": stop,
            }
            session.load("stays", typed_select("stays", exprs, source=enc.name, where=f"{cls} = 'inpatient'"), enc)

            rep(0.45, "Unit movements")
            exprs = {
                "stay_id": Parsed(f"pid('stay', s.{e['Id']})"),
                "seq": Parsed("CAST(1 AS INTEGER)"),
                "unit_id": Parsed(sql_str(INPATIENT_UNIT)),
                "in_ts": start,
                "out_ts": stop,
            }
            session.load("movements", typed_select("movements", exprs, source=enc.name, where=f"{cls} = 'inpatient'"),
                         enc, count_struct_rejects=False)
            load_units(
                session,
                enc,
                f"""SELECT min(_n) AS _n, {sql_str(INPATIENT_UNIT)} AS unit_id,
                           'Inpatient (Synthea: facility, no ward)' AS name, 'ward' AS kind
                    FROM {enc.name} s WHERE {cls} = 'inpatient' HAVING count(*) > 0""",
            )
            session.notes.append(f"Synthea has no wards: every inpatient stay is one movement in unit {INPATIENT_UNIT}")

            rep(0.6, "ED visits")
            # an inpatient encounter of the same patient starting during the ED visit is the admission it led to
            ip_start = parse_local_ts(f"i.{e['START']}", "START", tz).value
            ed_start = parse_local_ts(f"v.{e['START']}", "START", tz).value
            ed_stop = parse_local_ts(f"v.{e['STOP']}", "STOP", tz).value
            link = f"""(SELECT v._n, arg_min(i.{e['Id']}, {ip_start}) AS ip_id
                        FROM {enc.name} v JOIN {enc.name} i
                          ON i.{e['PATIENT']} = v.{e['PATIENT']} AND lower(trim(i.{e['ENCOUNTERCLASS']})) = 'inpatient'
                         AND {ip_start} >= {ed_start} AND {ip_start} <= coalesce({ed_stop}, {ed_start})
                        WHERE lower(trim(v.{e['ENCOUNTERCLASS']})) IN ({ed_in})
                        GROUP BY v._n)"""
            src = f"(SELECT x.*, l.ip_id AS _ip FROM {enc.name} x LEFT JOIN {link} l ON l._n = x._n)"
            exprs = {
                "visit_id": Parsed(f"pid('visit', s.{e['Id']})"),
                "patient_id": Parsed(f"pid('patient', s.{e['PATIENT']})"),
                "arrival_ts": start,
                "departure_ts": stop,
                "disposition": Parsed("CASE WHEN s._ip IS NOT NULL THEN 'admitted' ELSE 'unknown' END"),
                "stay_id": Parsed("pid('stay', s._ip)"),
            }
            session.load("ed_visits", typed_select("ed_visits", exprs, source=src, where=f"{cls} IN ({ed_in})"),
                         enc, count_struct_rejects=False)

        if files["supplies"]:
            rep(0.75, f"Reading {files['supplies'].name}")
            sup = session.stage_csv(files["supplies"])
            code, desc = sup.col("CODE"), sup.col("DESCRIPTION", required=False)
            code_t = f"nullif(trim({code}), '')"
            load_items = f"""(SELECT c._n, c.item, coalesce(u.name, c.name) AS iname, u.category AS icat,
                                     u.unit_of_measure AS iuom, u.pack_size AS ipack, u.lead_time_days AS ilead
                              FROM (SELECT min(_n) AS _n, {code_t} AS item,
                                           {('arg_min(nullif(trim(' + desc + "), ''), _n)") if desc else 'NULL'} AS name
                                    FROM {sup.name} WHERE {code_t} IS NOT NULL GROUP BY 2) c
                              LEFT JOIN supply_items u ON u.item_id = c.item)"""
            exprs = {
                "item_id": Parsed("s.item"),
                "name": Parsed("s.iname"),
                "category": Parsed("s.icat"),
                "unit_of_measure": Parsed("s.iuom"),
                "pack_size": Parsed("s.ipack"),
                "lead_time_days": Parsed("s.ilead"),
            }
            session.load("supply_items", typed_select("supply_items", exprs, source=load_items), sup,
                         count_struct_rejects=False)

            date = parse_date(f"s.{sup.col('DATE')}", "DATE", tz)
            qty = parse_number(f"s.{sup.col('QUANTITY')}", "QUANTITY")
            enc_col, pat_col = sup.col("ENCOUNTER", required=False), sup.col("PATIENT", required=False)
            enc_t = f"nullif(trim(x.{enc_col}), '')" if enc_col else "NULL"
            ip_join, is_ip = "", "false"
            if enc is not None and enc_col:
                ip_join = (f"LEFT JOIN (SELECT DISTINCT nullif(trim({enc.col('Id')}), '') AS ip FROM {enc.name} "
                           f"WHERE lower(trim({enc.col('ENCOUNTERCLASS')})) = 'inpatient') ip ON ip.ip = {enc_t}")
                is_ip = "ip.ip IS NOT NULL"
            # no id in the source: a keyed hash of (encounter, date, code, occurrence) is stable across re-imports
            src = f"""(SELECT x.*, {is_ip} AS _is_ip,
                              row_number() OVER (PARTITION BY {enc_t}, trim(x.{sup.col('DATE')}), trim(x.{code})
                                                 ORDER BY x._n) AS _k
                       FROM {sup.name} x {ip_join})"""
            key = (f"coalesce({enc_t.replace('x.', 's.')}, '') || '|' || coalesce(trim(s.{sup.col('DATE')}), '') "
                   f"|| '|' || coalesce(trim(s.{code}), '') || '|' || s._k")
            exprs = {
                "usage_id": Parsed(f"pid('usage', {key})"),
                "usage_date": date,
                "item_id": Parsed(f"nullif(trim(s.{code}), '')"),
                "unit_id": Parsed(f"CASE WHEN s._is_ip THEN {sql_str(INPATIENT_UNIT)} END"),
                "quantity": qty,
                "stay_id": Parsed(f"CASE WHEN s._is_ip THEN pid('stay', {enc_t.replace('x.', 's.')}) END"),
                "patient_id": Parsed(f"pid('patient', s.{pat_col})" if pat_col else "NULL"),
            }
            session.load("supply_usage", typed_select("supply_usage", exprs, source=src), sup)
        rep(1.0, "Import finished")
    return session.result()
