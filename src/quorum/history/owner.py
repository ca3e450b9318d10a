"""Who drives an execution: owner strings ``host:pid:nonce`` and telling a dead owner from a live one.

A lease records its owner as ``host:pid:nonce``. On the same host a dead owner is recognised at once
(its pid no longer exists), so ``quorum recover`` right after a crash need not wait for the lease to
expire; on another host only the lease expiry tells. The nonce tells apart two processes that got the
same pid (pid reuse after a reboot, or containers sharing a host name).
"""

from __future__ import annotations

import os
import secrets
import socket

__all__ = ("owner_is_dead", "parse_owner", "process_owner")

_NONCES: dict[int, str] = {}


def process_owner() -> str:
    """The owner string of this process (stable for its lifetime; a forked child gets its own)."""
    pid = os.getpid()
    nonce = _NONCES.get(pid)
    if nonce is None:
        nonce = _NONCES[pid] = secrets.token_hex(4)
    return f"{socket.gethostname()}:{pid}:{nonce}"


def parse_owner(owner: str) -> tuple[str, int, str] | None:
    """``(host, pid, nonce)``, or None when ``owner`` is not in the ``host:pid:nonce`` form."""
    # rsplit: a host name never holds the pid or nonce, but it may itself contain ':' (IPv6 literals).
    parts = owner.rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]


def owner_is_dead(owner: str) -> bool:
    """True when ``owner`` ran on this host and its process no longer exists.

    False when the process exists, or when the owner is on another host (or not in the
    ``host:pid:nonce`` form): only the lease expiry can tell then.
    """
    parsed = parse_owner(owner)
    if parsed is None:
        return False
    host, pid, _nonce = parsed
    if host != socket.gethostname() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # it exists, owned by another user
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    # A killed child that its parent has not reaped yet still answers kill(pid, 0), but it runs no code.
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return False
    # The state follows the parenthesised command name, which may itself hold ')'.
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] == "Z"
