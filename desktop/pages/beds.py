"""Beds: the bed board at the "as of" time, the waiting list, a CP-SAT placement proposal with reasons for
anyone left unplaced (accept all or some), and the 72-hour occupancy outlook per unit with bands."""
from __future__ import annotations

from typing import Any

import pandas as pd
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QInputDialog, QLabel, QPushButton, QScrollArea, QSpinBox, QSplitter, QTabWidget,
    QVBoxLayout, QWidget,
)

from desktop import theme
from desktop.pages.base import Page
from desktop.widgets.bedboard import BedBoard
from desktop.widgets.charts import TimeChart
from desktop.widgets.table import FrameTable


def load_beds(ws, at, progress=None, should_stop=None) -> dict[str, Any]:
    from datasets.metrics.beds import bed_board, waiting_list
    from datasets.progress import Reporter

    rep = Reporter(progress, should_stop)
    rep(0.1, "bed board")
    board = bed_board(ws, at)
    rep(0.5, "waiting list")
    waiting = waiting_list(ws, at)
    names = dict(ws.sql("SELECT unit_id, coalesce(name, unit_id) FROM units"))
    rep(1.0, "done")
    return {"board": board, "waiting": waiting, "names": names}


def load_outlook(ws, at, progress=None, should_stop=None) -> pd.DataFrame:
    from datasets.metrics.beds import outlook

    from desktop.jobs import load_forecasting

    load_forecasting()  # (the outlook may use the admissions forecast: imported whole, one thread at a time)

    return outlook(ws, at, 72, progress=progress, should_stop=should_stop)


def propose(ws, at, time_limit_s: float, progress=None, should_stop=None) -> dict[str, Any]:
    from datasets.progress import Reporter
    from optimization.beds.model import placement_note, solve, validate
    from optimization.beds.workspace import problem_from_workspace

    rep = Reporter(progress, should_stop)
    rep(0.02, "building the placement problem")
    problem = problem_from_workspace(ws, at)

    def improved(objective: float, bound: float, seconds: float) -> None:
        progress(min(0.95, 0.05 + 0.9 * seconds / max(time_limit_s, 1)),
                 f"cost {objective:,.0f} (bound {bound:,.0f}) after {seconds:.1f} s")

    solution = solve(problem, time_limit_s=time_limit_s, progress=rep.scaled(0.05, 0.95).progress,
                     should_stop=should_stop, on_solution=improved)
    check = validate(problem, solution)
    patients = {p.patient_id: p for p in problem.patients}
    beds = {b.bed_id: b for b in problem.beds}
    rows = []
    for pid, bed in solution.assignment.items():
        p = patients.get(pid)
        if p is None:
            continue
        if p.current_bed is not None and bed == p.current_bed:
            continue  # stays where they are
        rows.append({
            "patient_id": p.person_id or pid, "stay_id": pid,
            "kind": "move" if p.current_bed else WAITING_KINDS.get(p.kind, p.kind),
            "acuity": p.acuity, "specialty": p.specialty, "wait_hours": round(p.wait_hours, 1),
            "bed": bed or "", "unit": beds[bed].unit_id if bed else "",
            "from_bed": p.current_bed or "",
            "reason": placement_note(problem, p, bed, (getattr(solution, "admission_day", {}) or {}).get(pid))
            if bed else solution.unplaced.get(pid, "not placed"),
        })
    proposal = pd.DataFrame(rows, columns=["patient_id", "stay_id", "kind", "acuity", "specialty", "wait_hours", "bed",
                                           "unit", "from_bed", "reason"])
    if len(proposal):
        proposal = proposal.sort_values(["bed"], key=lambda s: s.eq(""), kind="stable").reset_index(drop=True)
    return {"solution": solution, "validation": check, "proposal": proposal, "problem": problem}


WAITING_KINDS = {"ed_boarder": "in the ED, to admit", "elective": "elective", "transfer": "assessment unit"}


def waiting_frame(waiting: pd.DataFrame) -> pd.DataFrame:
    """The waiting list as the page shows it: those waiting now first with their wait, then the electives due
    later today with the time they are due ('due 20:10') instead of a wait of 0 h."""
    df = waiting.copy()
    due = df["due_later"].astype(bool) if len(df) else pd.Series([], dtype=bool)
    df.insert(df.columns.get_loc("wait_hours") + 1, "due",
              ["due " + pd.Timestamp(t).strftime("%H:%M") if d else "" for t, d in zip(df["since"], due)])
    df.loc[due, "wait_hours"] = float("nan")
    if "kind" in df:  # in words (UI.md: no codes on screen); exports keep the words too
        df["kind"] = df["kind"].map(lambda k: WAITING_KINDS.get(k, k))
    # a bed already reserved for them (an accepted placement) beside the wait, where it is seen
    df.insert(df.columns.get_loc("due") + 1, "reserved_bed", df.pop("reserved_bed").fillna(""))
    # who they are (specialty, sex, age, needs) before the pseudonyms: those were on screen and the columns a
    # bed manager places by were scrolled off to the right
    ids = [c for c in ("patient_id", "stay_id", "since") if c in df]
    df = df[[c for c in df.columns if c not in ids] + ids]
    return df.drop(columns=["due_later"]).sort_values("due", kind="stable").reset_index(drop=True)


