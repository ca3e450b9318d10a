"""The execution page in Chromium: each aggregation drawn from the aggregator's own result (its
``step:complete`` event), with the old recount only for journals without it; and the execution tree —
the parent linked, the children of ``task:`` steps listed with their status, live."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

import quorum.web
from tests.server.serving import Server, wait_status

from .browser import Watched, logged_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = [pytest.mark.integration, pytest.mark.slow]

Serve = Callable[..., Server]
_WAIT_MS = 60_000

# Two rounds of three agents (the fixture analysts say bearish at 0.7 above 50,000, the chair bullish
# at 0.66): six answers but three positions, weighed by confidence. A recount of the answers says
# "bearish 4 · bullish 2"; the aggregator counts each agent's final position.
WEIGHED = """# Weighed

```yaml
name: weighed
version: 1.0.0
requirements:
  ticker: string
  amount: number
output: Recount
```

## Phase: Debate
parallel: true
rounds: 2

### Agents
- analyst-a
- analyst-b
- chair

### Steps
- Argue about {{ input.ticker }}
- aggregate: consensus

## Phase: Recount
dependsOn: [Debate]

### Steps
- aggregate: vote from=Debate
"""

TREE = """# Tree

```yaml
name: tree
version: 2.0.0
requirements:
  tickers: list
output: Children
```

## Phase: Children
parallel: true

