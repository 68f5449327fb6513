"""Generic CSV import: one canonical table per call, columns by canonical name or through a mapping file.

A mapping file (TOML) adapts any report layout (Epic, Cerner, a spreadsheet) without code::

    table = "ed_visits"                  # the canonical table (``--table`` on the command line wins)
    delimiter = ";"                      # optional: detected when absent (comma, semicolon, tab, pipe)
    encoding = "latin-1"                 # optional: UTF-8 or Latin-1 is detected when absent
    timestamp_format = "%d/%m/%Y %H:%M"  # optional (a list is allowed): detected from the data when absent

    [columns]                            # source column -> canonical column
    "Arrival Date/Time" = "arrival_ts"
    "MRN" = "patient_id"

    [values.acuity]                      # canonical column -> source value -> canonical value
    "ESI-1" = 1
    "Resus" = 1

gzip files (``.gz``) are read directly. Patient, visit and stay identifiers are replaced by the
workspace's pseudonyms as they are read; the source values are never stored.
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from datasets.errors import SourceError
from datasets.importers.engine import (
    ImportResult,
    ImportSession,
    Parsed,
    _err,
    canonical_select,
    parse_bool,
    parse_date,
    parse_int,
    parse_number,
    parse_timestamp,
    parse_typed,
    shown_columns,
    MONTH_FIRST_COUNTRIES,
    format_example,
    says_nothing,
    sniff_timestamp,
    sql_str,
    swapped,
)
from datasets.privacy import mask_shape_sql
from datasets.progress import Progress, ShouldStop
from datasets.store import CANONICAL, Workspace

PSEUDONYMIZED = {"patient_id": "patient", "visit_id": "visit", "stay_id": "stay"}
DOB_FORMATS = "['%Y-%m-%d', '%d/%m/%Y', '%m/%d/%Y', '%d.%m.%Y', '%Y%m%d', '%Y-%m-%dT%H:%M:%S', '%Y-%m-%d %H:%M:%S']"
PATIENT_TABLES = {"patients", "ed_visits", "stays", "movements", "supply_usage"}


@dataclass
class Mapping:
    table: Optional[str] = None
    columns: dict[str, str] = field(default_factory=dict)  # source -> canonical
    values: dict[str, dict[str, object]] = field(default_factory=dict)  # canonical -> {source value: value}
    timestamp_format: list[str] = field(default_factory=list)
    delimiter: Optional[str] = None
    encoding: Optional[str] = None

    @classmethod
    def load(cls, path: str | Path) -> "Mapping":
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SourceError(f"There is no mapping file {path}.") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SourceError(f"The mapping file {path.name} is not valid TOML: {exc}") from None
        return cls.from_dict(data, path.name)

    @classmethod
    def from_dict(cls, data: dict, name: str = "mapping") -> "Mapping":
        known = {"table", "columns", "values", "timestamp_format", "delimiter", "encoding"}
        unknown = set(data) - known
        if unknown:
            raise SourceError(f"{name}: unknown setting(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}.")
        fmt = data.get("timestamp_format", [])
        m = cls(
            table=data.get("table"),
            columns={str(k): str(v) for k, v in data.get("columns", {}).items()},
            values={str(k): {str(a): b for a, b in v.items()} for k, v in data.get("values", {}).items()},
            timestamp_format=[fmt] if isinstance(fmt, str) else list(fmt),
            delimiter=data.get("delimiter"),
            encoding=data.get("encoding"),
        )
        if m.encoding:
            import codecs

            try:
                codec = codecs.lookup(str(m.encoding)).name  # utf8 -> utf-8, windows-1252 -> cp1252, ...
            except LookupError:
                raise SourceError(f"{name}: '{m.encoding}' is not a text encoding.",
                                  "E.g. utf-8, cp1252 (Excel on Windows), latin-1 or utf-16.") from None
            m.encoding = {"iso8859-1": "latin-1"}.get(codec, codec)
        return m

    def validate_for(self, table: str, name: str = "mapping") -> None:
        spec = CANONICAL[table]
        for src, dst in self.columns.items():
            if dst not in spec.column_names:
                raise SourceError(
                    f"{name}: '{src}' is mapped to '{dst}', which is not a column of {table}.",
                    f"Columns of {table}: {', '.join(spec.column_names)}.",
                )
        for col in self.values:
            if col not in spec.column_names:
                raise SourceError(f"{name}: value map for '{col}', which is not a column of {table}.")
        import duckdb

        con = duckdb.connect()
        try:
            for fmt in self.timestamp_format:  # a format DuckDB cannot use failed the import with its raw error
                try:
                    con.execute("SELECT try_strptime('2024-01-31 10:00', ?)", [fmt]).fetchall()
                except duckdb.Error as exc:
                    raise SourceError(f"{name}: '{fmt}' is not a timestamp format: {str(exc).splitlines()[0]}",
                                      "Use strptime codes, e.g. %d/%m/%Y %H:%M.") from None
        finally:
            con.close()


def import_csv(
    ws: Workspace,
    path: str | Path,
    table: Optional[str] = None,
    mapping: Optional[Mapping | str | Path] = None,
    progress: Optional[Progress] = None,
    should_stop: Optional[ShouldStop] = None,
) -> ImportResult:
    path = Path(path)
    if mapping is not None and not isinstance(mapping, Mapping):
        mapping = Mapping.load(mapping)
    mapping = mapping or Mapping()
    if table and mapping.table and table != mapping.table:
        raise SourceError(f"The mapping is for the table {mapping.table}, but --table says {table}.",
                          "Leave out --table to use the mapping's, or give a mapping for that table.")
    table = table or mapping.table
    if not table:
        raise SourceError("Say which table the CSV file holds (--table), e.g. --table ed_visits.",
                          f"Tables: {', '.join(CANONICAL)}.")
    if table not in CANONICAL:
        raise SourceError(f"'{table}' is not a HospOps table.", f"Tables: {', '.join(CANONICAL)}.")
    mapping.validate_for(table)
    with ImportSession(ws, str(path), "csv", progress, should_stop) as session:
        session.rep(0.05, f"Reading {path.name}")
        staged = session.stage_csv(path, delimiter=mapping.delimiter, encoding=mapping.encoding)
        session.rep(0.5, f"Checking {staged.rows:,} rows of {path.name}")
        exprs = column_exprs(session, staged, table, mapping)
        session.load(table, canonical_select(table, exprs, source=staged.name), staged, given=set(exprs))
        if staged.encoding != "utf-8":
            names = {"cp1252": "Windows-1252 or Latin-1 (as Excel saves CSV on Windows)", "latin-1": "Latin-1",
                     "utf-16": "UTF-16 (as Excel saves Unicode text)"}
            session.notes.append(f"{path.name} read as {names.get(staged.encoding, staged.encoding)}")
        session.rep(1.0, "Import finished")
    return session.result()



#: canonical columns a CSV may leave out although the table requires them, because the import makes them
GENERATED = {"supply_usage": {"usage_id"}}  # one id per row, from the file's hash and its record number


def required_in_source(table: str) -> list[str]:
    """The required columns of ``table`` a CSV must give (the import wizard asks for the same)."""
    return [c for c in CANONICAL[table].required if c not in GENERATED.get(table, set())]

def column_exprs(session: ImportSession, staged, table: str, mapping: Mapping) -> dict[str, Parsed | str]:
    """SQL for every canonical column of ``table`` found in the staged file."""
    spec = CANONICAL[table]
    inverse = {dst: src for src, dst in mapping.columns.items()}
    found: dict[str, str] = {}
    for col in spec.column_names:
        src = inverse.get(col)
        q = staged.col(src, required=False) if src else staged.col(col, required=False)
        if src and q is None:
            raise SourceError(
                f"{staged.path.name}: column '{src}' (mapped to {col}) is missing.",
                f"Columns found: {shown_columns(staged.columns)}.",
            )
        if q:
            found[col] = q
    if table == "patients" and "birth_year" not in found:
        # a date of birth under any name the privacy rules know (DOB, date_of_birth, birth_date): its year is
        # the birth year (the report said "birth year only" and the year was not kept at all)
        from datasets.privacy import classify_column

        dob = next((c for c in staged.columns if classify_column(c) == "birth"), None)
        if dob is not None:
            found["birth_year"] = staged.col(dob)
    missing = [c for c in required_in_source(table) if c not in found]
    if missing:
        hint = f"Columns found: {shown_columns(staged.columns)}."
        if len(staged.columns) == 1:
            hint += " Only one column was found: is the delimiter right (set `delimiter` in a mapping file)?"
        raise SourceError(
            f"{staged.path.name}: required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(repr(m) for m in missing)} missing for table {table}.",
            hint,
        )
    tz = session.tz
    country = (session.ws.settings().get("country") or "").upper()
    month_first = country in MONTH_FIRST_COUNTRIES
    decimal_comma = staged.delimiter == ";"  # semicolon-separated files are the ones written with 0,5
    exprs: dict[str, Parsed | str] = {}
    for col, q in found.items():
        src = q
        vmap = mapping.values.get(col)
        if vmap:  # (keys match whatever their case: RESUS was rejected under a "Resus" key)
            cases = " ".join(f"WHEN {sql_str(str(k).strip().lower())} THEN {sql_str(str(v))}" for k, v in vmap.items())
            src = f"(CASE lower(trim({q})) {cases} ELSE {q} END)"
        ctype = spec.column(col).type
        label = col
        if ctype != "VARCHAR":
            staged.typed.add(q[1:-1].replace('""', '"'))
        known = CATEGORIES if table == "ed_visits" else STAY_CATEGORIES if table == "stays" else {}
        if col in FREE_CATEGORIES.get(table, ()):  # a free vocabulary, but never a name or an address
            exprs[col] = Parsed(f"(CASE WHEN {says_nothing(src)} THEN NULL WHEN regexp_matches({src}, "
                                f"{sql_str(PERSONAL)}) THEN 'other' ELSE nullif(trim({src}), '') END)")
            personal = session.con.execute(
                f"SELECT count(*) FROM {staged.name} s WHERE regexp_matches({src}, {sql_str(PERSONAL)})"
            ).fetchone()[0]
            if personal:
                session.notes.append(f"{staged.path.name}: {personal:,} {col} value(s) looked like personal "
                                     "details (a name, an address or a number) and were stored as 'other'")
            staged.guard_raw(q, f"CASE WHEN regexp_matches({{v}}, {sql_str(PERSONAL)}) THEN {mask_shape_sql('{v}')} "
                                "ELSE {v} END")
            continue
        if col in known:  # (after a value map: it wins for its own keys only)
            exprs[col] = Parsed(normalize_category(src, known[col]))
            # one pattern for every known wording (the whole normalization inside each copy of the raw text's
            # expression made a hostile file's reject query take over 300 s to plan); no number or e-mail in it
            words = "|".join([f"(?:{rx})" for rx in known[col].values()] + [f"^{c}$" for c in known[col]])
            staged.guard_raw(q, f"CASE WHEN regexp_matches(lower({{v}}), {sql_str(words)}) "
                                f"AND NOT regexp_matches({{v}}, '\\d{{3}}|@') THEN {{v}} "
                                f"ELSE {mask_shape_sql('{v}')} END")
            other = session.con.execute(
                f"SELECT count(*) FROM {staged.name} s WHERE {exprs[col].value} = 'other' "
                f"AND lower(trim({q})) <> 'other'").fetchone()[0]
            if other:
                session.notes.append(f"{staged.path.name}: {other:,} {col} value(s) of no known spelling were stored "
                                     f"as 'other' (name them in a mapping file's [values.{col}])")
            continue
        if col in PSEUDONYMIZED and table in PATIENT_TABLES:
            # an identifier that says nothing (N/A, -) is no identifier: both N/A patients were one pseudonym,
            # one made-up patient linking unrelated visits, and N/A was taken as a visit's id
            src = f"(CASE WHEN {says_nothing(q)} THEN NULL ELSE {src} END)"
            exprs[col] = Parsed(f"pid('{PSEUDONYMIZED[col]}', {src})")
            staged.pseudonymize(q, f"pid('{PSEUDONYMIZED[col]}', {{v}})")
        elif ctype == "TIMESTAMP" or ctype == "DATE":
            if mapping.timestamp_format:
                fmts, aware = mapping.timestamp_format, False
            else:
                fmts, aware, ambiguous = sniff_timestamp(session.con, staged, q, month_first)
                say_format(session, staged, col, fmts, ambiguous, country)
            exprs[col] = (parse_timestamp if ctype == "TIMESTAMP" else parse_date)(src, label, tz, fmts, aware)
        elif col == "birth_year":
            # a full date of birth mapped here keeps its year only; the date itself is never stored
            year = parse_int(src, label, ctype)
            as_date = f"year(TRY_CAST(try_strptime(nullif(trim({src}), ''), {DOB_FORMATS}) AS DATE))"
            exprs[col] = Parsed(f"coalesce({year.value}, {as_date})",
                                f"CASE WHEN ({as_date}) IS NULL THEN {year.error} END")
            staged.birth_columns.add(q[1:-1].replace('""', '"'))
        elif table == "ed_visits" and col == "acuity":
            # ESI-2, CTAS 3, Triage 1, Level 4: the number. Tried only where the value is no number (COALESCE
            # goes on only for those): in the value itself, the pattern ran on every row, and the checks that
            # name the column ran it again each
            number = parse_int(src, label, ctype, decimal_comma).value
            level = (f"TRY_CAST(regexp_extract(trim({src}), '^(?:esi|ctas|ats|mts|triage|level|lvl|category|cat|"
                     f"priority)[ _:-]*([1-5])$', 1, 'i') AS {ctype})")
            v = f"coalesce({number}, {level})"
            exprs[col] = Parsed(v, _err(src, v, label, "is not a whole number"))
        elif ctype in ("INTEGER", "TINYINT", "BIGINT"):
            exprs[col] = parse_int(src, label, ctype, decimal_comma)
        elif ctype == "DOUBLE":
            exprs[col] = parse_number(src, label, decimal_comma)
        elif ctype == "BOOLEAN":
            exprs[col] = parse_bool(src, label)
        elif ctype == "TIME":
            exprs[col] = parse_typed(src, "TIME", label)
        else:
            exprs[col] = Parsed(f"nullif(trim({src}), '')")
    if table == "supply_usage" and "usage_id" not in exprs:
        # no id in the source: derive a stable one from the file and the record, so a re-import replaces
        exprs["usage_id"] = Parsed(f"'U' || substr(md5({sql_str(staged.sha256)} || ':' || s._n), 1, 20)")
    if table == "patients" and "sex" in exprs:
        exprs["sex"] = Parsed(normalize_sex(found["sex"]), None)
    return exprs


def say_format(session: ImportSession, staged, col: str, fmts: list[str], ambiguous: bool, country: str) -> None:
    """A note of the date format a column was read in (none for ISO dates); where every date sampled reads
    day first as well as month first, which was taken and why, and how to say otherwise."""
    if not fmts:
        return
    example = format_example(fmts[0])
    if not ambiguous:
        session.notes.append(f"{staged.path.name}: {col} read in the form {example}")
        return
    order = "month first" if "%m/%d" in fmts[0] else "day first"
    why = f"the workspace's country is {country}" if country else "the workspace has no country"
    session.notes.append(
        f"{staged.path.name}: every {col} sampled reads day first and month first alike; read {order} "
        f"({example}) because {why}. If that is wrong, import again with timestamp_format = "
        f"\"{swapped(fmts[0])}\" in a mapping file.")


#: the categories of ED visits' text columns, with the words exports use for them (a pattern over the value in
#: lower case): one spelling per category, whatever the source (car, WALK IN, Admitted, Left without being seen
#: were stored as given, and grouping across sources split each category). The first pattern that matches wins.
CATEGORIES = {
    "arrival_mode": {
        "helicopter": r"helicopter|air.?ambulance|hems|\bair\b",
        "ambulance": r"ambulance|\bamb\b|paramedic|\bems\b|\b999\b|\b911\b|\b112\b",
        "walk_in": r"walk|self|\bcar\b|vehicle|private|own transport|taxi|public transport|\bbus\b|foot",
        "other": r"police|prison|transfer|other",
        "unknown": r"unknown|not known|not recorded",
    },
    "disposition": {
        "died": r"died|death|dead|deceased|expired",
        "left": r"\bleft\b|lwbs|\bdna\b|did not wait|\bdnw\b|\bama\b|\bdama\b|against medical|abscond|"
                r"self.?discharg|before (being )?(seen|treat)",
        "transferred": r"transfer|other hospital",
        "admitted": r"admit|admission|inpatient|\bward\b",
        "discharged": r"discharg|home|\bdc\b|\bgp\b",
        "other": r"other",
        "unknown": r"unknown|not known|not recorded",
    },
}


#: stays' admission type, in the words the schema documents and the bed board reads ('elective' picks the
#: planned admissions): Epic's "Elective", a PAS's "Waiting list" or "Non-elective" were stored as given
STAY_CATEGORIES = {
    "admission_type": {
        "emergency": r"emerg|urgent|non.?elective|unplanned|acute|\ba ?& ?e\b|\bae\b|\bed\b",
        "elective": r"elective|planned|waiting.?list|booked|day.?case|scheduled|routine",
        "observation": r"observ|\bobs\b",
        "transfer": r"transfer",
        "other": r"other|maternity|birth|newborn",
    },
}
#: text columns whose words are the source's own (specialties, where a patient came from or went): kept as
#: written, unless a value reads as personal details (PERSONAL)
FREE_CATEGORIES = {"stays": ("specialty", "admit_source", "discharge_disposition"), "ed_visits": ("admit_specialty",)}
#: personal details in a category: a UK postcode, a number of 6 digits or more, an e-mail address, a title or
#: a relation before a capitalised word (a name: "Mother and baby unit" is none), a house number before a
#: street. "Home to care of daughter Jane Doe, 4 Elm Rd LS6 2AA" was stored as a discharge destination
PERSONAL = (r"(?i:\b[a-z]{1,2}[0-9][0-9a-z]? ?[0-9][a-z]{2}\b)|\d{6,}|@|"
            r"\b(?i:mr|mrs|ms|miss|mx|dr|pt|son|daughter|wife|husband|mother|father|partner|care of|c/o)\.? [A-Z]|"
            r"(?i:\b\d+[a-z]? [a-z]+ (road|rd|street|st|avenue|ave|lane|ln|close|drive|way|crescent|place|court)\b)")


def normalize_category(col: str, categories: dict[str, str]) -> str:
    """SQL: a category's text as one spelling: a value already spelt so as it is, words that say nothing (N/A)
    empty, a known wording its category, and any other text 'other'. Free text is never kept as a category:
    "Admitted - Pt John Smith" behind an open quote was stored as one, a name in a canonical table. (The
    patterns run only on values not already spelt right: a WHEN per value made the import markedly slower.)"""
    low = f"lower(trim({col}))"
    own = ", ".join(sql_str(c) for c in categories)
    cases = " ".join(f"WHEN regexp_matches({low}, {sql_str(rx)}) THEN {sql_str(cat)}" for cat, rx in categories.items())
    return (f"(CASE WHEN nullif(trim({col}), '') IS NULL THEN NULL WHEN trim({col}) IN ({own}) THEN trim({col}) "
            f"WHEN {says_nothing(col)} THEN NULL {cases} ELSE 'other' END)")


def normalize_sex(col: str) -> str:
    x = f"upper(trim({col}))"
    return (
        f"CASE WHEN {x} IN ('F', 'FEMALE', 'W', 'WOMAN', '2') THEN 'F' "
        f"WHEN {x} IN ('M', 'MALE', 'MAN', '1') THEN 'M' "
        f"WHEN nullif({x}, '') IS NULL THEN NULL ELSE 'U' END"
    )
