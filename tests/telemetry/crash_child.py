"""The child process of the crash-and-resume trace test: runs ``two_phases()`` against a SQLite history
with spans written to a file as each ends, prints the execution id once phase A is done, then holds
phase B until it is killed."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from quorum.definition.model import Task
from quorum.engine.executor import TaskExecutor
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.telemetry import TelemetrySettings, instrument
from quorum.testing import ScriptedAgent, make_manager
from tests.engine.run_helpers import phase, prompt, task


def two_phases() -> Task:
    return task(phase("A", prompt("first"), agents=("a",)),
                phase("B", prompt("second"), agents=("b",), depends_on="A"), name="two")


def _one_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + "\n"


async def main(db: str, spans_file: str) -> None:
    store = SQLiteHistoryStore(Path(db))
    await store.open()
    provider = TracerProvider()
    out = Path(spans_file).open("w")  # noqa: ASYNC230, SIM115 - opened once, before anything runs; kept till the kill
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=_one_line)))
    manager = make_manager({"a": ScriptedAgent({"v": 1}), "b": ScriptedAgent({"v": 2}, delay=3600)})
    ex = TaskExecutor(agent_manager=manager, history_store=store)
    instrument(ex, TelemetrySettings(), tracer_provider=provider)
    started_b = asyncio.Event()
    ex.on("agent:start", lambda event: started_b.set() if event.agent == "b" else None)
    handle = await ex.start(two_phases(), {})
    await started_b.wait()
    await asyncio.sleep(0.3)  # phase A's events are in the journal (the history flushes every few ms)
    out.flush()
    print(handle.id, flush=True)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
