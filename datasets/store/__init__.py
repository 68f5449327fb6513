"""The workspace: one DuckDB file holding a hospital's canonical tables, bookkeeping and derived views.

>>> ws = Workspace.create("st-example.hospops", timezone="Europe/London", country="GB")
>>> ws.counts()["ed_visits"]
0

Opening checks that the file is a HospOps workspace of a schema this version understands, applies
migrations to older ones (in one transaction) and translates DuckDB's low-level errors into sentences.

The API the command line and the app use:

- ``Workspace.create(path, timezone=..., country=..., hospital_name=..., passphrase=None)`` and
  ``Workspace.open(path, read_only=False, passphrase=None)``: with a passphrase the workspace is encrypted
  at rest (:mod:`datasets.store.crypto`); a missing or wrong one is a :class:`WorkspaceError`, and so is a
  workspace in use by another process ('in use by process N').
- ``is_encrypted(path) -> bool``: whether to ask for a passphrase before opening.
- ``replace_workspace(src, dst, passphrase=None)``: swap a finished workspace into place, crash-safely.
- ``ws.audit(action, target, details)`` records what was done (imports, exports, solves, settings) with
  the time and the OS user; ``list_audit(ws, limit=None, action=None) -> list[dict]`` reads it back, and
  ``audit_actions(ws)`` lists the actions it holds.
"""
from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import duckdb

from datasets.errors import WorkspaceError
from datasets.privacy import PID_SCHEME
from datasets.store.crypto import (
    adopt_keyinfo,
    connect_encrypted,
    finish_adopt,
    is_duckdb_file,
    is_encrypted,
    keyinfo_path,
)
from datasets.store.schema import (
    APP_MARKER,
    BOOKKEEPING_DDL,
    CANONICAL,
    MIGRATIONS,
    SCHEMA_VERSION,
)

__all__ = ["Workspace", "CANONICAL", "SCHEMA_VERSION", "os_user", "is_encrypted", "list_audit", "audit_actions",
           "check_country", "replace_workspace"]

DEFAULT_SETTINGS = {"timezone": "UTC", "country": "", "hospital_name": ""}


def os_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name (some containers): fall back to the uid
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"


