"""Reading the API's JSON field by field, with type checks: a wrong shape raises ContractError.

`read_declared` reads the fields of a model by their declared types, so the dataclass in
remote/models.py is the one list of a model's fields and types (the sandbox's server derives its
response model from it; tests/remote/test_contract_models.py checks each one against openapi.json).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

Json = Mapping[str, Any]

_T = TypeVar("_T")


class ContractError(ValueError):
    """The JSON does not have the shape the contract gives it."""


def as_object(value: object, what: str = "answer") -> Json:
    if not isinstance(value, Mapping):
        raise ContractError(f"the {what} is not a JSON object")
    return value


def field_value(data: Json, key: str) -> Any:
    if key not in data:
        raise ContractError(f"the field {key!r} is missing")
    return data[key]


def _typed(data: Json, key: str, kind: type[_T], optional: bool = False) -> Any:
    value = data.get(key) if optional else field_value(data, key)
    if value is None and optional:
        return None
    # bool is an int subclass: an id must not be True.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise ContractError(f"the field {key!r} is not a {kind.__name__}")
    return value


def req_int(data: Json, key: str) -> int:
    return cast(int, _typed(data, key, int))


def opt_int(data: Json, key: str) -> int | None:
    return cast(int | None, _typed(data, key, int, optional=True))


def req_str(data: Json, key: str) -> str:
    return cast(str, _typed(data, key, str))


def opt_str(data: Json, key: str) -> str | None:
    return cast(str | None, _typed(data, key, str, optional=True))


def req_bool(data: Json, key: str) -> bool:
    return cast(bool, _typed(data, key, bool))


def parse_datetime(value: object) -> datetime:
    """An ISO 8601 string (or a Unix timestamp) as an aware datetime."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC)
    if not isinstance(value, str):
        raise ContractError("a date-time is not a string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ContractError(f"{value[:40]!r} is not an ISO 8601 date-time") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def req_datetime(data: Json, key: str) -> datetime:
    return parse_datetime(field_value(data, key))


def opt_datetime(data: Json, key: str) -> datetime | None:
    value = data.get(key)
    return None if value is None else parse_datetime(value)


def object_list(data: Json, key: str = "items") -> list[Json]:
    value = field_value(data, key)
    if not isinstance(value, list):
        raise ContractError(f"the field {key!r} is not a list")
    return [as_object(item, f"{key} entry") for item in value]


def opt_bool(data: Json, key: str) -> bool | None:
    return cast(bool | None, _typed(data, key, bool, optional=True))


Reader = Callable[[Json, str], Any]
# declared type -> (reader of a required value, reader of a value that may be missing or null)
_READERS: dict[type, tuple[Reader, Reader]] = {
    int: (req_int, opt_int),
    str: (req_str, opt_str),
    bool: (req_bool, opt_bool),
    datetime: (req_datetime, opt_datetime),
}


@functools.cache
def declared_fields(model: type) -> tuple[tuple[str, type, bool, bool], ...]:
    """(name, type, may be None, has a default) of each field of dataclass `model`, in declaration order;
    `type` without its `| None`."""
    hints = typing.get_type_hints(model)
    out = []
    for item in dataclasses.fields(model):
        if not item.init:
            continue
        hint = hints[item.name]
        args = typing.get_args(hint)
        optional = typing.get_origin(hint) in (types.UnionType, typing.Union) and type(None) in args
        if optional:
            rest = [a for a in args if a is not type(None)]
            hint = rest[0] if len(rest) == 1 else hint
        has_default = item.default is not dataclasses.MISSING or item.default_factory is not dataclasses.MISSING
        out.append((item.name, hint, optional, has_default))
    return tuple(out)


def read_declared(model: type, data: Json, *, skip: Collection[str] = ()) -> dict[str, Any]:
    """The fields of dataclass `model` read from `data` by their declared types (int, str, bool, datetime,
    each optionally `| None`): a `| None` field may be missing or null, a field with a default may be
    missing (the default applies), any other must be present. Fields of other types are named in `skip`
    and read by the caller."""
    values: dict[str, Any] = {}
    for name, kind, optional, has_default in declared_fields(model):
        if name in skip:
            continue
        if kind not in _READERS:
            raise TypeError(f"{model.__name__}.{name}: read it yourself and name it in skip")
        if has_default and data.get(name) is None:
            continue
        required, maybe = _READERS[kind]
        values[name] = (maybe if optional else required)(data, name)
    return values
