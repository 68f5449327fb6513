"""Roster: staff × days grid coloured by shift (with the letter), locked cells marked, cover against demand
underneath (short in red), Solve with the live objective, violations in words, re-roster after a sickness
call with the changes listed, exports."""
from __future__ import annotations

import math
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QComboBox, QDateEdit, QFileDialog, QHBoxLayout, QHeaderView, QLabel, QMenu, QPushButton, QSpinBox, QSplitter,
    QTableView, QVBoxLayout, QWidget,
)

from desktop import theme
from desktop.pages.base import Page
from desktop.widgets.charts import legend_brush, make_plot
from desktop.widgets.table import FrameTable


def list_units(ws, progress=None, should_stop=None) -> list[tuple[str, str, int]]:
    return ws.sql("""SELECT s.unit_id, coalesce(any_value(u.name), s.unit_id), count(*) FROM staff s
                     LEFT JOIN units u USING (unit_id) GROUP BY 1 ORDER BY 1""")


def solve_roster(ws, unit: str, start: date, days: int, limit: float, locks, sick, published, from_day,
                 progress=None, should_stop=None, points: list | None = None, hint=None,
                 ratios=None) -> dict[str, Any]:
    """Solve (or, with ``published``, re-roster from ``from_day`` after the sickness calls in ``sick``: ``(person,
    first day, days off sick)``).

    ``hint``: the roster on screen, which the search starts from (repaired around the cells locked since, so
    locking a cell and pressing Solve changes the roster around that cell, not all over).

    Each improving solution appends ``(seconds, objective, bound)`` to ``points`` (the page's live curve reads
    it); the cover table and the violations are built here, off the Qt thread.
    """
    from datasets.progress import Reporter
    from optimization.rostering import Lock, absent, problem_from_workspace, reroster, solve, validate
    from optimization.rostering.reroster import rerostering_problem

    rep = Reporter(progress, should_stop)
    rep(0.01, "reading staff, leave and demand")
    problem = problem_from_workspace(ws, unit, start, days, locks=[Lock(e, d, s) for (e, d), s in locks.items()],
                                     ratios=ratios)
    for emp, day, length in sick:  # an absence on those days; the contract's hours are credited for it
        problem = absent(problem, emp, range(day, min(day + length, days)))

    def improved(objective: float, bound: float, seconds: float) -> None:
        if points is not None:
            points.append((float(seconds), float(objective), float(bound)))
        shown = f" (bound {bound:,.0f})" if math.isfinite(bound) else ""  # none yet: the starting roster
        progress(min(0.97, 0.03 + 0.94 * seconds / max(limit, 1)),
                 f"objective {objective:,.0f}{shown} at {seconds:.1f} s")

    sub = rep.scaled(0.03, 0.97).progress
    # the cover table shows what the ward needs, also after a re-roster, whose search asks only for what the
    # published roster had (a shift the published roster left without a nurse in charge read "0/0", not red)
    ward = problem
    if published is not None:
        solution = reroster(problem, published, from_day, time_limit_s=limit, progress=sub, should_stop=should_stop,
                            on_solution=improved)
        problem = rerostering_problem(problem, published, from_day)
    else:
        solution = solve(problem, time_limit_s=limit, progress=sub, should_stop=should_stop, on_solution=improved,
                         hint=hint)
    check = validate(problem, solution) if solution.assignment else None
    violations = None
    if check is not None:
        violations = pd.DataFrame(
            [{"rule": v.rule, "hard": v.hard, "points": v.penalty, "who": v.employee or "", "what": v.text}
             for v in check.violations],
            columns=["rule", "hard", "points", "who", "what"]).sort_values(["hard", "points"], ascending=False,
                                                                           kind="stable")
    cover, short = cover_table(ward, solution)
    from optimization.rostering import cover_shortfalls

    from optimization.rostering import cover_surplus
    from optimization.rostering.explain import weekend_tight

    return {"key": (unit, start, days), "problem": problem, "solution": solution, "validation": check,
            "violations": violations,
            "cover": cover, "short": short, "shortfalls": cover_shortfalls(problem),
            "surplus": cover_surplus(problem), "weekends": weekend_tight(ward)}


