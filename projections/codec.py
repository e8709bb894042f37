"""JSON form of fold states: dataclasses, dicts, lists, UUIDs, dates and datetimes.

States are plain dataclasses with type hints; `dump` turns one into JSON-native values and `load`
rebuilds it from the hints, so checkpoints need no per-fold code and round-trip exactly.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from datetime import date, datetime
from typing import Any, TypeVar, cast
from uuid import UUID

T = TypeVar("T")


def dump(value: object) -> Any:
    """JSON-native form: UUIDs, dates and datetimes as strings, dataclasses as objects."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {_dump_key(k): dump(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [dump(v) for v in value]
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def clone(value: T) -> T:
    """An independent copy of a state: containers and dataclasses are copied, immutable leaves
    (None, bool, numbers, str, UUID, date, datetime) shared. Much cheaper than `deepcopy`."""
    return cast(T, _clone(value))


def _clone(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str | UUID | date):
        return value
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_clone(v) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        return cls(**{name: _clone(getattr(value, name)) for name in _hints(cls)})
    raise TypeError(f"cannot clone {type(value).__name__}")


def _dump_key(key: object) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, UUID | int):
        return str(key)
    if isinstance(key, date):
        return key.isoformat()
    raise TypeError(f"cannot encode {type(key).__name__} as a JSON key")


def load(target: type[T], data: Any) -> T:
    """Rebuild a value of type `target` from its `dump`ed form."""
    return cast(T, _load(target, data))


def _load(target: Any, data: Any) -> Any:
    if target is Any or target is object:
        return data
    origin = typing.get_origin(target)
    if origin is typing.Union or origin is types.UnionType:
        if data is None:
            return None
        options = [a for a in typing.get_args(target) if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"cannot decode into {target}: only X | None unions are supported")
        return _load(options[0], data)
    if origin is list:
        (item,) = typing.get_args(target)
        return [_load(item, v) for v in data]
    if origin is tuple:
        item = typing.get_args(target)[0]
        return tuple(_load(item, v) for v in data)
    if origin is dict:
        key_type, value_type = typing.get_args(target)
        return {_load(key_type, k): _load(value_type, v) for k, v in data.items()}
    if target is datetime:
        return datetime.fromisoformat(data)
    if target is date:
        return date.fromisoformat(data)
    if target is UUID:
        return UUID(data)
    if target is float:
        return float(data)
    if target in (int, str, bool):
        return data
    if target is dict:
        return dict(data)
    if isinstance(target, type) and dataclasses.is_dataclass(target):
        hints = _hints(target)
        return target(**{name: _load(hint, data[name]) for name, hint in hints.items()})
    raise TypeError(f"cannot decode into {target}")


@functools.cache
def _hints(cls: type[Any]) -> dict[str, Any]:
    """Field name → resolved type for the init fields of a dataclass."""
    resolved = typing.get_type_hints(cls)
    return {f.name: resolved[f.name] for f in dataclasses.fields(cls) if f.init}
