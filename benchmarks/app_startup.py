"""App start-up: process start to the first painted window of `hospops app` on the demo workspace, against a
bare PySide6 window in the same run.

    python benchmarks/app_startup.py [--quick] [--json] [--days N]

* ``hospops_s`` — wall time from launching ``hospops app WS --page overview`` (a fresh process) to the main
  window's first paint (the app prints ``painted`` from an event filter when ``HOSPOPS_STARTUP_PROBE`` is set).
* ``hospops_loaded_s`` — the same launch until the Overview page has its data (cards, charts, heat map).
* ``bare_qt_s`` — a fresh process that imports PySide6, shows an empty QMainWindow and waits for its first
  paint: the floor any Qt app pays.
* ``ratio`` — ``hospops_s / bare_qt_s``. Goal (issue 4): under 2.

Medians of 5 launches (``--quick``: 2) of each, alternated. Runs offscreen unless a display is set.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded, scratch_dir  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded, scratch_dir

NAME = "app_startup"
BARE = """
import sys
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication(sys.argv[:1])
w = QMainWindow(); w.resize(1280, 800)
class P(QObject):
    def eventFilter(self, o, e):
        if e.type() == QEvent.Type.Paint:
            print("painted", flush=True); QTimer.singleShot(0, app.quit)
        return False
p = P(); w.installEventFilter(p); w.show(); app.exec()
"""


def _launch(cmd: list[str], env: dict[str, str], marks: tuple[str, ...]) -> dict[str, float]:
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True)
    seen: dict[str, float] = {}
    try:
        for line in proc.stdout:
            word = line.strip()
            if word in marks and word not in seen:
                seen[word] = time.perf_counter() - t0
            if len(seen) == len(marks):
                break
    finally:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    missing = [m for m in marks if m not in seen]
    if missing:
        raise RuntimeError(f"{cmd[:3]}... never printed {missing}")
    return seen


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--days", type=int, default=None, help="days of demo history (default 1095; quick 90)")
    args = p.parse_args(argv)
    days = args.days or (90 if args.quick else 1095)
    repeats = args.repeats or (2 if args.quick else 5)
    env = dict(os.environ)
    if not env.get("DISPLAY"):
        env["QT_QPA_PLATFORM"] = "offscreen"
    env["HOSPOPS_STARTUP_PROBE"] = "1"
    from datasets.synthetic import build_demo

    with scratch_dir(args.data_dir, "startup_") as work:
        ws = work / "demo.hospops"
        log(f"building a {days}-day demo workspace")
        build_demo(ws, days=days, seed=7)
        app_cmd = [sys.executable, "-m", "desktop.cli", "app", str(ws), "--page", "overview"]
        bare_cmd = [sys.executable, "-c", BARE]
        _launch(bare_cmd, env, ("painted",))  # warm the file cache once for both
        _launch(app_cmd, env, ("painted", "loaded"))
        app_paint, app_loaded, bare = [], [], []
        for i in range(repeats):
            log(f"launch {i + 1}/{repeats}")
            bare.append(_launch(bare_cmd, env, ("painted",))["painted"])
            r = _launch(app_cmd, env, ("painted", "loaded"))
            app_paint.append(r["painted"])
            app_loaded.append(r["loaded"])
    hospops_s, bare_s = statistics.median(app_paint), statistics.median(bare)
    result = {
        "days": days,
        "hospops_s": rounded(hospops_s),
        "hospops_loaded_s": rounded(statistics.median(app_loaded)),
        "bare_qt_s": rounded(bare_s),
        "ratio": rounded(hospops_s / bare_s, 2),
        "repeats": repeats,
        "times": {"hospops_s": [rounded(t) for t in app_paint], "hospops_loaded_s": [rounded(t) for t in app_loaded],
                  "bare_qt_s": [rounded(t) for t in bare]},
    }
    return finish(NAME, args, result)


if __name__ == "__main__":
    main()
