"""What the SDK-backed chat transports (``openai:``, ``anthropic:``) share.

The optional SDK is imported when the transport is made, so a missing one is a usage error before any
execution starts, and a first call never spends its time limit importing it. One client per event
loop, made on first use and closed by ``aclose``; a call either completes at once or streams; and any
SDK failure becomes a :class:`ProviderError` that does not carry the SDK exception. Subclasses say how
to build the client, the request and the answer.
"""

from __future__ import annotations

import abc
import asyncio
import importlib
from types import ModuleType
from typing import Any, ClassVar

from quorum.agents.endpoints import Endpoint
from quorum.agents.failures import ProviderError, from_exception
from quorum.agents.llm import ChatCall, ChatResult
from quorum.errors import ConfigurationError

__all__ = ("SDKChatTransport",)


class SDKChatTransport(abc.ABC):
    """A :class:`~quorum.agents.llm.ChatTransport` over a provider's official async SDK."""

    __slots__ = ("_agent_id", "_client", "_endpoint", "_loop", "_sdk")

    provider: ClassVar[str]
    """The provider's name in error messages and failure classification; also the SDK's module and
    the name of quorum's extra that installs it (``pip install 'quorum[openai]'``)."""

    def __init__(self, endpoint: Endpoint, *, agent_id: str) -> None:
        self._endpoint = endpoint
        self._agent_id = agent_id
        self._sdk = _import_sdk(self.provider)
        self._client: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self._endpoint.base_url!r})"

    def unready(self) -> str | None:
        """Why no call can be made at all (no API key), known before any is tried; None when one can.
        The run refuses to start on it (a usage error), rather than fail in its first LLM phase."""
        return None

    @abc.abstractmethod
    def _new_client(self, sdk: ModuleType) -> Any:
        """A new client of ``sdk`` for the endpoint, with the SDK's own retries off."""

    @abc.abstractmethod
    def _arguments(self, call: ChatCall) -> dict[str, Any]:
        """The SDK's request arguments for ``call``."""

    @abc.abstractmethod
    async def _once(self, client: Any, args: dict[str, Any]) -> ChatResult:
        """One request, the whole answer at once."""

    @abc.abstractmethod
    async def _stream(self, client: Any, args: dict[str, Any], call: ChatCall) -> ChatResult:
        """One streamed request, each piece of text passed to ``call.on_chunk`` as it comes."""

    def _get_client(self) -> Any:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # Connections belong to the loop that opened them; a manager used by a later asyncio.run()
            # needs a fresh client (the old loop, and its sockets, are gone).
            self._client = None
            self._loop = loop
        if self._client is None:
            reason = self.unready()
            if reason is not None:
                raise ProviderError(self._agent_id, reason)
            self._client = self._new_client(self._sdk)
        return self._client

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.close()

    async def complete(self, call: ChatCall, /) -> ChatResult:
        client = self._get_client()
        args = self._arguments(call)
        try:
            if call.on_chunk is None:
                return await self._once(client, args)
            return await self._stream(client, args, call)
        except ProviderError:
            raise
        except Exception as exc:
            error = from_exception(self._agent_id, exc, provider=self.provider)
        # Raised outside the except block so that the SDK exception is neither the cause nor the context:
        # it holds the request and the server's body, either of which may carry the API key.
        raise error


def _import_sdk(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError:
        raise ConfigurationError(
            f"the {name} package is not installed: pip install 'quorum[{name}]'"
        ) from None
