"""Fast JSON for fold states: orjson out, generated loaders in.

`projections.codec` is the reference: it walks type hints on every call, which is right for a
pure module and too slow for the read side (a cycle's tree holds thousands of check-ins). Here
`dumps` hands the dataclasses to orjson (C), and `load(cls, data)` runs a loader compiled once
per dataclass from the same type hints, so both give exactly what `projections.codec` gives
(`tests/views/test_codec.py` holds them to that).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar, cast
from uuid import UUID, SafeUUID

import orjson

T = TypeVar("T")

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: object) -> bytes:
    """JSON bytes of a state (dataclasses, dicts with UUID keys, dates, datetimes...)."""
    return orjson.dumps(value, option=_OPTIONS)


def jsonable(value: object) -> Any:
    """JSON-native form (what `projections.codec.dump` gives), via orjson."""
    return orjson.loads(orjson.dumps(value, option=_OPTIONS))


loads = orjson.loads

try:  # msgspec decodes JSON straight into dataclasses, about twice as fast as the loaders
    import msgspec
except ImportError:  # pragma: no cover - an optional speed-up
    msgspec = None  # type: ignore[assignment]


def decode(target: type[T], text: str | bytes) -> T:
    """A `target` from JSON text: msgspec when it is installed, else `load(target, loads(text))`.
    Both give what `projections.codec.load` gives (tests/views/test_codec.py)."""
    if msgspec is not None:
        try:
            # mypy sees no __hash__ on a class object (python/mypy#20409): classes are hashable
            return cast(T, _decoder(target).decode(text))  # type: ignore[arg-type]
        except (msgspec.ValidationError, TypeError):
            pass
    return load(target, loads(text))


@functools.cache
def _decoder(target: type[Any]) -> Any:
    return msgspec.json.Decoder(target)


_new = object.__new__
_set = object.__setattr__
_UNKNOWN = SafeUUID.unknown


_UUIDS: dict[str, UUID] = {}
_UUIDS_KEPT = 50_000
"""Ids remembered before the table starts over: the ids in use recur within far fewer, and a
larger table only grows with the log (a rebuild met every id of a million events)."""


def uuid_from_hex(text: str) -> UUID:
    """`UUID(text)`, remembered (the same ids recur in every document of an objective) and
    without `UUID`'s string clean-up when it is new."""
    found = _UUIDS.get(text)
    if found is not None:
        return found
    value = new_uuid_from_hex(text)
    if len(_UUIDS) >= _UUIDS_KEPT:
        _UUIDS.clear()
    _UUIDS[text] = value
    return value


def new_uuid_from_hex(text: str) -> UUID:
    """`UUID(text)` for an id seen once (a new check-in's): not remembered, where it would only
    push out ids that recur."""
    digits = text.replace("-", "") if len(text) == 36 else text
    if len(digits) != 32:
        return UUID(text)
    value = _new(UUID)
    _set(value, "int", int(digits, 16))
    _set(value, "is_safe", _UNKNOWN)
    return value


def load(target: type[T], data: Any) -> T:
    """Rebuild a `target` from its JSON form, as `projections.codec.load` does."""
    return cast(T, loader(target)(data))  # type: ignore[arg-type]  # python/mypy#20409


@functools.cache
def loader(target: Any) -> Callable[[Any], Any]:
    """A function from JSON-native data to a value of type `target`."""
    if target is Any or target is object:
        return _identity
    origin = typing.get_origin(target)
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(target) if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"cannot decode into {target}: only X | None unions are supported")
        inner = loader(options[0])
        if inner is _identity:
            return _identity
        return lambda v: None if v is None else inner(v)
    if origin is list:
        (item_type,) = typing.get_args(target)
        item = loader(item_type)
        if item is _identity:
            return list
        return lambda v: [item(x) for x in v]
    if origin is tuple:
        item = loader(typing.get_args(target)[0])
        return lambda v: tuple(item(x) for x in v)
    if origin is dict:
        key_type, value_type = typing.get_args(target)
        key, value = loader(key_type), loader(value_type)
        if key is _identity and value is _identity:
            return dict
        return lambda v: {key(k): value(x) for k, x in v.items()}
    simple: dict[Any, Callable[[Any], Any]] = {
        datetime: datetime.fromisoformat,
        date: date.fromisoformat,
        UUID: uuid_from_hex,
        float: float,
        int: _identity,
        str: _identity,
        bool: _identity,
        dict: dict,
    }
    if target in simple:
        return simple[target]
    if isinstance(target, type) and dataclasses.is_dataclass(target):
        return _dataclass_loader(target)
    raise TypeError(f"cannot decode into {target}")


def _identity(value: Any) -> Any:
    return value


def _dataclass_loader(cls: type[Any]) -> Callable[[Any], Any]:
    """Compile a loader for `cls` from its init fields' hints.

    Plain dataclasses (no `__post_init__`, no slots, every field in `__init__`) are built by
    setting their `__dict__` at once, which is what their `__init__` would do field by field.
    """
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)
    names = [f.name for f in fields if f.init]
    namespace: dict[str, Any] = {"_cls": cls, "_new": _new, "_set": _set}
    values = []
    for name in names:
        convert = loader(hints[name])
        if convert is _identity:
            values.append(f"d[{name!r}]")
        else:
            namespace[f"_c_{name}"] = convert
            values.append(f"_c_{name}(d[{name!r}])")
    plain = (
        not hasattr(cls, "__post_init__")
        and "__slots__" not in cls.__dict__
        and all(f.init for f in fields)
    )
    if plain:
        items = ", ".join(f"{name!r}: {value}" for name, value in zip(names, values, strict=True))
        source = (
            "def _load(d):\n"
            "    o = _new(_cls)\n"
            f"    _set(o, '__dict__', {{{items}}})\n"
            "    return o\n"
        )
    else:
        arguments = ", ".join(f"{name}={value}" for name, value in zip(names, values, strict=True))
        source = f"def _load(d):\n    return _cls({arguments})\n"
    exec(compile(source, f"<loader {cls.__qualname__}>", "exec"), namespace)
    return cast(Callable[[Any], Any], namespace["_load"])
