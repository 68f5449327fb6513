"""`hospops forecast` commands (placeholder until the forecast package lands)."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:  # noqa: ARG001 - filled in by the forecast work
    return None
