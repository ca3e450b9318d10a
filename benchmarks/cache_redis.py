"""Response cache hit latency: Redis beside SQLite and memory, in the same run.

::

    python benchmarks/cache_redis.py                    # 2,000 hits per backend, Redis at QUORUM_TEST_REDIS
    python benchmarks/cache_redis.py --hits 200 --json  # fewer, as JSON
    python benchmarks/cache_redis.py --redis redis://127.0.0.1:6379/0

Two numbers per backend, each over ``--hits`` lookups of ``--keys`` stored answers (a committee
answer's size: text, structured data, rationale), timed one by one with ``perf_counter``:

- *backend hit*: what a process that has not seen the answer yet pays (``ResponseCache.lookup`` with
  an empty memory layer, so the backend serves it and the entry is decoded);
- *warm hit*: a lookup the in-process memory layer answers (the same for every backend: the floor).

Redis keys are written under a prefix of this run's own and deleted after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from quorum.agents.cache import ResponseCache, cache_key  # noqa: E402 - after the path setup
from quorum.agents.cache_backend import MemoryBackend  # noqa: E402
from quorum.agents.cache_redis import RedisBackend  # noqa: E402
from quorum.agents.cache_sqlite import SQLiteBackend  # noqa: E402
from quorum.agents.protocol import AgentResponse  # noqa: E402
from quorum.definition.model import frozen_mapping  # noqa: E402
from quorum.ids import AgentId  # noqa: E402


def an_answer(i: int) -> AgentResponse:
    return AgentResponse(
        agent_id=AgentId("market-analyst"), model="openai:gpt-4.1-mini", text="A measured view. " * 40,
        stance="bullish", confidence=0.72, rationale="Momentum and volume agree; risk is bounded. " * 5,
        tokens_in=1200, tokens_out=350, cost_usd=0.0011,
        data=frozen_mapping({"target_price": 71_000 + i, "stop_loss": 64_000, "horizon_days": 30,
                             "signals": ["rsi", "macd", "volume"], "scores": {"trend": 0.7, "risk": 0.3}}),
    )


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(make: Any, keys: list[str], hits: int) -> dict[str, float]:
    """``make()`` gives a backend over the stored entries (its connection is opened before timing)."""
    writer = ResponseCache(make())
    for i, key in enumerate(keys):
        await writer.store(key, an_answer(i), ttl_s=3600)
    await writer.aclose()
    backend = make()
    await backend.load(keys[0])  # connect outside the timings
    backend_us: list[float] = []
    warm_us: list[float] = []
    reader = ResponseCache(backend)
    for i in range(hits):
        key = keys[i % len(keys)]
        if i % len(keys) == 0:
            reader = ResponseCache(backend)  # an empty memory layer: the backend answers each key once
        started = time.perf_counter()
        hit = await reader.lookup(key)
        backend_us.append((time.perf_counter() - started) * 1e6)
        assert hit is not None
        started = time.perf_counter()
        again = await reader.lookup(key)
        warm_us.append((time.perf_counter() - started) * 1e6)
        assert again is hit
    await backend.aclose()
    return {
        "backend_p50_us": pct(backend_us, 0.50), "backend_p95_us": pct(backend_us, 0.95),
        "backend_mean_us": statistics.fmean(backend_us),
        "warm_p50_us": pct(warm_us, 0.50), "warm_p95_us": pct(warm_us, 0.95),
    }


async def main_async(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    keys = [cache_key("market-analyst", "m", {"m": {"prompt": f"question {i}"}, "p": {}})
            for i in range(args.keys)]
    results: dict[str, dict[str, float]] = {}
    memory = MemoryBackend()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cache.db"
        prefix = f"quorum:bench:{uuid.uuid4().hex[:8]}:cache:v1:"
        makers: dict[str, Any] = {
            # the memory backend *is* the memory layer: a "backend hit" there is a warm hit
            "memory": lambda: memory,
            "sqlite": lambda: SQLiteBackend(path),
            "redis": lambda: RedisBackend(args.redis, prefix=prefix, timeout_s=2.0),
        }
        for name, make in makers.items():
            try:
                results[name] = await measure(make, keys, args.hits)
            finally:
                if name == "redis":
                    cleaner = RedisBackend(args.redis, prefix=prefix)
                    await cleaner.clear()
                    await cleaner.aclose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=2000)
    parser.add_argument("--keys", type=int, default=200)
    parser.add_argument("--redis", default=os.environ.get("QUORUM_TEST_REDIS", "redis://127.0.0.1:6379/0"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print(f"response cache hits ({args.hits} per backend, {args.keys} keys; microseconds)")
    print(f"{'backend':<8} {'backend p50':>12} {'backend p95':>12} {'warm p50':>9} {'warm p95':>9}")
    for name, r in results.items():
        print(f"{name:<8} {r['backend_p50_us']:>12.1f} {r['backend_p95_us']:>12.1f} "
              f"{r['warm_p50_us']:>9.1f} {r['warm_p95_us']:>9.1f}")


if __name__ == "__main__":
    main()
