"""Crash safety with real processes killed by SIGKILL, and what a second process is told.

Each child runs a real import or demo build and stops itself at a chosen point (a progress message, or
just before / after the file swap) by printing a marker and sleeping; the test then kills it with SIGKILL.
Where the kill lands is decided by the child's own code, not by timing, so the tests hold on a slow machine.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from datasets.importers import run_import
from datasets.store import Workspace
from datasets.synthetic import build_demo

pytestmark = pytest.mark.skipif(os.name != "posix", reason="SIGKILL")

REPO = Path(__file__).resolve().parents[2]
PASS = "kill -9 proof"
BIG = 130_000  # more than one DuckDB row group (122,880 rows), so rows reach the file before the commit


def digest(path: Path, passphrase: str | None = None) -> dict[str, tuple[int, str]]:
    """(rows, hash of the sorted rows) of every table of the workspace."""
    with Workspace.open(path, passphrase=passphrase, read_only=True) as ws:
        tables = [r[0] for r in ws.sql("SELECT table_name FROM duckdb_tables() WHERE NOT temporary ORDER BY 1")]
        return {
            t: tuple(ws.sql(f"SELECT count(*), coalesce(md5(string_agg(CAST(x AS VARCHAR), '|' "
                            f"ORDER BY CAST(x AS VARCHAR))), '') FROM {t} x")[0])
            for t in tables
        }


def run_child_until(code: str, marker: str = "KILL-ME") -> subprocess.Popen:
    """Start ``code`` in a fresh interpreter and return once it printed ``marker`` (it then waits to be killed)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    for line in proc.stdout:
        if line.strip() == marker:
            return proc
    out, err = proc.communicate(timeout=60)
    raise AssertionError(f"the child ended (rc {proc.returncode}) without reaching the kill point:\n{err[-2000:]}")


def sigkill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


PAUSE_AT = '''
import sys, time
def pause_at(wanted):
    def progress(fraction, message):
        if wanted in message:
            print("KILL-ME", flush=True)
            time.sleep(3600)
    return progress
'''


def big_ed_csv(path: Path, rows: int) -> Path:
    """An ED visits CSV big enough that DuckDB writes row groups to the file before the commit."""
    import duckdb

    duckdb.connect().execute(
        f"""COPY (SELECT 'V' || i AS visit_id, 'MRN' || (i % 5000) AS patient_id,
                         TIMESTAMP '2024-01-01' + INTERVAL (i) MINUTE AS arrival_ts,
                         TIMESTAMP '2024-01-01' + INTERVAL (i + 200) MINUTE AS departure_ts,
                         1 + i % 5 AS acuity
                  FROM range({rows}) r(i)) TO '{path}' (HEADER)"""
    )
    return path


@pytest.fixture(scope="module")
def csv_big(tmp_path_factory):
    return big_ed_csv(tmp_path_factory.mktemp("src") / "ed_big.csv", BIG)


@pytest.mark.parametrize("passphrase", [None, PASS], ids=["plain", "encrypted"])
def test_import_killed_before_commit_leaves_the_workspace_exactly_as_it_was(tmp_path, csv_big, passphrase):
    path = tmp_path / "w.hospops"
    small = tmp_path / "ed_small.csv"
    small.write_text("visit_id,patient_id,arrival_ts\nA1,M1,2024-01-01 10:00:00\nA2,M2,2024-01-01 11:00:00\n")
    with Workspace.create(path, passphrase=passphrase) as ws:
        run_import(ws, small, "csv", table="ed_visits")
    before = digest(path, passphrase)
    # every row of the big file is inserted (and row groups written out) when the importer says "finished",
    # which it does inside the transaction, just before the commit
    proc = run_child_until(PAUSE_AT + textwrap.dedent(f"""
        from datasets.store import Workspace
        from datasets.importers import run_import
        ws = Workspace.open({str(path)!r}, passphrase={passphrase!r})
        run_import(ws, {str(csv_big)!r}, "csv", table="ed_visits", progress=pause_at("Import finished"))
    """))
    assert Path(str(path) + ".wal").exists() or path.stat().st_size > 0
    sigkill(proc)
    assert digest(path, passphrase) == before
    with Workspace.open(path, passphrase=passphrase) as ws:  # and it takes a new import afterwards
        run_import(ws, small, "csv", table="ed_visits")
        assert ws.counts()["ed_visits"] == 2 and ws.sql("SELECT count(*) FROM import_runs")[0][0] == 2


