"""Typed event decoding (msgspec structs built from the event catalogue) decodes every
catalogued event exactly as the mapper does, and as the generic decoder does."""

from __future__ import annotations

import dataclasses
import types
import typing
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import msgspec
import orjson
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.application import OkrLedger
from infra.views.event_structs import NOT_STORED, event_shape
from infra.views.log import EventDecoder
from projections.catalogue import CATALOGUE
from tests.unit.projections.story import first_quarter, quarter_notifications

_APP = OkrLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
MAPPER = _APP.mapper

_json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.uuids(),
    st.dates(),
)
_json = st.recursive(
    _json_leaf,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_datetimes = (
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]))
    | st.datetimes()
)


def _values(hint: Any) -> st.SearchStrategy[Any]:
    """Values of an event field's annotation, including what the JSON may make ambiguous
    (ints in float fields, whole floats, ids and times nested in containers)."""
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return st.one_of(*(_values(a) for a in typing.get_args(hint)))
    if hint is type(None):
        return st.none()
    if origin is list:
        return st.lists(_values(typing.get_args(hint)[0]), max_size=3)
    if origin is dict:
        key, value = typing.get_args(hint)
        return st.dictionaries(_values(key), _values(value), max_size=3)
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: st.text(max_size=12),
        int: st.integers(-(2**40), 2**40),
        float: st.integers(-1000, 1000) | st.floats(allow_nan=False, allow_infinity=False),
        bool: st.booleans(),
        UUID: st.uuids(),
        datetime: _datetimes,
        date: st.dates(),
        Decimal: st.decimals(allow_nan=False, allow_infinity=False, places=3),
        Any: _json,
    }
    if hint in simple:
        return simple[hint]
    raise AssertionError(f"no values for {hint}")


@st.composite
def _events(draw: st.DrawFn) -> Any:
    entry = draw(st.sampled_from(list(CATALOGUE)))
    cls = entry.event_class
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {
        "originator_id": uuid4(),
        "originator_version": draw(st.integers(1, 10**6)),
    }
    for field in dataclasses.fields(cls):
        if field.name not in NOT_STORED:
            values[field.name] = draw(_values(hints[field.name]))
    return cls(**values)


def _decoded(decoder: EventDecoder, stored: StoredEvent) -> Any:
    return decoder.decode(
        stored.originator_id, stored.originator_version, stored.topic, stored.state
    )


def _same(mine: Any, theirs: Any) -> None:
    assert type(mine) is type(theirs)
    assert mine.__dict__ == theirs.__dict__
    for name, value in theirs.__dict__.items():  # 3 and 3.0 are equal; the types must be too
        assert type(mine.__dict__[name]) is type(value), name


def test_the_catalogue_has_a_struct_for_every_event() -> None:
    decoder = EventDecoder(MAPPER)
    assert decoder.typed
    for entry in CATALOGUE:
        shape = event_shape(entry.event_class)
        stored = {f.name for f in dataclasses.fields(entry.event_class)} - NOT_STORED
        assert {f.name for f in shape.fields} == stored


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=_events(), drop_defaults=st.booleans())
def test_typed_decoding_is_the_mappers_for_every_catalogued_event(
    event: Any, drop_defaults: bool
) -> None:
    stored = MAPPER.to_stored_event(event)
    if drop_defaults:  # events stored before a defaulted field existed leave it out
        state = orjson.loads(stored.state)
        for field in dataclasses.fields(type(event)):
            if field.default is not dataclasses.MISSING and state.get(field.name) == field.default:
                del state[field.name]
        stored = StoredEvent(
            stored.originator_id, stored.originator_version, stored.topic, orjson.dumps(state)
        )
    theirs = MAPPER.to_domain_event(stored)
    typed = EventDecoder(MAPPER)
    _same(_decoded(typed, stored), theirs)
    generic = EventDecoder(MAPPER)
    generic.typed = False
    _same(_decoded(generic, stored), theirs)


def test_the_struct_decodes_the_events_a_ledger_writes() -> None:
    """Every event of a quarter's story goes through its struct (none falls back)."""
    app, notifications = quarter_notifications()
    decoder = EventDecoder(app.mapper)
    for n in notifications:
        cls = type(app.mapper.to_domain_event(n))
        decoder_of, convert = decoder._typed_decoder(cls)
        data = convert(decoder_of.decode(n.state))
        theirs = app.mapper.to_domain_event(n)
        assert data == {k: v for k, v in theirs.__dict__.items() if k not in NOT_STORED}


@pytest.mark.parametrize(
    "change",
    [
        {"class_version": 2},  # an upcast event: the mapper's own path
        {"actor": {"_type_": "uuid_hex", "_data_": "0" * 32}},  # a typed value in a text field
        {"timestamp": {"_type_": "date_iso", "_data_": "2026-01-02"}},  # another transcoding
    ],
)
def test_a_state_the_struct_does_not_describe_decodes_as_before(change: dict[str, Any]) -> None:
    story = first_quarter()
    app = story.ledger.app
    n = app.recorder.select_notifications(start=1, limit=1)[0]
    state = orjson.loads(n.state)
    state.update(change)
    stored = StoredEvent(n.originator_id, n.originator_version, n.topic, orjson.dumps(state))
    decoder = EventDecoder(app.mapper)
    cls = type(app.mapper.to_domain_event(n))
    decoder_of, _ = decoder._typed_decoder(cls)
    with pytest.raises(msgspec.ValidationError):
        decoder_of.decode(stored.state)
    if "class_version" in change:
        return  # the mapper would upcast it: not comparable with an unversioned class
    generic = EventDecoder(app.mapper)
    generic.typed = False
    _same(_decoded(decoder, stored), _decoded(generic, stored))
