"""``quorum run`` leaves an execution that reaches an approval gate waiting in the history (exit 6, how
to decide); ``quorum approvals`` lists it; ``quorum approve`` decides in another process, which takes it
over from its journal and finishes it without running anything before the gate again."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from .helpers import Cli

FIXTURES = Path(__file__).parent / "fixtures"
AGENTS = FIXTURES / "agents"

GATED = """# Gated purchase

```yaml
name: gated-purchase
requirements:
  ticker: string
  amount: number
```

## Phase: Analysis

### Agents
- analyst-a

### Steps
- Analyse {{ input.ticker }}.

## Phase: Sign-off
dependsOn: Analysis

### Steps
- approval: Buy {{ input.amount }} of {{ input.ticker }}? approvers=1 default=reject

### Outputs
- decision (string): the decision
- approvals (list): who decided

## Phase: Order
dependsOn: Sign-off
when: phases["Sign-off"].outputs.decision == "approve"

### Agents
- analyst-b

### Steps
- Place the order.
"""


def _task(tmp_path: Path) -> Path:
    path = tmp_path / "gated.md"
    path.write_text(GATED, encoding="utf-8")
    return path


def _calls(db: Path, execution_id: str, agent: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(
            "select count(*) from events where execution_id = ? and type = 'agent:start' and agent = ?",
            (execution_id, agent)).fetchone()[0])


def test_run_leaves_it_waiting_and_approve_finishes_it(cli: Cli, tmp_path: Path) -> None:
    task = _task(tmp_path)
    run = cli("run", str(task), "ticker=BTC", "amount=100", "--agents-dir", str(AGENTS), "--json")
    assert run.code == 6, run
    left = json.loads(run.out)
    execution_id = left["id"]
    assert left["status"] == "waiting"
    assert left["approvals"][0]["question"] == "Buy 100 of BTC?"

    listed = cli("approvals", "--json")
    assert listed.code == 0, listed
    rows = json.loads(listed.out)
    assert [(r["execution"], r["gate"]) for r in rows] == [(execution_id, "Sign-off/0")]

    history = cli("history", "--json")
    assert json.loads(history.out)[0]["status"] == "waiting"

    text = cli("approvals")
    assert f"quorum approve {execution_id}" in text.out

    approved = cli("approve", execution_id[:8], "--by", "alice", "--comment", "within mandate", "--json",
                   "--agents-dir", str(AGENTS))
    assert approved.code == 0, approved
    result = json.loads(approved.out)
    assert result["status"] == "completed"
    sign_off = result["phases"]["Sign-off"]["outputs"]
    assert sign_off["decision"] == "approve"
    assert [(a["by"], a["comment"]) for a in sign_off["approvals"]] == [("alice", "within mandate")]
    assert _calls(cli.db, execution_id, "analyst-a") == 1  # the analysis was not asked again
    assert _calls(cli.db, execution_id, "analyst-b") == 1  # the approved branch ran
    assert json.loads(cli("approvals", "--json").out) == []


def test_a_rejection_and_bad_decisions(cli: Cli, tmp_path: Path) -> None:
    task = _task(tmp_path)
    run = cli("run", str(task), "ticker=ETH", "amount=5", "--agents-dir", str(AGENTS), "--json")
    assert run.code == 6, run
    execution_id = json.loads(run.out)["id"]
    bad = cli("approve", execution_id, "--option", "half")
    assert bad.code == 2, bad
    assert "'half' is not a choice" in bad.err
    both = cli("approve", execution_id, "--reject", "--option", "x")
    assert both.code == 2
    rejected = cli("approve", execution_id, "--reject", "--by", "bob", "--json", "--agents-dir", str(AGENTS))
    assert rejected.code == 0, rejected
    outputs = json.loads(rejected.out)["phases"]["Sign-off"]["outputs"]
    assert outputs["decision"] == "reject"
    assert _calls(cli.db, execution_id, "analyst-b") == 0  # the order phase was skipped
    again = cli("approve", execution_id)
    assert again.code == 1
    assert "already ended" in again.err


def test_approve_without_a_waiting_gate_says_so(cli: Cli, tmp_path: Path) -> None:
    done = cli("run", str(FIXTURES / "tasks" / "cli-demo.md"), "ticker=BTC", "amount=10", "riskTolerance=low",
               "--agents-dir", str(AGENTS), "--json")
    assert done.code == 0, done
    execution_id = json.loads(done.out)["id"]
    r = cli("approve", execution_id)
    assert r.code == 1
    assert "already ended" in r.err
