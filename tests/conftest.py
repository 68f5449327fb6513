"""Shared fixtures. Qt must run offscreen: set before anything imports Qt (STACK_NOTES.md)."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # as desktop/__init__.py does for users: see there

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ANCHORS = SHARED / "anchors"


@pytest.fixture(scope="session")
def demo_ws(tmp_path_factory):
    """A small demo hospital (60 days), built once per test session; open it read-only in tests."""
    from datasets.synthetic import build_demo

    path = tmp_path_factory.mktemp("demo") / "demo.hospops"
    build_demo(path, days=60, seed=11)
    return path


@pytest.fixture
def ws(tmp_path):
    from datasets.store import Workspace

    w = Workspace.create(tmp_path / "w.hospops", timezone="Europe/London", country="GB")
    yield w
    w.close()
