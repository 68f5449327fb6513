"""Roster page."""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QVBoxLayout

from desktop.pages.base import Page


class RosterPage(Page):
    name = "roster"
    title = "Roster"

    def build(self) -> None:
        lay = QVBoxLayout(self.body)
        lay.addWidget(self.error)
        lay.addWidget(QLabel("Roster", self.body))
