"""MIMIC-IV importer: hosp ``patients``, ``admissions``, ``transfers`` and, when present, ED ``edstays``/``triage``.

PATH is a release's root folder (with ``hosp/`` and, for the ED module, ``ed/``) or a folder holding the
files directly; each file may be ``.csv`` or ``.csv.gz``. The mapping (see the EHR anchors' MAPPING.md):

- ``patients`` → patients: sex from ``gender``, ``birth_year = anchor_year - anchor_age`` (shifted years, like
  every MIMIC date), ``deceased`` from ``dod`` (the date itself is never stored).
- ``admissions`` → stays: ``admittime``/``dischtime``, ``admission_type`` folded to emergency / elective /
  observation / other, ``died`` from ``hospital_expire_flag``.
- ``transfers`` with ``eventtype`` in (admit, transfer) → movements, numbered by ``intime`` within ``hadm_id``.
  ``discharge`` rows are events (no unit, no out time) and ``ED`` rows are the ED visit: neither is a
  movement candidate, so neither is counted as read for movements.
- every distinct ``careunit`` → units, with the kind guessed from its name.
- ED visits: from ``ed/edstays`` (+ ``triage`` acuity) when present, else from ``transfers`` rows with
  ``eventtype = 'ED'`` grouped per admission (``hadm_id``), or per ``transfer_id`` when not admitted.

MIMIC timestamps are naive, hospital-local and date-shifted per patient (years 2110-2210): they are stored
as they are, with no time-zone conversion.
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
    canonical_select,
    has_rows,
    parse_bool,
    parse_int,
    parse_timestamp,
    sql_str,
)
from datasets.progress import Progress, ShouldStop
from datasets.store import CANONICAL, Workspace

__all__ = ["import_mimic", "unit_kind_sql", "load_units", "find_file", "parse_local_ts", "combine", "typed_select"]


# ---------------------------------------------------------------------------------------------- shared helpers
def find_file(folders: list[Path], name: str, exts: tuple[str, ...] = (".csv.gz", ".csv")) -> Optional[Path]:
    """The first file called ``name`` + one of ``exts`` (any letter case) in ``folders``, or None."""
    for folder in folders:
        if not folder.is_dir():
            continue
        by_lower = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
        for ext in exts:
            hit = by_lower.get(name.lower() + ext)
            if hit is not None:
                return hit
    return None


def unit_kind_sql(name: str) -> str:
    """SQL guessing a unit's kind from its name (ICU names, the ED, pseudo-units; else a ward)."""
    x = f"lower(trim({name}))"
    return f"""(CASE
        WHEN {x} IS NULL OR {x} = '' THEN NULL
        WHEN regexp_matches({x}, '(intensive care|critical care|\\bicu\\b|\\b[a-z]*icu\\b|\\bccu\\b|\\bitu\\b|\\bhdu\\b)') THEN 'icu'
        WHEN regexp_matches({x}, '^(emergency( department| room)?|ed|er|a&e|accident (and|&) emergency)$') THEN 'ed'
        WHEN regexp_matches({x}, 'discharge lounge|departure lounge') THEN 'lounge'
        WHEN regexp_matches({x}, '\\bpacu\\b|recovery|post.?anesth|post.?anaesth') THEN 'theatre_recovery'
        WHEN regexp_matches({x}, 'observation|assessment|\\bamu\\b|\\bcdu\\b') THEN 'assessment'
        WHEN {x} IN ('unknown', 'other', 'unk') THEN 'other'
        ELSE 'ward' END)"""


def load_units(session: ImportSession, staged: Staged, candidates_sql: str, *, line_sql: Optional[str] = None,
               raw_sql: Optional[str] = None):
    """Load unit candidates (``_n, unit_id, name, kind``) into units.

    Values a person may have set in the workspace (name, kind, specialty, capacity, sex policy, inpatient
    flag) are kept for units that already exist: an EHR extract knows a unit's name, not its beds.
    """
    src = f"""(SELECT c._n, c.unit_id AS uid,
                      coalesce(u.name, c.name) AS uname,
                      coalesce(u.kind, c.kind) AS ukind,
                      u.specialty AS uspec, u.capacity AS ucap, u.sex_policy AS usex,
                      coalesce(u.is_inpatient, coalesce(c.kind, 'ward') NOT IN ('ed', 'lounge', 'theatre_recovery')) AS uinp
               FROM ({candidates_sql}) c LEFT JOIN units u ON u.unit_id = c.unit_id)"""
    exprs = {
        "unit_id": Parsed("s.uid"),
        "name": Parsed("s.uname"),
        "kind": Parsed("s.ukind"),
        "specialty": Parsed("s.uspec"),
        "capacity": Parsed("s.ucap"),
        "sex_policy": Parsed("s.usex"),
        "is_inpatient": Parsed("s.uinp"),
    }
    return session.load("units", typed_select("units", exprs, source=src), staged,
                        count_struct_rejects=False, line_sql=line_sql, raw_sql=raw_sql)


