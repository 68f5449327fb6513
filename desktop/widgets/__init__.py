"""Widgets shared by the pages: tables, charts, the job status bar, cards."""
