"""``quorum serve``: the HTTP API (REST, Server-Sent Events, OpenAPI 3.1) over the history store.

Needs the ``serve`` extra (FastAPI, uvicorn): ``pip install 'quorum[serve]'``. Nothing here is imported
by the CLI until ``quorum serve`` runs.

::

    settings.py    ServeSettings: host, port, the token, allowed hosts, limits (resolved from env/toml)
    security.py    the ASGI middleware every request passes: Host, Origin, body size, bearer token
    problems.py    RFC 9457 problem+json answers, the same messages as the CLI (quorum.errors_text)
    models.py      the pydantic models at the edge (requests, answers: what OpenAPI describes)
    runtime.py     Runtime: the store, the executors this server drives, control of the others
    feeds.py       one journal tailer per watched execution, fanned out to every SSE client
    sse.py         the event streams: per execution and for all of them
    routes_*.py    one router per resource; routes.py is the route table
    app.py         create_app: the FastAPI application with its lifespan
"""

from __future__ import annotations

__all__ = ("MISSING_EXTRA",)

MISSING_EXTRA = "quorum serve needs the serve extra: pip install 'quorum[serve]'"