def typed_select(table: str, exprs: dict, **kwargs) -> str:
    """:func:`canonical_select` with every value cast to its canonical type.

    A bare ``NULL`` (a column this source lacks) would otherwise be an INTEGER in the engine's CTE, which
    cannot be compared with a timestamp or a text in the sanity rules.
    """
    spec = CANONICAL[table]
    typed = {
        col: Parsed(f"CAST({e.value} AS {spec.column(col).type})", e.error) if isinstance(e, Parsed) else e
        for col, e in exprs.items()
    }
    return canonical_select(table, typed, **kwargs)


def combine(*parts: Parsed) -> Optional[str]:
    """The SQL error of several parsed values (the first that failed), or None."""
    errs = [p.error for p in parts if p.error]
    if not errs:
        return None
    return errs[0] if len(errs) == 1 else f"coalesce({', '.join(errs)})"


OFFSET_RE = r"\d:\d\d(:\d\d(\.\d+)?)?\s*(Z|z|[+-]\d\d(:?\d\d)?)$"


def parse_local_ts(col: str, label: str, tz: str) -> Parsed:
    """A naive local TIMESTAMP in ``tz`` from ISO text that may carry a UTC offset or ``Z``.

    Values with an offset are converted to the workspace's wall clock; values without one (or date-only
    values) are taken as already local. Never relies on the DuckDB session's own time zone.
    """
    c = f"nullif(trim({col}), '')"
    v = (f"(CASE WHEN regexp_matches({c}, '{OFFSET_RE}') "
         f"THEN timezone({sql_str(tz)}, TRY_CAST({c} AS TIMESTAMPTZ)) "
         f"ELSE TRY_CAST({c} AS TIMESTAMP) END)")
    err = (f"CASE WHEN {c} IS NOT NULL AND {v} IS NULL THEN {sql_str(label + ': ')} || '''' || left({c}, 40) "
           "|| ''' is not a date and time' END")
    return Parsed(v, err)


def _txt(col: Optional[str]) -> str:
    return f"nullif(trim({col}), '')" if col else "NULL"


ADMISSION_TYPE = """(CASE
    WHEN {t} IS NULL OR {t} = '' THEN NULL
    WHEN {t} LIKE '%OBSERVATION%' THEN 'observation'
    WHEN {t} LIKE '%EMER%' OR {t} = 'URGENT' THEN 'emergency'
    WHEN {t} LIKE '%ELECTIVE%' OR {t} = 'SURGICAL SAME DAY ADMISSION' THEN 'elective'
    ELSE 'other' END)"""

ED_DISPOSITION = """(CASE
    WHEN {d} IS NULL OR {d} = '' THEN 'unknown'
    WHEN {d} = 'ADMITTED' THEN 'admitted'
    WHEN {d} = 'HOME' THEN 'discharged'
    WHEN {d} = 'TRANSFER' THEN 'transferred'
    WHEN {d} LIKE 'LEFT%' OR {d} = 'ELOPED' THEN 'left'
    WHEN {d} = 'EXPIRED' THEN 'died'
    ELSE 'unknown' END)"""

ARRIVAL_MODE = """(CASE
    WHEN {m} IS NULL OR {m} = '' THEN NULL
    WHEN {m} = 'WALK IN' THEN 'walk_in'
    WHEN {m} = 'AMBULANCE' THEN 'ambulance'
    WHEN {m} = 'HELICOPTER' THEN 'helicopter'
    WHEN {m} = 'UNKNOWN' THEN 'unknown'
    ELSE 'other' END)"""


