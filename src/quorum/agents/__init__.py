"""Agents: the protocol the engine speaks, the manager, definitions, built-in specialists, LLM providers.

::

    protocol.py            AgentRequest, AgentResponse, Agent / AgentDirectory protocols
    function.py            FunctionAgent: any callable as an agent
    manager.py             AgentManager: pools, rate limits, retries, circuit breaker, cache, budgets
    policy.py              AgentPolicy: how the manager calls one agent
    resilience.py          Backoff, CircuitBreaker, RateLimiter
    cache.py               ResponseCache (memory + SQLite; record/replay)
    budget.py              Budget, BudgetTracker
    definitions.py         agent files (Markdown + YAML front matter) -> AgentDefinition; lint
    registry.py            AgentRegistry: where agent files are found
    models.py              model strings, --model overrides
    providers.py           builtin: / python: / openai: / anthropic: / entry points -> agents
    llm.py, prompting.py   LLMAgent: prompts, JSON validation, one repair re-prompt
    openai_chat.py         Chat Completions transport (official openai SDK, optional)
    anthropic_messages.py  Messages transport (official anthropic SDK, optional)
    endpoints.py, secrets.py  base URLs and API keys from config/env; redaction
    defaults.py            default_agent_manager(): what the engine uses when given no manager
    builtin/, library/     the offline specialists and their agent files
"""