def _sick_days(problem, day: int, length: int) -> str:
    last = min(day + length, problem.days) - 1
    if last == problem.days - 1:
        return f"from {problem.day_label(day)}"
    return f"on {problem.day_label(day)}" if last == day else f"{problem.day_label(day)} to {problem.day_label(last)}"


def cover_table(problem, sol) -> tuple[pd.DataFrame, Any]:
    """Cover against demand: one row per need (shift and skill), one ``have/need`` column per day, and a boolean
    array of the cells that are short."""
    from optimization.rostering.construct import rostered_per_cover

    rows = []
    for c, have in zip(problem.cover, rostered_per_cover(problem, sol.assignment)):
        rows.append({"need": f"{c.shift}{' ' + c.skill if c.skill else ''}", "day": c.day,
                     "cell": f"{have}/{c.requirement}", "short": have < max(c.requirement, c.hard_min)})
    if not rows:
        return pd.DataFrame(), None
    df = pd.DataFrame(rows)
    wide = df.pivot(index="need", columns="day", values="cell")
    wide.columns = [problem.day_label(d) for d in wide.columns]
    short = df.pivot(index="need", columns="day", values="short").to_numpy(dtype=bool)
    return wide.reset_index(), short


def cover_for_sheet(wide: pd.DataFrame) -> pd.DataFrame:
    """The cover table as numbers for a spreadsheet: each need's ``have/need`` row becomes a "rostered" and a
    "needed" row (Excel read the text "6/2" as 6 February, and numbers can be summed)."""
    if wide.empty:
        return wide
    days = [c for c in wide.columns if c != "need"]
    rows = []
    for _, r in wide.iterrows():
        pairs = [str(r[d]).split("/") if isinstance(r[d], str) else (None, None) for d in days]
        for i, what in enumerate(("rostered", "needed")):
            rows.append({"need": f"{r['need']} {what}",
                         **{d: (int(p[i]) if p[i] is not None else None) for d, p in zip(days, pairs)}})
    return pd.DataFrame(rows, columns=["need", *days])


CHANGED_FONT = QFont()
CHANGED_FONT.setBold(True)
CHANGED_FONT.setUnderline(True)


DRAFT_SECONDS = 5.0


def _num(v) -> str:
    return "–" if v is None else f"{v:,.0f}"