### Steps
STEP
""".replace("STEP", "- task: cli-demo foreach=input.tickers input.ticker={{ item }} input.amount={{ 10000 }} "
                    "input.riskTolerance=medium")


def test_the_page_listens_for_every_event_type() -> None:
    # an EventSource delivers only the named events it listens for: a type missing from api.js is an
    # event the page never sees live (child:ended was, and the tree stayed "running")
    import re

    from quorum.events import EVENT_TYPES

    source = (Path(quorum.web.__file__).parent / "static" / "js" / "api.js").read_text(encoding="utf-8")
    listed = re.search(r"export const EVENT_TYPES = \[(.*?)\];", source, re.S)
    assert listed is not None
    assert sorted(re.findall(r'"([a-z]+:[a-z]+)"', listed.group(1))) == sorted(str(t) for t in EVENT_TYPES)


@pytest.fixture
def watched() -> Iterator[list[Watched]]:
    pages: list[Watched] = []
    yield pages
    for w in pages:
        w.assert_clean()
        w.page.context.close()


def _server(serve: Serve, tmp_path: Path, **options: str) -> Server:
    tasks = tmp_path / "tasks"
    tasks.mkdir(exist_ok=True)
    (tasks / "weighed.md").write_text(WEIGHED, encoding="utf-8")
    (tasks / "tree.md").write_text(TREE, encoding="utf-8")
    return serve(**options)


def _text(page: Page, selector: str) -> str:
    return page.text_content(selector) or ""


def _status(page: Page, status: str) -> None:
    page.wait_for_selector(f"#exec-status[data-status='{status}']", timeout=_WAIT_MS)


# The deliberation module applied to this page's journal with the results taken out of its events, as
# a journal written before they carried them: what the page falls back to.
_RECOUNT = """async (id) => {
  const base = document.querySelector('script[type=module]').src.replace(/execution\\.js$/, '');
  const { apply, newModel } = await import(base + 'model.js');
  const { phaseSection, renderPhase } = await import(base + 'deliberation.js');
  const journal = await (await fetch(`/api/v1/web/executions/${id}/journal`)).json();
  const model = newModel(id);
  for (const ev of journal.events) {
    if (ev.type === 'step:complete' && ev.data) { delete ev.data.result; delete ev.data.truncated; }
    apply(model, ev);
  }
  const out = {};
  for (const name of ['Debate', 'Recount']) {
    const section = phaseSection(name);
    renderPhase(section, model, name);
    out[name] = [...section.querySelectorAll('.tally, .dissent')].map((p) => p.textContent);
  }
  return out;
}"""


def test_the_aggregation_shows_the_aggregators_result_and_old_journals_the_recount(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched], tmp_path: Path,
) -> None:
    server = _server(serve, tmp_path)
    with server.client() as client:
        started = client.post("/executions",
                              json={"task": "weighed", "input": {"ticker": "BTC", "amount": 60000}})
        assert started.status_code == 201, started.text
        execution_id = started.json()["id"]
        done = wait_status(client, execution_id, ("completed",))
    assert done["verdict"]["winner"] == "bearish", done
    w = logged_in(dashboard_browser, server)
    watched.append(w)
    page = w.page
    page.goto(f"{server.url}/executions/{execution_id}")
    _status(page, "completed")
    recount = "details.phase[data-phase='Recount'] .aggregation[data-type='vote']"
    page.wait_for_selector(recount, state="attached")
    debate = "details.phase[data-phase='Debate'] .aggregation[data-type='consensus']"
    assert _text(page, f"{debate} h4") == "Aggregation: consensus (step 1)"
    assert _text(page, f"{debate} .tally") == "Tally: bearish 2 · bullish 1 — consensus bearish"
    assert _text(page, f"{debate} .weights") == (
        "Weights: bearish 1.4 · bullish 0.66 — agreement 68%, reached, confidence 70%")
    assert _text(page, f"{debate} .dissent") == "Dissent: chair (bullish)"
    # six answers are still listed, one row per call
    assert page.locator("details.phase[data-phase='Debate'] tbody tr[data-agent]").count() == 6
    # a phase without answers of its own (from=Debate) still shows what its aggregation found
    assert _text(page, f"{recount} .tally") == "Tally: bearish 2 · bullish 1 — winner bearish · by stance"
    assert _text(page, f"{recount} .dissent") == "Dissent: chair (bullish)"  # the chair gave no reason
    w.shot("aggregation-weighted")
    recounted = page.evaluate(_RECOUNT, execution_id)
    assert recounted["Debate"] == ["Tally: bearish 4 · bullish 2 — majority bearish",
                                   "Dissent: chair (bullish), chair (bullish)"]
    assert recounted["Recount"] == []  # no answers of its own: nothing to recount


def test_the_execution_page_shows_its_tree_live_parent_and_children(
    dashboard_browser: Browser, serve: Serve, watched: list[Watched], tmp_path: Path,
) -> None:
    server = _server(serve, tmp_path, delay="1.5")
    w = logged_in(dashboard_browser, server)
    watched.append(w)
    page = w.page
    with server.client() as client:
        started = client.post("/executions", json={"task": "tree", "input": {"tickers": ["AAA", "BBB"]}})
        assert started.status_code == 201, started.text
        parent_id = started.json()["id"]
        page.goto(f"{server.url}/executions/{parent_id}")
        # the children appear from child:started while they run, then turn completed without a reload
        page.wait_for_selector("#children tr[data-child][data-status='running']", timeout=_WAIT_MS)
        page.evaluate("window.__sameDocument = true")
        w.shot("tree-children-running")
        _status(page, "completed")
        expect(page.locator("#children tr[data-child][data-status='completed']")).to_have_count(2)
        tree = client.get(f"/executions/{parent_id}/children").json()
    assert page.evaluate("window.__sameDocument") is True
    assert page.locator("#children tr[data-child][data-status='running']").count() == 0
    ids = [c["id"] for c in tree["children"]]
    assert len(ids) == 2
    rows = page.eval_on_selector_all("#children tr[data-child]", "rows => rows.map(r => r.dataset.child)")
    assert sorted(rows) == sorted(ids)
    for child in tree["children"]:
        row = f"#children tr[data-child='{child['id']}']"
        assert _text(page, f"{row} td:nth-of-type(1)") == "cli-demo 1.2.0"
        assert _text(page, f"{row} td:nth-of-type(2)") == f"Children step 0 [{child['index']}]"
        assert _text(page, f"{row} a") == child["id"]
    assert page.locator("#exec-parent").count() == 0  # a root: no parent
    assert "child:ended" in _text(page, "#log")
    w.shot("tree-children-completed")
    # a child's page links back to its parent
    page.click(f"#children tr[data-child='{ids[0]}'] a")
    page.wait_for_url(f"**/executions/{ids[0]}")
    _status(page, "completed")
    assert page.get_attribute("#exec-parent a", "href") == f"/executions/{parent_id}"
    assert page.locator("#children").is_hidden()  # no task: step, no tree
    w.shot("tree-child-page")
    page.click("#exec-parent a")
    page.wait_for_url(f"**/executions/{parent_id}")
    page.wait_for_selector(f"#children tr[data-child='{ids[1]}'][data-status='completed']")
