"""Forecast page."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout

from desktop.pages.base import Page


class ForecastPage(Page):
    name = "forecast"
    title = "Forecast"

    def build(self) -> None:
        lay = QVBoxLayout(self.body)
        lay.addWidget(self.error)
        lay.addWidget(QLabel("Forecast", self.body))
