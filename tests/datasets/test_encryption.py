"""Encryption at rest: a workspace made with a passphrase holds no readable data on disk, in any of its files."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from datasets.errors import WorkspaceError
from datasets.importers import run_import
from datasets.store import Workspace, is_encrypted, replace_workspace
from datasets.store.crypto import keyinfo_path
from datasets.synthetic import build_demo

PASS = "correct horse battery staple"

# words that are in the demo hospital and must never be readable in an encrypted file
UNIT_CSV = "unit_id,name,kind,capacity\nW-NIGHTINGALE,Nightingale Ward,ward,28\nW-SEACOLE,Seacole Ward,ward,24\n"
PLAIN_WORDS = [b"W-NIGHTINGALE", b"Nightingale Ward", b"Seacole Ward"]


def files_of(path):
    """The workspace file and everything beside it that belongs to it (WAL, key file, temp folder)."""
    out = [p for p in path.parent.iterdir() if p.name.startswith(path.name) and p.is_file()]
    tmp = path.parent / (path.name + ".tmp")
    if tmp.is_dir():
        out += [p for p in tmp.rglob("*") if p.is_file()]
    return out


def readable(path, words) -> dict[str, list[bytes]]:
    found = {}
    for f in files_of(path):
        data = f.read_bytes()
        hits = [w for w in words if w in data or w.decode().encode("utf-16-le") in data]
        if hits:
            found[f.name] = hits
    return found


@pytest.fixture(scope="module")
def enc_demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("enc") / "demo.hospops"
    build_demo(path, days=28, seed=3, passphrase=PASS)
    return path


def test_encrypted_demo_file_holds_no_readable_data_but_a_plain_one_does(enc_demo, tmp_path):
    with Workspace.open(enc_demo, passphrase=PASS, read_only=True) as ws:
        assert ws.encrypted
        names = [r[0] for r in ws.sql("SELECT name FROM units WHERE name IS NOT NULL")]
        hospital = ws.settings()["hospital_name"]
        secret = ws.settings()["pid_secret"]
        n_ed = ws.counts()["ed_visits"]
    assert n_ed > 1000 and len(names) > 5
    words = [n.encode() for n in names] + [hospital.encode(), secret.encode(), b"hospops-workspace", b"ed_visits"]
    assert is_encrypted(enc_demo)
    assert readable(enc_demo, words) == {}
    # the same scan finds the words in a plain workspace: the scan itself works
    plain = tmp_path / "plain.hospops"
    build_demo(plain, days=28, seed=3)
    assert not is_encrypted(plain)
    assert readable(plain, words)


def test_key_file_holds_salt_and_settings_only(enc_demo):
    info = json.loads(keyinfo_path(enc_demo).read_text())
    assert info["format"] == "hospops-keyinfo"
    (entry,) = info["keys"]
    assert entry["kdf"] == "scrypt" and entry["n"] >= 2**15 and len(bytes.fromhex(entry["salt"])) == 16
    assert PASS not in keyinfo_path(enc_demo).read_text()
    assert not (enc_demo.parent / (enc_demo.name + ".building")).exists()


def test_missing_or_wrong_passphrase_and_missing_key_file_are_clear_errors(enc_demo, tmp_path):
    with pytest.raises(WorkspaceError, match="encrypted: a passphrase is needed"):
        Workspace.open(enc_demo, read_only=True)
    with pytest.raises(WorkspaceError, match="Wrong passphrase"):
        Workspace.open(enc_demo, passphrase="not it", read_only=True)
    copy = tmp_path / "copy.hospops"
    copy.write_bytes(enc_demo.read_bytes())  # the file without its key file
    with pytest.raises(WorkspaceError, match=r"lost its key file copy\.hospops\.keyinfo"):
        Workspace.open(copy, passphrase=PASS)
    keyinfo_path(copy).write_bytes(keyinfo_path(enc_demo).read_bytes())
    with Workspace.open(copy, passphrase=PASS) as ws:
        assert ws.counts()["units"] > 5
    with pytest.raises(WorkspaceError, match="empty passphrase"):
        Workspace.create(tmp_path / "e.hospops", passphrase="")
    assert not (tmp_path / "e.hospops").exists()


def test_import_into_an_encrypted_workspace_leaves_nothing_readable_in_the_wal(tmp_path):
    src = tmp_path / "units.csv"
    src.write_text(UNIT_CSV)
    results = {}
    for name, passphrase in (("plain", None), ("enc", PASS)):
        path = tmp_path / f"{name}.hospops"
        ws = Workspace.create(path, passphrase=passphrase)
        run_import(ws, src, "csv", table="units")
        # still open: the import sits in the write-ahead log, not yet checkpointed into the file
        assert (tmp_path / f"{name}.hospops.wal").exists()
        results[name] = readable(path, PLAIN_WORDS)
        ws.close()
        results[name + " closed"] = readable(path, PLAIN_WORDS)
    assert results["plain"] and results["plain closed"]  # the scan would see them
    assert results["enc"] == {} and results["enc closed"] == {}
    with Workspace.open(tmp_path / "enc.hospops", passphrase=PASS) as ws:
        assert ws.sql("SELECT name FROM units ORDER BY 1") == [("Nightingale Ward",), ("Seacole Ward",)]
        assert ws.sql("SELECT action FROM audit_log ORDER BY ts")[-1] == ("import",)


def test_replacing_an_encrypted_workspace_moves_its_key_file_too(tmp_path):
    a, b = tmp_path / "a.hospops", tmp_path / "b.hospops"
    with Workspace.create(a, passphrase="first pass"):
        pass
    with Workspace.create(b, passphrase="second pass") as ws:
        ws.con.execute("INSERT INTO units (unit_id) VALUES ('NEW')")
    replace_workspace(b, a)
    assert not b.exists() and not keyinfo_path(b).exists()
    assert len(json.loads(keyinfo_path(a).read_text())["keys"]) == 1
    with Workspace.open(a, passphrase="second pass") as ws:
        assert ws.sql("SELECT unit_id FROM units") == [("NEW",)]


def test_an_encrypted_workspace_in_use_is_refused_with_the_process(enc_demo, tmp_path):
    path = tmp_path / "busy.hospops"
    Workspace.create(path, passphrase=PASS).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys
            from datasets.store import Workspace
            ws = Workspace.open({str(path)!r}, passphrase={PASS!r})
            print("open", flush=True)
            sys.stdin.read()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WorkspaceError, match=rf"in use by process {holder.pid}\b"):
            Workspace.open(path, passphrase=PASS)
        with pytest.raises(WorkspaceError, match=rf"in use by process {holder.pid}\b"):
            Workspace.open(path, passphrase=PASS, read_only=True)
    finally:
        holder.communicate("", timeout=60)
