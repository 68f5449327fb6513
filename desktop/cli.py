"""The `hospops` command line. Plain Python: Qt is imported only when `hospops app` is asked for.

Every subcommand calls the same core functions the app calls. Errors go to stderr as sentences with a
non-zero exit; tracebacks never reach the user (they are written to a log file for bug reports).
"""
from __future__ import annotations

import argparse
import csv
import importlib
import io
import json
import math
import os
import re
import sys
import tempfile
import time
import traceback
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

EXIT_USAGE = 2
EXIT_ERROR = 1
EXIT_CANCELLED = 130

# Command groups that live in their own modules; each has ``register(subparsers)`` which adds its parsers
# and sets ``func`` on them. They import their core packages lazily, inside the command functions.
SUBCOMMAND_MODULES = ("desktop.cli_forecast", "desktop.cli_roster", "desktop.cli_beds")


def _progress_printer(enabled: bool) -> Callable[[float, str], None] | None:
    if not enabled:
        return None
    last = [""]

    def show(fraction: float, message: str) -> None:
        line = f"\r[{'#' * int(fraction * 20):<20}] {fraction * 100:3.0f}% {message[:60]:<60}"
        if line != last[0]:
            sys.stderr.write(line)
            sys.stderr.flush()
            last[0] = line
        if fraction >= 1.0:
            sys.stderr.write("\n")

    return show


def _show_progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "json", False) and not getattr(args, "quiet", False) and sys.stderr.isatty()


PASSPHRASE_ENV = "HOSPOPS_PASSPHRASE"


def _passphrase(ws_path: Path, new: bool = False) -> str:
    """The passphrase of an encrypted workspace: $HOSPOPS_PASSPHRASE, else asked for on a terminal."""
    from datasets.errors import HospOpsError

    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env
    if not sys.stdin.isatty():
        raise HospOpsError(
            f"{ws_path} {'is to be' if new else 'is'} encrypted and no passphrase was given.",
            f"Set {PASSPHRASE_ENV}, or run the command in a terminal to be asked for it.",
        )
    import getpass

    first = getpass.getpass(f"Passphrase for {ws_path.name}: ")
    if new:
        if getpass.getpass("The same passphrase again: ") != first:
            raise HospOpsError("The two passphrases differ; nothing was created.")
        if len(first) < 8:
            raise HospOpsError("Choose a passphrase of at least 8 characters.")
    return first


def _open_args(ws_path: Path) -> dict:
    """Keyword arguments for Workspace.open: the passphrase when the workspace is encrypted."""
    from datasets.store import is_encrypted

    return {"passphrase": _passphrase(ws_path)} if is_encrypted(ws_path) else {}


def audit_cli(workspace: str, action: str, target: str, details: dict) -> None:
    """An export from the command line recorded in the workspace's audit log, as the app's exports are. Where
    the workspace is open elsewhere for writing, said on stderr instead (the export itself stands)."""
    from datasets.errors import HospOpsError

    try:
        with open_workspace(workspace) as ws:
            ws.audit(action, target, {**details, "via": "command line"})
    except HospOpsError as exc:
        print(f"hospops: note: the export could not be recorded in the audit log: {str(exc).splitlines()[0]}",
              file=sys.stderr)


def open_workspace(path: str | os.PathLike, read_only: bool = False):
    """Open a workspace for a command, asking for the passphrase when it is encrypted.

    For every subcommand (the command-group modules too): ``with open_workspace(args.workspace, True) as ws``.
    """
    from datasets.store import Workspace

    return Workspace.open(path, read_only=read_only, **_open_args(Path(path)))


