"""Forecast: pick a series, a horizon and models (automatic selection by default); see history, the forecast
with its 80/95% bands, the backtest table with the chosen model highlighted and a one-line verdict."""
from __future__ import annotations

from typing import Any

import pandas as pd
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox, QComboBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout, QWidget,
)
from PySide6.QtCore import Qt

from desktop import theme
from desktop.jobs import load_forecasting
from desktop.pages.base import Page
from desktop.widgets.charts import TimeChart
from desktop.widgets.table import FrameTable

HORIZONS = {"h": ["48h", "24h", "7d", "14d"], "D": ["28d", "14d", "7d", "90d", "120d"],
            "W": ["13w", "4w", "26w", "52w"]}
HISTORY_SHOWN = {"h": pd.Timedelta(days=14), "D": pd.Timedelta(days=240), "W": pd.Timedelta(days=2 * 365)}
AUTOMATIC = "Automatic (best in backtest)"
# The backtest table's columns, the ones a reader weighs first on the left (UI.md: model, MASE, coverage of each
# band): at 1280 px the coverage columns were off to the right, behind a scroll bar, after RMSE and pinball.
# The model is chosen on pinball loss: its column comes first, or at 1,280 px it was cut off and the models
# ahead on the columns in view (MASE, MAE) made the highlighted choice look wrong
BACKTEST_ORDER = ("model", "pinball", "mase", "coverage_80", "coverage_95", "mae", "rmse")
# short headers that fit (the tooltips say in full what each measures), worded as the verdict says it
BACKTEST_HEADERS = {"coverage_80": "80% held", "coverage_95": "95% held"}



def list_series_job(ws, progress=None, should_stop=None) -> tuple[list[dict], tuple[str, ...]]:
    load_forecasting()
    from forecasting.series import list_series
    from forecasting.forecast import MODEL_NAMES

    return list_series(ws), tuple(MODEL_NAMES)


def known_at(y: pd.DataFrame, at) -> pd.DataFrame:
    """What a series knew at the app's "as of" time ``at`` (None: all of it): the whole steps before it, the
    series' ``attrs`` kept. (The as-of day itself was kept whole for a daily series, the day's later arrivals
    included.) The Supplies page cuts its items' use the same way."""
    if at is None:
        return y
    attrs = dict(y.attrs)
    freq = attrs.get("freq")
    cut = pd.Timestamp(at).floor("D" if freq in ("D", "W") else "h")
    # a week (labelled by its Monday) is known once all seven of its days are
    out = y[y["ds"] + (pd.Timedelta(days=6) if freq == "W" else pd.Timedelta(0)) < cut].reset_index(drop=True)
    out.attrs.update(attrs)
    return out


def forecast_job(ws, name: str, horizon: str, models: list[str] | None, backtest: bool, at, progress=None,
                 should_stop=None):
    load_forecasting()
    from forecasting.forecast import run_forecast
    from forecasting.series import load_series

    y = load_series(ws, name)
    y = known_at(y, at)
    # the fits run in a worker process: statsmodels and scipy hold the GIL and would stall the window
    from desktop.workers import in_subprocess

    return in_subprocess(run_forecast, y, horizon, models=models, backtest=backtest, progress=progress,
                         should_stop=should_stop)


