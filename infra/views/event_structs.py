"""Typed decoding of stored events: one msgspec struct per catalogued event class.

An event's stored state is the JSON of its attributes (less its aggregate's id and version),
typed values written by the application's transcoder as `{"_type_": name, "_data_": text}`.
`event_shape(cls)` turns the class's dataclass fields into a struct that msgspec decodes in C,
checking every field's JSON type and every typed value's name on the way (so nothing is
converted by looking at values one by one), and a converter, compiled once per class, from that
struct to the event's attributes with the same conversions as the generic decoder
(`infra.views.log.EventDecoder`): ids, times, days and decimals from their text.

A state the struct does not describe (a field of another JSON type, an unknown field such as
`class_version`, a missing one without a default) fails msgspec's validation, and the event
takes the generic path instead: the typed path only ever decodes what both would decode alike
(tests/views/test_event_structs.py holds them to that over the whole catalogue).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec

NOT_STORED = frozenset({"originator_id", "originator_version"})
"""Attributes the mapper keeps in the stored event's columns, not in its state."""


class _Tagged(msgspec.Struct, forbid_unknown_fields=True, tag_field="_type_"):
    data: str = msgspec.field(name="_data_")


class UuidHex(_Tagged, tag="uuid_hex"):
    pass


class DatetimeIso(_Tagged, tag="datetime_iso"):
    pass


class DateIso(_Tagged, tag="date_iso"):
    pass


class DecimalStr(_Tagged, tag="decimal_str"):
    pass


TAGGED: dict[Any, type[_Tagged]] = {
    UUID: UuidHex,
    datetime: DatetimeIso,
    date: DateIso,
    Decimal: DecimalStr,
}
TRANSCODINGS = frozenset({"uuid_hex", "datetime_iso", "date_iso", "decimal_str"})
"""The transcodings the structs read (the application registers them all)."""
NATIVE = (str, int, bool)
"""Types whose JSON values are the attribute's value as they are."""

Convert = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True)
class Field:
    name: str
    kind: str
    """native | uuid | unique | datetime | date | decimal | other (converted like the
    generic decoder converts a container)."""
    optional: bool
    """The JSON may hold null (the annotation allows None)."""
    defaulted: bool
    """The JSON may leave the field out (the dataclass has a default)."""


@dataclass(frozen=True)
class EventShape:
    struct: type[msgspec.Struct]
    decoder: msgspec.json.Decoder[Any]
    fields: tuple[Field, ...]
    source: str
    """The converter's source (`converter` compiles it with the decoder's id tables)."""

    def converter(
        self,
        known: dict[str, UUID],
        uuid: Callable[[str], UUID],
        unique_uuid: Callable[[str], UUID],
        other: Callable[[str, Any], Any],
    ) -> Convert:
        """struct → attributes. `known` holds the ids met so far by their text, `uuid`
        converts an id met again and again (interned, added to `known`),
        `unique_uuid` a new check-in's id, `other` any other value by its JSON shape."""
        namespace: dict[str, Any] = {
            "_known": known.get,
            "_uuid": uuid,
            "_unique": unique_uuid,
            "_other": other,
            "_datetime": datetime.fromisoformat,
            "_date": date.fromisoformat,
            "_decimal": Decimal,
            "_UNSET": msgspec.UNSET,
        }
        exec(compile(self.source, f"<event converter {self.struct.__name__}>", "exec"), namespace)
        convert: Convert = namespace["convert"]
        return convert


UNIQUE_IDS = frozenset({"check_in_id"})
"""Fields whose ids are new in every event: not worth interning."""

_CALLS = {
    "unique": "_unique",
    "datetime": "_datetime",
    "date": "_date",
    "decimal": "_decimal",
}


@functools.cache
def event_shape(cls: type[Any]) -> EventShape:
    """The struct, decoder and converter source of one event class."""
    hints = typing.get_type_hints(cls)
    struct_fields: list[tuple[Any, ...]] = []
    fields: list[Field] = []
    for f in dataclasses.fields(cls):
        if f.name in NOT_STORED:
            continue
        annotation, kind, optional = _field_type(f.name, hints[f.name])
        defaulted = f.default is not dataclasses.MISSING or (
            f.default_factory is not dataclasses.MISSING
        )
        if optional:
            annotation = annotation | None
        if defaulted:
            struct_fields.append((f.name, annotation | msgspec.UnsetType, msgspec.UNSET))
        else:
            struct_fields.append((f.name, annotation))
        fields.append(Field(f.name, kind, optional, defaulted))
    struct = msgspec.defstruct(
        f"{cls.__qualname__.replace('.', '_')}_State",
        struct_fields,
        forbid_unknown_fields=True,
        kw_only=True,
    )
    return EventShape(struct, msgspec.json.Decoder(struct), tuple(fields), _source(fields))


def _field_type(name: str, hint: Any) -> tuple[Any, str, bool]:
    """(the struct's annotation, how its value converts, whether None is allowed)."""
    optional = False
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(options) == 1 and len(typing.get_args(hint)) == 2:
            hint, optional = options[0], True
        else:
            return Any, "other", False
    if hint in TAGGED:
        kind = hint.__name__.lower() if hint is not UUID else "uuid"
        if hint is UUID and name in UNIQUE_IDS:
            kind = "unique"
        return TAGGED[hint], kind, optional
    if hint is float:
        return int | float, "native", optional  # an int stays an int, as in the JSON
    if hint in NATIVE:
        return hint, "native", optional
    if _native_container(hint):
        return hint, "native", optional
    return Any, "other", False


def _native_container(hint: Any) -> bool:
    """A list or dict of native values: msgspec's own decoding gives what the JSON holds."""
    origin = typing.get_origin(hint)
    if origin is list:
        return all(a in NATIVE for a in typing.get_args(hint))
    if origin is dict:
        return all(a in NATIVE for a in typing.get_args(hint))
    return False


def _source(fields: list[Field]) -> str:
    lines = ["def convert(s):", "    d = {}"]
    for f in fields:
        key = repr(f.name)
        lines.append(f"    v = s.{f.name}")
        indent = "    "
        if f.defaulted:
            lines.append("    if v is not _UNSET:")
            indent = "        "
        if f.kind == "native":
            value = "v"
        elif f.kind == "other":
            value = f"_other({key}, v)"
        elif f.kind == "uuid":  # `or`: an id is never false
            value = "_known(v.data) or _uuid(v.data)"
            if f.optional:
                value = f"None if v is None else ({value})"
        else:
            value = f"{_CALLS[f.kind]}(v.data)"
            if f.optional:
                value = f"None if v is None else {value}"
        lines.append(f"{indent}d[{key}] = {value}")
    lines.append("    return d")
    return "\n".join(lines) + "\n"