# ---------------------------------------------------------------------------------------------- commands
def cmd_demo(args: argparse.Namespace) -> int:
    from datasets.synthetic import build_demo

    ws_path = Path(args.workspace)
    if ws_path.exists() and not args.force:
        from datasets.errors import WorkspaceError

        raise WorkspaceError(f"{ws_path} already exists.", "Use --force to replace it, or give another name.")
    passphrase = _passphrase(ws_path, new=True) if args.encrypt else None
    t0 = time.perf_counter()
    summary = build_demo(ws_path, days=args.days, seed=args.seed, progress=_progress_printer(_show_progress(args)),
                         replace=args.force, passphrase=passphrase)
    summary["encrypted"] = bool(args.encrypt)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    if args.json:
        print(json.dumps(summary))
    else:
        print(
            f"Built the demo hospital '{summary['hospital']}' in {ws_path}: {summary['days']} days, "
            f"{summary['beds']} beds, {summary['ed_visits']:,} ED visits, {summary['stays']:,} stays "
            f"({summary['seconds']} s)."
        )
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from datasets.errors import HospOpsError
    from datasets.importers import run_import
    from datasets.store import Workspace, is_encrypted, replace_workspace
    from datasets.store.crypto import keyinfo_path

    ws_path = Path(args.workspace)
    created = not ws_path.exists()
    passphrase = None
    if created:
        # a first import builds the workspace beside its final name and moves it into place only once the
        # import has committed: killed at any moment, it leaves no half-made workspace behind
        passphrase = _passphrase(ws_path, new=True) if args.encrypt else None
        target = ws_path.with_name(ws_path.name + ".creating")
        for p in (target, Path(str(target) + ".wal"), keyinfo_path(target)):
            p.unlink(missing_ok=True)
        ws = Workspace.create(target, timezone=args.timezone or "UTC", country=args.country or "",
                              passphrase=passphrase)
    else:
        if args.encrypt and not is_encrypted(ws_path):
            raise HospOpsError(f"{ws_path} already exists and is not encrypted; --encrypt only applies to a new "
                               "workspace.", "Import into a new, encrypted workspace instead.")
        target = ws_path
        ws = Workspace.open(ws_path, **_open_args(ws_path))
        tz, country = ws.timezone, ws.settings().get("country") or ""
        for flag, given, has, what in (("--timezone", args.timezone, tz, "time zone"),
                                       ("--country", args.country, country, "country for holidays")):
            if given and given != has:
                ws.close()
                raise HospOpsError(f"{ws_path} already uses the {what} {has or '(none)'}; {flag} only applies to a "
                                   "new workspace.")
    try:
        with ws:
            result = run_import(
                ws, args.path, args.format, table=args.table, mapping=args.mapping,
                progress=_progress_printer(_show_progress(args)),
            )
        if created:
            replace_workspace(target, ws_path, passphrase)
    except BaseException:
        if created:  # a failed first import leaves no empty workspace behind
            for p in (target, Path(str(target) + ".wal"), keyinfo_path(target)):
                p.unlink(missing_ok=True)
        raise
    if args.json:
        print(json.dumps(result.to_json()))
        return 0
    print(f"Import run {result.run_id} ({result.format}) from {result.source} in {result.seconds:.1f} s")
    rows = [["table", "read", "loaded", "rejected", "replaced"]]
    for table, c in result.tables().items():
        rows.append([table, f"{c['read']:,}", f"{c['loaded']:,}", f"{c['rejected']:,}", f"{c['updated']:,}"])
    print(_table(rows))
    rejected = sum(c["rejected"] for c in result.tables().values())
    if rejected:
        print(
            f"{rejected:,} {'row was' if rejected == 1 else 'rows were'} rejected and kept with their line and reason; "
            "see them with:\n"
            f"  hospops query {args.workspace} \"SELECT * FROM rejects WHERE run_id = {result.run_id} ORDER BY file, line\""
        )
    for note in result.notes:
        print(f"note: {note}")
    for line in result.privacy_summary():
        print(f"privacy: {line}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from datasets.store import Workspace

    with Workspace.open(args.workspace, read_only=True, **_open_args(Path(args.workspace))) as ws:
        info = ws.info()
        info["encrypted"] = ws.encrypted
    if args.json:
        print(json.dumps(info))
        return 0
    print(f"Workspace {info['workspace']}  (schema {info['schema_version']}, time zone {info['timezone']}"
          f"{', ' + info['country'] if info['country'] else ''})")
    if info["hospital"]:
        print(f"Hospital: {info['hospital']}")
    rows = [["table", "rows", "from", "to"]]
    for name, t in info["tables"].items():
        rows.append([name, f"{t['rows']:,}", (t.get("from") or "")[:16], (t.get("to") or "")[:16]])
    print(_table(rows))
    print(f"Rejected rows kept: {info['rejects']:,}")
    if info["last_imports"]:
        print("Last imports:")
        rows = [["run", "when", "format", "read", "loaded", "rejected", "source"]]
        for r in info["last_imports"]:
            rows.append([str(r["run_id"]), r["when"] or "", r["format"], f"{r['read']:,}", f"{r['loaded']:,}",
                         f"{r['rejected']:,}", r["source"]])
        print(_table(rows))
    return 0


def _count(text: str, low: int = 0, high: int | None = None) -> int:
    """argparse type: a whole number, ``low`` or more (and ``high`` at most)."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if n < low:
        raise argparse.ArgumentTypeError(f"{text} is below {low}")
    if high is not None and n > high:
        raise argparse.ArgumentTypeError(f"{text} is above {high}")
    return n


def count_between(low: int, high: int | None = None):
    """An argparse type for a whole number in [low, high] (for the command-group modules too)."""
    return lambda text: _count(text, low, high)


def seconds(text: str) -> float:
    """argparse type: a time limit in seconds, more than 0."""
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(v) or v <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not more than 0 seconds")
    return v


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    from datasets.errors import HospOpsError
    from datasets.store import Workspace

    if not args.sql.strip():
        raise HospOpsError("The query is empty.", 'Example: hospops query WS "SELECT * FROM occupancy_daily LIMIT 10"')
    if args.limit < 0:
        raise HospOpsError("--limit must be 0 (all rows) or more.")
    with Workspace.open(args.workspace, read_only=True, **_open_args(Path(args.workspace))) as ws:
        try:
            # analysts may read the workspace, never write files or read others from here (no COPY TO, no read_csv)
            _pid_without_key(ws)  # (reads the key: before `settings` below hides it)
            ws.con.execute("SET enable_external_access = false")
            # the pseudonym key stays out of query results (and of anything pasted from them): `settings` is a
            # copy with the key hidden, and every statement's plan is checked for a scan of the table itself
            # (reached by its full name, query_table(), a macro...) before it runs
            db = ws.con.execute("SELECT current_database()").fetchone()[0].replace('"', '""')
            ws.con.execute(f"""CREATE TEMP TABLE {SHOWN_SETTINGS} AS SELECT key, CASE WHEN key = 'pid_secret'
                               THEN '(hidden)' ELSE value END AS value FROM "{db}".main.settings""")
            ws.con.execute(f"CREATE TEMP VIEW settings AS SELECT * FROM {SHOWN_SETTINGS}")
            cur = None
            for statement in ws.con.extract_statements(args.sql):
                cur = _run_read_only(ws.con, statement)
            cols = [d[0] for d in cur.description] if cur is not None and cur.description else []
            data = (cur.fetchmany(args.limit + 1) if args.limit else cur.fetchall()) if cols else []
        except duckdb.Error as exc:
            raise HospOpsError(_query_error(exc)) from None
    truncated = bool(args.limit) and len(data) > args.limit
    data = data[: args.limit] if args.limit else data
    if args.format == "csv":
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(cols)
        w.writerows(data)
        sys.stdout.write(out.getvalue())
    elif args.format == "json":
        # NaN and infinity are not JSON: null, as pandas and most readers write them
        rows = [[None if isinstance(v, float) and not math.isfinite(v) else v for v in r] for r in data]
        print(json.dumps({"columns": cols, "rows": rows}, default=str))
    else:
        rows = [cols] + [[_fmt(v) for v in r] for r in data]
        print(_table(rows))
        print(f"({len(data):,} row{'s' if len(data) != 1 else ''}{', more not shown: use --limit 0' if truncated else ''})")
    return 0


SHOWN_SETTINGS = "_hospops_settings_shown"
#: statements `hospops query` runs (by DuckDB's StatementType): queries only
_READS = {"SELECT", "CALL", "EXPLAIN"}
_OUTSIDE = {"COPY", "ATTACH", "DETACH", "LOAD", "EXPORT", "COPY_DATABASE"}


def _pid_without_key(ws) -> None:
    """Redefine ``pid(kind, x)`` for an analyst's session as a call into Python: the workspace's macro carries
    the key in its SQL (the HMAC pads), and ``duckdb_functions()`` or an EXPLAIN of a query calling it showed
    that SQL, so the key. Same pseudonyms, the key out of reach of SQL."""
    from datasets.privacy import LEGACY_PID_SCHEME, pseudonym

    s = ws.settings()
    secret, scheme = s["pid_secret"], s.get("pid_scheme", LEGACY_PID_SCHEME)
    ws.con.create_function("_hospops_pid", lambda kind, x: pseudonym(secret, kind, x, scheme),
                           ["VARCHAR", "VARCHAR"], "VARCHAR", null_handling="special", side_effects=False)
    ws.con.execute("CREATE OR REPLACE TEMP MACRO pid(kind, x) AS CASE WHEN x IS NULL THEN NULL "
                   "ELSE _hospops_pid(CAST(kind AS VARCHAR), CAST(x AS VARCHAR)) END")


#: the statement an EXPLAIN explains (its options, then ANALYZE, which runs it)
_EXPLAINED = re.compile(r"\s*EXPLAIN\s+(?:\([^)]*\)\s*)?(?:ANALY[SZ]E\s+)?(.*)", re.IGNORECASE | re.DOTALL)


def _run_read_only(con, statement):
    """Run one statement of an analyst's query: a query whose plan does not read the settings table itself
    (an EXPLAIN's statement too: EXPLAIN ANALYZE runs it, and its errors quoted values)."""
    from datasets.errors import HospOpsError

    kind = statement.type.name
    if kind in _OUTSIDE:
        raise HospOpsError("hospops query only reads the workspace: it cannot read or write other files.")
    if kind not in _READS:
        raise HospOpsError("hospops query is read-only: it cannot change the workspace.",
                           "It runs queries: SELECT, FROM, WITH, SUMMARIZE, DESCRIBE, SHOW.")
    query = statement.query
    if kind == "EXPLAIN":
        m = _EXPLAINED.match(query)
        if not m or not m.group(1).strip():
            raise HospOpsError("hospops query could not tell which statement this EXPLAIN explains.")
        query = m.group(1)
    plan = con.execute("EXPLAIN (FORMAT json) " + query).fetchall()
    if "settings" in _plan_tables(json.loads(plan[0][1]) if plan else []):
        raise HospOpsError("The workspace's pseudonym key cannot be read: query `settings` by that name alone "
                           "(the key shows as (hidden)).")
    return con.execute(statement.query)


def _plan_tables(node) -> set[str]:
    """The names of the tables a JSON query plan scans."""
    found: set[str] = set()
    if isinstance(node, list):
        for n in node:
            found |= _plan_tables(n)
    elif isinstance(node, dict):
        table = (node.get("extra_info") or {}).get("Table") if isinstance(node.get("extra_info"), dict) else None
        if isinstance(table, str):
            found.add(table)
        for n in node.get("children", []):
            found |= _plan_tables(n)
    return found


def _query_error(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()[0]
    if "read-only" in msg.lower() or "read only" in msg.lower():
        return "hospops query is read-only: it cannot change the workspace."
    if "external access" in msg.lower() or "disabled by configuration" in msg.lower():
        return "hospops query only reads the workspace: it cannot read or write other files."
    return f"The query failed: {msg}"


def cmd_audit(args: argparse.Namespace) -> int:
    from datasets.store import Workspace, audit_actions, list_audit

    with Workspace.open(args.workspace, read_only=True, **_open_args(Path(args.workspace))) as ws:
        entries = list_audit(ws, limit=args.limit or None, action=args.action)
        if args.action and not entries:
            known = audit_actions(ws)
            if args.action not in known:
                from datasets.errors import HospOpsError

                raise HospOpsError(f"No audit entries have the action {args.action!r}.",
                                   hint="The actions recorded are: " + ", ".join(known) + "." if known else None)
    if args.json:
        print(json.dumps({"workspace": args.workspace, "entries": entries}, default=str))
        return 0
    rows = [["when", "user", "action", "target", "details"]]
    for e in entries:
        details = ", ".join(f"{k}={v}" for k, v in e["details"].items())
        rows.append([e["ts"] or "", e["os_user"] or "", e["action"], e["target"] or "",
                     details if len(details) <= 80 else details[:79] + "…"])
    print(_table(rows))
    print(f"({len(entries)} entr{'y' if len(entries) == 1 else 'ies'}, newest first)")
    return 0


def cmd_app(args: argparse.Namespace) -> int:
    try:
        from desktop.app import run_app  # imports Qt
    except ImportError as exc:
        from datasets.errors import HospOpsError

        raise HospOpsError(f"The desktop app is not available in this build: {exc}") from None
    return run_app(args)


# ---------------------------------------------------------------------------------------------- helpers
def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.3f}".rstrip("0").rstrip(".") if abs(v) < 1e15 else str(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, datetime) and v.microsecond:  # to the second for reading; CSV and JSON keep every digit
        return str(v.replace(microsecond=0))
    return str(v)


def _table(rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))] if rows and rows[0] else []
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    from datasets.names import FORMATS, TABLES  # not the packages themselves: they import DuckDB

    p = argparse.ArgumentParser(
        prog="hospops",
        description="HospOps: hospital operations analytics on a local DuckDB workspace.",
    )
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser("demo", help="build the demo hospital workspace")
    d.add_argument("workspace", help="workspace file to create, e.g. demo.hospops")
    d.add_argument("--days", type=int, default=3 * 365, help="days of history (default 1095, three years)")
    d.add_argument("--seed", type=count_between(0, 2**32 - 1), default=7,
                   help="random seed, 0 or more (same seed, same hospital)")
    d.add_argument("--force", action="store_true", help="replace the workspace if it exists")
    d.add_argument("--encrypt", action="store_true",
                   help=f"encrypt the workspace (passphrase from ${PASSPHRASE_ENV} or asked for)")
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_demo)

    i = sub.add_parser("import", help="import an EHR extract into a workspace (created if missing)")
    i.add_argument("workspace")
    i.add_argument("path", help="file or folder to import")
    i.add_argument("--format", choices=FORMATS, help="source format (guessed from the names when absent)")
    i.add_argument("--table", choices=TABLES, help="csv: the canonical table the file holds")
    i.add_argument("--mapping", help="csv: TOML mapping file (source columns, timestamp format, value maps)")
    i.add_argument("--timezone", help="time zone of a new workspace (IANA name, default UTC)")
    i.add_argument("--country", help="country code of a new workspace, for holidays (e.g. GB)")
    i.add_argument("--encrypt", action="store_true",
                   help=f"a new workspace is encrypted (passphrase from ${PASSPHRASE_ENV} or asked for)")
    i.add_argument("--json", action="store_true")
    i.set_defaults(func=cmd_import)

    n = sub.add_parser("info", help="tables, counts, date ranges and last imports of a workspace")
    n.add_argument("workspace")
    n.add_argument("--json", action="store_true")
    n.set_defaults(func=cmd_info)

    q = sub.add_parser("query", help="run a read-only SQL query on a workspace")
    q.add_argument("workspace")
    q.add_argument("sql")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    q.add_argument("--limit", type=int, default=None,
                   help="rows shown (0 = all; default 50 in table format, all in csv/json)")
    q.set_defaults(func=cmd_query)

    u = sub.add_parser("audit", help="list the workspace's audit log (imports, exports, solves, settings)")
    u.add_argument("workspace")
    u.add_argument("--action", help="only this action, e.g. import, export, solve, 'change setting'")
    u.add_argument("--limit", type=_count, default=0, help="newest N entries (default all)")
    u.add_argument("--json", action="store_true")
    u.set_defaults(func=cmd_audit)

    a = sub.add_parser("app", help="open the desktop app")
    a.add_argument("workspace", nargs="?")
    a.add_argument("--screenshot", help="render one page offscreen to this PNG and exit")
    a.add_argument("--page", help="page to show: data, overview, forecast, beds, roster, supplies")
    a.add_argument("--size", default="1280x800")
    a.add_argument("--at", help="open 'as of' this time instead of now (or the data's end), e.g. 2026-11-20T14:00")
    a.set_defaults(func=cmd_app)

    for module in SUBCOMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return p


