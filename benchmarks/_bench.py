"""Where the shared benchmark lives, and how quorum's benchmark scripts import it.

The workload, its validation and the measuring driver are *not* copied into this repository: they are
the peers' own files in ``../shared/bench/peers`` (read-only), imported by path, so that quorum is
measured by exactly the code that measured LangGraph, DBOS and Prefect. ``QUORUM_BENCH_PEERS`` points
elsewhere when the checkout sits somewhere else.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

__all__ = ("BENCH_DIR", "REPO_ROOT", "SharedBenchMissing", "load_shared", "peers_dir")

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent


class SharedBenchMissing(RuntimeError):
    """The shared peers folder (common.py, peer_plain.py, results.md) is not where we looked."""


def peers_dir() -> Path:
    """The folder holding ``common.py`` and the peer scripts."""
    env = os.environ.get("QUORUM_BENCH_PEERS")
    candidates = [Path(env)] if env else []
    candidates += [REPO_ROOT.parent / "shared" / "bench" / "peers", Path("/work/shared/bench/peers")]
    for folder in candidates:
        if (folder / "common.py").is_file():
            return folder.resolve()
    looked = ", ".join(str(c) for c in candidates)
    raise SharedBenchMissing(
        f"the shared benchmark (common.py) was not found; looked in: {looked}. "
        "Set QUORUM_BENCH_PEERS to the folder that holds common.py and peer_plain.py."
    )


def load_shared(name: str) -> ModuleType:
    """Import ``<peers_dir>/<name>.py`` as the module ``name`` (once; later calls return the same module).

    Registered in ``sys.modules`` under its own name, as the peer scripts do with ``import common``,
    so that every script in a process shares one copy of the workload definition.
    """
    if name in sys.modules:
        return sys.modules[name]
    path = peers_dir() / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise SharedBenchMissing(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
