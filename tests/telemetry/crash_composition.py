"""The process of the composition crash-trace test: a parent with children for tickers A and B against a
SQLite history, spans written to a file as each ends; prints ``id <parent>``, then ``blocked B`` once
child B's decider is asked, which never answers (the test kills the process there)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from quorum.agents.protocol import AgentRequest
from quorum.engine.executor import TaskExecutor
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.telemetry import TelemetrySettings, instrument
from quorum.testing import ScriptedAgent, make_manager
from tests.composition.helpers import decider_answer, reviewer_answer, ticker_of


def _one_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + "\n"


async def _decider(request: AgentRequest) -> Any:
    if ticker_of(request) == "B":
        print("blocked B", flush=True)
        await asyncio.Event().wait()  # until killed
    return decider_answer(request)


async def main(db: str, spans_file: str, tasks: str) -> None:
    store = SQLiteHistoryStore(Path(db))
    await store.open()
    provider = TracerProvider()
    out = Path(spans_file).open("w")  # noqa: ASYNC230, SIM115 - opened once, before anything runs; kept till the kill
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=_one_line)))
    manager = make_manager({"reviewer": ScriptedAgent(reviewer_answer), "decider": _decider})
    async with TaskExecutor(tasks_dir=tasks, agent_manager=manager, history_store=store) as ex:
        instrument(ex, TelemetrySettings(), tracer_provider=provider)
        handle = await ex.start("book", {"tickers": ["A", "B"]})
        print(f"id {handle.id}", flush=True)
        await handle.result()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