# ---------------------------------------------------------------------------------------------- the importer
def import_mimic(
    ws: Workspace,
    path: str | Path,
    progress: Optional[Progress] = None,
    should_stop: Optional[ShouldStop] = None,
) -> ImportResult:
    root = Path(path)
    if not root.is_dir():
        raise SourceError(
            f"{root} is not a folder.",
            "Give the MIMIC-IV release folder (the one holding hosp/ and ed/) or a folder holding its CSV files.",
        )
    folders = [root / "hosp", root / "ed", root]
    files = {n: find_file(folders, n) for n in ("patients", "admissions", "transfers", "edstays", "triage")}
    if not any(files[n] for n in ("patients", "admissions", "transfers", "edstays")):
        raise SourceError(
            f"No MIMIC-IV tables found in {root}.",
            "Expected hosp/patients, hosp/admissions, hosp/transfers (.csv or .csv.gz) and optionally ed/edstays.",
        )
    # a header-only file (an ED module without triage rows, say) is skipped with a note, not refused
    empty = sorted(p.name for p in files.values() if p is not None and not has_rows(p))
    files = {n: (None if p is not None and p.name in empty else p) for n, p in files.items()}

    with ImportSession(ws, str(root), "mimic", progress, should_stop) as session:
        tz = session.tz
        rep = session.rep
        adm: Optional[Staged] = None
        if empty:
            session.notes.append(f"header-only or empty (no rows): {', '.join(empty)}")

        # -- patients
        if files["patients"]:
            rep(0.02, f"Reading {files['patients'].name}")
            pat = session.stage_csv(files["patients"])
            subj = pat.col("subject_id")
            age = parse_int(pat.col("anchor_age"), "anchor_age")
            year = parse_int(pat.col("anchor_year"), "anchor_year")
            dod = pat.col("dod", required=False)
            exprs = {
                "patient_id": Parsed(f"pid('patient', s.{subj})"),
                "sex": Parsed(normalize_sex(f"s.{pat.col('gender')}")),
                "birth_year": Parsed(f"({year.value} - {age.value})", combine(year, age)),
                "deceased": Parsed(f"({_txt('s.' + dod)} IS NOT NULL)" if dod else "NULL"),
            }
            session.load("patients", typed_select("patients", exprs, source=pat.name), pat)
        else:
            session.notes.append("no patients file: patients not loaded")

        # -- admissions -> stays
        if files["admissions"]:
            rep(0.2, f"Reading {files['admissions'].name}")
            adm = session.stage_csv(files["admissions"])
            a = _cols(adm, "subject_id", "hadm_id", "admittime", "dischtime")
            atype = adm.col("admission_type", required=False)
            flag = adm.col("hospital_expire_flag", required=False)
            death = adm.col("deathtime", required=False)
            admit = parse_timestamp(f"s.{a['admittime']}", "admittime", tz)
            disch = parse_timestamp(f"s.{a['dischtime']}", "dischtime", tz)
            died = parse_bool(f"s.{flag}", "hospital_expire_flag") if flag else None
            if died is None and death:
                died = Parsed(f"({_txt('s.' + death)} IS NOT NULL)")
            exprs = {
                "stay_id": Parsed(f"pid('stay', s.{a['hadm_id']})"),
                "patient_id": Parsed(f"pid('patient', s.{a['subject_id']})"),
                "admit_ts": admit,
                "discharge_ts": disch,
                "admission_type": Parsed(ADMISSION_TYPE.format(t=f"upper(trim(s.{atype}))") if atype else "NULL"),
                "admit_source": Parsed(_txt(f"s.{adm.col('admission_location', required=False)}")
                                       if adm.col("admission_location", required=False) else "NULL"),
                "discharge_disposition": Parsed(_txt(f"s.{adm.col('discharge_location', required=False)}")
                                                if adm.col("discharge_location", required=False) else "NULL"),
                "died": died or Parsed("NULL"),
            }
            session.load("stays", typed_select("stays", exprs, source=adm.name), adm)
        else:
            session.notes.append("no admissions file: stays not loaded")

        # -- transfers -> movements, units (and ED visits when there is no ED module)
        tr: Optional[Staged] = None
        if files["transfers"]:
            rep(0.4, f"Reading {files['transfers'].name}")
            tr = session.stage_csv(files["transfers"])
            t = _cols(tr, "subject_id", "hadm_id", "transfer_id", "eventtype", "careunit", "intime", "outtime")
            ev = f"lower(trim(s.{t['eventtype']}))"
            tin = parse_timestamp(f"s.{t['intime']}", "intime", tz)
            tout = parse_timestamp(f"s.{t['outtime']}", "outtime", tz)
            n_disch, n_ed, n_other = session.con.execute(
                f"""SELECT count(*) FILTER (WHERE {ev} = 'discharge'), count(*) FILTER (WHERE {ev} = 'ed'),
                           count(*) FILTER (WHERE {ev} IS NULL OR {ev} NOT IN ('discharge', 'ed', 'admit', 'transfer'))
                    FROM {tr.name} s"""
            ).fetchone()
            rep(0.5, "Mapping transfers to unit movements")
            exprs = {
                "stay_id": Parsed(f"pid('stay', s.{t['hadm_id']})"),
                "seq": Parsed(
                    f"CAST(row_number() OVER (PARTITION BY nullif(trim(s.{t['hadm_id']}), '') "
                    f"ORDER BY {tin.value} NULLS LAST, s._n) AS INTEGER)"
                ),
                "unit_id": Parsed(_txt(f"s.{t['careunit']}")),
                "in_ts": tin,
                "out_ts": tout,
            }
            session.load(
                "movements",
                typed_select("movements", exprs, source=tr.name, where=f"{ev} IN ('admit', 'transfer')"),
                tr,
            )
            session.notes.append(
                f"{files['transfers'].name}: {n_disch} 'discharge' event rows are not unit stays and were not read "
                f"as movements; {n_ed} 'ED' rows feed ed_visits (the rows of one admission make one visit)"
                + (f"; {n_other} rows with another eventtype were skipped" if n_other else "")
            )
            rep(0.65, "Units")
            cu = _txt(f"{t['careunit']}")
            load_units(
                session,
                tr,
                f"""SELECT min(_n) AS _n, {cu} AS unit_id, {cu} AS name, {unit_kind_sql(cu)} AS kind
                    FROM {tr.name} WHERE {cu} IS NOT NULL GROUP BY {cu}""",
            )

        # -- ED visits
        rep(0.75, "ED visits")
        if files["edstays"]:
            _ed_from_edstays(session, files["edstays"], files["triage"], adm)
            if tr is not None:
                session.notes.append("ED visits taken from ed/edstays; transfers 'ED' rows not used for ed_visits")
        elif tr is not None:
            _ed_from_transfers(session, tr, adm)
            session.notes.append(
                "no ED module (ed/edstays): ED visits built from transfers 'ED' rows, one per admission or per "
                "transfer_id when not admitted; acuity and arrival mode unknown"
            )
        rep(1.0, "Import finished")
    return session.result()


