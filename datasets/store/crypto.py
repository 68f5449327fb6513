"""Encryption at rest: DuckDB's AES-256-GCM database encryption with a key derived from a passphrase.

How a workspace ``WS`` is encrypted
    * The data key is ``scrypt(passphrase, salt, n=2**16, r=8, p=1)`` (64 MiB of memory and about a quarter of
      a second per try, so guessing passphrases is slow), given to DuckDB as its ``ENCRYPTION_KEY``. DuckDB
      encrypts every block of the file, its write-ahead log (``WS.wal``) and, with ``temp_file_encryption``,
      the temporary files it spills (``WS.tmp/``). The passphrase and the key are never written anywhere.
    * Secure encryption needs OpenSSL, which DuckDB takes from its signed ``httpfs`` extension: it is loaded
      **by path** from the ``duckdb-ext-httpfs`` wheel (or from ``HOSPOPS_HTTPFS_EXTENSION``, e.g. in the
      frozen app), with DuckDB's signature check on; never ``force_mbedtls_unsafe``.
    * The salt and the KDF parameters must be read before the database can be opened, so they live in a small
      sidecar, ``WS.keyinfo`` (JSON, no secret in it). DuckDB's plaintext main header (the first 4 KiB of the
      file) holds a random salt of its own and is never rewritten, so its SHA-256 identifies one database file:
      the sidecar maps that fingerprint to our salt. Replacing a workspace (``hospops demo --force``, a first
      import) writes the new entry beside the old one first, swaps the database file atomically, then drops the
      old entry, so a crash at any point leaves a database whose key can still be derived.
    * Losing ``WS.keyinfo`` makes ``WS`` unreadable: copy both files together (the app and the command line say
      so when it is missing).

``is_encrypted(path)`` reads the flag in DuckDB's plaintext header, so the app knows when to ask.
"""
from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Optional

import duckdb

from datasets.errors import WorkspaceError

__all__ = ["is_encrypted", "keyinfo_path", "httpfs_extension_path", "connect_encrypted", "new_key", "KDF_PARAMS"]

KDF_PARAMS = {"kdf": "scrypt", "n": 2**16, "r": 8, "p": 1}
HEADER_BYTES = 4096
ATTACH_ALIAS = "ws"
_KEYINFO_FORMAT = "hospops-keyinfo"


def keyinfo_path(path: Path) -> Path:
    return path.with_name(path.name + ".keyinfo")


def _header(path: str | os.PathLike) -> bytes:
    # main header: 8-byte checksum, b"DUCK", 8-byte storage version, then flags; flag bit 0 = encrypted
    try:
        with open(path, "rb") as fh:
            return fh.read(28)
    except OSError:
        return b""


def is_duckdb_file(path: str | os.PathLike) -> bool:
    """True when ``path`` starts like a DuckDB database file (its magic bytes), encrypted or not."""
    return _header(path)[8:12] == b"DUCK"


def is_encrypted(path: str | os.PathLike) -> bool:
    """True when ``path`` is a DuckDB database written encrypted (read from its plaintext header)."""
    head = _header(path)
    return len(head) >= 28 and head[8:12] == b"DUCK" and bool(int.from_bytes(head[20:28], "little") & 1)


def _fingerprint(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read(HEADER_BYTES)).hexdigest()[:32]


def derive_key(passphrase: str, entry: dict) -> str:
    if entry.get("kdf") != "scrypt":
        raise WorkspaceError(f"Unknown key derivation '{entry.get('kdf')}' in the workspace's key file.")
    n, r, p = int(entry["n"]), int(entry["r"]), int(entry["p"])
    key = hashlib.scrypt(passphrase.encode("utf-8"), salt=bytes.fromhex(entry["salt"]), n=n, r=r, p=p,
                         maxmem=128 * r * n + (1 << 24), dklen=32)
    return key.hex()


def new_key(passphrase: str) -> tuple[dict, str]:
    """A fresh salt and the key derived from ``passphrase`` with it: (keyinfo entry without fingerprint, key)."""
    if not passphrase:
        raise WorkspaceError("An empty passphrase cannot protect a workspace.", "Choose a passphrase.")
    entry = {**KDF_PARAMS, "salt": secrets.token_hex(16)}
    return entry, derive_key(passphrase, entry)


def read_keyinfo(path: Path) -> list[dict]:
    kp = keyinfo_path(path)
    try:
        data = json.loads(kp.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError):
        raise WorkspaceError(f"The key file {kp.name} of the encrypted workspace {path.name} is damaged.") from None
    if not isinstance(data, dict) or data.get("format") != _KEYINFO_FORMAT or not isinstance(data.get("keys"), list):
        raise WorkspaceError(f"{kp.name} is not a HospOps key file.")
    return data["keys"]


