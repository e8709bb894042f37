"""CloudEvents envelopes: every demo event survives the round trip; anything else is poison."""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest

from infra.kafka import envelope
from tests.conftest import DemoInMemory


@pytest.fixture(scope="module")
def demo_events(demo_in_memory: DemoInMemory) -> list[tuple[int, Any]]:
    app = demo_in_memory.app
    return [(n.id, app.mapper.to_domain_event(n)) for n in demo_in_memory.notifications]


def test_every_demo_event_round_trips(demo_events: list[tuple[int, Any]]) -> None:
    types = set()
    for position, event in demo_events:
        message = envelope.encode(event, position=position, source="urn:okrledger")
        received = envelope.decode(message.value)
        assert type(received.event) is type(event)
        assert received.event == event
        assert received.event.__dict__ == event.__dict__
        assert received.position == position
        types.add(envelope.event_type(event))
    assert len(types) >= 30  # the demo exercises nearly every event type


def test_the_envelope_carries_the_cloudevents_attributes_and_extensions(
    demo_events: list[tuple[int, Any]],
) -> None:
    position, event = demo_events[0]
    committed = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    message = envelope.encode(
        event,
        position=position,
        source="urn:okrledger:test",
        chain_hash=bytes(range(32)),
        committed_at=committed,
    )
    cloud_event = orjson.loads(message.value)
    assert cloud_event["specversion"] == "1.0"
    assert cloud_event["id"] == f"{event.originator_id}:{event.originator_version}"
    assert cloud_event["source"] == "urn:okrledger:test"
    assert cloud_event["type"] == type(event).__qualname__
    assert cloud_event["subject"] == str(event.originator_id)
    assert cloud_event["datacontenttype"] == "application/json"
    assert cloud_event["dataschema"] == "urn:okrledger:events:v1"
    assert cloud_event["schemaversion"] == envelope.SCHEMA_VERSION == 1
    assert datetime.fromisoformat(cloud_event["time"]) == event.timestamp
    assert cloud_event["time"].endswith("Z")
    assert cloud_event["logposition"] == position
    assert cloud_event["aggregateversion"] == event.originator_version
    assert cloud_event["actor"] == event.actor
    assert cloud_event["chainhash"] == bytes(range(32)).hex()
    assert cloud_event["committedtime"] == "2025-01-02T03:04:05.678000Z"
    assert cloud_event["data"]["originator_id"] == str(event.originator_id)
    assert message.key == str(event.originator_id).encode()
    assert dict(message.headers) == {
        "okr-position": str(position).encode(),
        "okr-version": str(event.originator_version).encode(),
    }
    # Extension names follow CloudEvents: lowercase ASCII letters and digits.
    for name in cloud_event:
        assert name.isalnum() and name.islower(), name


def _mutated(demo_events: list[tuple[int, Any]], change: Callable[[dict[str, Any]], None]) -> bytes:
    position, event = demo_events[0]
    cloud_event = orjson.loads(envelope.encode(event, position=position, source="s").value)
    change(cloud_event)
    return orjson.dumps(cloud_event)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda ce: ce.update(type="Objective.Exploded"), "unknown event type"),
        (lambda ce: ce.update(type="os.system"), "unknown event type"),
        (lambda ce: ce.update(type=7), "unknown event type"),
        (lambda ce: ce.pop("subject"), "missing subject"),
        (lambda ce: ce.update(specversion="0.3"), "specversion"),
        (lambda ce: ce.update(data=[1, 2]), "data is not a JSON object"),
        (lambda ce: ce.pop("logposition"), "logposition"),
        (lambda ce: ce["data"].pop("originator_version"), "'originator_version' is missing"),
        (lambda ce: ce["data"].update(originator_id="not-a-uuid"), "originator_id|badly formed"),
        (lambda ce: ce["data"].update(originator_version="7"), "expected int"),
        (lambda ce: ce["data"].update(timestamp=None), "null"),
        (lambda ce: ce.update(id=f"{uuid4()}:1"), "does not match"),
        (lambda ce: ce.update(schemaversion=2), "newer than this worker's"),
        (lambda ce: ce.update(schemaversion="1"), "not a positive integer"),
        (lambda ce: ce.update(schemaversion=0), "not a positive integer"),
    ],
)
def test_what_cannot_be_decoded_is_a_poison_message(
    demo_events: list[tuple[int, Any]], change: Callable[[dict[str, Any]], None], reason: str
) -> None:
    with pytest.raises(envelope.PoisonMessage, match=reason):
        envelope.decode(_mutated(demo_events, change))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda ce: ce.update(type="Objective.Exploded"), "unknown event type"),
        (lambda ce: ce.update(type=["Objective.Approved"]), "unknown event type"),
        (lambda ce: ce.pop("logposition"), "logposition"),
        (lambda ce: ce.update(logposition=0), "not a log position"),
        (lambda ce: ce.update(id="nonsense"), "not <subject>:<version>"),
        (lambda ce: ce.update(subject=str(uuid4())), "not <subject>:<version>"),
        (lambda ce: ce.update(schemaversion=2), "newer than this worker's"),
        (lambda ce: ce.update(data=[]), "data is not a JSON object"),
    ],
)
def test_the_position_of_an_envelope_is_read_only_from_a_valid_one(
    demo_events: list[tuple[int, Any]], change: Callable[[dict[str, Any]], None], reason: str
) -> None:
    position, _ = demo_events[0]
    assert envelope.position_of(_mutated(demo_events, lambda ce: None)) == position
    with pytest.raises(envelope.PoisonMessage, match=reason):
        envelope.position_of(_mutated(demo_events, change))


