"""The workspace schema: canonical tables, bookkeeping tables and migrations.

All timestamps are naive local hospital time (the workspace's ``timezone`` setting says which zone).
Identifiers of patients, stays and visits that came from a source system are keyed hashes, never the
source's own numbers (see ``datasets.store.Workspace.pid``).

Uniqueness of keys is enforced by the importers in SQL (duplicates are rejected with a reason), not
by index constraints: ART indexes would cost more than the whole validated import on large extracts.
"""
from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 5
APP_MARKER = "hospops-workspace"


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    doc: str = ""


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    doc: str = ""

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    def ddl(self) -> str:
        cols = ",\n    ".join(
            f"{c.name} {c.type}{' NOT NULL' if c.required else ''}" for c in self.columns
        )
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {cols}\n)"


C = Column

CANONICAL: dict[str, Table] = {
    t.name: t
    for t in (
        Table(
            "units",
            (
                C("unit_id", "VARCHAR", True, "short code, e.g. 'W07' or the source's care unit name"),
                C("name", "VARCHAR", doc="name shown to people"),
                C("kind", "VARCHAR", doc="ed, ward, icu, assessment, theatre_recovery, lounge, other"),
                C("specialty", "VARCHAR", doc="main specialty of the unit (medicine, surgery, ...)"),
                C("capacity", "INTEGER", doc="staffed beds"),
                C("sex_policy", "VARCHAR", doc="mixed, single_sex_bays, male, female"),
                C("is_inpatient", "BOOLEAN", doc="counts towards inpatient census and occupancy"),
            ),
            ("unit_id",),
            "Hospital units (wards, ICUs, the ED, pseudo-units such as the discharge lounge).",
        ),
        Table(
            "beds",
            (
                C("bed_id", "VARCHAR", True),
                C("unit_id", "VARCHAR", True),
                C("room", "VARCHAR", doc="room or bay"),
                C("side_room", "BOOLEAN", doc="single room usable for isolation"),
                C("sex", "VARCHAR", doc="M or F for a single-sex bay; NULL for any"),
                C("telemetry", "BOOLEAN"),
                C("status", "VARCHAR", doc="open, blocked, cleaning"),
            ),
            ("bed_id",),
            "Physical beds.",
        ),
        Table(
            "patients",
            (
                C("patient_id", "VARCHAR", True, "pseudonym (keyed hash of the source identifier)"),
                C("sex", "VARCHAR", doc="F, M or U"),
                C("birth_year", "INTEGER", doc="year only; dates of birth are never stored"),
                C("deceased", "BOOLEAN"),
            ),
            ("patient_id",),
        ),
        Table(
            "ed_visits",
            (
                C("visit_id", "VARCHAR", True),
                C("patient_id", "VARCHAR"),
                C("arrival_ts", "TIMESTAMP", True),
                C("departure_ts", "TIMESTAMP", doc="left the ED; NULL while still there"),
                C("acuity", "TINYINT", doc="1 (most urgent) .. 5, ESI/MTS-like"),
                C("arrival_mode", "VARCHAR", doc="walk_in, ambulance, helicopter, other, unknown"),
                C("disposition", "VARCHAR", doc="admitted, discharged, transferred, left, died, other, unknown"),
                C("decision_ts", "TIMESTAMP", doc="decision to admit (start of boarding)"),
                C("stay_id", "VARCHAR", doc="the inpatient stay this visit led to"),
                C("admit_specialty", "VARCHAR", doc="admitting specialty of a decision to admit (the bed request); "
                                                    "what a boarder waits for before the stay exists"),
            ),
            ("visit_id",),
        ),
        Table(
            "stays",
            (
                C("stay_id", "VARCHAR", True),
                C("patient_id", "VARCHAR"),
                C("admit_ts", "TIMESTAMP", True),
                C("discharge_ts", "TIMESTAMP", doc="NULL while still in hospital"),
                C("admission_type", "VARCHAR", doc="emergency, elective, observation, transfer, other"),
                C("specialty", "VARCHAR"),
                C("admit_source", "VARCHAR"),
                C("discharge_disposition", "VARCHAR"),
                C("died", "BOOLEAN"),
            ),
            ("stay_id",),
            "Inpatient stays (admission to discharge).",
        ),
        Table(
            "movements",
            (
                C("stay_id", "VARCHAR", True),
                C("seq", "INTEGER", True, "1, 2, ... in time order within the stay"),
                C("unit_id", "VARCHAR", True),
                C("bed_id", "VARCHAR"),
                C("in_ts", "TIMESTAMP", True),
                C("out_ts", "TIMESTAMP", doc="half-open [in_ts, out_ts); NULL = still there"),
            ),
            ("stay_id", "seq"),
            "Where each stay spent its time, unit by unit and bed by bed.",
        ),
        Table(
            "supply_items",
            (
                C("item_id", "VARCHAR", True),
                C("name", "VARCHAR"),
                C("category", "VARCHAR"),
                C("unit_of_measure", "VARCHAR"),
                C("pack_size", "INTEGER"),
                C("lead_time_days", "INTEGER"),
            ),
            ("item_id",),
        ),
        Table(
            "supply_usage",
            (
                C("usage_id", "VARCHAR", True),
                C("usage_date", "DATE", True),
                C("item_id", "VARCHAR", True),
                C("unit_id", "VARCHAR"),
                C("quantity", "DOUBLE", True),
                C("stay_id", "VARCHAR"),
                C("patient_id", "VARCHAR"),
            ),
            ("usage_id",),
        ),
        Table(
            "staff",
            (
                C("staff_id", "VARCHAR", True),
                C("display_name", "VARCHAR"),
                C("role", "VARCHAR", doc="RN, HCA, ..."),
                C("unit_id", "VARCHAR"),
                C("skills", "VARCHAR", doc="comma-separated: charge, icu, paeds, ..."),
                C("contract_hours", "DOUBLE", doc="hours per week"),
                C("nights_ok", "BOOLEAN"),
            ),
            ("staff_id",),
        ),
        Table(
            "shift_types",
            (
                C("shift_id", "VARCHAR", True),
                C("name", "VARCHAR"),
                C("start_time", "TIME", True),
                C("duration_h", "DOUBLE", True),
                C("is_night", "BOOLEAN"),
            ),
            ("shift_id",),
        ),
        Table(
            "requests",
            (
                C("request_id", "VARCHAR", True),
                C("staff_id", "VARCHAR", True),
                C("request_date", "DATE", True),
                C("kind", "VARCHAR", True, "leave, day_off, shift_on, shift_off"),
                C("shift_id", "VARCHAR"),
                C("weight", "INTEGER"),
            ),
            ("request_id",),
        ),
        Table(
            "supply_stock",
            (
                C("item_id", "VARCHAR", True),
                C("unit_id", "VARCHAR", True),
                C("as_of", "TIMESTAMP", True, "when the stock was counted (local time)"),
                C("on_hand", "DOUBLE", True, "units in stock at as_of"),
            ),
            ("item_id", "unit_id", "as_of"),
            "Stock on hand per item and unit, as counted or recorded by the stores system.",
        ),
    )
}

