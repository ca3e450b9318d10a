"""The ``anthropic:<model>`` provider: Anthropic's Messages API via the official SDK (an optional extra).

The answer format is asked for in the prompt; with ``response_format: json_schema`` the schema is also
sent as structured output (``output_config.format``). The agent validates the answer and re-prompts
once. SDK retries are off: the AgentManager retries transient failures.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from quorum.agents.llm import ChatCall, ChatResult
from quorum.agents.sdk_transport import SDKChatTransport

__all__ = ("DEFAULT_MAX_TOKENS", "AnthropicMessagesTransport")

DEFAULT_MAX_TOKENS = 2048
"""The Messages API requires ``max_tokens``; agent files may set their own."""


class AnthropicMessagesTransport(SDKChatTransport):
    __slots__ = ()

    provider = "anthropic"

    def unready(self) -> str | None:
        if self._endpoint.api_key is None:
            return "no API key for Anthropic: set " + " or ".join(self._endpoint.key_names)
        return None

    def _new_client(self, sdk: ModuleType) -> Any:
        return sdk.AsyncAnthropic(
            api_key=self._endpoint.api_key, base_url=self._endpoint.base_url, max_retries=0
        )

    def _arguments(self, call: ChatCall) -> dict[str, Any]:
        args: dict[str, Any] = {
            "model": call.model,
            "system": call.system,
            "messages": [{"role": role, "content": content} for role, content in call.messages],
            "max_tokens": call.max_tokens or DEFAULT_MAX_TOKENS,
        }
        if call.response_format == "json_schema" and call.schema is not None:
            args["output_config"] = {"format": {"type": "json_schema", "schema": dict(call.schema)}}
        if call.timeout_s is not None:
            args["timeout"] = call.timeout_s
        # Sampling settings and provider options go in the JSON body as given: SDK versions differ in
        # which of them they name as parameters, and the server is the judge of what it accepts.
        extra: dict[str, Any] = {}
        if call.temperature is not None:
            extra["temperature"] = min(call.temperature, 1.0)
        extra.update(call.options)
        if extra:
            args["extra_body"] = extra
        return args

    async def _once(self, client: Any, args: dict[str, Any]) -> ChatResult:
        message = await client.messages.create(**args)
        text = "".join(
            getattr(block, "text", "") for block in message.content if getattr(block, "type", "") == "text"
        )
        return ChatResult(
            text=text,
            tokens_in=int(message.usage.input_tokens or 0),
            tokens_out=int(message.usage.output_tokens or 0),
            model=message.model,
        )

    async def _stream(self, client: Any, args: dict[str, Any], call: ChatCall) -> ChatResult:
        assert call.on_chunk is not None
        stream = await client.messages.create(**args, stream=True)
        parts: list[str] = []
        tokens_in = tokens_out = 0
        model: str | None = None
        async for event in stream:
            kind = getattr(event, "type", "")
            if kind == "message_start":
                model = event.message.model
                tokens_in = int(event.message.usage.input_tokens or 0)
                tokens_out = int(getattr(event.message.usage, "output_tokens", 0) or 0)
            elif kind == "content_block_delta" and getattr(event.delta, "type", "") == "text_delta":
                parts.append(event.delta.text)
                call.on_chunk(event.delta.text)
            elif kind == "message_delta" and getattr(event, "usage", None) is not None:
                tokens_out = int(event.usage.output_tokens or 0)
        return ChatResult(text="".join(parts), tokens_in=tokens_in, tokens_out=tokens_out, model=model)
