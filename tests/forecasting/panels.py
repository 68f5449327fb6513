"""Generated demand panels shared by the forecasting tests."""
from __future__ import annotations

import numpy as np
import pandas as pd


def intermittent_panel(n: int = 120, months: int = 72, seed: int = 2, gap_every: int = 10, gap: int = 5,
                       prefix: str = "s") -> pd.DataFrame:
    """``n`` monthly count series (long table unique_id, ds, y), sparse and slowly fading like car parts;
    every ``gap_every``-th series misses its first ``gap`` months."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2015-01-01", periods=months, freq="MS")
    rows = []
    for i in range(n):
        rate = rng.gamma(0.6, 1.5) * np.exp(-rng.uniform(0, 0.03) * np.arange(months))
        y = rng.poisson(rate).astype(float)
        if i % gap_every == 0:
            y[:gap] = np.nan  # missing months
        rows.append(pd.DataFrame({"unique_id": f"{prefix}{i}", "ds": ds, "y": y}))
    return pd.concat(rows, ignore_index=True)
