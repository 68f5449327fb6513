"""Hostile input: generated malformed extracts thrown at every importer (csv, mimic, synthea, omop, fhir).

Each property starts from small real extracts (trimmed copies of the samples in ``shared/anchors/ehr``, see
MAPPING.md there) or generated ED-visit files, damages them the way real extracts get damaged (truncated or
fake gzip, random bytes, wrong encodings, huge fields, quotes and newlines inside fields, formula cells,
missing, extra and ragged columns, malformed NDJSON lines, empty files) and checks, for every example:

- the import either finishes or is refused with a :class:`HospOpsError` whose message is readable; any other
  exception is a bug;
- the books balance: rows read = loaded + rejected for every table of every file, in the result and in
  ``import_runs`` / ``import_counts``; the rejects table holds exactly the rejected rows; every canonical
  table grew by what was loaded less what was replaced;
- a refused import leaves every table exactly as it was (the workspace template already holds data);
- nothing is written outside the workspace's own files: the source folder is unchanged, the temp folder
  the import sees (``TMPDIR``, pointed at an empty folder) stays empty, the workspace folder holds only the
  workspace's files;
- no source identifier (MRN, subject/stay/visit ids, FHIR ids, SSN, names, addresses) is stored anywhere.

Every example copies one workspace template made once per session, so each costs an import, not a create.
Outcomes (loaded / partly rejected / refused) are counted per importer; with ``HOSPOPS_HOSTILE_REPORT=FILE``
the counts are written there as JSON at the end of the session (``benchmarks/import_encrypted.py`` uses it
for BENCHMARKS.md). ``HOSPOPS_HOSTILE_SCALE=N`` multiplies the number of examples (local fuzzing).
"""
from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import os
import random
import re
import shutil
import subprocess
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from datasets.errors import HospOpsError
from datasets.importers import run_import
from datasets.store import CANONICAL, Workspace

REPO = Path(__file__).resolve().parents[2]
ANCHORS = REPO.parent / "shared" / "anchors" / "ehr"
needs_anchors = pytest.mark.skipif(not ANCHORS.is_dir(), reason=f"EHR sample extracts not found at {ANCHORS}")

SCALE = max(1, int(os.environ.get("HOSPOPS_HOSTILE_SCALE", "1") or 1))


