"""A property-based run against the served OpenAPI document (what schemathesis does): for every
operation it describes, generated path parameters, query strings and JSON bodies — well-formed and
not — never get a 500, and every refusal is problem+json."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .serving import Server, start_demo, wait_status

pytestmark = pytest.mark.errors

Serve = Callable[..., Server]

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


def _value(schema: dict[str, Any], document: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values for a schema: mostly of its type, sometimes anything at all."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _value(document["components"]["schemas"][name], document)
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        return st.one_of([_value(o, document) for o in options])
    kind = schema.get("type")
    typed: st.SearchStrategy[Any]
    if "enum" in schema:
        typed = st.sampled_from(schema["enum"])
    elif kind == "integer":
        typed = st.integers(-5, 10**6)
    elif kind == "number":
        typed = st.floats(allow_nan=False, allow_infinity=False)
    elif kind == "boolean":
        typed = st.booleans()
    elif kind == "string":
        typed = st.text(max_size=40) | st.sampled_from(["cli-demo", "Analysis", "1h", "running", "json"])
    elif kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        typed = st.fixed_dictionaries(
            {}, optional={k: _value(v, document) for k, v in properties.items()}
        ) if properties else st.dictionaries(st.text(max_size=10), _JSON, max_size=4)
    elif kind == "array":
        typed = st.lists(_value(schema.get("items", {}), document), max_size=3)
    elif kind == "null":
        typed = st.none()
    else:
        typed = _JSON
    return st.one_of(typed, typed, typed, _JSON)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(method.upper(), path, operation) for path, item in document["paths"].items()
            for method, operation in item.items()]


def _exerciser(client: httpx.Client, document: dict[str, Any], known: str, method: str, path: str,
               operation: dict[str, Any], failures: list[str], seen: set[int]) -> Callable[[], None]:
    parameters: list[dict[str, Any]] = operation.get("parameters", [])
    body_schema = (operation.get("requestBody", {}).get("content", {})
                   .get("application/json", {}).get("schema"))
    ids = st.sampled_from([known, known[:6]]) | st.text(min_size=1, max_size=30)

    @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def exercise(data: st.DataObject) -> None:
        url = path
        query: dict[str, str] = {}
        headers: dict[str, str] = {}
        for p in parameters:
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", quote(str(data.draw(ids)), safe=""))
            elif data.draw(st.booleans()):
                value = data.draw(_value(p.get("schema", {}), document))
                if p["in"] == "query" and value is not None:
                    query[p["name"]] = str(value)
                elif p["in"] == "header" and isinstance(value, str):
                    # what HTTP allows in a header value (anything else never reaches the app)
                    headers[p["name"]] = "".join(c for c in value if " " <= c <= "~").strip()[:100]
        body = None
        if body_schema is not None and data.draw(st.booleans()):
            body = data.draw(_value(body_schema, document))
        with client.stream(method, url, params=query, headers=headers, json=body) as answer:
            seen.add(answer.status_code)
            if answer.status_code >= 500:
                answer.read()
                failures.append(f"{method} {url} {query} {body!r} -> {answer.status_code} {answer.text}")
            elif answer.status_code >= 400:
                assert answer.headers["content-type"] == "application/problem+json", (method, url)

    return exercise


def test_no_generated_request_gets_a_500(serve: Serve) -> None:
    server = serve()
    with server.client() as client:
        known = start_demo(client)
        wait_status(client, known, ("completed",))
        document = client.get("/openapi.json").json()
    operations = _operations(document)
    assert len(operations) >= 13
    failures: list[str] = []
    seen: set[int] = set()
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"},
                      timeout=60) as client:
        for method, path, operation in operations:
            if path == "/api/v1/events":
                continue  # never ends by design; its refusals are in the security table
            _exerciser(client, document, known, method, path, operation, failures, seen)()
    assert failures == []
    assert {200, 404, 409, 422} <= seen  # the requests reached the routes, not only the gate
