"""The hospops command line: the JSON contract, readable errors, non-zero exits, no tracebacks."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from desktop.cli import main


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def test_demo_info_and_query(tmp_path, capsys):
    ws = tmp_path / "demo.hospops"
    code, out, _ = run(capsys, "demo", ws, "--days", 40, "--json")
    assert code == 0
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["days"] == 40 and summary["ed_visits"] > 5000
    code, out, _ = run(capsys, "info", ws, "--json")
    info = json.loads(out)
    assert info["tables"]["ed_visits"]["rows"] == summary["ed_visits"] and info["timezone"] == "Europe/London"
    code, out, _ = run(capsys, "info", ws)
    assert code == 0 and "ed_visits" in out
    code, out, _ = run(capsys, "query", ws, "SELECT count(*) AS n FROM ed_visits", "--format", "csv")
    assert out.splitlines() == ["n", str(summary["ed_visits"])]
    code, out, _ = run(capsys, "query", ws, "SELECT unit_id FROM units ORDER BY 1")
    assert code == 0 and "AMU" in out


def test_demo_refuses_to_overwrite_without_force(tmp_path, capsys):
    ws = tmp_path / "x.hospops"
    ws.write_text("keep me")
    code, _, err = run(capsys, "demo", ws, "--days", 30)
    assert code == 1 and "already exists" in err and ws.read_text() == "keep me"


def test_import_json_shape_and_rejects(tmp_path, capsys):
    f = tmp_path / "ed.csv"
    f.write_text("visit_id,arrival_ts,departure_ts\nV1,2024-01-01 10:00,2024-01-01 12:00\nV2,2024-01-01 11:00,2024-01-01 09:00\n")
    ws = tmp_path / "w.hospops"
    code, out, _ = run(capsys, "import", ws, f, "--format", "csv", "--table", "ed_visits", "--json")
    assert code == 0
    result = json.loads(out)
    assert result["run_id"] == 1
    assert result["tables"]["ed_visits"] == {"read": 2, "loaded": 1, "rejected": 1, "updated": 0}
    code, out, _ = run(capsys, "import", ws, f, "--table", "ed_visits")
    assert code == 0 and "rejected" in out and "SELECT * FROM rejects" in out


@pytest.mark.parametrize(
    "args, message",
    [
        (["import", "{ws}", "{tmp}/missing.csv", "--table", "ed_visits"], "no file"),
        (["import", "{ws}", "{tmp}/empty.csv", "--table", "ed_visits"], "empty"),
        (["import", "{ws}", "{tmp}/empty.csv", "--format", "mimic", "--table", "ed_visits"], "csv format only"),
        (["info", "{tmp}/nope.hospops"], "no workspace"),
        (["info", "{tmp}/empty.csv"], "not a DuckDB database"),
        (["query", "{ws}", "DELETE FROM units"], "read-only"),
        # settings of a new workspace, given to an existing one (--timezone crashed on the closed connection)
        (["import", "{ws}", "{tmp}/empty.csv", "--table", "ed_visits", "--timezone", "America/New_York"],
         "--timezone only applies to a new workspace"),
        (["import", "{ws}", "{tmp}/empty.csv", "--table", "ed_visits", "--country", "US"],
         "--country only applies to a new workspace"),
        (["query", "{ws}", "SELEC nonsense"], "query failed"),
    ],
)
def test_errors_are_sentences_with_non_zero_exit(tmp_path, capsys, args, message):
    (tmp_path / "empty.csv").write_text("")
    ws = tmp_path / "w.hospops"
    from datasets.store import Workspace

    Workspace.create(ws).close()
    code, out, err = run(capsys, *[a.format(ws=ws, tmp=tmp_path) for a in args])
    assert code != 0 and message in err and err.startswith("hospops: error:")


def test_console_script_runs_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "desktop.cli", "info", str(tmp_path / "none.hospops")],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr and "no workspace" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "desktop.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "demo" in proc.stdout and "import" in proc.stdout


def test_query_cannot_write_or_read_other_files(tmp_path, capsys):
    ws = tmp_path / "w.hospops"
    from datasets.store import Workspace

    Workspace.create(ws).close()
    out_file = tmp_path / "leak.csv"
    code, _, err = run(capsys, "query", ws, f"COPY (SELECT * FROM settings) TO '{out_file}'")
    assert code == 1 and not out_file.exists() and "only reads the workspace" in err
    code, _, err = run(capsys, "query", ws, "   ")
    assert code == 1 and "empty" in err
    code, _, err = run(capsys, "query", ws, "SELECT 1", "--limit", "-1")
    assert code == 1 and "--limit" in err


def test_a_failed_first_import_leaves_no_workspace_behind(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    ws = tmp_path / "new.hospops"
    code, _, err = run(capsys, "import", ws, bad, "--table", "ed_visits")
    assert code == 1 and "arrival_ts" in err
    assert not ws.exists()


def test_demo_force_refuses_a_workspace_in_use(tmp_path, capsys):
    from datasets.store import Workspace

    ws_path = tmp_path / "w.hospops"
    Workspace.create(ws_path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", f"from datasets.store import Workspace; w = Workspace.open({str(ws_path)!r}); "
                               "print('open', flush=True); import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        code, _, err = run(capsys, "demo", ws_path, "--days", 30, "--force")
        assert code == 1 and "in use" in err
    finally:
        holder.communicate("", timeout=30)
    code, _, err = run(capsys, "demo", tmp_path, "--days", 30, "--force")
    assert code == 1 and "is a folder" in err


def test_error_messages_never_echo_a_whole_data_line(tmp_path, capsys):
    f = tmp_path / "Patient.ndjson"
    f.write_text('{"resourceType":"Patient","id":"x","name":[{"family":"Doe' + "x" * 200 + '"}],"telecom":"555-0100"}\n')
    code, _, err = run(capsys, "import", tmp_path / "w.hospops", f, "--format", "csv", "--table", "patients")
    assert code == 1 and "555-0100" not in err


def test_encrypted_demo_import_info_query_and_audit(tmp_path, capsys, monkeypatch):
    ws = tmp_path / "enc.hospops"
    monkeypatch.setenv("HOSPOPS_PASSPHRASE", "a long passphrase")
    code, out, _ = run(capsys, "demo", ws, "--days", 28, "--encrypt", "--json")
    assert code == 0 and json.loads(out)["encrypted"] is True
    assert b"ed_visits" not in ws.read_bytes()
    code, out, _ = run(capsys, "info", ws, "--json")
    assert code == 0 and json.loads(out)["encrypted"] is True
    code, out, _ = run(capsys, "query", ws, "SELECT count(*) AS n FROM units", "--format", "csv")
    assert code == 0 and int(out.splitlines()[1]) > 5
    src = tmp_path / "units.csv"
    src.write_text("unit_id,name,capacity\nX1,Extra ward,10\n")
    code, out, _ = run(capsys, "import", ws, src, "--table", "units", "--json")
    assert code == 0 and json.loads(out)["tables"]["units"]["loaded"] == 1
    code, out, _ = run(capsys, "audit", ws, "--json")
    entries = json.loads(out)["entries"]
    assert [e["action"] for e in entries][:2] == ["import", "build demo hospital"]
    assert entries[0]["details"]["loaded"] == 1 and entries[0]["os_user"]
    code, out, _ = run(capsys, "audit", ws, "--action", "import")
    assert code == 0 and "import" in out and "build demo" not in out
    code, _, err = run(capsys, "audit", ws, "--action", "imprt")  # a misspelt action: not an empty log
    assert code == 1 and "No audit entries have the action 'imprt'" in err and "import" in err
    monkeypatch.setenv("HOSPOPS_PASSPHRASE", "not the passphrase")
    code, _, err = run(capsys, "info", ws)
    assert code == 1 and "Wrong passphrase" in err
    monkeypatch.delenv("HOSPOPS_PASSPHRASE")
    code, _, err = run(capsys, "query", ws, "SELECT 1")  # stdin is not a terminal under pytest
    assert code == 1 and "HOSPOPS_PASSPHRASE" in err


def test_first_import_can_make_an_encrypted_workspace_and_reports_privacy(tmp_path, capsys, monkeypatch):
    ws = tmp_path / "new.hospops"
    src = tmp_path / "ed.csv"
    src.write_text("visit_id,MRN,arrival_ts,Patient Name\nV1,M0001,2024-01-01 10:00:00,Ada Lovelace\n")
    mapping = tmp_path / "m.toml"
    mapping.write_text('table = "ed_visits"\n[columns]\n"MRN" = "patient_id"\n')
    monkeypatch.setenv("HOSPOPS_PASSPHRASE", "another long passphrase")
    code, out, err = run(capsys, "import", ws, src, "--mapping", mapping, "--encrypt")
    assert code == 0, err
    assert "privacy: pseudonymized: ed.csv:visit_id, ed.csv:MRN" in out and "ed.csv:Patient Name" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ed.csv", "m.toml", "new.hospops", "new.hospops.keyinfo"]
    code, out, _ = run(capsys, "query", ws, "SELECT count(*) FROM ed_visits WHERE patient_id LIKE 'P%'", "--format", "csv")
    assert out.splitlines()[1] == "1"
    plain = tmp_path / "plain.hospops"
    run(capsys, "import", plain, src, "--mapping", mapping)
    code, _, err = run(capsys, "import", plain, src, "--mapping", mapping, "--encrypt")
    assert code == 1 and "not encrypted" in err


def test_first_import_killed_before_it_is_in_place_leaves_no_workspace(tmp_path):
    import os
    import signal

    ws = tmp_path / "new.hospops"
    src = tmp_path / "units.csv"
    src.write_text("unit_id,name\nW1,Ward one\n")
    code = (
        "import time\n"
        "import datasets.store as store\n"
        "def pause(*args):\n"
        "    print('KILL-ME', flush=True)\n"
        "    time.sleep(3600)\n"
        "real = store.replace_workspace\n"
        f"store.replace_workspace = lambda src, dst, *a: pause() if str(dst) == {str(ws)!r} else real(src, dst, *a)\n"
        "from desktop.cli import main\n"
        f"main(['import', {str(ws)!r}, {str(src)!r}, '--table', 'units'])\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "KILL-ME"  # the import has committed, the swap not yet happened
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert not ws.exists()
    assert main(["import", str(ws), str(src), "--table", "units"]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.hospops", "units.csv"]


# ---------------------------------------------------------------------- found by a new user's walkthrough
def test_demo_force_replaces_only_a_workspace(tmp_path, capsys):
    extract = tmp_path / "extract.csv"
    extract.write_text("visit_id,arrival_ts\nV1,2024-01-01 10:00\n")
    code, _, err = run(capsys, "demo", extract, "--days", 30, "--force")
    assert code == 1 and "only replaces a workspace" in err and extract.read_text().startswith("visit_id")


def test_query_limit_in_every_format_and_the_key_hidden(demo_ws, capsys):
    code, out, _ = run(capsys, "query", demo_ws, "SELECT visit_id FROM ed_visits", "--format", "csv", "--limit", 3)
    assert code == 0 and len(out.splitlines()) == 4
    code, out, _ = run(capsys, "query", demo_ws, "SELECT visit_id FROM ed_visits", "--format", "json", "--limit", 2)
    assert len(json.loads(out)["rows"]) == 2
    code, out, _ = run(capsys, "query", demo_ws, "SELECT visit_id FROM ed_visits LIMIT 70", "--format", "csv")
    assert len(out.splitlines()) == 71  # csv/json without --limit: every row
    code, out, _ = run(capsys, "query", demo_ws, "SELECT value FROM settings WHERE key = 'pid_secret'", "--format", "csv")
    assert out.splitlines() == ["value", "(hidden)"]
    # nor by the table's full name, query_table(), SUMMARIZE or a macro (a review read it through its full name)
    from datasets.store import Workspace

    with Workspace.open(demo_ws, read_only=True) as ws:
        secret = ws.settings()["pid_secret"]
        db = ws.con.execute("SELECT current_database()").fetchone()[0]
    for sql in (f'SELECT * FROM "{db}".main.settings', f"FROM query_table('{db}.settings')",
                f'SUMMARIZE "{db}".settings', "SELECT * FROM main.settings",
                f"CREATE TEMP MACRO m() AS TABLE FROM \"{db}\".settings; FROM m()"):
        code, out, err = run(capsys, "query", demo_ws, sql, "--format", "csv")
        assert secret not in out + err, sql
        assert (code == 1 and ("pseudonym key" in err or "read-only" in err)) or "(hidden)" in out, sql
    # nor through pid(): the workspace's macro held the key's HMAC pads in its SQL (duckdb_functions() and
    # EXPLAIN showed it); nor by EXPLAIN ANALYZE, which runs its statement (a failed cast quoted the key)
    pad = bytes(b ^ 0x5C for b in bytes.fromhex(secret).ljust(64, b"\0")).hex()
    for sql in ("SELECT * FROM duckdb_functions() WHERE function_name = 'pid'", "EXPLAIN SELECT pid('patient', '1')",
                f"EXPLAIN ANALYZE SELECT CAST(value AS INTEGER) FROM \"{db}\".main.settings WHERE key = 'pid_secret'",
                f"explain (format json) analyse SELECT value FROM \"{db}\".main.settings"):
        code, out, err = run(capsys, "query", demo_ws, sql, "--format", "csv")
        assert secret not in out + err and pad not in (out + err).lower(), sql
    code, out, _ = run(capsys, "query", demo_ws, "SELECT pid('patient', 'A7') AS p, pid('stay', NULL) AS s, "
                       "pid('visit', ' ') AS v", "--format", "csv")
    from datasets.privacy import pseudonym

    assert code == 0 and out.splitlines()[1] == f"{pseudonym(secret, 'patient', 'A7')},,"  # the same pseudonyms
    code, out, _ = run(capsys, "query", demo_ws, "SELECT 'nan'::DOUBLE AS x, 1.5::DOUBLE AS y", "--format", "json")
    assert json.loads(out)["rows"] == [[None, 1.5]]  # NaN is not JSON
    with pytest.raises(SystemExit):
        main(["audit", str(demo_ws), "--limit", "-3"])
    assert "below 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):  # (a negative seed crashed the demo builder)
        main(["demo", str(demo_ws) + ".new", "--seed", "-1"])
    assert "below 0" in capsys.readouterr().err


def test_bed_times_are_iso_and_inside_the_data(demo_ws, capsys):
    code, _, err = run(capsys, "beds", "board", demo_ws, "--at", "03/04/2026")
    assert code == 1 and "year-month-day" in err
    code, _, err = run(capsys, "beds", "board", demo_ws, "--at", "2026-11-16 09:00:00+05:00")
    assert code == 1 and "UTC offset" in err  # (the offset was dropped: 09:00 local shown)
    code, _, err = run(capsys, "beds", "outlook", demo_ws, "--at", "2030-01-01T00:00")
    assert code == 1 and "outside the data" in err
    code, out, err = run(capsys, "beds", "board", demo_ws, "--at", "2026-11-22T12:00", "--json")
    assert code == 0 and "after the last record" in err and json.loads(out)["beds"]


def test_encrypted_workspace_opens_for_planning_commands(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HOSPOPS_PASSPHRASE", "correct horse battery")
    ws = tmp_path / "enc.hospops"
    assert run(capsys, "demo", ws, "--days", 30, "--encrypt")[0] == 0
    code, out, err = run(capsys, "beds", "board", ws, "--at", "2026-11-16T09:00", "--json")
    assert code == 0 and json.loads(out)["beds"], err
    code, out, err = run(capsys, "supplies", ws, "--json")
    assert code == 0, err
    monkeypatch.setenv("HOSPOPS_PASSPHRASE", "wrong passphrase!")
    code, _, err = run(capsys, "beds", "board", ws, "--at", "2026-11-16T09:00")
    assert code == 1 and "passphrase" in err.lower()


def test_stock_file_errors_and_delimiters(demo_ws, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("item,on_hand\nIV-SET@ICU,abc\n")
    code, _, err = run(capsys, "supplies", demo_ws, "--on-hand", bad)
    assert code == 1 and "line 2" in err and "'abc'" in err
    semi = tmp_path / "semi.csv"
    semi.write_text("item;on_hand\nIV-SET@ICU;500\n")
    code, out, err = run(capsys, "supplies", demo_ws, "--on-hand", semi, "--json")
    assert code == 0, err


def test_roster_export_target_checked_before_solving(demo_ws, tmp_path, capsys):
    code, _, err = run(capsys, "roster", "solve", demo_ws, "--unit", "M5", "--start", "2026-11-23", "--days", 7,
                       "--time-limit", 1, "--export", tmp_path / "missing" / "r.csv")
    assert code == 1 and "does not exist" in err
    code, _, err = run(capsys, "roster", "solve", "--instance", demo_ws)
    assert code == 1 and "not a text file" in err


def test_table_output_reads_times_to_the_second():
    from datetime import datetime

    from desktop.cli import _fmt

    assert _fmt(datetime(2026, 7, 24, 2, 43, 4, 986949)) == "2026-07-24 02:43:04"  # CSV and JSON keep them whole
    assert _fmt(datetime(2026, 7, 24, 2, 43)) == "2026-07-24 02:43:00"


def test_crash_logs_are_private_to_the_user(tmp_path, monkeypatch):
    # a shared /tmp/hospops-logs (0755, files 0644) let another user read the logs or plant a link there first
    import os
    import stat

    from desktop.cli import _log_crash, log_folder

    monkeypatch.delenv("HOSPOPS_LOG_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert log_folder() == tmp_path / "state" / "hospops" / "logs"
    path = _log_crash(ValueError("boom"))
    assert path is not None and path.parent == log_folder() and "ValueError: boom" in path.read_text()
    if os.name != "nt":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        # a folder that is a link (planted by someone else) is not written through
        target = tmp_path / "elsewhere"
        target.mkdir()
        monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "planted"))
        (tmp_path / "planted" / "hospops").mkdir(parents=True)
        (tmp_path / "planted" / "hospops" / "logs").symlink_to(target)
        assert _log_crash(ValueError("boom")) is None and not list(target.iterdir())
