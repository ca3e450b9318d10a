"""``KeyedView``: a read-only mapping with a fixed set of string keys, its values read on access.

Event payloads and views the engine keeps for good (an answer's record, an ``agent:response``'s data,
a checkpoint's snapshot, a finished phase in templates) are small objects over what already exists
rather than dicts copied from it; they differ only in their keys and in ``__getitem__``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

__all__ = ("KeyedView",)


class KeyedView(Mapping[str, Any]):
    """Subclasses set ``KEYS`` (in order) and implement ``__getitem__`` for exactly those keys."""

    __slots__ = ()

    KEYS: ClassVar[tuple[str, ...]] = ()
    _KEYSET: ClassVar[frozenset[str]] = frozenset()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._KEYSET = frozenset(cls.KEYS)

    def __iter__(self) -> Iterator[str]:
        return iter(self.KEYS)

    def __len__(self) -> int:
        return len(self.KEYS)

    def __contains__(self, key: object) -> bool:
        return key in self._KEYSET

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of the same items (one level: values are as ``__getitem__`` gives them).
        Subclasses override it where they can build it faster than key by key: stores encode event
        payloads through it."""
        return {key: self[key] for key in self.KEYS}