def _connect(path: Path, passphrase: str | None, encrypted: bool, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        if encrypted:
            return connect_encrypted(path, passphrase, read_only=read_only)
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise _translate(exc, path) from None


def _translate(exc: Exception, path: Path) -> WorkspaceError:
    """Turn a DuckDB error met while opening ``path`` into a sentence."""
    text = str(exc)
    if "Wrong encryption key" in text:
        return WorkspaceError(f"Wrong passphrase for the workspace {path}.")
    m = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", text)
    if "Could not set lock" in text or m:
        who = f"process {m.group(2)} ({Path(m.group(1)).name})" if m else "another process"
        return WorkspaceError(
            f"The workspace {path} is in use by {who}.",
            "Close it there first. Several processes can open a workspace at once only when all of them "
            "open it read-only (hospops info and query do).",
        )
    if "not a valid DuckDB database" in text or "The file is not a valid" in text or "database file" in text and "not" in text:
        return WorkspaceError(f"{path} is not a HospOps workspace (it is not a DuckDB database file).")
    if "without a key" in text or "encrypted" in text.lower() and "key" in text.lower():
        return WorkspaceError(f"The workspace {path} is encrypted: a passphrase is needed to open it.")
    if "Wrong encryption key" in text:
        return WorkspaceError(f"Wrong passphrase for the workspace {path}.")
    if "newer version" in text.lower() or "storage version" in text.lower():
        return WorkspaceError(
            f"{path} was written by a newer DuckDB than this HospOps can read.",
            "Update HospOps to open it.",
        )
    return WorkspaceError(f"Cannot open the workspace {path}: {text.splitlines()[0] if text else exc!r}")


class Workspace:
    """An open workspace. Use as a context manager, or call :meth:`close`."""

    def __init__(self, con: duckdb.DuckDBPyConnection, path: Path, read_only: bool, encrypted: bool = False):
        self.con = con
        self.path = path
        self.read_only = read_only
        self.encrypted = encrypted
        self._define_macros()

    # ------------------------------------------------------------------ opening
    @classmethod
    def create(
        cls,
        path: str | os.PathLike,
        *,
        timezone: str = "UTC",
        country: str = "",
        hospital_name: str = "",
        exist_ok: bool = False,
        passphrase: str | None = None,
    ) -> "Workspace":
        """Create a new, empty workspace file (or open it when ``exist_ok`` and it is one).

        ``passphrase``: encrypt the workspace at rest (see :mod:`datasets.store.crypto`): the file, its WAL and
        its temporary files hold no readable data, and ``WS.keyinfo`` (salt and KDF settings, no secret) is
        written beside it. None makes a plain workspace.

        The workspace is made complete (tables, settings, views) under ``PATH.creating`` and then moved into
        place, so a crash never leaves a half-made workspace at ``path``.
        """
        path = Path(path)
        if path.exists():
            if exist_ok:
                return cls.open(path, passphrase=passphrase)
            raise WorkspaceError(f"{path} already exists.", "Choose another file name, or open it instead.")
        if path.parent and not path.parent.exists():
            raise WorkspaceError(f"The folder {path.parent} does not exist.")
        _check_timezone(timezone)
        check_country(country)
        encrypted = passphrase is not None
        final, path = path, path.with_name(path.name + ".creating")
        _remove_files(path)  # what a killed create left behind
        try:
            con = connect_encrypted(path, passphrase, create=True) if encrypted else duckdb.connect(str(path))
        except duckdb.Error as exc:
            _remove_files(path)
            raise _translate(exc, final) from None
        try:
            con.execute("BEGIN")
            for ddl in BOOKKEEPING_DDL:
                con.execute(ddl)
            for table in CANONICAL.values():
                con.execute(table.ddl())
            values = {
                "app": APP_MARKER,
                "schema_version": str(SCHEMA_VERSION),
                "created_at": datetime.now().isoformat(timespec="seconds"),
                "created_by": os_user(),
                "pid_secret": secrets.token_hex(32),
                "pid_scheme": PID_SCHEME,
                **DEFAULT_SETTINGS,
                "timezone": timezone,
                "country": country,
                "hospital_name": hospital_name,
            }
            con.executemany("INSERT INTO settings VALUES (?, ?)", list(values.items()))
            con.execute("COMMIT")
        except BaseException:
            con.close()
            _remove_files(path)
            raise
        try:
            ws = cls(con, path, read_only=False, encrypted=encrypted)
            from datasets.metrics import install_views

            install_views(ws)
            ws.audit("create workspace", _shown_path(final), {"timezone": timezone, "country": country,
                                                              "encrypted": encrypted})
            ws.con.execute("CHECKPOINT")
            ws.close()
            if final.exists():
                raise WorkspaceError(f"{final} already exists.", "Choose another file name, or open it instead.")
            replace_workspace(path, final)
        except BaseException:
            con.close()
            _remove_files(path)
            raise
        return cls.open(final, passphrase=passphrase)

    @classmethod
    def open(cls, path: str | os.PathLike, *, read_only: bool = False, passphrase: str | None = None) -> "Workspace":
        """Open an existing workspace, migrating an older schema; refuse anything else with a clear error.

        An encrypted workspace (:func:`is_encrypted`) needs its ``passphrase``: missing or wrong, it is a
        :class:`WorkspaceError` that says so. The passphrase is ignored for a plain workspace. A workspace
        another process has open for writing is refused with 'in use by process N'.
        """
        path = Path(path)
        if not path.exists():
            raise WorkspaceError(
                f"There is no workspace at {path}.",
                "Create one with `hospops demo` or `hospops import`, or check the path.",
            )
        if path.is_dir():
            raise WorkspaceError(f"{path} is a folder, not a workspace file.")
        if not is_duckdb_file(path):
            raise WorkspaceError(f"{path} is not a HospOps workspace (it is not a DuckDB database file).")
        encrypted = is_encrypted(path)
        con = _connect(path, passphrase, encrypted, read_only)
        try:
            marker = con.execute(
                "SELECT value FROM settings WHERE key = 'app'"
            ).fetchone()
        except duckdb.Error:
            marker = None
        if not marker or marker[0] != APP_MARKER:
            con.close()
            raise WorkspaceError(f"{path} is a DuckDB database but not a HospOps workspace.")
        version = int(con.execute("SELECT value FROM settings WHERE key = 'schema_version'").fetchone()[0])
        if version > SCHEMA_VERSION:
            con.close()
            raise WorkspaceError(
                f"{path} was made by a newer HospOps (workspace schema {version}; this version reads up to {SCHEMA_VERSION}).",
                "Update HospOps to open it.",
            )
        ws = cls(con, path, read_only=read_only, encrypted=encrypted)
        if version < SCHEMA_VERSION:
            if read_only:
                # Upgrade first (a short writable open, recorded in the audit log), then open read-only as asked:
                # a read-only command on a workspace from an older HospOps must not send the user off to upgrade it.
                con.close()
                try:
                    cls.open(path, passphrase=passphrase).close()
                except WorkspaceError as exc:
                    raise WorkspaceError(
                        f"{path} uses an older workspace schema ({version}) and could not be upgraded: {exc}",
                        "Close any other program using it and try again.",
                    ) from None
                return cls.open(path, read_only=True, passphrase=passphrase)
            ws._migrate(version)
            return ws
        from datasets.metrics import install_temp_macros, install_views, views_fingerprint

        if ws.settings().get("views") != views_fingerprint():  # views from another HospOps version: newer SQL
            if not read_only:
                install_views(ws)
            else:
                # a read-only open writes nothing (an archived copy stays as it is, other readers are never
                # locked out): the old views stay, and the macros pages call that an older version lacked are
                # defined for this connection only
                install_temp_macros(ws)
        return ws

    def _migrate(self, version: int) -> None:
        with self.transaction():
            for v in range(version + 1, SCHEMA_VERSION + 1):
                for sql in MIGRATIONS.get(v, []):
                    self.con.execute(sql)
            self.con.execute("UPDATE settings SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
            self._audit_in_tx("migrate schema", str(self.path), {"from": version, "to": SCHEMA_VERSION})
        from datasets.metrics import install_views

        install_views(self)

    def _define_macros(self) -> None:
        # Pseudonyms: HMAC-SHA256 of (kind, source identifier) keyed with the workspace's 256-bit secret, so
        # the same patient links across extracts of one workspace but cannot be looked up without the secret
        # (see datasets.privacy). Workspaces made before schema 2 keep their older keyed hash, so that their
        # stored pseudonyms still link with new imports.
        from datasets.privacy import LEGACY_PID_SCHEME, pid_macro_sql

        s = self.settings()
        secret = s.get("pid_secret", "")
        if not re.fullmatch(r"(?:[0-9a-f]{2})+", secret):
            raise WorkspaceError(f"{self.path}: the workspace's settings are damaged (pseudonym secret).")
        self.con.execute(pid_macro_sql(secret, s.get("pid_scheme", LEGACY_PID_SCHEME)))

    # ------------------------------------------------------------------ basics
    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.con.close()

    def __enter__(self) -> "Workspace":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """One all-or-nothing unit of work: commits on success, rolls back on any exception."""
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield self.con
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                self.con.execute("ROLLBACK")
            raise
        else:
            self.con.execute("COMMIT")

    def sql(self, query: str, params: list | None = None) -> list[tuple]:
        return self.con.execute(query, params or []).fetchall()

    def df(self, query: str, params: list | None = None):
        return self.con.execute(query, params or []).df()

    # ------------------------------------------------------------------ settings and audit
    def settings(self) -> dict[str, str]:
        return dict(self.con.execute("SELECT key, value FROM settings").fetchall())

    @property
    def timezone(self) -> str:
        return self.settings().get("timezone") or "UTC"

    def set_setting(self, key: str, value: str) -> None:
        if key in ("app", "schema_version", "pid_secret", "pid_scheme", "created_at", "created_by", "views"):
            raise WorkspaceError(f"The setting '{key}' cannot be changed.")
        if key == "timezone":
            _check_timezone(value)
        if key == "country":
            check_country(value)
        with self.transaction():
            old = self.settings().get(key)
            self.con.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [key, value])
            self._audit_in_tx("change setting", key, {"from": old, "to": value})

    def audit(self, action: str, target: str, details: dict | None = None) -> None:
        if self.read_only:
            return
        self._audit_in_tx(action, target, details)

    def _audit_in_tx(self, action: str, target: str, details: dict | None = None) -> None:
        self.con.execute(
            "INSERT INTO audit_log VALUES (current_localtimestamp(), ?, ?, ?, ?)",
            [os_user(), action, target, json.dumps(details or {}, default=str)],
        )

    # ------------------------------------------------------------------ summaries
    def counts(self) -> dict[str, int]:
        return {
            name: self.con.execute(f"SELECT count(*) FROM {name}").fetchone()[0] for name in CANONICAL
        }

    def info(self) -> dict[str, Any]:
        """Tables, row counts, date ranges and the last imports: what `hospops info` shows."""
        ranges = {
            "ed_visits": "arrival_ts",
            "stays": "admit_ts",
            "movements": "in_ts",
            "supply_usage": "usage_date",
            "requests": "request_date",
            "supply_stock": "as_of",
        }
        tables = {}
        for name in CANONICAL:
            row: dict[str, Any] = {"rows": self.con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]}
            if name in ranges:
                lo, hi = self.con.execute(f"SELECT min({ranges[name]}), max({ranges[name]}) FROM {name}").fetchone()
                row["from"] = lo.isoformat() if lo else None
                row["to"] = hi.isoformat() if hi else None
            tables[name] = row
        s = self.settings()
        imports = [
            {
                "run_id": r[0],
                "when": r[1].isoformat(timespec="seconds") if r[1] else None,
                "source": r[2],
                "format": r[3],
                "read": r[4],
                "loaded": r[5],
                "rejected": r[6],
            }
            for r in self.con.execute(
                """SELECT run_id, started_at, source, format, rows_read, rows_loaded, rows_rejected
                   FROM import_runs ORDER BY run_id DESC LIMIT 5"""
            ).fetchall()
        ]
        return {
            "workspace": str(self.path),
            "hospital": s.get("hospital_name", ""),
            "schema_version": int(s["schema_version"]),
            "timezone": s.get("timezone"),
            "country": s.get("country"),
            "tables": tables,
            "rejects": self.con.execute("SELECT count(*) FROM rejects").fetchone()[0],
            "last_imports": imports,
        }


