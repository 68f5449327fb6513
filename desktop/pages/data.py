"""Data: what the workspace holds, past imports, rejected rows (line and reason), and the import wizard."""
from __future__ import annotations

from typing import Any

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSplitter, QTabWidget, QVBoxLayout

from desktop.pages.base import Page
from desktop.widgets.table import FrameTable

REJECTS_SHOWN = 5000


def load_data_page(ws, progress=None, should_stop=None) -> dict[str, Any]:
    info = ws.info()
    tables = pd.DataFrame(
        [{"table": t, "rows": v["rows"], "from": v.get("from"), "to": v.get("to")} for t, v in info["tables"].items()]
    )
    for c in ("from", "to"):
        tables[c] = pd.to_datetime(tables[c], format="ISO8601").dt.date
    imports = ws.df(
        """SELECT run_id, started_at AS "when", source, format, rows_read AS "read", rows_loaded AS loaded,
                  rows_rejected AS rejected, round(duration_s, 1) AS seconds, os_user AS "by", sha256
           FROM import_runs ORDER BY run_id DESC""")
    rejects = ws.df(
        f"""SELECT run_id, table_name AS "table", file, line, column_name AS "column", reason, raw
            FROM rejects ORDER BY run_id DESC, file, line LIMIT {REJECTS_SHOWN}""")
    n_rejects = ws.sql("SELECT count(*) FROM rejects")[0][0]
    audit = ws.df("SELECT * FROM audit_log ORDER BY 1 DESC LIMIT 1000")
    return {"info": info, "tables": tables, "imports": imports, "rejects": rejects, "n_rejects": n_rejects,
            "audit": audit}


class DataPage(Page):
    name = "data"
    title = "Data"

    def build(self) -> None:
        self.summary = QLabel("", self.body)
        self.summary.setWordWrap(True)
        import_btn = QPushButton("Import extract…", self.body)
        import_btn.setToolTip("Import a CSV report or a MIMIC-IV, Synthea, OMOP or FHIR export (Ctrl+I)")
        import_btn.clicked.connect(self.start_import)
        top = QHBoxLayout()
        top.addWidget(self.summary, 1)
        top.addWidget(import_btn)
        self.tables = FrameTable(self.body, title="Tables", export_name="tables", filter_box=False)
        self.imports = FrameTable(self.body, title="Imports", export_name="imports")
        self.rejects = FrameTable(self.body, title="Rejected rows", export_name="rejected_rows",
                                  tooltips={"line": "line number in the source file (header is line 1)",
                                            "raw": "the row as it was in the file, identifiers pseudonymized"})
        self.audit = FrameTable(self.body, title="Audit log", export_name="audit_log")
        tabs = QTabWidget(self.body)
        tabs.addTab(self.imports, "Imports")
        tabs.addTab(self.audit, "Audit log")
        upper = QSplitter(Qt.Orientation.Horizontal, self.body)
        upper.addWidget(self.tables)
        upper.addWidget(tabs)
        upper.setSizes([420, 700])
        split = QSplitter(Qt.Orientation.Vertical, self.body)
        split.addWidget(upper)
        split.addWidget(self.rejects)
        lay = QVBoxLayout(self.body)
        lay.addLayout(top)
        lay.addWidget(self.error)
        lay.addWidget(split, 1)
        self.wizard = None

    def refresh(self) -> None:
        self.run("Reading the workspace", load_data_page, self._show, background=True)

    def _show(self, d: dict) -> None:
        info = d["info"]
        total = int(d["tables"]["rows"].sum())
        self.summary.setText(
            f"<b>{info['hospital'] or self.session.path.name}</b> — {self.session.path}<br>"
            f"{total:,} row{'' if total == 1 else 's'} in {len(d['tables'])} tables; time zone {info['timezone']}"
            f"{', holidays of ' + info['country'] if info.get('country') else ''}; "
            f"{d['n_rejects']:,} rejected row(s) kept for review.")
        self.tables.set_frame(d["tables"])
        self.imports.set_frame(d["imports"])
        self.rejects.set_frame(d["rejects"])
        self.audit.set_frame(d["audit"])
        if not d["n_rejects"]:
            self.rejects.count.setText("none: every row read was loaded")
        if d["imports"].empty:
            self.imports.count.setText("none yet: Import extract… loads a CSV or an EHR export")
        if d["n_rejects"] > REJECTS_SHOWN:
            self.rejects.count.setText(f"latest {REJECTS_SHOWN:,} of {d['n_rejects']:,}; filter or export via the CLI")
        self.done_loading()

    # ------------------------------------------------------------------ import
    def start_import(self) -> None:
        from desktop.pages.import_wizard import ImportWizard

        if not self.session.is_open:  # (the page shows its empty state then, so the error label would be hidden)
            self.window().statusBar().showMessage(
                "Open a workspace first (File ▸ Open, or try the demo hospital), then import into it.", 10000)
            return
        if self.wizard is not None and self.wizard.isVisible():
            self.wizard.raise_()
            return
        self.wizard = ImportWizard(self)
        from datasets.importers.engine import MONTH_FIRST_COUNTRIES

        # the preview reads dates that read either way as the import will: by the workspace's country
        self.wizard.month_first = self.session.country.upper() in MONTH_FIRST_COUNTRIES
        self.wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.wizard.import_requested.connect(self._run_import)
        self.wizard.destroyed.connect(lambda: setattr(self, "wizard", None))
        # Esc or Cancel in the wizard stops an import it started, as its run page says (it went on, and committed)
        self.wizard.rejected.connect(lambda: self.jobs.cancel("data.import"))
        self.wizard.show()

    def _run_import(self, req: dict) -> None:
        from datasets.importers import run_import

        def job(ws, progress, should_stop):
            return run_import(ws, req["path"], req["format"], table=req.get("table"), mapping=req.get("mapping"),
                              progress=progress, should_stop=should_stop)

        wizard = self.wizard

        def open_wizard():  # the wizard, unless it was closed meanwhile (its widgets are gone then)
            from shiboken6 import isValid

            return wizard if wizard is not None and isValid(wizard) and wizard.isVisible() else None

        def done(result) -> None:
            if open_wizard() is not None:
                wizard.run_page.finish(result)
            self.session.notify_data_changed()

        def failed(message: str) -> None:
            if open_wizard() is not None:
                wizard.run_page.finish(None, message)
            else:
                self.show_error(message)

        self.run(f"Importing {req['path'].name}", job, done, key="data.import", on_error=failed)
