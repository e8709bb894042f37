"""CloudEvents 1.0 envelopes (JSON format) for okrledger's domain events, both ways.

One Kafka message per stored event::

    key      the aggregate id (UTF-8), so one aggregate's events share a partition, in order
    headers  okr-position, okr-version (decimal ASCII): routable without parsing the value
    value    {"specversion": "1.0",
              "id": "<aggregate id>:<version>",        unique per event: consumers dedupe by it
              "source": "urn:okrledger",
              "type": "Objective.Approved",            the event class, Aggregate.Event
              "subject": "<aggregate id>",
              "time": "2025-04-01T09:30:00Z",          when it happened (the event's timestamp)
              "datacontenttype": "application/json",
              "dataschema": "urn:okrledger:events:v1",  the schema of ``data`` (see below)
              "schemaversion": 1,                      the same, as an integer extension
              "logposition": 1234,                     the notification id (total commit order)
              "aggregateversion": 7,
              "actor": "<person id>|system",
              "chainhash": "<hex SHA-256>",            the event's link in the hash chain
              "committedtime": "...Z",                 database commit time of the event
              "data": {...the event's fields...}}

``data`` holds every field of the event as plain JSON (ids and dates as strings, enums as
their values), so any consumer can read it — except personal data: a person's name and e-mail
travel sealed, as stored (``{"_pii_": "v1", "ct": "..."}``, AES-GCM under that person's key), so
that forgetting the person makes them unreadable in Kafka too. :func:`decode` turns an envelope
back into the domain event by the type hints of its class, leaving sealed fields sealed; anything
it cannot do that for is a :class:`PoisonMessage`.

The schema version says how ``data`` maps onto the event classes. Adding an event type or an
optional field keeps it; renaming or removing a field, or changing a field's meaning, raises it.
A decoder refuses versions newer than its own (:data:`SCHEMA_VERSION`) and reads envelopes that
carry none as version 1. docs/deploy.md documents the envelope for consumers.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import types
import typing
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import orjson

from domain.base import OkrAggregate
from infra.audit.personal import ENVELOPE_MARK, ENVELOPE_VERSION
from projections.catalogue import CATALOGUE

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"
HEADER_POSITION = "okr-position"
HEADER_VERSION = "okr-version"
SCHEMA_VERSION = 1
DATASCHEMA = f"urn:okrledger:events:v{SCHEMA_VERSION}"

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_UTC_Z
_REQUIRED = ("specversion", "id", "source", "type", "subject", "data")


class PoisonMessage(ValueError):
    """A message that is not an okrledger envelope this code can decode; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Envelope:
    """The parts of one Kafka message for one stored event."""

    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    position: int
    event_id: str


@dataclass(frozen=True, slots=True)
class Received:
    """A decoded envelope: the domain event and the log metadata that travelled with it."""

    event_id: str
    position: int
    chain_hash: str | None
    committed_at: datetime | None
    event: OkrAggregate.Event


def event_id(aggregate_id: UUID | str, version: int) -> str:
    """The CloudEvents ``id`` of an aggregate's event: unique, and the same on every resend."""
    return f"{aggregate_id}:{version}"


def event_type(event: object) -> str:
    """``Aggregate.Event``, e.g. ``Objective.Approved`` (event classes never move or rename)."""
    return type(event).__qualname__


def encode(
    event: OkrAggregate.Event,
    *,
    position: int,
    source: str,
    chain_hash: bytes | None = None,
    committed_at: datetime | None = None,
) -> Envelope:
    """The Kafka message of ``event``, stored at log ``position``."""
    aggregate_id = str(event.originator_id)
    version = int(event.originator_version)
    eid = event_id(aggregate_id, version)
    cloud_event: dict[str, Any] = {
        "specversion": SPECVERSION,
        "id": eid,
        "source": source,
        "type": event_type(event),
        "subject": aggregate_id,
        "time": event.timestamp,
        "datacontenttype": CONTENT_TYPE,
        "dataschema": DATASCHEMA,
        "schemaversion": SCHEMA_VERSION,
        "logposition": position,
        "aggregateversion": version,
        "actor": getattr(event, "actor", None),
        "chainhash": chain_hash.hex() if chain_hash is not None else None,
        "committedtime": committed_at,
        "data": dict(event.__dict__),
    }
    value = orjson.dumps(
        {k: v for k, v in cloud_event.items() if v is not None},
        default=_default,
        option=_JSON_OPTIONS,
    )
    headers = [
        (HEADER_POSITION, str(position).encode()),
        (HEADER_VERSION, str(version).encode()),
    ]
    return Envelope(aggregate_id.encode(), value, headers, position, eid)