def write_keyinfo(path: Path, entries: list[dict]) -> None:
    """Write ``WS.keyinfo`` atomically (temp file, fsync, rename)."""
    kp = keyinfo_path(path)
    tmp = kp.with_name(kp.name + ".new")
    payload = {
        "format": _KEYINFO_FORMAT,
        "version": 1,
        "about": "Salt and key-derivation settings of an encrypted HospOps workspace. Holds no secret; "
                 "without it the workspace cannot be opened: keep it beside the workspace file.",
        "keys": entries,
    }
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, kp)
    _fsync_dir(kp.parent)


def _fsync_dir(folder: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def httpfs_extension_path() -> Path:
    """The signed httpfs extension matching this DuckDB, from the ``duckdb-ext-httpfs`` wheel (or the env)."""
    override = os.environ.get("HOSPOPS_HTTPFS_EXTENSION")
    if override:
        return Path(override)
    platform = duckdb.connect().execute("SELECT platform FROM pragma_platform()").fetchone()[0]
    rel = Path("extensions") / f"v{duckdb.__version__}" / platform / "httpfs.duckdb_extension"
    roots = []
    spec = importlib.util.find_spec("duckdb_ext")
    if spec is not None and spec.submodule_search_locations:
        roots += [Path(p) for p in spec.submodule_search_locations]
    if getattr(sys, "frozen", False):  # PyInstaller: bundled as duckdb_ext/extensions/...
        roots.append(Path(getattr(sys, "_MEIPASS", Path(sys.executable).parent)) / "duckdb_ext")
    for root in roots:
        if (root / rel).is_file():
            return root / rel
    raise WorkspaceError(
        "Encrypted workspaces need DuckDB's signed httpfs extension, which is not installed.",
        f"Install the duckdb-ext-httpfs wheel matching DuckDB {duckdb.__version__}.",
    )


def _connect(path: Path, key: str, read_only: bool) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    try:
        con.execute(f"SET temp_directory = '{_sql_text(str(path) + '.tmp')}'")
        con.execute("SET temp_file_encryption = true")
        con.execute(f"LOAD '{_sql_text(str(httpfs_extension_path()))}'")
        opts = f"ENCRYPTION_KEY '{key}'" + (", READ_ONLY" if read_only else "")
        con.execute(f"ATTACH '{_sql_text(str(path))}' AS {ATTACH_ALIAS} ({opts})")
        con.execute(f"USE {ATTACH_ALIAS}")
    except BaseException:
        con.close()
        raise
    return con


def _sql_text(s: str) -> str:
    return s.replace("'", "''")


def connect_encrypted(path: Path, passphrase: Optional[str], read_only: bool = False,
                      create: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection whose default database is the encrypted workspace at ``path``.

    ``create``: make a new encrypted database (``path`` must not exist) and record its salt in ``WS.keyinfo``.
    DuckDB errors (lock held, wrong key) propagate for the caller to translate.
    """
    if passphrase is None or passphrase == "":
        if create:
            raise WorkspaceError("An empty passphrase cannot protect a workspace.", "Choose a passphrase.")
        raise WorkspaceError(
            f"The workspace {path} is encrypted: a passphrase is needed to open it.",
            "Set HOSPOPS_PASSPHRASE, or type it when asked.",
        )
    if create:
        entry, key = new_key(passphrase)
        con = _connect(path, key, read_only=False)
        try:
            # the main header is written when the file is made; record our salt under its fingerprint
            write_keyinfo(path, [{**entry, "fingerprint": _fingerprint(path)}])
        except BaseException:
            con.close()
            raise
        return con
    entries = read_keyinfo(path)
    if not entries:
        raise WorkspaceError(
            f"The encrypted workspace {path} has lost its key file {keyinfo_path(path).name}.",
            "It holds the salt needed to turn the passphrase into the key (no secret): copy it from where the "
            "workspace came from, next to the workspace file.",
        )
    fp = _fingerprint(path)
    matching = [e for e in entries if e.get("fingerprint") == fp] or entries
    last: Optional[Exception] = None
    for entry in matching:
        try:
            return _connect(path, derive_key(passphrase, entry), read_only)
        except duckdb.Error as exc:
            last = exc
            if "Wrong encryption key" not in str(exc):
                raise
    assert last is not None
    raise last


def adopt_keyinfo(src: Path, dst: Path) -> list[dict]:
    """Before moving the database ``src`` onto ``dst``: let ``dst``'s key file know ``src``'s key too.

    Returns the entries ``dst`` should keep once the move is done (``src``'s only).
    """
    new = read_keyinfo(src)
    if new:
        old = read_keyinfo(dst) if keyinfo_path(dst).exists() else []
        write_keyinfo(dst, new + [e for e in old if e not in new])
    return new


def finish_adopt(src: Path, dst: Path, new: list[dict]) -> None:
    """After the move: ``dst``'s key file holds only the new database's entry; ``src``'s is removed."""
    if new:
        write_keyinfo(dst, new)
    else:
        keyinfo_path(dst).unlink(missing_ok=True)
    keyinfo_path(src).unlink(missing_ok=True)
