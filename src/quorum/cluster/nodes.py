"""The cluster's nodes as Ray reports them (the runner places drivers by them, the spreader call servers)."""

from __future__ import annotations

from typing import Any

__all__ = ("live_nodes", "ray_nodes")


def ray_nodes() -> list[dict[str, Any]]:
    """Every node Ray knows of, alive or not (``ray.nodes()``)."""
    import ray

    nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]  # Ray leaves it untyped
    return nodes


def live_nodes() -> list[dict[str, Any]]:
    return [n for n in ray_nodes() if n.get("Alive")]
