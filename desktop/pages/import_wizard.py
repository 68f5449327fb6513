"""The import wizard: choose a file or folder → format detected → for CSV, map columns with a live preview of
the first rows (cells the import will reject are highlighted) → import with progress → read/loaded/rejected."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QPushButton,
    QTableWidget, QTableWidgetItem, QVBoxLayout, QWizard, QWizardPage,
)

from desktop.widgets.table import FrameTable

PREVIEW_ROWS = 20
NOT_MAPPED = "— not in this file —"


def read_preview(path: Path, delimiter: str | None = None, encoding: str | None = None) -> pd.DataFrame:
    """The first rows of a CSV as text, the way the importer will stage it (DuckDB's sniffer, all VARCHAR)."""
    opts = ["all_varchar = true", "header = true"]
    if delimiter:
        opts.append(f"delim = '{delimiter}'")
    if encoding and encoding != "utf-8":
        opts.append("encoding = 'latin-1'")
    con = duckdb.connect()
    try:
        for attempt in (opts, opts + ["encoding = 'latin-1'"]):
            try:
                return con.execute(
                    f"SELECT * FROM read_csv(?, {', '.join(attempt)}) LIMIT {PREVIEW_ROWS}", [str(path)]).df()
            except duckdb.Error as exc:
                err = exc
                if "encoding" not in str(exc).lower() and "unicode" not in str(exc).lower():
                    break
        from datasets.errors import SourceError

        raise SourceError(f"{path.name} cannot be read as CSV: {str(err).splitlines()[0]}")
    finally:
        con.close()


def parse_problems(df: pd.DataFrame, mapping: dict[str, str], table: str, ts_format: str,
                   month_first: bool = False) -> dict[tuple[int, str], str]:
    """Cells (row, source column) the import will reject, with the reason: a value that will not parse into its
    canonical column's type, an empty required field, a key given twice."""
    from datasets.importers.engine import format_example, parse_date, parse_timestamp, sniff_formats
    from datasets.store import CANONICAL

    spec = CANONICAL[table]
    problems: dict[tuple[int, str], str] = {}
    con = duckdb.connect()
    try:
        con.register("p", df)
        for src, dst in mapping.items():
            if dst not in spec.column_names:
                continue
            typ = spec.column(dst).type
            col = f'"{src}"'
            if typ in ("TIMESTAMP", "DATE"):
                # as the import reads it: the format typed, else the one it detects from the values (day-first
                # dates were flagged here, then loaded)
                if ts_format:
                    fmts, aware = [ts_format], False
                else:
                    sample = [str(v).strip() for v in df[src].tolist() if not pd.isna(v) and str(v).strip()]
                    fmts, aware = sniff_formats(con, sample, month_first)
                parse = parse_timestamp if typ == "TIMESTAMP" else parse_date
                expr = parse(col, dst, "UTC", fmts, aware).value
                what = ("not a date and time" if typ == "TIMESTAMP" else "not a date") + (
                    f" in the form {format_example(fmts[0])}" if fmts else "")
            elif typ in ("INTEGER", "BIGINT", "TINYINT", "DOUBLE"):
                expr = f"TRY_CAST({col} AS {typ})"
                what = "not a number"
            else:
                continue
            bad = con.execute(
                f"SELECT row_number() OVER () - 1 AS r, {col} AS v, {expr} IS NULL AND nullif(trim({col}), '') IS NOT NULL AS bad FROM p"
            ).fetchall()
            for r, v, is_bad in bad:
                if is_bad:
                    problems[(int(r), src)] = f"'{v}' is {what}"
    except duckdb.Error:
        pass
    finally:
        con.close()
    # the import's own checks on the rows as a whole: a required field left empty, a key given twice (the first
    # row is kept, later ones rejected); the preview had flagged only values that would not parse
    inverse = {dst: src for src, dst in mapping.items() if src in df.columns}
    for dst in spec.required:
        src = inverse.get(dst)
        if src is not None:
            for r, v in enumerate(df[src].tolist()):
                if (pd.isna(v) or not str(v).strip()) and (r, src) not in problems:
                    problems[(r, src)] = f"empty, and {dst} is required"
    if spec.key and all(k in inverse for k in spec.key):
        keys = df[[inverse[k] for k in spec.key]].astype("string").apply(lambda c: c.str.strip())
        first: dict[tuple, int] = {}
        for r, k in enumerate(keys.itertuples(index=False, name=None)):
            if any(pd.isna(v) or not v for v in k):
                continue
            if k in first and (r, inverse[spec.key[0]]) not in problems:
                problems[(r, inverse[spec.key[0]])] = (f"duplicate {', '.join(spec.key)} (first in row "
                                                       f"{first[k] + 1} of the preview): rejected")
            first.setdefault(k, r)
    return problems


class SourcePage(QWizardPage):
    def __init__(self, wizard: "ImportWizard"):
        super().__init__(wizard)
        self.wiz = wizard
        self.setTitle("What do you want to import?")
        self.setSubTitle("A CSV report, or a folder of a MIMIC-IV, Synthea, OMOP or FHIR bulk export. "
                         "Nothing leaves this computer.")
        self.path = QLineEdit(self)
        self.path.setPlaceholderText("file or folder")
        self.path.textChanged.connect(self._detect)
        pick_file = QPushButton("File…", self)
        pick_file.clicked.connect(self._pick_file)
        pick_dir = QPushButton("Folder…", self)
        pick_dir.clicked.connect(self._pick_dir)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(pick_file)
        row.addWidget(pick_dir)
        from datasets.importers import FORMATS
        from datasets.store import CANONICAL

        self.format = QComboBox(self)
        self.format.addItems(list(FORMATS))
        self.format.currentTextChanged.connect(lambda _: self.completeChanged.emit())
        self.table = QComboBox(self)
        self.table.addItems(list(CANONICAL))
        self.table.setCurrentText("ed_visits")
        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Source", row)
        form.addRow("Format", self.format)
        form.addRow("CSV holds", self.table)
        form.addRow("", self.note)
        self.format.currentTextChanged.connect(lambda f: self.table.setEnabled(f == "csv"))

    def _pick_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a file", "", "Extracts (*.csv *.csv.gz *.txt *.ndjson);;All files (*)")
        if path:
            self.path.setText(path)

    def _pick_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Choose a folder")
        if path:
            self.path.setText(path)

    def _detect(self, text: str) -> None:
        from datasets.errors import HospOpsError
        from datasets.importers import detect_format

        p = Path(text).expanduser()
        if not text or not p.exists():
            self.note.setText("Choose an existing file or folder." if text else "")
        else:
            try:
                fmt = detect_format(p)
                self.format.setCurrentText(fmt)
                self.note.setText(f"Looks like {fmt.upper() if fmt != 'csv' else 'a CSV file'}.")
                if fmt == "csv":
                    self._guess_table(p)
            except HospOpsError as exc:
                self.note.setText(str(exc))
        self.completeChanged.emit()

    def _guess_table(self, p: Path) -> None:
        # the table named earliest in the file name, the longer name first where two start there
        # ("ed_visits_by_unit.csv" is ED visits: "units" was taken, as the first table in the list to match)
        stem = p.name.lower().split(".")[0]
        found = [(stem.find(t.rstrip("s")), -len(t), t) for t in
                 (self.table.itemText(i) for i in range(self.table.count())) if t.rstrip("s") in stem]
        if found:
            self.table.setCurrentText(min(found)[2])

    def isComplete(self) -> bool:  # noqa: N802 - Qt name
        p = Path(self.path.text()).expanduser()
        return bool(self.path.text()) and p.exists() and (self.format.currentText() != "csv" or p.is_file())

    def nextId(self) -> int:  # noqa: N802
        return ImportWizard.MAPPING if self.format.currentText() == "csv" else ImportWizard.RUN


class MappingPage(QWizardPage):
    def __init__(self, wizard: "ImportWizard"):
        super().__init__(wizard)
        self.wiz = wizard
        self.setTitle("Match the file's columns to HospOps fields")
        self.setSubTitle("Fields in bold are required. Cells highlighted in the preview will be rejected "
                         "with their line number and reason; they are never dropped silently.")
        self.fields = QTableWidget(0, 3, self)
        self.fields.setHorizontalHeaderLabels(["HospOps field", "column in the file", "meaning"])
        self.fields.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.fields.verticalHeader().setVisible(False)
        self.ts_format = QLineEdit(self)
        self.ts_format.setPlaceholderText("automatic (ISO 8601), or e.g. %d/%m/%Y %H:%M")
        self.ts_format.editingFinished.connect(self._update_preview)
        self.preview = QTableWidget(0, 0, self)
        self.preview.verticalHeader().setDefaultSectionSize(20)
        self.status = QLabel("", self)
        self.status.setWordWrap(True)
        form = QFormLayout()
        form.addRow("Date/time format", self.ts_format)
        lay = QVBoxLayout(self)
        lay.addWidget(self.fields, 2)
        lay.addLayout(form)
        lay.addWidget(QLabel(f"<b>Preview</b> (first {PREVIEW_ROWS} rows)", self))
        lay.addWidget(self.preview, 3)
        lay.addWidget(self.status)
        self._df = pd.DataFrame()
        self._combos: dict[str, QComboBox] = {}

    def initializePage(self) -> None:  # noqa: N802
        from datasets.errors import HospOpsError
        from datasets.store import CANONICAL

        table = self.wiz.source.table.currentText()
        spec = CANONICAL[table]
        self._read_error = ""
        try:
            self._df = read_preview(Path(self.wiz.source.path.text()).expanduser())
        except HospOpsError as exc:
            self._df = pd.DataFrame()
            self._read_error = str(exc)  # kept on show: the matching status below overwrote it
        from datasets.importers.csv import required_in_source

        needed = set(required_in_source(table))
        source_cols = list(self._df.columns)
        self.fields.setRowCount(len(spec.columns))
        self._combos = {}
        lower = {c.lower().strip(): c for c in source_cols}
        for r, col in enumerate(spec.columns):
            name = QTableWidgetItem(col.name)
            if col.name in needed:
                f = name.font()
                f.setBold(True)
                name.setFont(f)
            name.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.fields.setItem(r, 0, name)
            combo = QComboBox(self.fields)
            combo.addItems([NOT_MAPPED] + source_cols)
            if col.name in lower:
                combo.setCurrentText(lower[col.name])
            combo.currentTextChanged.connect(self._update_preview)
            self.fields.setCellWidget(r, 1, combo)
            doc = QTableWidgetItem(col.doc or col.type.lower())
            doc.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.fields.setItem(r, 2, doc)
            self._combos[col.name] = combo
        self.fields.resizeColumnsToContents()
        self._update_preview()

    def mapping(self) -> dict[str, str]:
        """source column → canonical field, for the fields the user matched."""
        return {c.currentText(): field for field, c in self._combos.items() if c.currentText() != NOT_MAPPED}

    def _update_preview(self) -> None:
        df = self._df
        self.preview.clear()
        self.preview.setRowCount(len(df))
        self.preview.setColumnCount(len(df.columns))
        self.preview.setHorizontalHeaderLabels([str(c) for c in df.columns])
        mapping = self.mapping()
        problems = parse_problems(df, mapping, self.wiz.source.table.currentText(), self.ts_format.text().strip(),
                                  self.wiz.month_first)
        bad = QColor("#D55E00")
        bad.setAlpha(90)
        for c, col in enumerate(df.columns):
            values = df[col].tolist()
            for r, v in enumerate(values):
                item = QTableWidgetItem("" if pd.isna(v) else str(v))  # (empty cells showed as 'nan')
                reason = problems.get((r, col))
                if reason:
                    item.setBackground(bad)
                    item.setToolTip(reason)
                self.preview.setItem(r, c, item)
        self.preview.resizeColumnsToContents()
        from datasets.importers.csv import required_in_source

        missing = [c for c in required_in_source(self.wiz.source.table.currentText()) if c not in mapping.values()]
        if getattr(self, "_read_error", ""):  # the file could not be read: that, not the fields, is what to fix
            self.status.setText(self._read_error)
            self.completeChanged.emit()
            return
        if df.empty:
            self.status.setText("The file has a header but no rows to import.")
            self.completeChanged.emit()
            return
        parts = []
        if missing:
            parts.append(f"Required field(s) not matched yet: {', '.join(missing)}.")
        if problems:
            parts.append(f"{len(problems)} cell(s) in the preview will be rejected (hover for the reason).")
        self.status.setText(" ".join(parts) or "All required fields matched; the preview parses.")
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        from datasets.importers.csv import required_in_source

        mapped = set(self.mapping().values())
        return not self._df.empty and all(c in mapped for c in required_in_source(self.wiz.source.table.currentText()))


class RunPage(QWizardPage):
    def __init__(self, wizard: "ImportWizard"):
        super().__init__(wizard)
        self.wiz = wizard
        self.setTitle("Import")
        self.message = QLabel("", self)
        self.message.setWordWrap(True)
        self.counts = FrameTable(self, title="Rows per table", export_name="import_counts", filter_box=False)
        lay = QVBoxLayout(self)
        lay.addWidget(self.message)
        lay.addWidget(self.counts, 1)
        self._done = False

    def initializePage(self) -> None:  # noqa: N802
        self._done = False
        self.message.setText("Importing… (the rest of the app stays usable; Esc cancels)")
        self.counts.set_frame(pd.DataFrame())
        self.wiz.start()

    def finish(self, result: Any | None, error: str = "") -> None:
        self._done = True
        if error:
            self.message.setText(f"<b>Nothing was imported.</b> {error}")
        else:
            rows = [{"table": t, **c} for t, c in result.tables().items()]
            rejected = sum(r["rejected"] for r in rows)
            text = f"Imported {Path(result.source).name} in {result.seconds:.1f} s."
            if rejected:
                text += f" {rejected:,} row(s) were rejected and kept with their line and reason: see Rejected rows on the Data page."
            if result.notes:
                text += " " + " ".join(result.notes)
            self.message.setText(text)
            self.counts.set_frame(pd.DataFrame(rows))
        self.completeChanged.emit()

    def isComplete(self) -> bool:  # noqa: N802
        return self._done


class ImportWizard(QWizard):
    SOURCE, MAPPING, RUN = range(3)
    import_requested = Signal(dict)  # {"path", "format", "table", "mapping"}

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Import an extract")
        self.month_first = False  # dates that read either way: month first (the workspace's country says so)
        self.setOption(QWizard.WizardOption.NoBackButtonOnLastPage, True)
        self.source = SourcePage(self)
        self.mapping = MappingPage(self)
        self.run_page = RunPage(self)
        self.setPage(self.SOURCE, self.source)
        self.setPage(self.MAPPING, self.mapping)
        self.setPage(self.RUN, self.run_page)
        self.resize(900, 640)

    def request(self) -> dict:
        fmt = self.source.format.currentText()
        req: dict[str, Any] = {"path": Path(self.source.path.text()).expanduser(), "format": fmt}
        if fmt == "csv":
            from datasets.importers.csv import Mapping

            ts = self.mapping.ts_format.text().strip()
            req["table"] = self.source.table.currentText()
            req["mapping"] = Mapping(table=req["table"], columns=self.mapping.mapping(),
                                     timestamp_format=[ts] if ts else [])
        return req

    def start(self) -> None:
        self.import_requested.emit(self.request())