def test_import_killed_at_any_later_moment_leaves_the_old_or_the_new_workspace(tmp_path, csv_big):
    path = tmp_path / "w.hospops"
    Workspace.create(path).close()
    before = digest(path)
    # the child is killed while it goes on with the commit: whatever the moment, it is all or nothing
    proc = run_child_until(f"""
        from datasets.store import Workspace
        from datasets.importers import run_import
        def progress(fraction, message):
            if "Import finished" in message:
                print("KILL-ME", flush=True)
        ws = Workspace.open({str(path)!r})
        run_import(ws, {str(csv_big)!r}, "csv", table="ed_visits", progress=progress)
        ws.close()
    """)
    sigkill_or_done(proc)
    after = digest(path)
    if after != before:
        assert after["ed_visits"][0] == BIG and after["import_runs"][0] == 1
        assert after["rejects"][0] == 0


def sigkill_or_done(proc: subprocess.Popen) -> None:
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=120)


@pytest.fixture(scope="module")
def old_demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.hospops"
    build_demo(path, days=28, seed=1)
    return path, digest(path)


@pytest.mark.parametrize("stage", ["Writing the workspace", "Checkpointing"])
def test_demo_build_killed_leaves_the_old_workspace_exactly_as_it_was(tmp_path, old_demo, stage):
    path = tmp_path / "demo.hospops"
    path.write_bytes(old_demo[0].read_bytes())
    proc = run_child_until(PAUSE_AT + textwrap.dedent(f"""
        from datasets.synthetic import build_demo
        build_demo({str(path)!r}, days=35, seed=2, replace=True, progress=pause_at({stage!r}))
    """))
    sigkill(proc)
    assert digest(path) == old_demo[1]
    # the next build clears what the killed one left and replaces the workspace
    build_demo(path, days=35, seed=2, replace=True)
    assert digest(path)["ed_visits"] != old_demo[1]["ed_visits"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.hospops"]


def test_demo_build_killed_around_the_file_swap_leaves_a_whole_workspace(tmp_path):
    """Encrypted over encrypted, killed once the key file knows both keys but before the atomic rename, and
    once right after it: either way the workspace opens, with the old or the new passphrase."""
    path = tmp_path / "demo.hospops"
    build_demo(path, days=28, seed=1, passphrase="old pass")
    old = digest(path, "old pass")
    for when, name in (("before", "adopt_keyinfo"), ("after", "finish_adopt")):
        code = (
            "import time\n"
            "import datasets.store as store\n"
            f"real = store.{name}\n"
            "def pause(*args):\n"
            f"    if str(args[1]) != {str(path)!r} or {when == 'before'}:\n"
            "        result = real(*args)\n"
            f"    if str(args[1]) == {str(path)!r}:\n"
            "        print('KILL-ME', flush=True)\n"
            "        time.sleep(3600)\n"
            "    return result\n"
            f"store.{name} = pause\n"
            "from datasets.synthetic import build_demo\n"
            f"build_demo({str(path)!r}, days=35, seed=2, replace=True, passphrase='new pass')\n"
        )
        sigkill(run_child_until(code))
        if when == "before":
            assert digest(path, "old pass") == old
        else:
            new = digest(path, "new pass")
            assert new != old and new["ed_visits"][0] > 0


def test_create_killed_half_way_leaves_no_workspace_and_a_retry_works(tmp_path):
    path = tmp_path / "new.hospops"
    code = (
        "import time\n"
        "import datasets.metrics as metrics\n"
        "def pause(ws):\n"
        "    print('KILL-ME', flush=True)\n"
        "    time.sleep(3600)\n"
        "metrics.install_views = pause\n"
        "from datasets.store import Workspace\n"
        f"Workspace.create({str(path)!r}, passphrase='p4ssphrase')\n"
    )
    sigkill(run_child_until(code))
    assert not path.exists()
    with Workspace.create(path, passphrase="p4ssphrase") as ws:
        assert ws.counts()["units"] == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.hospops", "new.hospops.keyinfo"]


def test_readers_share_a_workspace_and_a_writer_is_told_who_holds_it(tmp_path):
    path = tmp_path / "shared.hospops"
    Workspace.create(path).close()
    proc = run_child_until(textwrap.dedent(f"""
        import time
        from datasets.store import Workspace
        ws = Workspace.open({str(path)!r}, read_only=True)
        print("KILL-ME", flush=True)
        time.sleep(3600)
    """))
    try:
        with Workspace.open(path, read_only=True) as ws:  # a second reader is fine
            assert ws.counts()["units"] == 0
        from datasets.errors import WorkspaceError

        with pytest.raises(WorkspaceError, match=rf"in use by process {proc.pid}\b.*\n.*all of them open it read-only"):
            Workspace.open(path)
    finally:
        sigkill(proc)
