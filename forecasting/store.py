"""Keep forecasts and backtests in the workspace (the ``forecasts`` and ``backtests`` results tables, part of the
schema since version 3)."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

import pandas as pd

from datasets.errors import HospOpsError



def save_result(ws, result) -> str:
    """Store a :class:`forecasting.ForecastResult` (forecasts, and the backtest table if any); returns run_id."""
    if getattr(ws, "read_only", False):
        raise HospOpsError("The workspace is open read-only; cannot save the forecast.")
    run_id = uuid.uuid4().hex[:12]
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    frames = []
    for model, fc in result.forecasts.items():
        f = pd.DataFrame({
            "run_id": run_id, "created_at": now, "series": result.name, "model": model,
            "is_best": model == result.best, "ds": pd.to_datetime(fc["ds"]).dt.tz_localize(None)
            if getattr(pd.to_datetime(fc["ds"]).dt, "tz", None) is not None else pd.to_datetime(fc["ds"]),
            "mean": fc["mean"],
            **{c.replace("-", "_"): fc[c] if c in fc.columns else None for c in ("lo-80", "hi-80", "lo-95", "hi-95")},
        })
        frames.append(f)
    fc_all = pd.concat(frames, ignore_index=True)  # noqa: F841 - read by DuckDB below
    with ws.transaction() as con:
        con.execute("INSERT INTO forecasts SELECT * FROM fc_all")
        if result.cv is not None:
            cv = result.cv
            qcols = [c for c in cv.columns if c.startswith("q")]
            bt = pd.DataFrame({
                "run_id": run_id, "created_at": now, "series": result.name, "model": cv["model"],
                "cutoff": pd.to_datetime(cv["cutoff"]), "ds": pd.to_datetime(cv["ds"]), "step": cv["step"],
                "y": cv["y"], "mean": cv["mean"],
                "quantiles": [json.dumps(dict(zip(qcols, map(float, r)))) for r in cv[qcols].to_numpy()],
            })
            con.execute("INSERT INTO backtests SELECT * FROM bt")
    try:
        ws.audit("forecast", result.name, {"run_id": run_id, "best": result.best, "models": list(result.forecasts)})
    except Exception:  # auditing must not lose the stored forecast
        pass
    return run_id