class ForecastPage(Page):
    name = "forecast"
    title = "Forecast"

    def build(self) -> None:
        side = QWidget(self.body)
        side.setFixedWidth(270)
        self.series = QComboBox(side)
        self.series.currentIndexChanged.connect(self._series_changed)
        self.horizon = QComboBox(side)
        self.horizon.setEditable(True)
        self.horizon.setToolTip("How far ahead: a number of steps, or a duration such as 48h or 28d")
        self.model = QComboBox(side)
        self.model.addItem(AUTOMATIC)  # the model names arrive with the series list (forecasting loads lazily)
        self.model.setToolTip("Automatic runs the default set, backtests them and picks the best per series")
        self.backtest = QCheckBox("Backtest against the past", side)
        self.backtest.setChecked(True)
        self.backtest.setToolTip("Rolling-origin backtest: how each model would have done over recent periods, "
                                 "against repeating last week's pattern")
        self.run_btn = QPushButton("Run forecast", side)
        self.run_btn.setDefault(True)
        self.run_btn.clicked.connect(self.run_forecast)
        form = QFormLayout(side)
        form.addRow("Series", self.series)
        form.addRow("Horizon", self.horizon)
        form.addRow("Model", self.model)
        form.addRow("", self.backtest)
        form.addRow("", self.run_btn)
        self.verdict = QLabel("Choose a series and press Run forecast.", side)
        self.verdict.setWordWrap(True)
        form.addRow(self.verdict)

        self.chart = TimeChart(title="History and forecast", y_label="")
        self.metrics = FrameTable(title="Backtest", export_name="backtest", filter_box=False,
                                  headers={**theme.METRIC_HEADERS, **BACKTEST_HEADERS},
                                  tooltips={k: v for k, v in theme.METRIC_TIPS.items()},
                                  decimals={"mae": 2, "rmse": 2, "mase": 3, "pinball": 3, "crps": 3,
                                            "coverage_80": "0%", "coverage_95": "0%", "quantile_bias": 3})
        self.metrics.model.colors = self._highlight_best
        self.table = FrameTable(title="Forecast", export_name="forecast", filter_box=False, headers={"ds": "time"},
                                decimals={"mean": 1, "lo-80": 1, "hi-80": 1, "lo-95": 1, "hi-95": 1})
        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.metrics)
        lower.addWidget(self.table)
        # the backtest is the evidence for the chosen model: the larger share (halves hid its coverage columns
        # at 1280 px); the forecast's time, mean and 80% band still fit in the rest
        lower.setStretchFactor(0, 4)
        lower.setStretchFactor(1, 3)
        lower.setSizes([480, 360])
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.chart)
        right.addWidget(lower)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        # the stretch alone left the tables 4 rows at 1280x800 (the chart's size hint took the rest): six models of
        # the backtest and a day's first hours of the forecast in view
        right.setSizes([430, 290])
        row = QHBoxLayout()
        row.addWidget(side)
        row.addWidget(right, 1)
        lay = QVBoxLayout(self.body)
        lay.addWidget(self.error)
        lay.addLayout(row, 1)
        self._series_meta: list[dict] = []
        self.result = None
        self._auto_run = True

    # ------------------------------------------------------------------ data
    def refresh(self) -> None:
        self.run("Listing series", list_series_job, self._fill_series, key="forecast.list", background=True)

    def _fill_series(self, listing) -> None:
        series, model_names = listing
        if self.model.count() == 1:
            for name in model_names:  # in words; the alias rides along as the item's data
                self.model.addItem(f"{theme.model_label(name)} ({name})" if name in theme.MODEL_LABELS else name, name)
        current = self.series.currentData()
        self._series_meta = series
        self.series.blockSignals(True)
        self.series.clear()
        for s in series:
            self.series.addItem(s["label"], s["name"])
        idx = max(0, self.series.findData(current)) if current else 0
        self.series.setCurrentIndex(idx)
        self.series.blockSignals(False)
        self._series_changed()
        if not series:  # an empty workspace: what to do, not an empty box and blank axes
            self.chart.show_empty("Nothing to forecast yet: import ED visits, stays or supply use\n"
                                  "(Data → Import), or try the demo hospital.")
            self.verdict.setText("")
        if series and self._auto_run:
            self.run_forecast()
        else:
            self.done_loading()

    def _series_changed(self) -> None:
        meta = self._meta()
        freq = meta.get("freq", "D")
        self.horizon.clear()
        self.horizon.addItems(HORIZONS.get(freq, ["28d"]))
        if self.result is not None and self.result.name != meta.get("name"):
            # the forecast shown is another series': not left under this one's name
            self._clear("Press Run forecast for this series.")

    def _clear(self, note: str = "") -> None:
        self.result = None
        self.verdict.setText(note)
        self.chart.clear()
        self.chart.title.setText("")
        for table in (self.table, self.metrics):
            table.set_frame(pd.DataFrame())

    def _meta(self) -> dict:
        i = self.series.currentIndex()
        return self._series_meta[i] if 0 <= i < len(self._series_meta) else {}

    def run_forecast(self) -> None:
        meta = self._meta()
        if not meta:
            self.show_error("This workspace has nothing to forecast yet: import ED visits, stays or supply use.")
            self.done_loading()
            return
        model = self.model.currentData()  # None for AUTOMATIC
        models = None if model is None else [model, "seasonal_naive"] if model != "seasonal_naive" else [model]
        horizon = self.horizon.currentText().strip()
        at = self.session.cut_at()
        self._asked = model
        self._verdict_before = self.verdict.text()
        self.verdict.setText("Working…")
        self.run(f"Forecasting {meta['label']}",
                 lambda ws, progress, should_stop: forecast_job(ws, meta["name"], horizon, models,
                                                                self.backtest.isChecked(), at, progress, should_stop),
                 self._show, key="forecast.run", on_error=self._failed)

    def _failed(self, message: str) -> None:
        if message.startswith("Cancelled") and self.result is not None:
            self.verdict.setText(self._verdict_before)  # stopped: what was shown stays, as the message says
        else:  # what was shown belonged to the run before (maybe another series): not read as this one's
            self._clear()
        self.show_error(message)
        self.done_loading()

    def _show(self, result: Any) -> None:
        from forecasting.forecast import verdict_for

        self.result = result
        # the model the user chose is the one shown (the naive baseline runs beside it for comparison: it was
        # shown instead, without a word, whenever it won the backtest)
        asked = getattr(self, "_asked", None)
        best = asked if asked in result.forecasts else result.best
        self._shown_model = best
        label = theme.model_label(best, result.freq)  # the CLI's name beside it only when it reads differently
        named = f" ({best})" if label.lower() != best.replace("_", " ").lower() else ""
        scored = result.backtest is not None and best in set(result.backtest["model"])
        verdict = result.verdict if best == result.best or not scored else verdict_for(
            result.backtest, best, result.freq, history=len(result.history))
        if not scored and asked:
            verdict = ("Not backtested, so there is no evidence yet of how it does (tick 'Backtest against the "
                       "past' to see).")
        elif best != result.best:
            verdict += f" The backtest favours {theme.model_label(result.best, result.freq)} ({result.best})."
        self.verdict.setText(f"<b>{'Your choice' if asked else 'Chosen'}: {label}</b>{named}<br>{verdict}"
                             + (f"<br><i>Not run: {', '.join(result.failed)}</i>" if result.failed else ""))
        hist = result.history
        fc = result.forecasts[best]
        shown = hist[hist["ds"] >= hist["ds"].max() - HISTORY_SHOWN.get(result.freq, pd.Timedelta(days=240))]
        self.chart.clear()
        self.chart.title.setText(f"<b>{self._meta().get('label', result.name)}</b> — history and "
                                 f"{theme.model_label(best, result.freq)} forecast with 80% and 95% bands")
        if "lo-95" in fc:
            self.chart.add_band("95% band", fc["ds"], fc["lo-95"], fc["hi-95"], theme.BLUE, alpha=35)
        if "lo-80" in fc:
            self.chart.add_band("80% band", fc["ds"], fc["lo-80"], fc["hi-80"], theme.BLUE, alpha=70)
        self.chart.add_line("actual", shown["ds"], shown["y"], theme.GREY, width=1.2)
        self.chart.add_line(f"forecast ({theme.model_label(best, result.freq)})", fc["ds"], fc["mean"], theme.BLUE,
                            width=2)
        if result.backtest is not None:
            keep = [c for c in BACKTEST_ORDER if c in result.backtest.columns]
            shown_bt = result.backtest[keep].copy()
            shown_bt["model"] = shown_bt["model"].map(lambda m: theme.model_label(m, result.freq))
            self.metrics.set_frame(shown_bt)
        else:
            self.metrics.set_frame(pd.DataFrame({"model": [theme.model_label(best, result.freq)],
                                                 "note": ["not backtested"]}))
        self.table.set_frame(fc)
        self.done_loading()

    def _highlight_best(self, row: int, col: str):
        if self.result is None:
            return None
        frame = self.metrics.model.frame
        shown = getattr(self, "_shown_model", self.result.best)
        label = theme.model_label(shown, self.result.freq)
        if "model" in frame and row < len(frame) and frame["model"].iloc[row] == label:
            c = QColor(theme.GREEN)
            c.setAlpha(60)
            return c
        return None
