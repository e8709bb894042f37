"""The typed encoder (`infra.event_encoding`) writes exactly the bytes the mapper stores, for
every catalogued event class: the chain hashes these bytes, so "the same" means byte for byte."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

from eventsourcing.persistence import JSONTranscoder, Mapper
from eventsourcing.utils import get_topic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.application import OkrLedger
from domain.objective import Objective
from infra.audit.personal import PERSONAL_FIELDS, PersonalDataMapper
from infra.event_encoding import TypedEncoder, shape
from projections.catalogue import CATALOGUE
from tests.unit.projections.story import quarter_notifications
from tests.views.test_event_structs import _events

_APP = OkrLedger(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
MAPPER = _APP.mapper


def _theirs(event: Any) -> tuple[str, bytes]:
    stored = MAPPER.to_stored_event(event)
    return stored.topic, stored.state


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=_events())
def test_typed_encoding_is_the_mappers_byte_for_byte(event: Any) -> None:
    encoder = TypedEncoder(MAPPER)
    assert encoder.typed
    assert encoder.state(event) == _theirs(event)


_odd_text = st.text(
    st.characters(codec="utf-8") | st.sampled_from(['"', "\\", "\x00", "\x1f", "\x7f", "\u2028"]),
    max_size=20,
)
_odd_float = st.floats() | st.sampled_from(
    [0.0, -0.0, 1e16, 1e-7, 1e22, 123456789012345680.0, 5e-324, float("nan"), float("inf")]
)


@settings(max_examples=500, deadline=None)
@given(note=_odd_text, value=_odd_float, confidence=st.integers(-(2**70), 2**70))
def test_strings_and_numbers_are_escaped_and_written_as_the_json_module_writes_them(
    note: str, value: float, confidence: int
) -> None:
    event = Objective.ProgressReported(
        originator_id=uuid4(),
        originator_version=3,
        timestamp=datetime.now(UTC),
        actor=note,
        reason="",
        request_id="r",
        provenance={note: note, "row": "7"},
        check_in_id=uuid4(),
        key_result_id=uuid4(),
        value=value,
        confidence=confidence,
        note=note,
        effective_on=date(2026, 3, 31),
    )
    encoder = TypedEncoder(MAPPER)
    assert encoder.state(event) == _theirs(event)
    assert encoder.fallbacks == 0


def test_every_event_of_a_ledgers_quarter_is_written_typed_and_identical() -> None:
    app, notifications = quarter_notifications()
    encoder = TypedEncoder(app.mapper)
    for n in notifications:
        event = app.mapper.to_domain_event(n)
        assert encoder.state(event) == (n.topic, n.state)
    assert encoder.fallbacks == 0


def test_what_it_does_not_know_exactly_goes_to_the_mapper() -> None:
    encoder = TypedEncoder(MAPPER)
    base = dict(
        originator_id=uuid4(),
        originator_version=1,
        timestamp=datetime.now(UTC),
        actor="a",
        reason="",
        request_id="r",
        check_in_id=uuid4(),
        key_result_id=uuid4(),
        value=1.0,
        confidence=5,
        note="n",
        effective_on=date(2026, 3, 31),
    )

    class Text(str):
        pass

    subclassed = Objective.ProgressReported(**{**base, "note": Text("n")})
    decimal = Objective.ProgressReported(**{**base, "value": Decimal("1.50")})
    reordered = Objective.ProgressReported(**base)
    state = dict(reordered.__dict__)
    reordered.__dict__.clear()
    reordered.__dict__.update(dict(reversed(list(state.items()))))
    for event in (subclassed, reordered):
        before = encoder.fallbacks
        assert encoder.state(event) == _theirs(event)
        assert encoder.fallbacks == before + 1
    assert encoder.state(decimal) == _theirs(decimal)  # a decimal is a known type

    class Other(JSONTranscoder):
        pass

    transcoder = Other()
    for transcoding in MAPPER.transcoder.types.values():
        transcoder.register(transcoding)
    assert not TypedEncoder(Mapper(transcoder)).typed
    assert TypedEncoder(Mapper(MAPPER.transcoder)).typed


def test_a_persons_events_are_left_to_the_personal_data_mapper() -> None:
    """The personal-data mapper seals a person's fields: those topics never take the typed path."""
    mapper = PersonalDataMapper(MAPPER.transcoder, keys=None)  # type: ignore[arg-type]
    encoder = TypedEncoder(mapper)
    assert encoder.typed
    topics = {get_topic(entry.event_class) for entry in CATALOGUE}
    personal = {topic for topic in topics if PERSONAL_FIELDS.get(topic)}
    assert personal
    assert personal <= encoder._personal


def test_every_catalogued_class_has_a_compiled_writer() -> None:
    for entry in CATALOGUE:
        cls = entry.event_class
        assert shape(cls).write is not None, cls
        assert shape(cls).topic == get_topic(cls)
        assert [f.name for f in dataclasses.fields(cls)][:2] == [
            "originator_id",
            "originator_version",
        ]
