"""Shared fixtures. Each test module sets ``pytestmark`` to its group (unit, integration, ...)."""

from __future__ import annotations
