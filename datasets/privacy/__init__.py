"""Privacy helpers shared by the importers, the store and every export: pseudonyms and small-cell suppression.

Pseudonyms
    A source identifier (MRN, ``subject_id``, a FHIR ``id``) is replaced by ``K`` + the first 20 hex digits
    (80 bits) of ``HMAC-SHA256(secret, kind + "\\x1f" + value)``, where ``K`` is the upper-cased first letter
    of ``kind`` (``patient`` → ``P...``) and ``secret`` is the workspace's own random 256-bit key (the
    ``pid_secret`` setting, inside the workspace, encrypted with it when the workspace is). The same patient
    therefore links across every extract imported into one workspace, but a pseudonym cannot be looked up
    or recomputed without that workspace. The SQL macro ``pid(kind, x)`` (defined by the store on every
    connection) and :func:`pseudonym` compute the same value.

Column policy
    :func:`classify_column` says what a source column is by its name (an identifier of a patient, stay or
    visit; a date of birth; a name, address or phone number). The importers use it for the raw text of
    rejected rows: identifiers are replaced by their pseudonyms, dates of birth by the year, and every
    field HospOps does not import is left empty, so no source identifier is stored anywhere.

Small-cell suppression
    :func:`suppress` blanks counts from 1 to ``threshold`` in an aggregate table and then suppresses enough
    other cells (complementary suppression) that no blanked cell can be recovered from row or column totals.
    Every aggregate export (CSV, XLSX, PDF, clipboard) must go through it and show :data:`SUPPRESSION_NOTE`.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import re
from typing import Iterable, Optional, Sequence

__all__ = [
    "pseudonym",
    "pid_macro_sql",
    "classify_column",
    "mask_shape",
    "mask_shape_sql",
    "suppress",
    "suppression_note",
    "SUPPRESSION_NOTE",
    "DEFAULT_THRESHOLD",
    "neutralize_formula",
    "prepare_export",
]

PID_SCHEME = "hmac-sha256"  # new workspaces
LEGACY_PID_SCHEME = "keyed-sha256-v1"  # workspaces made before schema 2: sha256(secret hex || kind || US || x)
PID_HEX_DIGITS = 20


# ---------------------------------------------------------------------------------------------- pseudonyms
def _norm(value: object) -> Optional[str]:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def pseudonym(secret_hex: str, kind: str, value: object, scheme: str = PID_SCHEME) -> Optional[str]:
    """The pseudonym of ``value`` (a source identifier of ``kind``: 'patient', 'stay', 'visit', ...).

    Equal to what the SQL macro ``pid(kind, value)`` gives in the workspace whose ``pid_secret`` is
    ``secret_hex``; None for an empty value.
    """
    text = _norm(value)
    if text is None:
        return None
    msg = f"{kind}\x1f{text}".encode("utf-8")
    if scheme == LEGACY_PID_SCHEME:
        digest = hashlib.sha256(secret_hex.encode("ascii") + msg).hexdigest()
    else:
        digest = hmac.new(bytes.fromhex(secret_hex), msg, hashlib.sha256).hexdigest()
    return kind[:1].upper() + digest[:PID_HEX_DIGITS]


def pid_macro_sql(secret_hex: str, scheme: str = PID_SCHEME) -> str:
    """``CREATE TEMP MACRO pid(kind, x)``: HMAC-SHA256 in SQL (RFC 2104, the pads precomputed)."""
    if not re.fullmatch(r"(?:[0-9a-f]{2})+", secret_hex):
        raise ValueError("the pseudonym secret must be hex")
    value = "trim(CAST(x AS VARCHAR))"
    if scheme == LEGACY_PID_SCHEME:
        digest = f"sha256('{secret_hex}' || kind || chr(31) || {value})"
    else:
        key = bytes.fromhex(secret_hex)
        if len(key) > 64:
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        ipad = bytes(b ^ 0x36 for b in key).hex()
        opad = bytes(b ^ 0x5C for b in key).hex()
        inner = f"sha256(unhex('{ipad}') || encode(kind || chr(31) || {value}))"
        digest = f"sha256(unhex('{opad}') || unhex({inner}))"
    return (
        "CREATE OR REPLACE TEMP MACRO pid(kind, x) AS "
        f"CASE WHEN x IS NULL OR {value} = '' THEN NULL "
        f"ELSE upper(left(kind, 1)) || substr({digest}, 1, {PID_HEX_DIGITS}) END"
    )


# ---------------------------------------------------------------------------------------------- column policy
_ID_NAMES = {
    "patient": {
        "patient_id", "patientid", "patient", "subject_id", "subjectid", "person_id", "personid", "mrn",
        "mrn_number", "medical_record_number", "nhs_number", "nhsnumber", "nhs_no", "hospital_number",
        "hospital_no", "chi", "chi_number", "empi", "upi", "member_id", "patient_number", "pat_id",
    },
    "stay": {
        "stay_id", "hadm_id", "admission_id", "encounter", "encounter_id", "encounterid", "visit_occurrence_id",
        "preceding_visit_occurrence_id", "spell_id", "csn", "fin", "account_number", "episode_id",
    },
    "visit": {"visit_id", "ed_visit_id", "attendance_id", "ed_stay_id"},
    "record": {
        "transfer_id", "visit_detail_id", "parent_visit_detail_id", "visit_detail_parent_id",
        "device_exposure_id", "order_id", "specimen_id",
    },
}
_BIRTH_NAMES = {"dob", "birthdate", "birth_date", "date_of_birth", "birth_datetime", "birthdatetime", "birth_year",
                "year_of_birth"}
_DROP_NAMES = {
    "first", "last", "prefix", "suffix", "maiden", "first_name", "last_name", "firstname", "lastname",
    "given", "given_name", "family", "family_name", "full_name", "patient_name", "surname", "forename",
    "address", "address1", "address2", "street", "postcode", "zip", "zipcode", "phone", "telephone", "tel",
    "mobile", "email", "ssn", "social_security_number", "passport", "drivers", "note", "notes", "comment",
    "comments", "free_text",
}


def _key(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def classify_column(name: str) -> Optional[str]:
    """What a source column holds, by its name: ``'id:<kind>'``, ``'birth'``, ``'drop'`` or None (other data)."""
    k = _key(name)
    for kind, names in _ID_NAMES.items():
        if k in names:
            return f"id:{kind}"
    # DOB under the names reports give it: "Patient DOB", "Pt DOB", "DateOfBirth", "D.O.B.", "Date of Birth
    # (dd/mm/yyyy)": a date of birth is one whatever words surround it (those were "not imported")
    squashed = k.replace("_", "")
    if k in _BIRTH_NAMES or squashed.startswith(("dob", "dateofbirth", "birthdate")) or squashed.endswith(
            ("dob", "dateofbirth", "birthdate")) or "dateofbirth" in squashed:
        return "birth"
    if k in _DROP_NAMES:
        return "drop"
    return None


def mask_shape(text: str) -> str:
    """Letters → ``x``, digits → ``9``, everything else kept: the shape of a value without the value."""
    return re.sub(r"\d", "9", re.sub(r"[^\W\d_]", "x", text))


#: a word (4 letters or more) or a long number (7 digits or more): in a number or date field, what a shifted
#: row brings there, a name or a record number (the same pattern in Python's ``re`` and DuckDB's RE2)
WORDY = r"[^\W\d_]{4,}|\d{7,}"


def shape_if_wordy(text: str) -> str:
    """``text``, or its shape (:func:`mask_shape`) where it holds a :data:`WORDY` run."""
    return mask_shape(text) if re.search(WORDY, text) else text


def mask_shape_sql(expr: str) -> str:
    """SQL for :func:`mask_shape`."""
    return f"regexp_replace(regexp_replace({expr}, '\\pL', 'x', 'g'), '\\d', '9', 'g')"


def birth_year_sql(expr: str) -> str:
    """SQL keeping only the (4-digit) year of a date-of-birth text; the rest of the value is masked."""
    return (f"coalesce(nullif(regexp_extract({expr}, '(1[89]\\d\\d|2[0-2]\\d\\d)', 1), ''), "
            f"{mask_shape_sql(expr)})")


# ---------------------------------------------------------------------------------------------- exports
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralize_formula(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula (``=HYPERLINK(...)``) gets a leading ``'``.

    Numbers are returned as they are (a negative number is data, not a formula).
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        try:
            if math.isfinite(float(value)):  # ("-inf" and "-nan" are read as names, i.e. a formula)
                return value
        except ValueError:
            pass
        return "'" + value
    return value


# ---------------------------------------------------------------------------------------------- suppression
DEFAULT_THRESHOLD = 10
SUPPRESSION_NOTE = (
    "Counts from 1 to {threshold} are suppressed (shown empty), and {n} cell(s) in all were suppressed "
    "so that no small count can be worked out from the totals."
)


def suppression_note(n_suppressed: int, threshold: int = DEFAULT_THRESHOLD) -> str:
    """The sentence an export shows (in its header, footer or a note sheet) after :func:`suppress`."""
    if n_suppressed == 0:
        return f"Small-cell suppression applied (counts from 1 to {threshold}); no cell needed suppressing."
    return SUPPRESSION_NOTE.format(threshold=threshold, n=n_suppressed)


def suppress(
    df,
    count_cols: Sequence[str],
    threshold: int = DEFAULT_THRESHOLD,
    *,
    total_rows: Iterable[object] = (),
    total_cols: Iterable[str] = (),
    groups: Optional[Sequence[Sequence[str]]] = None,
):
    """Small-cell suppression of an aggregate table: ``(suppressed copy, number of cells suppressed)``.

    ``df``: a pandas DataFrame of counts (one row per category, e.g. per unit or per day).
    ``count_cols``: the columns holding counts of people or events. A count ``c`` with
    ``1 <= c <= threshold`` is *primary* suppressed (0 is not: an empty cell discloses nothing).
    ``total_rows``: index labels of rows that are totals of the other rows (e.g. ``"All units"``);
    ``total_cols``: columns that are row totals of ``count_cols``. Totals are published as they are, so
    *complementary* suppression then blanks the smallest further cell of every row and column (among the
    non-total ones) that has exactly one suppressed cell: a lone blank could be recomputed as the total
    minus the rest. When the table has no explicit totals, the column sums and row sums a reader can form
    from a published grand total are protected the same way (the margins are assumed published).
    ``groups``: lists of columns that add up to something published along a row (default: all
    ``count_cols`` form one group; pass ``[]`` when the columns are different measures that are never
    summed, e.g. admissions and discharges). Cells of total rows and columns are primary-suppressed too
    when they are small (a small total bounds every cell it sums).

    Suppressed cells become ``pandas.NA`` in a nullable integer (``Int64``) or float column; nothing else
    is changed, and the input is not modified. Use :func:`suppression_note` for the export's note.
    """
    import pandas as pd

    if threshold < 0:
        raise ValueError("threshold must be 0 or more")
    cols = [c for c in count_cols if c not in set(total_cols)]
    missing = [c for c in list(cols) + list(total_cols) if c not in df.columns]
    if missing:
        raise KeyError(f"columns not in the table: {missing}")
    out = df.copy()
    total_row_set = set(total_rows)
    body_rows = [r for r in out.index if r not in total_row_set]
    values = out.loc[body_rows, cols].apply(pd.to_numeric, errors="coerce")
    supp = values.notna() & (values >= 1) & (values <= threshold)
    groups = [list(g) for g in groups] if groups is not None else [cols]

    def protect() -> bool:
        changed = False
        # along rows: within each group of columns that adds up to a published row total
        for g in groups:
            g = [c for c in g if c in cols]
            for r in body_rows:
                row = supp.loc[r, g]
                if int(row.sum()) == 1:
                    cand = [c for c in g if not supp.loc[r, c] and pd.notna(values.loc[r, c])]
                    if cand:
                        c = min(cand, key=lambda c: (values.loc[r, c] == 0, values.loc[r, c]))
                        supp.loc[r, c] = True
                        changed = True
        # along columns: the column total is published (or can be formed from totals)
        for c in cols:
            col = supp[c]
            if int(col.sum()) == 1:
                cand = [r for r in body_rows if not supp.loc[r, c] and pd.notna(values.loc[r, c])]
                if cand:
                    r = min(cand, key=lambda r: (values.loc[r, c] == 0, values.loc[r, c]))
                    supp.loc[r, c] = True
                    changed = True
        return changed

    # a blank whose complementary cell is 0 still leaks nothing new only if the zero is also blanked;
    # iterate until every row and column has zero or at least two suppressed cells
    for _ in range(len(body_rows) * max(len(cols), 1) + 1):
        if not protect():
            break
    # totals are published unless they are small themselves
    full = pd.DataFrame(False, index=out.index, columns=list(cols) + [c for c in total_cols])
    full.loc[body_rows, cols] = supp
    all_vals = out[full.columns].apply(pd.to_numeric, errors="coerce")
    small = all_vals.notna() & (all_vals >= 1) & (all_vals <= threshold)
    for r in out.index:
        for c in full.columns:
            if (r in total_row_set or c in set(total_cols)) and small.loc[r, c]:
                full.loc[r, c] = True
    n = int(full.values.sum())
    for c in full.columns:
        if full[c].any():
            if pd.api.types.is_integer_dtype(out[c]) or pd.api.types.is_bool_dtype(out[c]):
                out[c] = out[c].astype("Int64")
            elif not pd.api.types.is_float_dtype(out[c]):
                out[c] = out[c].astype("object")
            out.loc[full.index[full[c]], c] = pd.NA
    return out, n


def prepare_export(df, count_cols: Sequence[str] = (), threshold: int = DEFAULT_THRESHOLD,
                   describes: Sequence[str] = (), **suppress_kw):
    """What every aggregate export (CSV, XLSX, PDF, clipboard) writes: ``(table, note)``.

    Counts in ``count_cols`` go through :func:`suppress` (``suppress_kw``: ``total_rows``, ``total_cols``,
    ``groups``), and every text cell and column name that a spreadsheet would run as a formula is
    neutralized. ``describes``: columns that describe the people a row counts (the mean, median and 90th
    percentile length of stay of a specialty's stays): blanked in every row whose count was suppressed, since
    the statistics of one to ten people can be theirs exactly (a specialty with one stay published that
    patient's length of stay). ``note`` is the sentence to print with the export (:func:`suppression_note`).
    """
    import pandas as pd

    out, n = suppress(df, count_cols, threshold, **suppress_kw) if count_cols else (df.copy(), 0)
    hidden = [c for c in describes if c in out.columns]
    if hidden and count_cols:
        blanked = pd.Series(False, index=out.index)
        for c in count_cols:
            if c in out.columns:
                blanked |= out[c].isna() & df[c].notna()
        if blanked.any():
            for c in hidden:
                out[c] = out[c].astype("object").where(~blanked, None)
            n += int(blanked.sum()) * len(hidden)
    for c in out.columns:
        if pd.api.types.is_object_dtype(out[c]) or pd.api.types.is_string_dtype(out[c]):
            out[c] = out[c].map(lambda v: neutralize_formula(v) if isinstance(v, str) else v)
    out.columns = [neutralize_formula(c) if isinstance(c, str) else c for c in out.columns]
    return out, suppression_note(n, threshold)
