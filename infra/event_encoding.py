"""Typed encoding of events for the bulk path: the bytes the mapper would store, made faster.

The mapper stores an event's attributes (less its aggregate's id and version) as the JSON that
eventsourcing's `JSONTranscoder` writes: the standard library's C encoder, compact separators,
UTF-8 (non-ASCII text not escaped), and a Python callback per id, time, date or decimal (`{"_type_": name,
"_data_": text}`). That callback, and the dict copied from every event, are most of its cost.

`TypedEncoder` writes the same bytes with the same primitives, one function per event class
compiled once (`shape`): strings through the `json` module's own C escaping
(`json.encoder.encode_basestring`, what the transcoder's encoder uses), numbers through
`int.__repr__` and `float.__repr__` (what the C encoder calls), ids, times, dates and decimals
through the transcodings' own text (`UUID.hex`, `isoformat()`, `str()`), nested dicts and lists
(a provenance) by the transcoder's own C encoder. The chain hashes these bytes, so they must be identical:
`tests/unit/test_event_encoding.py` holds the encoder to the mapper's output over
generated events of every catalogued class.

Anything it does not know exactly falls back to the mapper, event by event: a mapper or
transcoder other than the application's own, an attribute of a type not listed here (a
subclass of `str` such as a string enum included), attributes in another order than the
class's fields, an upcast class (`class_version`), a person's events (the personal-data mapper
seals their fields).
"""

from __future__ import annotations

import dataclasses
import functools
import json.encoder
import math
import types
import typing
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    UUIDAsHex,
)
from eventsourcing.utils import get_topic

from domain.base import DateAsISO
from infra.audit.personal import PersonalDataMapper

_string: Callable[[str], str] = json.encoder.encode_basestring
"""The C function the transcoder's encoder escapes strings with (`ensure_ascii=False`)."""

_float_repr = float.__repr__
_int_repr = int.__repr__


class Unknown(Exception):
    """A value (or an event) the typed encoder does not write exactly: the mapper does."""


def _float(value: float) -> str:
    if math.isfinite(value):
        return _float_repr(value)
    # As the standard encoder writes them (allow_nan): the domain refuses them anyway.
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def _uuid(value: UUID) -> str:
    return '{"_type_":"uuid_hex","_data_":"' + value.hex + '"}'


def _datetime(value: datetime) -> str:
    return '{"_type_":"datetime_iso","_data_":"' + value.isoformat() + '"}'


def _date(value: date) -> str:
    return '{"_type_":"date_iso","_data_":"' + value.isoformat() + '"}'


def _decimal(value: Decimal) -> str:
    return '{"_type_":"decimal_str","_data_":' + _string(str(value)) + "}"


def _true(_: bool) -> str:
    return "true" if _ else "false"


def _null(_: None) -> str:
    return "null"


WRITERS: dict[type, Callable[[Any], str]] = {
    str: _string,
    int: _int_repr,
    float: _float,
    bool: _true,
    type(None): _null,
    UUID: _uuid,
    datetime: _datetime,
    date: _date,
    Decimal: _decimal,
}
"""The JSON text of a value by its exact type, as the transcoder's encoder writes it. A dict,
a list or a tuple (a provenance, a change set) is written by the transcoder's own encoder
(`TypedEncoder.writers`): the same C encoder, called once for the whole value."""


# The transcodings the typed encoder writes, by type, exactly as the application registers them.
_TRANSCODINGS = {
    UUID: UUIDAsHex,
    Decimal: DecimalAsStr,
    datetime: DatetimeAsISO,
    date: DateAsISO,
}
_NOT_STORED = ("originator_id", "originator_version")


def typed_mapper(mapper: Mapper[Any]) -> bool:
    """Whether `mapper` stores events exactly as the typed encoder writes them: eventsourcing's
    mapper (or the personal-data one) with the JSON transcoder configured as the application
    configures it, and the same four transcodings."""
    transcoder = mapper.transcoder
    if type(mapper) not in (Mapper, PersonalDataMapper) or type(transcoder) is not JSONTranscoder:
        return False
    encoder = transcoder.encoder
    if (
        encoder.item_separator != ","
        or encoder.key_separator != ":"
        or encoder.ensure_ascii
        or not encoder.allow_nan
        or encoder.sort_keys
        or encoder.skipkeys
        or encoder.indent is not None
    ):
        return False
    registered = {kind: type(t) for kind, t in transcoder.types.items()}
    return registered == _TRANSCODINGS


def _container_writer(transcoder: Any) -> Callable[[Any], str]:
    """The transcoder's own JSON encoder for one value, as it writes that value inside the
    event's state (no indentation, so a nested value's text does not depend on its depth): the
    C encoder that `JSONEncoder.iterencode` makes, made once instead of once a call."""
    encoder = transcoder.encoder
    make = json.encoder.c_make_encoder  # type: ignore[attr-defined]
    if make is None:  # no C accelerator: the encoder as it is
        encode: Callable[[Any], str] = encoder.encode
        return encode
    markers: dict[int, Any] = {}
    iterencode = make(
        markers,
        encoder.default,
        _string,
        encoder.indent,
        encoder.key_separator,
        encoder.item_separator,
        encoder.sort_keys,
        encoder.skipkeys,
        encoder.allow_nan,
    )

    def write(value: Any) -> str:
        try:
            return "".join(iterencode(value, 0))
        except Exception as error:  # a value it cannot write: the mapper says why
            markers.clear()  # as a fresh encoder would start (the C encoder left its marks)
            raise Unknown(type(value)) from error

    return write


