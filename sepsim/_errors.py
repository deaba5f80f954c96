"""Errors raised on bad input, before any work is done."""

from __future__ import annotations

__all__ = ["ConfigError", "DataFileError"]


class ConfigError(ValueError):
    """A configuration value is unknown, of the wrong type or impossible.

    ``key`` is the dotted path of the offending key (e.g. ``design.n_max``); the message says what is allowed.
    """

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(f"{key}: {message}")


class DataFileError(ValueError):
    """A data file is missing or malformed; names the file and, where known, the row and column."""

    def __init__(self, path: str, message: str, *, row: int | None = None, column: str | None = None):
        self.path, self.row, self.column = path, row, column
        where = path + (f", row {row}" if row is not None else "") + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {message}")
