#!/usr/bin/env python3
"""Peer: quorum with the SQLite history (``SQLiteHistoryStore`` on a file in ``--state-dir``).

Same task, agents and driver as ``peer_quorum.py``; only the history store differs. The engine records
every event in the journal (batched group commits), so this is quorum's durable configuration, the one
to put beside LangGraph + SQLite checkpointer and DBOS.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_quorum import QuorumPeer, run


class QuorumSQLitePeer(QuorumPeer):
    name = "quorum-sqlite"
    notes = "history: SQLite file (SQLiteHistoryStore, synchronous=NORMAL)"

    def make_store(self, state_dir: str) -> Any:
        from quorum.history.sqlite import SQLiteHistoryStore

        return SQLiteHistoryStore(os.path.join(state_dir, "quorum-history.sqlite3"))


if __name__ == "__main__":
    run(QuorumSQLitePeer)
