"""Supplies: per item and unit, recent use, forecast use to the next delivery, reorder point, safety stock,
days of cover and the chance of a stock-out, sorted by risk; the selected item's use and forecast."""
from __future__ import annotations

import pandas as pd
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSpinBox, QSplitter, QVBoxLayout

from desktop import theme
from desktop.jobs import load_forecasting
from desktop.pages.base import Page
from desktop.widgets.charts import TimeChart
from desktop.widgets.table import FrameTable

TIPS = {
    "reorder_point": "Order when stock falls to this: enough to last the lead time at the chosen service level",
    "safety_stock": "Stock held above the expected use over the lead time, against a busier-than-usual spell",
    "days_of_cover": "How many days the stock on hand lasts at the forecast daily use",
    "stockout_prob": "Chance that use before the next delivery exceeds the stock on hand",
    "forecast_to_delivery": "Expected use over the lead time",
    "daily_use_28d": "Average use per day over the last 28 days",
    "forecast_daily": "Forecast use per day over the lead time",
    "lead_time_days": "Days from ordering to delivery",
    "uom": "Unit of measure: what one of the item is (e.g. a box of 100 gloves)",
    "on_hand": "The last count less the use since; blank where more was used since than it held (a delivery no "
               "count shows yet): count the store",
}
# Column order: what a ward reads first on the left, so the columns of UI.md's reorder table (risk, days of cover,
# on hand, daily use, reorder point, safety stock, use to delivery) fit 1,280 px without scrolling ("use/day"
# was the tenth column, off to the right); the model and the stock count's basis last.
FIRST = ["item", "name", "unit", "stockout_prob", "days_of_cover", "on_hand", "uom", "daily_use_28d", "reorder_point",
         "safety_stock", "forecast_to_delivery", "forecast_daily", "lead_time_days"]
# short headers (the CLI's words where it has them); the tooltips say each in full
HEADERS = {"stockout_prob": "stock-out risk", "daily_use_28d": "use/day", "forecast_to_delivery": "to delivery",
           "forecast_daily": "forecast/day", "lead_time_days": "lead time"}


def item_forecast(ws, name: str, at=None, progress=None, should_stop=None):
    """The item's daily use (whole days before ``at``, the app's "as of" time, as the reorder table takes it)
    and its forecast."""
    load_forecasting()
    from forecasting.forecast import run_forecast
    from forecasting.series import load_series

    from desktop.pages.forecast import known_at
    from desktop.workers import in_subprocess

    y = known_at(load_series(ws, name), at)  # (a daily series: the whole days before ``at``)
    if y.empty:  # (only before the data: load_series refuses a series with none at all)
        from datasets.errors import HospOpsError

        raise HospOpsError(f"No use of {name.split(':', 1)[-1]} was recorded before the 'as of' time.")
    return y, in_subprocess(run_forecast, y, "28d", backtest=False, progress=progress, should_stop=should_stop)


def reorder_job(ws, lead, level, at, progress=None, should_stop=None) -> pd.DataFrame:
    load_forecasting()  # (here, on the job's thread, not in the window's: the first import takes seconds)
    from forecasting.inventory import reorder_table

    return reorder_table(ws, lead, level, progress, should_stop, as_of=at)


