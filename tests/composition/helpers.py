"""Task files and agents for the composition tests: a child task and parents that call it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from quorum.agents.protocol import AgentRequest

CHILD = """# Review

```yaml
name: review
version: 1.0.0
retry: {maxAttempts: 1}
requirements:
  ticker: {type: string}
  weight: {type: number, required: false, default: 1}
output: Decide
```

## Phase: Look
### Agents
- reviewer
### Steps
- agent: reviewer - Review {{ input.ticker }} with weight {{ input.weight }}

## Phase: Decide
dependsOn: [Look]
### Steps
- agent: decider - Decide on {{ input.ticker }} after {{ phases.Look.outputs.reviewer.note }}
### Outputs
- decision (string): the decision
- ticker (string): the ticker
"""


def parent(steps: str, *, phase_options: str = "", extra: str = "", metadata: str = "",
           requirements: str = "") -> str:
    """The ``book`` task: one phase ``Children`` with ``steps``, then ``extra`` (more phases)."""
    return f"""# Book

```yaml
name: book
version: 1.0.0
retry: {{maxAttempts: 1}}
{metadata}
requirements:
  tickers: {{type: list, required: false}}
{requirements}
```

## Phase: Children
{phase_options}
### Steps
{steps}
{extra}
"""


def write_tasks(root: Path, parent_text: str, child_text: str = CHILD) -> Path:
    tasks = root / "tasks"
    tasks.mkdir(parents=True, exist_ok=True)
    (tasks / "review.md").write_text(child_text, encoding="utf-8")
    (tasks / "book.md").write_text(parent_text, encoding="utf-8")
    return tasks


def ticker_of(request: AgentRequest) -> str:
    """The ticker a prompt of the child task names ("Review X ...", "Decide on X ...")."""
    words = request.prompt.split()
    return words[1] if words[0] == "Review" else words[2]


def reviewer_answer(request: AgentRequest) -> dict[str, Any]:
    return {"note": f"saw {ticker_of(request)}", "weight": request.prompt.split()[-1]}


def decider_answer(request: AgentRequest) -> dict[str, Any]:
    return {"decision": "BUY", "ticker": ticker_of(request)}


class Gate:
    """An agent that waits until released (and says when it was entered): steers a run without sleeps."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.entered = asyncio.Event()
        self.released = asyncio.Event()
        self.calls = 0
        self.cancelled = 0
        self._called = asyncio.Condition()

    async def until_calls(self, n: int) -> None:
        """Wait until ``n`` calls have entered."""
        async with self._called:
            await self._called.wait_for(lambda: self.calls >= n)

    async def query(self, request: AgentRequest) -> Any:
        from quorum.agents.function import coerce_response

        self.calls += 1
        self.entered.set()
        async with self._called:
            self._called.notify_all()
        try:
            await self.released.wait()
        except asyncio.CancelledError:
            self.cancelled += 1
            raise
        value = self.answer(request) if callable(self.answer) else self.answer
        return coerce_response(request.agent_id, value, latency_ms=0.0, model="gate")
