"""Semantic versions of tasks, and the selectors that choose one: ``committee@1.2.0``, ``@1.2``, ``@^1``.

A small strict parser of its own (SemVer 2.0.0: ``MAJOR.MINOR.PATCH[-pre][+build]``) rather than
``packaging``, which is not one of quorum's dependencies and orders PEP 440 versions, not semver ones.

Selectors (the part after ``@``):

==============  =====================================================================================
``1.2.0``       exactly that version (``1.2.0-rc.1`` names a pre-release exactly)
``1.2``         the newest ``1.2.x``
``1``           the newest ``1.x.y``
``^1.2``        the newest compatible with 1.2: ``>=1.2.0 <2.0.0`` (``^0.2`` is ``>=0.2.0 <0.3.0``)
(none)          the newest
==============  =====================================================================================

A range never picks a pre-release while a release matches it; with none, the newest pre-release is taken
(so that a task published only as ``1.0.0-rc.1`` still loads by its plain name). Build metadata
(``+build``) does not count in the order, as semver says: ``1.0.0+a`` and ``1.0.0+b`` are the same
version, and two files declaring them are duplicates.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

__all__ = ("Selector", "Version", "VersionSyntaxError", "newest", "parse_selector")

_NUMBER = r"(?:0|[1-9][0-9]{0,8})"
_IDENT = r"[0-9A-Za-z-]+"
_VERSION = re.compile(
    rf"({_NUMBER})\.({_NUMBER})\.({_NUMBER})(?:-({_IDENT}(?:\.{_IDENT})*))?(?:\+({_IDENT}(?:\.{_IDENT})*))?"
)
_PARTIAL = re.compile(rf"(\^)?({_NUMBER})(?:\.({_NUMBER}))?(?:\.({_NUMBER})(?:-({_IDENT}(?:\.{_IDENT})*))?)?")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


class VersionSyntaxError(ValueError):
    """A version or selector that is not written as semver says; the message says what is expected."""


@dataclass(frozen=True, slots=True, order=False)
class Version:
    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()
    build: str = ""

    @classmethod
    def parse(cls, text: str) -> Version:
        match = _VERSION.fullmatch(text.strip())
        if match is None:
            raise VersionSyntaxError(
                f"{text!r} is not a semantic version: write MAJOR.MINOR.PATCH, e.g. 1.2.0 "
                "(numbers without leading zeros, optionally -pre and +build)"
            )
        pre = tuple(match.group(4).split(".")) if match.group(4) else ()
        for part in pre:
            if part.isdigit() and len(part) > 1 and part.startswith("0"):
                raise VersionSyntaxError(f"{text!r}: a numeric pre-release part has no leading zero ({part})")
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3)), pre, match.group(5) or "")

    @property
    def is_prerelease(self) -> bool:
        return bool(self.prerelease)

    @property
    def key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        """Semver precedence as a sortable key: a release sorts after its pre-releases; numeric
        pre-release parts compare as numbers and before alphanumeric ones; build metadata is ignored."""
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        if self.prerelease:
            text += "-" + ".".join(self.prerelease)
        return text + (f"+{self.build}" if self.build else "")


@dataclass(frozen=True, slots=True)
class Selector:
    """A task name and which of its versions: ``name@spec`` (``spec`` empty: the newest)."""

    name: str
    spec: str = ""

    def __str__(self) -> str:
        return f"{self.name}@{self.spec}" if self.spec else self.name

    def matches(self, version: Version) -> bool:
        """Whether ``version`` satisfies the spec (pre-release preference aside: see :func:`newest`)."""
        if not self.spec:
            return True
        match = _PARTIAL.fullmatch(self.spec)
        assert match is not None  # parse_selector checked it
        caret, major, minor, patch, pre = match.groups()
        if patch is not None and caret is None:
            return version.key == Version.parse(self.spec).key
        low = Version(int(major), int(minor or 0), int(patch or 0), tuple(pre.split(".")) if pre else ())
        if caret is None:  # 1 or 1.2: the same leading numbers (1.3.0-rc.1 is a 1.3)
            return version.major == low.major and (minor is None or version.minor == low.minor)
        if version.key < low.key:
            return False
        if low.major > 0 or minor is None:
            return version.major == low.major
        if low.minor > 0 or patch is None:
            return version.major == 0 and version.minor == low.minor
        return version.key[:3] == low.key[:3]  # ^0.0.3: only 0.0.3 itself

    @property
    def exact(self) -> bool:
        return bool(self.spec) and not self.spec.startswith("^") and self.spec.count(".") >= 2


def parse_selector(text: str) -> Selector:
    """``name`` or ``name@spec``; :class:`VersionSyntaxError` says what is wrong with either part."""
    name, at, spec = text.partition("@")
    if not _NAME.fullmatch(name):
        raise VersionSyntaxError(
            f"{name!r} is not a valid task name: use lowercase letters, digits, '.', '_' and '-', "
            "starting with a letter or digit"
        )
    if at and not spec:
        raise VersionSyntaxError(
            f"{text!r}: nothing after '@'; write e.g. {name}@1.2.0, {name}@1.2 or {name}@^1"
        )
    if spec and not (_PARTIAL.fullmatch(spec) or (_VERSION.fullmatch(spec) and "^" not in spec)):
        raise VersionSyntaxError(
            f"{text!r}: {spec!r} is not a version selector; write {name}@1.2.0 (exactly), {name}@1.2 "
            f"(the newest 1.2.x), {name}@1 or {name}@^1 (the newest 1.x)"
        )
    if spec and "+" in spec:
        spec = spec.split("+", 1)[0]  # build metadata does not select anything
    return Selector(name, spec)


T = TypeVar("T")


def newest(selector: Selector, candidates: Iterable[tuple[Version, T]]) -> tuple[Version, T] | None:
    """The newest candidate the selector matches: a release when one matches, else a pre-release."""
    matching: Sequence[tuple[Version, T]] = [c for c in candidates if selector.matches(c[0])]
    if not matching:
        return None
    releases = [c for c in matching if not c[0].is_prerelease]
    pool = releases or matching
    return max(pool, key=lambda c: c[0].key)