def _version() -> str:
    """``hospops X.Y.Z`` and the versions of the libraries that matter for a bug report (no imports)."""
    from importlib.metadata import PackageNotFoundError, version

    def v(name: str) -> str:
        try:
            return version(name)
        except PackageNotFoundError:
            return "missing"

    frozen = " (bundle)" if getattr(sys, "frozen", False) else ""
    libs = ", ".join(f"{n} {v(d)}" for n, d in (
        ("duckdb", "duckdb"), ("PySide6", "pyside6-essentials"), ("pyqtgraph", "pyqtgraph"), ("prophet", "prophet"),
        ("statsmodels", "statsmodels"), ("ortools", "ortools"), ("pandas", "pandas"), ("numpy", "numpy")))
    return f"hospops {v('hospops')}{frozen}; Python {sys.version.split()[0]}; {libs}"


def log_folder() -> Path:
    """Where crash logs go: ``HOSPOPS_LOG_DIR``, else this user's own folder, private (0700). A shared
    ``/tmp/hospops-logs`` (0755, files 0644) let another user of the workstation read the logs or plant a
    link in the folder first; a folder that is a link, or someone else's, is not used."""
    given = os.environ.get("HOSPOPS_LOG_DIR")
    if given:
        return Path(given)
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or tempfile.gettempdir())
        return base / "HospOps" / "logs"  # (a user's own profile folder)
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "hospops" / "logs"


def _log_crash(exc: BaseException) -> Path | None:
    try:
        folder = log_folder()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        if os.name != "nt":
            st = folder.lstat()
            if folder.is_symlink() or st.st_uid != os.getuid():
                return None
            os.chmod(folder, 0o700)
        path = folder / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(traceback.format_exception(exc)))
        return path
    except OSError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    from datasets.errors import Cancelled, HospOpsError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    if args.command == "query" and args.limit is None:
        args.limit = 50 if args.format == "table" else 0  # csv and json: every row unless --limit says otherwise
    try:
        return args.func(args)
    except Cancelled as exc:
        print(f"hospops: {exc}", file=sys.stderr)
        return EXIT_CANCELLED
    except KeyboardInterrupt:
        print("hospops: interrupted; nothing was changed.", file=sys.stderr)
        return EXIT_CANCELLED
    except HospOpsError as exc:
        print(f"hospops: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: say so plainly, keep the traceback for the report
        log = _log_crash(exc)
        print(
            f"hospops: internal error ({type(exc).__name__}: {exc}). This is a bug in HospOps."
            + (f" Details were written to {log}." if log else ""),
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