def examples(n: int) -> settings:
    return settings(max_examples=n * SCALE, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# ---------------------------------------------------------------------------------------------- outcome collector
OUTCOMES: dict[str, Counter] = defaultdict(Counter)


@pytest.fixture(scope="session", autouse=True)
def _hostile_report():
    """Write the outcome counts to ``$HOSPOPS_HOSTILE_REPORT`` (JSON) when the session ends."""
    yield
    target = os.environ.get("HOSPOPS_HOSTILE_REPORT")
    if target and OUTCOMES:
        report = {fmt: dict(c) for fmt, c in sorted(OUTCOMES.items())}
        Path(target).write_text(json.dumps({"scale": SCALE, "outcomes": report}, indent=2) + "\n")


# ---------------------------------------------------------------------------------------------- workspace checks
def workspace_text(ws: Workspace) -> str:
    tables = [r[0] for r in ws.sql("SELECT table_name FROM duckdb_tables() WHERE NOT temporary")]
    return "\n".join(ws.df(f"SELECT * FROM {t}").to_csv(index=False) for t in tables)


def leaked(text: str, values) -> set[str]:
    return {v for v in values if re.search(rf"(?<![0-9A-Za-z]){re.escape(v)}(?![0-9A-Za-z])", text)}


def contents(ws: Workspace) -> dict[str, tuple[int, str]]:
    """(rows, hash of the sorted rows) of every stored table."""
    tables = [r[0] for r in ws.sql("SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1")]
    return {
        t: tuple(ws.sql(f"SELECT count(*), coalesce(md5(string_agg(CAST(x AS VARCHAR), '|' "
                        f"ORDER BY CAST(x AS VARCHAR))), '') FROM {t} x")[0])
        for t in tables
    }


def listing(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in folder.rglob("*")} if folder.exists() else {}


@dataclass
class Template:
    path: Path
    contents: dict
    counts: dict

    def __repr__(self) -> str:
        return f"Template({self.path.name})"


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> Template:
    """A workspace that already holds data (units, patients, ED visits), so 'unchanged' means something."""
    folder = tmp_path_factory.mktemp("hostile_template")
    path = folder / "template.hospops"
    units = folder / "units.csv"
    units.write_text("unit_id,name,kind,capacity\nW-OAK,Oak Ward,ward,20\nICU-1,Intensive Care,icu,8\n")
    visits = folder / "ed.csv"
    visits.write_text("visit_id,patient_id,arrival_ts,departure_ts,acuity\n"
                      "TV1,TP1,2024-01-01 10:00:00,2024-01-01 12:00:00,3\n"
                      "TV2,TP2,2024-01-01 11:00:00,2024-01-01 15:30:00,2\n")
    with Workspace.create(path, timezone="America/New_York") as ws:
        run_import(ws, units, "csv", table="units")
        run_import(ws, visits, "csv", table="ed_visits")
        snap = contents(ws)
        counts = ws.counts()
    assert sorted(p.name for p in folder.iterdir()) == ["ed.csv", "template.hospops", "units.csv"]
    return Template(path, snap, counts)


@contextlib.contextmanager
def temp_folder(folder: Path):
    """Point TMPDIR (and Python's tempfile) at ``folder`` for the duration."""
    old_env, old_dir = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"] = str(folder)
    tempfile.tempdir = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = old_dir
        if old_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = old_env


def check_message(exc: HospOpsError) -> None:
    msg = str(exc)
    assert msg.strip(), "empty error message"
    assert "Traceback" not in msg and "File \"" not in msg, msg
    assert len(msg) < 1500, f"message too long to read ({len(msg)} chars): {msg[:300]}"
    assert "\x00" not in msg and "\x1b" not in msg, "control characters in the message"
    # DuckDB errors that mean our own SQL broke on the data (a reader's 'Invalid Input Error' is the file's fault)
    for bug in ("Binder Error", "Catalog Error", "Parser Error", "TransactionContext Error", "INTERNAL Error",
                "Internal Error", "Conversion Error", "Out of Range Error", "Not implemented", "transaction is aborted"):
        assert bug not in msg, msg


def check_books(ws: Workspace, result, before_counts: dict) -> int:
    """The counts add up everywhere; returns the number of rejected rows."""
    run = result.run_id
    for c in result.counts:
        assert min(c.read, c.loaded, c.rejected, c.updated) >= 0, c
        assert c.read == c.loaded + c.rejected, c
    stored = sorted(ws.sql("SELECT table_name, file, rows_read, rows_loaded, rows_rejected, rows_updated "
                           "FROM import_counts WHERE run_id = ?", [run]))
    assert stored == sorted((c.table, c.file, c.read, c.loaded, c.rejected, c.updated) for c in result.counts)
    read, loaded, rejected = ws.sql("SELECT rows_read, rows_loaded, rows_rejected FROM import_runs WHERE run_id = ?",
                                    [run])[0]
    assert (read, loaded, rejected) == (sum(c.read for c in result.counts), sum(c.loaded for c in result.counts),
                                        sum(c.rejected for c in result.counts))
    assert read == loaded + rejected
    assert ws.sql("SELECT count(*) FROM rejects WHERE run_id = ?", [run])[0][0] == rejected
    after = ws.counts()
    for table in CANONICAL:
        t = result.tables().get(table, {"loaded": 0, "updated": 0})
        assert after[table] == before_counts[table] + t["loaded"] - t["updated"], (table, t, before_counts, after)
    # the session's staging tables are gone
    assert ws.sql("SELECT count(*) FROM duckdb_tables() WHERE temporary AND table_name LIKE '\\_%' ESCAPE '\\'")[0][0] == 0
    return rejected


def attempt(fmt: str, build: Callable[[Path], Path], secrets: set[str], template: Template, base: Path,
            **kwargs) -> str:
    """Import what ``build(folder)`` writes into a copy of the template and check every promise; the outcome."""
    case = Path(tempfile.mkdtemp(prefix="case_", dir=base))
    try:
        src_dir, ws_dir, tmp_dir = case / "src", case / "ws", case / "tmp"
        for d in (src_dir, ws_dir, tmp_dir):
            d.mkdir()
        source = build(src_dir)
        ws_path = ws_dir / "w.hospops"
        shutil.copyfile(template.path, ws_path)
        src_before = listing(src_dir)
        with temp_folder(tmp_dir), Workspace.open(ws_path) as ws:
            try:
                result = run_import(ws, source, fmt, **kwargs)
            except HospOpsError as exc:
                check_message(exc)
                assert contents(ws) == template.contents, "a refused import changed the workspace"
                outcome = "refused"
            else:
                rejected = check_books(ws, result, template.counts)
                outcome = "partly rejected" if rejected else "loaded"
            found = leaked(workspace_text(ws), secrets)
            assert not found, f"source identifiers stored in the workspace: {sorted(found)[:5]}"
        assert listing(src_dir) == src_before, "the source folder was changed"
        assert not any(tmp_dir.iterdir()), f"written to the temp folder: {[p.name for p in tmp_dir.iterdir()]}"
        extra = [p.name for p in ws_dir.iterdir() if not p.name.startswith("w.hospops")]
        assert not extra, f"written beside the workspace: {extra}"
        assert sorted(p.name for p in case.iterdir()) == ["src", "tmp", "ws"]
        if outcome == "refused":  # still a workspace, still openable, still the same after reopening
            with Workspace.open(ws_path, read_only=True) as ws:
                assert contents(ws) == template.contents
        OUTCOMES[fmt][outcome] += 1
        return outcome
    finally:
        shutil.rmtree(case, ignore_errors=True)


@pytest.fixture(scope="session")
def base(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hostile_cases")


# ---------------------------------------------------------------------------------------------- damage
FORMULAS = ['=HYPERLINK("http://evil.example/x","click")', "+cmd|' /C calc'!A0", "@SUM(A1:A9)", "-2+3+cmd|x",
            '=1+1', "\t=2*3"]
JUNK = ["", " ", "NULL", "\\N", "NaN", "-1", "0", "1e309", "99999999999999999999", "2024-13-45 25:61:00",
        "31/31/2024", "yesterday", "é ü ß “q” 中文", "\u2028", "0x1F", "true", "=1", "..", "'", "--", "\\"]
HUGE = [5_000, 200_000, 2_300_000]


@dataclass
class Table:
    header: list[str]
    rows: list[list[str]]

    @classmethod
    def parse(cls, text: str) -> "Table":
        rows = list(csv.reader(io.StringIO(text, newline="")))
        return cls(rows[0], rows[1:])

    def text(self) -> str:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([self.header, *self.rows])
        return out.getvalue()


def _cell(draw, t: Table) -> Optional[tuple[int, int]]:
    if not t.rows:
        return None
    i = draw(st.integers(0, len(t.rows) - 1))
    if not t.rows[i]:
        return None
    return i, draw(st.integers(0, len(t.rows[i]) - 1))


ROW_DAMAGE = ["formula", "quoted", "huge", "unicode", "junk", "blank", "swap", "ragged_more", "ragged_less",
              "dup_row", "dup_header", "drop_col", "drop_header_col", "extra_col", "header_case", "no_rows"]
TEXT_DAMAGE = ["truncate", "unterminated_quote", "raw_newline", "nul", "crlf", "bom", "latin1", "utf16",
               "garbage_tail", "binary_line", "random_bytes", "empty"]


def damage_table(draw, t: Table, kind: str) -> set[str]:
    """Damage ``t`` in place; returns the values moved into another column (see :func:`csv_damage`)."""
    cell = _cell(draw, t)
    if kind == "formula" and cell:
        t.rows[cell[0]][cell[1]] = draw(st.sampled_from(FORMULAS))
    elif kind == "quoted" and cell:
        t.rows[cell[0]][cell[1]] += draw(st.sampled_from([',a,"b"', '\nsecond line', '"', '""', "\r\n", ",,,"]))
    elif kind == "huge" and cell:
        t.rows[cell[0]][cell[1]] = "x" * draw(st.sampled_from(HUGE))
    elif kind == "unicode" and cell:
        t.rows[cell[0]][cell[1]] = draw(st.text(min_size=1, max_size=30))
    elif kind == "junk" and cell:
        t.rows[cell[0]][cell[1]] = draw(st.sampled_from(JUNK))
    elif kind == "blank" and cell:
        t.rows[cell[0]][cell[1]] = ""
    elif kind == "swap" and cell and len(t.rows[cell[0]]) > 1:
        r = t.rows[cell[0]]
        j = draw(st.integers(0, len(r) - 1))
        r[cell[1]], r[j] = r[j], r[cell[1]]
        if j != cell[1]:
            return {r[cell[1]], r[j]}
    elif kind == "ragged_more" and cell:
        t.rows[cell[0]] += ["surplus"] * draw(st.integers(1, 3))
    elif kind == "ragged_less" and cell:
        t.rows[cell[0]] = t.rows[cell[0]][: cell[1]]
    elif kind == "dup_row" and cell:
        t.rows.insert(draw(st.integers(0, len(t.rows))), list(t.rows[cell[0]]))
    elif kind == "dup_header":
        t.rows.insert(draw(st.integers(0, len(t.rows))), list(t.header))
    elif kind in ("drop_col", "drop_header_col") and len(t.header) > 1:
        j = draw(st.integers(0, len(t.header) - 1))
        del t.header[j]
        if kind == "drop_col":
            for r in t.rows:
                if j < len(r):
                    del r[j]
    elif kind == "extra_col":
        t.header.append(draw(st.sampled_from(["EXTRA", "Patient Name", "notes", t.header[0]])))
        for r in t.rows:
            r.append(draw(st.sampled_from(["", "x", FORMULAS[0]])))
    elif kind == "header_case":
        t.header = [h.upper() if draw(st.booleans()) else h.lower() for h in t.header]
    elif kind == "no_rows":
        t.rows = []
    return set()


def damage_bytes(draw, data: bytes, kind: str) -> bytes:
    pos = draw(st.integers(0, max(len(data) - 1, 0)))
    if kind == "truncate":
        return data[:pos]
    if kind == "unterminated_quote":
        return data[:pos] + b'"' + data[pos:]
    if kind == "raw_newline":
        return data[:pos] + b"\n" + data[pos:]
    if kind == "nul":
        return data[:pos] + b"\x00" + data[pos:]
    if kind == "crlf":
        return data.replace(b"\n", b"\r\n")
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "latin1":
        return data.decode("utf-8", "replace").replace("e", "é", 3).encode("latin-1", "replace")
    if kind == "utf16":
        return data.decode("utf-8", "replace").encode("utf-16")
    if kind == "garbage_tail":
        return data + draw(st.binary(min_size=1, max_size=200))
    if kind == "binary_line":
        nl = data.find(b"\n", pos)
        nl = len(data) if nl < 0 else nl + 1
        return data[:nl] + draw(st.binary(min_size=1, max_size=80)) + b"\n" + data[nl:]
    if kind == "random_bytes":
        return draw(st.binary(min_size=1, max_size=3000))
    if kind == "empty":
        return b""
    return data


@st.composite
def csv_damage(draw, text: str, gz: bool = False) -> tuple[bytes, set[str]]:
    """A damaged copy of the CSV ``text`` (gzip-compressed, and maybe damaged as gzip, when ``gz``).

    Also returns the values a swap moved into another column: an identifier typed into a column HospOps
    reads (a date, a unit name) is not known to be one and is kept like any value there (SECURITY.md says
    so), so those are not checked for.
    """
    t = Table.parse(text)
    displaced: set[str] = set()
    for kind in draw(st.lists(st.sampled_from(ROW_DAMAGE), min_size=0, max_size=3)):
        displaced |= damage_table(draw, t, kind)
    data = t.text().encode("utf-8")
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):  # byte-level damage in three cases of five
        data = damage_bytes(draw, data, draw(st.sampled_from(TEXT_DAMAGE)))
    if gz:
        how = draw(st.sampled_from(["gzip", "gzip", "gzip", "truncated gzip", "plain text", "gzip garbage"]))
        if how != "plain text":
            packed = gzip.compress(data, mtime=0)
            if how == "truncated gzip":
                packed = packed[: draw(st.integers(0, max(len(packed) - 1, 0)))]
            elif how == "gzip garbage":
                packed = packed[:10] + draw(st.binary(min_size=1, max_size=500))
            data = packed
    return data, displaced


# ---------------------------------------------------------------------------------------------- samples
@dataclass
class Extract:
    """A small real extract: file name -> text, and the source identifiers it holds."""

    files: dict[str, str]
    secrets: set[str] = field(default_factory=set)

    def __repr__(self) -> str:  # short: hypothesis prints the arguments of a failing example
        return f"Extract({sorted(self.files)}, {len(self.secrets)} identifiers)"

    def write(self, folder: Path, replaced: dict[str, bytes]) -> None:
        for name, text in self.files.items():
            p = folder / name
            p.parent.mkdir(parents=True, exist_ok=True)
            data = replaced.get(name)
            if data is None:
                data = text.encode("utf-8")
                if name.endswith(".gz"):
                    data = gzip.compress(data, mtime=0)
            p.write_bytes(data)


def _read(path: Path) -> str:
    if path.suffix == ".gz":
        with gzip.open(path, "rt", encoding="utf-8", newline="") as fh:
            return fh.read()
    return path.read_text(encoding="utf-8")


def _keep(text: str, pred: Callable[[dict], bool], limit: Optional[int] = None) -> tuple[Table, list[dict]]:
    t = Table.parse(text)
    rows = [r for r in t.rows if pred(dict(zip(t.header, r)))]
    if limit is not None:
        rows = rows[:limit]
    return Table(t.header, rows), [dict(zip(t.header, r)) for r in rows]


@pytest.fixture(scope="session")
def mimic_extract() -> Extract:
    hosp = ANCHORS / "mimic_iv_demo" / "hosp"
    pats, prow = _keep(_read(hosp / "patients.csv.gz"), lambda r: True)
    subjects = sorted({r["subject_id"] for r in prow})[:6]
    pats, prow = _keep(_read(hosp / "patients.csv.gz"), lambda r: r["subject_id"] in subjects)
    adm, arow = _keep(_read(hosp / "admissions.csv.gz"), lambda r: r["subject_id"] in subjects)
    tr, trow = _keep(_read(hosp / "transfers.csv.gz"), lambda r: r["subject_id"] in subjects)
    secrets = set(subjects) | {r["hadm_id"] for r in arow} | {r["transfer_id"] for r in trow}
    # an ED module (edstays + triage with free text) built from the ED transfers, with new stay ids
    ed = Table(["subject_id", "hadm_id", "stay_id", "intime", "outtime", "gender", "race", "arrival_transport",
                "disposition"], [])
    tri = Table(["subject_id", "stay_id", "temperature", "heartrate", "acuity", "chiefcomplaint"], [])
    for k, r in enumerate(x for x in trow if x["eventtype"] == "ED"):
        sid = str(39100000 + k)
        secrets.add(sid)
        ed.rows.append([r["subject_id"], r["hadm_id"], sid, r["intime"], r["outtime"], "F", "WHITE",
                        ["WALK IN", "AMBULANCE"][k % 2], "ADMITTED" if r["hadm_id"] else "HOME"])
        complaint = f"CHIEF{k:04d}X fell at home"
        secrets.add(f"CHIEF{k:04d}X")
        tri.rows.append([r["subject_id"], sid, "98.6", "80", str(1 + k % 5), complaint])
    return Extract({"hosp/patients.csv.gz": pats.text(), "hosp/admissions.csv.gz": adm.text(),
                    "hosp/transfers.csv.gz": tr.text(), "ed/edstays.csv.gz": ed.text(), "ed/triage.csv": tri.text()},
                   secrets)


@pytest.fixture(scope="session")
def synthea_extract() -> Extract:
    root = ANCHORS / "synthea_csv"
    _, srow = _keep(_read(root / "supplies.csv"), lambda r: True, limit=40)
    _, first = _keep(_read(root / "patients.csv"), lambda r: True, limit=8)
    wanted = {r["PATIENT"] for r in srow} | {r["Id"] for r in first}
    pats, prow = _keep(_read(root / "patients.csv"), lambda r: r["Id"] in wanted)
    ids = {r["Id"] for r in prow}
    enc, erow = _keep(_read(root / "encounters.csv"),
                      lambda r: r["PATIENT"] in ids and r["ENCOUNTERCLASS"] in ("emergency", "inpatient", "urgentcare"))
    other, orow = _keep(_read(root / "encounters.csv"), lambda r: r["PATIENT"] in ids, limit=8)
    enc.rows += [r for r in other.rows if r not in enc.rows]
    encs = {r["Id"] for r in erow + orow}
    sup, _ = _keep(_read(root / "supplies.csv"), lambda r: r["ENCOUNTER"] in encs, limit=30)
    secrets = ids | encs
    for r in prow:
        secrets |= {r[c] for c in ("SSN", "DRIVERS", "PASSPORT", "FIRST", "LAST", "ADDRESS") if r[c]}
    return Extract({"patients.csv": pats.text(), "encounters.csv": enc.text(), "supplies.csv": sup.text()}, secrets)


def _omop(folder: Path, n_person: int) -> Extract:
    """Trimmed OMOP tables with ids moved to 7-digit ranges, so a leaked id is recognisable."""
    def lower(t: Table) -> dict[str, int]:
        return {h.lower(): i for i, h in enumerate(t.header)}

    files: dict[str, str] = {}
    secrets: set[str] = set()
    shift = {"person_id": 7100000, "visit_occurrence_id": 7200000, "preceding_visit_occurrence_id": 7200000,
             "visit_detail_id": 7300000, "parent_visit_detail_id": 7300000, "visit_detail_parent_id": 7300000,
             "device_exposure_id": 7400000}
    person = Table.parse((folder / _name(folder, "person")).read_text())
    keep_p = {r[lower(person)["person_id"]] for r in person.rows[:n_person]}
    visits = Table.parse((folder / _name(folder, "visit_occurrence")).read_text())
    vi = lower(visits)
    vrows = [r for r in visits.rows if r[vi["person_id"]] in keep_p]
    chosen = [r for r in vrows if r[vi["visit_concept_id"]] in ("9201", "9203", "262")][:40] + \
             [r for r in vrows if r[vi["visit_concept_id"]] not in ("9201", "9203", "262")][:8]
    keep_v = {r[vi["visit_occurrence_id"]] for r in chosen}
    for name in ("person", "visit_occurrence", "visit_detail", "care_site", "death", "device_exposure"):
        fname = _name(folder, name)
        if fname is None:
            continue
        t = Table.parse((folder / fname).read_text())
        ix = lower(t)
        if name == "visit_occurrence":
            t.rows = chosen
        elif "visit_occurrence_id" in ix and name != "device_exposure":
            t.rows = [r for r in t.rows if r[ix["visit_occurrence_id"]] in keep_v]
        elif "person_id" in ix:
            t.rows = [r for r in t.rows if r[ix["person_id"]] in keep_p]
        for col, off in shift.items():
            if col in ix:
                for r in t.rows:
                    v = r[ix[col]].strip()
                    if v.isdigit() and int(v) > 0:
                        r[ix[col]] = str(off + int(v))
                        if col in ("person_id", "visit_occurrence_id", "visit_detail_id"):
                            secrets.add(r[ix[col]])
        if "person_source_value" in ix:
            secrets |= {r[ix["person_source_value"]] for r in t.rows if r[ix["person_source_value"]]}
        files[fname] = t.text()
    return Extract(files, secrets)


def _name(folder: Path, table: str) -> Optional[str]:
    for p in folder.iterdir():
        if p.name.lower() == table + ".csv":
            return p.name
    return None


@pytest.fixture(scope="session")
def omop_extracts() -> dict[str, Extract]:
    return {"5.4": _omop(ANCHORS / "omop_eunomia" / "synthea27nj_5.4", 28),
            "5.3": _omop(ANCHORS / "omop_eunomia" / "gibleed_5.3", 25)}


@pytest.fixture(scope="session")
def fhir_extract() -> Extract:
    root = ANCHORS / "fhir_bulk_ndjson"
    secrets: set[str] = set()
    patients = (root / "Patient.000.ndjson").read_text().splitlines()
    for line in patients:
        p = json.loads(line)
        secrets.add(p["id"])
        secrets |= {i["value"] for i in p.get("identifier", []) if i.get("value")}
        for n in p.get("name", []):
            secrets |= {x for x in [n.get("family"), *n.get("given", [])] if x}
        secrets |= {t["value"] for t in p.get("telecom", []) if t.get("value")}
        for a in p.get("address", []):
            secrets |= set(a.get("line", []))
    keep, other = [], []
    for line in (root / "Encounter.000.ndjson").read_text().splitlines():
        e = json.loads(line)
        (keep if e["class"]["code"] in ("EMER", "IMP") else other).append(line)
    encounters = keep[:40] + other[:8]
    for line in encounters:
        secrets.add(json.loads(line)["id"])
    files = {"Patient.000.ndjson": "\n".join(patients) + "\n", "Encounter.000.ndjson": "\n".join(encounters) + "\n",
             "Location.000.ndjson": (root / "Location.000.ndjson").read_text()}
    return Extract(files, secrets)


@st.composite
def damaged_folder(draw, extract: Extract) -> tuple[dict[str, bytes], set[str]]:
    """Damage one or two files of a CSV extract: their new bytes, and the identifiers still to look for."""
    out: dict[str, bytes] = {}
    displaced: set[str] = set()
    names = sorted(extract.files)
    for name in draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True)):
        out[name], moved = draw(csv_damage(extract.files[name], gz=name.endswith(".gz")))
        displaced |= moved
    return out, extract.secrets - displaced