def _default(value: object) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def parse(value: bytes | None) -> dict[str, Any]:
    """The CloudEvent in a message value, checked for the attributes every envelope has."""
    if value is None:
        raise PoisonMessage("empty message value")
    try:
        cloud_event = orjson.loads(value)
    except orjson.JSONDecodeError as e:
        raise PoisonMessage(f"value is not JSON: {e}") from None
    if not isinstance(cloud_event, dict):
        raise PoisonMessage("value is not a JSON object")
    missing = [name for name in _REQUIRED if name not in cloud_event]
    if missing:
        raise PoisonMessage(f"not a CloudEvent: missing {', '.join(missing)}")
    if cloud_event["specversion"] != SPECVERSION:
        raise PoisonMessage(f"unsupported specversion {cloud_event['specversion']!r}")
    if not isinstance(cloud_event["data"], dict):
        raise PoisonMessage("data is not a JSON object")
    version = cloud_event.get("schemaversion", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise PoisonMessage(f"schemaversion {version!r} is not a positive integer")
    if version > SCHEMA_VERSION:
        raise PoisonMessage(
            f"schemaversion {version} is newer than this worker's ({SCHEMA_VERSION})"
        )
    if not isinstance(cloud_event.get("logposition"), int):
        raise PoisonMessage("logposition missing or not an integer")
    return cloud_event


def position_of(value: bytes | None) -> int:
    """The log position of an okrledger event's envelope, without decoding its ``data``.

    Checks what :func:`decode` checks about the envelope (a CloudEvent this code can read, of a
    known event type, whose ``id`` names an aggregate and a version) and raises
    :class:`PoisonMessage` otherwise; for consumers that read the event itself elsewhere.
    """
    cloud_event = parse(value)
    name = cloud_event["type"]
    if not isinstance(name, str) or name not in event_classes():
        raise PoisonMessage(f"unknown event type {name!r}")
    aggregate_id, _, version = str(cloud_event["id"]).rpartition(":")
    if not aggregate_id or not version.isdigit() or aggregate_id != cloud_event["subject"]:
        raise PoisonMessage(f"id {cloud_event['id']!r} is not <subject>:<version>")
    position: int = cloud_event["logposition"]
    if position < 1:
        raise PoisonMessage(f"logposition {position} is not a log position")
    return position


def decode(value: bytes | None) -> Received:
    """The domain event in a message value; raises :class:`PoisonMessage` if there is none."""
    cloud_event = parse(value)
    name = cloud_event["type"]
    cls = event_classes().get(name) if isinstance(name, str) else None
    if cls is None:
        raise PoisonMessage(f"unknown event type {name!r}")
    data: dict[str, Any] = cloud_event["data"]
    state: dict[str, Any] = {}
    try:
        for field_name, hint in _hints(cls).items():
            if field_name not in data:
                raise PoisonMessage(f"{name}: field {field_name!r} is missing")
            state[field_name] = _load(hint, data[field_name])
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        if isinstance(e, PoisonMessage):
            raise
        raise PoisonMessage(f"{name}: {type(e).__name__}: {e}") from None
    expected_id = event_id(state["originator_id"], state["originator_version"])
    if cloud_event["id"] != expected_id:
        raise PoisonMessage(f"id {cloud_event['id']!r} does not match the event ({expected_id})")
    event = object.__new__(cls)
    object.__setattr__(event, "__dict__", state)
    committed = cloud_event.get("committedtime")
    return Received(
        event_id=expected_id,
        position=cloud_event["logposition"],
        chain_hash=cloud_event.get("chainhash"),
        committed_at=datetime.fromisoformat(committed) if isinstance(committed, str) else None,
        event=event,
    )


@functools.cache
def event_classes() -> dict[str, type[OkrAggregate.Event]]:
    """Every okrledger event class by its CloudEvents ``type``: the event catalogue's
    (``projections.catalogue``); nothing else is ever decoded."""
    return {entry.type_name: entry.event_class for entry in CATALOGUE}


@functools.cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    resolved = typing.get_type_hints(cls)
    return {f.name: resolved.get(f.name, Any) for f in dataclasses.fields(cls)}


T = TypeVar("T")


def _load(hint: Any, value: Any) -> Any:
    """Rebuild a value of type ``hint`` from its JSON form (the inverse of ``encode``)."""
    if hint is Any or hint is object or is_sealed(value):
        return value
    if isinstance(hint, typing.TypeVar):
        # An aggregate id: okrledger's ids are UUIDs.
        return UUID(value)
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None:
            if len(options) == len(typing.get_args(hint)):
                raise TypeError(f"null is not a {hint}")
            return None
        if len(options) != 1:
            raise TypeError(f"cannot decode into {hint}")
        return _load(options[0], value)
    if value is None:
        raise TypeError(f"null is not a {hint}")
    if origin in (list, tuple, set, frozenset):
        args = typing.get_args(hint)
        item = args[0] if args else Any
        items = [_load(item, v) for v in _expect(list, value)]
        return origin(items)
    if origin is dict:
        key_type, value_type = typing.get_args(hint) or (Any, Any)
        return {_load(key_type, k): _load(value_type, v) for k, v in _expect(dict, value).items()}
    if not isinstance(hint, type):
        raise TypeError(f"cannot decode into {hint}")
    if issubclass(hint, enum.Enum):
        return hint(value)
    if hint is bool:
        return _expect(bool, value)
    if hint is int:
        if isinstance(value, bool):
            raise TypeError("expected int, got bool")
        return _expect(int, value)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        return float(value)
    if hint is str:
        return _expect(str, value)
    if hint is UUID:
        return UUID(_expect(str, value))
    if hint is datetime:
        return datetime.fromisoformat(_expect(str, value))
    if hint is date:
        return date.fromisoformat(_expect(str, value))
    if hint is Decimal:
        return Decimal(_expect(str, value))
    if dataclasses.is_dataclass(hint):
        data = _expect(dict, value)
        nested = _hints(hint)
        return hint(**{name: _load(h, data[name]) for name, h in nested.items() if name in data})
    if hint in (dict, list):
        return _expect(hint, value)
    raise TypeError(f"cannot decode into {hint}")


def is_sealed(value: object) -> bool:
    """Whether ``value`` is a sealed personal field (it stays as it is, whatever its type)."""
    return isinstance(value, dict) and value.get(ENVELOPE_MARK) == ENVELOPE_VERSION


def _expect(kind: type[T], value: Any) -> T:
    if not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


__all__ = [
    "CONTENT_TYPE",
    "DATASCHEMA",
    "HEADER_POSITION",
    "HEADER_VERSION",
    "SCHEMA_VERSION",
    "Envelope",
    "PoisonMessage",
    "Received",
    "decode",
    "encode",
    "event_classes",
    "event_id",
    "parse",
    "position_of",
]
