"""AgentManager: holds agents by id and queries them with a timeout.

(The agents issue grows this into pools, rate limits, retries, a circuit breaker, a response cache and
budgets; the engine only relies on :class:`~quorum.agents.protocol.AgentDirectory`.)
"""

from __future__ import annotations

import asyncio

from quorum.agents.function import AgentCallable, FunctionAgent
from quorum.agents.protocol import Agent, AgentRequest, AgentResponse
from quorum.errors import AgentError, AgentTimeoutError
from quorum.ids import AgentId

__all__ = ("AgentManager",)


class AgentManager:
    def __init__(self, *, default_timeout_s: float | None = 60.0) -> None:
        self._agents: dict[AgentId, Agent] = {}
        self.default_timeout_s = default_timeout_s

    def register(self, agent_id: str, agent: Agent | AgentCallable) -> None:
        """Register an agent object (with ``async query``) or a plain callable under ``agent_id``."""
        if not isinstance(agent, Agent):
            agent = FunctionAgent(agent_id, agent)
        self._agents[AgentId(agent_id)] = agent

    def unregister(self, agent_id: str) -> None:
        self._agents.pop(AgentId(agent_id), None)

    def has_agent(self, agent_id: str, /) -> bool:
        return agent_id in self._agents

    def agent_ids(self) -> list[AgentId]:
        return sorted(self._agents)

    def get(self, agent_id: str) -> Agent:
        try:
            return self._agents[AgentId(agent_id)]
        except KeyError:
            raise AgentError(agent_id, "no such agent") from None

    async def query(self, request: AgentRequest, /) -> AgentResponse:
        agent = self.get(request.agent_id)
        timeout = request.timeout_s if request.timeout_s is not None else self.default_timeout_s
        try:
            if timeout is None:
                return await agent.query(request)
            async with asyncio.timeout(timeout):
                return await agent.query(request)
        except TimeoutError:
            raise AgentTimeoutError(request.agent_id, timeout or 0.0) from None
