"""Forecasts of ED arrivals, admissions and supply demand (plain Python; no Qt).

The API the app and the ``hospops`` command call:

- ``list_series(ws) -> list[dict]``: what a workspace can forecast; each dict has ``name``
  (``ed_arrivals_hourly``, ``ed_arrivals_daily``, ``admissions_daily:<specialty>``,
  ``supply:<item>@<unit>``), ``label`` (for people) and ``freq`` (``h``, ``D``).
- ``load_series(ws, name) -> DataFrame[unique_id, ds, y]`` (``hours`` too for ED arrivals); ``attrs`` carry
  ``freq``, ``tz`` and ``country`` so ``run_forecast`` handles DST days and holidays.
- ``load_csv(path, time_col, value_col, id_col=None, unique_id=None) -> DataFrame[unique_id, ds, y]``.
- ``run_forecast(y_df, horizon, models=None, backtest=False, level=(80, 95), holidays_country=None,
  progress=None, should_stop=None, *, tz=None, n_windows=3, X=None, X_future=None) -> ForecastResult``:
  ``horizon`` is steps or a duration (``"48h"``, ``"28d"``). ``ForecastResult`` has ``history``,
  ``forecasts`` (model → DataFrame ``ds, mean, lo-80, hi-80, lo-95, hi-95``), ``backtest`` (per-model
  metrics: mae, rmse, mase, pinball, crps, quantile_bias, coverage_80, coverage_95, or None), ``cv`` (the
  long backtest table with ``cutoff``), ``best``, ``verdict`` (one plain-English line) and ``to_json()``.
- ``admissions_forecast(ws, start, hours, ...) -> DataFrame[specialty, ds, mean, lo-80, hi-80]``: expected
  admissions per hour by specialty for the bed outlook.
- ``forecasting.inventory.reorder_table(ws, lead_time_days, service_level, progress=None, should_stop=None,
  *, on_hand=None) -> DataFrame``: reorder point, safety stock, days of cover and stock-out probability per
  item and unit, riskiest first; stock on hand from ``on_hand``, else the workspace's ``supply_stock`` counts
  (schema 4), else assumed from recent use (``stock_basis`` says which).

Models (``forecasting.models``, ``forecasting.intermittent``) all follow ``forecasting.base.Forecaster``
(except ``intermittent.PooledNB``, one model fitted on a whole panel of series):
``fit(y, X=None) -> self``, ``predict(h, X=None, level=(80, 95))``, ``predict_quantiles(h, quantiles)``,
``predict_dist(h, X=None)``. Backtests and metrics: ``forecasting.backtest``.
"""
from __future__ import annotations

from forecasting.admissions import admissions_forecast
from forecasting.forecast import MODEL_NAMES, ForecastResult, make_model, parse_horizon, run_forecast
from forecasting.series import list_series, load_csv, load_series

__all__ = [
    "MODEL_NAMES",
    "ForecastResult",
    "admissions_forecast",
    "list_series",
    "load_csv",
    "load_series",
    "make_model",
    "parse_horizon",
    "run_forecast",
]
