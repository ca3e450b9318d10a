"""``/healthz``: the one route answered without a token (liveness probes)."""

from __future__ import annotations

from fastapi import APIRouter

from quorum.server.models import Health

__all__ = ("health", "router")

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Whether the server is up (no token needed)")
def health() -> Health:
    from quorum import __version__

    return Health(status="ok", version=__version__)
