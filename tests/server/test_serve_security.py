"""Security on by default: every route of the route table refuses a missing or wrong token, a foreign
Host and a foreign Origin; bodies are size-limited; the token never shows; binding beyond loopback
needs a token set on purpose; a missing extra is a usage error."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable

import httpx
import pytest

from tests.cli.helpers import Cli

from .serving import TOKEN, Server, free_port, start_demo, wait_status

pytestmark = pytest.mark.errors

Serve = Callable[..., Server]


def _route_table() -> list[tuple[str, str]]:
    """(method, path) of every route the application serves, path parameters filled in."""
    from quorum.server.routes import route_table

    return [(method, re.sub(r"\{[^}]+\}", "0000", path)) for method, path in route_table()]


def test_the_route_table_is_walked_whole() -> None:
    table = _route_table()
    paths = {p for _, p in table}
    # the walk sees what the API documents; a new route is in it without anyone listing it
    assert {"/api/v1/tasks", "/api/v1/executions", "/api/v1/executions/0000/events", "/api/v1/events",
            "/api/v1/executions/0000/fork", "/api/v1/executions/0000/children", "/api/v1/dry-runs",
            "/api/v1/healthz", "/healthz"} <= paths
    assert len(table) >= 15


def test_the_route_table_holds_every_route_the_openapi_document_describes(serve: Serve) -> None:
    from quorum.server.routes import route_table

    server = serve()
    with server.client() as client:
        document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    described = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert described <= set(route_table())


def test_every_route_refuses_no_token_a_bad_token_a_bad_host_and_a_foreign_origin(serve: Serve) -> None:
    server = serve()
    checked = 0
    with httpx.Client(base_url=server.url, timeout=30) as raw:
        for method, path in _route_table():
            good = {"Authorization": f"Bearer {TOKEN}"}
            cases = {
                "bad host": ({**good, "Host": "evil.example:8300"}, 400),
                "foreign origin": ({**good, "Origin": "https://evil.example"}, 403),
            }
            if path not in ("/healthz", "/api/v1/healthz"):
                cases["no token"] = ({}, 401)
                cases["bad token"] = ({"Authorization": f"Bearer {TOKEN}x"}, 401)
                cases["not bearer"] = ({"Authorization": f"Basic {TOKEN}"}, 401)
            for what, (headers, status) in cases.items():
                answer = raw.request(method, path, headers=headers, json={} if method == "POST" else None)
                assert answer.status_code == status, (method, path, what, answer.text)
                assert answer.headers["content-type"] == "application/problem+json"
                assert TOKEN not in answer.text
                checked += 1
        assert raw.get("/healthz").status_code == 200
        assert raw.get("/api/v1/healthz").json()["status"] == "ok"
    assert checked >= 60


def test_bodies_are_size_limited(serve: Serve) -> None:
    server = serve()
    with server.client() as client:
        big = client.post("/tasks/validate", json={"markdown": "x" * 2_000_000})
        assert big.status_code == 413, big.text
        assert "larger than 1000000 bytes" in big.json()["detail"]

        def chunks() -> object:
            for _ in range(40):
                yield b"x" * 50_000

        streamed = client.post("/tasks/validate", content=chunks(),  # type: ignore[arg-type]
                               headers={"content-type": "application/json"})
        assert streamed.status_code == 413, streamed.text


def test_the_token_appears_in_no_answer_event_or_log(serve: Serve) -> None:
    server = serve()
    with server.client() as client:
        execution_id = start_demo(client)
        wait_status(client, execution_id, ("completed",))
        texts = [client.get(f"/executions/{execution_id}/export").text,
                 client.get(f"/executions/{execution_id}").text,
                 client.get("/executions").text,
                 client.get("/openapi.json").text]
    server.stop()
    assert all(TOKEN not in t for t in texts)
    assert TOKEN not in server.output()
    assert "API token: from QUORUM_API_TOKEN" in server.output()


def test_a_generated_token_is_printed_once_and_works(serve: Serve) -> None:
    server = serve(token=None)
    found = re.findall(r"API token \(made for this run[^)]*\): (\S+)", server.output())
    assert len(found) == 1
    with server.client(token=found[0]) as client:
        assert client.get("/tasks").status_code == 200
    with server.client(token="") as client:
        assert client.get("/tasks").status_code == 401


def test_listening_beyond_loopback_needs_a_token_set_on_purpose(cli: Cli) -> None:
    result = cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), timeout=60)
    assert result.code == 2, result
    assert "listening on 0.0.0.0 (not a loopback address) needs a token set on purpose" in result.err
    short = cli("serve", "--port", str(free_port()), env={"QUORUM_API_TOKEN": "short"}, timeout=60)
    assert short.code == 2, short
    assert "too short" in short.err
    assert "Traceback" not in result.err + short.err


def test_a_missing_serve_extra_is_a_usage_error_naming_it(cli: Cli) -> None:
    code = ("import sys; sys.modules['uvicorn'] = None; from quorum.cli.app import run_app; "
            "run_app(['serve'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=cli.cwd, env=cli.env, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2, proc
    assert "pip install 'quorum[serve]'" in proc.stderr
    assert "Traceback" not in proc.stderr
