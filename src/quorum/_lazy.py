"""Lazy re-exports (PEP 562) for the packages' ``__init__`` modules.

A package lists ``public name -> module that defines it`` and takes its module ``__getattr__`` and
``__dir__`` from :func:`lazy_exports`, so a name's module (and what that module imports) loads only on
first use. The package keeps ``if TYPE_CHECKING:`` imports of the same names for type checkers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

__all__ = ("lazy_exports",)


def lazy_exports(
    package: str, namespace: MutableMapping[str, Any], exports: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose globals are ``namespace``."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value  # cached as a global: later look-ups never come back here
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
