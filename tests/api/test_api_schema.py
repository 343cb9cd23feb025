"""Every operation of the OpenAPI schema, fuzzed: no 5xx, and answers match their schemas.

A property test in the spirit of schemathesis (not installed here): hypothesis draws each
parameter from its schema, mixed with values that reach real data (asset paths, tag ids, the
plant's time range, a real shift), and request bodies from their schemas. Every JSON answer
with a 2xx status is validated against the response schema the OpenAPI document declares.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from andon.api import create_app
from andon.config import Settings
from andon.historian import DuckDBHistorian, WriteBatch
from andon.signals import Metrics

from .test_api_reports import LINE, M1, M2, T6, plant

MIN = 60_000
SKIP = {("GET", "/api/v1/live")}  # an endless stream: tested in test_api_live.py
JSON = dict[str, Any]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    historian = plant(tmp_path_factory.mktemp("schema") / "plant.duckdb")
    batch = WriteBatch.empty()
    batch.metrics += [
        Metrics(M1, T6 + i * 10_000, {"spindle_temp_c": 60 + i % 7, "torque_nm": 40.0})
        for i in range(360)
    ]
    historian.write(batch)
    yield create_app(Settings(), historian=historian)
    historian.close()


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _schema(app: FastAPI) -> JSON:
    return app.openapi()


def _operations() -> list[tuple[str, str]]:
    app = create_app(Settings(), historian=DuckDBHistorian(":memory:"))
    found = [
        (method.upper(), path)
        for path, item in _schema(app)["paths"].items()
        for method in item
        if (method.upper(), path) not in SKIP
    ]
    return sorted(found)


# -- a JSON Schema subset (what FastAPI emits for OpenAPI 3.1) ---------------------------------


def _resolve(schema: JSON, root: JSON) -> JSON:
    while "$ref" in schema:
        node: Any = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


_TYPES: dict[str, Any] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": type(None),
}


def _type_ok(value: Any, kind: str) -> bool:
    if kind in {"integer", "number"} and isinstance(value, bool):
        return False
    return isinstance(value, _TYPES[kind])


def validate(value: Any, schema: JSON, root: JSON, at: str = "$") -> list[str]:
    """Errors of ``value`` against ``schema`` (empty when it conforms)."""
    schema = _resolve(schema, root)
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [validate(value, s, root, at) for s in schema[key]]
            return [] if any(not o for o in options) else [f"{at}: matches no {key} option"]
    errors: list[str] = []
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind else []
    if kinds and not any(_type_ok(value, k) for k in kinds):
        return [f"{at}: {value!r:.60} is not {kind}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{at}: {value!r} not in {schema['enum']}")
    if "const" in schema and value != schema["const"]:
        errors.append(f"{at}: {value!r} is not {schema['const']!r}")
    if isinstance(value, dict):
        errors += _validate_object(value, schema, root, at)
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += validate(item, schema["items"], root, f"{at}[{i}]")
    return errors


def _validate_object(value: JSON, schema: JSON, root: JSON, at: str) -> list[str]:
    errors = [f"{at}: missing {k!r}" for k in schema.get("required", []) if k not in value]
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            errors += validate(item, properties[key], root, f"{at}.{key}")
        elif isinstance(extra, dict):
            errors += validate(item, extra, root, f"{at}.{key}")
        elif extra is False:
            errors.append(f"{at}: unexpected {key!r}")
    return errors


def test_the_validator_catches_mismatches() -> None:
    root: JSON = {
        "components": {
            "schemas": {
                "P": {"type": "object", "required": ["a"], "properties": {"a": {"type": "integer"}}}
            }
        }
    }
    ref = {"$ref": "#/components/schemas/P"}
    assert validate({"a": 1}, ref, root) == []
    assert validate({"a": "1"}, ref, root) == ["$.a: '1' is not integer"]
    assert validate({}, ref, root) == ["$: missing 'a'"]
    assert validate([{"a": True}], {"type": "array", "items": ref}, root) == [
        "$[0].a: True is not integer"
    ]
    assert validate(None, {"anyOf": [ref, {"type": "null"}]}, root) == []


# -- drawing requests from the schema -----------------------------------------------------------

_REAL: dict[str, list[Any]] = {
    "asset": [LINE, M1, M2, "acme", "acme/p1/mach", "nope/x", ""],
    "from": [T6, T6 + 60 * MIN, "2025-11-21T06:00:00Z", "2025-11-21T05:00:00+01:00"],
    "to": [T6 + 120 * MIN, T6 + 480 * MIN, "2025-11-21T14:00:00Z"],
    "shift": ["2025-11-21/early", "2025-11-21/late", "2025-11-22/early"],
    "tag": [1, 2],
    "by": ["hour", "shift", "day", "week"],
}


def _strategy(schema: JSON, root: JSON, depth: int = 0) -> st.SearchStrategy[Any]:
    schema = _resolve(schema, root)
    if "anyOf" in schema:
        return st.one_of([_strategy(s, root, depth) for s in schema["anyOf"]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "integer":
        low, high = schema.get("minimum"), schema.get("maximum")
        return st.integers(min_value=low, max_value=high) | st.integers()
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False) | st.integers(-10, 10**13)
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        return st.text(max_size=40)
    if kind == "null":
        return st.none()
    if kind == "array":
        items = schema.get("items", {})
        return st.lists(_strategy(items, root, depth + 1), max_size=3 if depth < 2 else 0)
    if kind == "object" or "properties" in schema:
        return _object(schema, root, depth)
    return st.from_type(type(None)) | st.integers() | st.text(max_size=10)


def _object(schema: JSON, root: JSON, depth: int) -> st.SearchStrategy[JSON]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    fields = {
        name: (_strategy(sub, root, depth + 1) if depth < 3 else st.none())
        for name, sub in properties.items()
    }
    needed = st.fixed_dictionaries({k: v for k, v in fields.items() if k in required})
    optional = st.fixed_dictionaries(
        {}, optional={k: v for k, v in fields.items() if k not in required}
    )
    return st.builds(lambda a, b: {**a, **b}, needed, optional)


def _parameter(parameter: JSON, root: JSON) -> st.SearchStrategy[Any]:
    drawn = _strategy(parameter["schema"], root)
    real = _REAL.get(parameter["name"])
    return st.sampled_from(real) | drawn if real else drawn


def _request(method: str, path: str, root: JSON) -> st.SearchStrategy[JSON]:
    operation = root["paths"][path][method.lower()]
    parameters = operation.get("parameters", [])
    query = {p["name"]: _parameter(p, root) for p in parameters if p["in"] == "query"}
    path_params = {p["name"]: _parameter(p, root) for p in parameters if p["in"] == "path"}
    required = {p["name"] for p in parameters if p.get("required")}
    body_schema = (
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/json", {})
        .get("schema")
    )
    body = _strategy(body_schema, root) if body_schema else st.none()
    return st.fixed_dictionaries(
        {
            "query": st.fixed_dictionaries(
                {k: v for k, v in query.items() if k in required},
                optional={k: v for k, v in query.items() if k not in required},
            ),
            "path": st.fixed_dictionaries(path_params),
            "body": body,
        }
    )


def _url(path: str, values: JSON) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: quote(str(values[m.group(1)]), safe="") or "x", path)


def _check(client: TestClient, root: JSON, method: str, path: str, drawn: JSON) -> None:
    query = {
        k: ("true" if v is True else "false" if v is False else v)
        for k, v in drawn["query"].items()
    }
    response = client.request(
        method,
        _url(path, drawn["path"]),
        params={k: v for k, v in query.items() if v is not None},
        json=drawn["body"],
    )
    assert response.status_code < 500, (method, path, drawn, response.text[:500])
    kind = response.headers.get("content-type", "")
    if response.status_code >= 300 or not kind.startswith("application/json"):
        return
    declared = root["paths"][path][method.lower()]["responses"]
    answer = declared.get(str(response.status_code)) or declared.get("200") or {}
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if schema is not None:
        errors = validate(response.json(), schema, root)
        assert not errors, (method, path, drawn, errors[:5])


@pytest.mark.parametrize(("method", "path"), _operations(), ids=lambda x: str(x))
def test_no_5xx_and_answers_match_their_schema(
    client: TestClient, app: FastAPI, method: str, path: str
) -> None:
    root = _schema(app)
    examples = 4 if path == "/api/v1/reports/shift" else 25

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(drawn=_request(method, path, root))
    def run(drawn: JSON) -> None:
        _check(client, root, method, path, drawn)

    run()


def _free_form(schema: JSON) -> bool:
    """An object (or list of objects) whose fields the schema does not name."""
    if schema.get("type") == "array":
        return _free_form(schema.get("items", {}))
    return schema.get("type") == "object" and "properties" not in schema


def test_every_operation_declares_a_typed_answer(app: FastAPI) -> None:
    """Every JSON answer has a schema that names its fields."""
    untyped = set()
    for path, item in _schema(app)["paths"].items():
        for method, operation in item.items():
            ok = operation["responses"].get("200") or operation["responses"].get("201") or {}
            schema = ok.get("content", {}).get("application/json", {}).get("schema")
            if schema is not None and _free_form(schema):
                untyped.add(f"{method.upper()} {path}")
    # Routes of other domains that answer free-form objects today (reported to their owners);
    # a new one fails here, a fixed one is welcome.
    assert untyped <= KNOWN_UNTYPED, sorted(untyped - KNOWN_UNTYPED)


KNOWN_UNTYPED = {
    "GET /api/v1/oee",
    "POST /api/v1/orders/import",
    "GET /api/v1/shifts/windows",
    "GET /api/v1/reasons",
    "PUT /api/v1/reasons",
    "GET /api/v1/downtime/annotations",
    "POST /api/v1/downtime/annotations",
    "DELETE /api/v1/downtime/annotations/{annotation_id}",
    "POST /api/v1/scrap",
    "POST /api/v1/lots",
    "POST /api/v1/lots/links",
    "GET /api/v1/trace/{lot}",
    "GET /api/v1/audit",
    "GET /api/v1/audit/verify",
}
