"""The dashboard in a real Chromium against a real ``quorum serve``: the scenarios of issue 18.

Each test leaves screenshots of the states it reached in tests/web/artifacts/ (kept out of git), and
ends by checking that the page logged no script error and no Content-Security-Policy violation.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from tests.cli.helpers import AGENTS
from tests.server.serving import DEMO_INPUT, TOKEN, Server, start_demo, wait_status

from .browser import PHONE, VIEWPORT, Watched, logged_in, restart_on_same_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Serve = Callable[..., Server]
_WAIT_MS = 60_000
_SEQUENCES = "rows => rows.map(r => Number(r.cells[0].textContent))"


@pytest.fixture
def watched() -> Iterator[list[Watched]]:
    pages: list[Watched] = []
    yield pages
    for w in pages:
        w.assert_clean()
        w.page.context.close()


def _open(browser: Browser, server: Server, pages: list[Watched], **context: object) -> Watched:
    w = logged_in(browser, server, **context)
    pages.append(w)
    return w


def _text(page: Page, selector: str) -> str:
    """The text of an element even when it is off screen (content-visibility: auto skips its layout,
    and innerText, which depends on layout, is then empty)."""
    return page.text_content(selector) or ""


def _row(page: Page, execution_id: str, status: str) -> None:
    row = f"#executions tr[data-id='{execution_id}'][data-status='{status}']"
    page.wait_for_selector(row, timeout=_WAIT_MS)


def _status(w: Watched, status: str) -> None:
    w.page.wait_for_selector(f"#exec-status[data-status='{status}']", timeout=_WAIT_MS)


def test_start_from_the_form_a_bad_amount_is_shown_beside_the_field_then_a_good_one_runs(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve()
    w = _open(dashboard_browser, server, watched)
    page = w.page
    page.goto(f"{server.url}/start")
    page.select_option("#task", "cli-demo")
    page.wait_for_selector("#field-amount")
    # the form follows the requirements: an enum is a select, a boolean a checkbox with its default
    assert page.eval_on_selector("#field-riskTolerance", "e => e.tagName") == "SELECT"
    assert page.eval_on_selector("#field-extended", "e => e.type + ':' + e.checked") == "checkbox:false"
    page.fill("#field-ticker", "BTC")
    page.fill("#field-amount", "0")
    page.select_option("#field-riskTolerance", "medium")
    w.shot("start-form")
    page.click("#start button[type=submit]")
    page.wait_for_selector("#field-amount-error:not([hidden])")
    assert "at least 1" in page.inner_text("#field-amount-error")
    assert page.get_attribute("#field-amount", "aria-invalid") == "true"
    assert page.is_hidden("#field-ticker-error")
    assert page.url.endswith("/start")
    w.shot("start-bad-amount")
    page.fill("#field-amount", "10000")
    page.click("#start button[type=submit]")
    page.wait_for_url("**/executions/*")
    _status(w, "completed")
    assert page.inner_text("#memo .decision") == "APPROVE_WITH_CONDITIONS"
    w.shot("start-good-amount-execution")


def test_phases_turn_complete_in_order_without_a_reload(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve(delay="2")
    w = _open(dashboard_browser, server, watched)
    page = w.page
    with server.client() as client:
        execution_id = start_demo(client)
        page.goto(f"{server.url}/executions/{execution_id}")
        page.wait_for_selector("#dag svg")
        page.evaluate("""() => {
            window.__sameDocument = true;
            window.__completed = [];
            const seen = () => document.querySelectorAll('#dag g.node[data-status=completed]').forEach(n => {
              if (!window.__completed.includes(n.dataset.phase)) window.__completed.push(n.dataset.phase); });
            seen();
            new MutationObserver(seen).observe(document.querySelector('#dag'),
                {childList: true, subtree: true, attributes: true, attributeFilter: ['data-status']});
        }""")
        page.wait_for_selector("#dag g.node[data-phase='Analysis'][data-status='running']", timeout=_WAIT_MS)
        w.shot("execution-running")
        _status(w, "completed")
        done = wait_status(client, execution_id, ("completed",))
    order = page.evaluate("window.__completed")
    assert page.evaluate("window.__sameDocument") is True  # the same document: no reload
    assert [p for p in order if p != "Intake"] == ["Analysis", "Verdict"], order
    assert page.get_attribute("#dag g.node[data-phase='Deep Dive']", "data-status") == "skipped"
    # durations beside each phase, the critical path named in text
    assert _text(page, "details.phase[data-phase='Analysis'] summary").endswith(" s")
    assert "Intake → Analysis → Verdict" in page.inner_text("#critical")
    assert _text(page, "details.phase[data-phase='Analysis'] .tally").startswith("Tally: bullish 2")
    rows = page.eval_on_selector_all("#log tbody tr", _SEQUENCES)
    assert rows == list(range(1, done["last_sequence"] + 1))
    w.shot("execution-completed")
    page.set_viewport_size(PHONE)
    w.shot("execution-phone")


def test_pause_shows_the_status_then_resume_finishes(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve(delay="3")
    w = _open(dashboard_browser, server, watched)
    page = w.page
    with server.client() as client:
        execution_id = start_demo(client)
        page.goto(f"{server.url}/executions/{execution_id}")
        page.wait_for_selector("#dag g.node[data-phase='Analysis'][data-status='running']", timeout=_WAIT_MS)
        page.click("#pause")
        _status(w, "paused")
        assert page.is_enabled("#resume")
        assert page.is_disabled("#pause")
        assert wait_status(client, execution_id, ("paused",))["status"] == "paused"
        w.shot("execution-paused")
        page.click("#resume")
        _status(w, "completed")
    assert "execution:resumed" in _text(page, "#log")
    w.shot("execution-resumed-completed")


def test_an_approval_gate_is_approved_from_the_page_and_the_verdict_appears(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve()
    w = _open(dashboard_browser, server, watched)
    page = w.page
    with server.client() as client:
        started = client.post("/executions", json={"task": "gated-purchase",
                                                   "input": {"ticker": "BTC", "amount": 10}})
        assert started.status_code == 201, started.text
        execution_id = started.json()["id"]
        page.goto(f"{server.url}/executions/{execution_id}")
        _status(w, "waiting")
        page.wait_for_selector("form.approval[data-gate='Sign-off/0']")
        assert "Buy 10 of BTC?" in page.inner_text("form.approval legend")
        w.shot("approval-waiting")
        page.check("form.approval input[value='approve']")
        page.fill("form.approval input[name='by']", "alice")
        page.fill("form.approval textarea[name='comment']", "within mandate")
        page.click("form.approval button[type=submit]")
        _status(w, "completed")
        done = wait_status(client, execution_id, ("completed",))
    page.wait_for_selector("#approvals", state="hidden", timeout=_WAIT_MS)
    memo = page.inner_text("#memo")
    assert done["verdict"], done
    assert "alice" in memo or "approve" in memo, memo
    w.shot("approval-approved-verdict")


def test_abort_from_the_page(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve(delay="3")
    w = _open(dashboard_browser, server, watched)
    page = w.page
    with server.client() as client:
        execution_id = start_demo(client)
        page.goto(f"{server.url}/executions/{execution_id}")
        page.wait_for_selector("#dag g.node[data-phase='Analysis'][data-status='running']", timeout=_WAIT_MS)
        page.click("#abort")  # the confirm() is accepted (browser.Watched)
        _status(w, "aborted")
        assert wait_status(client, execution_id, ("aborted",))["status"] == "aborted"
    assert page.is_disabled("#abort")
    w.shot("execution-aborted")


def test_compare_two_runs_marks_what_differs(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve()
    with server.client() as client:
        small = start_demo(client, amount=10_000)
        large = start_demo(client, amount=60_000)
        wait_status(client, small, ("completed",))
        wait_status(client, large, ("completed",))
    w = _open(dashboard_browser, server, watched)
    page = w.page
    page.goto(f"{server.url}/compare")
    page.fill("input[name=a]", small[:8])
    page.fill("input[name=b]", large[:8])
    page.click("#pick button[type=submit]")
    page.wait_for_selector("table.compare")

    def differs(group: str, key: str) -> str | None:
        return page.get_attribute(f"table.compare tr[data-group='{group}'][data-key='{key}']", "data-differs")

    assert differs("Input", "amount") == "1"
    assert differs("Input", "ticker") == "0"
    assert differs("Stance", "Analysis · analyst-a") == "1"  # bullish below 50,000, bearish above
    assert differs("Votes", "Analysis") == "1"  # the consensus's own counts: bullish 2 against bearish 2
    votes = page.locator("table.compare tr[data-group='Votes'][data-key='Analysis']").inner_text()
    assert "bullish 2 → bullish" in votes, votes
    assert "bearish 2 → bearish" in votes, votes
    assert differs("Verdict", "approved_amount") == "1"
    assert differs("Verdict", "decision") == "0"
    assert page.inner_text("table.compare tr.differs .mark").strip() == "≠"
    w.shot("compare")


def test_the_page_reconnects_after_the_server_restarts_mid_run_and_loses_nothing(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve()
    # driven by a `quorum run` of its own, so the run goes on while the server is down
    run = server.cli.popen("run", str(server.cli.cwd.parent / "tasks" / "cli-demo.md"),
                           *(f"{k}={v}" for k, v in DEMO_INPUT.items()), "--agents-dir", str(AGENTS),
                           "--json", env={"QUORUM_TEST_DELAY": "6"})
    restarted: Server | None = None
    try:
        server.cli.wait_for(lambda: server.cli.newest_id() is not None, timeout=30, what="the run to start")
        execution_id = server.cli.newest_id()
        w = _open(dashboard_browser, server, watched)
        page = w.page
        page.goto(f"{server.url}/executions/{execution_id}")
        page.wait_for_selector("#dag g.node[data-phase='Analysis'][data-status='running']", timeout=_WAIT_MS)
        page.evaluate("window.__sameDocument = true")
        restarted = restart_on_same_port(server)
        # the restart came before the verdict: what follows reached the page over a new connection
        assert page.get_attribute("#dag g.node[data-phase='Verdict']", "data-status") != "completed"
        _status(w, "completed")
        out, _ = run.communicate(timeout=60)
        assert json.loads(out)["status"] == "completed"
        assert page.evaluate("window.__sameDocument") is True
        with restarted.client() as client:
            last = client.get(f"/executions/{execution_id}").json()["last_sequence"]
        rows = page.eval_on_selector_all("#log tbody tr", _SEQUENCES)
        assert rows == list(range(1, last + 1))  # no gap, no repeat
        w.shot("execution-after-restart")
    finally:
        if run.poll() is None:
            run.kill()
        run.communicate()
        if restarted is not None:
            restarted.stop()


def test_an_agent_answer_with_html_renders_as_text(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve()
    hostile = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\"><b>bold</b>"
    with server.client() as client:
        execution_id = start_demo(client, ticker=hostile)
        wait_status(client, execution_id, ("completed",))
    w = _open(dashboard_browser, server, watched)
    page = w.page
    page.goto(f"{server.url}/executions/{execution_id}")
    _status(w, "completed")
    cell = _text(page, "details.phase[data-phase='Analysis'] tr[data-agent='analyst-a'] .rationale")
    assert cell == f"analyst-a looked at {hostile}"
    assert page.eval_on_selector_all("#main script, #main img, #main b", "els => els.length") == 0
    assert page.evaluate("window.__pwned") is None
    assert hostile in page.inner_text("#input")
    w.shot("html-answer-as-text")


def test_the_list_is_live_and_filters(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve(delay="0.5")
    w = _open(dashboard_browser, server, watched, color_scheme="dark")
    page = w.page
    page.wait_for_selector("#executions[data-ready='1']")
    page.wait_for_selector("#live[data-state='live']")
    with server.client() as client:
        first = start_demo(client)
        page.wait_for_selector(f"#executions tr[data-id='{first}']", timeout=_WAIT_MS)
        _row(page, first, "completed")
        second = start_demo(client)
        _row(page, second, "completed")
    assert "APPROVE_WITH_CONDITIONS" in page.inner_text(f"#executions tr[data-id='{first}']")
    w.shot("executions-dark")
    page.fill("input[name=prefix]", first[:6])
    page.click("#filters button[type=submit]")
    expect(page.locator("#executions tbody tr[data-id]")).to_have_count(1)  # (wait_for_function is eval: CSP)
    assert page.get_attribute("#executions tbody tr[data-id]", "data-id") == first
    page.click("#filters button[type=reset]")
    page.select_option("select[name=status]", "aborted")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("#executions td.note")
    w.shot("executions-filtered")


def test_bulk_abort_from_the_list(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve(delay="20")
    with server.client() as client:
        ids = [start_demo(client) for _ in range(2)]
        for execution_id in ids:
            wait_status(client, execution_id, ("running",))
        w = _open(dashboard_browser, server, watched)
        page = w.page
        page.wait_for_selector(f"#executions tr[data-id='{ids[1]}']")
        for execution_id in ids:
            page.check(f"#executions tr[data-id='{execution_id}'] input[type=checkbox]")
        page.click("#bulk-abort")
        page.wait_for_selector("#bulk-result:has-text('2 of 2 aborted')")
        for execution_id in ids:
            assert wait_status(client, execution_id, ("aborted",))["status"] == "aborted"
            _row(page, execution_id, "aborted")
    w.shot("executions-bulk-aborted")


def test_tasks_pages_render_the_markdown_requirements_and_dag(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve()
    w = _open(dashboard_browser, server, watched)
    page = w.page
    page.goto(f"{server.url}/tasks")
    page.click("text=CLI demo")
    page.wait_for_selector("#dag svg g.node[data-phase='Verdict']")
    assert page.inner_text(".document h2:has-text('Phase: Intake')")
    assert "Amount in USD" in page.inner_text("#req-title + table")
    w.shot("task")


def test_unauthenticated_the_browser_gets_the_login_page_then_the_page_it_asked_for(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve()
    with server.client() as client:
        execution_id = start_demo(client)
        wait_status(client, execution_id, ("completed",))
    context = dashboard_browser.new_context(viewport=VIEWPORT)
    w = Watched(context.new_page())
    watched.append(w)
    page = w.page
    answer = page.goto(f"{server.url}/executions/{execution_id}")
    assert answer is not None
    assert answer.status == 401
    assert page.inner_text("h1") == "Log in to the quorum dashboard"
    assert "APPROVE" not in page.content()
    assert page.locator("#execution").count() == 0
    w.shot("login-page")
    page.fill("#token", "not-the-token")
    page.click("form[action='/login'] button[type=submit]")
    assert "not valid" in page.inner_text("[role=alert]")
    page.fill("#token", TOKEN)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"**/executions/{execution_id}")
    _status(w, "completed")
    assert page.evaluate("document.cookie") == ""  # HttpOnly: no script can read the session


def test_the_second_run_of_a_task_shows_its_eta_counting_down(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched],
) -> None:
    server = serve(delay="0.6")
    w = _open(dashboard_browser, server, watched)
    page = w.page
    with server.client() as client:
        first = start_demo(client)
        page.goto(f"{server.url}/executions/{first}")
        _status(w, "completed")
        assert _text(page, "#exec-eta") == ""  # no history yet: no guess
        second = start_demo(client)
        page.goto(f"{server.url}/executions/{second}")
        page.wait_for_function("() => document.querySelector('#exec-eta').textContent.startsWith('ETA ')",
                               timeout=_WAIT_MS)
        assert "(p95 " in _text(page, "#exec-eta")
        w.shot("execution-eta")
        _status(w, "completed")
        assert _text(page, "#exec-eta") == ""  # ended: no ETA left to show