# What each import did to protect privacy, column by column of each source file (the import report's
# privacy part): action is 'pseudonymized', 'birth year only' or 'not imported'.
IMPORT_PRIVACY_DDL = """CREATE TABLE IF NOT EXISTS import_privacy (
        run_id INTEGER,
        file VARCHAR,
        column_name VARCHAR,
        action VARCHAR,
        detail VARCHAR
    )"""

# Results the app and the CLI keep: forecasts and backtests (``forecasting.store``), and bed placements a bed
# manager accepted (``optimization.beds.workspace``), which reserve their beds until the patient moves in or the
# placement is cancelled.
FORECASTS_DDL = """CREATE TABLE IF NOT EXISTS forecasts (
        run_id VARCHAR, created_at TIMESTAMP, series VARCHAR, model VARCHAR, is_best BOOLEAN,
        ds TIMESTAMP, mean DOUBLE, lo_80 DOUBLE, hi_80 DOUBLE, lo_95 DOUBLE, hi_95 DOUBLE
    )"""
BACKTESTS_DDL = """CREATE TABLE IF NOT EXISTS backtests (
        run_id VARCHAR, created_at TIMESTAMP, series VARCHAR, model VARCHAR, cutoff TIMESTAMP, ds TIMESTAMP,
        step INTEGER, y DOUBLE, mean DOUBLE, quantiles VARCHAR
    )"""
