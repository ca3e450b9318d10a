"""The ``openai:<model>`` provider: any OpenAI-compatible Chat Completions server, via the official SDK.

The SDK is an optional extra (``pip install quorum[openai]``), imported when the agent is built. Its own
retries are off (``max_retries=0``): the AgentManager retries transient failures with its backoff and
Retry-After.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from quorum.agents.llm import ChatCall, ChatResult
from quorum.agents.sdk_transport import SDKChatTransport

__all__ = ("OpenAIChatTransport",)

_PLACEHOLDER_KEY = "unused"
"""Local servers (Ollama, vLLM, llama.cpp) ignore the key, but the SDK insists on one."""


class OpenAIChatTransport(SDKChatTransport):
    __slots__ = ()

    provider = "openai"

    def unready(self) -> str | None:
        endpoint = self._endpoint
        if endpoint.api_key is None and endpoint.base_url is None:
            return ("no API key for OpenAI: set " + " or ".join(endpoint.key_names[-2:])
                    + " (or point OPENAI_BASE_URL at a local server)")
        return None

    def _new_client(self, sdk: ModuleType) -> Any:
        endpoint = self._endpoint
        return sdk.AsyncOpenAI(
            api_key=endpoint.api_key or _PLACEHOLDER_KEY, base_url=endpoint.base_url, max_retries=0
        )

    def _arguments(self, call: ChatCall) -> dict[str, Any]:
        messages = [{"role": "system", "content": call.system}]
        messages += [{"role": role, "content": content} for role, content in call.messages]
        args: dict[str, Any] = {"model": call.model, "messages": messages}
        if call.temperature is not None:
            args["temperature"] = call.temperature
        if call.max_tokens is not None:
            args["max_tokens"] = call.max_tokens
        if call.response_format == "json_object":
            args["response_format"] = {"type": "json_object"}
        elif call.response_format == "json_schema" and call.schema is not None:
            args["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": dict(call.schema)},
            }
        if call.timeout_s is not None:
            args["timeout"] = call.timeout_s
        if call.options:
            # Provider options (``top_p``, ``seed``, server-specific ones like vLLM's ``top_k``) go in the
            # JSON body as given, whether or not this SDK version names them.
            args["extra_body"] = dict(call.options)
        return args

    async def _once(self, client: Any, args: dict[str, Any]) -> ChatResult:
        completion = await client.chat.completions.create(**args)
        choice = completion.choices[0] if completion.choices else None
        text = (choice.message.content if choice is not None else None) or ""
        usage = completion.usage
        return ChatResult(
            text=text,
            tokens_in=int(getattr(usage, "prompt_tokens", 0) or 0),
            tokens_out=int(getattr(usage, "completion_tokens", 0) or 0),
            model=completion.model,
        )

    async def _stream(self, client: Any, args: dict[str, Any], call: ChatCall) -> ChatResult:
        assert call.on_chunk is not None
        stream = await client.chat.completions.create(
            **args, stream=True, stream_options={"include_usage": True}
        )
        parts: list[str] = []
        tokens_in = tokens_out = 0
        model: str | None = None
        async for chunk in stream:
            model = model or getattr(chunk, "model", None)
            usage = getattr(chunk, "usage", None)
            if usage is not None:
                tokens_in = int(usage.prompt_tokens or 0)
                tokens_out = int(usage.completion_tokens or 0)
            for choice in chunk.choices or ():
                piece = choice.delta.content if choice.delta is not None else None
                if piece:
                    parts.append(piece)
                    call.on_chunk(piece)
        return ChatResult(text="".join(parts), tokens_in=tokens_in, tokens_out=tokens_out, model=model)
