"""The workspace store: creating, opening, refusing what is not a workspace, migrations, locking."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb
import pytest

from datasets.errors import WorkspaceError
from datasets.metrics import views_fingerprint
from datasets.store import CANONICAL, SCHEMA_VERSION, Workspace
from datasets.store import schema as schema_mod

BOOKKEEPING = {"import_runs", "import_counts", "rejects", "audit_log", "settings"}


def test_create_holds_every_canonical_and_bookkeeping_table(tmp_path):
    with Workspace.create(tmp_path / "a.hospops", timezone="Europe/London", country="GB") as ws:
        tables = {r[0] for r in ws.sql("SELECT table_name FROM duckdb_tables()")}
        assert set(CANONICAL) | BOOKKEEPING <= tables
        views = {r[0] for r in ws.sql("SELECT view_name FROM duckdb_views() WHERE NOT internal")}
        assert {"ed_arrivals_hourly", "ed_arrivals_daily", "census_hourly", "occupancy_daily", "los",
                "ed_los", "boarding", "supply_usage_daily"} <= views
        s = ws.settings()
        assert s["timezone"] == "Europe/London" and s["country"] == "GB"
        assert int(s["schema_version"]) == SCHEMA_VERSION
        assert ws.counts() == {t: 0 for t in CANONICAL}
        assert ws.sql("SELECT action FROM audit_log") == [("create workspace",)]


def test_reopen_keeps_data(tmp_path):
    p = tmp_path / "a.hospops"
    with Workspace.create(p) as ws:
        ws.con.execute("INSERT INTO units (unit_id, capacity) VALUES ('W1', 20)")
    with Workspace.open(p) as ws:
        assert ws.sql("SELECT unit_id, capacity FROM units") == [("W1", 20)]


def test_create_refuses_an_existing_file_and_a_bad_time_zone(tmp_path):
    p = tmp_path / "a.hospops"
    Workspace.create(p).close()
    with pytest.raises(WorkspaceError, match="already exists"):
        Workspace.create(p)
    with pytest.raises(WorkspaceError, match="not a time zone"):
        Workspace.create(tmp_path / "b.hospops", timezone="Mars/Olympus")
    assert not (tmp_path / "b.hospops").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "not a DuckDB database"),
        (b"visit_id,arrival_ts\n1,2024-01-01\n", "not a DuckDB database"),
        (bytes(range(256)) * 64, "not a DuckDB database"),
    ],
)
def test_open_refuses_files_that_are_not_workspaces(tmp_path, content, message):
    p = tmp_path / "x.hospops"
    p.write_bytes(content)
    with pytest.raises(WorkspaceError, match=message):
        Workspace.open(p)


def test_open_refuses_a_plain_duckdb_database(tmp_path):
    p = tmp_path / "plain.duckdb"
    con = duckdb.connect(str(p))
    con.execute("CREATE TABLE t (x INTEGER)")
    con.close()
    with pytest.raises(WorkspaceError, match="not a HospOps workspace"):
        Workspace.open(p)


def test_open_refuses_missing_paths_and_folders(tmp_path):
    with pytest.raises(WorkspaceError, match="no workspace"):
        Workspace.open(tmp_path / "nope.hospops")
    with pytest.raises(WorkspaceError, match="folder"):
        Workspace.open(tmp_path)


def test_open_refuses_a_newer_schema(tmp_path):
    p = tmp_path / "a.hospops"
    with Workspace.create(p) as ws:
        ws.con.execute("UPDATE settings SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    with pytest.raises(WorkspaceError, match="newer HospOps"):
        Workspace.open(p)


def test_older_schema_is_migrated_in_one_step(tmp_path, monkeypatch):
    p = tmp_path / "a.hospops"
    Workspace.create(p).close()
    monkeypatch.setattr(schema_mod, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setitem(schema_mod.MIGRATIONS, SCHEMA_VERSION + 1, ["ALTER TABLE units ADD COLUMN colour VARCHAR"])
    import datasets.store as store

    monkeypatch.setattr(store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(store, "MIGRATIONS", schema_mod.MIGRATIONS)
    with Workspace.open(p) as ws:
        assert ws.settings()["schema_version"] == str(SCHEMA_VERSION + 1)
        assert "colour" in [r[0] for r in ws.sql("DESCRIBE units")]
        assert ("migrate schema",) in ws.sql("SELECT action FROM audit_log")


def test_a_read_only_open_of_an_older_schema_upgrades_it_first(tmp_path):
    p = tmp_path / "a.hospops"
    Workspace.create(p).close()
    with Workspace.open(p) as ws:  # as a workspace of schema 3 was: no supply_stock table yet
        ws.con.execute("DROP TABLE supply_stock")
        ws.con.execute("UPDATE settings SET value = '3' WHERE key = 'schema_version'")
    with Workspace.open(p, read_only=True) as ws:
        assert ws.read_only
        assert ws.settings()["schema_version"] == str(SCHEMA_VERSION)
        assert ws.sql("SELECT count(*) FROM supply_stock") == [(0,)]
        assert ("migrate schema",) in ws.sql("SELECT action FROM audit_log")


def _age_views(p):
    with Workspace.open(p) as ws:  # as a workspace from an older HospOps: same schema, other view SQL
        ws.con.execute("CREATE OR REPLACE VIEW census_hourly AS SELECT 'stale' AS unit_id")
        ws.con.execute("DROP MACRO TABLE census_window")  # a macro the older version did not have
        ws.con.execute("UPDATE settings SET value = 'older' WHERE key = 'views'")


def test_views_from_another_version_are_replaced_on_a_writable_open_only(tmp_path):
    p = tmp_path / "a.hospops"
    Workspace.create(p).close()
    _age_views(p)
    window = "SELECT count(*) FROM census_window(TIMESTAMP '2024-01-01', TIMESTAMP '2024-01-02')"
    with Workspace.open(p, read_only=True) as ws:  # a read-only open writes nothing...
        assert ws.sql("SELECT unit_id FROM census_hourly") == [("stale",)]
        assert ws.settings()["views"] == "older"
        assert ws.sql(window) == [(0,)]  # ...but the macros newer pages call exist for its connection
    with Workspace.open(p, read_only=True) as ws:
        assert ws.settings()["views"] == "older"
    with Workspace.open(p) as ws:
        assert ws.sql("SELECT count(*) FROM census_hourly") == [(0,)]
        assert "census" in [r[0] for r in ws.sql("DESCRIBE census_hourly")]
        assert ws.sql(window) == [(0,)] and ws.settings()["views"] == views_fingerprint()
    with pytest.raises(WorkspaceError, match="cannot be changed"):
        with Workspace.open(p) as ws:
            ws.set_setting("views", "x")


def test_unknown_country_is_refused(tmp_path):
    with pytest.raises(WorkspaceError, match="not a country code"):
        Workspace.create(tmp_path / "a.hospops", country="ZZ")
    assert not (tmp_path / "a.hospops").exists()
    with Workspace.create(tmp_path / "b.hospops", country="GB") as ws:
        with pytest.raises(WorkspaceError, match="not a country code"):
            ws.set_setting("country", "XX")


def test_failed_migration_leaves_the_workspace_as_it_was(tmp_path, monkeypatch):
    p = tmp_path / "a.hospops"
    Workspace.create(p).close()
    import datasets.store as store

    monkeypatch.setattr(store, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    monkeypatch.setattr(store, "MIGRATIONS", {SCHEMA_VERSION + 1: ["ALTER TABLE units ADD COLUMN c1 VARCHAR",
                                                                     "THIS IS NOT SQL"]})
    with pytest.raises(duckdb.Error):
        Workspace.open(p)
    monkeypatch.undo()
    with Workspace.open(p) as ws:
        assert ws.settings()["schema_version"] == str(SCHEMA_VERSION)
        assert "c1" not in [r[0] for r in ws.sql("DESCRIBE units")]


def test_a_workspace_in_use_by_another_process_is_refused_clearly(tmp_path):
    p = tmp_path / "a.hospops"
    Workspace.create(p).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from datasets.store import Workspace
            ws = Workspace.open({str(p)!r})
            print("open", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WorkspaceError, match=r"in use by process \d+"):
            Workspace.open(p)
    finally:
        holder.communicate("", timeout=30)


def test_settings_changes_are_validated_and_audited(ws):
    ws.set_setting("country", "FR")
    assert ws.settings()["country"] == "FR"
    with pytest.raises(WorkspaceError):
        ws.set_setting("timezone", "Nowhere/Land")
    with pytest.raises(WorkspaceError, match="cannot be changed"):
        ws.set_setting("schema_version", "99")
    assert ws.sql("SELECT action, target FROM audit_log WHERE action = 'change setting'") == [("change setting", "country")]


def test_pseudonyms_are_keyed_per_workspace(tmp_path):
    with Workspace.create(tmp_path / "a.hospops") as a, Workspace.create(tmp_path / "b.hospops") as b:
        pa = a.sql("SELECT pid('patient', '10000032')")[0][0]
        pb = b.sql("SELECT pid('patient', '10000032')")[0][0]
        assert pa.startswith("P") and pa != pb
        assert "10000032" not in pa
        assert a.sql("SELECT pid('patient', '10000032')")[0][0] == pa  # stable within a workspace
        assert a.sql("SELECT pid('stay', '10000032')")[0][0] != pa  # kinds are separate
        assert a.sql("SELECT pid('patient', NULL), pid('patient', '  ')")[0] == (None, None)


def test_cli_names_match_schema_and_importers():
    from datasets.importers import FORMATS
    from datasets.names import FORMATS as NAMED_FORMATS, TABLES
    from datasets.store import CANONICAL

    assert tuple(CANONICAL) == TABLES
    assert tuple(FORMATS) == NAMED_FORMATS
