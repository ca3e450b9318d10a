"""The dashboard behind the API's gate: every page and web route refuses what the API's routes refuse;
a browser without a session gets the login page and no data; the login link works once; the session
cookie is HttpOnly and SameSite=Strict, and a change made with it must come from the page's own origin."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest

from tests.server.serving import TOKEN, Server, start_demo, wait_status

from .browser import Watched

pytestmark = pytest.mark.errors

Serve = Callable[..., Server]
_PROBLEM = "application/problem+json"
_HTML = {"Accept": "text/html,application/xhtml+xml,application/xhtml+xml;q=0.9,*/*;q=0.8"}


def _table() -> list[tuple[str, str]]:
    from quorum.web import web_route_table

    return [(method, re.sub(r"\{[^}]+\}", "0000", path)) for method, path in web_route_table()]


def test_the_web_route_table_holds_every_page() -> None:
    paths = {p for _, p in _table()}
    assert {"/", "/executions/0000", "/start", "/compare", "/tasks", "/tasks/0000", "/login", "/logout",
            "/api/v1/web/executions"} <= paths


def test_every_page_refuses_no_token_a_bad_token_a_bad_host_and_a_foreign_origin(serve: Serve) -> None:
    server = serve()
    checked = 0
    with httpx.Client(base_url=server.url, timeout=30) as raw:
        for method, path in _table():
            good = {"Authorization": f"Bearer {TOKEN}"}
            cases = {
                "bad host": ({**good, "Host": "evil.example:8300"}, 400, _PROBLEM),
                "foreign origin": ({**good, "Origin": "https://evil.example"}, 403, _PROBLEM),
                "no token": ({}, 401, _PROBLEM),
                "bad token": ({"Authorization": f"Bearer {TOKEN}x"}, 401, _PROBLEM),
                "forged cookie": ({"Cookie": "quorum_session=v1.99999999999.forged"}, 401, _PROBLEM),
            }
            if method == "GET" and not path.startswith("/api/"):
                cases["browser, no session"] = (_HTML, 401, "text/html; charset=utf-8")
            for what, (headers, status, kind) in cases.items():
                answer = raw.request(method, path, headers=headers, json={} if method == "POST" else None)
                assert answer.status_code == status, (method, path, what, answer.text)
                assert answer.headers["content-type"] == kind, (method, path, what)
                assert TOKEN not in answer.text
                assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
                checked += 1
    assert checked >= 50


def test_a_browser_without_a_session_gets_the_login_page_and_no_data(serve: Serve) -> None:
    server = serve()
    with server.client() as client:
        execution_id = start_demo(client)
        wait_status(client, execution_id, ("completed",))
    with httpx.Client(base_url=server.url, timeout=30, headers=_HTML) as browser:
        for path in ("/", f"/executions/{execution_id}", "/tasks", "/tasks/cli-demo", "/start", "/compare"):
            page = browser.get(path)
            assert page.status_code == 401, path
            assert "Log in to the quorum dashboard" in page.text
            # the only thing of the request in it: where to go after logging in (the path asked for)
            assert f'name="next" value="{path}"' in page.text
            text = page.text.replace(f'name="next" value="{path}"', "")
            for data in ("cli-demo", "APPROVE", execution_id):
                assert data not in text, (path, data)
        assert browser.get("/api/v1/executions").status_code == 401
        assert browser.get(f"/api/v1/executions/{execution_id}/events").status_code == 401
        # the static files are the same for everyone (the login page needs its stylesheet)
        from quorum.web.assets import static_url

        assert browser.get(static_url("app.css")).status_code == 200


def test_the_printed_login_link_works_once_and_leaves_the_url(serve: Serve) -> None:
    server = serve(token=None)  # a generated token: the link is the browser's only way in
    found = re.findall(r"dashboard \(one-time login link\): (http://\S+/\?token=(\S+))", server.output())
    assert len(found) == 1, server.output()
    link, code = found[0]
    assert code not in re.findall(r"API token \(made for this run[^)]*\): (\S+)", server.output())
    with httpx.Client(timeout=30, headers=_HTML) as browser:
        first = browser.get(link)
        assert first.status_code == 303
        assert first.headers["location"] == "/"
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Path=/" in cookie
        assert code not in cookie
        home = browser.get(server.url + "/")
        assert home.status_code == 200
        assert "<h1>Executions</h1>" in home.text
        assert browser.get(server.url + "/api/v1/tasks", headers={"Accept": "*/*"}).status_code == 200
    with httpx.Client(timeout=30, headers=_HTML) as other:
        again = other.get(link)  # used up
        assert again.status_code == 401
        assert "not valid" in again.text
        assert code not in again.text


def test_the_login_form_takes_the_token_and_goes_back_to_the_page_asked_for(serve: Serve) -> None:
    server = serve()
    origin = {"Origin": server.url}
    with httpx.Client(base_url=server.url, timeout=30, headers=_HTML) as browser:
        wrong = browser.post("/login", data={"token": "nope", "next": "/tasks"}, headers=origin)
        assert wrong.status_code == 401
        assert "not valid" in wrong.text
        outside = browser.post("/login", data={"token": TOKEN, "next": "//evil.example/"}, headers=origin)
        assert outside.status_code == 303
        assert outside.headers["location"] == "/"
        right = browser.post("/login", data={"token": TOKEN, "next": "/tasks"}, headers=origin)
        assert right.status_code == 303
        assert right.headers["location"] == "/tasks"
        assert browser.get("/tasks").status_code == 200
        out = browser.post("/logout", headers=origin)
        assert out.status_code == 303
        assert "Max-Age=0" in out.headers["set-cookie"]
        assert browser.get("/tasks").status_code == 401


def test_a_change_with_the_session_cookie_needs_the_pages_own_origin(serve: Serve) -> None:
    server = serve()
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        assert browser.get(f"/?token={TOKEN}").status_code == 303
        assert browser.cookies.get("quorum_session")
        with server.client() as client:
            execution_id = start_demo(client)
            wait_status(client, execution_id, ("completed",))
        path = f"/api/v1/executions/{execution_id}/pause"
        port = server.port
        for what, headers in {
            "no Origin": {},
            "another port of the same host": {"Origin": f"http://127.0.0.1:{port + 1}"},
            "the other loopback name": {"Origin": f"http://localhost:{port}"},
            "null": {"Origin": "null"},
        }.items():
            answer = browser.post(path, json={}, headers=headers)
            assert answer.status_code == 403, (what, answer.text)
        same = browser.post(path, json={}, headers={"Origin": server.url})
        assert same.status_code == 409, same.text  # through the gate; the execution has ended
        assert browser.get(f"/api/v1/executions/{execution_id}").status_code == 200  # reads need no Origin


def test_no_page_has_inline_script_or_style(serve: Serve) -> None:
    from quorum.web import STATIC_DIR

    templates = STATIC_DIR.parent / "templates"
    for template in templates.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        # a JSON data block is not a script (never executed; read with textContent + JSON.parse)
        assert not re.search(r'<script(?![^>]*\b(src=|type="application/json"))', text), template.name
        assert not re.search(r"<style| style=", text), template.name
        assert not re.search(r"\son[a-z]+=", text), template.name
    for module in (STATIC_DIR / "js").glob("*.js"):
        code = module.read_text(encoding="utf-8")
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write", code), module.name


def test_watched_pages_report_a_csp_refusal() -> None:
    """The guard the browser tests rely on: a refusal logged by Chromium is kept as an error."""

    class Message:
        type = "error"
        text = "Refused to execute inline script because it violates the following CSP directive"

    class Page:
        def on(self, *_: object) -> None:
            pass

    w = Watched(Page())  # type: ignore[arg-type]
    w._console(Message())  # type: ignore[arg-type]
    with pytest.raises(AssertionError):
        w.assert_clean()


def test_a_page_that_fails_is_a_page_with_the_apis_detail(serve: Serve) -> None:
    server = serve()
    with httpx.Client(base_url=server.url, timeout=30, headers=_HTML) as browser:
        assert browser.get(f"/?token={TOKEN}").status_code == 303
        missing = browser.get("/executions/ffffffffffff")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("text/html")
        assert "no execution with id &#39;ffffffffffff&#39;" in missing.text
        unknown = browser.get("/tasks/no-such-task")
        assert unknown.status_code == 404, unknown.text
        assert unknown.headers["content-type"].startswith("text/html")
        api = browser.get("/api/v1/executions/ffffffffffff", headers={"Accept": "*/*"})
        assert api.status_code == 404
        assert api.headers["content-type"] == "application/problem+json"  # the API stays JSON
