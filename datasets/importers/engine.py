"""The validation engine every importer shares.

An importer stages each source file with DuckDB's reader (every field as text, structural errors kept
by ``store_rejects``), then hands the engine one SQL ``SELECT`` per canonical table that maps staged rows
to canonical columns. The engine, in SQL only:

1. adds the generic checks (required fields, duplicate keys in the file, rows that parse but make no
   sense such as a departure before the arrival),
2. writes every bad row to ``rejects`` with file, line, column, reason and the raw text,
3. replaces rows whose key is already in the workspace (a newer extract wins) and inserts the rest,
4. keeps the books: rows read = rows loaded + rows rejected, for every table of every file.

All of it happens inside the one transaction of an :class:`ImportSession`: an import lands whole or not
at all, and a failure or a cancel leaves the workspace exactly as it was.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Iterable, Optional

import duckdb

from datasets.errors import HospOpsError, SourceError
from datasets.privacy import WORDY, birth_year_sql, classify_column, mask_shape_sql
from datasets.progress import Progress, Reporter, ShouldStop
from datasets.store import CANONICAL, Workspace, os_user

# Rows that parse but make no sense: (table, SQL condition that is TRUE for a bad row, column, reason). A
# reason's "{value}" is the row's value of that column (so a reject says what it found, not only what it wanted).
SANITY_RULES: dict[str, list[tuple[str, str, str]]] = {
    "ed_visits": [
        ("year(arrival_ts) < 1900", "arrival_ts", "arrival on {value}: write the year in four digits"),
        ("departure_ts < arrival_ts", "departure_ts", "departure before arrival"),
        ("decision_ts < arrival_ts", "decision_ts", "decision to admit before arrival"),
        ("acuity NOT BETWEEN 1 AND 5", "acuity", "acuity must be 1 (most urgent) to 5, not {value}"),
    ],
    "stays": [("year(admit_ts) < 1900", "admit_ts", "admission on {value}: write the year in four digits"),
              ("discharge_ts < admit_ts", "discharge_ts", "discharge before admission")],
    "movements": [
        ("out_ts < in_ts", "out_ts", "transfer out before transfer in"),
        ("seq < 1", "seq", "sequence number must be 1 or more"),
    ],
    "supply_usage": [("year(usage_date) < 1900", "usage_date", "used on {value}: write the year in four digits"),
                     ("quantity < 0", "quantity", "negative quantity ({value})"),
                     ("quantity > 1000000", "quantity", "a quantity of {value} in one record is not plausible")],
    "units": [("capacity < 0", "capacity", "negative bed capacity ({value})")],
    "patients": [
        ("birth_year NOT BETWEEN 1850 AND 2300", "birth_year", "birth year {value} out of range"),
        ("sex NOT IN ('F', 'M', 'U')", "sex", "sex must be F, M or U, not '{value}'"),
    ],
    "shift_types": [("duration_h <= 0 OR duration_h > 24", "duration_h",
                     "shift length must be more than 0 and at most 24 hours, not {value}")],
    "staff": [("contract_hours < 0 OR contract_hours > 168", "contract_hours", "contract hours {value} out of range")],
}


def _structure_reason(kinds: str, message: str, found: int, expected: int) -> str:
    """A line the CSV reader could not split, in words: the count of fields against the header's for the
    common cases (DuckDB's own 'Expected Number of Columns: 4 Found: 3'), its message otherwise."""
    if kinds == "missing columns":
        return (f"{found} field(s) where the header has {expected}: a field is missing or the line was cut off")
    if kinds == "too many columns":
        return (f"{found} fields where the header has {expected}: an extra delimiter, or a value holding the "
                f"delimiter without quotes")
    return f"{kinds}: {message}"


@dataclass
class TableCount:
    table: str
    file: str
    sha256: str
    read: int = 0
    loaded: int = 0
    rejected: int = 0
    updated: int = 0


@dataclass
class ImportResult:
    run_id: int
    source: str
    format: str
    counts: list[TableCount] = field(default_factory=list)
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    privacy: list[dict] = field(default_factory=list)

    def tables(self) -> dict[str, dict[str, int]]:
        """Counts summed per canonical table (the `--json` shape)."""
        out: dict[str, dict[str, int]] = {}
        for c in self.counts:
            t = out.setdefault(c.table, {"read": 0, "loaded": 0, "rejected": 0, "updated": 0})
            t["read"] += c.read
            t["loaded"] += c.loaded
            t["rejected"] += c.rejected
            t["updated"] += c.updated
        return out

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "source": self.source,
            "format": self.format,
            "seconds": round(self.seconds, 3),
            "tables": self.tables(),
            "files": [c.__dict__ for c in self.counts],
            "notes": self.notes,
            "privacy": self.privacy,
        }

    def privacy_summary(self) -> list[str]:
        """The import report's privacy part in sentences: what was pseudonymized, reduced or dropped."""
        by_action: dict[str, list[str]] = {}
        for p in self.privacy:
            by_action.setdefault(p["action"], []).append(f"{p['file']}:{p['column']}")
        out = []
        for action, cols in by_action.items():
            shown = ", ".join(cols[:12]) + (f" and {len(cols) - 12} more" if len(cols) > 12 else "")
            out.append(f"{action}: {shown}")
        return out


@dataclass
class Staged:
    """A source file read into a temp table ``name`` (all text, plus ``_n``: record number from 1)."""

    name: str
    path: Path
    columns: list[str]
    rows: int
    struct_rejects: int
    sha256: str
    delimiter: str
    encoding: str
    # source column -> SQL template ({v}: the field, {row}: the row alias) giving what rejected rows keep of
    # it; set by the importer for identifiers whose pseudonym it builds in a particular way
    scrub: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)  # columns the importer reads (the others are never kept)
    report_columns: Optional[list[str]] = None  # columns the privacy report covers (None: all)
    birth_columns: set[str] = field(default_factory=set)  # dates of birth whatever their name: year only
    # where records do not each take one line (blank lines, line breaks in quoted fields): a temp table
    # ``(_n, line)`` of each staged record's physical first line, and the same for the reader's own line numbers
    # (blank lines counted, a record over several lines as one: what its rejects table says)
    line_map: Optional[str] = None
    reader_lines: Optional[list[int]] = None
    read_path: Optional[Path] = None  # the file DuckDB read: ``path``, or its UTF-8 copy (:func:`transcode`)
    typed: set[str] = field(default_factory=set)  # columns read as numbers or dates (see :func:`shape_if_wordy`)
    # {column: SQL over {v}}: how a rejected row's raw text keeps a category field (see :meth:`guard_raw`)
    raw_guards: dict[str, str] = field(default_factory=dict)

    def guard_raw(self, column: str, template: str) -> None:
        """Keep ``column`` in a rejected row's raw text through ``template`` (SQL over ``{v}``): a category
        field keeps a known wording and shows anything else as its shape. A shifted row put a name and record
        number (NAME2222222) under disposition; the row was rejected for its dates, and its raw text quoted
        the name."""
        name = {c.lower(): c for c in self.columns}.get(column.strip('"').replace('""', '"').lower())
        if name is not None:
            self.raw_guards[name] = template

    def pseudonymize(self, column: str, template: str) -> None:
        """Say how rejected rows keep ``column``: ``template`` is SQL with ``{v}`` for the field's text."""
        lower = {c.lower(): c for c in self.columns}
        name = lower.get(column.strip('"').lower())
        if name is not None:
            self.scrub[name] = template

    def policy(self, column: str) -> tuple[str, Optional[str]]:
        """What the workspace keeps of a source column: (action, SQL template over ``{v}``, or None)."""
        if column in self.scrub:
            return "pseudonymized", self.scrub[column]
        kind = classify_column(column)
        if kind and kind.startswith("id:"):
            return "pseudonymized", f"pid('{kind[3:]}', {{v}})"
        if kind == "birth" or column in self.birth_columns:
            return "birth year only", birth_year_sql("{v}")
        if kind == "drop" or column not in self.used:
            return "not imported", None
        return "imported", "{v}"

    def raw_sql(self, alias: str = "s") -> str:
        """SQL for a staged row's text as rejects keep it: identifiers pseudonymized, unread fields empty."""
        delim = sql_str(self.delimiter)
        parts = []
        for c in self.columns:
            _, tpl = self.policy(c)
            if tpl is None:
                parts.append("''")
                continue
            v = f"{alias}.{quote_ident(c)}"
            x = f"coalesce(CAST({tpl.replace('{v}', v).replace('{row}', alias)} AS VARCHAR), '')"
            x = shape_if_multiline(x)
            if c in self.typed:  # (a number or date field: a word there is a shifted name, kept as its shape)
                x = shape_if_wordy(x)
            if c in self.raw_guards:
                x = f"({self.raw_guards[c].replace('{v}', x)})"
            parts.append(
                f"CASE WHEN contains({x}, {delim}) OR contains({x}, '\"') OR contains({x}, chr(10)) "
                f"OR contains({x}, chr(13)) THEN '\"' || replace({x}, '\"', '\"\"') || '\"' ELSE {x} END"
            )
        return f"concat_ws({delim}, {', '.join(parts) or chr(39) * 2})"

    def col(self, *candidates: str, required: bool = True) -> Optional[str]:
        """The quoted staged column matching one of ``candidates`` (case-insensitive), or None."""
        lower = {c.lower(): c for c in self.columns}
        for cand in candidates:
            if cand.lower() in lower:
                self.used.add(lower[cand.lower()])
                return quote_ident(lower[cand.lower()])
        if required:
            raise SourceError(
                f"{self.path.name}: required column '{candidates[0]}' is missing.",
                f"Columns found: {shown_columns(self.columns)}.",
            )
        return None