def _cols(staged: Staged, *names: str) -> dict[str, str]:
    return {n: staged.col(n) for n in names}


def _ed_from_transfers(session: ImportSession, tr: Staged, adm: Optional[Staged]) -> None:
    tz = session.tz
    t = _cols(tr, "subject_id", "hadm_id", "transfer_id", "eventtype", "intime", "outtime")
    tin = parse_timestamp(f"x.{t['intime']}", "intime", tz)
    tout = parse_timestamp(f"x.{t['outtime']}", "outtime", tz)
    errs = ", ".join(e for e in (tin.error, tout.error) if e)
    rows = f"""SELECT x._n, {_txt('x.' + t['subject_id'])} AS subj, {_txt('x.' + t['hadm_id'])} AS hadm,
                      {_txt('x.' + t['transfer_id'])} AS tid, {tin.value} AS tin, {tout.value} AS tout,
                      {('concat_ws(' + sql_str('; ') + ', ' + errs + ')') if errs else 'NULL'} AS err
               FROM {tr.name} x WHERE lower(trim(x.{t['eventtype']})) = 'ed'"""
    visits = f"""SELECT min(_n) AS _n, subj, hadm, min(tid) AS tid, min(tin) AS arr,
                        CASE WHEN bool_or(tout IS NULL) THEN NULL ELSE max(tout) END AS dep,
                        nullif(string_agg(nullif(err, ''), '; '), '') AS err
                 FROM ({rows}) r
                 GROUP BY subj, hadm, CASE WHEN hadm IS NULL THEN tid END"""
    decision = "CAST(NULL AS TIMESTAMP)"
    join = ""
    if adm is not None:
        a_admit = parse_timestamp(f"a.{adm.col('admittime')}", "admittime", tz)
        join = (f"LEFT JOIN (SELECT {_txt('a.' + adm.col('hadm_id'))} AS hadm, min({a_admit.value}) AS admit_ts "
                f"FROM {adm.name} a GROUP BY 1) a ON a.hadm = v.hadm")
        decision = "a.admit_ts"
    src = f"""(SELECT v.*, {decision} AS admit_ts FROM ({visits}) v {join})"""
    exprs = {
        "visit_id": Parsed("pid('visit', CASE WHEN s.hadm IS NOT NULL THEN 'hadm:' || s.hadm ELSE 'transfer:' || s.tid END)"),
        "patient_id": Parsed("pid('patient', s.subj)"),
        "arrival_ts": Parsed("s.arr", "s.err"),
        "departure_ts": Parsed("s.dep"),
        "disposition": Parsed("CASE WHEN s.hadm IS NOT NULL THEN 'admitted' ELSE 'unknown' END"),
        # the admission order time is the decision to admit when it falls inside the ED visit (boarding)
        "decision_ts": Parsed("CASE WHEN s.admit_ts >= s.arr AND (s.dep IS NULL OR s.admit_ts <= s.dep) THEN s.admit_ts END"),
        "stay_id": Parsed("pid('stay', s.hadm)"),
    }
    session.load("ed_visits", typed_select("ed_visits", exprs, source=src), tr, count_struct_rejects=False)


