"""Pseudonyms (a true HMAC), rejected rows without source identifiers, the import's privacy report, suppression."""
from __future__ import annotations

import gzip
import hashlib
import hmac
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

from datasets.importers import run_import
from datasets.privacy import (
    classify_column,
    neutralize_formula,
    prepare_export,
    pseudonym,
    suppress,
    suppression_note,
)
from datasets.store import SCHEMA_VERSION, Workspace

ANCHORS = Path(__file__).resolve().parents[2].parent / "shared" / "anchors" / "ehr"
needs_anchors = pytest.mark.skipif(not ANCHORS.is_dir(), reason=f"EHR sample extracts not found at {ANCHORS}")


def workspace_text(ws: Workspace) -> str:
    """Every value of every table of the workspace, as text."""
    tables = [r[0] for r in ws.sql("SELECT table_name FROM duckdb_tables() WHERE NOT temporary")]
    return "\n".join(ws.df(f"SELECT * FROM {t}").to_csv(index=False) for t in tables)


def leaked(text: str, values) -> set[str]:
    """The values found in ``text`` as whole tokens (not inside a longer word or hex string)."""
    return {v for v in values if re.search(rf"(?<![0-9A-Za-z]){re.escape(v)}(?![0-9A-Za-z])", text)}


# ---------------------------------------------------------------------------------------------- pseudonyms
def test_pid_is_hmac_sha256_of_kind_and_value_with_the_workspace_secret(ws):
    secret = ws.settings()["pid_secret"]
    assert ws.settings()["pid_scheme"] == "hmac-sha256"
    expected = "P" + hmac.new(bytes.fromhex(secret), b"patient\x1f10000032", hashlib.sha256).hexdigest()[:20]
    assert ws.sql("SELECT pid('patient', ' 10000032 ')")[0][0] == expected
    assert pseudonym(secret, "patient", 10000032) == expected
    # not the old secret-prefix construction
    assert expected[1:] != hashlib.sha256((secret + "patient\x1f10000032").encode()).hexdigest()[:20]