#: a header name holding a run of 3 digits (an NHS number, a date, a time) makes the line data, not a header
_DATA_LIKE = re.compile(r"\d{3}")


def shown_columns(columns: list[str], limit: int = 20, width: int = 40) -> str:
    """Column names for an error message: never a data line. A header-less file's first row is data (a
    patient's record was quoted whole): where any name holds a run of 3 digits, every name is shown as its
    shape (letters x, digits 9), and the message says the line looks like data."""
    if not columns:
        return "(none)"
    said = ""
    if any(_DATA_LIKE.search(str(c)) for c in columns):
        from datasets.privacy import mask_shape

        said = "(the first line looks like data, not a header; its fields' shapes:) "
        columns = [mask_shape(str(c)) for c in columns]
    names = [printable(c) for c in columns[:limit]]
    names = [c if len(c) <= width else c[: width - 1] + "…" for c in names]
    more = f" and {len(columns) - limit} more" if len(columns) > limit else ""
    return said + ", ".join(names) + more


def printable(text: str) -> str:
    """``text`` fit for a message: control characters (NUL, escape sequences, ...) shown as ``\\xNN``."""
    return "".join(ch if ch.isprintable() or ch == " " else f"\\x{ord(ch):02x}" if ord(ch) < 256
                   else f"\\u{ord(ch):04x}" for ch in text)


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_str(value: str) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def file_sha256(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def detect_encoding(path: Path, sample_bytes: int = 4 << 20) -> str:
    """UTF-8 when the first megabytes decode as UTF-8; UTF-16 where the file starts with its byte-order mark
    (Excel's "Unicode Text"); else Windows-1252 (Excel's "CSV" on Windows: curly quotes, €, en dashes) where
    that decodes, else Latin-1 (which decodes anything)."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            sample = fh.read(sample_bytes)
    except (OSError, EOFError, zlib.error) as exc:  # zlib.error: a damaged deflate stream inside a gzip header
        raise SourceError(f"{path.name} cannot be read: {exc}. The file may be truncated or not really gzip.") from None
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        # a multi-byte character cut by the sample's end is still UTF-8
        if exc.start >= len(sample) - 3:
            return "utf-8"
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


#: the private temp folders of :func:`transcode`: ``hospops-import-<process id>-<random>``
TEMP_PREFIX = "hospops-import-"
#: folders of that prefix without a process id (versions before the sweep) are removed when this much older
STALE_UNNAMED_S = 24 * 3600


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` is running (True when it cannot be told: a folder is never removed in doubt)."""
    import os

    if pid == os.getpid():
        return True
    if os.name == "nt":  # (os.kill(pid, 0) would end the process on Windows)
        import ctypes

        kernel = ctypes.WinDLL("kernel32", use_last_error=True)
        handle = kernel.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return ctypes.get_last_error() == 5  # access denied: someone else's, running
        code = ctypes.c_ulong()
        try:
            return not kernel.GetExitCodeProcess(handle, ctypes.byref(code)) or code.value == 259  # STILL_ACTIVE
        finally:
            kernel.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def sweep_stale_temps(root: Optional[Path] = None) -> list[Path]:
    """Remove the UTF-8 copies an import killed part way left behind (a crash, a forced quit, a power cut):
    this user's :data:`TEMP_PREFIX` folders whose process is no longer running. Called before every import
    and when the app starts; returns the folders removed."""
    import os
    import tempfile

    root = Path(root or tempfile.gettempdir())
    gone = []
    for folder in root.glob(TEMP_PREFIX + "*"):
        try:
            st = folder.stat()
            if not folder.is_dir() or (hasattr(os, "getuid") and st.st_uid != os.getuid()):
                continue
            m = re.match(re.escape(TEMP_PREFIX) + r"(\d+)-", folder.name)
            stale = (not _process_alive(int(m.group(1))) if m
                     else time.time() - st.st_mtime > STALE_UNNAMED_S)
        except (OSError, ValueError):
            continue
        if stale:
            shutil.rmtree(folder, ignore_errors=True)
            gone.append(folder)
    return gone


def transcode(path: Path, encoding: str, chunk: int = 4 << 20) -> Path:
    """A UTF-8 copy of a text file in another encoding, in a private temp folder (removed by the caller), for
    DuckDB's reader, which knows UTF-8, UTF-16 and a strict Latin-1 only (a Windows-1252 file failed with
    "File is not latin-1 encoded", a UTF-16 one was called damaged). Line breaks are kept as they are, so
    line numbers are the file's own. The folder is named after this process, so that a copy an import killed
    part way leaves behind is removed by the next import or app start (:func:`sweep_stale_temps`)."""
    import codecs
    import gzip
    import tempfile

    import os

    opener = gzip.open if path.suffix == ".gz" else open
    sweep_stale_temps()
    folder = Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-"))
    out = folder / (path.stem if path.suffix == ".gz" else path.name)
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    try:
        with opener(path, "rb") as src, open(out, "w", encoding="utf-8", newline="") as dst:
            for block in iter(lambda: src.read(chunk), b""):
                dst.write(decoder.decode(block))
            dst.write(decoder.decode(b"", final=True))
    except (OSError, EOFError, zlib.error) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise SourceError(f"{path.name} cannot be read: {exc}.") from None
    return out


def _header_delimiter(path: Path, encoding: str, n_columns: int, guess: str) -> str:
    """The delimiter that splits the header line into the ``n_columns`` columns read: ``guess`` where it does
    (or where none does). sniff_csv could name another on a file with ragged lines ('|' for a comma file,
    and the rejects' raw text was joined with it)."""
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8" if encoding.lower().startswith("utf-8") else encoding,
                    errors="replace", newline="") as fh:
            head = fh.readline(1 << 20)
    except (OSError, EOFError, zlib.error, LookupError):
        return guess
    fits = [d for d in (guess, ",", ";", "\t", "|") if len(next(csv.reader([head], delimiter=d), [])) == n_columns]
    return fits[0] if fits else guess


