"""`copy_text` writes, byte for byte, what the plain formatting it speeds up writes: type tests
field by field, a regex for the escapes, `str(uuid)` and `isoformat()` every time. Its
remembered texts (ids by number, UTC times by value) must never hand one value another's text,
e.g. the same instant in two zones."""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from hypothesis import given, settings
from hypothesis import strategies as st

from infra.views.rebuild import copy_text

_SPECIAL = re.compile(r"[\\\n\r\t]")
_ESCAPED = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _plain_field(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return _SPECIAL.sub(lambda m: _ESCAPED[m.group()], value)
    if value is None:
        return "\\N"
    if kind is UUID:
        return str(value)
    if kind is int or kind is Decimal:
        return str(value)
    if kind is bool:
        return "t" if value else "f"
    if kind is datetime or kind is date:
        return str(value.isoformat())
    if kind is float and math.isfinite(value):
        return repr(value)
    raise TypeError(kind.__name__)


def _plain(rows: list[tuple[Any, ...]]) -> bytes:
    return "".join("\t".join(_plain_field(v) for v in row) + "\n" for row in rows).encode()


# Few distinct ids and instants, so that rows repeat them (the remembered texts are used).
ids = st.sampled_from([UUID(int=n * 0x1F2E3D4C5B6A7988) for n in range(4)]) | st.uuids()
instants = st.sampled_from(
    [datetime(2026, 1, 1, 9, tzinfo=UTC), datetime(2026, 1, 1, 9, 0, 0, 250, tzinfo=UTC)]
) | st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30))
zones = st.sampled_from(
    [UTC, timezone(timedelta(0), "Z"), timezone(timedelta(hours=5, minutes=30)), None]
)


@st.composite
def times(draw: st.DrawFn) -> datetime:
    """An instant, written in one of several zones (or naive)."""
    instant = draw(instants)
    zone = draw(zones)
    if zone is None:
        return instant.replace(tzinfo=None)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    try:
        return instant.astimezone(zone)
    except OverflowError:
        return instant


values = st.one_of(
    st.none(),
    st.text(alphabet=st.sampled_from("ab\\\n\r\t{}\"' é")),
    st.text(),
    ids,
    st.integers(-(2**63), 2**63 - 1),
    st.booleans(),
    times(),
    st.dates(),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
    st.floats(allow_nan=False, allow_infinity=False),
)


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.lists(values, min_size=1, max_size=6).map(tuple), max_size=12))
def test_copy_text_writes_what_the_plain_formatting_writes(rows: list[tuple[Any, ...]]) -> None:
    assert copy_text(rows) == _plain(rows)
    assert copy_text(rows) == _plain(rows)  # again, from the remembered texts


def test_the_same_instant_in_two_zones_keeps_its_own_offset() -> None:
    utc = datetime(2026, 3, 1, 12, tzinfo=UTC)
    india = utc.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert utc == india and hash(utc) == hash(india)
    assert copy_text([(utc,), (india,), (utc,)]) == (
        b"2026-03-01T12:00:00+00:00\n2026-03-01T17:30:00+05:30\n2026-03-01T12:00:00+00:00\n"
    )
