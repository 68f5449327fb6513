"""Forecasts of ED arrivals, admissions and supply demand (plain Python; no Qt)."""
