"""Beds page."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout

from desktop.pages.base import Page


class BedsPage(Page):
    name = "beds"
    title = "Beds"

    def build(self) -> None:
        lay = QVBoxLayout(self.body)
        lay.addWidget(self.error)
        lay.addWidget(QLabel("Beds", self.body))
