"""Colours, palettes and wording for people. Okabe-Ito colours are safe for colour-blind readers; every
colour-coded thing also carries a letter or a shape (UI.md)."""
from __future__ import annotations

from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

# Okabe & Ito (2008)
ORANGE = "#E69F00"
SKY = "#56B4E9"
GREEN = "#009E73"
YELLOW = "#F0E442"
BLUE = "#0072B2"
VERMILLION = "#D55E00"
PURPLE = "#CC79A7"
GREY = "#999999"
SERIES = [BLUE, ORANGE, GREEN, VERMILLION, PURPLE, SKY, YELLOW, GREY]

# Bed states and shifts: colour plus a letter, never colour alone.
BED_STATES = {
    "occupied": (BLUE, "●"),
    "free": (GREEN, "○"),
    "blocked": (GREY, "✕"),
    "cleaning": (YELLOW, "~"),
    "reserved": (PURPLE, "R"),
}
SHIFTS = {"E": SKY, "L": ORANGE, "N": BLUE, "LD": GREEN, "OFF": None, "LEAVE": PURPLE}


def apply_palette(app: QApplication, dark: bool) -> None:
    app.setStyle("Fusion")
    if not dark:
        app.setPalette(app.style().standardPalette())
        return
    p = QPalette()
    base, window, text = QColor("#1e1f22"), QColor("#2b2d30"), QColor("#e6e6e6")
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, QColor("#26282b"))
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, window)
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.ToolTipBase, base)
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.Highlight, QColor(BLUE))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor("#ffffff"))
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor("#8c8c8c"))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText, QPalette.ColorRole.WindowText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7a7a"))
    app.setPalette(p)


def is_dark(widget) -> bool:
    return widget.palette().color(QPalette.ColorRole.Window).lightness() < 128


# Forecasting models in words (their aliases stay in exports of forecasts and in the CLI).
MODEL_LABELS = {
    "seasonal_naive": "Last week's pattern", "empirical": "Usual range", "ets": "Smoothing (ETS)",
    "sarimax": "SARIMAX", "theta": "Theta", "glm_negbin": "Count model (NB)", "glm_poisson": "Count model (Poisson)",
    "prophet": "Prophet", "ensemble": "Ensemble", "croston": "Croston", "sba": "Croston (SBA)", "tsb": "TSB",
    "shrunk_seasonal": "Level × season",
}


def model_label(alias: str, freq: str | None = None) -> str:
    """A model's name for people; the naive baseline repeats last year on a weekly or monthly series."""
    if alias == "seasonal_naive" and freq in ("W", "MS"):
        return "Last year's pattern"
    return MODEL_LABELS.get(alias, alias)


METRIC_HEADERS = {"mae": "MAE", "rmse": "RMSE", "mase": "MASE", "pinball": "pinball", "crps": "CRPS",
                  "coverage_80": "in 80% band", "coverage_95": "in 95% band", "quantile_bias": "quantile bias"}

# Plain-language explanations shown as tooltips (UI.md: every metric and every rule).
METRIC_TIPS = {
    "mae": "Mean absolute error: on average, how many arrivals the forecast was off by.",
    "rmse": "Root mean squared error: like MAE, but large misses count more.",
    "mase": "Mean absolute scaled error: the error relative to repeating last week's pattern. "
            "Below 1 means better than that naive forecast.",
    "pinball": "Pinball loss over the forecast's quantiles: how good the whole range is, not only the middle. "
               "Lower is better; the automatic choice is the model lowest here.",
    "coverage_80": "Share of actual values that fell inside the 80% band; should be close to 80%.",
    "coverage_95": "Share of actual values that fell inside the 95% band; should be close to 95%.",
    "occupancy": "Occupied beds as a share of staffed beds, at midnight.",
}