@dataclasses.dataclass(frozen=True)
class Shape:
    """How one event class is written: its topic and its compiled state writer."""

    topic: str
    write: Callable[[dict[str, Any], dict[type, Callable[[Any], str]]], str] | None
    """The state's JSON from the event's attributes and the writers by type; None: the mapper
    writes this class."""


@functools.cache
def shape(cls: type[Any]) -> Shape:
    """The topic and state writer of an event class (compiled once per class)."""
    topic = get_topic(cls)
    if (
        not dataclasses.is_dataclass(cls)
        or getattr(cls, "class_version", 1) > 1
        or "topic" in {f.name for f in dataclasses.fields(cls)}
    ):
        return Shape(topic, None)
    names = tuple(f.name for f in dataclasses.fields(cls))
    if names[:2] != _NOT_STORED:
        return Shape(topic, None)
    stored = names[2:]
    hints = typing.get_type_hints(cls)
    # The attributes in the fields' order (a dataclass's __init__ sets them in that order; the
    # mapper's decoding sets the aggregate's id and version last, which the state leaves out);
    # each value written inline when it has the type its annotation names, else by its exact
    # type through the writers; then one join: '{"name":', value, ',"next":', ..., '}'.
    lines = [
        "def write(d, _w):",
        "    k = tuple(d)",
        "    if k != _names and k != _decoded:",
        "        raise _Unknown('attributes in another order')",
    ]
    parts = []
    for index, name in enumerate(stored):
        opening = "{" if index == 0 else ","
        parts.append(repr(opening + json.dumps(name) + ":"))
        lines.append(f"    v = d[{name!r}]")
        lines.append(f"    p{index} = {_inline(hints.get(name))}")
        parts.append(f"p{index}")
    parts.append("'}'" if stored else "'{}'")
    lines.append(f"    return ''.join(({', '.join(parts)},))")
    source = "\n".join(lines) + "\n"
    namespace: dict[str, Any] = {
        "_names": names,
        "_decoded": (*stored, *_NOT_STORED),
        "_Unknown": Unknown,
        "_s": _string,
        "_ir": _int_repr,
        "_fr": _float_repr,
        "_fin": math.isfinite,
        "_UUID": UUID,
        "_datetime": datetime,
        "_date": date,
    }
    exec(compile(source, f"<event writer {cls.__qualname__}>", "exec"), namespace)
    return Shape(topic, namespace["write"])


_GENERIC = "_w[type(v)](v)"

_INLINE = {
    str: "_s(v) if type(v) is str else " + _GENERIC,
    int: "_ir(v) if type(v) is int else " + _GENERIC,
    float: "_fr(v) if type(v) is float and _fin(v) else " + _GENERIC,
    UUID: """'{"_type_":"uuid_hex","_data_":"%032x"}' % v.int if type(v) is _UUID else """
    + _GENERIC,
    datetime: """'{"_type_":"datetime_iso","_data_":"' + v.isoformat() + '"}' """
    "if type(v) is _datetime else " + _GENERIC,
    date: """'{"_type_":"date_iso","_data_":"' + v.isoformat() + '"}' """
    "if type(v) is _date else " + _GENERIC,
}
"""How a value of the type its annotation names is written inline (no call of a writer):
`UUID.hex` is `'%032x' % int`, the transcodings' texts are `isoformat()`, strings and numbers
the C functions the JSON encoder calls. Anything else (None in an optional field, a subclass)
goes to the writer of its exact type."""


def _inline(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(options) == 1:
            return f"'null' if v is None else ({_inline(options[0])})"
        return _GENERIC
    return _INLINE.get(hint, _GENERIC)


class TypedEncoder:
    """Stored columns (aggregate id, version, topic, state) of events, as `mapper` would store
    them, written by each class's compiled writer where that gives the same bytes."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        self.typed = typed_mapper(mapper)
        self.writers = dict(WRITERS)
        if self.typed:
            container = _container_writer(mapper.transcoder)
            self.writers.update({dict: container, list: container, tuple: container})
        personal = mapper.personal_fields if isinstance(mapper, PersonalDataMapper) else {}
        self._personal = frozenset(topic for topic, fields in personal.items() if fields)
        self.fallbacks = 0
        """Events the mapper encoded (for the tests and the probe)."""

    def state(self, event: DomainEventProtocol[Any]) -> tuple[str, bytes]:
        """The event's topic and stored state."""
        found = shape(type(event)) if self.typed else None
        if found is not None and found.write is not None and found.topic not in self._personal:
            try:
                text = found.write(event.__dict__, self.writers)
            except (Unknown, KeyError):
                pass
            else:
                state = text.encode("utf8")
                mapper = self.mapper
                if mapper.compressor:
                    state = mapper.compressor.compress(state)
                if mapper.cipher:
                    state = mapper.cipher.encrypt(state)
                return found.topic, state
        self.fallbacks += 1
        stored = self.mapper.to_stored_event(event)
        return stored.topic, stored.state

    def encode_all(
        self, events: Sequence[DomainEventProtocol[Any]]
    ) -> tuple[list[UUID], list[int], list[str], list[bytes]]:
        """The four stored columns of `events`, in order."""
        ids: list[UUID] = []
        versions: list[int] = []
        topics: list[str] = []
        states: list[bytes] = []
        state = self.state
        for event in events:
            topic, data = state(event)
            ids.append(event.originator_id)
            versions.append(event.originator_version)
            topics.append(topic)
            states.append(data)
        return ids, versions, topics, states