def test_an_envelope_without_a_schema_version_reads_as_version_1(
    demo_events: list[tuple[int, Any]],
) -> None:
    position, event = demo_events[0]

    def unversioned(ce: dict[str, Any]) -> None:
        ce.pop("schemaversion")
        ce.pop("dataschema")

    assert envelope.decode(_mutated(demo_events, unversioned)).event == event
    assert envelope.decode(_mutated(demo_events, lambda ce: None)).position == position


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "empty"),
        (b"\xff\xfe", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"hello": "world"}', "not a CloudEvent"),
    ],
)
def test_non_envelopes_are_poison_messages(value: bytes | None, reason: str) -> None:
    with pytest.raises(envelope.PoisonMessage, match=reason):
        envelope.decode(value)


def test_only_okrledger_event_classes_are_decodable() -> None:
    classes = envelope.event_classes()
    assert "Objective.Approved" in classes
    assert "Person.Registered" in classes
    assert all(cls.__module__.startswith("domain.") for cls in classes.values())
    assert classes["Objective.Approved"].__qualname__ == "Objective.Approved"
    assert envelope.event_id(UUID(int=1), 3) == "00000000-0000-0000-0000-000000000001:3"


def test_sealed_personal_fields_stay_sealed(demo_events: list[tuple[int, Any]]) -> None:
    position, event = next(
        (p, e) for p, e in demo_events if type(e).__qualname__ == "Person.Registered"
    )
    sealed = {"_pii_": "v1", "ct": "bm9uY2UAAAAAY2lwaGVydGV4dA=="}
    state = dict(vars(event), name=sealed, email=sealed)
    as_stored = object.__new__(type(event))
    object.__setattr__(as_stored, "__dict__", state)
    message = envelope.encode(as_stored, position=position, source="urn:okrledger")
    assert orjson.loads(message.value)["data"]["name"] == sealed
    received = envelope.decode(message.value)
    assert received.event.name == sealed and received.event.email == sealed
    assert envelope.is_sealed(received.event.name)
    assert not envelope.is_sealed("Alice") and not envelope.is_sealed({"ct": "x"})


def _sample(hint: Any) -> Any:
    """A value of type ``hint`` for the field-type round trip."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if isinstance(hint, typing.TypeVar) or hint is UUID:
        return uuid4()
    if origin in (typing.Union, types.UnionType):
        return _sample(next(a for a in args if a is not type(None)))
    if origin is list:
        return [_sample(args[0])]
    if origin is dict:
        return {_sample(args[0]): _sample(args[1])}
    samples = {
        Any: "anything",
        str: "text",
        int: 7,
        float: 0.25,
        bool: True,
        date: date(2025, 4, 1),
        datetime: datetime(2025, 4, 1, 9, 30, tzinfo=UTC),
    }
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return next(iter(hint))
    return samples[hint]


@pytest.mark.parametrize("name", sorted(envelope.event_classes()))
def test_every_event_class_round_trips_whatever_its_field_types(name: str) -> None:
    cls = envelope.event_classes()[name]
    state = {field: _sample(hint) for field, hint in envelope._hints(cls).items()}
    state["originator_version"] = 3
    event = object.__new__(cls)
    object.__setattr__(event, "__dict__", state)
    received = envelope.decode(envelope.encode(event, position=9, source="s").value)
    assert type(received.event) is cls
    assert vars(received.event) == state
