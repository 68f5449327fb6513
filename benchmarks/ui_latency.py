"""UI responsiveness: the Qt event loop's longest stall while a roster solve and a forecast backtest run, and
frame times when panning and zooming three years of hourly points.

    python benchmarks/ui_latency.py [--quick] [--json] [--days N] [--solve-s S]

* ``max_stall_ms`` — a 10 ms QTimer runs on the Qt thread of a real MainWindow on the demo workspace while
  the Roster page solves a 28-day roster for ward M1 (``--solve-s``, default 30 s; quick 5 s) and the
  Forecast page runs a backtested forecast of ED arrivals per hour (default models), both through the app's
  job runner; the worst lateness of a tick over the expected 10 ms is the longest time the window could not
  repaint or react. ``p99_stall_ms`` beside it. Goal (issue 4): under 100 ms.
* ``plot_max_frame_ms`` — a TimeChart with 26,280 hourly points (three years): 40 pan and zoom steps, each
  repainted synchronously; the slowest frame. Goal: under 50 ms.
* ``idle_max_stall_ms`` — the same timer for 2 s with nothing running: the machine's own noise floor.
"""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded, scratch_dir  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded, scratch_dir

NAME = "ui_latency"
TICK_MS = 10


class StallMeter:
    def __init__(self):
        from PySide6.QtCore import QTimer

        self.lates: list[float] = []
        self._last = None
        self.timer = QTimer()
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        if self._last is not None:
            self.lates.append(max(0.0, (now - self._last) * 1000 - TICK_MS))
        self._last = now

    def start(self) -> None:
        self.lates, self._last = [], None
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()


def pump_until(app, done, timeout_s: float) -> bool:
    end = time.perf_counter() + timeout_s
    while time.perf_counter() < end:
        app.processEvents()
        if done():
            return True
        time.sleep(0.001)
    return False


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=None, help="days of demo history (default 1095; quick 120)")
    p.add_argument("--solve-s", type=float, default=None, help="roster solve time limit (default 30; quick 5)")
    args = p.parse_args(argv)
    days = args.days or (120 if args.quick else 1095)
    solve_s = args.solve_s or (5.0 if args.quick else 30.0)
    if not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"

    import numpy as np
    import pandas as pd
    from PySide6.QtCore import QCoreApplication, QSettings, QStandardPaths

    from datasets.synthetic import build_demo
    from desktop.app import _make_app
    from desktop.main_window import MainWindow, wait_until_loaded
    from desktop.widgets.charts import TimeChart

    QStandardPaths.setTestModeEnabled(True)
    app = _make_app()
    QCoreApplication.setApplicationName("HospOpsBench")
    with scratch_dir(args.data_dir, "latency_") as work:
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(work))
        ws = work / "demo.hospops"
        log(f"building a {days}-day demo workspace")
        build_demo(ws, days=days, seed=7)
        meter = StallMeter()

        meter.start()
        pump_until(app, lambda: False, 2.0)
        meter.stop()
        idle = max(meter.lates or [0.0])

        w = MainWindow(restore_state=False)
        w.resize(1280, 800)
        w.open_workspace(ws)
        w.show()
        roster = w.show_page("roster")
        wait_until_loaded(w, roster)
        roster.unit.setCurrentIndex(max(0, roster.unit.findData("M1")))
        roster.days.setValue(28)
        roster.limit.setValue(int(solve_s))
        forecast = w.show_page("forecast")
        forecast._auto_run = False
        wait_until_loaded(w, forecast)
        forecast.series.setCurrentIndex(max(0, forecast.series.findData("ed_arrivals_hourly")))
        forecast.horizon.setCurrentText("48h")
        forecast.backtest.setChecked(True)
        log(f"solving a roster ({solve_s:.0f} s) and backtesting hourly ED arrivals while timing the event loop")
        meter.start()
        t0 = time.perf_counter()
        roster.solve()
        forecast.run_forecast()
        finished = pump_until(app, lambda: w.jobs.is_idle(), solve_s + 600)
        busy_s = time.perf_counter() - t0
        meter.stop()
        lates = meter.lates or [0.0]
        ok = finished and roster.result is not None and forecast.result is not None
        if not ok:
            log(f"a job did not complete: roster: {roster.status.text()!r}; forecast: {forecast.error.text()!r}")
        w.close()

        log("panning and zooming 26,280 hourly points")
        chart = TimeChart(title="latency")
        chart.resize(1200, 500)
        ds = pd.date_range("2023-11-22", periods=26280, freq="h")
        rng = np.random.default_rng(1)
        chart.add_line("arrivals", ds, rng.poisson(10, len(ds)))
        chart.show()
        app.processEvents()
        frames = []
        start, end = ds[0], ds[-1]
        for i in range(40):
            if i < 20:  # zoom in towards a fortnight
                span = (end - start) * (0.8 ** i)
                a = start + (end - start - span) / 2
                b = a + span
            else:  # pan across
                span = pd.Timedelta(days=14 + i)
                a = start + (end - start - span) * ((i - 20) / 19)
                b = a + span
            t = time.perf_counter()
            chart.set_x_range(a, b)
            chart.plot.repaint()
            app.processEvents()
            frames.append((time.perf_counter() - t) * 1000)
        chart.close()

    result = {
        "days": days,
        "solve_s": solve_s,
        "completed": bool(ok),
        "busy_s": rounded(busy_s, 2),
        "max_stall_ms": rounded(max(lates), 1),
        "p99_stall_ms": rounded(float(np.percentile(lates, 99)), 1),
        "ticks": len(lates),
        "idle_max_stall_ms": rounded(idle, 1),
        "plot_max_frame_ms": rounded(max(frames), 1),
        "plot_median_frame_ms": rounded(statistics.median(frames), 1),
    }
    return finish(NAME, args, result)


if __name__ == "__main__":
    main()
    # as the app does (desktop/app.py): skip the interpreter's final collection, which aborted after long
    # CP-SAT solves in the app (a C extension's reference-count error); everything is written by now
    sys.stdout.flush()
    os._exit(0)
