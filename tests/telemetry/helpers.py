"""What the telemetry tests share: an in-memory tracer provider, an LLM agent over a local chat transport,
and the committee task with it as the judge."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from quorum.agents.definitions import AgentDefinition
from quorum.agents.llm import ChatCall, ChatResult, LLMAgent
from quorum.ids import AgentId

CANARY_KEY = "sk-canary-0123456789abcdefCANARY"


def memory_provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


class LocalChat:
    """A chat transport answering every call with the same JSON after ``delay_s`` (a model, locally)."""

    def __init__(self, answer: dict[str, Any], *, delay_s: float = 0.0, model: str = "gpt-test-1") -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.model = model
        self.calls: list[ChatCall] = []

    async def complete(self, call: ChatCall, /) -> ChatResult:
        self.calls.append(call)
        await asyncio.sleep(self.delay_s)
        return ChatResult(text=json.dumps(self.answer), tokens_in=120, tokens_out=30, model=self.model)


JUDGE_ANSWER = {"stance": "bullish", "recommendation": "buy", "confidence": 0.7, "rationale": "strong case"}


def llm_judge(answer: dict[str, Any] | None = None, *, delay_s: float = 0.005) -> LLMAgent:
    definition = AgentDefinition(id=AgentId("judge"), model="openai:gpt-test-1", persona="You judge.",
                                 price_in_per_mtok=2.0, price_out_per_mtok=8.0)
    # the provider answers with a dated snapshot of the alias asked for, as real ones do
    chat = LocalChat(answer or JUDGE_ANSWER, delay_s=delay_s, model="gpt-test-1-2026-11-30")
    return LLMAgent(definition, chat, model_name="gpt-test-1")


def every_attribute_value(spans: Iterator[ReadableSpan] | list[ReadableSpan]) -> list[str]:
    """Every attribute, event attribute, link attribute, status description and name, as text."""
    out: list[str] = []
    for span in spans:
        out.append(span.name)
        out += [f"{k}={v!s}" for k, v in (span.attributes or {}).items()]
        for event in span.events:
            out.append(event.name)
            out += [f"{k}={v!s}" for k, v in (event.attributes or {}).items()]
        for link in span.links:
            out += [f"{k}={v!s}" for k, v in (link.attributes or {}).items()]
        if span.status.description:
            out.append(span.status.description)
        out += [f"{k}={v!s}" for k, v in span.resource.attributes.items()]
    return out