def _shown_path(path: Path) -> str:
    """The path a person knows: a workspace being built under a temporary name is shown under its own."""
    text = str(path)
    for suffix in (".creating", ".building"):
        while text.endswith(suffix):
            text = text[: -len(suffix)]
    return text


def _remove_files(path: Path) -> None:
    for p in (path, Path(str(path) + ".wal"), keyinfo_path(path)):
        with contextlib.suppress(OSError):
            p.unlink()


def checkpoint_file(path: Path, passphrase: str | None = None) -> None:
    """Fold a workspace's write-ahead log (left by a crash) into its file, so the file alone is complete."""
    if not Path(str(path) + ".wal").exists():
        return
    try:
        con = connect_encrypted(path, passphrase) if is_encrypted(path) else duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise _translate(exc, path) from None
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()


def replace_workspace(src: str | os.PathLike, dst: str | os.PathLike, passphrase: str | None = None) -> None:
    """Put the finished, closed workspace ``src`` in place of ``dst`` so that a crash at any moment leaves
    either the old ``dst`` or the new one, whole, with a key file that opens it.

    ``dst``'s own write-ahead log (if a crash left one) is folded in first (``passphrase`` opens an encrypted
    ``dst``); ``src`` must have been closed cleanly (no WAL).
    """
    src, dst = Path(src), Path(dst)
    if Path(str(src) + ".wal").exists():
        raise WorkspaceError(f"{src} was not closed cleanly; it cannot replace {dst}.")
    if dst.exists():
        checkpoint_file(dst, passphrase)
    new = adopt_keyinfo(src, dst)
    with open(src, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(src, dst)
    if os.name == "posix":
        fd = os.open(dst.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    finish_adopt(src, dst, new)


def list_audit(ws: "Workspace", limit: int | None = None, action: str | None = None) -> list[dict[str, Any]]:
    """The workspace's audit log, newest first: ``[{"ts", "os_user", "action", "target", "details"}]``.

    ``details`` is a dict (what was touched: run ids, counts, old and new values). ``action`` filters on one
    action (e.g. 'import', 'export', 'solve', 'change setting').
    """
    sql = "SELECT ts, os_user, action, target, details FROM audit_log"
    params: list = []
    if action:
        sql += " WHERE action = ?"
        params.append(action)
    sql += " ORDER BY ts DESC, rowid DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    out = []
    for ts, user, act, target, details in ws.con.execute(sql, params).fetchall():
        try:
            d = json.loads(details) if details else {}
        except ValueError:
            d = {"text": details}
        out.append({"ts": ts.isoformat(timespec="seconds") if ts else None, "os_user": user, "action": act,
                    "target": target, "details": d})
    return out


def audit_actions(ws: "Workspace") -> list[str]:
    """The actions the audit log holds, in alphabetical order."""
    return [a for (a,) in ws.con.execute("SELECT DISTINCT action FROM audit_log ORDER BY 1").fetchall()]


def _check_timezone(tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise WorkspaceError(f"'{tz}' is not a time zone name.", "Use an IANA name such as Europe/London.") from None


def check_country(country: str) -> None:
    """A country for public holidays: empty (none) or a code the ``holidays`` package knows (GB, US, DE...)."""
    if not country:
        return
    import holidays

    if country.upper() not in holidays.list_supported_countries():
        raise WorkspaceError(f"'{country}' is not a country code HospOps knows holidays for.",
                             "Use a two-letter code such as GB, US or DE, or leave it out.")
