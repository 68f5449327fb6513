"""One page per module (STYLE.md); the order here is the side navigation's order (Ctrl+1..6).

Pages are imported when first shown, so the window paints before pandas, pyqtgraph and the core load.
"""
from __future__ import annotations

import importlib

PAGES = (
    ("data", "Data", "desktop.pages.data", "DataPage"),
    ("overview", "Overview", "desktop.pages.overview", "OverviewPage"),
    ("forecast", "Forecast", "desktop.pages.forecast", "ForecastPage"),
    ("beds", "Beds", "desktop.pages.beds", "BedsPage"),
    ("roster", "Roster", "desktop.pages.roster", "RosterPage"),
    ("supplies", "Supplies", "desktop.pages.supplies", "SuppliesPage"),
)
PAGE_NAMES = tuple(p[0] for p in PAGES)
PAGE_TITLES = {p[0]: p[1] for p in PAGES}


def page_class(name: str):
    for n, _title, module, cls in PAGES:
        if n == name:
            return getattr(importlib.import_module(module), cls)
    raise KeyError(name)
