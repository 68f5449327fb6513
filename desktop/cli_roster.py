"""`hospops roster` commands (placeholder until the roster package lands)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # noqa: ARG001 - filled in by the roster work
    return None
