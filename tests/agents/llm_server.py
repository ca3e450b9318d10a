"""A tiny HTTP/1.1 server on 127.0.0.1 speaking OpenAI Chat Completions or Anthropic Messages.

Replies are scripted per test (status, content, delay, headers, streaming); every request is recorded.
Error bodies echo the request headers back (as hostile servers and proxies do), so the tests can check
that an API key never leaks into what quorum reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

Protocol = Literal["openai", "anthropic"]


@dataclass
class Reply:
    status: int = 200
    content: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    tokens_in: int = 11
    tokens_out: int = 7
    echo_headers: bool = True
    """Error replies: put every request header into the error message."""
    chunks: list[str] | None = None
    """Streaming: the pieces to send (default: content cut in three)."""
    cut_after: int | None = None
    """Streaming: close the connection after this many events (a dropped stream)."""


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class LLMServer:
    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self.replies: deque[Reply] = deque()
        self.default: Reply | None = None
        self.requests: list[Recorded] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}" + ("/v1" if self.protocol == "openai" else "")

    def push(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    async def start(self) -> LLMServer:
        self._server = await asyncio.start_server(self._on_connect, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):
                await task
        if self._server is not None:
            await self._server.wait_closed()

    def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.get_running_loop().create_task(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                length = int(headers.get("content-length", "0"))
                raw = await reader.readexactly(length) if length else b""
                body = json.loads(raw) if raw else {}
                self.requests.append(Recorded(method, path, headers, body))
                reply = self.replies.popleft() if self.replies else self.default
                if reply is None:
                    reply = Reply(status=500, content="no scripted reply")
                if reply.delay_s:
                    await asyncio.sleep(reply.delay_s)
                await self._respond(writer, reply, headers, body)
                if reply.status != 200 or body.get("stream"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _respond(
        self, writer: asyncio.StreamWriter, reply: Reply, headers: dict[str, str], body: dict[str, Any]
    ) -> None:
        if reply.status != 200:
            message = reply.content or "failure"
            if reply.echo_headers:
                message += f" (you sent {json.dumps(headers)})"
            payload = json.dumps(
                {"type": "error", "error": {"message": message, "type": "server_error", "code": None}}
            ).encode()
            self._head(writer, reply.status, "application/json", len(payload), reply.headers, close=True)
            writer.write(payload)
            await writer.drain()
            return
        model = body.get("model", "test-model")
        if body.get("stream"):
            self._head(writer, 200, "text/event-stream", None, reply.headers, close=True)
            for event in self._stream_events(reply, model)[: reply.cut_after]:
                writer.write(event.encode())
                await writer.drain()
                await asyncio.sleep(0)
            return
        payload = json.dumps(self._complete(reply, model)).encode()
        self._head(writer, 200, "application/json", len(payload), reply.headers, close=False)
        writer.write(payload)
        await writer.drain()

    @staticmethod
    def _head(
        writer: asyncio.StreamWriter,
        status: int,
        content_type: str,
        length: int | None,
        extra: dict[str, str],
        *,
        close: bool,
    ) -> None:
        lines = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}"]
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines.append("Connection: close" if close else "Connection: keep-alive")
        lines += [f"{k}: {v}" for k, v in extra.items()]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def _complete(self, reply: Reply, model: str) -> dict[str, Any]:
        if self.protocol == "openai":
            return {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": 1,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": reply.content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": reply.tokens_in,
                    "completion_tokens": reply.tokens_out,
                    "total_tokens": reply.tokens_in + reply.tokens_out,
                },
            }
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": reply.content}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": reply.tokens_in, "output_tokens": reply.tokens_out},
        }

    def _stream_events(self, reply: Reply, model: str) -> list[str]:
        pieces = reply.chunks
        if pieces is None:
            third = max(1, len(reply.content) // 3)
            pieces = [reply.content[i : i + third] for i in range(0, len(reply.content), third)]
        if self.protocol == "openai":

            def chunk(delta: dict[str, Any], usage: dict[str, int] | None = None, final: bool = False) -> str:
                data: dict[str, Any] = {
                    "id": "chatcmpl-1",
                    "object": "chat.completion.chunk",
                    "created": 1,
                    "model": model,
                    "choices": [] if final else [{"index": 0, "delta": delta, "finish_reason": None}],
                }
                if usage is not None:
                    data["usage"] = usage
                return f"data: {json.dumps(data)}\n\n"

            events = [chunk({"role": "assistant", "content": ""})]
            events += [chunk({"content": p}) for p in pieces]
            usage = {
                "prompt_tokens": reply.tokens_in,
                "completion_tokens": reply.tokens_out,
                "total_tokens": reply.tokens_in + reply.tokens_out,
            }
            events.append(chunk({}, usage, final=True))
            events.append("data: [DONE]\n\n")
            return events

        def event(name: str, data: dict[str, Any]) -> str:
            return f"event: {name}\ndata: {json.dumps({'type': name, **data})}\n\n"

        message: dict[str, Any] = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": reply.tokens_in, "output_tokens": 1},
        }
        events = [
            event("message_start", {"message": message}),
            event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ]
        events += [
            event("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": p}})
            for p in pieces
        ]
        events += [
            event("content_block_stop", {"index": 0}),
            event(
                "message_delta",
                {
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": {"output_tokens": reply.tokens_out},
                },
            ),
            event("message_stop", {}),
        ]
        return events


def answer(**fields: Any) -> str:
    """A valid JSON answer with the standard fields (override or add any)."""
    data: dict[str, Any] = {
        "stance": "bullish",
        "recommendation": "buy a small position",
        "confidence": 0.7,
        "rationale": "momentum is positive",
    }
    data.update(fields)
    return json.dumps(data)