def accept_job(ws, problem, assignment, admission_day, at, progress=None, should_stop=None) -> list[str]:
    """Store the chosen placements of a proposal (``assignment``: patient -> bed) as accepted."""
    from types import SimpleNamespace

    from optimization.beds.workspace import accept_placements, placements_from_solution

    chosen = SimpleNamespace(assignment=assignment, admission_day=admission_day)
    return accept_placements(ws, placements_from_solution(problem, chosen), at)


class BedsPage(Page):
    name = "beds"
    title = "Beds"

    def build(self) -> None:
        self.summary = QLabel("", self.body)
        self.board = BedBoard(self.body)
        scroll = QScrollArea(self.body)
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.board)
        legend = QLabel("  ".join(f"<span style='color:{c}'>■</span> {g} {s}" for s, (c, g) in theme.BED_STATES.items())
                        + "  — M/F: occupant's sex; m/f: a free bed in a men's/women's bay; T: telemetry; "
                          "orange corner: side room", self.body)
        legend.setObjectName("muted")
        legend.setWordWrap(True)
        self.summary.setWordWrap(True)

        self.waiting = FrameTable(title="Waiting for a bed", export_name="waiting_list",
                                  decimals={"wait_hours": 1},
                                  headers={"wait_hours": "waiting (h)", "reserved_bed": "bed reserved"},
                                  tooltips={"kind": "ED boarder (decision to admit made), elective due today, or "
                                                    "transfer out of an assessment unit",
                                            "due": "an elective due later today: not waiting yet",
                                            "reserved_bed": "the bed an accepted placement keeps for them"})
        prop_box = QWidget(self.body)
        self.time_limit = QSpinBox(prop_box)
        self.time_limit.setRange(1, 600)
        self.time_limit.setValue(10)
        self.time_limit.setSuffix(" s")
        self.time_limit.setToolTip("How long the solver may search for a better proposal")
        self.propose_btn = QPushButton("Propose placements", prop_box)
        self.propose_btn.clicked.connect(self.propose)
        self.accept_all_btn = QPushButton("Accept all", prop_box)
        self.accept_all_btn.clicked.connect(lambda: self.accept(all_rows=True))
        self.accept_sel_btn = QPushButton("Accept selected", prop_box)
        self.accept_sel_btn.clicked.connect(lambda: self.accept(all_rows=False))
        self.change_btn = QPushButton("Change bed…", prop_box)
        self.change_btn.setToolTip("Put the selected patient in another bed the hard rules allow, or leave them "
                                   "waiting (double-clicking a row does the same)")
        self.change_btn.clicked.connect(self.change_bed_dialog)
        self.cancel_btn = QPushButton("Cancel reservation…", prop_box)
        self.cancel_btn.setToolTip("Free a bed reserved by an accepted placement")
        self.cancel_btn.clicked.connect(self.cancel_dialog)
        for b in (self.accept_all_btn, self.accept_sel_btn, self.change_btn, self.cancel_btn):
            b.setEnabled(False)
        self.solver_line = QLabel("", prop_box)
        self.solver_line.setWordWrap(True)
        self.proposal = FrameTable(prop_box, title="Proposal", export_name="bed_proposal", decimals={"wait_hours": 1},
                                   tooltips={"reason": "why this patient could not be placed, or what the placement "
                                                       "costs (an outlier off their specialty), in words"})
        row = QHBoxLayout()
        row.addWidget(QLabel("search for", prop_box))
        row.addWidget(self.time_limit)
        row.addWidget(self.propose_btn)
        row.addStretch(1)
        row.addWidget(self.cancel_btn)
        row.addWidget(self.change_btn)
        row.addWidget(self.accept_sel_btn)
        row.addWidget(self.accept_all_btn)
        pl = QVBoxLayout(prop_box)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addLayout(row)
        pl.addWidget(self.solver_line)
        pl.addWidget(self.proposal, 1)
        self.proposal.view.doubleClicked.connect(lambda _index: self.change_bed_dialog())

        out_box = QWidget(self.body)
        self.unit = QComboBox(out_box)
        self.unit.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)  # 'AMU — Acute…' whole
        self.unit.currentIndexChanged.connect(self._draw_outlook)
        self.outlook_chart = TimeChart(title="Next 72 hours: expected patients with 80% and 95% bands",
                                       y_label="patients")
        ol = QVBoxLayout(out_box)
        ol.setContentsMargins(0, 0, 0, 0)
        top = QHBoxLayout()
        top.addWidget(QLabel("Unit", out_box))
        top.addWidget(self.unit)
        top.addStretch(1)
        ol.addLayout(top)
        ol.addWidget(self.outlook_chart, 1)

        self.tabs = QTabWidget(self.body)
        self.tabs.addTab(self.waiting, "Waiting")
        self.tabs.addTab(prop_box, "Proposal")
        self.tabs.addTab(out_box, "72-hour outlook")

        left = QWidget(self.body)
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.summary)
        ll.addWidget(scroll, 1)
        ll.addWidget(legend)
        split = QSplitter(Qt.Orientation.Horizontal, self.body)
        split.addWidget(left)
        split.addWidget(self.tabs)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        lay = QVBoxLayout(self.body)
        lay.addWidget(self.error)
        lay.addWidget(split, 1)
        self._outlook = pd.DataFrame()
        self._names: dict[str, str] = {}
        self.reserved: dict[str, str] = {}  # bed -> patient, from the board's accepted placements
        self._placements: dict[str, tuple[str, str]] = {}  # bed -> (patient, placement id)
        self.last_proposal = None
        self._assignment: dict[str, str | None] = {}
        self._admission_day: dict[str, int] = {}

    # ------------------------------------------------------------------ loading
    def refresh(self) -> None:
        at = self.session.as_of
        if self.last_proposal is not None and self.last_proposal.get("at") != at:
            # a plan for another time is not this time's plan: it goes, rather than stay on screen acceptable
            self.last_proposal = None
            self.proposal.set_frame(pd.DataFrame())
            self.accept_all_btn.setEnabled(False)
            self.accept_sel_btn.setEnabled(False)
            self.change_btn.setEnabled(False)
            self.solver_line.setText("The as-of time changed: the proposal was for another time. Propose again.")
        self.run("Loading the bed board", lambda ws, progress, should_stop: load_beds(ws, at, progress, should_stop),
                 self._show_board, background=True)
        self.run("Computing the 72-hour outlook",
                 lambda ws, progress, should_stop: load_outlook(ws, at, progress, should_stop),
                 self._show_outlook, key="beds.outlook", background=True)

    def _show_board(self, d: dict) -> None:
        from datasets.metrics.beds import split_waiting, waiting_summary

        board, waiting = d["board"], d["waiting"]
        self._names = d["names"]
        res = board[board["state"] == "reserved"]
        self.reserved = dict(zip(res["bed_id"], res["patient_id"].astype(str)))
        self._placements = {b: (who, pid) for b, who, pid in zip(res["bed_id"], res["patient_id"].astype(str),
                                                                   res["placement_id"].astype(str))}
        self.cancel_btn.setEnabled(bool(self.reserved))
        self.board.set_board(board, self._names, self.reserved)
        counts = board["state"].value_counts()
        self.summary.setText(
            f"<b>{len(board):,} beds</b>: {counts.get('occupied', 0):,} occupied, {counts.get('free', 0):,} free, "
            f"{counts.get('reserved', 0):,} reserved, "
            f"{counts.get('cleaning', 0):,} cleaning, {counts.get('blocked', 0):,} blocked; "
            f"about {board['leave_today'].sum():,.0f} expected to leave before midnight — "
            f"<b>{waiting_summary(waiting)}</b> at {self.session.as_of:%a %d %b %H:%M}")
        self.waiting.set_frame(waiting_frame(waiting))
        now, due = split_waiting(waiting)
        self.tabs.setTabText(0, f"Waiting ({len(now)}{f' + {due} due' if due else ''})")
        self.done_loading()

    def _show_outlook(self, df: pd.DataFrame) -> None:
        self._outlook = df
        current = self.unit.currentData()
        self.unit.blockSignals(True)
        self.unit.clear()
        self.unit.addItem("All inpatient units", "")
        for u in sorted(df["unit_id"].unique()):
            self.unit.addItem(f"{u} — {self._names.get(u, u)}", u)
        self.unit.setCurrentIndex(max(0, self.unit.findData(current)) if current else 0)
        self.unit.blockSignals(False)
        self._draw_outlook()

    def _draw_outlook(self) -> None:
        df = self._outlook
        if df.empty:
            return
        unit = self.unit.currentData()
        if unit:
            d = df[df["unit_id"] == unit]
        else:  # the sum over units: means add; bands from the summed variances (normal approximation)
            g = df.assign(var=((df["hi95"] - df["expected"]) / 1.96) ** 2).groupby("ts", as_index=False)
            d = g.agg(expected=("expected", "sum"), var=("var", "sum"), capacity=("capacity", "sum"))
            sd = d["var"] ** 0.5
            d["lo80"], d["hi80"] = (d["expected"] - 1.2816 * sd).clip(lower=0), d["expected"] + 1.2816 * sd
            d["lo95"], d["hi95"] = (d["expected"] - 1.96 * sd).clip(lower=0), d["expected"] + 1.96 * sd
        c = self.outlook_chart
        c.clear()
        c.add_band("95% band", d["ts"], d["lo95"], d["hi95"], theme.BLUE, alpha=35)
        c.add_band("80% band", d["ts"], d["lo80"], d["hi80"], theme.BLUE, alpha=70)
        c.add_line("expected", d["ts"], d["expected"], theme.BLUE, width=2)
        c.add_line("staffed beds", d["ts"], d["capacity"], theme.VERMILLION, dashed=True)

    # ------------------------------------------------------------------ proposal
    def propose(self) -> None:
        at = self.session.as_of
        limit = float(self.time_limit.value())
        self.tabs.setCurrentIndex(1)
        self.solver_line.setText("Searching… (Esc cancels)")
        self.run("Proposing placements",
                 lambda ws, progress, should_stop: {**propose(ws, at, limit, progress, should_stop), "at": at},
                 self._show_proposal, key="beds.solve", on_progress=lambda f, m: self.solver_line.setText(m),
                 on_error=self._solve_failed)

    def _solve_failed(self, message: str) -> None:
        self.solver_line.setText(message)
        self.done_loading()

    def _show_proposal(self, d: dict) -> None:
        self.last_proposal = d
        sol, check, prop = d["solution"], d["validation"], d["proposal"]
        self.session.audit("solve beds", str(self.session.as_of), {"status": sol.status, "objective": sol.objective})
        placed = int((prop["bed"] != "").sum())
        unplaced = int((prop["bed"] == "").sum())
        self.solver_line.setText(
            f"<b>{sol.status}</b> in {sol.seconds:.1f} s: {placed} placement(s), {unplaced} left waiting "
            f"(reasons below); cost {'–' if sol.objective is None else f'{sol.objective:,.0f}'}; "
            f"hard rules broken: {check.hard_violations} "
            f"(checked by the independent validator).")
        self.proposal.set_frame(prop)
        self._assignment = dict(sol.assignment)
        self._admission_day = dict(sol.admission_day)
        for b in (self.accept_all_btn, self.accept_sel_btn):
            b.setEnabled(placed > 0)
        self.change_btn.setEnabled(len(prop) > 0)
        self.done_loading()

    # ------------------------------------------------------------------ editing the proposal
    def bed_choices(self, patient_id: str) -> list[tuple[str | None, str]]:
        """Where the bed manager may put this patient instead: ``(bed_id, label)`` for every other bed that no
        patient of the proposal holds and that breaks none of the hard rules for them, beds of their own specialty
        first (outliers last, marked); the first choice (bed None) leaves them waiting, or in their current bed
        for a move."""
        from optimization.beds.model import is_outlier, rule_breaks

        problem = self.last_proposal["problem"]
        p = next(x for x in problem.patients if x.patient_id == patient_id)
        held = {b for pid, b in self._assignment.items() if b and pid != patient_id}
        mine = self._assignment.get(patient_id)  # the bed proposed now is no change
        choices: list[tuple[str | None, str]] = [
            (None, f"keep in current bed {p.current_bed}" if p.current_bed else "leave waiting")]
        rows = []
        for b in problem.beds:
            u = problem.unit(b.unit_id)
            if b.bed_id in held or b.bed_id in (p.current_bed, mine) or rule_breaks(p, b, u):
                continue
            out = is_outlier(p, u)
            label = f"{b.bed_id} — {self._names.get(u.unit_id, u.unit_id)}" + (" (outlier)" if out else "")
            rows.append((out, u.unit_id, b.bed_id, label))
        choices += [(bed, label) for _, _, bed, label in sorted(rows)]
        return choices

    def set_bed(self, patient_id: str, bed_id: str | None) -> None:
        """Change one placement of the proposal by hand; the independent validator re-checks the whole plan."""
        from optimization.beds.model import explain_unplaced, validate

        if bed_id not in {b for b, _ in self.bed_choices(patient_id)}:
            self.show_error(f"Bed {bed_id} is not free for {patient_id} under the hard rules.")
            return
        problem = self.last_proposal["problem"]
        p = next(x for x in problem.patients if x.patient_id == patient_id)
        self._assignment[patient_id] = bed_id if bed_id is not None else p.current_bed
        check = validate(problem, self._assignment, self._admission_day)
        frame = self.proposal.model.frame.copy()
        i = frame.index[frame["stay_id"] == patient_id]
        unit = problem.beds[[b.bed_id for b in problem.beds].index(bed_id)].unit_id if bed_id else ""
        if bed_id is None and not p.current_bed:
            reason = explain_unplaced(problem, self._assignment).get(patient_id, "left waiting by hand")
            frame.loc[i, ["bed", "unit", "reason"]] = ["", "", f"left waiting by hand; {reason}"]
        elif bed_id is None:
            frame = frame.drop(index=i)  # a move undone: they stay where they are
        elif len(i):
            frame.loc[i, ["bed", "unit", "reason"]] = [bed_id, unit, "changed by hand"]
        self.proposal.set_frame(frame.reset_index(drop=True))
        self.session.audit("edit bed proposal", patient_id, {"bed": bed_id})
        self.solver_line.setText(
            f"Edited by hand: {int((frame['bed'] != '').sum())} placement(s), cost {check.objective:,} "
            f"(was {self.last_proposal['validation'].objective:,}); hard rules broken: {check.hard_violations}.")
        self.accept_all_btn.setEnabled(bool((frame["bed"] != "").any()))

    def change_bed_dialog(self) -> None:
        if self.last_proposal is None:
            return
        rows = self.proposal.view.selectionModel().selectedRows()
        if len(rows) != 1:
            self.solver_line.setText("Select one patient of the proposal to change their bed.")
            return
        sel = self.proposal.selected_frame().iloc[0]
        pid = sel["stay_id"]
        choices = self.bed_choices(pid)
        labels = [label for _, label in choices]
        label, ok = QInputDialog.getItem(self, f"Bed for {sel['patient_id']}", "Beds the hard rules allow (own specialty first):",
                                         labels, 0, False)
        if ok:
            self.set_bed(pid, choices[labels.index(label)][0])

    def accept(self, all_rows: bool) -> None:
        """Accepted placements are kept in the workspace (audited): their beds show as reserved (R) on the board,
        for everyone who opens it, until the patient moves in or the reservation is cancelled."""
        if self.last_proposal is None:
            return
        frame = self.proposal.shown_frame() if all_rows else self.proposal.selected_frame(fallback=False)
        if frame.empty and not all_rows:
            self.solver_line.setText("Select the placements to accept first (click rows of the proposal), or use "
                                     "Accept all.")
            return
        chosen = set(frame.loc[frame["bed"] != "", "stay_id"])
        if not chosen:
            self.solver_line.setText("Nothing to accept: select placed patients (with a bed) first.")
            return
        problem, at = self.last_proposal["problem"], self.session.as_of
        assignment = {pid: bed for pid, bed in self._assignment.items() if pid in chosen}
        self.run("Accepting placements",
                 lambda ws, progress, should_stop: accept_job(ws, problem, assignment, self._admission_day, at),
                 self._accepted, key="beds.accept")

    def _accepted(self, ids: list[str]) -> None:
        self.solver_line.setText(f"Accepted {len(ids)} placement(s); their beds show as reserved (R) on the board "
                                 "until the patients move in. Cancel one with Cancel reservation….")
        self.accept_all_btn.setEnabled(False)
        self.accept_sel_btn.setEnabled(False)
        self.refresh()

    def cancel_dialog(self) -> None:
        if not self.reserved:
            self.solver_line.setText("No bed is reserved at this time.")
            return
        items = [f"{bed} — {who} ({pid})" for bed, (who, pid) in sorted(self._placements.items())]
        label, ok = QInputDialog.getItem(self, "Cancel a reservation", "Reserved beds:", items, 0, False)
        if ok:
            self.cancel(self._placements[label.split(" — ")[0]][1])

    def cancel(self, placement_id: str) -> None:
        from optimization.beds.workspace import cancel_placement

        self.run("Cancelling a reservation",
                 lambda ws, progress, should_stop: cancel_placement(ws, placement_id),
                 self._cancelled, key="beds.accept")

    def _cancelled(self, ids: list[str]) -> None:
        if len(ids) > 1:
            self.solver_line.setText(f"Cancelled {len(ids)} placements: the others were into the bed the first "
                                     "one's patient was to leave.")
        self.refresh()