def has_rows(path: Path) -> bool:
    """True when the file has at least one non-empty line after its header (an empty file has none)."""
    import gzip

    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            n = 0
            for line in fh:
                if line.strip():
                    n += 1
                    if n >= 2:
                        return True
    except (OSError, EOFError, zlib.error) as exc:
        raise SourceError(f"{path.name} cannot be read: {exc}. The file may be truncated or not really gzip.") from None
    return False


def surplus_fields(path: Path, encoding: str, delimiter: str, n_columns: int, *, header: bool = True,
                   sample_bytes: int = 256 << 10) -> tuple[int, int, int]:
    """In the first rows of a delimited file: (rows sampled, rows with more fields than ``n_columns`` whose
    surplus fields are all empty, rows with more fields at all).

    A sample read once with Python's csv module (the file's head only, never a loop over its rows).
    """
    import gzip

    if len(delimiter) != 1 or n_columns < 1:
        return 0, 0, 0
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(sample_bytes)
    except (OSError, EOFError, zlib.error):
        return 0, 0, 0
    cut = head.rfind(b"\n")
    if cut < 0:
        return 0, 0, 0
    text = head[: cut + 1].decode(encoding, errors="replace").lstrip("\ufeff")
    # counted twice, and the worse count wins: over the sample as one text (quoted fields may hold line breaks),
    # and line by line, since DuckDB recovers from an unbalanced quote at the next line, where Python's csv reads
    # on to the next quote and would hide the rows it swallowed
    whole = _surplus_counts(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), n_columns, header)
    lines = _surplus_counts((next(csv.reader([line], delimiter=delimiter), []) for line in text.splitlines()),
                            n_columns, header)
    return max(whole, lines, key=lambda c: (c[1], c[2]))


def _surplus_counts(rows: Iterable[list[str]], n_columns: int, header: bool) -> tuple[int, int, int]:
    sampled = empty = extra = 0
    try:
        for i, row in enumerate(rows):
            if (header and i == 0) or not row:
                continue
            sampled += 1
            if len(row) > n_columns:
                extra += 1
                if not any(f.strip() for f in row[n_columns:]):
                    empty += 1
    except csv.Error:
        pass
    return sampled, empty, extra


