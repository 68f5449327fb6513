"""`hospops beds` commands (placeholder until the beds package lands)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # noqa: ARG001 - filled in by the beds work
    return None