BED_PLACEMENTS_DDL = """CREATE TABLE IF NOT EXISTS bed_placements (
        placement_id VARCHAR,
        accepted_at TIMESTAMP,
        as_of TIMESTAMP,
        patient_id VARCHAR,
        stay_id VARCHAR,
        unit_id VARCHAR,
        bed_id VARCHAR,
        status VARCHAR,
        os_user VARCHAR,
        note VARCHAR
    )"""
RESULTS_DDL = [FORECASTS_DDL, BACKTESTS_DDL, BED_PLACEMENTS_DDL]

BOOKKEEPING_DDL = [
    "CREATE TABLE IF NOT EXISTS settings (key VARCHAR PRIMARY KEY, value VARCHAR)",
    "CREATE SEQUENCE IF NOT EXISTS import_run_seq START 1",
    """CREATE TABLE IF NOT EXISTS import_runs (
        run_id INTEGER PRIMARY KEY,
        started_at TIMESTAMP,
        finished_at TIMESTAMP,
        source VARCHAR,
        format VARCHAR,
        sha256 VARCHAR,
        rows_read BIGINT,
        rows_loaded BIGINT,
        rows_rejected BIGINT,
        duration_s DOUBLE,
        os_user VARCHAR,
        notes VARCHAR
    )""",
    """CREATE TABLE IF NOT EXISTS import_counts (
        run_id INTEGER,
        table_name VARCHAR,
        file VARCHAR,
        sha256 VARCHAR,
        rows_read BIGINT,
        rows_loaded BIGINT,
        rows_rejected BIGINT,
        rows_updated BIGINT
    )""",
    """CREATE TABLE IF NOT EXISTS rejects (
        run_id INTEGER,
        table_name VARCHAR,
        file VARCHAR,
        line BIGINT,
        column_name VARCHAR,
        reason VARCHAR,
        raw VARCHAR
    )""",
    IMPORT_PRIVACY_DDL,
    """CREATE TABLE IF NOT EXISTS audit_log (
        ts TIMESTAMP,
        os_user VARCHAR,
        action VARCHAR,
        target VARCHAR,
        details VARCHAR
    )""",
    *RESULTS_DDL,
]

# Each migration takes the schema from version N-1 to N; index 0 is unused (version 1 is the base).
# Append a list of SQL statements here (never edit an old one) and bump SCHEMA_VERSION.
MIGRATIONS: dict[int, list[str]] = {
    # 2: pseudonyms become a true HMAC-SHA256 for new workspaces; older ones record their keyed-hash scheme so
    # that pseudonyms already stored keep linking with new imports. Raw text of rejected rows kept by schema 1
    # could hold source identifiers: it is reduced to its shape (letters -> x, digits -> 9).
    2: [
        "INSERT OR IGNORE INTO settings VALUES ('pid_scheme', 'keyed-sha256-v1')",
        "UPDATE rejects SET raw = regexp_replace(regexp_replace(raw, '\\pL', 'x', 'g'), '\\d', '9', 'g') "
        "WHERE raw IS NOT NULL",
        IMPORT_PRIVACY_DDL,
    ],
    # 3: results tables (forecasts, backtests, accepted bed placements) are part of the schema instead of being
    # created on first use.
    3: list(RESULTS_DDL),
    # 4: stock on hand per item and unit (supply_stock), for days of cover and the stock-out risk.
    # Written out (not CANONICAL[...].ddl()) so that a later change to the table cannot change this step.
    4: [
        "CREATE TABLE IF NOT EXISTS supply_stock (\n    item_id VARCHAR NOT NULL,\n    unit_id VARCHAR NOT NULL,\n"
        "    as_of TIMESTAMP NOT NULL,\n    on_hand DOUBLE NOT NULL\n)",
    ],
    # 5: the admitting specialty of an ED decision to admit, known before the inpatient stay exists.
    5: ["ALTER TABLE ed_visits ADD COLUMN IF NOT EXISTS admit_specialty VARCHAR"],
}
