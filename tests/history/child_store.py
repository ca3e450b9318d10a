"""Child-process programs for the SQLite tests (run as ``python child_store.py <command> ...``).

- ``write DB N_EXEC``: append events to N_EXEC executions forever, printing ``committed <total>`` after
  each append returns (so the parent knows what was durable before it kills us).
- ``burst DB PREFIX N_EXEC N_EVENTS``: write N_EXEC executions of N_EVENTS events each, concurrently,
  then print ``ok`` (several such processes share one database).
- ``tail DB EXEC_ID LAST``: follow one execution's journal with ``read_journal(after=...)`` until the
  event with sequence LAST arrives; print ``seen <count> <sequences-ok>``.
- ``control DB EXEC_ID ACTION``: ask for a pause/resume/abort from this other process.
- ``race DB EXEC_ID GO_FILE``: once GO_FILE exists, try to take the execution's lease; print
  ``won <epoch>`` or ``lost``; stay alive (a live owner) until ``GO_FILE.end`` exists.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from quorum.events import Event, EventType
from quorum.history.base import ExecutionRecord
from quorum.history.owner import process_owner
from quorum.history.sqlite import SQLiteHistoryStore
from quorum.ids import ExecutionId


async def write(path: str, n_exec: int) -> None:
    store = SQLiteHistoryStore(path)
    ids = [ExecutionId(f"w{i}") for i in range(n_exec)]
    now = time.time()
    for eid in ids:
        await store.create_execution(
            ExecutionRecord(id=eid, task="crash", status="pending", created_at=now, updated_at=now)
        )
    seq = 0
    total = 0
    payload = {"text": "y" * 200, "n": 0}
    while True:
        seq += 1
        events = [
            Event(
                type=EventType.EXECUTION_START if seq == 1 else EventType.AGENT_RESPONSE,
                execution_id=eid, sequence=seq, timestamp=time.time(),
                data={"call_key": f"P/0/a{seq}/0/1", "response": payload} if seq > 1 else {},
            )
            for eid in ids
        ]
        # One append per execution, concurrently, so that group commit batches them.
        await asyncio.gather(*(store.append([e]) for e in events))
        total += len(events)
        print(f"committed {seq}", flush=True)


async def burst(path: str, prefix: str, n_exec: int, n_events: int) -> None:
    async with SQLiteHistoryStore(path, busy_timeout_s=30) as store:

        async def one(eid: ExecutionId) -> None:
            now = time.time()
            await store.create_execution(
                ExecutionRecord(id=eid, task="burst", status="pending", created_at=now, updated_at=now)
            )
            for seq in range(1, n_events + 1):
                kind = EventType.EXECUTION_START if seq == 1 else EventType.PHASE_START
                await store.append(
                    [Event(type=kind, execution_id=eid, sequence=seq, timestamp=time.time(), data={"n": seq})]
                )

        await asyncio.gather(*(one(ExecutionId(f"{prefix}{i}")) for i in range(n_exec)))
    print("ok", flush=True)


async def tail(path: str, eid: str, last: int) -> None:
    store = SQLiteHistoryStore(path)
    after = 0
    seen = 0
    ok = True
    deadline = time.monotonic() + 60
    while after < last and time.monotonic() < deadline:
        events = await store.read_journal(eid, after=after)
        for e in events:
            ok = ok and e.sequence == after + 1
            after = e.sequence
            seen += 1
        if not events:
            await asyncio.sleep(0.002)
    await store.close()
    print(f"seen {seen} {ok}", flush=True)


async def control(path: str, eid: str, action: str) -> None:
    async with SQLiteHistoryStore(path) as store:
        await store.request_control(eid, action, "from another process")  # type: ignore[arg-type]
    print("sent", flush=True)


def wait_for_file(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.001)


async def race(path: str, eid: str, go_file: str) -> None:
    async with SQLiteHistoryStore(path, busy_timeout_s=30) as store:
        print("ready", flush=True)  # the database is open: the test starts the race once all are
        await asyncio.to_thread(wait_for_file, go_file)
        lease = await store.acquire_lease(eid, process_owner(), ttl_s=60)
        print("lost" if lease is None else f"won {lease.epoch}", flush=True)
        await asyncio.to_thread(wait_for_file, go_file + ".end")


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "write":
        asyncio.run(write(args[0], int(args[1])))
    elif command == "burst":
        asyncio.run(burst(args[0], args[1], int(args[2]), int(args[3])))
    elif command == "tail":
        asyncio.run(tail(args[0], args[1], int(args[2])))
    elif command == "control":
        asyncio.run(control(args[0], args[1], args[2]))
    elif command == "race":
        asyncio.run(race(args[0], args[1], args[2]))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