def test_pseudonyms_link_across_imports_and_reopening(ws, tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("patient_id,sex,birth_year\nMRN001,F,1970\n")
    b = tmp_path / "b.csv"
    b.write_text("visit_id,patient_id,arrival_ts\nV1,MRN001,2024-01-01 10:00:00\n")
    run_import(ws, a, "csv", table="patients")
    path = ws.path
    ws.close()
    with Workspace.open(path) as ws2:
        run_import(ws2, b, "csv", table="ed_visits")
        assert ws2.sql("SELECT count(*) FROM ed_visits JOIN patients USING (patient_id)")[0][0] == 1
        assert not leaked(workspace_text(ws2), {"MRN001", "V1"})


def test_schema_1_workspace_keeps_its_pseudonyms_and_loses_raw_identifiers(tmp_path):
    p = tmp_path / "old.hospops"
    with Workspace.create(p) as ws:
        secret = ws.settings()["pid_secret"]
        legacy = "P" + hashlib.sha256(f"{secret}patient\x1fMRN9".encode()).hexdigest()[:20]
        # make it look like a schema-1 workspace holding a pseudonym and a reject with the source identifier
        ws.con.execute("DELETE FROM settings WHERE key = 'pid_scheme'")
        ws.con.execute("UPDATE settings SET value = '1' WHERE key = 'schema_version'")
        ws.con.execute("DROP TABLE import_privacy")
        ws.con.execute("INSERT INTO patients (patient_id) VALUES (?)", [legacy])
        ws.con.execute("INSERT INTO rejects VALUES (1, 'patients', 'p.csv', 2, 'sex', 'bad', 'MRN9,Q,1970')")
    with Workspace.open(p) as ws:
        assert ws.settings()["schema_version"] == str(SCHEMA_VERSION)
        assert ws.sql("SELECT pid('patient', 'MRN9')")[0][0] == legacy
        assert ws.sql("SELECT raw FROM rejects") == [("xxx9,x,9999",)]
        assert ws.sql("SELECT count(*) FROM import_privacy")[0][0] == 0


# ---------------------------------------------------------------------------------------------- rejects
def test_rejected_rows_keep_pseudonyms_birth_years_and_nothing_unread(ws, tmp_path):
    f = tmp_path / "patients.csv"
    f.write_text(
        "MRN,Sex,DOB,Patient Name,Phone,birth_year\n"
        "A1001,F,1970-03-04,Ada Lovelace,0123 456,1970\n"  # line 2 good
        "A1002,F,1980-05-06,Grace Hopper,0987 654,18\n"  # line 3 birth year out of range
        'A1003,M,"1990-07-08",Alan Turing,0555 111,1990,extra\n'  # line 4 too many fields
        "A1005,F,2001-02-03,\"Smith, Jane\",0555 333,20x1\n"  # line 5 bad year, quoted comma
        "A1004,M,1991-01-01,Joan Clarke,0555 222\n"  # line 6 too few fields
    )
    mapping = tmp_path / "m.toml"
    mapping.write_text('table = "patients"\n[columns]\n"MRN" = "patient_id"\n"Sex" = "sex"\n"birth_year" = "birth_year"\n')
    r = run_import(ws, f, "csv", mapping=mapping)
    c = r.tables()["patients"]
    assert (c["read"], c["loaded"], c["rejected"]) == (5, 1, 4)
    raw = dict(ws.sql("SELECT line, raw FROM rejects"))
    p2, p5 = ws.sql("SELECT pid('patient', 'A1002'), pid('patient', 'A1005')")[0]
    assert raw[3] == f"{p2},F,1980,,,99"  # MRN pseudonymized, DOB to its year (a non-year: its shape), no name
    assert raw[5] == f"{p5},F,2001,,,99x9"
    assert raw[4] == "x9999,x,9999-99-99,xxxx xxxxxx,9999 999,9999,xxxxx"  # fields do not line up: shape only
    assert raw[6] == "x9999,x,9999-99-99,xxxx xxxxxx,9999 999"
    text = workspace_text(ws)
    secrets_ = {"A1001", "A1002", "A1003", "A1004", "A1005", "Lovelace", "Hopper", "Turing", "Clarke", "Smith",
                "1970-03-04", "1980-05-06", "0987 654", "0555 111"}
    assert not leaked(text, secrets_)
    # the import report says what was transformed, and it is stored with the run
    actions = {(p["column"], p["action"]) for p in r.privacy}
    assert {("MRN", "pseudonymized"), ("DOB", "birth year only"), ("Patient Name", "not imported"),
            ("Phone", "not imported")} <= actions
    assert ("Sex", "pseudonymized") not in actions
    stored = set(ws.sql("SELECT column_name, action FROM import_privacy WHERE run_id = ?", [r.run_id]))
    assert stored == actions
    assert r.to_json()["privacy"] and any("pseudonymized" in s for s in r.privacy_summary())


def test_a_date_of_birth_mapped_to_birth_year_keeps_the_year_only(ws, tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("id,born,sex\nQ1,1970-03-04,F\nQ2,04/05/1980,M\nQ3,1875,F\nQ4,31-31-1990,M\n")
    m = tmp_path / "m.toml"
    m.write_text('table = "patients"\n[columns]\n"id" = "patient_id"\n"born" = "birth_year"\n')
    r = run_import(ws, f, "csv", mapping=m)
    assert r.tables()["patients"]["loaded"] == 3
    assert sorted(x[0] for x in ws.sql("SELECT birth_year FROM patients")) == [1875, 1970, 1980]
    (raw, reason), = ws.sql("SELECT raw, reason FROM rejects")
    assert raw.endswith(",1990,M") and "31-31-1990" not in reason and "'99-99-9999'" in reason
    assert ("born", "birth year only") in {(p["column"], p["action"]) for p in r.privacy}


def _corrupt_gz(src: Path, dst: Path, extra: str) -> None:
    with gzip.open(src, "rt") as fh:
        text = fh.read()
    with gzip.open(dst, "wt") as fh:
        fh.write(text + extra)


@needs_anchors
def test_mimic_with_bad_rows_stores_no_source_identifier(tmp_path):
    src = ANCHORS / "mimic_iv_demo" / "hosp"
    root = tmp_path / "mimic"
    (root / "hosp").mkdir(parents=True)
    _corrupt_gz(src / "patients.csv.gz", root / "hosp" / "patients.csv.gz",
                "19990001,F,notanage,2150,2011 - 2013,\n19990002,M,40\n")
    shutil.copy(src / "admissions.csv.gz", root / "hosp" / "admissions.csv.gz")
    _corrupt_gz(src / "transfers.csv.gz", root / "hosp" / "transfers.csv.gz",
                "19990001,29990001,39990001,transfer,Ward X,2150-13-01 00:00:00,\n"
                "19990002,29990002,39990002,transfer,Ward X,2150-01-01,2150-01-02,surplus\n")
    ids = set()
    for name, cols in (("patients", [0]), ("admissions", [0, 1]), ("transfers", [0, 1, 2])):
        with gzip.open(root / "hosp" / f"{name}.csv.gz", "rt") as fh:
            for line in list(fh)[1:]:
                fields = line.rstrip("\n").split(",")
                ids |= {fields[i] for i in cols if i < len(fields) and fields[i]}
    assert {"19990001", "29990001", "39990002"} <= ids
    with Workspace.create(tmp_path / "w.hospops", timezone="America/New_York") as ws:
        r = run_import(ws, root, "mimic")
        assert r.tables()["patients"]["rejected"] == 2 and r.tables()["movements"]["rejected"] >= 2
        assert not leaked(workspace_text(ws), ids)
        raw = ws.sql("SELECT raw FROM rejects WHERE table_name = 'movements' AND reason LIKE '%date and time%'")[0][0]
        assert raw.startswith(ws.sql("SELECT pid('patient', '19990001') || ',' || pid('stay', '29990001')")[0][0])


@needs_anchors
def test_synthea_patients_names_addresses_and_ssn_are_never_stored(tmp_path):
    root = tmp_path / "synthea"
    shutil.copytree(ANCHORS / "synthea_csv", root)
    lines = (root / "patients.csv").read_text().splitlines()
    header = lines[0].split(",")
    bad = lines[1].split(",")
    bad[header.index("BIRTHDATE")] = "1968-31-31"
    (root / "patients.csv").write_text("\n".join(lines + [",".join(bad), lines[2] + ",surplus"]) + "\n")
    sensitive = set()
    for line in lines[1:]:
        f = line.split(",")
        for col in ("Id", "SSN", "DRIVERS", "PASSPORT", "FIRST", "LAST", "ADDRESS"):
            if f[header.index(col)]:
                sensitive.add(f[header.index(col)])
    with Workspace.create(tmp_path / "w.hospops") as ws:
        r = run_import(ws, root, "synthea")
        assert r.tables()["patients"]["rejected"] == 2
        assert not leaked(workspace_text(ws), sensitive)
        reason = ws.sql("SELECT reason FROM rejects WHERE reason LIKE 'BIRTHDATE%'")[0][0]
        assert "1968-31-31" not in reason


@needs_anchors
def test_fhir_rejects_keep_pseudonymous_ids_and_birth_years(tmp_path):
    root = tmp_path / "fhir"
    shutil.copytree(ANCHORS / "fhir_bulk_ndjson", root)
    with open(root / "Patient.000.ndjson", "a") as fh:
        fh.write('{"resourceType":"Patient","id":"pat-secret-1","gender":"female","birthDate":"x1975-02-31"}\n')
    with Workspace.create(tmp_path / "w.hospops") as ws:
        run_import(ws, root, "fhir")
        raw, reason = ws.sql("SELECT raw, reason FROM rejects WHERE table_name = 'patients'")[0]
        assert ws.sql("SELECT pid('patient', 'pat-secret-1')")[0][0] in raw and "1975" in raw
        assert not leaked(workspace_text(ws), {"pat-secret-1", "x1975-02-31"})
        assert "1975-02-31" not in reason and "x9999-99-99" in reason


def test_classify_column():
    assert classify_column("Subject ID") == "id:patient"
    assert classify_column("hadm_id") == "id:stay"
    assert classify_column("DOB") == "birth"
    assert classify_column("Patient Name") == "drop"
    assert classify_column("care_site_id") is None and classify_column("visit_concept_id") is None


# ---------------------------------------------------------------------------------------------- suppression
def test_suppression_blanks_small_counts_and_protects_them_from_totals():
    df = pd.DataFrame({"unit": ["A", "B", "C"], "admitted": [25, 4, 30], "discharged": [12, 40, 50]}).set_index("unit")
    out, n = suppress(df, ["admitted", "discharged"], threshold=10)
    assert pd.isna(out.loc["B", "admitted"])
    # B's row and the admitted column each need a second blank so 4 cannot be recomputed from totals
    assert int(out.isna().sum().sum()) == n and n >= 3
    for r in out.index:
        assert out.loc[r].isna().sum() != 1
    for c in out.columns:
        assert out[c].isna().sum() != 1
    assert df.loc["B", "admitted"] == 4  # input untouched
    assert "suppressed" in suppression_note(n)


def test_suppression_keeps_zeros_and_large_counts_and_honours_the_threshold():
    df = pd.DataFrame({"n": [0, 11, 50, 3, 70]})
    out, n = suppress(df, ["n"], threshold=10)
    assert out["n"][0] == 0 and out["n"][2] == 50 and out["n"][4] == 70
    assert pd.isna(out["n"][3]) and pd.isna(out["n"][1]) and n == 2  # 3, and the smallest other non-zero count
    out5, n5 = suppress(pd.DataFrame({"n": [6, 60, 70]}), ["n"], threshold=5)
    assert n5 == 0 and out5["n"].tolist() == [6, 60, 70]


def test_suppression_with_published_totals():
    df = pd.DataFrame(
        {"mon": [30, 2, 40, 72], "tue": [25, 35, 50, 110], "total": [55, 37, 90, 182]},
        index=["W1", "W2", "W3", "All"],
    )
    out, n = suppress(df, ["mon", "tue"], threshold=10, total_rows=["All"], total_cols=["total"])
    assert pd.isna(out.loc["W2", "mon"])
    # W2's row total and Monday's total are published: W2/tue and another Monday cell go too
    assert pd.isna(out.loc["W2", "tue"]) and out["mon"].isna().sum() == 2
    assert out.loc["All", "total"] == 182 and out.loc["W2", "total"] == 37  # totals kept
    body = out.loc[["W1", "W2", "W3"], ["mon", "tue"]]
    assert all(body.loc[r].isna().sum() != 1 for r in body.index)
    assert all(body[c].isna().sum() != 1 for c in body.columns)
    assert n == int(out.isna().sum().sum()) == 4
    # different measures that are never summed along a row: protect along columns only
    m = pd.DataFrame({"admitted": [4, 50, 60], "discharged": [40, 55, 70]})
    out2, n2 = suppress(m, ["admitted", "discharged"], groups=[])
    assert n2 == 2 and out2["discharged"].notna().all()
    # a small total is suppressed as well
    out3, _ = suppress(pd.DataFrame({"a": [3, 4], "t": [3, 4]}), ["a"], total_cols=["t"])
    assert out3["t"].isna().all()


def test_prepare_export_suppresses_and_neutralizes():
    df = pd.DataFrame({"unit": ["=cmd()", "W2", "W3"], "n": [3, 40, 50]})
    out, note = prepare_export(df, ["n"])
    assert out["unit"].tolist()[0] == "'=cmd()" and out["n"].isna().sum() == 2
    assert "1 to 10" in note and "2 cell(s)" in note
    assert df["unit"][0] == "=cmd()"


def test_formula_cells_are_neutralized():
    assert neutralize_formula('=HYPERLINK("http://x","y")') == "'=HYPERLINK(\"http://x\",\"y\")"
    assert neutralize_formula("-12.5") == "-12.5" and neutralize_formula(3) == 3
    assert neutralize_formula("-inf") == "'-inf"  # a name to a spreadsheet, not a number
    assert neutralize_formula("+cmd|' /C calc'!A0").startswith("'")


# ---------------------------------------------------------------------------------------------- hostile input
from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from datasets.errors import SourceError  # noqa: E402

_ID = st.text("ABCDEFGHJKLMNPQRSTUVWXYZ23456789", min_size=6, max_size=6)
_JUNK = st.sampled_from(['=HYPERLINK("http://x","y")', "+cmd|' /C calc'!A0", "", "é ü ß", '"', '""', "a;b", "\t",
                         "2024-13-45 25:61:00", "x" * 300, "@SUM(A1)", "0", "-3", "99"])


@st.composite
def hostile_rows(draw):
    """ED visit rows whose identifiers are MRN-/VIS-tokens and names NAME-tokens, with structural damage."""
    n = draw(st.integers(1, 12))
    rows, secrets_ = [], set()
    for _ in range(n):
        mrn, vis, name = "MRN" + draw(_ID), "VIS" + draw(_ID), "NAME" + draw(_ID)
        secrets_ |= {mrn, vis, name}
        arrival = draw(st.sampled_from(["2024-03-01 10:00:00", "01/03/2024 10:00", "", "soon"]))
        acuity = draw(st.one_of(st.sampled_from(["1", "3", "5", "9"]), _JUNK))
        shown_name = draw(st.sampled_from([name, f'"{name}, Jr"', f'"{name}\nsecond line"', f"{name} =1+1"]))
        fields = [vis, mrn, arrival, acuity, shown_name]
        damage = draw(st.sampled_from(["none", "none", "extra", "short", "junk"]))
        if damage == "extra":
            fields.append(draw(_JUNK).replace(",", ""))
        elif damage == "short":
            fields = fields[: draw(st.integers(2, 4))]
        elif damage == "junk":
            fields[3] = draw(_JUNK).replace(",", "").replace('"', "").replace("\n", "")
        rows.append(",".join(fields))
    return rows, secrets_


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=hostile_rows(), encoding=st.sampled_from(["utf-8", "latin-1"]))
# found by CI: a quote left open in a read field (acuity) swallows the next row, identifiers and all, into the
# reject's reason and raw text
@example(data=(['VIS222222,MRN222222,2024-03-01 10:00:00,",NAME222222'] * 2,
               {"MRN222222", "NAME222222", "VIS222222"}), encoding="utf-8")
def test_hostile_csv_never_stores_an_identifier_and_the_books_balance(tmp_path_factory, data, encoding):
    rows, secrets_ = data
    folder = tmp_path_factory.mktemp("hostile")
    src = folder / "ed.csv"
    src.write_bytes(("visit_id,MRN,arrival_ts,acuity,Patient Name\n" + "\n".join(rows) + "\n")
                    .encode(encoding, errors="replace"))
    mapping = folder / "m.toml"
    mapping.write_text('table = "ed_visits"\n[columns]\n"MRN" = "patient_id"\n')
    with Workspace.create(folder / "w.hospops") as ws:
        try:
            r = run_import(ws, src, "csv", mapping=mapping)
        except SourceError:
            assert ws.counts()["ed_visits"] == 0
            return
        t = r.tables()["ed_visits"]
        assert t["read"] == t["loaded"] + t["rejected"]
        assert ws.sql("SELECT count(*) FROM rejects")[0][0] == t["rejected"]
        assert not leaked(workspace_text(ws), secrets_)
    assert sorted(p.name for p in folder.iterdir()) == ["ed.csv", "m.toml", "w.hospops"]
