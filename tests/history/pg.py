"""PostgreSQL for the history tests: a fresh schema per test, dropped after it.

Every test that needs the server goes through :func:`require_postgres` (skip locally, fail in CI, when
it is down). A schema is a random name; the store is told it by ``?schema=`` and its connections have
it as their ``search_path``, so tests never see each other's tables.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information

from tests.servers import require_postgres

__all__ = ("drop_schema", "fresh_schema", "schema_url", "terminate_store_connections")


def schema_url(base: str, schema: str) -> str:
    return f"{base}{'&' if '?' in base else '?'}schema={schema}"


async def drop_schema(base: str, schema: str) -> None:
    conn = await asyncpg.connect(base)
    try:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        await conn.close()


@asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """The URL of a store in a new, empty schema (dropped on exit)."""
    base = require_postgres()
    schema = f"qt_{secrets.token_hex(6)}"
    try:
        yield schema_url(base, schema)
    finally:
        await drop_schema(base, schema)


async def terminate_store_connections(schema: str) -> int:
    """``pg_terminate_backend`` on the pool connections of every store of ``schema`` (their
    ``application_name`` says the schema, so other users of the server are left alone)."""
    conn = await asyncpg.connect(require_postgres())
    try:
        return int(await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = $1 AND pid <> pg_backend_pid()",
            f"quorum {schema}",
        ))
    finally:
        await conn.close()
