"""Entry point of the frozen HospOps: with no arguments it opens the desktop app, otherwise it is the
`hospops` command line (so one executable does both; `HospOps` with no arguments is what a double-click runs).
"""
import multiprocessing
import os
import sys

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: see desktop/__init__.py

if __name__ == "__main__":
    multiprocessing.freeze_support()  # the forecast worker process re-enters here under PyInstaller
    from desktop.cli import main

    args = sys.argv[1:] or ["app"]
    sys.exit(main(args))
