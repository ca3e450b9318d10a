#!/usr/bin/env python3
"""What tracing costs per agent call: the overhead metric (b) with tracing off and on, beside the floor.

    python benchmarks/tracing_overhead.py                 # 3 processes each, 200 committees at L = 0
    python benchmarks/tracing_overhead.py --procs 5 --n 400
    python benchmarks/tracing_overhead.py --short         # tiny: checks every variant runs (CI)

Four variants of the same measurement, interleaved round by round so they share the machine's noise:

- ``plain-asyncio``: the floor (the shared ``peer_plain.py``);
- ``quorum``: ``peer_quorum.py`` as the main benchmark runs it (nothing of telemetry loaded);
- ``quorum, instrumented, off``: ``instrument(executor, TelemetrySettings())`` with nothing configured
  (what ``build_executor`` does once it calls ``instrument``): must equal ``quorum``;
- ``quorum, tracing on``: ``instrument`` with an SDK ``TracerProvider`` whose ``BatchSpanProcessor`` exports
  to the in-memory exporter (the production processor, the export itself free).

Each figure is the median over processes of µs per agent call (steady batch wall / 18), with min–max and
its ratio to the floor of the same run; the last column is the cost tracing adds per agent call.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _bench import BENCH_DIR, peers_dir

VARIANTS = ("plain-asyncio", "quorum", "quorum, instrumented, off", "quorum, tracing on")


def _argv(variant: str, n: int) -> list[str]:
    metric = ["--metric", "overhead", "--L", "0", "--n", str(n)]
    if variant == "plain-asyncio":
        return [sys.executable, str(peers_dir() / "peer_plain.py"), *metric]
    if variant == "quorum":
        return [sys.executable, str(BENCH_DIR / "peer_quorum.py"), *metric]
    mode = "off" if variant.endswith("off") else "on"
    return [sys.executable, str(Path(__file__).resolve()), f"--as-peer={mode}", *metric]


def _measure(variant: str, n: int) -> float:
    done = subprocess.run(_argv(variant, n), capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"{variant} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(lines[-1])
    if not out.get("ok"):
        raise SystemExit(f"{variant} failed: {out.get('error')}")
    return float(out["us_per_call_steady"])


def _table(samples: dict[str, list[float]]) -> str:
    floor = statistics.median(samples["plain-asyncio"])
    off = statistics.median(samples["quorum"])
    rows = ["| variant | µs per agent call (median) | min–max | ratio to floor | added by tracing |",
            "|---|---:|---:|---:|---:|"]
    for variant in VARIANTS:
        values = samples[variant]
        median = statistics.median(values)
        added = f"{median - off:+.1f} µs" if variant.startswith("quorum, ") else ""
        rows.append(f"| {variant} | {median:.1f} | {min(values):.1f}–{max(values):.1f} | "
                    f"{median / floor:.2f}× | {added} |")
    return "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--procs", type=int, default=3, help="processes per variant")
    ap.add_argument("--n", type=int, default=200, help="committees per process after the first")
    ap.add_argument("--short", action="store_true", help="1 process each, 5 committees: that it runs")
    ap.add_argument("--as-peer", choices=("off", "on"), help=argparse.SUPPRESS)
    args, _ = ap.parse_known_args()
    if args.as_peer:
        sys.argv = [a for a in sys.argv if not a.startswith("--as-peer")]  # the rest is the peer driver's
        _run_as_peer(args.as_peer)
        return
    procs, n = (1, 5) if args.short else (args.procs, args.n)
    samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for _ in range(procs):
        for variant in VARIANTS:
            samples[variant].append(_measure(variant, n))
    print(f"overhead metric (L = 0, {n} committees of 18 agent calls per process, {procs} process(es) each)")
    print(_table(samples))


def _run_as_peer(mode: str) -> None:
    """This process is one measurement: ``peer_quorum``'s peer with telemetry attached at setup."""
    import peer_quorum

    class InstrumentedPeer(peer_quorum.QuorumPeer):
        notes = f"history: in memory; telemetry instrumented, tracing {mode}"

        async def setup(self, state_dir: str) -> None:
            await super().setup(state_dir)
            from quorum.telemetry import TelemetrySettings, instrument

            provider = None
            if mode == "on":
                from opentelemetry.sdk.trace import TracerProvider
                from opentelemetry.sdk.trace.export import BatchSpanProcessor
                from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

                self.exporter = InMemorySpanExporter()
                provider = TracerProvider()
                provider.add_span_processor(BatchSpanProcessor(self.exporter))
            self.telemetry = instrument(self.executor, TelemetrySettings(), tracer_provider=provider)

        async def teardown(self) -> None:
            await self.telemetry.aclose()
            await super().teardown()

        def extra_info(self) -> dict[str, Any]:
            info: dict[str, Any] = super().extra_info()
            exporter = getattr(self, "exporter", None)
            if exporter is not None:
                info["spans"] = len(exporter.get_finished_spans())
            return info

    peer_quorum.run(InstrumentedPeer)


if __name__ == "__main__":
    main()
