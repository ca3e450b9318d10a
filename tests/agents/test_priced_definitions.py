"""Agents moved to an LLM by ``--model`` are priced from the price table, so their answers carry a cost
(the reported usage and a ``maxCost`` budget agree); a file's own price is kept for its own model only."""

from __future__ import annotations

from pathlib import Path

from quorum.agents.defaults import load_definitions


def test_an_overridden_builtin_agent_is_priced_from_the_table() -> None:
    definitions = load_definitions(model_overrides="openai:gpt-4.1-mini")
    chair = definitions["committee-chair"]
    assert chair.model == "openai:gpt-4.1-mini"
    assert (chair.price_in_per_mtok, chair.price_out_per_mtok) == (0.40, 1.60)


def test_a_file_price_is_for_the_file_s_model(tmp_path: Path) -> None:
    (tmp_path / "analyst.md").write_text(
        "---\nid: analyst\nmodel: openai:my-finetune\nprice: {input: 9.0, output: 9.0}\n---\nYou analyse.\n",
        encoding="utf-8",
    )
    kept = load_definitions([tmp_path], include_builtin=False)["analyst"]
    assert (kept.price_in_per_mtok, kept.price_out_per_mtok) == (9.0, 9.0)
    moved = load_definitions([tmp_path], include_builtin=False,
                             model_overrides="analyst=anthropic:claude-sonnet-4")["analyst"]
    assert moved.model == "anthropic:claude-sonnet-4"
    assert moved.price_in_per_mtok != 9.0


def test_a_model_the_table_does_not_know_stays_unpriced() -> None:
    definitions = load_definitions(model_overrides="openai:some-local-model")
    assert definitions["committee-chair"].price_in_per_mtok is None
