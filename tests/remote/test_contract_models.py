"""Every model of remote/models.py against the exported API contract (resources/openapi.json): the same
field names, compatible types, and a client that requires no more than the contract promises; its
`from_json` reads documents built from the contract's schemas (only the required fields, and every field)."""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import types
import typing
from datetime import datetime
from typing import Any

import pytest

from classhub_desktop.remote import models
from classhub_desktop.remote.fields import parse_datetime
from classhub_desktop.sandbox.api.contract import read_exported

Schema = dict[str, Any]

# client model -> the contract's schema of the same answer (or, for ReviewItem, request)
SCHEMA_OF: dict[type, str] = {
    models.TokenPair: "TokenPair",
    models.Me: "Me",
    models.ReadyReport: "Readiness",
    models.ReadyCheck: "Check",
    models.Submission: "Submission",
    models.Comment: "ReviewComment",
    models.SubmissionDetail: "SubmissionDetail",
    models.SubmissionPage: "SubmissionPage",
    models.ReviewItem: "ReviewItem",
    models.SubmissionState: "SubmissionState",
    models.ReviewResult: "ReviewResult",
    models.StoredFile: "StoredFile",
    models.StoragePage: "FileList",
    models.QuarantineResult: "MovedFile",
    models.DeletedFile: "DeletedFile",
    models.JobResult: "JobResult",
    models.Job: "Job",
}
# Fields the client keeps that are not in the answer's body, with the reason.
CLIENT_ONLY: dict[tuple[type, str], str] = {
    (models.ReadyReport, "http_status"): "the HTTP status of /ready (503 when not ready), not a body field",
}
ANSWERS = [model for model in SCHEMA_OF if model is not models.ReviewItem]  # ReviewItem is sent, not read
LIST_READERS = [  # the list answers read without a model of their own
    (models.jobs_from_json, "JobList", models.Job),
    (models.storage_files_from_json, "QuarantineList", models.StoredFile),
    (models.review_results_from_json, "ReviewBatchResult", models.ReviewResult),
]
JSON_TYPES: dict[type, str] = {int: "integer", str: "string", bool: "boolean", datetime: "string",
                               dict: "object", tuple: "array", list: "array"}


@pytest.fixture(scope="module")
def schemas() -> dict[str, Schema]:
    # Found the way tests/sandbox/api/test_contract.py finds it (the resource locator), not by a path here.
    found: dict[str, Schema] = read_exported()["components"]["schemas"]
    return found


def _non_null(node: Schema) -> tuple[Schema, bool]:
    """(the schema without its null branch, whether null is allowed)."""
    branches = node.get("anyOf")
    if branches is None:
        return node, node.get("type") == "null"
    rest = [b for b in branches if b.get("type") != "null"]
    assert len(rest) == 1, node
    return rest[0], len(rest) < len(branches)


def _hint(model: type, name: str) -> tuple[Any, bool]:
    """(the declared type without `| None`, whether it may be None)."""
    hint = typing.get_type_hints(model)[name]
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (types.UnionType, typing.Union) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        assert len(rest) == 1
        return rest[0], True
    return hint, False


def _ref(node: Schema) -> str:
    return str(node["$ref"]).rsplit("/", 1)[1]


def _check_type(model: type, name: str, hint: Any, node: Schema, schemas: dict[str, Schema]) -> None:
    where = f"{model.__name__}.{name}"
    origin = typing.get_origin(hint) or hint
    if dataclasses.is_dataclass(hint):
        assert "$ref" in node and _ref(node) == SCHEMA_OF[typing.cast(type, hint)], where
        return
    if origin is typing.Literal:
        assert node.get("type") == "string" and set(node.get("enum", typing.get_args(hint))) == set(
            typing.get_args(hint)), where
        return
    if origin is dict and "$ref" in node:  # a fixed set of named entries, each of the value type
        value_hint = typing.get_args(hint)[1]
        for entry in schemas[_ref(node)]["properties"].values():
            _check_type(model, f"{name}[...]", value_hint, entry, schemas)
        return
    assert node.get("type") == JSON_TYPES[origin], f"{where}: {node} is not {hint}"
    if hint is datetime:
        assert node.get("format") == "date-time", where
    if origin in (tuple, list):
        item_hint = typing.get_args(hint)[0]
        if dataclasses.is_dataclass(item_hint):
            assert _ref(node["items"]) == SCHEMA_OF[typing.cast(type, item_hint)], where


