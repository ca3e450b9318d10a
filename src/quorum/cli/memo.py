"""The investment committee's verdict as a memo a person reads (Markdown).

``quorum export --format markdown`` closes its report with it, and ``quorum show`` prints it: the
decision and rating first, then the thesis, the cases, the scenarios, the exit plan, the risk, the vote
and the data, and last the provenance of every number and the clamp log. Any other verdict (another
task's) is not a memo: :func:`memo_markdown` returns None and the caller renders it field by field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ("is_memo", "memo_markdown")

_MEMO_KEYS = frozenset({"decision", "rating", "thesis", "approved_amount", "risk"})


def is_memo(verdict: Mapping[str, Any] | None) -> bool:
    return bool(verdict) and set(verdict or {}) >= _MEMO_KEYS


def _money(x: Any) -> str:
    return "n/a" if not isinstance(x, int | float) else f"{x:,.2f}"


def _pct(x: Any) -> str:
    return "n/a" if not isinstance(x, int | float) else f"{x * 100:.2f}%"


def _cell(x: Any) -> str:
    return " ".join(str(x).split()).replace("|", "\\|")


def _bullets(items: Sequence[Any], empty: str = "none") -> list[str]:
    return [f"- {_cell(i)}" for i in items] or [f"- {empty}"]


def _case(title: str, case: Any) -> list[str]:
    case = case if isinstance(case, Mapping) else {}
    lines = [f"**{title}**", "", *_bullets(case.get("points") or (), "no evidence on this side")]
    if case.get("rebuttal"):
        lines += ["", f"*Rebuttal:* {_cell(case['rebuttal'])}"]
    return [*lines, ""]


def _scenarios(model: Any) -> list[str]:
    if not isinstance(model, Mapping):
        return ["No scenarios: without a price history no expected return is estimated.", ""]
    lines = ["| scenario | probability | return | price | P&L |", "|---|---:|---:|---:|---:|"]
    lines.extend(
        f"| {row['scenario']} | {_pct(row['probability'])} | {_pct(row['return'])} | "
        f"{_money(row['price'])} | {_money(row['pnl'])} |"
        for row in model.get("scenarios", ())
    )
    rr = model.get("reward_risk")
    lines += [
        "",
        f"Expected return **{_pct(model.get('expected_return'))}** "
        f"(P&L {_money(model.get('expected_pnl'))}), "
        f"price target {_money(model.get('price_target'))}, reward:risk "
        f"{'n/a' if rr is None else f'{rr:.2f}'}; hurdle {_pct(model.get('hurdle'))}.",
        f"*Model:* {_cell(model.get('basis', ''))}",
        "",
    ]
    return lines


def _risk(risk: Mapping[str, Any]) -> list[str]:
    rows: list[tuple[str, str]] = []
    stop = risk.get("stop_loss") or {}
    rows.append(
        (
            "Stop loss",
            f"{_pct(stop.get('fraction'))} (price {_money(stop.get('price'))}): "
            f"{_cell(stop.get('basis', ''))}",
        )
    )
    for key, label in (
        ("loss_at_stop", "Loss at the stop"),
        ("gap_risk", "Gap risk"),
        ("cvar95", "CVaR95 over the horizon"),
        ("var95", "VaR95 over the horizon"),
        ("costs", "Costs and slippage"),
    ):
        part = risk.get(key)
        if isinstance(part, Mapping):
            extra = part.get("method") or part.get("basis") or ""
            frac = part.get("fraction", part.get("fraction_of_amount"))
            rows.append(
                (
                    label,
                    f"{_money(part.get('amount'))} ({_pct(frac)})" + (f": {_cell(extra)}" if extra else ""),
                )
            )
    vol = risk.get("volatility")
    if isinstance(vol, Mapping):
        rows.append(
            (
                "Volatility",
                f"sizing {_pct(vol.get('sizing'))} ({vol.get('basis')}); full sample "
                f"{_pct(vol.get('full_sample'))}, recent EWMA {_pct(vol.get('recent'))} "
                f"(lambda {vol.get('ewma_lambda')})",
            )
        )
    lines = ["| measure | value |", "|---|---|", *(f"| {a} | {b} |" for a, b in rows), ""]
    key_risks = risk.get("key_risks") or ()
    if key_risks:
        lines += ["**Key risks**", ""]
        lines += [
            f"- {_cell(k.get('risk'))} — {k.get('likelihood')} likelihood; {_cell(k.get('impact'))}; "
            f"mitigant: {_cell(k.get('mitigant'))}"
            for k in key_risks
            if isinstance(k, Mapping)
        ]
        lines.append("")
    return lines


def memo_markdown(verdict: Mapping[str, Any] | None) -> list[str] | None:
    """The memo's lines, or None when ``verdict`` is not the investment committee's."""
    if verdict is None or not is_memo(verdict):
        return None
    v = verdict
    votes = v.get("votes") or {}
    tally = votes.get("tally") or {}
    trade = v.get("trade") or {}
    lines = [
        f"### {v.get('decision')} — {v.get('rating')} {v.get('ticker', '')}".rstrip(),
        "",
        f"**Action:** {_cell(v.get('action', ''))}",
        "",
        f"Requested {_money(v.get('requested_amount'))}, "
        f"approved **{_money(v.get('approved_amount'))}**; trade: "
        f"{trade.get('side', 'none')} {_money(trade.get('amount'))}. Conviction {v.get('conviction')}/100.",
        "",
        "#### Thesis",
        "",
        _cell(v.get("thesis", "")),
        "",
        "#### The debate",
        "",
        *_case("Bull case", v.get("bull_case")),
        *_case("Bear case", v.get("bear_case")),
        "#### Scenarios over the horizon",
        "",
        *_scenarios(v.get("scenarios")),
    ]
    plan = v.get("exit_plan") or {}
    bench = v.get("benchmark") or {}
    stop = plan.get("stop_loss")
    stop_text = _money(stop) if isinstance(stop, int | float) else _cell(stop)
    lines += [
        "#### Exit plan",
        "",
        f"- Take-profit: {_money(plan.get('take_profit'))}",
        f"- Stop loss: {stop_text}",
        f"- Time stop: {_cell(plan.get('time_stop', 'n/a'))}",
        f"- Benchmark: {_cell(bench.get('name', 'n/a'))}, hurdle {_pct(bench.get('hurdle_rate'))} a year "
        f"({_pct(bench.get('hurdle_over_horizon'))} over the horizon)",
        "",
        "#### Risk",
        "",
        *_risk(v.get("risk") or {}),
        "#### The vote",
        "",
        f"{votes.get('outcome')}: {tally.get('APPROVE', 0)} approve, {tally.get('REJECT', 0)} reject, "
        f"{tally.get('ABSTAIN', 0)} abstain. {_cell(v.get('summary', ''))}",
        "",
        *(
            [
                "**Dissent**",
                "",
                *_bullets(
                    [
                        f"{d.get('agent')} ({d.get('vote')}): {d.get('reason')}"
                        for d in votes.get("dissent") or ()
                    ]
                ),
                "",
            ]
            if votes.get("dissent")
            else []
        ),
        "#### Conditions, invalidation and review",
        "",
        "**Conditions**",
        "",
        *_bullets(v.get("conditions") or ()),
        "",
        "**What would prove the thesis wrong**",
        "",
        *_bullets(v.get("invalidation") or ()),
        "",
    ]
    review = v.get("review") or {}
    lines += [
        f"**Review** on {review.get('date') or 'n/a'} ({_cell(review.get('basis', ''))}); triggers:",
        "",
    ]
    lines += [*_bullets(review.get("triggers") or ()), ""]
    for gate, signed in (v.get("approvals") or {}).items():
        lines += [f"#### Sign-off: {_cell(signed.get('decision'))} ({_cell(gate)})", "",
                  f"{_cell(signed.get('question'))}", ""]
        lines += _bullets([f"{d.get('decision')} by {d.get('by')}"
                           + (f": {d.get('comment')}" if d.get("comment") else "")
                           for d in signed.get("approvals") or ()])
        lines.append("")
    data = v.get("data") or {}
    lines += [
        "#### Data",
        "",
        f"As of {data.get('as_of') or 'n/a'} (last bar {data.get('last_bar') or 'n/a'}), "
        f"{data.get('observations', 0)} {data.get('frequency') or ''} bars "
        f"({data.get('periods_per_year')} a year), source {data.get('source') or 'none'}.",
        "",
        *_bullets([*(data.get("quality") or ()), *(data.get("gaps") or ())], "no quality notes"),
        "",
        "#### Provenance of every number",
        "",
        "| figure | from |",
        "|---|---|",
        *(f"| {_cell(k)} | {_cell(s)} |" for k, s in (v.get("sources") or {}).items()),
        "",
    ]
    clamps = (v.get("validation") or {}).get("clamps") or ()
    lines += [
        "#### Clamp log",
        "",
        *_bullets(
            [
                f"{c.get('rule')}: {_money(c.get('before'))} -> {_money(c.get('after'))} ({c.get('source')})"
                for c in clamps
            ],
            "no clamp fired",
        ),
    ]
    return [*lines, ""]