class ImportSession:
    """One import: one transaction, one ``import_runs`` row, any number of files and tables."""

    def __init__(
        self,
        ws: Workspace,
        source: str,
        fmt: str,
        progress: Optional[Progress] = None,
        should_stop: Optional[ShouldStop] = None,
    ):
        if ws.read_only:
            raise HospOpsError("This workspace is open read-only; imports need it open for writing.")
        self.ws = ws
        self.con = ws.con
        self.source = source
        self.format = fmt
        self.rep = Reporter(progress, should_stop)
        self.counts: list[TableCount] = []
        self.notes: list[str] = []
        self._staged_n = 0
        self._extra_temps: list[str] = []
        self._temp_dirs: list[Path] = []  # UTF-8 copies of files in other encodings, removed at the end
        self._loaded_from: dict[str, Staged] = {}
        self.privacy: list[dict] = []
        self.privacy_extra: list[dict] = []  # report lines an importer adds for what it never reads
        self._t0 = time.perf_counter()
        self._started = datetime.now()
        self.tz = ws.timezone

    # -------------------------------------------------------------- lifecycle
    def __enter__(self) -> "ImportSession":
        self.con.execute("BEGIN TRANSACTION")
        self.run_id = self.con.execute("SELECT nextval('import_run_seq')").fetchone()[0]
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is None:
            try:
                self._finish()
                self.con.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            finally:
                self._drop_temps()
            return False
        self._rollback()
        self._drop_temps()
        if isinstance(exc, duckdb.Error):
            # a reader error we did not foresee: show it as a sentence, keep the workspace as it was
            first = printable(str(exc).strip().splitlines()[0][:300]) if str(exc).strip() else type(exc).__name__
            raise SourceError(f"Import of {self.source} failed and nothing was changed: {first}") from None
        return False

    def _rollback(self) -> None:
        try:
            self.con.execute("ROLLBACK")
        except duckdb.Error:
            pass

    def drop_later(self, *names: str) -> None:
        """Drop these temp tables of the importer's own when the import ends, whether it commits or not.

        (Never in a ``finally`` inside the session: after a failed statement the transaction is aborted, a
        DROP fails too, and its error would hide the real one.)
        """
        self._extra_temps.extend(names)

    def _drop_temps(self) -> None:
        for folder in self._temp_dirs:
            shutil.rmtree(folder, ignore_errors=True)
        for name in self._extra_temps:
            try:
                self.con.execute(f"DROP TABLE IF EXISTS {name}")
            except duckdb.Error:
                pass
        for i in range(1, self._staged_n + 1):
            for name in (f"_stage{i}", f"_chk{i}", f"_rej{i}", f"_rejscan{i}"):
                try:
                    self.con.execute(f"DROP TABLE IF EXISTS {name}")
                except duckdb.Error:
                    pass

    def result(self) -> ImportResult:
        if any(c.table == "movements" for c in self.counts):
            self.notes.extend(n for n in self._reference_notes() if n not in self.notes)
        return ImportResult(self.run_id, self.source, self.format, self.counts, self._seconds, self.notes,
                            self.privacy)

    def _reference_notes(self) -> list[str]:
        """Movements whose unit, bed or stay the workspace does not hold (checked where that table has rows):
        they load (an extract may come before its units), but the user is told, with an example."""
        checks = [("unit_id", "units", "a unit", "they count in the census of a unit no page lists"),
                  ("bed_id", "beds", "a bed", "they are on no bed board"),
                  ("stay_id", "stays", "a stay", "they have no specialty or admission for the outlook")]
        out = []
        for col, table, what, effect in checks:
            try:
                n, example = self.con.execute(
                    f"""SELECT count(*), min(m.{col}) FROM movements m
                        WHERE m.{col} IS NOT NULL AND EXISTS (SELECT 1 FROM {table})
                          AND NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{col} = m.{col})"""
                ).fetchone()
            except duckdb.Error:
                continue
            if n:
                out.append(f"{n:,} movement row(s) name {what} that is not in {table} (e.g. {example}): {effect}. "
                           f"Import {table} or correct them.")
        return out

    def _privacy_report(self) -> list[dict]:
        out = list(self.privacy_extra)
        for st in self._loaded_from.values():
            if st.report_columns is not None and not st.report_columns:
                continue
            for c in st.columns if st.report_columns is None else st.report_columns:
                action, tpl = st.policy(c)
                if action == "imported":
                    continue
                detail = {
                    "pseudonymized": "replaced by the workspace's keyed hash (HMAC-SHA256)",
                    "birth year only": "only the year is kept",
                    "not imported": "not stored; left empty in the raw text of rejected rows",
                }[action]
                out.append({"file": st.path.name, "column": c, "action": action, "detail": detail})
        return out

    def _finish(self) -> None:
        self.privacy = self._privacy_report()
        if self.privacy:
            self.con.executemany(
                "INSERT INTO import_privacy VALUES (?, ?, ?, ?, ?)",
                [[self.run_id, p["file"], p["column"], p["action"], p["detail"]] for p in self.privacy],
            )
        self._seconds = time.perf_counter() - self._t0
        read = sum(c.read for c in self.counts)
        loaded = sum(c.loaded for c in self.counts)
        rejected = sum(c.rejected for c in self.counts)
        shas = sorted({c.sha256 for c in self.counts})
        self.con.execute(
            "INSERT INTO import_runs VALUES (?, ?, current_localtimestamp(), ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                self.run_id,
                self._started,
                self.source,
                self.format,
                shas[0] if len(shas) == 1 else hashlib.sha256(" ".join(shas).encode()).hexdigest(),
                read,
                loaded,
                rejected,
                self._seconds,
                os_user(),
                "; ".join(self.notes),
            ],
        )
        if self.counts:  # (an export with nothing HospOps maps, e.g. Location resources only, loads no table)
            self.con.executemany(
                "INSERT INTO import_counts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [[self.run_id, c.table, c.file, c.sha256, c.read, c.loaded, c.rejected, c.updated]
                 for c in self.counts],
            )
        self.ws._audit_in_tx(
            "import",
            self.source,
            {"run_id": self.run_id, "format": self.format, "read": read, "loaded": loaded, "rejected": rejected},
        )

    # -------------------------------------------------------------- staging
    def stage_csv(
        self,
        path: Path,
        *,
        delimiter: Optional[str] = None,
        encoding: Optional[str] = None,
        header: bool = True,
    ) -> Staged:
        """Read a delimited file (optionally gzip) into a temp table of text columns, structural errors kept."""
        path = Path(path)
        if not path.exists():
            raise SourceError(f"There is no file {path}.")
        if path.is_dir():
            raise SourceError(f"{path} is a folder; give a file (or use a format that reads folders).")
        if path.stat().st_size == 0:
            raise SourceError(f"{path.name} is empty.")
        self.rep.check()
        sha = file_sha256(path)
        enc = encoding or detect_encoding(path)
        read, read_enc = path, enc
        if enc not in ("utf-8", "latin-1"):
            read, read_enc = transcode(path, enc), "utf-8"
            self._temp_dirs.append(read.parent)
        self._staged_n += 1
        name = f"_stage{self._staged_n}"
        opts = [
            "all_varchar = true",
            f"header = {'true' if header else 'false'}",
            "store_rejects = true",
            f"rejects_table = '_rej{self._staged_n}'",
            f"rejects_scan = '_rejscan{self._staged_n}'",
            f"encoding = {sql_str(read_enc)}",
            "strict_mode = true",
        ]
        if delimiter:
            opts.append(f"delim = {sql_str(delimiter)}")
        reader = f"read_csv({sql_str(str(read))}, {', '.join(opts)})"
        try:
            self.con.execute(f"CREATE TEMP TABLE {name} AS SELECT row_number() OVER () AS _n, * FROM {reader}")
        except duckdb.Error as exc:
            raise SourceError(self._reader_error(path, exc)) from None
        columns = [r[0] for r in self.con.execute(f"DESCRIBE {name}").fetchall()][1:]
        if any("\x00" in c for c in columns):  # (SQL cannot name such a column: DuckDB's parser stops at a NUL)
            raise SourceError(f"{path.name}: the header holds a NUL character; the file is damaged or not text. "
                              "Nothing was imported.")
        rows = self.con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        struct = self.con.execute(f"SELECT count(DISTINCT line) FROM _rej{self._staged_n}").fetchone()[0]
        if rows == 0 and struct == 0:
            raise SourceError(f"{path.name} has a header but no rows.")
        # the delimiter the reader really used (sniff_csv alone can differ on a file with ragged lines)
        delim = delimiter or ","
        try:
            used = self.con.execute(f"SELECT delimiter FROM _rejscan{self._staged_n} LIMIT 1").fetchone()
            if not (used and used[0]) and not delimiter:  # (the scan is recorded only where a line was rejected)
                used = self.con.execute(f"SELECT delimiter FROM sniff_csv({sql_str(str(read))}, "
                                        f"encoding = {sql_str(read_enc)})").fetchone()
            delim = delimiter or (used[0] if used and used[0] else ",")
        except duckdb.Error:
            pass
        if not delimiter:
            delim = _header_delimiter(read, read_enc, len(columns), delim)
        sampled, empty_extra, extra = surplus_fields(read, read_enc, delim, len(columns), header=header)
        if empty_extra and (2 * empty_extra >= sampled or extra > empty_extra):
            # DuckDB reads a row's surplus *empty* fields as a trailing delimiter (by design), so a header that
            # lacks a name would put every value under the wrong name, identifiers included: refuse instead
            raise SourceError(
                f"{path.name}: the header names {len(columns)} columns but {empty_extra} of the first {sampled} rows "
                "have more fields (the surplus empty). The header may lack a column name, and values would be "
                "read under the wrong names; nothing was imported.",
                "Fix the header, or remove the trailing delimiters at the ends of the rows.",
            )
        staged = Staged(name, path, columns, rows, struct, sha, delim, enc, read_path=read)
        if header:
            self._map_lines(staged)
        return staged

    def _map_lines(self, staged: Staged) -> None:
        """Rejected rows are reported on the line the file has them on. Where the lines do not add up to the
        header, the records and the reader's rejected lines (blank lines, line breaks inside quoted fields, as
        free-text notes have), each record's first line is found by reading the file once more with Python's
        csv module (this once, such files only). Where that reading and DuckDB's disagree on the records (a
        damaged file), the numbering stays the record count's."""
        import gzip

        import pyarrow as pa

        path = staged.read_path or staged.path  # (a UTF-8 copy of a file in another encoding)
        encoding = "utf-8" if path != staged.path else staged.encoding
        opener = gzip.open if path.name.lower().endswith(".gz") else open
        physical, last = 0, b"\n"
        try:
            with opener(path, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    physical += chunk.count(b"\n")
                    last = chunk[-1:]
        except (OSError, EOFError, zlib.error):
            return  # (what DuckDB read is what counts; the numbering stays the record count's)
        physical += last != b"\n"
        if physical == 1 + staged.rows + staged.struct_rejects:
            return  # one line per record: line = record + 1 (+ the rejected lines before it)
        idx = staged.name[len("_stage"):]
        bad = {r[0] for r in self.con.execute(f"SELECT DISTINCT line FROM _rej{idx}").fetchall()}
        starts, lines = [], []
        with opener(path, "rt", encoding=encoding, errors="replace", newline="") as fh:
            reader = csv.reader(fh, delimiter=staged.delimiter)
            end = 0
            try:
                for k, row in enumerate(reader, start=1):
                    starts.append(end + 1)
                    end = reader.line_num
                    if k > 1 and row and k not in bad:
                        lines.append(starts[-1])
            except (csv.Error, OSError, EOFError, zlib.error):
                return
        if len(lines) != staged.rows:
            return
        staged.reader_lines = starts
        staged.line_map = f"_lines{idx}"
        self._extra_temps.append(staged.line_map)
        table = pa.table({"_n": pa.array(range(1, len(lines) + 1), pa.int64()), "line": pa.array(lines, pa.int64())})
        self.con.register("_lines_arrow", table)
        try:
            self.con.execute(f"CREATE TEMP TABLE {staged.line_map} AS SELECT * FROM _lines_arrow")
        finally:
            self.con.unregister("_lines_arrow")

    def stage_sql(self, path: Path, select_sql: str) -> Staged:
        """Stage the result of any reader query (e.g. ``read_json``) as text columns with ``_n``."""
        path = Path(path)
        if not path.exists():
            raise SourceError(f"There is no file {path}.")
        if path.stat().st_size == 0:
            raise SourceError(f"{path.name} is empty.")
        self.rep.check()
        sha = file_sha256(path)
        self._staged_n += 1
        name = f"_stage{self._staged_n}"
        try:
            self.con.execute(f"CREATE TEMP TABLE {name} AS SELECT row_number() OVER () AS _n, * FROM ({select_sql})")
            self.con.execute(f"CREATE TEMP TABLE _rej{self._staged_n} (line BIGINT, column_name VARCHAR, error_type VARCHAR, csv_line VARCHAR, error_message VARCHAR)")
        except duckdb.Error as exc:
            raise SourceError(self._reader_error(path, exc)) from None
        columns = [r[0] for r in self.con.execute(f"DESCRIBE {name}").fetchall()][1:]
        rows = self.con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
        return Staged(name, path, columns, rows, 0, sha, ",", "utf-8")

    @staticmethod
    def _reader_error(path: Path, exc: Exception) -> str:
        text = str(exc)
        first = printable(text.strip().splitlines()[0][:300]) if text.strip() else type(exc).__name__
        size = re.search(r"Maximum line size of (\d+) bytes exceeded\. Actual Size:\s*(\d+)", text)
        if size:
            return (f"{path.name} has a line of {int(size.group(2)):,} bytes, longer than the {int(size.group(1)):,} "
                    "bytes HospOps reads in one line: the file is damaged, or one field holds a whole document. "
                    "Nothing was imported.")
        if "object size" in text.lower() or "maximum_object_size" in text:
            return (f"{path.name} has a JSON line larger than HospOps reads (16 MiB): the file is damaged, or one "
                    "resource holds a whole document. Nothing was imported.")
        lines = [x.strip() for x in text.splitlines()]
        if first.startswith("Invalid Input Error: CSV Error on Line") and "Original Line:" in text:
            # the line after the (never shown: it may hold identifiers) original line says what is wrong
            i = next(k for k, x in enumerate(lines) if x.startswith("Original Line:"))
            why = next((x for x in lines[i + 1:] if x and not x.startswith("Possible")), "")
            if why:
                first = f"{first}: {printable(why[:200])}"
        if "gzip" in text.lower() or "zlib" in text.lower() or "compressed" in text.lower():
            return f"{path.name} is not a complete gzip file (truncated or damaged); nothing was imported."
        if "unicode" in text.lower() or "encoding" in text.lower():
            return f"{path.name}: the text encoding could not be read ({first})."
        if "json" in text.lower():
            return f"{path.name} is not valid NDJSON: {first}"
        return f"{path.name} could not be read: {first}"

    def _insert_struct_rejects(self, table: str, staged: Staged, idx: str) -> None:
        """Lines the reader could not split into the header's fields, kept scrubbed like every reject.

        The reader's raw line is split into fields again (Python's csv module, rejected lines only). When it
        has the header's number of fields, each is kept as :meth:`Staged.raw_sql` keeps it; otherwise no
        field can be trusted to be what its position says, and every field is reduced to its shape
        (letters -> x, digits -> 9), so an identifier in a shifted field is never stored.
        """
        import pyarrow as pa

        rows = self.con.execute(
            f"""SELECT line, any_value(column_name),
                       string_agg(DISTINCT lower(error_type), '; '), any_value(error_message),
                       any_value(csv_line)
                FROM _rej{idx} GROUP BY line ORDER BY line"""
        ).fetchall()
        n_cols = len(staged.columns)
        lines, cols, reasons, fields, aligned = [], [], [], [], []
        for line, col, kinds, message, text in rows:
            f, clean = split_fields(text or "", staged.delimiter)
            mapped = staged.reader_lines
            lines.append(mapped[line - 1] if mapped and 0 < line <= len(mapped) else line)
            cols.append(col)
            reasons.append(_structure_reason(kinds, message, len(f), n_cols))
            fields.append(f)
            aligned.append(clean and len(f) == n_cols)
        tok = f"_rawtok{idx}"
        arrow = pa.table({
            "__line": pa.array(lines, pa.int64()),
            "__col": pa.array(cols, pa.string()),
            "__reason": pa.array(reasons, pa.string()),
            "__fields": pa.array(fields, pa.list_(pa.string())),
            "__aligned": pa.array(aligned, pa.bool_()),
        })
        self.con.register(tok, arrow)
        try:
            named = ", ".join(f"__fields[{i + 1}] AS {quote_ident(c)}" for i, c in enumerate(staged.columns))
            masked = (f"array_to_string(list_transform(s.__fields, f -> {mask_shape_sql('f')}), "
                      f"{sql_str(staged.delimiter)})")
            self.con.execute(
                f"""INSERT INTO rejects
                    SELECT {self.run_id}, '{table}', {sql_str(staged.path.name)}, s.__line, s.__col, s.__reason,
                           CASE WHEN s.__aligned THEN {staged.raw_sql('s')} ELSE {masked} END
                    FROM (SELECT *{', ' + named if named else ''} FROM {tok}) s"""
            )
        finally:
            self.con.unregister(tok)

    def _check_movement_overlaps(self, chk: str, staged: Staged) -> None:
        """A patient is in one place at a time: within a file, a stay's movement left open (no out time) and
        followed by a later one is closed where that one starts (a feed that records the transfer in but not the
        transfer out), and a movement that still overlaps an earlier one of its stay is rejected. Both were
        loaded as they came, and the census counted the patient in two units at once."""
        closed = self.con.execute(
            f"""UPDATE {chk} a SET out_ts = n.next_in
                FROM (SELECT _n, lead(in_ts) OVER (PARTITION BY stay_id ORDER BY in_ts, _n) AS next_in
                      FROM {chk} WHERE _why IS NULL) n
                WHERE a._n = n._n AND a._why IS NULL AND a.out_ts IS NULL AND n.next_in IS NOT NULL
                  AND n.next_in > a.in_ts"""
        ).fetchone()[0]
        # and a stay's open movement already in the workspace, followed by one in this file (daily extracts: the
        # transfer out arrives the next day): the patient stood in two places at once
        closed += self.con.execute(
            f"""UPDATE movements t SET out_ts = n.next_in
                FROM (SELECT stay_id, min(in_ts) AS next_in FROM {chk} WHERE _why IS NULL GROUP BY stay_id) n
                WHERE t.stay_id = n.stay_id AND t.out_ts IS NULL AND n.next_in > t.in_ts
                  AND NOT EXISTS (SELECT 1 FROM {chk} c WHERE c._why IS NULL AND c.stay_id = t.stay_id
                                  AND c.seq = t.seq)"""
        ).fetchone()[0]
        if closed:
            self.notes.append(f"{staged.path.name}: {closed:,} movement(s) without an out time, followed by a later "
                              "movement of the same stay, were closed where that one starts")
        self.con.execute(
            f"""UPDATE {chk} c SET _wcol = 'in_ts', _why = 'overlaps the movement of the same stay on line '
                       || CAST({self.line_expr(staged, 'o.other')} AS VARCHAR)
                       || ' (a patient is in one place at a time)'
                FROM (SELECT a._n, min(b._n) AS other FROM {chk} a JOIN {chk} b
                        ON a.stay_id = b.stay_id AND a._n <> b._n AND a._why IS NULL AND b._why IS NULL
                       AND a.in_ts < coalesce(b.out_ts, 'infinity'::TIMESTAMP)
                       AND b.in_ts < coalesce(a.out_ts, 'infinity'::TIMESTAMP)
                       AND (b.in_ts < a.in_ts OR (b.in_ts = a.in_ts AND b._n < a._n))
                      GROUP BY a._n) o
                WHERE c._n = o._n"""
        )

    def _after_cut_lines(self, staged: Staged) -> Optional[str]:
        """A temp table ``(_n, cut)`` of the records that come right after a line with too few fields (``cut``:
        that line's number in the file), or None where there are none."""
        if not staged.struct_rejects:
            return None
        idx = staged.name[len("_stage"):]
        name = f"_aftercut{idx}"
        rows = self.con.execute(f"SELECT line, bool_or(upper(error_type) = 'MISSING COLUMNS') FROM _rej{idx} "
                                f"GROUP BY line ORDER BY line").fetchall()
        rejected, mapped = {line for line, _ in rows}, staged.reader_lines
        pairs = []  # (record, or the file line after the cut where records are found by line; cut line)
        for i, (line, short) in enumerate(rows, start=1):
            if not short:
                continue
            cut = mapped[line - 1] if mapped and 0 < line <= len(mapped) else line  # the file's own number
            if staged.line_map:
                pairs.append((cut + 1, cut))
            elif line + 1 not in rejected:  # every line a record or a rejected one: line L holds record L-1-i
                pairs.append((line - i, cut))
        if not pairs:
            return None
        import pyarrow as pa

        self.con.register(f"{name}_in", pa.table({"_n": pa.array([p[0] for p in pairs], pa.int64()),
                                                  "cut": pa.array([p[1] for p in pairs], pa.int64())}))
        try:
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_in")
        finally:
            self.con.unregister(f"{name}_in")
        if staged.line_map:  # the record whose first line is the one after the cut
            self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT m._n, a.cut FROM {name} a "
                             f"JOIN {staged.line_map} m ON m.line = a._n")
        self._extra_temps.append(name)
        return name

    # -------------------------------------------------------------- loading
    def line_expr(self, staged: Staged, n: str = "_n") -> str:
        """SQL for the physical line number of record ``n`` (header on line 1, structural rejects skipped)."""
        idx = staged.name[len("_stage"):]
        if staged.line_map:
            return f"(SELECT m.line FROM {staged.line_map} m WHERE m._n = {n})"
        if staged.struct_rejects == 0:
            return f"({n} + 1)"
        return (
            f"({n} + 1 + (SELECT count(*) FROM (SELECT line, row_number() OVER (ORDER BY line) AS i "
            f"FROM (SELECT DISTINCT line FROM _rej{idx})) r WHERE r.line - r.i - 1 < {n}))"
        )

    def load(
        self,
        table: str,
        select_sql: str,
        staged: Staged,
        *,
        count_struct_rejects: bool = True,
        raw_sql: Optional[str] = None,
        line_sql: Optional[str] = None,
        given: Optional[Iterable[str]] = None,
    ) -> TableCount:
        """Validate and load rows into ``table``.

        ``select_sql`` must yield every canonical column of ``table`` (missing ones as NULL is fine: use
        :func:`canonical_select`), plus ``_n`` (record number in ``staged``) and ``_perr`` / ``_pcol`` (a
        parse error and its column, or NULL). ``raw_sql`` gives the raw text of a staged row ``s`` for the
        rejects table (defaults to the fields joined with the file's delimiter). ``given``: the columns the
        source gives (None: all); a row that replaces one already in the workspace keeps its other columns.
        """
        self.rep.check()
        self._loaded_from[staged.name] = staged
        spec = CANONICAL[table]
        idx = staged.name[len("_stage"):]
        chk = f"_chk{idx}_{table}"
        cols = spec.column_names
        key = spec.key
        checks = [f"CASE WHEN {c} IS NULL THEN '{c}' END" for c in spec.required]
        reasons = [f"CASE WHEN {c} IS NULL THEN '{c} is empty' END" for c in spec.required]
        for cond, col, why in SANITY_RULES.get(table, []):
            checks.append(f"CASE WHEN {cond} THEN '{col}' END")
            shown = f"regexp_replace(CAST({col} AS VARCHAR), '\\.0$', '')"  # -2, not -2.0, for a whole number
            text = f" || {shown} || ".join(sql_str(part) for part in why.split("{value}"))
            reasons.append(f"CASE WHEN {cond} THEN {text} END")
        key_list = ", ".join(key)
        # One pass computes every column and its verdict. (Performance: no window function here; the
        # duplicate check below needs only the key and _n of the good rows, not the whole row.)
        self.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE {chk} AS
            WITH m AS ({select_sql})
            SELECT * EXCLUDE (_perr, _pcol),
                   coalesce(_perr, {', '.join(reasons) or 'NULL'}) AS _why,
                   coalesce(_pcol, {', '.join(checks) or 'NULL'}) AS _wcol
            FROM m"""
        )
        # duplicates of a key inside this file: the first good row wins (lowest _n), later ones are rejected
        dup_keys = (
            f"SELECT {key_list}, min(_n) AS _first FROM {chk} WHERE _why IS NULL "
            f"GROUP BY {key_list} HAVING count(*) > 1"
        )
        if self.con.execute(f"SELECT count(*) FROM ({dup_keys})").fetchone()[0]:
            same_key = " AND ".join(f"c.{k} IS NOT DISTINCT FROM g.{k}" for k in key)
            self.con.execute(
                f"""UPDATE {chk} c SET _why = 'duplicate {key_list} (first at line ' || CAST({self.line_expr(staged, 'g._first')} AS VARCHAR) || ')',
                                      _wcol = '{key[0]}'
                    FROM ({dup_keys}) g
                    WHERE c._why IS NULL AND {same_key} AND c._n <> g._first"""
            )
        if table == "movements":
            self._check_movement_overlaps(chk, staged)
        after_cut = self._after_cut_lines(staged)
        if after_cut:
            # a line cut short (a line break in an unquoted field, as free-text notes have) is followed by its
            # remainder, which the reader takes for a record of its own, every field under the wrong column: a
            # patient's name came to stand under acuity, and its reason and raw text quoted it. Such a record,
            # where it fails a check, is said to be that and kept as its shape only (a record after a line cut
            # short that passes every check is a record of its own, and loads).
            self.con.execute(
                f"""UPDATE {chk} SET _why = 'comes right after line ' || CAST(a.cut AS VARCHAR) || ', which was '
                       || 'cut short: it may be the rest of that line, read under the wrong columns',
                       _wcol = {sql_str(cols[0])}
                    FROM {after_cut} a WHERE {chk}._n = a._n AND {chk}._why IS NOT NULL"""
            )
            self.con.execute(f"DELETE FROM {after_cut} WHERE _n IN (SELECT _n FROM {chk} WHERE _why IS NULL)")
        n_total, n_bad = self.con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE _why IS NOT NULL) FROM {chk}"
        ).fetchone()
        raw = raw_sql or staged.raw_sql("s")
        if after_cut:
            raw = (f"CASE WHEN c._n IN (SELECT _n FROM {after_cut}) THEN {mask_shape_sql(f'({raw})')} "
                   f"ELSE {raw} END")
        line = line_sql or self.line_expr(staged, "c._n")
        if n_bad:
            # filter before the join: the staged rows are probed only for the (few) bad rows
            self.con.execute(
                f"""INSERT INTO rejects
                    SELECT {self.run_id}, '{table}', {sql_str(staged.path.name)}, {line}, c._wcol, c._why, {raw}
                    FROM (SELECT * FROM {chk} WHERE _why IS NOT NULL) c LEFT JOIN {staged.name} s ON s._n = c._n"""
            )
        # rows whose key is already in the workspace are replaced (a newer extract wins); nothing to look
        # for when the table is empty, the common case of a first import
        n_upd = 0
        if self.con.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
            key_match = " AND ".join(f"t.{k} = g.{k}" for k in key)
            absent = [c for c in cols if given is not None and c not in given and c not in key]
            if absent:
                # a newer extract without a column says nothing about it: a replaced row keeps what it had there
                # (an update without the disposition column wiped every disposition of the rows it replaced)
                kept = self.con.execute(
                    f"""UPDATE {chk} g SET {', '.join(f'{c} = t.{c}' for c in absent)} FROM {table} t
                        WHERE g._why IS NULL AND {key_match}""").fetchone()[0]
                if kept:
                    self.notes.append(f"{staged.path.name}: {kept:,} replaced {table} row(s) kept their "
                                      f"{', '.join(absent)}, which the file does not give")
            n_upd = self.con.execute(
                f"DELETE FROM {table} t WHERE EXISTS (SELECT 1 FROM {chk} g WHERE g._why IS NULL AND {key_match})"
            ).fetchone()[0]
        self.con.execute(
            f"INSERT INTO {table} ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {chk} WHERE _why IS NULL"
        )
        self.con.execute(f"DROP TABLE {chk}")
        struct = 0
        if count_struct_rejects and staged.struct_rejects:
            struct = staged.struct_rejects
            self._insert_struct_rejects(table, staged, idx)
        count = TableCount(
            table,
            staged.path.name,
            staged.sha256,
            read=n_total + struct,
            loaded=n_total - n_bad,
            rejected=n_bad + struct,
            updated=n_upd,
        )
        self.counts.append(count)
        return count


def canonical_select(
    table: str,
    exprs: dict[str, str],
    staged_alias: str = "s",
    source: str = "",
    where: str = "",
    n_expr: str = "s._n",
) -> str:
    """Build the SELECT for :meth:`ImportSession.load`.

    ``exprs`` maps canonical column → a pair-producing helper's result: either plain SQL, or a
    :class:`Parsed` whose error expression is collected into ``_perr``/``_pcol``.
    """
    spec = CANONICAL[table]
    sel = []
    errs, errcols = [], []
    for col in spec.column_names:
        e = exprs.get(col)
        if e is None:
            sel.append(f"CAST(NULL AS {spec.column(col).type}) AS {col}")
        elif isinstance(e, Parsed):
            sel.append(f"{e.value} AS {col}")
            if e.error:
                errs.append(e.error)
                errcols.append(f"CASE WHEN ({e.error}) IS NOT NULL THEN '{col}' END")
        else:
            sel.append(f"CAST({e} AS {spec.column(col).type}) AS {col}")
    # typed NULLs: a bare NULL becomes INTEGER in a CTE and then cannot be coalesced with the reason text
    perr = f"concat_ws('; ', {', '.join(errs)})" if errs else "CAST(NULL AS VARCHAR)"
    pcol = f"coalesce({', '.join(errcols)})" if errcols else "CAST(NULL AS VARCHAR)"
    return (
        f"SELECT {n_expr} AS _n, {', '.join(sel)}, nullif({perr}, '') AS _perr, {pcol} AS _pcol "
        f"FROM {source} {staged_alias} {('WHERE ' + where) if where else ''}"
    )


@dataclass(frozen=True)
class Parsed:
    """A typed SQL value plus the SQL for its parse error (NULL when it parsed or was empty)."""

    value: str
    error: Optional[str] = None


#: what exports write in a number, date or yes/no field that holds nothing: read as empty there (an ED visit
#: whose departure said N/A or acuity Unknown was rejected whole, and the ED's arrivals undercounted)
NULL_TOKENS = ("null", "n/a", "na", "none", "unknown", "not known", "not recorded", "-", "--", "?")


def says_nothing(col: str) -> str:
    """SQL: true where a field's text is one of :data:`NULL_TOKENS`. Such a value does not parse, so it is
    empty; only the reject reason asks this (last, for the few values that failed: asked of every value, the
    check made an import several times slower)."""
    return f"lower(trim({col})) IN ({', '.join(sql_str(t) for t in NULL_TOKENS)})"


def text(col: str) -> Parsed:
    return Parsed(f"nullif(trim({col}), '')")


def parse_typed(col: str, sql_type: str, label: str) -> Parsed:
    v = f"TRY_CAST(nullif(trim({col}), '') AS {sql_type})"
    return Parsed(v, _err(col, v, label, f"is not a valid {sql_type.lower()}"))


def number_text(col: str, decimal_comma: bool = False) -> str:
    """SQL: a number's text with its separators made plain. Digits grouped in threes are thousands: 1,200 is
    1200 (it was read as 1.2), and in a file that writes decimal commas (semicolon-separated, as European
    exports are) 1.200 is 1200 too; otherwise a comma is a decimal point (0,5). (The pattern is tried only on
    values holding a separator: run on every value, it made a 1-million-row import seven times slower.)"""
    t = f"nullif(trim({col}), '')"
    if decimal_comma:
        grouped = f"regexp_full_match({t}, '[+-]?[1-9]\\d{{0,2}}(\\.\\d{{3}})+(,\\d+)?')"
        return (f"(CASE WHEN NOT contains({t}, ',') AND NOT contains({t}, '.') THEN {t} "
                f"WHEN {grouped} THEN replace(replace({t}, '.', ''), ',', '.') ELSE replace({t}, ',', '.') END)")
    grouped = f"regexp_full_match({t}, '[+-]?[1-9]\\d{{0,2}}(,\\d{{3}})+(\\.\\d+)?')"
    return (f"(CASE WHEN NOT contains({t}, ',') THEN {t} "
            f"WHEN {grouped} THEN replace({t}, ',', '') ELSE replace({t}, ',', '.') END)")


#: the texts DuckDB reads as a double that are no quantity (NaN, infinity)
NOT_FINITE = ("nan", "+nan", "-nan", "inf", "+inf", "-inf", "infinity", "+infinity", "-infinity")


def parse_int(col: str, label: str, sql_type: str = "INTEGER", decimal_comma: bool = False) -> Parsed:
    # (NaN and infinity do not cast to an integer: TRY_CAST gives NULL, an error)
    v = f"TRY_CAST(TRY_CAST({number_text(col, decimal_comma)} AS DOUBLE) AS {sql_type})"
    return Parsed(v, _err(col, v, label, "is not a whole number"))


def parse_number(col: str, label: str, decimal_comma: bool = False) -> Parsed:
    finite = f"lower(trim({col})) NOT IN ({', '.join(sql_str(t) for t in NOT_FINITE)})"
    v = f"(CASE WHEN {finite} THEN TRY_CAST({number_text(col, decimal_comma)} AS DOUBLE) END)"
    return Parsed(v, _err(col, v, label, "is not a number"))


def parse_bool(col: str, label: str) -> Parsed:
    x = f"lower(trim({col}))"
    v = (
        f"CASE WHEN {x} IN ('1', 'true', 't', 'yes', 'y') THEN true "
        f"WHEN {x} IN ('0', 'false', 'f', 'no', 'n') THEN false END"
    )
    return Parsed(v, _err(col, v, label, "is not yes/no"))


def parse_timestamp(col: str, label: str, tz: str, formats: Iterable[str] = (), aware: bool = False) -> Parsed:
    """A local naive TIMESTAMP from text. ``aware``: values carry an offset or Z and are converted to ``tz``."""
    c = f"nullif(trim({col}), '')"
    fmts = [f for f in formats if f]
    if aware:
        v = f"timezone({sql_str(tz)}, TRY_CAST({c} AS TIMESTAMPTZ))"
    elif fmts:
        v = f"try_strptime({c}, [{', '.join(sql_str(f) for f in fmts)}])"
    else:
        v = f"TRY_CAST({c} AS TIMESTAMP)"
    return Parsed(v, _err(col, v, label, "is not a date and time" + _expected(fmts, aware)))


def _expected(fmts: list[str], aware: bool) -> str:
    """The format a reject reason names: a value that "is not a date" and plainly is one was read in another
    format (13/03/2024 in a file of month-first dates)."""
    if aware:
        return " with a UTC offset (in the form 2024-12-31T23:59:58+00:00)"
    if fmts:
        return " in the form " + format_example(fmts[0])
    return " (in the form 2024-12-31 23:59)"


def parse_date(col: str, label: str, tz: str, formats: Iterable[str] = (), aware: bool = False) -> Parsed:
    fmts = [f for f in formats if f]
    ts = parse_timestamp(col, label, tz, fmts, aware)
    if not aware and not fmts:
        v = f"TRY_CAST(nullif(trim({col}), '') AS DATE)"
        return Parsed(v, _err(col, v, label, "is not a date (in the form 2024-12-31)"))
    v = f"CAST({ts.value} AS DATE)"
    return Parsed(v, _err(col, v, label, "is not a date" + _expected(fmts, aware)))


def split_fields(text: str, delimiter: str) -> tuple[list[str], bool]:
    """The fields of one raw CSV line (quotes honoured) and whether it was valid CSV of one record.

    A line that is not (a quote left open, a record over several lines) is split bluntly at the delimiter,
    and its fields cannot be trusted to sit where the header says.
    """
    text = text.rstrip("\r\n")
    if len(delimiter) == 1:
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
            if len(rows) == 1:
                return rows[0], True
        except csv.Error:
            pass
    return text.split(delimiter), False


def shape_if_multiline(value_sql: str, test: Optional[str] = None) -> str:
    """SQL: ``value_sql``, or only its shape when the field (``test``, default the value itself) runs over
    several lines. Such a field is a quote left open that swallowed the rows after it, their identifiers
    too, so it is never kept or quoted as it is (rejects' raw text and reasons)."""
    t = test or value_sql
    return (f"(CASE WHEN contains({t}, chr(10)) OR contains({t}, chr(13)) THEN {mask_shape_sql(value_sql)} "
            f"ELSE {value_sql} END)")


def shape_if_wordy(value_sql: str) -> str:
    """SQL: ``value_sql``, or only its shape where it holds a word (4 letters or more) or a long number (7 digits
    or more): in a number or date field that is what a shifted row brings there, a name or a record number
    ("acuity: 'Smith, John' is not a whole number" was stored as a reject's reason and raw text)."""
    return (f"(CASE WHEN regexp_matches({value_sql}, {sql_str(WORDY)}) "
            f"THEN {mask_shape_sql(value_sql)} ELSE {value_sql} END)")


def _err(col: str, value_sql: str, label: str, what: str) -> str:
    shown = f"left(trim({col}), 40)"
    if classify_column(label):  # never quote an identifier or a date of birth in a reason
        shown = mask_shape_sql(shown)
    else:  # nor a field over several lines, nor a word or long number in a typed field
        shown = shape_if_wordy(shape_if_multiline(shown, test=col))
    return (
        f"CASE WHEN nullif(trim({col}), '') IS NOT NULL AND ({value_sql}) IS NULL AND NOT {says_nothing(col)} "
        f"THEN {sql_str(label + ': ')} || '''' || {shown} || ''' ' || {sql_str(what)} END"
    )


TS_FORMATS = [
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M %p",
    "%d/%m/%Y %I:%M %p",
    "%d/%m/%y %H:%M",
    "%m/%d/%y %H:%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
    "%d-%m-%Y %H:%M",
    "%d-%b-%Y %H:%M",
    "%Y%m%d%H%M%S",
    "%Y-%m-%d",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d.%m.%Y",
    "%d-%m-%Y",
    "%d/%m/%y",
    "%m/%d/%y",
]

#: countries whose dates are written month first (03/04/2024 is 4 March): where every date of a file reads
#: either way, the workspace's country decides, and the import says which it took
MONTH_FIRST_COUNTRIES = {"US", "PH", "FM", "MH", "PW", "AS", "GU", "MP", "PR", "VI", "UM"}
SNIFF_SAMPLE = 2000


def swapped(fmt: str) -> Optional[str]:
    """The same format with day and month exchanged, where it has both as numbers (else None)."""
    if "%d/%m" in fmt:
        return fmt.replace("%d/%m", "%m/%d")
    if "%m/%d" in fmt:
        return fmt.replace("%m/%d", "%d/%m")
    return None


def format_example(fmt: str) -> str:
    """How a date in ``fmt`` looks, for messages: 31/12/2024 23:59."""
    from datetime import datetime

    return datetime(2024, 12, 31, 23, 59, 58).strftime(fmt)


def sniff_timestamp(con: duckdb.DuckDBPyConnection, staged: Staged, col: str,
                    month_first: bool = False) -> tuple[list[str], bool, bool]:
    """Pick the timestamp format(s) for a text column: (formats, aware, ambiguous). The sample is the first
    rows and rows spread evenly over the whole file: an extract sorted by date had only the first week of
    January in its first 2,000 rows, where every 01/05 reads either way, and its US dates were read day
    first (61 % of its rows rejected, the rest loaded in the wrong months)."""
    step = max(1, staged.rows // SNIFF_SAMPLE)
    sample = [
        r[0]
        for r in con.execute(
            f"SELECT trim({col}) FROM (SELECT {col} FROM {staged.name} WHERE _n <= {SNIFF_SAMPLE} OR _n % {step} = 0) "
            f"WHERE nullif(trim({col}), '') IS NOT NULL LIMIT {3 * SNIFF_SAMPLE}"
        ).fetchall()
    ]
    return sniff_order(con, sample, month_first)


def sniff_formats(con: duckdb.DuckDBPyConnection, sample: list[str],
                  month_first: bool = False) -> tuple[list[str], bool]:
    """The timestamp format(s) most of ``sample`` (texts) parse with: (formats, aware). The import wizard's
    preview asks this too, so that it flags the cells the import will reject and no others."""
    fmts, aware, _ = sniff_order(con, sample, month_first)
    return fmts, aware


def sniff_order(con: duckdb.DuckDBPyConnection, sample: list[str],
                month_first: bool = False) -> tuple[list[str], bool, bool]:
    """:func:`sniff_formats` and whether the sample reads as well day first as month first (``ambiguous``:
    then ``month_first`` decides, from the workspace's country)."""
    if not sample:
        return [], False, False
    # the sample goes in as a parameter, never inlined: a field may hold anything (a NUL ends DuckDB's parser).
    # On a connection of its own, one thread, outside the import's transaction: this query on the workspace's
    # connection crashed the interpreter once in a CI run (a segmentation fault inside DuckDB 1.4.4, not
    # reproduced in 13 runs since); it needs nothing of the workspace, and the sample is a few thousand texts
    own = duckdb.connect(config={"threads": 1})
    try:
        n_aware, iso_ok, *per_format = own.execute(
            "SELECT count(*) FILTER (WHERE regexp_matches(x, '(Z|[+-]\\d\\d:?\\d\\d)$') "
            "AND TRY_CAST(x AS TIMESTAMPTZ) IS NOT NULL), "
            "count(*) FILTER (WHERE year(TRY_CAST(x AS TIMESTAMP)) >= 1000), "
            + ", ".join(f"count(*) FILTER (WHERE year(try_strptime(x, {sql_str(fmt)})) >= 1000)"
                        for fmt in TS_FORMATS)
            + " FROM unnest(CAST(? AS VARCHAR[])) t(x)",
            [sample],
        ).fetchone()
    finally:
        own.close()
    if n_aware >= 0.9 * len(sample):
        return [], True, False
    counts = dict(zip(TS_FORMATS, per_format))
    best, best_n = [], iso_ok
    for fmt, n in counts.items():
        if n > best_n:
            best, best_n = [fmt], n
    if not best:
        return best, False, False
    other = swapped(best[0])
    ambiguous = other is not None and counts.get(other) == best_n
    if ambiguous and month_first == ("%d/%m" in best[0]):
        best = [other]
    return best + variants(best[0]), False, ambiguous


def variants(fmt: str) -> list[str]:
    """The same order of day, month and year with or without seconds, and the date alone: a row with seconds,
    or a date without a time, in a column of 01/03/2024 10:00 was rejected "not in the form 31/12/2024 23:59"."""
    out = []
    if "%H:%M:%S" in fmt:
        out.append(fmt.replace("%H:%M:%S", "%H:%M"))
    elif "%H:%M" in fmt:
        out.append(fmt.replace("%H:%M", "%H:%M:%S"))
    if " " in fmt and "%" in fmt.split(" ")[0]:
        out.append(fmt.split(" ")[0])
    return [f for f in out if f != fmt]
