"""Child-process programs for the PostgreSQL tests (``python child_pg.py <command> URL ...``).

- ``migrate URL GO_FILE``: once GO_FILE exists, open the store; print ``applied <n>``.
- ``recover URL GO_FILE claim|lease``: once GO_FILE exists, take orphans — ``claim``: with
  ``claim_orphans`` (SKIP LOCKED) in small batches; ``lease``: ``list_orphans`` (print ``listed <n>``),
  then once GO_FILE.race exists ``acquire_lease`` on each, as ``quorum recover`` does — and print
  ``took <id>`` for each; stay alive (a live owner)
  until GO_FILE.end exists.
- ``control URL EXEC_ID ACTION``: ask for a pause/resume/abort from this other process.
- ``append URL EXEC_ID FROM COUNT``: append COUNT events from sequence FROM, one per call.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from quorum.events import Event
from quorum.history.owner import process_owner
from quorum.history.postgres import PostgresHistoryStore
from quorum.ids import ExecutionId


def wait_for_file(path: str) -> None:
    while not os.path.exists(path):
        time.sleep(0.001)


async def migrate(url: str, go_file: str) -> None:
    store = PostgresHistoryStore(url)
    await asyncio.to_thread(wait_for_file, go_file)
    await store.open()
    print(f"applied {store.migrations_applied}", flush=True)
    await store.close()


async def recover(url: str, go_file: str, mode: str) -> None:
    async with PostgresHistoryStore(url) as store:
        print("ready", flush=True)
        await asyncio.to_thread(wait_for_file, go_file)
        owner = process_owner()
        if mode == "claim":
            while leases := await store.claim_orphans(owner, ttl_s=60, limit=3):
                for lease in leases:
                    print(f"took {lease.execution_id}", flush=True)
        else:
            orphans = await store.list_orphans()
            print(f"listed {len(orphans)}", flush=True)  # both saw every orphan: now they race for each
            await asyncio.to_thread(wait_for_file, go_file + ".race")
            for record in orphans:
                if await store.acquire_lease(record.id, owner, ttl_s=60) is not None:
                    print(f"took {record.id}", flush=True)
        print("done", flush=True)
        await asyncio.to_thread(wait_for_file, go_file + ".end")


async def control(url: str, eid: str, action: str) -> None:
    async with PostgresHistoryStore(url) as store:
        await store.request_control(eid, action, "from another process")  # type: ignore[arg-type]
        committed = time.time()  # the request is committed (and notified): the latency's clock starts
    print(f"sent {committed!r}", flush=True)


async def append(url: str, eid: str, first: int, count: int) -> None:
    async with PostgresHistoryStore(url) as store:
        for seq in range(first, first + count):
            event = Event(type="phase:start", execution_id=ExecutionId(eid), sequence=seq,
                          timestamp=time.time())
            await store.append([event])
    print("appended", flush=True)


def main() -> None:
    command, *args = sys.argv[1:]
    if command == "migrate":
        asyncio.run(migrate(args[0], args[1]))
    elif command == "recover":
        asyncio.run(recover(args[0], args[1], args[2]))
    elif command == "control":
        asyncio.run(control(args[0], args[1], args[2]))
    elif command == "append":
        asyncio.run(append(args[0], args[1], int(args[2]), int(args[3])))
    else:
        raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
