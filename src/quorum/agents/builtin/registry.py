"""The built-in specialists by id (the ids the shipped workflows and agent files use)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from quorum.agents.builtin.advocates import bear_advocate, bull_advocate, execution_strategist, red_team
from quorum.agents.builtin.analysts import (
    fundamental_analyst,
    macro_analyst,
    quant_risk_analyst,
    sentiment_analyst,
    technical_analyst,
)
from quorum.agents.builtin.committee import committee_chair
from quorum.agents.builtin.daily import agent_selector, question_classifier
from quorum.agents.builtin.daily_analysts import (
    answer_synthesizer,
    macro_strategist,
    market_technician,
    news_sentiment,
    risk_monitor,
)
from quorum.agents.builtin.governance import compliance_officer, risk_officer
from quorum.agents.builtin.intake import data_steward, intake_validator
from quorum.agents.builtin.verdict import portfolio_manager
from quorum.agents.protocol import AgentRequest

__all__ = ("SPECIALISTS", "Specialist", "get_specialist")

Specialist = Callable[[AgentRequest], dict[str, Any]]

SPECIALISTS: Mapping[str, Specialist] = MappingProxyType(
    {
        # investment committee
        "intake-validator": intake_validator,
        "data-steward": data_steward,
        "technical-analyst": technical_analyst,
        "fundamental-analyst": fundamental_analyst,
        "sentiment-analyst": sentiment_analyst,
        "macro-analyst": macro_analyst,
        "quant-risk-analyst": quant_risk_analyst,
        "bull-advocate": bull_advocate,
        "bear-advocate": bear_advocate,
        "red-team": red_team,
        "execution-strategist": execution_strategist,
        "risk-officer": risk_officer,
        "compliance-officer": compliance_officer,
        "committee-chair": committee_chair,
        "portfolio-manager": portfolio_manager,
        # daily market analysis
        "question-classifier": question_classifier,
        "agent-selector": agent_selector,
        "market-technician": market_technician,
        "macro-strategist": macro_strategist,
        "news-sentiment": news_sentiment,
        "risk-monitor": risk_monitor,
        "answer-synthesizer": answer_synthesizer,
    }
)


def get_specialist(name: str) -> Specialist:
    """The specialist called ``name`` (``builtin:<name>`` in an agent file); KeyError lists the known ones."""
    try:
        return SPECIALISTS[name]
    except KeyError:
        known = ", ".join(sorted(SPECIALISTS))
        raise KeyError(f"no built-in specialist {name!r}; known: {known}") from None