class RosterModel(QAbstractTableModel):
    """Staff rows × day columns; a cell shows the shift letter on the shift's colour; a locked cell is in
    brackets ([E])."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.problem = None
        self.solution = None
        self.locks: dict[tuple[str, int], str | None] = {}
        self.changed: set[tuple[str, int]] = set()
        self.hours: dict = {}  # {employee: hours_table row}: rostered against contracted hours in the row header
        self.sick: set[tuple[str, int]] = set()  # (person, day) off sick: "SK", told apart from leave ("LV")

    def set_roster(self, problem, solution, changed=()) -> None:
        self.beginResetModel()
        self.problem, self.solution = problem, solution
        self.changed = set(changed)
        self.hours = {}
        if solution is not None and solution.assignment:
            from optimization.rostering.validate import hours_table

            self.hours = {r.employee: r for r in hours_table(problem, solution).itertuples()}
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if self.problem is None else len(self.problem.employees)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if self.problem is None else self.problem.days

    def cell(self, row: int, col: int) -> tuple[str, int, str | None]:
        emp = self.problem.employees[row].id
        return emp, col, (self.solution.assignment.get((emp, col)) if self.solution else None)

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or self.problem is None:
            return None
        emp, day, shift = self.cell(index.row(), index.column())
        leave = day in self.problem.days_off.get(emp, ())
        sick = leave and (emp, day) in self.sick
        locked = (emp, day) in self.locks
        if role == Qt.ItemDataRole.DisplayRole:
            text = ("SK" if sick else "LV") if leave else (shift or "·")
            return f"[{text}]" if locked else text  # (a padlock glyph drew as an empty box without an emoji font)
        if role == Qt.ItemDataRole.BackgroundRole:
            key = "LEAVE" if leave else (shift or "OFF")
            color = theme.SHIFTS.get(key) or theme.SHIFTS.get(shift or "", None)
            if color:
                c = QColor(color)
                c.setAlpha(150)
                return QBrush(c)
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == Qt.ItemDataRole.FontRole and (emp, day) in self.changed:
            return CHANGED_FONT
        if role == Qt.ItemDataRole.ToolTipRole:
            what = ("off sick" if sick else "on leave") if leave else (self.problem.shift(shift).name if shift
                                                                       else "day off")
            extra = " — locked by hand" if locked else ""
            extra += " — changed by the re-roster" if (emp, day) in self.changed else ""
            return f"{self.problem.employee(emp).label}, {self.problem.day_label(day)}: {what}{extra}"
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and self.problem is not None:
            holiday = self.problem.holidays.get(section)
            if role == Qt.ItemDataRole.ForegroundRole and holiday:  # bank holidays stand out in the day header
                return QBrush(QColor(theme.VERMILLION))
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"{self.problem.day_label(section)}: {holiday} (a bank holiday)" if holiday else None
        if self.problem is None or role not in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return None
        if orientation == Qt.Orientation.Horizontal:
            if role != Qt.ItemDataRole.DisplayRole:
                return None
            d = self.problem.date_of(section)
            return d.strftime("%a\n%d") if d else str(section)
        e = self.problem.employees[section]
        h = self.hours.get(e.id)
        if h is None or math.isnan(h.contracted_h):
            return e.label if role == Qt.ItemDataRole.DisplayRole else None
        if role == Qt.ItemDataRole.DisplayRole:  # rostered/contracted hours at a glance
            return f"{e.label}  {h.rostered_h:.0f}/{h.contracted_h:.0f} h"
        owed = (f"{-h.difference_h:g} h under" if h.difference_h < 0 else f"{h.difference_h:g} h over"
                if h.difference_h > 0 else "exactly")
        return (f"{e.label}: {h.rostered_h:g} h rostered, {h.contracted_h:g} h contracted over these days (leave "
                f"credited): {owed}; {h.shifts} shifts, {h.nights} nights, {h.leave_days} days of leave. The roster "
                f"keeps " + (f"at least {h.least_h:g} h." if math.isnan(h.most_h)
                             else f"between {h.least_h:g} and {h.most_h:g} h."))


class RosterPage(Page):
    name = "roster"
    title = "Roster"

    def build(self) -> None:
        self.unit = QComboBox(self.body)
        self.unit.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # 'AMU — Acute…' whole
        self.start = QDateEdit(self.body)
        self.start.setCalendarPopup(True)
        self.start.setDisplayFormat("ddd d MMM yyyy")
        self.days = QSpinBox(self.body)
        self.days.setRange(7, 84)
        self.days.setSingleStep(7)
        self.days.setValue(28)
        self.days.setSuffix(" days")
        self.limit = QSpinBox(self.body)
        self.limit.setRange(2, 600)
        self.limit.setValue(20)
        self.limit.setSuffix(" s")
        self.limit.setToolTip("How long the solver may look for a better roster")
        # the staffing ratio cover is drawn from (issue 8: "a staffing ratio the user sets"): registered nurses
        # per patient by day and by night, the unit's expected census on each shift divided by it
        from optimization.rostering.workspace import DEFAULT_RATIOS

        self.rn_day, self.rn_night = QSpinBox(self.body), QSpinBox(self.body)
        for box, part in ((self.rn_day, "day"), (self.rn_night, "night")):
            box.setRange(1, 30)
            box.setValue(int(DEFAULT_RATIOS["RN"][part]))
            box.setToolTip(f"Patients per registered nurse on {part} shifts: cover is the unit's expected census "
                           f"on each shift divided by this (support workers: 1 to "
                           f"{DEFAULT_RATIOS['HCA'][part]:g})")
        self.solve_btn = QPushButton("Solve", self.body)
        self.solve_btn.setDefault(True)
        self.solve_btn.clicked.connect(lambda: self.solve())
        self.export_btn = QPushButton("Export ▾", self.body)
        menu = QMenu(self.export_btn)
        for label, fmt in (("CSV (one row per person per day)", "csv"), ("Excel grid (XLSX)", "xlsx"),
                           ("iCalendar per person (folder)", "ics"), ("PDF", "pdf")):
            menu.addAction(label, lambda f=fmt: self.export(f))
        self.export_btn.setMenu(menu)
        self.export_btn.setEnabled(False)
        top = QHBoxLayout()
        for w in (QLabel("Unit"), self.unit, QLabel("from"), self.start, self.days, QLabel("RN 1:"), self.rn_day,
                  QLabel("/"), self.rn_night, QLabel("search"), self.limit, self.solve_btn):
            top.addWidget(w)
        top.addStretch(1)
        top.addWidget(self.export_btn)

        self.model = RosterModel(self)
        self.grid = QTableView(self.body)
        self.grid.setModel(self.model)
        self.grid.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.grid.horizontalHeader().setDefaultSectionSize(40)
        self.grid.verticalHeader().setDefaultSectionSize(20)
        self.grid.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.grid.customContextMenuRequested.connect(self._cell_menu)
        # the cover's day columns line up under the grid's and scroll with it, its needs in the row header as the
        # grid's names are (at 1,920 px the grid showed 24 days and the cover table under it 11)
        self.cover = FrameTable(title="Cover: staff rostered / needed (short in red)", export_name="cover",
                                filter_box=False, export_with=cover_for_sheet, row_labels="need")
        self.cover.view.horizontalHeader().setVisible(False)  # (the grid's day header is right above it)
        gbar, cbar = self.grid.horizontalScrollBar(), self.cover.view.horizontalScrollBar()
        gbar.valueChanged.connect(cbar.setValue)
        cbar.valueChanged.connect(gbar.setValue)
        self.cover.model.colors = self._cover_color
        self.status = QLabel("Choose a unit and press Solve. Right-click a cell to lock it or to record a "
                             "sickness and re-roster.", self.body)
        self.status.setWordWrap(True)
        self.violations = FrameTable(title="Rules broken (soft ones cost points)",
                                     export_name="roster_violations")
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.grid)
        left.addWidget(self.cover)
        left.setStretchFactor(0, 3)
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.status)
        self.curve_plot = make_plot()
        self.curve_plot.setMaximumHeight(130)
        self.curve_plot.setLabel("bottom", "seconds")
        self.curve_plot.setToolTip("The solver's best roster so far (objective, lower is better) and its proof of "
                                   "how good a roster can be (bound): the gap between them closes as it searches")
        self.curve_plot.addLegend(offset=(-10, 5), labelTextSize="7pt", brush=legend_brush())
        self._obj_curve = self.curve_plot.plot([], [], pen=pg.mkPen(theme.BLUE, width=2), name="objective",
                                               stepMode=None)
        self._bound_curve = self.curve_plot.plot([], [], pen=pg.mkPen(theme.GREY, style=Qt.PenStyle.DashLine),
                                                 name="bound")
        self._curve: list[tuple[float, float, float]] = []
        rl.addWidget(self.curve_plot)
        rl.addWidget(self.violations, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 1)
        split.setSizes([820, 420])
        lay = QVBoxLayout(self.body)
        lay.addLayout(top)
        lay.addWidget(self.error)
        lay.addWidget(split, 1)
        self.result: dict | None = None
        self._draft = False
        self._short = None
        self._cover_cols: dict[str, int] = {}
        self.sick: list[tuple[str, int, int]] = []  # (person, first day, days)
        for signal in (self.unit.currentIndexChanged, self.start.dateChanged, self.days.valueChanged):
            signal.connect(self._period_changed)

    def _period_changed(self, *_args) -> None:
        """Locks and sickness calls are cells of the roster shown (a person on a day of this unit's period): for
        another unit or period they would name the wrong people or days, so they are dropped, saying so."""
        if not (self.model.locks or self.sick):
            return
        self.model.locks.clear()
        self.sick.clear()
        self.model.layoutChanged.emit()
        self.status.setText("The locks and sickness calls of the roster shown were cleared: they belong to its unit "
                            "and dates. Press Solve for the new unit or dates.")

    # ------------------------------------------------------------------ loading
    def refresh(self) -> None:
        self.run("Listing units", list_units, self._fill_units, key="roster.units", background=True)

    def _fill_units(self, units) -> None:
        current = self.unit.currentData()
        self.unit.clear()
        for uid, name, n in units:
            self.unit.addItem(f"{uid} — {name} ({n} staff)", uid)
        if current:
            self.unit.setCurrentIndex(max(0, self.unit.findData(current)))
        at = self.session.as_of.date()
        monday = at + timedelta(days=(7 - at.weekday()) % 7 or 7)
        self.start.setDate(monday)
        if self.unit.count():
            # a first draft straight away (a short search); Solve searches longer
            self.solve(time_limit=DRAFT_SECONDS)
        else:
            self.status.setText("This workspace has no staff to roster: import a staff table (Data → Import), or "
                                "try the demo hospital.")
            self.done_loading()

    # ------------------------------------------------------------------ solving
    def solve(self, published=None, from_day: int = 0, time_limit: float | None = None) -> None:
        unit = self.unit.currentData()
        if not unit:
            self.show_error("This workspace has no staff to roster: import a staff table first.")
            return
        start = self.start.date().toPython()
        days, limit = self.days.value(), float(time_limit or self.limit.value())
        self._draft = time_limit is not None
        locks = dict(self.model.locks)
        sick = list(self.sick)
        hint = None
        if published is None and self.result is not None and self.result["solution"].assignment:
            if self.result.get("key") == (unit, start, days):
                hint = self.result["solution"]  # the roster on screen: locking a cell then Solve keeps the rest
        self.status.setText("Solving… the objective improves live below; Esc stops and keeps the best roster so far.")
        self._curve = points = []  # appended to by the solve's thread, read here on each progress update
        self._obj_curve.setData([], [])
        self._bound_curve.setData([], [])
        ratios = self.ratios()
        self.run(f"Rostering {unit}",
                 lambda ws, progress, should_stop: solve_roster(ws, unit, start, days, limit, locks, sick, published,
                                                                from_day, progress, should_stop, points, hint,
                                                                ratios),
                 self._show, key="roster.solve", on_progress=self._progress,
                 on_error=self._failed, keeps_partial=True)

    def ratios(self) -> dict:
        """The staffing ratios cover is drawn from: the registered nurses' as set here, the others' the defaults."""
        from optimization.rostering.workspace import DEFAULT_RATIOS

        out = {role: dict(r) for role, r in DEFAULT_RATIOS.items()}
        out["RN"] = {"day": float(self.rn_day.value()), "night": float(self.rn_night.value())}
        return out

    def _progress(self, fraction: float, message: str) -> None:
        self.status.setText(message)
        curve = list(self._curve)  # one point per improving solution so far
        if curve:
            xs = [c[0] for c in curve]
            self._obj_curve.setData(xs, [c[1] for c in curve])
            bounds = [(x, c[2]) for x, c in zip(xs, curve) if math.isfinite(c[2])]  # the starting roster has none
            self._bound_curve.setData([b[0] for b in bounds], [b[1] for b in bounds])

    def _failed(self, message: str) -> None:
        self.status.setText(message)
        self.done_loading()

    def _show(self, r: dict) -> None:
        from optimization.rostering import stopped_short_note

        self.result = r
        problem, sol, check = r["problem"], r["solution"], r["validation"]
        if not self._draft:  # (the draft the page makes on opening is no one's decision: a screenshot audited it)
            self.session.audit("solve roster", problem.unit, {"status": sol.status, "objective": sol.objective,
                                                              "days": problem.days, "start": str(problem.start)})
        changed = set()
        if problem.published is not None:
            changed = {k for k in set(problem.published) | set(sol.assignment)
                       if k[1] >= problem.change_from_day and problem.published.get(k) != sol.assignment.get(k)}
        self.model.sick = {(e, d) for e, d0, n in self.sick for d in range(d0, min(d0 + n, problem.days))}
        self.model.set_roster(problem, sol, changed)
        if not sol.assignment and sol.status != "INFEASIBLE":
            self.status.setText(f"<b>No roster found</b> in {sol.seconds:.1f} s ({sol.status}). "
                                "Give the search more time and press Solve again.")
            self.violations.set_frame(pd.DataFrame())
        elif sol.status == "INFEASIBLE":
            self.status.setText("<b>No roster can meet every hard rule.</b><br>" + "<br>".join(sol.conflicts))
            self.violations.set_frame(pd.DataFrame({"conflict": list(sol.conflicts)}))
        else:
            parts = [("<b>Draft roster</b> from a short search; press Solve to search longer.<br>" if self._draft else "")
                     + (f"<b>Stopped</b> after {sol.seconds:.1f} s: the best roster so far"
                        if sol.status == "CANCELLED" else f"<b>{sol.status}</b> in {sol.seconds:.1f} s")
                     + f" — objective {_num(sol.objective)}"
                     + (f" (bound {_num(sol.bound)})" if sol.bound is not None else "")]
            if check is not None:
                parts.append(f"independent check: objective {check.objective:,}, hard rules broken: "
                             f"{check.hard_violations}")
            if changed:
                parts.append(f"{len(changed)} cell(s) changed from the published roster (bold, underlined)")
            if self.sick:
                parts.append("Off sick (right-click their cell to clear): " + ", ".join(
                    f"{problem.employee(e).label} {_sick_days(problem, d, n)}" for e, d, n in self.sick
                    if any(x.id == e for x in problem.employees)))
            parts += [f"<span style='color:{theme.VERMILLION}'>Short whatever the roster:</span> {line}"
                      for line in r.get("shortfalls", [])]
            note = stopped_short_note(sol.status, check.by_rule().get("cover_under", 0) if check else 0,
                                      r.get("shortfalls", []))
            if note:
                parts.append(note)
            if check is not None and any(v.rule == "cover_under" and v.day is not None and problem.weekday(v.day) >= 5
                                         for v in check.violations):
                parts += [f"<span style='color:{theme.GREY}'>Weekends:</span> {line}" for line in r.get("weekends", [])]
            if r.get("surplus") and check is not None and check.by_rule().get("cover_over", 0):
                parts.append(f"<span style='color:{theme.GREY}'>Over cover whatever the roster:</span> "
                             f"{r['surplus']}")
            self.status.setText("<br>".join(parts))
            if r.get("violations") is not None:
                self.violations.set_frame(r["violations"])
        cover, self._short = (r["cover"], r["short"]) if "cover" in r else cover_table(problem, sol)
        self._cover_cols = {c: j - 1 for j, c in enumerate(cover.columns)}
        self.cover.set_frame(cover)
        self._align_cover()
        self.export_btn.setEnabled(bool(sol.assignment))
        self.done_loading()

    def _align_cover(self) -> None:
        """The cover table's columns under the grid's: its row header as wide as the grid's (the names), each
        day as wide as the grid's day."""
        view = self.cover.view
        names = max(self.grid.verticalHeader().sizeHint().width(), view.verticalHeader().sizeHint().width())
        self.grid.verticalHeader().setFixedWidth(names)
        view.verticalHeader().setFixedWidth(names)
        frame = self.cover.model.frame
        for c, col in enumerate(frame.columns):
            j = self._cover_cols.get(col, -1)
            if col != "need" and 0 <= j < self.model.columnCount():
                view.setColumnWidth(c, self.grid.columnWidth(j))
        view.horizontalHeader().setStretchLastSection(False)

    def _cover_color(self, row: int, col: str):
        short = self._short
        j = self._cover_cols.get(col, -1)
        if short is None or col == "need":
            return None
        if row < short.shape[0] and 0 <= j < short.shape[1] and short[row, j]:
            c = QColor(theme.VERMILLION)
            c.setAlpha(110)
            return c
        return None

    # ------------------------------------------------------------------ cells: locks and sickness
    def _cell_menu(self, pos) -> None:
        index = self.grid.indexAt(pos)
        if not index.isValid() or self.model.problem is None:
            return
        emp, day, shift = self.model.cell(index.row(), index.column())
        m = QMenu(self)
        m.addAction(f"Lock as it is ({shift or 'off'})", lambda: self._lock(emp, day, shift))
        for s in self.model.problem.shifts:
            m.addAction(f"Lock as {s.id} ({s.name})", lambda s=s.id: self._lock(emp, day, s))
        m.addAction("Lock as day off", lambda: self._lock(emp, day, None))
        if (emp, day) in self.model.locks:
            m.addAction("Unlock", lambda: self._unlock(emp, day))
        m.addSeparator()
        m.addAction("Add leave on this day", lambda: self.add_request(emp, day, "leave"))
        m.addAction("Request: day off (weight 3)", lambda: self.add_request(emp, day, "day_off"))
        for s in self.model.problem.shifts:
            m.addAction(f"Request: work {s.id} (weight 3)", lambda s=s.id: self.add_request(emp, day, "shift_on", s))
        m.addSeparator()
        sick = m.addMenu("Off sick from this day — re-roster with as few changes as possible")
        left = self.model.problem.days - day
        for n, words in ((1, "this day only"), (3, "3 days"), (7, "a week")):
            if n < left:
                sick.addAction(words, lambda n=n: self.report_sick(emp, day, n))
        sick.addAction("to the end of the roster", lambda: self.report_sick(emp, day, left))
        if any(e == emp for e, _, _ in self.sick):
            m.addAction("Back from sickness (clear the sickness call; Solve to use it)", lambda: self.clear_sick(emp))
        m.exec(self.grid.viewport().mapToGlobal(pos))

    def add_request(self, emp: str, day: int, kind: str, shift: str | None = None, weight: int = 3) -> None:
        """Record leave or a request in the workspace (the requests table, audited); the next Solve uses it."""
        when = self.model.problem.date_of(day)
        if when is None:
            return
        rid = f"app-{emp}-{when:%Y%m%d}-{kind}-{shift or ''}"
        with self.session.ws.transaction() as con:
            con.execute("DELETE FROM requests WHERE request_id = ?", [rid])
            con.execute("INSERT INTO requests (request_id, staff_id, request_date, kind, shift_id, weight) "
                        "VALUES (?, ?, ?, ?, ?, ?)", [rid, emp, when, kind, shift, None if kind == "leave" else weight])
        self.session.audit("add request", emp, {"date": str(when), "kind": kind, "shift": shift})
        what = {"leave": "leave", "day_off": "a day-off request", "shift_on": f"a request to work {shift}"}[kind]
        self.status.setText(f"Recorded {what} for {self.model.problem.employee(emp).label} on {when:%a %d %b}. "
                            "Press Solve to roster with it.")

    def _lock(self, emp: str, day: int, shift: str | None) -> None:
        self.model.locks[(emp, day)] = shift
        self.model.layoutChanged.emit()

    def _unlock(self, emp: str, day: int) -> None:
        self.model.locks.pop((emp, day), None)
        self.model.layoutChanged.emit()

    def report_sick(self, emp: str, day: int, length: int | None = None) -> None:
        """``emp`` off sick for ``length`` days from ``day`` (None: to the end of the roster), then re-roster."""
        if self.result is None:
            return
        self.sick.append((emp, day, length or self.model.problem.days - day))
        self.solve(published=self.result["solution"], from_day=day)

    def clear_sick(self, emp: str) -> None:
        self.sick = [x for x in self.sick if x[0] != emp]
        self.status.setText(f"Cleared the sickness call of {self.model.problem.employee(emp).label}. Press Solve to "
                            "roster with them.")

    # ------------------------------------------------------------------ export
    def export(self, fmt: str) -> None:
        if self.result is None:
            return
        problem, sol = self.result["problem"], self.result["solution"]
        if fmt == "ics":
            target = QFileDialog.getExistingDirectory(self, "Folder for one calendar file per person")
        else:
            target, _ = QFileDialog.getSaveFileName(self, "Export roster", f"roster_{problem.unit or 'ward'}.{fmt}")
        if target:
            self.export_to(fmt, target)

    def export_to(self, fmt: str, target) -> list:
        """Write the roster shown as csv, xlsx, pdf (a file) or ics (one calendar per person in a folder)."""
        from optimization.rostering import to_csv, to_ics, to_pdf, to_xlsx

        problem, sol = self.result["problem"], self.result["solution"]
        writer = {"csv": to_csv, "xlsx": to_xlsx, "pdf": to_pdf, "ics": to_ics}[fmt]
        # after a re-roster, the calendars cancel the shifts it took away (problem.published: the roster before)
        out = (to_ics(problem, sol, target, self.session.timezone, published=problem.published) if fmt == "ics"
               else writer(problem, sol, target))
        files = out if isinstance(out, list) else [out]
        self.session.audit("export roster", str(target), {"format": fmt, "unit": problem.unit, "files": len(files),
                                                          "days": problem.days})
        self.window().statusBar().showMessage(f"Exported {len(files)} file(s) to {target}", 8000)
        return files