class SuppliesPage(Page):
    name = "supplies"
    title = "Supplies"

    def build(self) -> None:
        self.lead = QSpinBox(self.body)
        self.lead.setRange(0, 365)  # (as the CLI's --lead-time)
        self.lead.setValue(0)
        self.lead.setSpecialValueText("each item's own")
        self.lead.setSuffix(" days")
        self.lead.setToolTip("Days from ordering to delivery; 'each item's own' uses the lead time of the item list")
        self.level = QDoubleSpinBox(self.body)
        self.level.setRange(0.5, 0.999)
        self.level.setDecimals(3)
        self.level.setSingleStep(0.01)
        self.level.setValue(0.95)
        self.level.setToolTip("Service level: the chance of not running out before the next delivery")
        run_btn = QPushButton("Recalculate", self.body)
        run_btn.clicked.connect(self.refresh)
        top = QHBoxLayout()
        for w in (QLabel("Lead time"), self.lead, QLabel("Service level"), self.level, run_btn):
            top.addWidget(w)
        top.addStretch(1)
        self.table = FrameTable(title="Reorder table (highest stock-out risk first)", export_name="reorder_table",
                                tooltips=TIPS, headers=HEADERS, max_widths={"name": 200},
                                decimals={"stockout_prob": "1%", "days_of_cover": 1, "on_hand": 0, "reorder_point": 0,
                                          "safety_stock": 1, "forecast_to_delivery": 1, "forecast_daily": 2,
                                          "daily_use_28d": 1})
        self.table.model.colors = self._risk_color
        self.table.view.selectionModel().currentRowChanged.connect(self._selected)
        self.chart = TimeChart(title="Use per day and forecast", y_label="units per day")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.table)
        split.addWidget(self.chart)
        # the reorder table is the page's answer: it gets the larger share (it showed 6 of 215 rows)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([500, 300])
        lay = QVBoxLayout(self.body)
        lay.addLayout(top)
        lay.addWidget(self.error)
        lay.addWidget(split, 1)

    def refresh(self) -> None:
        lead = self.lead.value() or None
        level = float(self.level.value())
        at = self.session.cut_at()
        self.run("Calculating reorder points",
                 lambda ws, progress, should_stop: reorder_job(ws, lead, level, at, progress, should_stop),
                 self._show, key="supplies.table")

    def _show(self, df: pd.DataFrame) -> None:
        cols = [c for c in FIRST if c in df.columns] + [c for c in df.columns if c not in FIRST]
        self.table.set_frame(df[cols])
        if len(df):  # the riskiest item's chart: made current, not selected (Copy then took that one row alone)
            self.table.view.selectionModel().setCurrentIndex(self.table.proxy.index(0, 0),
                                                             QItemSelectionModel.SelectionFlag.NoUpdate)
        self.done_loading()

    def _risk_color(self, row: int, col: str):
        if col != "stockout_prob":
            return None
        v = self.table.model.frame["stockout_prob"].iloc[row]
        if pd.notna(v) and v >= 0.2:
            c = QColor(theme.VERMILLION)
            c.setAlpha(int(60 + 120 * min(1.0, float(v))))
            return c
        return None

    def _selected(self, current, _previous) -> None:
        if not current.isValid():
            return
        frame = self.table.model.frame
        row = self.table.proxy.mapToSource(current).row()
        uid = f"{frame['item'].iloc[row]}@{frame['unit'].iloc[row]}"
        name = f"supply:{uid}"
        at = self.session.cut_at()
        self.run(f"Forecasting {uid}",
                 lambda ws, progress, should_stop: item_forecast(ws, name, at, progress, should_stop),
                 lambda r: self._draw(uid, *r), key="supplies.item", background=True)

    def _draw(self, uid: str, y: pd.DataFrame, result) -> None:
        fc = result.forecasts[result.best]
        hist = y[y["ds"] >= y["ds"].max() - pd.Timedelta(days=120)]
        c = self.chart
        c.clear()
        # the table's figures come from its own stock model (named in its "model" column), not this forecast: said
        # here, as the CLI's forecast of a supply says it (the two read 4.9 and 5.5-6.5 a day with no word)
        frame = self.table.model.frame
        own = frame.loc[(frame["item"] + "@" + frame["unit"]) == uid, "model"]
        note = f"; the table's figures: model {own.iloc[0]}" if len(own) and own.iloc[0] != result.best else ""
        c.title.setText(f"<b>{uid}</b> — use per day (last 120 days) and {theme.model_label(result.best)} forecast "
                        f"with 80/95% bands{note}")
        if "lo-95" in fc:
            c.add_band("95% band", fc["ds"], fc["lo-95"], fc["hi-95"], theme.ORANGE, alpha=35)
            c.add_band("80% band", fc["ds"], fc["lo-80"], fc["hi-80"], theme.ORANGE, alpha=70)
        c.add_line("use", hist["ds"], hist["y"], theme.GREY)
        c.add_line("forecast", fc["ds"], fc["mean"], theme.ORANGE, width=2)