def build_folder(extract: Extract, replaced: dict[str, bytes], drop: Optional[str] = None):
    def build(folder: Path) -> Path:
        root = folder / "extract"
        root.mkdir()
        extract.write(root, replaced)
        if drop:
            (root / drop).unlink()
        return root

    return build


# ---------------------------------------------------------------------------------------------- csv importer
_ID = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=7, max_size=7)


@st.composite
def ed_visit_file(draw):
    """An ED-visits CSV (maybe gzip) with MRN-/VIS-/NAME- tokens, then damaged like any extract."""
    n = draw(st.integers(1, 15))
    t = Table(["visit_id", "MRN", "arrival_ts", "departure_ts", "acuity", "Patient Name", "disposition"], [])
    secrets = set()
    for _ in range(n):
        mrn, vis, name = "MRN" + draw(_ID), "VIS" + draw(_ID), "NAME" + draw(_ID)
        secrets |= {mrn, vis, name}
        arr = draw(st.sampled_from(["2024-03-01 10:00:00", "2024-03-01T10:00:00", "2024-03-31 01:30:00", ""]))
        dep = draw(st.sampled_from(["2024-03-01 14:00:00", "2024-02-01 09:00:00", "", "later"]))
        t.rows.append([vis, mrn, arr, dep, draw(st.sampled_from(["1", "3", "5", "9", "", "x"])), name,
                       draw(st.sampled_from(["admitted", "discharged", FORMULAS[0], ""]))])
    gz = draw(st.booleans())
    data, displaced = draw(csv_damage(t.text(), gz=gz))
    return ("ed.csv.gz" if gz else "ed.csv"), data, secrets - displaced


