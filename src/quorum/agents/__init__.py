"""Agents: the protocol the engine speaks, the manager, definitions, built-in specialists, LLM providers."""
