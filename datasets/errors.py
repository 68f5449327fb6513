"""Errors that carry a message written for the person using HospOps.

Every error the core raises on purpose is a :class:`HospOpsError`; the command line and the app show its
message as is (no traceback). Anything else is a bug.
"""
from __future__ import annotations


class HospOpsError(Exception):
    """An error whose message is fit to show to a user, with an optional hint for what to do next."""

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n{self.hint}"


class WorkspaceError(HospOpsError):
    """The workspace file cannot be opened or used (not a workspace, newer schema, in use, ...)."""


class SourceError(HospOpsError):
    """A source file cannot be imported at all (missing column, wrong format, truncated, ...)."""


class Cancelled(HospOpsError):
    """The user asked a long job to stop; nothing it was doing has been kept."""

    def __init__(self, message: str = "Cancelled; nothing was changed."):
        super().__init__(message)


def with_article(word: str) -> str:
    """The word with its indefinite article, for messages: "an hourly", "a daily", "an orthopaedics"."""
    return ("an " if word[:1].lower() in "aeiou" or word.lower().startswith("hour") else "a ") + word