@examples(20)
@given(case=ed_visit_file(), mapped=st.booleans())
def test_hostile_csv_and_gzip_files(case, mapped, template, base):
    name, data, secrets = case

    def build(folder: Path) -> Path:
        (folder / name).write_bytes(data)
        return folder / name

    kwargs = {"table": "ed_visits"}
    if mapped:
        mapping = base / "ed_mapping.toml"
        if not mapping.exists():
            mapping.write_text('table = "ed_visits"\n[columns]\n"MRN" = "patient_id"\n')
        kwargs = {"mapping": mapping}
    attempt("csv", build, secrets, template, base, **kwargs)


# ---------------------------------------------------------------------------------------------- EHR importers
@needs_anchors
@examples(12)
@given(data=st.data())
def test_hostile_mimic_extracts(data, mimic_extract, template, base):
    replaced, secrets = data.draw(damaged_folder(mimic_extract))
    drop = data.draw(st.sampled_from([None, None, None, "ed/triage.csv", "ed/edstays.csv.gz", "hosp/patients.csv.gz"]))
    if drop in replaced:
        drop = None
    attempt("mimic", build_folder(mimic_extract, replaced, drop), secrets, template, base)


@needs_anchors
@examples(12)
@given(data=st.data())
def test_hostile_synthea_extracts(data, synthea_extract, template, base):
    replaced, secrets = data.draw(damaged_folder(synthea_extract))
    attempt("synthea", build_folder(synthea_extract, replaced), secrets, template, base)


