"""COPY's text format, written here: rows of view tables formatted as tab-separated lines and
sent in blocks (psycopg's `write_row` adapts every value through Python dumpers, which cost more
than folding the event the row came from). Used by the rebuild (`infra/views/rebuild.py`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg.sql import SQL, Identifier

from infra.views.model import VIEWS
from infra.views.schema import tables_of
from infra.views.store import columns


def copy_rows(
    curs: Cursor[Any], target: Identifier, table: str, rows: list[tuple[Any, ...]]
) -> None:
    """COPY rows into `target` (laid out as view table `table`), formatted here in COPY's
    text format and sent in blocks: psycopg's `write_row` adapts every value through Python
    dumpers, which cost more than folding the event the row came from."""
    found = next(t for t in tables_of(VIEWS) if t.name == table)
    names = SQL(", ").join(Identifier(c.name) for c in columns(found))
    with curs.copy(SQL("COPY {} ({}) FROM STDIN").format(target, names)) as copy:
        for start in range(0, len(rows), COPY_BLOCK):
            copy.write(copy_text(rows[start : start + COPY_BLOCK]))


COPY_BLOCK = 2000
"""Rows formatted and sent at once."""


def _text(value: str) -> str:
    # Four `in` scans (C) cost about a twentieth of a regex search over an audit row's JSON
    # document (~700 characters), and the replacements run only when one of them hits.
    if "\\" in value or "\n" in value or "\r" in value or "\t" in value:
        return (
            value.replace("\\", "\\\\")  # first: the others add backslashes of their own
            .replace("\n", "\\n")
            .replace("\r", "\\r")
            .replace("\t", "\\t")
        )
    return value


def _null(value: None) -> str:
    return "\\N"


def _bool(value: bool) -> str:
    return "t" if value else "f"


def _float(value: float) -> str:
    if math.isfinite(value):
        return repr(value)
    raise TypeError("no COPY text format for float values that are not finite")


_UUID_TEXTS: dict[int, str] = {}
UUID_TEXTS = 100_000
"""Ids whose text is remembered (ids recur in many rows)."""


def _uuid_text(value: UUID) -> str:
    """`str(value)`. Remembered by the id's number: `UUID.__hash__` and `UUID.__str__` are
    Python code, `value.int` is a slot and an int's hash is C."""
    number = value.int
    text = _UUID_TEXTS.get(number)
    if text is None:
        if len(_UUID_TEXTS) >= UUID_TEXTS:
            _UUID_TEXTS.clear()
        digits = f"{number:032x}"
        text = _UUID_TEXTS[number] = (
            f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"
        )
    return text


_DATETIME_TEXTS: dict[datetime, str] = {}
DATETIME_TEXTS = 10_000
"""Commit times whose text is remembered: the events of one commit share theirs."""


def _datetime_text(value: datetime) -> str:
    # Only UTC times are remembered: equal instants in other zones compare (and hash) equal
    # but are written with their own offsets. The log's commit times are all UTC.
    if value.tzinfo is not UTC:
        return value.isoformat()
    text = _DATETIME_TEXTS.get(value)
    if text is None:
        if len(_DATETIME_TEXTS) >= DATETIME_TEXTS:
            _DATETIME_TEXTS.clear()
        text = _DATETIME_TEXTS[value] = value.isoformat()
    return text


_FORMATS: dict[type[Any], Callable[[Any], str]] = {
    str: _text,
    type(None): _null,
    UUID: _uuid_text,
    int: int.__repr__,
    Decimal: Decimal.__str__,
    bool: _bool,
    datetime: _datetime_text,
    date: date.isoformat,
    float: _float,
}
"""Each value's COPY text format (what psycopg's text dumpers give, escaped), by its exact type:
one dictionary look-up instead of a chain of type tests for each of a row's fields."""


def _field(value: Any) -> str:
    """One value in COPY's text format."""
    try:
        format_ = _FORMATS[type(value)]
    except KeyError:
        raise TypeError(f"no COPY text format for {type(value).__name__} values") from None
    return format_(value)


def copy_text(rows: Sequence[tuple[Any, ...]]) -> bytes:
    """Rows as COPY text: tab-separated fields, one line each."""
    formats = _FORMATS
    try:
        return "".join(
            ["\t".join([formats[type(v)](v) for v in row]) + "\n" for row in rows]
        ).encode()
    except KeyError:
        for row in rows:  # name the value that has no format
            for value in row:
                _field(value)
        raise
