"""Agents: the protocol the engine speaks, the manager, definitions, built-in specialists, LLM providers.

::

    protocol.py            AgentRequest, AgentResponse, Agent / AgentDirectory protocols
    function.py            FunctionAgent: any callable as an agent
    manager.py             AgentManager: pools, rate limits, retries, circuit breaker, cache, budgets
    routes.py              Route: one registered agent with its policy, breaker, limiter and pool
    attempts.py            one attempt under its time limit (asyncio.timeout); the retries around it
    policy.py              AgentPolicy: how the manager calls one agent
    resilience.py          Backoff (shared with phase retries), Retry-After, CircuitBreaker, RateLimiter
    cache.py               ResponseCache (memory + SQLite; record/replay)
    budget.py              Budget, BudgetTracker
    definitions.py         agent files (Markdown + YAML front matter) -> AgentDefinition; lint
    front_matter.py        the front matter's YAML, loaded safely, with each key's line
    registry.py            AgentRegistry: where agent files are found
    models.py              model strings, --model overrides
    providers.py           builtin: / python: / openai: / anthropic: / entry points -> agents
    llm.py, prompting.py   LLMAgent: prompts, JSON validation, one repair re-prompt
    sdk_transport.py       what the SDK transports share (the SDK imported when the agent is built)
    openai_chat.py         Chat Completions transport (official openai SDK, optional)
    anthropic_messages.py  Messages transport (official anthropic SDK, optional)
    endpoints.py, secrets.py  base URLs and API keys from config/env; redaction
    defaults.py            default_agent_manager(): what the engine uses when given no manager
    builtin/, library/     the offline specialists and their agent files
"""
