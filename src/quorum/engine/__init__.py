"""The execution engine: executor, context, scheduler, phases, retries, events, handles.

The blocking helper for scripts is :func:`quorum.run` (defined in :mod:`quorum.engine.api`).
"""
