"""Overview: today's numbers, ED arrivals by hour against the usual pattern, census heat map, occupancy by
unit and length of stay by specialty — all for the app's "as of" time."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QHBoxLayout, QSplitter, QVBoxLayout

from desktop import theme
from desktop.pages.base import Card, Page
from desktop.widgets.charts import HeatMap, TimeChart, make_plot, plot_message
from desktop.widgets.table import FrameTable


NO_BEDS = ("No inpatient units with staffed beds in the workspace.\n"
           "Import a units table with bed capacities (Data → Import) to see occupancy.")


def usual_so_far(usual: pd.DataFrame, at) -> float | None:
    """The usual number of ED arrivals from midnight to ``at``: the chart's hourly "usual (mean)" added up (the
    hour in progress in proportion), so the card and the chart tell the same story. The snapshot's own figure
    averages other weeks (the 8 before today; the chart's pattern is the 8 before its first day), and rounded to
    a whole number a sparse workspace's card read "usually 0 by now" beside a band up to 0.7 an hour (MIMIC-IV
    demo). None: no history to compare."""
    if usual is None or not len(usual) or at is None:
        return None
    at = pd.Timestamp(at)
    day = at.normalize()
    ds = pd.to_datetime(usual["ds"])
    today = usual[(ds >= day) & (ds < at)]
    mean = today["mean"].astype(float)
    if not len(today) or mean.isna().all():
        return None
    # each hour counts for the part of it already gone (all of it, but for the hour in progress)
    share = ((at - pd.to_datetime(today["ds"])) / pd.Timedelta(hours=1)).clip(upper=1.0)
    return float((mean.fillna(0.0) * share).sum())


def count_text(v: float) -> str:
    """An expected count for people: whole numbers from 10, one decimal below (0.3, not a flat "0")."""
    return f"{v:,.0f}" if v >= 9.95 else f"{v:.1f}"


class OverviewPage(Page):
    name = "overview"
    title = "Overview"

    snapshot_at = None

    def build(self) -> None:
        self.cards = {
            "arrivals": Card("ED arrivals today", "Arrivals since midnight, against the usual number by this time: "
                                                  "the chart's dashed 'usual (mean)' line added up since midnight"),
            "in_ed": Card("Patients in the ED", "In the emergency department at this moment"),
            "waiting": Card("Waiting in the ED for a bed", "Decision to admit made, still in the ED (boarding); "
                                                          "the Beds page lists them with the other patients waiting"),
            "occupancy": Card("Inpatient occupancy", theme.METRIC_TIPS["occupancy"].replace("at midnight", "now")),
            "discharged": Card("Discharged today", "Inpatients discharged since midnight"),
        }
        cards = QHBoxLayout()
        for c in self.cards.values():
            cards.addWidget(c)

        self.arrivals = TimeChart(title="ED arrivals by hour — last 14 days and the usual pattern for the next 48 h",
                                  y_label="arrivals per hour")
        self.census = HeatMap(title="Occupancy by unit and hour (census ÷ staffed beds)", value_label="occupancy")
        self.units = make_plot()
        self.units.setMouseEnabled(x=False, y=False)
        self.units.setTitle("Occupancy by unit now (orange: over 95%)", size="9pt")
        self.los = FrameTable(title="Length of stay in days, by specialty (last 90 days)", export_name="length_of_stay",
                              headers={"mean_days": "mean", "median_days": "median", "p90_days": "90th pct"},
                              # one decimal throughout: a whole number of days showed bare ("9" beside "5.7")
                              decimals={"mean_days": 1, "median_days": 1, "p90_days": 1}, filter_box=False,
                              count_cols=["stays"], describes=["mean_days", "median_days", "p90_days"])

        left = QSplitter(Qt.Orientation.Vertical, self.body)
        left.addWidget(self.arrivals)
        left.addWidget(self.census)
        right = QSplitter(Qt.Orientation.Vertical, self.body)
        right.addWidget(self.units)
        right.addWidget(self.los)
        main = QSplitter(Qt.Orientation.Horizontal, self.body)
        main.addWidget(left)
        main.addWidget(right)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 2)
        lay = QVBoxLayout(self.body)
        lay.addWidget(self.error)
        lay.addLayout(cards)
        lay.addWidget(main, 1)

    def refresh(self) -> None:
        from datasets.metrics.overview import overview

        at = self.session.as_of
        self.run("Loading the overview", lambda ws, progress, should_stop: overview(ws, at, progress=progress,
                                                                                       should_stop=should_stop),
                 self._show, background=True)

    def _show(self, o: dict) -> None:
        s = o["snapshot"]
        self.snapshot_at = s["at"]
        usual = usual_so_far(o["usual"], s["at"])
        self.cards["arrivals"].set(f"{s['ed_arrivals_today']:,}",
                                   f"usually {count_text(usual)} by now" if usual is not None
                                   else "no history to compare")
        self.cards["in_ed"].set(f"{s['in_ed']:,}")
        wait = s["longest_wait_hours"]
        self.cards["waiting"].set(f"{s['waiting_for_bed']:,}",
                                  f"longest {wait:.1f} h" if wait is not None else "", warn=bool(wait and wait > 12))
        occ = s["inpatient_occupancy"]
        self.cards["occupancy"].set(f"{occ:.0%}" if occ is not None else "–", "of staffed beds",
                                    warn=bool(occ and occ > 0.92))
        self.cards["discharged"].set(f"{s['discharged_today']:,}")

        self.arrivals.clear()
        u = o["usual"]
        # nothing to chart (no visits, or none before this time, so no usual pattern either): said in words,
        # not empty axes running 1970-2025
        if not len(o["arrivals"]) and not (len(u) and u["mean"].notna().any()):
            self.arrivals.show_empty("No ED visits in the workspace to chart up to this time.\n"
                                     "Import ED visits (Data → Import) to see arrivals by hour.")
        elif len(u):
            self.arrivals.add_band("usual 10–90%", u["ds"], u["lo"], u["hi"], theme.GREY, alpha=60)
            if u["mean"].notna().any():
                self.arrivals.add_line("usual (mean)", u["ds"], u["mean"], theme.GREY, dashed=True)
        a = o["arrivals"]
        if len(a):
            self.arrivals.add_line("arrivals", a["ds"], a["y"], theme.BLUE, width=1.8)
        if getattr(self.arrivals.plot, "_message_item", None) is None:
            self.arrivals.add_marker(s["at"], "as of")

        if o["census_rows"]:
            self.census.set_data(o["census_rows"], o["census_hours"], o["census"].to_numpy(dtype=float),
                                 levels=(0.5, 1.05))
        else:
            self.census.show_empty(NO_BEDS)
        self._unit_bars(s["units"])
        self.los.set_frame(o["los"])
        self.done_loading()

    def _unit_bars(self, units) -> None:
        self.units.clear()
        df = units[units["capacity"].fillna(0) > 0].reset_index(drop=True)
        plot_message(self.units, NO_BEDS if df.empty else None)
        if df.empty:
            return
        occ = df["occupancy"].astype(float).to_numpy()
        colors = [QColor(theme.VERMILLION) if v > 0.95 else QColor(theme.BLUE) for v in occ]
        y = np.arange(len(df))
        text_color = self.palette().color(QPalette.ColorRole.Text)
        bars = pg.BarGraphItem(x0=0, y=y, height=0.7, width=occ, brushes=colors, pens=[pg.mkPen(None)] * len(df))
        self.units.addItem(bars)
        for i, (v, n, cap) in enumerate(zip(occ, df["occupied"], df["capacity"])):
            t = pg.TextItem(f"{v:.0%}  {int(n)}/{int(cap)}", anchor=(0, 0.5), color=text_color)
            t.setPos(min(v, 1.2) + 0.01, i)
            self.units.addItem(t)
        line = pg.InfiniteLine(pos=0.95, angle=90, pen=pg.mkPen(theme.VERMILLION, style=Qt.PenStyle.DashLine))
        self.units.addItem(line)
        left = self.units.getAxis("left")
        left.setTicks([[(i, str(name)) for i, name in enumerate(df["unit_id"])]])
        self.units.getAxis("bottom").setTicks([[(x, f"{x:.0%}") for x in (0, 0.25, 0.5, 0.75, 1.0)]])
        self.units.setXRange(0, 1.45, padding=0)
        self.units.setYRange(-0.6, len(df) - 0.4, padding=0)
        self.units.getViewBox().invertY(True)


