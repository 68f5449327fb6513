"""OMOP CDM v5.3 / v5.4 CSV extracts: PERSON, VISIT_OCCURRENCE, VISIT_DETAIL, CARE_SITE, DEATH, DEVICE_EXPOSURE.

Files may be named in upper or lower case (``PERSON.csv``, ``person.csv``, ``.csv.gz``); headers are matched
case-insensitively, and the columns renamed between v5.3 and v5.4 are looked up under both names
(``admitting_source_*``/``admitted_from_*``, ``discharge_to_*``/``discharged_to_*``,
``visit_detail_parent_id``/``parent_visit_detail_id``). Header-only files are fine: they are skipped.

- PERSON → patients (``gender_concept_id`` 8507/8532, else ``gender_source_value``; ``year_of_birth``;
  deceased = the person is in DEATH, when a DEATH file is there).
- VISIT_OCCURRENCE with ``visit_concept_id`` 9203 (ER visit) → ed_visits; 9201 (inpatient), 262 (ER and
  inpatient), 8717 (inpatient hospital) and 32037 (intensive care) → stays. Other visits (outpatient, ...)
  are not candidates and are not counted as read. An ER visit is ``admitted`` and linked to the stay when a
  stay of the same person names it as ``preceding_visit_occurrence_id`` or starts during it.
- VISIT_DETAIL rows of those stays (leaf rows only: a parent detail spans its children) → movements, the
  unit being the CARE_SITE name (or the visit's care site); a stay without any detail row gets one movement
  covering the stay, in its care site or the pseudo-unit ``INPATIENT``. Units: every unit a movement uses.
- DEVICE_EXPOSURE → supply_items and supply_usage (quantity 1 when empty).

Concept id 0 means "no matching concept" and is treated as unknown. OMOP datetimes are local wall-clock
times by convention: a trailing ``Z`` written by some exporters (e.g. Eunomia GiBleed) is ignored rather
than shifted, so midnight stays midnight on the same date.
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
    Staged,
    has_rows,
    parse_int,
    parse_number,
    sql_str,
)
from datasets.importers.mimic import typed_select, find_file, load_units, unit_kind_sql
from datasets.progress import Progress, ShouldStop
from datasets.store import Workspace

__all__ = ["import_omop", "STAY_CONCEPTS", "ED_CONCEPTS"]

STAY_CONCEPTS = ("9201", "262", "8717", "32037")
ED_CONCEPTS = ("9203",)
INPATIENT_UNIT = "INPATIENT"
TABLES = ("person", "visit_occurrence", "visit_detail", "care_site", "death", "device_exposure")
TEMPS = ("_omop_stay", "_omop_cs", "_omop_mv")


def _t(expr: Optional[str]) -> str:
    return f"nullif(trim({expr}), '')" if expr else "NULL"


def _concept(expr: Optional[str]) -> str:
    """A concept id as text, with 0 (no matching concept) as NULL."""
    return f"nullif(nullif(trim({expr}), ''), '0')" if expr else "NULL"


def omop_ts(datetime_col: Optional[str], date_col: Optional[str], label: str) -> Parsed:
    """The wall-clock TIMESTAMP of an OMOP ``*_datetime`` column, falling back to its ``*_date`` column."""
    def one(col: str) -> str:
        return f"TRY_CAST(replace(left(nullif(trim({col}), ''), 19), 'T', ' ') AS TIMESTAMP)"

    parts, errs = [], []
    for col in (datetime_col, date_col):
        if col:
            parts.append(one(col))
            errs.append(
                f"CASE WHEN nullif(trim({col}), '') IS NOT NULL AND {one(col)} IS NULL THEN "
                f"{sql_str(label + ': ')} || '''' || left(trim({col}), 40) || ''' is not a date and time' END"
            )
    if not parts:
        return Parsed("CAST(NULL AS TIMESTAMP)")
    value = parts[0] if len(parts) == 1 else f"coalesce({', '.join(parts)})"
    return Parsed(value, errs[0] if len(errs) == 1 else f"coalesce({', '.join(errs)})")


def import_omop(
    ws: Workspace,
    path: str | Path,
    progress: Optional[Progress] = None,
    should_stop: Optional[ShouldStop] = None,
) -> ImportResult:
    root = Path(path)
    if not root.is_dir():
        raise SourceError(f"{root} is not a folder.", "Give the folder holding the OMOP CDM CSV files (PERSON.csv, VISIT_OCCURRENCE.csv, ...).")
    folders = [root, root / "cdm"]
    found = {n: find_file(folders, n, (".csv", ".csv.gz", ".tsv", ".txt")) for n in TABLES}
    if found["person"] is None and found["visit_occurrence"] is None:
        raise SourceError(f"No OMOP CDM tables (PERSON.csv, VISIT_OCCURRENCE.csv) found in {root}.")
    files: dict[str, Optional[Path]] = {}
    empty: list[str] = []
    for name, p in found.items():
        if p is not None and not has_rows(p):
            empty.append(p.name)
            p = None
        files[name] = p

    with ImportSession(ws, str(root), "omop", progress, should_stop) as session:
        session.drop_later(*TEMPS)
        _run(session, files, empty, found)
    return session.result()


def _run(session: ImportSession, files: dict, empty: list[str], found: dict) -> None:
    con, rep = session.con, session.rep
    if empty:
        session.notes.append(f"header-only (no rows): {', '.join(sorted(empty))}")
    stay_in = ", ".join(sql_str(c) for c in STAY_CONCEPTS)
    ed_in = ", ".join(sql_str(c) for c in ED_CONCEPTS)

    # -- PERSON (+ DEATH)
    if files["person"]:
        rep(0.02, f"Reading {files['person'].name}")
        per = session.stage_csv(files["person"])
        gc = per.col("gender_concept_id", required=False)
        gs = per.col("gender_source_value", required=False)
        yob = parse_int(f"s.{per.col('year_of_birth')}", "year_of_birth")
        sex = (f"CASE {_t('s.' + gc) if gc else 'NULL'} WHEN '8507' THEN 'M' WHEN '8532' THEN 'F' "
               f"WHEN '8551' THEN 'U' WHEN '8570' THEN 'U' WHEN '8521' THEN 'U' "
               f"ELSE {normalize_sex('s.' + gs) if gs else 'NULL'} END")
        dead, join = "NULL", ""
        if files["death"]:
            dth = session.stage_csv(files["death"])
            join = (f"LEFT JOIN (SELECT DISTINCT {_t(dth.col('person_id'))} AS pid FROM {dth.name}) d "
                    f"ON d.pid = {_t('x.' + per.col('person_id'))}")
            dead = "(d.pid IS NOT NULL)"
        elif found["death"] is not None:
            dead = "false"  # a DEATH table with no rows: nobody died
        src = f"(SELECT x.*, {dead} AS _dead FROM {per.name} x {join})"
        exprs = {
            "patient_id": Parsed(f"pid('patient', s.{per.col('person_id')})"),
            "sex": Parsed(sex),
            "birth_year": yob,
            "deceased": Parsed("s._dead"),
        }
        session.load("patients", typed_select("patients", exprs, source=src), per)

    if not files["visit_occurrence"]:
        session.notes.append("no VISIT_OCCURRENCE rows: no ED visits or stays")
        return

    # -- VISIT_OCCURRENCE -> stays, ed_visits
    rep(0.2, f"Reading {files['visit_occurrence'].name}")
    vo = session.stage_csv(files["visit_occurrence"])
    v = {n: vo.col(n) for n in ("visit_occurrence_id", "person_id", "visit_concept_id")}
    v_sdt, v_sd = vo.col("visit_start_datetime", required=False), vo.col("visit_start_date", required=False)
    v_edt, v_ed = vo.col("visit_end_datetime", required=False), vo.col("visit_end_date", required=False)
    if not (v_sdt or v_sd):
        vo.col("visit_start_date")  # raises: neither start column is there
    v_cs = vo.col("care_site_id", required=False)
    v_prec = vo.col("preceding_visit_occurrence_id", required=False)
    adm_c = vo.col("admitted_from_concept_id", "admitting_source_concept_id", required=False)
    adm_v = vo.col("admitted_from_source_value", "admitting_source_value", required=False)
    dis_c = vo.col("discharged_to_concept_id", "discharge_to_concept_id", required=False)
    dis_v = vo.col("discharged_to_source_value", "discharge_to_source_value", required=False)
    vc = f"trim(s.{v['visit_concept_id']})"

    def q(alias: str, col: Optional[str]) -> Optional[str]:
        return f"{alias}.{col}" if col else None

    start = omop_ts(q("s", v_sdt), q("s", v_sd), "visit_start_datetime")
    end = omop_ts(q("s", v_edt), q("s", v_ed), "visit_end_datetime")
    counts = dict(con.execute(f"SELECT coalesce({vc}, '(empty)'), count(*) FROM {vo.name} s GROUP BY 1").fetchall())
    other = {k: n for k, n in counts.items() if k not in STAY_CONCEPTS + ED_CONCEPTS}
    if other:
        session.notes.append(
            f"{vo.path.name}: visits of concept " + ", ".join(f"{k} ({n})" for k, n in sorted(other.items(), key=lambda kv: -kv[1]))
            + " are not ED visits or inpatient stays and were not read"
        )

    # stays of this file, with their times (used for movements, ED links and supplies)
    xs = omop_ts(q("s", v_sdt), q("s", v_sd), "start").value
    xe = omop_ts(q("s", v_edt), q("s", v_ed), "end").value
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _omop_stay AS
            SELECT s._n, {_t('s.' + v['visit_occurrence_id'])} AS vid, {_t('s.' + v['person_id'])} AS person,
                   {vc} AS concept, {xs} AS ts_in, {xe} AS ts_out,
                   {_t('s.' + v_cs) if v_cs else 'NULL::VARCHAR'} AS cs,
                   {_t('s.' + v_prec) if v_prec else 'NULL::VARCHAR'} AS prec
            FROM {vo.name} s WHERE {vc} IN ({stay_in})"""
    )
    rep(0.3, "Inpatient stays")
    exprs = {
        "stay_id": Parsed(f"pid('stay', s.{v['visit_occurrence_id']})"),
        "patient_id": Parsed(f"pid('patient', s.{v['person_id']})"),
        "admit_ts": start,
        "discharge_ts": end,
        "admission_type": Parsed(f"CASE WHEN {vc} = '262' THEN 'emergency' END"),
        "admit_source": Parsed(f"coalesce({_t(q('s', adm_v))}, 'concept ' || {_concept(q('s', adm_c))})"),
        "discharge_disposition": Parsed(f"coalesce({_t(q('s', dis_v))}, 'concept ' || {_concept(q('s', dis_c))})"),
    }
    session.load("stays", typed_select("stays", exprs, source=vo.name, where=f"{vc} IN ({stay_in})"), vo)

    rep(0.45, "ED visits")
    es = omop_ts(q("e", v_sdt), q("e", v_sd), "start").value
    ee = omop_ts(q("e", v_edt), q("e", v_ed), "end").value
    link = f"""(SELECT e._n, arg_min(st.vid, st.ts_in) AS vid
                FROM {vo.name} e JOIN _omop_stay st ON st.person = {_t('e.' + v['person_id'])}
                 AND (st.prec = {_t('e.' + v['visit_occurrence_id'])}
                      OR (st.ts_in >= {es} AND st.ts_in <= coalesce({ee}, {es})))
                WHERE trim(e.{v['visit_concept_id']}) IN ({ed_in}) GROUP BY e._n)"""
    src = f"(SELECT x.*, l.vid AS _stay FROM {vo.name} x LEFT JOIN {link} l ON l._n = x._n)"
    dconcept = _concept(q("s", dis_c))
    exprs = {
        "visit_id": Parsed(f"pid('visit', s.{v['visit_occurrence_id']})"),
        "patient_id": Parsed(f"pid('patient', s.{v['person_id']})"),
        "arrival_ts": start,
        "departure_ts": end,
        "disposition": Parsed(
            f"CASE WHEN s._stay IS NOT NULL OR {dconcept} = '8717' THEN 'admitted' "
            f"WHEN {dconcept} = '8536' THEN 'discharged' ELSE 'unknown' END"
        ),
        "stay_id": Parsed("pid('stay', s._stay)"),
    }
    session.load("ed_visits", typed_select("ed_visits", exprs, source=src, where=f"{vc} IN ({ed_in})"), vo,
                 count_struct_rejects=False)

    # -- CARE_SITE: the unit of each care site
    con.execute("CREATE OR REPLACE TEMP TABLE _omop_cs (cs VARCHAR, unit_id VARCHAR, name VARCHAR, kind VARCHAR)")
    if files["care_site"]:
        cst = session.stage_csv(files["care_site"])
        name = cst.col("care_site_name", required=False)
        pos = cst.col("place_of_service_concept_id", required=False)
        nm = _t(name) if name else "NULL"
        uid = f"coalesce({nm}, 'care site ' || {_t(cst.col('care_site_id'))})"
        con.execute(
            f"""INSERT INTO _omop_cs
                SELECT {_t(cst.col('care_site_id'))}, any_value({uid}), any_value({uid}),
                       any_value(CASE {_concept(pos) if pos else 'NULL'} WHEN '8870' THEN 'ed' WHEN '32037' THEN 'icu'
                                 ELSE {unit_kind_sql(uid)} END)
                FROM {cst.name} WHERE {_t(cst.col('care_site_id'))} IS NOT NULL GROUP BY 1"""
        )

    def unit_of(cs_expr: str) -> str:
        return f"coalesce((SELECT c.unit_id FROM _omop_cs c WHERE c.cs = {cs_expr}), 'care site ' || {cs_expr})"

    # -- movements: leaf VISIT_DETAIL rows of stays, else one movement per stay
    rep(0.6, "Unit movements")
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _omop_mv (src VARCHAR, _n BIGINT, vid VARCHAR, seq INTEGER, unit_id VARCHAR,
                                                  in_ts TIMESTAMP, out_ts TIMESTAMP, err VARCHAR)"""
    )
    vd: Optional[Staged] = None
    if files["visit_detail"]:
        vd = session.stage_csv(files["visit_detail"])
        d_id, d_vo = vd.col("visit_detail_id"), vd.col("visit_occurrence_id")
        d_par = vd.col("parent_visit_detail_id", "visit_detail_parent_id", required=False)
        d_cs = vd.col("care_site_id", required=False)
        ds = omop_ts(q("d", vd.col("visit_detail_start_datetime", required=False)),
                     q("d", vd.col("visit_detail_start_date", required=False)), "visit_detail_start_datetime")
        de = omop_ts(q("d", vd.col("visit_detail_end_datetime", required=False)),
                     q("d", vd.col("visit_detail_end_date", required=False)), "visit_detail_end_datetime")
        errs = ", ".join(e for e in (ds.error, de.error) if e)
        leaf = (f"AND NOT EXISTS (SELECT 1 FROM {vd.name} ch WHERE {_t('ch.' + d_par)} = {_t('d.' + d_id)})"
                if d_par else "")
        cs_expr = f"coalesce({_t('d.' + d_cs) if d_cs else 'NULL'}, st.cs)"
        con.execute(
            f"""INSERT INTO _omop_mv
                SELECT 'detail', d._n, st.vid,
                       row_number() OVER (PARTITION BY st.vid ORDER BY {ds.value} NULLS LAST, d._n),
                       CASE WHEN {cs_expr} IS NULL THEN '{INPATIENT_UNIT}' ELSE {unit_of(cs_expr)} END,
                       {ds.value}, {de.value}, {('nullif(concat_ws(' + sql_str('; ') + ', ' + errs + "), '')") if errs else 'NULL'}
                FROM {vd.name} d JOIN _omop_stay st ON st.vid = {_t('d.' + d_vo)}
                WHERE true {leaf}"""
        )
    con.execute(
        f"""INSERT INTO _omop_mv
            SELECT 'visit', st._n, st.vid, 1,
                   CASE WHEN st.cs IS NULL THEN '{INPATIENT_UNIT}' ELSE {unit_of('st.cs')} END, st.ts_in, st.ts_out, NULL
            FROM _omop_stay st WHERE NOT EXISTS (SELECT 1 FROM _omop_mv m WHERE m.vid = st.vid)"""
    )
    n_fallback = con.execute("SELECT count(*) FROM _omop_mv WHERE src = 'visit'").fetchone()[0]
    if n_fallback:
        session.notes.append(
            f"{n_fallback} stays have no VISIT_DETAIL rows: one movement each, covering the stay, in its care site"
            f" or in the pseudo-unit {INPATIENT_UNIT}"
        )
    exprs = {
        "stay_id": Parsed("pid('stay', s.vid)"),
        "seq": Parsed("s.seq"),
        "unit_id": Parsed("s.unit_id"),
        "in_ts": Parsed("s.in_ts", "s.err"),
        "out_ts": Parsed("s.out_ts"),
    }
    if vd is not None:
        session.load("movements", typed_select("movements", exprs, source="_omop_mv", where="s.src = 'detail'"), vd)
    session.load("movements", typed_select("movements", exprs, source="_omop_mv", where="s.src = 'visit'"), vo,
                 count_struct_rejects=False)

    # -- units: every unit a movement uses
    load_units(
        session,
        vo,
        f"""SELECT min(m._n) AS _n, m.unit_id, coalesce(any_value(c.name), m.unit_id) AS name,
                   coalesce(any_value(c.kind), CASE WHEN m.unit_id = '{INPATIENT_UNIT}' THEN 'ward' ELSE {unit_kind_sql('m.unit_id')} END) AS kind
            FROM _omop_mv m LEFT JOIN _omop_cs c ON c.unit_id = m.unit_id GROUP BY m.unit_id""",
        line_sql="NULL",
    )

    # -- DEVICE_EXPOSURE -> supply_items, supply_usage
    if files["device_exposure"]:
        rep(0.8, f"Reading {files['device_exposure'].name}")
        dev = session.stage_csv(files["device_exposure"])
        dc = dev.col("device_concept_id", required=False)
        dsv = dev.col("device_source_value", required=False)
        item = f"coalesce({_t('s.' + dsv) if dsv else 'NULL'}, 'concept ' || {_concept('s.' + dc) if dc else 'NULL'})"
        items_src = f"""(SELECT c._n, c.item, coalesce(u.name, c.item) AS iname, u.category AS icat,
                                u.unit_of_measure AS iuom, u.pack_size AS ipack, u.lead_time_days AS ilead
                         FROM (SELECT min(s._n) AS _n, {item} AS item FROM {dev.name} s WHERE {item} IS NOT NULL GROUP BY 2) c
                         LEFT JOIN supply_items u ON u.item_id = c.item)"""
        exprs = {
            "item_id": Parsed("s.item"), "name": Parsed("s.iname"), "category": Parsed("s.icat"),
            "unit_of_measure": Parsed("s.iuom"), "pack_size": Parsed("s.ipack"), "lead_time_days": Parsed("s.ilead"),
        }
        session.load("supply_items", typed_select("supply_items", exprs, source=items_src), dev,
                     count_struct_rejects=False)
        qcol = dev.col("quantity", required=False)
        qty = parse_number(f"s.{qcol}", "quantity") if qcol else Parsed("NULL")
        n_noqty = con.execute(
            f"SELECT count(*) FROM {dev.name} s WHERE {_t('s.' + qcol) if qcol else 'NULL'} IS NULL").fetchone()[0]
        if n_noqty:
            session.notes.append(f"{dev.path.name}: {n_noqty} rows without a quantity counted as 1 device")
        dvo = dev.col("visit_occurrence_id", required=False)
        date = omop_ts(q("s", dev.col("device_exposure_start_datetime", required=False)),
                       q("s", dev.col("device_exposure_start_date", required=False)), "device_exposure_start_date")
        src = (f"(SELECT x.*, st.vid AS _stay, st.unit_id AS _unit FROM {dev.name} x LEFT JOIN "
               f"(SELECT vid, min(unit_id) AS unit_id FROM _omop_mv GROUP BY vid) st ON st.vid = {_t('x.' + dvo) if dvo else 'NULL'})")
        exprs = {
            "usage_id": Parsed(f"pid('usage', 'omop device_exposure ' || {_t('s.' + dev.col('device_exposure_id'))})"),
            "usage_date": Parsed(f"CAST({date.value} AS DATE)", date.error),
            "item_id": Parsed(item),
            "unit_id": Parsed("s._unit"),
            "quantity": Parsed(f"coalesce({qty.value}, 1.0)", qty.error),
            "stay_id": Parsed("pid('stay', s._stay)"),
            "patient_id": Parsed(f"pid('patient', s.{dev.col('person_id')})"),
        }
        session.load("supply_usage", typed_select("supply_usage", exprs, source=src), dev)
    rep(1.0, "Import finished")
