"""FHIR R4 Bulk Data export (NDJSON): ``Patient``, ``Encounter`` and ``Location`` resources.

PATH is an export folder (``Patient*.ndjson``, ``Encounter*.ndjson``, ``Location*.ndjson``, optionally
gzip-compressed; other resource files are ignored) or a single NDJSON file, which may mix resource types.
Files are read with DuckDB's ``read_json`` (newline-delimited, an explicit column list so absent elements
are NULL); only the elements mapped below are read (never names, addresses or telecom).

- Patient → patients: sex from ``gender``, birth year only, deceased from ``deceased[x]`` (absent = unknown).
- Encounter ``class.code`` EMER → ed_visits; IMP / ACUTE / NONAC / OBSENC → stays. Other classes (AMB, HH,
  VR, ...) are not candidates and are not counted as read. ``entered-in-error``, ``cancelled`` and
  ``planned`` encounters are rejected with that reason.
- ``Encounter.location[]`` entries with a ``period`` → movements (one per entry, numbered by start). An
  inpatient encounter without any such entry gets one movement covering the encounter at its first
  location (or the pseudo-unit ``INPATIENT`` when it names none).
- Location → units, for every location a movement uses. References are resolved whether literal
  (``Location/<id>``, ``urn:uuid:<id>``) or conditional (``Location?identifier=system|value``, matched
  against the Location's identifiers); an unresolved reference keeps its display text as the unit.

``period.start``/``end`` carry a UTC offset: they are converted to the workspace's local wall clock.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from datasets.errors import SourceError
from datasets.privacy import birth_year_sql, mask_shape_sql
from datasets.importers.engine import (
    ImportResult,
    ImportSession,
    Parsed,
    Staged,
    sql_str,
)
from datasets.importers.mimic import typed_select, load_units, parse_local_ts, unit_kind_sql
from datasets.progress import Progress, ShouldStop
from datasets.store import Workspace

__all__ = ["import_fhir", "STAY_CLASSES", "ED_CLASSES"]

RESOURCES = ("Patient", "Encounter", "Location")
STAY_CLASSES = ("IMP", "ACUTE", "NONAC", "OBSENC")
ED_CLASSES = ("EMER",)
INPATIENT_UNIT = "INPATIENT"
BAD_STATUS = ("entered-in-error", "cancelled", "planned")
TEMPS = ("_fhir_loc", "_fhir_mv", "_fhir_imp")

# the elements read from every resource (anything else in the file is never loaded)
COLUMNS = {
    "resourceType": "VARCHAR",
    "id": "VARCHAR",
    "identifier": "JSON",
    "status": "VARCHAR",
    "gender": "VARCHAR",
    "birthDate": "VARCHAR",
    "deceasedBoolean": "VARCHAR",
    "deceasedDateTime": "VARCHAR",
    "class": "JSON",
    "priority": "JSON",
    "period": "JSON",
    "subject": "JSON",
    "location": "JSON",
    "hospitalization": "JSON",
    "partOf": "JSON",
    "name": "JSON",
    "physicalType": "JSON",
    "type": "JSON",
    "mode": "VARCHAR",
}

# FHIR code (HL7 discharge-disposition) or NUBC patient discharge status (leading zeros dropped)
DISPOSITION = """(CASE
    WHEN {c} IS NULL THEN NULL
    WHEN {c} IN ('home', 'alt-home', '1', '6', '50', '51') THEN 'discharged'
    WHEN {c} IN ('other-hcf', 'hosp', 'long', 'snf', 'rehab', 'psy', '2', '3', '4', '5', '43', '61', '62', '63',
                 '64', '65', '66', '69', '70') THEN 'transferred'
    WHEN {c} IN ('aadvice', '7') THEN 'left'
    WHEN {c} IN ('exp', '20', '40', '41', '42') THEN 'died'
    WHEN {c} IN ('9') THEN 'admitted'
    ELSE 'unknown' END)"""


def _ndjson_files(root: Path) -> list[Path]:
    files = []
    for p in sorted(root.iterdir()):
        low = p.name.lower()
        if p.is_file() and (low.endswith(".ndjson") or low.endswith(".ndjson.gz")):
            if any(low.startswith(r.lower()) for r in RESOURCES):
                files.append(p)
    return files


def _class_code(s: str) -> str:
    # R4: class is one Coding; R5: a list of CodeableConcepts
    return (f"upper(coalesce({s}.class->>'code', {s}.class->0->'coding'->0->>'code', "
            f"{s}.class->'coding'->0->>'code'))")


def _ref_id(ref: str, kind: str) -> str:
    """The id in a reference to ``kind`` (``Kind/<id>``, ``urn:uuid:<id>`` or a conditional reference's value)."""
    return (f"nullif(coalesce(nullif(regexp_extract({ref}, '(?:^|/){kind}/([^/?#]+)', 1), ''), "
            f"nullif(regexp_extract({ref}, '^urn:uuid:(.+)$', 1), ''), "
            f"nullif(regexp_extract({ref}, 'identifier=(?:.*\\|)?([^|]+)$', 1), ''), {ref}), '')")


def import_fhir(
    ws: Workspace,
    path: str | Path,
    progress: Optional[Progress] = None,
    should_stop: Optional[ShouldStop] = None,
) -> ImportResult:
    root = Path(path)
    if root.is_dir():
        files = _ndjson_files(root)
        if not files:
            raise SourceError(
                f"No Patient, Encounter or Location NDJSON files found in {root}.",
                "A FHIR Bulk Data export holds files such as Patient.000.ndjson and Encounter.000.ndjson.",
            )
        others = [p.name for p in sorted(root.iterdir()) if p.is_file() and p not in files
                  and p.name.lower().endswith((".ndjson", ".ndjson.gz"))]
    elif root.is_file():
        files, others = [root], []
    else:
        raise SourceError(f"There is no file or folder {root}.")

    with ImportSession(ws, str(root), "fhir", progress, should_stop) as session:
        session.privacy_extra.append({
            "file": root.name, "column": "Patient.name, identifier, telecom, address, contact, text",
            "action": "not imported", "detail": "never read; only gender, birth year and deceased are kept"})
        session.drop_later(*TEMPS)
        _run(session, files)
        if others:
            session.notes.append(f"not read (resource types not mapped): {', '.join(others)}")
    return session.result()


def _stage(session: ImportSession, path: Path) -> Staged:
    cols = ", ".join(f"{sql_str(k)}: {sql_str(v)}" for k, v in COLUMNS.items())
    # Location.name is text, Patient.name holds people's names: keep the first only
    select = (
        "SELECT * EXCLUDE (name), CASE WHEN resourceType = 'Location' THEN name->>'$' END AS loc_name "
        f"FROM read_json({sql_str(str(path))}, format = 'newline_delimited', columns = {{{cols}}})"
    )
    st = session.stage_sql(path, select)
    # the raw text of rejects is built per resource type (_raw); the report names what is transformed
    st.used = set(st.columns)
    st.report_columns = ["id", "birthDate"]
    st.pseudonymize("id", "pid(<resource kind>, {v})")
    return st


def _raw(kind: str, *fields: str) -> str:
    """The raw text rejects keep of a resource: its id as the pseudonym it is stored under, birth year only."""
    def keep(f: str) -> str:
        return birth_year_sql(f"s.{f}") if f == "birthDate" else f"s.{f}"

    parts = ", ".join(f"{sql_str(f)}, {keep(f)}" for f in fields)
    return f"CAST(json_object('resourceType', s.resourceType, 'id', pid('{kind}', s.id), {parts}) AS VARCHAR)"


def _run(session: ImportSession, files: list[Path]) -> None:
    con, rep, tz = session.con, session.rep, session.tz
    staged: list[Staged] = []
    for i, p in enumerate(files):
        rep(0.3 * i / max(len(files), 1), f"Reading {p.name}")
        st = _stage(session, p)
        kinds = dict(con.execute(f"SELECT resourceType, count(*) FROM {st.name} GROUP BY 1").fetchall())
        if not any(k in RESOURCES for k in kinds):
            session.notes.append(f"{p.name}: no Patient, Encounter or Location resources")
        staged.append(st)

    def with_type(kind: str) -> list[Staged]:
        return [st for st in staged
                if con.execute(f"SELECT count(*) FROM {st.name} WHERE resourceType = '{kind}'").fetchone()[0]]

    # -- Patient -> patients
    rep(0.35, "Patients")
    for st in with_type("Patient"):
        g = "lower(trim(s.gender))"
        birth = "TRY_CAST(left(trim(s.birthDate), 4) AS INTEGER)"
        exprs = {
            "patient_id": Parsed("pid('patient', s.id)"),
            "sex": Parsed(f"CASE WHEN {g} = 'female' THEN 'F' WHEN {g} = 'male' THEN 'M' "
                          f"WHEN {g} IS NOT NULL THEN 'U' END"),
            "birth_year": Parsed(birth, f"CASE WHEN nullif(trim(s.birthDate), '') IS NOT NULL AND {birth} IS NULL "
                                        "THEN 'birthDate: ''' || " + mask_shape_sql("left(s.birthDate, 40)") + " || ''' is not a date' END"),
            "deceased": Parsed("CASE WHEN s.deceasedDateTime IS NOT NULL OR lower(s.deceasedBoolean) = 'true' THEN true "
                               "WHEN lower(s.deceasedBoolean) = 'false' THEN false END"),
        }
        session.load("patients", typed_select("patients", exprs, source=st.name, where="s.resourceType = 'Patient'"),
                     st, raw_sql=_raw("patient", "gender", "birthDate"), line_sql="c._n")

    # -- Location lookup: every key a reference may use -> unit
    con.execute("CREATE OR REPLACE TEMP TABLE _fhir_loc (key VARCHAR, unit_id VARCHAR, name VARCHAR, kind VARCHAR)")
    for st in with_type("Location"):
        unit = "coalesce(nullif(trim(l.loc_name), ''), 'Location ' || l.id)"
        kind = (f"CASE WHEN l.physicalType->'coding'->0->>'code' = 'ho' OR l.mode = 'kind' THEN 'other' "
                f"WHEN l.type->0->'coding'->0->>'code' = 'ER' THEN 'ed' "
                f"WHEN l.type->0->'coding'->0->>'code' = 'ICU' THEN 'icu' ELSE {unit_kind_sql(unit)} END")
        con.execute(
            f"""INSERT INTO _fhir_loc
                WITH l AS (SELECT *, {unit} AS unit, {kind} AS kind FROM {st.name} l WHERE resourceType = 'Location'),
                ids AS (SELECT l.unit, l.kind, unnest(json_extract(l.identifier, '$[*]')) AS i FROM l
                        WHERE l.identifier IS NOT NULL)
                SELECT 'id|' || id, unit, unit, kind FROM l WHERE id IS NOT NULL
                UNION ALL SELECT 'ident|' || (i->>'system') || '|' || (i->>'value'), unit, unit, kind FROM ids
                UNION ALL SELECT 'ident|' || (i->>'value'), unit, unit, kind FROM ids"""
        )
    con.execute("""CREATE OR REPLACE TEMP TABLE _fhir_loc AS
                   SELECT key, any_value(unit_id) AS unit_id, any_value(name) AS name, any_value(kind) AS kind
                   FROM _fhir_loc WHERE key IS NOT NULL GROUP BY key""")

    encounters = with_type("Encounter")
    stay_in = ", ".join(sql_str(c) for c in STAY_CLASSES)
    ed_in = ", ".join(sql_str(c) for c in ED_CLASSES)
    bad = ", ".join(sql_str(c) for c in BAD_STATUS)
    status_err = (f"CASE WHEN lower(s.status) IN ({bad}) THEN 'encounter status ' || lower(s.status) "
                  "|| ': not a real encounter' END")
    start = parse_local_ts("s.period->>'start'", "period.start", tz)
    end = parse_local_ts("s.period->>'end'", "period.end", tz)
    disp_code = "ltrim(lower(trim(s.hospitalization->'dischargeDisposition'->'coding'->0->>'code')), '0')"
    disp_code = f"CASE WHEN {disp_code} = '' THEN '0' ELSE {disp_code} END"
    admit_src = "nullif(trim(s.hospitalization->'admitSource'->'coding'->0->>'code'), '')"
    prio = "upper(s.priority->'coding'->0->>'code')"
    n_classes: dict[str, int] = {}

    # -- Encounter -> stays, ed_visits
    for i, st in enumerate(encounters):
        rep(0.4 + 0.2 * i / max(len(encounters), 1), f"Encounters of {st.path.name}")
        for k, n in con.execute(
            f"SELECT coalesce({_class_code('s')}, '(none)'), count(*) FROM {st.name} s WHERE resourceType = 'Encounter' GROUP BY 1"
        ).fetchall():
            n_classes[k] = n_classes.get(k, 0) + n
        cls = _class_code("s")
        exprs = {
            "stay_id": Parsed("pid('stay', s.id)", status_err),
            "patient_id": Parsed(f"pid('patient', {_ref_id(chr(40) + 's.subject->>' + sql_str('reference') + chr(41), 'Patient')})"),
            "admit_ts": start,
            "discharge_ts": end,
            "admission_type": Parsed(f"CASE WHEN {cls} = 'OBSENC' THEN 'observation' "
                                     f"WHEN {prio} IN ('EM', 'UR', 'S', 'A') THEN 'emergency' "
                                     f"WHEN {prio} IN ('EL', 'R') THEN 'elective' END"),
            "admit_source": Parsed(admit_src),
            "discharge_disposition": Parsed(f"nullif(trim(s.hospitalization->'dischargeDisposition'->'coding'->0->>'code'), '')"),
            "died": Parsed(f"CASE WHEN {DISPOSITION.format(c=disp_code)} = 'died' THEN true END"),
        }
        session.load("stays", typed_select("stays", exprs, source=st.name,
                                               where=f"s.resourceType = 'Encounter' AND {cls} IN ({stay_in})"),
                     st, raw_sql=_raw("stay", "status", "class", "period"), line_sql="c._n")

    # ED visit -> the inpatient encounter it led to: partOf, or the patient's stay starting during the visit
    con.execute("CREATE OR REPLACE TEMP TABLE _fhir_imp (eid VARCHAR, patient VARCHAR, part_of VARCHAR, ts_in TIMESTAMP)")
    for st in encounters:
        con.execute(
            f"""INSERT INTO _fhir_imp SELECT s.id, {_ref_id("(s.subject->>'reference')", 'Patient')},
                       {_ref_id("(s.partOf->>'reference')", 'Encounter')}, {start.value}
                FROM {st.name} s WHERE s.resourceType = 'Encounter' AND {_class_code('s')} IN ({stay_in})
                  AND coalesce(lower(s.status), '') NOT IN ({bad})"""
        )
    for st in encounters:
        cls = _class_code("s")
        e_start = parse_local_ts("e.period->>'start'", "period.start", tz).value
        e_end = parse_local_ts("e.period->>'end'", "period.end", tz).value
        link = f"""(SELECT e._n, arg_min(i.eid, i.ts_in) AS eid FROM {st.name} e JOIN _fhir_imp i
                     ON i.patient = {_ref_id("(e.subject->>'reference')", 'Patient')}
                    AND (i.part_of = e.id OR (i.ts_in >= {e_start} AND i.ts_in <= coalesce({e_end}, {e_start})))
                    WHERE e.resourceType = 'Encounter' AND {_class_code('e')} IN ({ed_in}) GROUP BY e._n)"""
        src = f"(SELECT x.*, l.eid AS _stay FROM {st.name} x LEFT JOIN {link} l ON l._n = x._n)"
        disp = DISPOSITION.format(c=disp_code)
        prio_n = f"TRY_CAST({prio} AS TINYINT)"
        exprs = {
            "visit_id": Parsed("pid('visit', s.id)", status_err),
            "patient_id": Parsed(f"pid('patient', {_ref_id(chr(40) + 's.subject->>' + sql_str('reference') + chr(41), 'Patient')})"),
            "arrival_ts": start,
            "departure_ts": end,
            "acuity": Parsed(f"CASE WHEN {prio_n} BETWEEN 1 AND 5 THEN {prio_n} END"),
            "disposition": Parsed(f"CASE WHEN s._stay IS NOT NULL THEN 'admitted' ELSE coalesce({disp}, 'unknown') END"),
            "stay_id": Parsed("pid('stay', s._stay)"),
        }
        session.load("ed_visits", typed_select("ed_visits", exprs, source=src,
                                                   where=f"s.resourceType = 'Encounter' AND {cls} IN ({ed_in})"),
                     st, raw_sql=_raw("visit", "status", "class", "period"), line_sql="c._n")
    con.execute("DROP TABLE IF EXISTS _fhir_imp")
    skipped = {k: n for k, n in n_classes.items() if k not in STAY_CLASSES + ED_CLASSES}
    if skipped:
        session.notes.append("encounters of class " + ", ".join(
            f"{k} ({n})" for k, n in sorted(skipped.items(), key=lambda kv: -kv[1])) + " are not ED visits or stays and were not read")

    # -- movements: location[] entries with a period, else one per stay at its first location
    rep(0.7, "Unit movements")
    con.execute("""CREATE OR REPLACE TEMP TABLE _fhir_mv (f INTEGER, _n BIGINT, eid VARCHAR, seq INTEGER, unit_id VARCHAR,
                                                          in_ts TIMESTAMP, out_ts TIMESTAMP, err VARCHAR, resolved BOOLEAN)""")
    ref = "(el.loc->'location'->>'reference')"
    key_id = f"'id|' || {_ref_id(ref, 'Location')}"
    key_full = f"'ident|' || url_decode(regexp_extract({ref}, 'identifier=(.+)$', 1))"
    key_val = f"'ident|' || regexp_extract({ref}, 'identifier=(?:.*\\|)?([^|]+)$', 1)"
    lookup = "(SELECT unit_id FROM _fhir_loc WHERE key = {k})"
    resolved = f"coalesce({lookup.format(k=key_full)}, {lookup.format(k=key_val)}, {lookup.format(k=key_id)})"
    unit = f"coalesce({resolved}, nullif(trim(el.loc->'location'->>'display'), ''), {ref})"
    l_start = parse_local_ts("el.loc->'period'->>'start'", "location.period.start", tz)
    l_end = parse_local_ts("el.loc->'period'->>'end'", "location.period.end", tz)
    errs_l = ", ".join(e for e in (l_start.error, l_end.error) if e)
    for fi, st in enumerate(encounters):
        con.execute(
            f"""INSERT INTO _fhir_mv
                WITH enc AS (SELECT s._n, s.id AS eid, s.location, s.period
                             FROM {st.name} s WHERE s.resourceType = 'Encounter' AND {_class_code('s')} IN ({stay_in})
                               AND coalesce(lower(s.status), '') NOT IN ({bad})),
                el AS (SELECT _n, eid, period, unnest(json_extract(location, '$[*]')) AS loc,
                              generate_subscripts(json_extract(location, '$[*]'), 1) AS ord
                       FROM enc WHERE location IS NOT NULL),
                el2 AS (SELECT * FROM el WHERE coalesce(loc->>'status', '') <> 'planned'),
                timed AS (SELECT el._n, el.eid, {unit} AS unit_id, {l_start.value} AS in_ts, {l_end.value} AS out_ts,
                                 {('nullif(concat_ws(' + sql_str('; ') + ', ' + errs_l + "), '')") if errs_l else 'NULL'} AS err,
                                 {resolved} IS NOT NULL AS resolved, el.ord
                          FROM el2 el WHERE el.loc->'period'->>'start' IS NOT NULL),
                first_loc AS (SELECT el.eid, arg_min({unit}, el.ord) AS unit_id, bool_or({resolved} IS NOT NULL) AS resolved
                              FROM el2 el GROUP BY el.eid)
                SELECT {fi}, _n, eid, row_number() OVER (PARTITION BY eid ORDER BY in_ts NULLS LAST, ord), unit_id,
                       in_ts, out_ts, err, resolved FROM timed
                UNION ALL
                SELECT {fi}, s._n, s.eid, 1, coalesce(fl.unit_id, '{INPATIENT_UNIT}'),
                       {start.value}, {end.value}, {start.error or 'NULL'}, coalesce(fl.resolved, true)
                FROM enc s LEFT JOIN first_loc fl ON fl.eid = s.eid
                WHERE NOT EXISTS (SELECT 1 FROM timed t WHERE t.eid = s.eid)"""
        )
    n_unres, n_total = con.execute(
        "SELECT count(*) FILTER (WHERE NOT resolved), count(*) FROM _fhir_mv"
    ).fetchone()
    if n_unres:
        session.notes.append(f"{n_unres} encounter locations do not resolve to a Location resource: the reference's "
                             "display text is used as the unit")
    exprs = {
        "stay_id": Parsed("pid('stay', s.eid)"),
        "seq": Parsed("s.seq"),
        "unit_id": Parsed("s.unit_id"),
        "in_ts": Parsed("s.in_ts", "s.err"),
        "out_ts": Parsed("s.out_ts"),
    }
    for fi, st in enumerate(encounters):
        session.load("movements", typed_select("movements", exprs, source="_fhir_mv", where=f"s.f = {fi}"), st,
                     raw_sql="CAST(json_object('encounter', pid('stay', s.id), 'location', s.location) AS VARCHAR)", line_sql="c._n")
    if n_total and not con.execute(
        "SELECT count(*) FROM _fhir_mv m WHERE EXISTS (SELECT 1 FROM _fhir_mv x WHERE x.eid = m.eid AND x.seq = 2)"
    ).fetchone()[0]:
        session.notes.append("no encounter has ward-level locations with periods: one movement per inpatient "
                             "encounter, at its (facility) location")

    # -- units: every location a movement uses
    if encounters:
        load_units(
            session,
            encounters[0],
            f"""SELECT min(m._n) AS _n, m.unit_id, coalesce(any_value(l.name), m.unit_id) AS name,
                       coalesce(any_value(l.kind), CASE WHEN m.unit_id = '{INPATIENT_UNIT}' THEN 'ward'
                                                        ELSE {unit_kind_sql('m.unit_id')} END) AS kind
                FROM _fhir_mv m LEFT JOIN (SELECT DISTINCT unit_id, name, kind FROM _fhir_loc) l ON l.unit_id = m.unit_id
                GROUP BY m.unit_id""",
            line_sql="NULL",
            # a unit's row is built from locations, not one resource: its own fields are what a reject keeps (the
            # encounters' default raw text holds a placeholder, and a rejected unit failed the import on it)
            raw_sql="CAST(json_object('unit_id', c.unit_id, 'name', c.name, 'kind', c.kind) AS VARCHAR)",
        )
    rep(1.0, "Import finished")
