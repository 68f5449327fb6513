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
