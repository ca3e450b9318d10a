"""The peers measured in the same run as quorum: which scripts, in which virtualenvs, on which metrics.

A peer is the shared ``peer_<name>.py`` (``../shared/bench/peers``), run with the interpreter of its own
virtualenv, found the way ``run_all.sh`` finds it: the script's ``# bench-venv: <venv>`` header names
``$VENV_ROOT/<venv>`` (default ``/tmp/peers``), which counts as set up only when its ``.bench-ok``
marker records the packages of the script's ``# bench-pip:`` header. Nothing is installed here:
``run_all.sh --setup-only`` does that.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = (
    "DEFAULT_PEERS",
    "PEER_METRICS",
    "ExternalPeer",
    "PeerUnavailable",
    "find_peer",
    "parse_peer_names",
    "venv_root",
)

# The metrics each peer is measured on: those that issue 7's targets compare against (and the peers
# column of the latency, fan-out and import rows). DBOS's throughput is left out: no target uses it and
# one process took about 25 s in results.md.
PEER_METRICS: dict[str, frozenset[str]] = {
    "langgraph": frozenset({"import", "latency", "overhead", "throughput", "fanout"}),
    "langgraph_sqlite": frozenset({"overhead", "throughput"}),
    "dbos": frozenset({"import", "overhead"}),
    # only when named: its measured loops run into the 75 s budget (results.md)
    "prefect": frozenset({"import", "overhead"}),
}
DEFAULT_PEERS = ("langgraph", "langgraph_sqlite", "dbos")

# The sizes the peers were measured at in results.md (run_all.sh): larger ones only cost time, as no
# target compares a peer there.
MAX_SIZE = {"throughput": 200, "fanout": 1000}


class PeerUnavailable(LookupError):
    """A peer that cannot be run here (no script, no set-up virtualenv); the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExternalPeer:
    name: str
    """The script's name: ``peer_<name>.py`` (``langgraph_sqlite``)."""
    python: Path
    script: Path
    metrics: frozenset[str]

    @property
    def label(self) -> str:
        """The ``peer`` field of its JSON lines (``langgraph-sqlite``)."""
        return self.name.replace("_", "-")

    def measures(self, metric: str, size: int | None = None) -> bool:
        limit = MAX_SIZE.get(metric)
        return metric in self.metrics and (size is None or limit is None or size <= limit)


def venv_root() -> Path:
    return Path(os.environ.get("VENV_ROOT", "/tmp/peers"))


def parse_peer_names(args: Iterable[str]) -> list[str]:
    """``["langgraph,dbos", "langgraph-sqlite"]`` -> ``["langgraph", "dbos", "langgraph_sqlite"]``.

    Raises ValueError on a name that is not a known peer (the floor always runs, so it is not one).
    """
    names: list[str] = []
    for arg in args:
        for word in re.split(r"[,\s]+", arg.strip()):
            if not word:
                continue
            name = word.removeprefix("peer_").removesuffix(".py").replace("-", "_")
            if name not in PEER_METRICS:
                raise ValueError(f"unknown peer {word!r}; known: {', '.join(PEER_METRICS)}")
            if name not in names:
                names.append(name)
    return names


def _header(script: Path, key: str) -> str | None:
    match = re.search(rf"^# bench-{key}:[ \t]*(.*)$", script.read_text(encoding="utf-8"), re.MULTILINE)
    return None if match is None else match.group(1).strip()


def find_peer(name: str, peers_dir: Path, root: Path | None = None) -> ExternalPeer:
    """The peer ``name`` ready to run, or PeerUnavailable saying what is missing."""
    script = peers_dir / f"peer_{name}.py"
    if not script.is_file():
        raise PeerUnavailable(f"{name}: no {script}")
    venv = _header(script, "venv")
    if not venv:
        raise PeerUnavailable(f"{name}: {script.name} has no '# bench-venv:' line")
    folder = (root or venv_root()) / venv
    python = folder / "bin" / "python"
    setup_hint = f"set it up with {peers_dir / 'run_all.sh'} --setup-only --peers {name}"
    if not os.access(python, os.X_OK):
        raise PeerUnavailable(f"{name}: no virtualenv at {folder} ({setup_hint})")
    # the marker run_all.sh writes once pip succeeded, for exactly the packages the script names
    marker = folder / ".bench-ok"
    wanted = f"pkgs: {_header(script, 'pip') or ''}"
    try:
        recorded = marker.read_text(encoding="utf-8").splitlines()
    except OSError:
        raise PeerUnavailable(f"{name}: {folder} is not set up (no .bench-ok; {setup_hint})") from None
    if wanted not in recorded:
        raise PeerUnavailable(
            f"{name}: {folder} was set up for other packages than {wanted!r} ({setup_hint})"
        )
    return ExternalPeer(name=name, python=python, script=script, metrics=PEER_METRICS[name])