@needs_anchors
@examples(12)
@given(data=st.data(), version=st.sampled_from(["5.3", "5.4"]))
def test_hostile_omop_extracts(data, version, omop_extracts, template, base):
    extract = omop_extracts[version]
    replaced, secrets = data.draw(damaged_folder(extract))
    attempt("omop", build_folder(extract, replaced), secrets, template, base)


NOT_OBJECTS = ["[1,2,3]", "42", '"Encounter"', "null", "{}", "true", "{", "}", '{"resourceType":', "\x00", "[]",
               '{"resourceType":"Encounter"}{"resourceType":"Patient"}']
WRONG = {
    "id": [123, {"a": 1}, None, "", "Patient/..", "x" * 5000],
    "period": ["yesterday", {"start": 5}, {"start": "2020-99-99T00:00:00Z"}, {"end": "2020-01-01"}, [1]],
    "class": ["EMER", [{"code": "EMER"}], {"code": 7}, {"coding": "IMP"}],
    "subject": ["Patient/x", {"reference": 7}, {"reference": ""}, {"reference": "Patient?identifier=a|b"}],
    "location": [{}, "ward", [{"location": {"reference": FORMULAS[0]}}], [None], [{"period": {"start": "bad"}}]],
    "birthDate": [19700101, "1970-99-99", "", "=1+1"],
    "gender": [["female"], "F", 1],
    "resourceType": [5, "Alien", None],
    "status": ["entered-in-error", "cancelled", 1, None],
    "name": [FORMULAS[0], 5, [{"family": FORMULAS[0]}]],
    "hospitalization": ["home", {"dischargeDisposition": {"coding": [{"code": 7}]}}],
}


