"""Exceptions that reach people: each names the bad value and says what to run or change."""

from __future__ import annotations


class ChatRecError(Exception):
    """Base for errors the CLI prints as one line (no traceback)."""


class DataNotFoundError(ChatRecError):
    """A dataset or data directory is missing."""


class DataFormatError(ChatRecError):
    """A data file is malformed; the message names the file and the line."""


class EmptyCatalogError(ChatRecError):
    """A catalog has no items."""


class QueryError(ChatRecError):
    """A search query is unusable (empty, for instance)."""