@pytest.mark.parametrize("model", list(SCHEMA_OF), ids=lambda m: m.__name__)
def test_a_model_has_the_contracts_fields_and_types(model: type, schemas: dict[str, Schema]) -> None:
    schema = schemas[SCHEMA_OF[model]]
    properties: dict[str, Schema] = schema["properties"]
    required = set(schema.get("required", ()))
    fields = {f.name: f for f in dataclasses.fields(model) if (model, f.name) not in CLIENT_ONLY}
    assert set(fields) == set(properties), f"{model.__name__} and {SCHEMA_OF[model]} name different fields"
    for name, field in fields.items():
        hint, may_be_none = _hint(model, name)
        node, nullable = _non_null(properties[name])
        _check_type(model, name, hint, node, schemas)
        has_default = field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
        if model is models.ReviewItem:  # sent: what the contract requires, the client always sends
            if name in required:
                assert not may_be_none and not nullable, f"ReviewItem.{name} is required by the contract"
        elif not may_be_none and not has_default:  # read: the client insists only on what is promised
            assert name in required and not nullable, (
                f"{model.__name__}.{name} is required by the client but may be missing or null in the contract")


def test_every_model_of_the_client_is_checked() -> None:
    declared = {cls for _name, cls in inspect.getmembers(models, dataclasses.is_dataclass)
                if isinstance(cls, type) and cls.__module__ == models.__name__}
    assert declared - set(SCHEMA_OF) == set(), "add the new model to SCHEMA_OF (or, for a part of one, say so)"


def _document(schema: Schema, schemas: dict[str, Schema], values: itertools.count[int], *, full: bool) -> Any:
    """A JSON value valid for `schema`: only the required properties (nullable ones null), or all of them
    with a distinct value each."""
    if "$ref" in schema:
        return _document(schemas[_ref(schema)], schemas, values, full=full)
    node, nullable = _non_null(schema)
    if nullable and not full:
        return None
    if "$ref" in node:
        return _document(node, schemas, values, full=full)
    if "const" in node:
        return node["const"]
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    n = next(values)
    if kind == "object":
        properties = node.get("properties", {})
        wanted = properties if full else [k for k in properties if k in node.get("required", ())]
        return {key: _document(properties[key], schemas, values, full=full) for key in wanted}
    if kind == "array":
        return [_document(node["items"], schemas, values, full=full)]
    if kind == "integer":
        return n
    if kind == "boolean":
        return n % 2 == 0
    if node.get("format") == "date-time":
        return f"2024-05-{1 + n % 28:02d}T08:{n % 60:02d}:00+00:00"
    return f"value {n}"


def _read(model: type, document: Any) -> Any:
    return getattr(model, "from_json")(document)  # noqa: B009 - every answer model has it


@pytest.mark.parametrize("full", [False, True], ids=["required fields only", "every field"])
@pytest.mark.parametrize("model", ANSWERS, ids=lambda m: m.__name__)
def test_from_json_reads_what_the_contract_allows(model: type, full: bool, schemas: dict[str, Schema]) -> None:
    schema = schemas[SCHEMA_OF[model]]
    document = _document(schema, schemas, itertools.count(1), full=full)
    parsed = _read(model, document)
    for name, value in document.items():
        if isinstance(value, dict | list):
            continue  # nested: read by the nested model, checked with it
        expected = parse_datetime(value) if _hint(model, name)[0] is datetime and value is not None else value
        assert getattr(parsed, name) == expected, f"{model.__name__}.{name}"
    for name in set(schema["properties"]) - set(document):  # left out: None or the client's default
        field = next(f for f in dataclasses.fields(model) if f.name == name)
        default = None if field.default is dataclasses.MISSING else field.default
        if field.default_factory is not dataclasses.MISSING:
            default = field.default_factory()
        assert getattr(parsed, name) == default, f"{model.__name__}.{name}"


@pytest.mark.parametrize(("reader", "schema_name", "item_model"), LIST_READERS, ids=lambda x: getattr(x, "__name__", x))
def test_list_answers_are_read_item_by_item(reader: Any, schema_name: str, item_model: type,
                                            schemas: dict[str, Schema]) -> None:
    schema = schemas[schema_name]
    (key,) = schema["required"]
    assert _ref(schema["properties"][key]["items"]) == SCHEMA_OF[item_model]
    document = _document(schema, schemas, itertools.count(1), full=True)
    parsed = reader(document)
    assert len(parsed) == 1 and isinstance(parsed[0], item_model)


def test_a_review_item_sends_every_field_of_the_contract(schemas: dict[str, Schema]) -> None:
    item = models.ReviewItem(upload_id=1, base_version=2, decision="approve")
    sent = item.to_json()
    schema = schemas["ReviewItem"]
    assert set(sent) == set(schema["properties"])
    assert all(sent[key] is not None for key in schema["required"])