@st.composite
def ndjson_damage(draw, text: str) -> bytes:
    lines = text.splitlines()
    for kind in draw(st.lists(st.sampled_from(["bad_json", "not_object", "wrong_type", "huge", "blank", "dup",
                                               "extra_key", "deep", "drop_key"]), min_size=1, max_size=3)):
        if not lines:
            lines = ["{}"]
        i = draw(st.integers(0, len(lines) - 1))
        if kind == "bad_json":
            lines[i] = lines[i][: draw(st.integers(0, max(len(lines[i]) - 1, 0)))]
        elif kind == "not_object":
            lines.insert(i, draw(st.sampled_from(NOT_OBJECTS)))
        elif kind in ("wrong_type", "huge", "extra_key", "drop_key"):
            try:
                obj = json.loads(lines[i])
            except (ValueError, RecursionError):
                continue
            if not isinstance(obj, dict):
                continue
            if kind == "wrong_type":
                key = draw(st.sampled_from(sorted(WRONG)))
                obj[key] = draw(st.sampled_from(WRONG[key]))
            elif kind == "huge":
                obj[draw(st.sampled_from(["status", "note", "id"]))] = "x" * draw(st.sampled_from(HUGE))
            elif kind == "extra_key":
                obj[draw(st.sampled_from(["zzz", "_class", "Class", "ID"]))] = draw(st.sampled_from(JUNK))
            elif obj:
                obj.pop(draw(st.sampled_from(sorted(obj))))
            lines[i] = json.dumps(obj, ensure_ascii=draw(st.booleans()))
        elif kind == "blank":
            lines.insert(i, draw(st.sampled_from(["", "   ", "\t"])))
        elif kind == "dup":
            lines.insert(i, lines[i])
        elif kind == "deep":
            depth = draw(st.sampled_from([50, 2000]))
            lines.insert(i, '{"resourceType":"Encounter","id":"deep","x":' + "[" * depth + "]" * depth + "}")
    data = ("\n".join(lines) + "\n").encode("utf-8")
    if draw(st.sampled_from([False, False, True])):
        data = damage_bytes(draw, data, draw(st.sampled_from(TEXT_DAMAGE)))
    return data


