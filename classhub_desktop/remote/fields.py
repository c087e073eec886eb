"""Reading the API's JSON field by field, with type checks: a wrong shape raises ContractError."""

from __future__ import annotations

from collections.abc import Mapping
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
