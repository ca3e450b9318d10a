"""Fixtures of the engine's tests."""

from __future__ import annotations

from tests.backends import store

__all__ = ("store",)