def _ed_from_edstays(session: ImportSession, ed_path: Path, triage_path: Optional[Path], adm: Optional[Staged]) -> None:
    tz = session.tz
    ed = session.stage_csv(ed_path)
    ed.pseudonymize("stay_id", "pid('visit', 'ed:' || {v})")
    e = _cols(ed, "subject_id", "stay_id", "intime", "outtime")
    hadm = ed.col("hadm_id", required=False)
    transport = ed.col("arrival_transport", required=False)
    dispo = ed.col("disposition", required=False)
    tin = parse_timestamp(f"s.{e['intime']}", "intime", tz)
    tout = parse_timestamp(f"s.{e['outtime']}", "outtime", tz)
    acuity_join, acuity = "", Parsed("NULL")
    if triage_path is not None:
        tri = session.stage_csv(triage_path)
        tri.pseudonymize("stay_id", "pid('visit', 'ed:' || {v})")
        tsid, tac = tri.col("stay_id"), tri.col("acuity")
        acuity_join = (f"LEFT JOIN (SELECT {_txt('t.' + tsid)} AS sid, any_value({_txt('t.' + tac)}) AS acuity "
                       f"FROM {tri.name} t GROUP BY 1) tri ON tri.sid = {_txt('e.' + e['stay_id'])}")
        acuity = parse_int("s._acuity", "triage acuity", "TINYINT")
        session.notes.append(f"acuity from {triage_path.name}")
    adm_join, admit_ts = "", "CAST(NULL AS TIMESTAMP)"
    if adm is not None and hadm:
        a_admit = parse_timestamp(f"a.{adm.col('admittime')}", "admittime", tz)
        adm_join = (f"LEFT JOIN (SELECT {_txt('a.' + adm.col('hadm_id'))} AS hadm, min({a_admit.value}) AS admit_ts "
                    f"FROM {adm.name} a GROUP BY 1) a ON a.hadm = {_txt('e.' + hadm)}")
        admit_ts = "a.admit_ts"
    src = (f"(SELECT e.*, {('tri.acuity' if acuity_join else 'CAST(NULL AS VARCHAR)')} AS _acuity, {admit_ts} AS _admit "
           f"FROM {ed.name} e {acuity_join} {adm_join})")
    hadm_s = _txt("s." + hadm) if hadm else "NULL"
    disp = ED_DISPOSITION.format(d=f"upper(trim(s.{dispo}))") if dispo else "'unknown'"
    exprs = {
        "visit_id": Parsed(f"pid('visit', 'ed:' || {_txt('s.' + e['stay_id'])})"),
        "patient_id": Parsed(f"pid('patient', s.{e['subject_id']})"),
        "arrival_ts": tin,
        "departure_ts": tout,
        "acuity": acuity,
        "arrival_mode": Parsed(ARRIVAL_MODE.format(m=f"upper(trim(s.{transport}))") if transport else "NULL"),
        "disposition": Parsed(f"CASE WHEN {disp} = 'unknown' AND {hadm_s} IS NOT NULL THEN 'admitted' ELSE {disp} END"),
        "decision_ts": Parsed(
            f"CASE WHEN s._admit >= {tin.value} AND ({tout.value} IS NULL OR s._admit <= {tout.value}) THEN s._admit END"
        ),
        "stay_id": Parsed(f"pid('stay', {hadm_s})"),
    }
    session.load("ed_visits", typed_select("ed_visits", exprs, source=src), ed)
