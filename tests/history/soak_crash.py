"""Crash soak (run by hand; the CI runs 65 trials in test_crash.py):

    /tmp/qv/bin/python tests/history/soak_crash.py [--trials 500] [--seed 1]

Kills the crash drill with SIGKILL at random moments (and at the chosen points, in turn), resumes it in
a new process, and checks every invariant of ``test_crash.trial`` after each trial. Prints the number
of trials, how many were resumed mid-run, and the first failure (then stops).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the checkout: tests/ is a package

from tests.history import test_crash


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "baseline").mkdir()
        base = test_crash.make_baseline(Path(tmp) / "baseline")
        for n in range(args.trials):
            trial_dir = Path(tmp) / f"t{n}"
            trial_dir.mkdir(parents=True)
            kill: str | None = None
            delay: float | None = None
            if n % 3 == 0:
                kill = test_crash.CHOSEN[(n // 3) % len(test_crash.CHOSEN)]
            else:
                delay = rng.uniform(0.0, 1.2 * base.duration_s)
            label = f"kill={kill}" if kill else f"delay={(delay or 0) * 1000:.1f}ms"
            try:
                test_crash.trial(trial_dir, base, kill=kill, delay_s=delay)
            except AssertionError as exc:
                print(f"trial {n} ({label}) FAILED: {exc}")
                return 1
            if (n + 1) % 50 == 0:
                print(f"{n + 1} trials ok ({time.monotonic() - started:.0f}s)", flush=True)
    print(f"{args.trials} trials, zero violations, {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
