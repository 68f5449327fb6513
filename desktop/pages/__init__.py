"""One page per module (STYLE.md); the order here is the side navigation's order (Ctrl+1..6)."""
from __future__ import annotations

from desktop.pages.beds import BedsPage
from desktop.pages.data import DataPage
from desktop.pages.forecast import ForecastPage
from desktop.pages.overview import OverviewPage
from desktop.pages.roster import RosterPage
from desktop.pages.supplies import SuppliesPage

PAGE_CLASSES = (DataPage, OverviewPage, ForecastPage, BedsPage, RosterPage, SuppliesPage)
PAGE_NAMES = tuple(cls.name for cls in PAGE_CLASSES)
