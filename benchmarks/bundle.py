"""The PyInstaller bundle: size on disk and as an archive, build time, and start-up of the frozen app against
the source tree's, measured in the same run.

    python benchmarks/bundle.py [--quick] [--json] [--bundle dist/HospOps] [--build]

* ``size_mb`` — ``dist/HospOps`` on disk; ``archive_mb`` — the same folder as a .tar.gz (what is shipped).
* ``build_s`` — ``bash packaging/build.sh`` end to end (only with ``--build``; otherwise the bundle present
  is measured and ``build_s`` is null).
* ``frozen_version_s`` / ``source_version_s`` — ``hospops --version`` (process start to exit): the frozen
  executable against ``python -m desktop.cli`` from the source tree.
* ``frozen_paint_s`` / ``source_paint_s`` — ``hospops app WS`` to the window's first paint (offscreen), as in
  ``app_startup.py``. ``ratio_paint`` = frozen / source.
Medians of 5 launches (``--quick``: 2).
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any, Optional, Sequence

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from _common import base_parser, finish, log, rounded, scratch_dir  # type: ignore
    from app_startup import _launch  # type: ignore
else:
    from ._common import base_parser, finish, log, rounded, scratch_dir
    from .app_startup import _launch

NAME = "bundle"
ROOT = Path(__file__).resolve().parents[1]


def _du_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 2**20


def _time_cmd(cmd: list[str], env: dict, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: Optional[Sequence[str]] = None) -> dict[str, Any]:
    p = base_parser(__doc__.splitlines()[0])
    p.add_argument("--bundle", type=Path, default=ROOT / "dist" / "HospOps")
    p.add_argument("--build", action="store_true", help="build the bundle first and time the build")
    args = p.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 5)
    build_s = None
    if args.build:
        log("building the bundle (bash packaging/build.sh)")
        t0 = time.perf_counter()
        subprocess.run(["bash", str(ROOT / "packaging" / "build.sh")], check=True, cwd=ROOT)
        build_s = time.perf_counter() - t0
    exe = args.bundle / ("hospops.exe" if os.name == "nt" else "hospops")
    if not exe.exists():
        raise SystemExit(f"no bundle at {args.bundle}: run bash packaging/build.sh (or pass --build)")
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen") if not env.get("DISPLAY") else None
    with scratch_dir(args.data_dir, "bundle_") as work:
        log("archiving the bundle")
        archive = work / "HospOps.tar.gz"
        with tarfile.open(archive, "w:gz", compresslevel=6) as tar:
            tar.add(args.bundle, arcname="HospOps")
        archive_mb = archive.stat().st_size / 2**20
        archive.unlink()
        log("start-up: --version")
        frozen_v = _time_cmd([str(exe), "--version"], env, repeats)
        source_v = _time_cmd([sys.executable, "-m", "desktop.cli", "--version"], env, repeats)
        from datasets.synthetic import build_demo

        ws = work / "demo.hospops"
        build_demo(ws, days=90, seed=7)
        penv = {**env, "HOSPOPS_STARTUP_PROBE": "1"}
        frozen_cmd = [str(exe), "app", str(ws), "--page", "overview"]
        source_cmd = [sys.executable, "-m", "desktop.cli", "app", str(ws), "--page", "overview"]
        _launch(frozen_cmd, penv, ("painted",))
        fp, sp = [], []
        for i in range(repeats):
            log(f"start-up: first paint {i + 1}/{repeats}")
            fp.append(_launch(frozen_cmd, penv, ("painted", "loaded"))["painted"])
            sp.append(_launch(source_cmd, penv, ("painted", "loaded"))["painted"])
    result = {
        "size_mb": rounded(_du_mb(args.bundle), 1),
        "archive_mb": rounded(archive_mb, 1),
        "build_s": rounded(build_s, 1) if build_s is not None else None,
        "frozen_version_s": rounded(frozen_v),
        "source_version_s": rounded(source_v),
        "frozen_paint_s": rounded(statistics.median(fp)),
        "source_paint_s": rounded(statistics.median(sp)),
        "ratio_paint": rounded(statistics.median(fp) / statistics.median(sp), 2),
        "repeats": repeats,
    }
    return finish(NAME, args, result)


if __name__ == "__main__":
    main()
