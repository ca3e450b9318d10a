"""Suggestions ("did you mean ...?") for misspelt keys, step types, phase, task and agent names."""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Iterable

__all__ = ("HINT_CUTOFF", "TYPO_CUTOFF", "did_you_mean", "normalise_name", "suggest")

HINT_CUTOFF = 0.6
"""Similarity (difflib's ratio) at which a known name is worth offering in a hint."""

TYPO_CUTOFF = 0.75
"""Similarity at which an unknown name counts as a misspelling of a known one, and so as an error.

Stricter than a hint: ``agnet`` (0.8) is a typo of ``agent``, while ``urgent`` (0.73) may well be a
custom step type of its own."""


def normalise_name(text: str) -> str:
    """The form under which two names count as the same: Unicode NFKC, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _loose(text: str) -> str:
    # camelCase, snake_case and kebab-case spellings of one key compare equal.
    return normalise_name(text).replace("_", "").replace("-", "").replace(" ", "")


def suggest(word: str, candidates: Iterable[str], *, cutoff: float = HINT_CUTOFF) -> str | None:
    """The candidate closest to ``word``: equal once case and separators are ignored, else the most
    similar one at least ``cutoff`` alike (``difflib.get_close_matches``), else None."""
    options = [c for c in candidates if c != word]
    loose = _loose(word)
    for candidate in options:
        if _loose(candidate) == loose:
            return candidate
    by_normal: dict[str, str] = {}
    for candidate in options:
        by_normal.setdefault(normalise_name(candidate), candidate)
    found = difflib.get_close_matches(normalise_name(word), by_normal, n=1, cutoff=cutoff)
    return by_normal[found[0]] if found else None


def did_you_mean(word: str, candidates: Iterable[str], *, cutoff: float = HINT_CUTOFF) -> str:
    """``" (did you mean 'x'?)"`` or the empty string."""
    found = suggest(word, candidates, cutoff=cutoff)
    return f" (did you mean {found!r}?)" if found else ""