@needs_anchors
@examples(14)
@given(data=st.data(), single_file=st.booleans())
def test_hostile_fhir_exports(data, single_file, fhir_extract, template, base):
    names = sorted(fhir_extract.files)
    replaced = {n: data.draw(ndjson_damage(fhir_extract.files[n]))
                for n in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True))}
    if single_file:
        name = data.draw(st.sampled_from(sorted(replaced)))

        def build(folder: Path) -> Path:
            (folder / name).write_bytes(replaced[name])
            return folder / name
    else:
        build = build_folder(fhir_extract, replaced)
    attempt("fhir", build, fhir_extract.secrets, template, base)


# ---------------------------------------------------------------------------------------------- fixed hard cases
@needs_anchors
def test_files_that_are_empty_or_not_what_their_name_says(fhir_extract, mimic_extract, synthea_extract, omop_extracts,
                                                          template, base):
    """Each importer, two of its files in turn: empty, random bytes, or a different format."""
    rnd = random.Random(6)
    cases = [("mimic", mimic_extract), ("synthea", synthea_extract), ("omop", omop_extracts["5.4"]),
             ("fhir", fhir_extract)]
    kinds = [b"", bytes(rnd.randrange(256) for _ in range(512)), b'{"resourceType": "Patient"}\n',
             b"a,b,c\n1,2,3\n"]
    k = 0
    for fmt, extract in cases:
        names = sorted(extract.files)
        for name in (names[0], names[-1]):
            data = kinds[k % len(kinds)]
            k += 1
            if name.endswith(".gz") and data:
                data = gzip.compress(data, mtime=0)
            attempt(fmt, build_folder(extract, {name: data}), extract.secrets, template, base)


