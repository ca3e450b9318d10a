"""``fast_frozen_init``: an ``__init__`` for frozen, slotted dataclasses that stores through the slots.

A frozen dataclass's generated ``__init__`` stores each field with ``object.__setattr__(self, name,
value)``, a generic attribute lookup per field, because the class's own ``__setattr__`` refuses writes.
Each slot's descriptor can do the same store directly; this decorator gives the class an ``__init__``
that does so, generated the way ``dataclasses`` generates its own (same signature, defaults, default
factories and ``__post_init__``). Instances stay frozen: only ``__init__`` writes through the
descriptors.

Used on the records built for every agent call (``AgentRequest``, ``AgentResponse``, ``Event``); kept
for its measured win per agent call (benchmarks/PROFILE.md, "Kept").
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final, TypeVar

__all__ = ("fast_frozen_init",)

_T = TypeVar("_T")


class _Factory:
    """The default of a parameter whose field has a ``default_factory`` (shown as ``<factory>``)."""

    def __repr__(self) -> str:
        return "<factory>"


_FACTORY: Final = _Factory()


def fast_frozen_init(cls: type[_T]) -> type[_T]:
    """Replace the ``__init__`` of ``cls`` (a ``@dataclass(frozen=True, slots=True, kw_only=True)``)."""
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__qualname__}: fast_frozen_init needs a dataclass(frozen=True, slots=True)")
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    signature: list[str] = []
    body: list[str] = []
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.init and not f.kw_only:
            raise TypeError(f"{cls.__qualname__}.{f.name}: fast_frozen_init supports keyword-only fields")
        name = f.name
        namespace[f"_set_{name}"] = cls.__dict__[name].__set__
        has_factory = f.default_factory is not dataclasses.MISSING
        if has_factory:
            namespace[f"_factory_{name}"] = f.default_factory
        elif f.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = f.default
        if not f.init:
            if has_factory:
                body.append(f"    _set_{name}(self, _factory_{name}())")
            elif f.default is not dataclasses.MISSING:
                body.append(f"    _set_{name}(self, _default_{name})")
            continue
        if has_factory:
            signature.append(f"{name}=_FACTORY")
            body.append(f"    _set_{name}(self, _factory_{name}() if {name} is _FACTORY else {name})")
        else:
            signature.append(name if f.default is dataclasses.MISSING else f"{name}=_default_{name}")
            body.append(f"    _set_{name}(self, {name})")
    if hasattr(cls, "__post_init__"):
        body.append("    self.__post_init__()")
    head = f"def __init__(self, *, {', '.join(signature)}):" if signature else "def __init__(self):"
    exec("\n".join([head, *(body or ["    pass"])]), namespace)  # the source is built above from field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__annotations__ = dict(getattr(cls.__init__, "__annotations__", {}))
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
