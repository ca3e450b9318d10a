"""The CLI's own pieces in-process: durations, the progress fold, event lines, reports, Markdown export."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from quorum.cli.common import CliError, ExitCode, exit_code_for_status, parse_duration
from quorum.cli.export import markdown_report
from quorum.cli.history_view import build_view
from quorum.cli.progress import Progress
from quorum.cli.render import PlainView, format_event
from quorum.cli.report import humanize, render_value, render_verdict
from quorum.definition.parser import TaskParser
from quorum.events import Event
from quorum.history.base import ExecutionRecord
from quorum.ids import AgentId, ExecutionId, PhaseName

from .helpers import DEMO_TASK

pytestmark = pytest.mark.unit

T0 = 1_790_000_000.0


def ev(seq: int, kind: str, *, phase: str | None = None, agent: str | None = None, dt: float = 0.0,
       duration_ms: float | None = None, error: str | None = None, **data: Any) -> Event:
    return Event(type=kind, execution_id=ExecutionId("e1"), sequence=seq, timestamp=T0 + dt, task="cli-demo",
                 phase=None if phase is None else PhaseName(phase),
                 agent=None if agent is None else AgentId(agent), duration_ms=duration_ms, error=error,
                 data=data)


def render(renderable: Any, width: int = 100) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, highlight=False).print(renderable)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2 days", 172800), ("90d", 90 * 86400), ("2w", 14 * 86400),
     ("500ms", 0.5), ("45", 45), ("1.5h", 5400)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.errors
@pytest.mark.parametrize("text", ["", "soon", "-5", "0", "5 parsecs", "3m soon", "nan"])
def test_bad_durations_are_usage_errors(text: str) -> None:
    with pytest.raises(CliError) as info:
        parse_duration(text, what="--older-than")
    assert info.value.code is ExitCode.USAGE
    assert "--older-than" in str(info.value)


def test_exit_codes_follow_the_status() -> None:
    assert [exit_code_for_status(s) for s in ("completed", "failed", "timeout", "aborted", "paused")] == [
        0, 1, 3, 4, 5]


def _demo_task() -> Any:
    return TaskParser().parse_task_file(DEMO_TASK)


def test_progress_folds_events_into_phase_states() -> None:
    progress = Progress()
    progress.seed(_demo_task())
    assert list(progress.phases) == ["Intake", "Analysis", "Deep Dive", "Verdict"]
    assert progress.phases["Verdict"].depends_on == ("Analysis", "Deep Dive")
    for event in (
        ev(1, "execution:start"),
        ev(2, "phase:start", phase="Intake", attempt=1),
        ev(3, "phase:complete", phase="Intake", duration_ms=2.0),
        ev(4, "phase:start", phase="Analysis", attempt=1),
        ev(5, "phase:skipped", phase="Deep Dive", reason="condition false: input.extended"),
        ev(6, "agent:start", phase="Analysis", agent="analyst-a"),
        ev(7, "agent:start", phase="Analysis", agent="analyst-b"),
        ev(8, "agent:response", phase="Analysis", agent="analyst-a"),
        ev(9, "agent:chunk", phase="Analysis", agent="analyst-b"),
    ):
        progress.apply(event)
    assert progress.status == "running"
    assert progress.phases["Intake"].state == "completed"
    assert progress.phases["Deep Dive"].state == "skipped"
    assert progress.phases["Deep Dive"].reason == "condition false: input.extended"
    assert list(progress.running) == [("Analysis", "analyst-b")]
    assert progress.calls == 1
    progress.apply(ev(10, "agent:error", phase="Analysis", agent="analyst-b", error="boom"))
    progress.apply(ev(11, "phase:failed", phase="Analysis", error="too few answers"))
    progress.apply(ev(12, "phase:retry", phase="Analysis", attempt=2, delay_ms=500))
    assert progress.phases["Analysis"].state == "retrying"
    assert progress.retries == 1
    assert "Analysis: retry in 0.5s" in progress.recent
    progress.apply(ev(13, "phase:start", phase="Analysis", attempt=2))
    assert progress.phases["Analysis"].attempts == 2
    progress.apply(ev(14, "execution:aborted", dt=1.5, error="stop", reason="stop"))
    assert progress.status == "aborted"
    assert progress.running == {}
    assert progress.elapsed_s() == pytest.approx(1.5)


def test_event_lines() -> None:
    line = format_event(ev(3, "agent:response", phase="Analysis", agent="analyst-a", duration_ms=12.4))
    assert line is not None
    assert line.endswith("agent:response      Analysis / analyst-a  12 ms")
    skipped = format_event(ev(4, "phase:skipped", phase="Deep Dive", reason="dependencies skipped"))
    assert skipped is not None
    assert skipped.endswith("(dependencies skipped)")
    failed = format_event(ev(5, "execution:error", error="phase 'A' failed:\nboom"))
    assert failed is not None
    assert "\n" not in failed
    assert failed.endswith("error: phase 'A' failed: boom")
    assert format_event(ev(6, "agent:chunk", phase="A", agent="x")) is None
    out = io.StringIO()
    view = PlainView(out, prefix_ids=True)
    view.on_event(ev(1, "execution:start"))
    view.note("pausing")
    assert out.getvalue().splitlines()[0].startswith("[e1] ")
    assert out.getvalue().splitlines()[1] == "quorum: pausing"


def test_verdict_report_orders_headline_then_sections() -> None:
    verdict = {
        "risk": {"var95": 0.051, "key_risks": [{"risk": "drawdown", "likelihood": "medium"}]},
        "decision": "APPROVE_WITH_CONDITIONS",
        "conditions": ["stop loss at -8%"],
        "conviction": 72,
        "approved_amount": 12500.5,
        "votes": [{"agent": "bull", "vote": "approve"}, {"agent": "bear", "vote": "reject"}],
    }
    text = render(render_verdict(verdict))
    lines = [ln.rstrip() for ln in text.splitlines()]
    assert lines[0].startswith("Decision")
    assert "APPROVE_WITH_CONDITIONS" in lines[0]
    assert lines[1].startswith("Conviction")
    assert lines[2].split() == ["Approved", "amount", "12,500.50"]
    order = [text.index(h) for h in ("\nRisk", "\nConditions", "\nVotes")]
    assert order == sorted(order)
    assert "VaR95" in text
    assert "• stop loss at -8%" in text
    assert render(render_verdict(None)).strip() == "no verdict"


def test_generic_values_render_as_tables_or_lists_by_width() -> None:
    records = [{"check": "ticker", "passed": True, "detail": "ticker BTC"},
               {"check": "amount", "passed": True, "detail": "10000"}]
    wide = render(render_value({"checks": records}), width=100)
    assert "Check" in wide  # a table with headers
    assert "ticker BTC" in wide
    narrow = render(render_value({"checks": records}), width=30)
    assert "• " in narrow  # too narrow for the table: a list of key/value blocks
    assert "ticker BTC" in narrow
    assert humanize("approvedAmount") == "Approved amount"
    assert humanize("cvar95") == "CVaR95"
    assert "riskTolerance" in render(render_value({"riskTolerance": "low"}, raw_keys=True))


def _view() -> Any:
    record = ExecutionRecord(
        id=ExecutionId("e1"), task="cli-demo", status="completed", created_at=T0, updated_at=T0 + 1,
        started_at=T0, ended_at=T0 + 1, duration_ms=1000.0, input={"ticker": "BTC"},
        verdict={"decision": "APPROVE", "risk": {"var95": 0.05}},
        phase_hashes={"Intake": "a", "Analysis": "b", "Deep Dive": "c", "Verdict": "d"},
    )
    events = [
        ev(1, "execution:start"),
        ev(2, "phase:start", phase="Intake", attempt=1),
        ev(3, "phase:complete", phase="Intake", duration_ms=1.0, outputs={}),
        ev(4, "phase:start", phase="Analysis", attempt=1),
        ev(5, "agent:response", phase="Analysis", agent="analyst-a"),
        ev(6, "phase:failed", phase="Analysis", error="too few"),
        ev(7, "phase:retry", phase="Analysis", attempt=2),
        ev(8, "phase:start", phase="Analysis", attempt=2),
        ev(9, "phase:complete", phase="Analysis", duration_ms=5.0, outputs={"stance": "bullish"}),
        ev(10, "phase:skipped", phase="Deep Dive", reason="condition false"),
        ev(11, "phase:start", phase="Verdict", attempt=1),
        ev(12, "checkpoint:created", phase="Verdict",
           snapshot={"phases": {"Verdict": {"status": "completed", "outputs": {"decision": "APPROVE"}}}}),
        ev(13, "execution:complete", duration_ms=1000.0),
    ]
    return build_view(record, events, checkpoint=events[11], phase_order=list(record.phase_hashes))


def test_history_view_rebuilds_phases_from_the_journal() -> None:
    view = _view()
    assert list(view.phases) == ["Intake", "Analysis", "Deep Dive", "Verdict"]
    analysis = view.phases["Analysis"]
    assert (analysis.status, analysis.attempts, analysis.answers) == ("completed", 2, 1)
    assert analysis.outputs == {"stance": "bullish"}
    assert view.phases["Deep Dive"].skipped_reason == "condition false"
    assert view.phases["Verdict"].outputs == {"decision": "APPROVE"}  # from the checkpoint snapshot
    assert [e["type"] for e in view.to_dict()["events"]][:2] == ["execution:start", "phase:start"]
    assert "agent:response" not in {e["type"] for e in view.to_dict()["events"]}


def test_markdown_export_annotates_each_phase_in_place() -> None:
    document = Path(DEMO_TASK).read_text()
    md = markdown_report(_view(), document + "\n```md\n## Phase: Not A Phase\n```\n", changed=True)
    assert md.startswith("# CLI demo\n\n> **quorum run report**")
    assert "the task file has changed since this run" in md
    sections = md.split("## Phase: ")
    assert [s.split("\n", 1)[0] for s in sections[1:]] == ["Intake", "Analysis", "Deep Dive", "Verdict",
                                                             "Not A Phase"]
    assert "> **Run:** **completed** · 0.01 s · 2 attempts · 1 answer" in sections[2]
    assert "- **Stance**: bullish" in sections[2]
    assert "> skipped: condition false" in sections[3]
    # a heading inside a code fence is not a phase: the Verdict section runs on to the end
    assert md.count("> **Run:**") == 4
    assert "> **Run:** **running**" in sections[5]
    assert md.rstrip().endswith("```")
    assert "## Verdict\n\n- **Decision**: APPROVE" in md
    skeleton = markdown_report(_view(), None)
    assert skeleton.startswith("# cli-demo\n")
    assert skeleton.count("## Phase: ") == 4


def test_elapsed_time_runs_while_the_execution_runs() -> None:
    progress = Progress()
    progress.apply(Event(type="execution:start", execution_id=ExecutionId("e"), sequence=1,
                         timestamp=time.time() - 2.0))
    assert 1.9 < progress.elapsed_s() < 10


def test_compact_verdict_keeps_records_to_one_line_and_leaves_out_provenance() -> None:
    votes = [{"agent": f"agent-{i}", "vote": "APPROVE", "reason": "a long explanation " * 8}
             for i in range(12)]
    verdict = {"decision": "APPROVE", "votes": votes, "sources": {"decision": "portfolio-manager"}}
    compact = render(render_verdict(verdict, compact=True), width=80)
    assert "Sources" not in compact
    assert "• agent-0 — vote: APPROVE; reason: a long explanation" in compact
    assert "… and 4 more" in compact
    assert all(len(line) <= 80 for line in compact.splitlines())
    full = render(render_verdict(verdict), width=80)
    assert "Sources" in full
    assert "agent-11" in full