def test_a_field_longer_than_the_reader_allows_is_a_clear_refusal_or_a_reject(template, base):
    """A 3 MB field (CSV) and a 20 MB NDJSON line: past DuckDB's line and object size limits."""
    def csv_build(folder: Path) -> Path:
        (folder / "ed.csv").write_text("visit_id,patient_id,arrival_ts\nV1,MRNHUGE1,2024-01-01 10:00:00\n"
                                       f"V2,MRNHUGE2,{'9' * 3_000_000}\nV3,MRNHUGE3,2024-01-01 11:00:00\n")
        return folder / "ed.csv"

    def json_build(folder: Path) -> Path:
        (folder / "Patient.ndjson").write_text('{"resourceType":"Patient","id":"PHUGE1","gender":"male"}\n'
                                               '{"resourceType":"Patient","id":"PHUGE2","note":"'
                                               + "x" * 20_000_000 + '"}\n')
        return folder / "Patient.ndjson"

    attempt("csv", csv_build, {"MRNHUGE1", "MRNHUGE2", "MRNHUGE3"}, template, base, table="ed_visits")
    attempt("fhir", json_build, {"PHUGE1", "PHUGE2"}, template, base)


# ---------------------------------------------------------------------------------------------- the command line
HOSPOPS = REPO / ".venv" / "bin" / "hospops"


@pytest.mark.skipif(not HOSPOPS.exists(), reason="the hospops command is not installed in .venv")
def test_hospops_import_of_hostile_files_says_why_without_a_traceback(tmp_path):
    src = tmp_path / "src"
    (src / "mimic" / "hosp").mkdir(parents=True)
    full = gzip.compress(b"subject_id,gender,anchor_age,anchor_year,anchor_year_group,dod\n"
                         + b"10000001,F,40,2150,2011 - 2013,\n" * 200)
    (src / "mimic" / "hosp" / "patients.csv.gz").write_bytes(full[: len(full) // 2])
    (src / "ed.csv").write_bytes(bytes(random.Random(1).randrange(256) for _ in range(4000)))
    (src / "Encounter.ndjson").write_text('{"resourceType":"Encounter","id":"E1","class":{"code":"EMER"}\n[1,2\n')
    tmp, logs = tmp_path / "tmp", tmp_path / "logs"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "HOSPOPS_LOG_DIR": str(logs), "HOSPOPS_PASSPHRASE": ""}
    env.pop("HOSPOPS_PASSPHRASE")
    cases = [(src / "ed.csv", ["--format", "csv", "--table", "ed_visits"]),
             (src / "mimic", ["--format", "mimic"]),
             (src / "Encounter.ndjson", ["--format", "fhir"])]
    ws = tmp_path / "ws" / "w.hospops"
    ws.parent.mkdir()
    for path, args in cases:
        p = subprocess.run([str(HOSPOPS), "import", str(ws), str(path), *args, "--json"], capture_output=True,
                           text=True, env=env, timeout=120)
        assert p.returncode != 0, p.stdout
        assert "Traceback" not in p.stderr and "internal error" not in p.stderr, p.stderr
        assert p.stderr.startswith("hospops: error: ") and len(p.stderr.strip()) > len("hospops: error: "), p.stderr
        assert p.stdout.strip() == ""
        # a refused first import leaves no workspace behind, and nothing anywhere else
        assert list(ws.parent.iterdir()) == []
        assert not logs.exists() and list(tmp.iterdir()) == []
    # into an existing workspace: refused, and the workspace is as it was
    with Workspace.create(ws) as w:
        before = contents(w)
    for path, args in cases:
        p = subprocess.run([str(HOSPOPS), "import", str(ws), str(path), *args], capture_output=True, text=True,
                           env=env, timeout=120)
        assert p.returncode != 0 and "Traceback" not in p.stderr and p.stderr.startswith("hospops: error: "), p.stderr
    with Workspace.open(ws, read_only=True) as w:
        assert contents(w) == before
    assert sorted(p.name for p in ws.parent.iterdir()) == ["w.hospops"]
