"""``KeyedView``: a read-only mapping with a fixed set of string keys, its values read on access.

What a journal keeps for every agent call and every checkpoint (an answer's record, a checkpoint's
snapshot) is a small object over what already exists, not a dict copied from it: the dicts cost the
memory metrics what benchmarks/PROFILE.md records ("Kept").
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

__all__ = ("KeyedView",)


class KeyedView(Mapping[str, Any]):
    """Subclasses set ``KEYS`` (in order) and implement ``__getitem__`` for exactly those keys."""

    __slots__ = ()

    KEYS: ClassVar[tuple[str, ...]] = ()

    def __iter__(self) -> Iterator[str]:
        return iter(self.KEYS)

    def __len__(self) -> int:
        return len(self.KEYS)

    def __contains__(self, key: object) -> bool:
        # Not Mapping's (which reads the value): a value may be worked out on access.
        return key in self.KEYS

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.to_dict()!r})"

    def to_dict(self) -> dict[str, Any]:
        """A plain dict of the same items (one level: values are as ``__getitem__`` gives them)."""
        return {key: self[key] for key in self.KEYS}
