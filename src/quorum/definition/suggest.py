"""Suggestions ("did you mean ...?") for misspelt keys, step types, phase and agent names."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

__all__ = ("did_you_mean", "edit_distance", "normalise_name", "suggest")


def normalise_name(text: str) -> str:
    """The form under which two names count as the same: Unicode NFKC, case-folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _loose(text: str) -> str:
    # camelCase, snake_case and kebab-case spellings of one key compare equal.
    return normalise_name(text).replace("_", "").replace("-", "").replace(" ", "")


def edit_distance(a: str, b: str, *, limit: int = 3) -> int:
    """Levenshtein distance with adjacent transpositions, cut off at ``limit`` (returns limit + 1)."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cost = 0 if ca == cb else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return min(prev[-1], limit + 1)


def suggest(word: str, candidates: Iterable[str], *, max_distance: int = 2) -> str | None:
    """The candidate closest to ``word``: equal when normalised, else within ``max_distance`` edits."""
    options = [c for c in candidates if c != word]
    loose = _loose(word)
    for candidate in options:
        if _loose(candidate) == loose:
            return candidate
    best: tuple[int, str] | None = None
    for candidate in options:
        d = edit_distance(normalise_name(word), normalise_name(candidate), limit=max_distance)
        if d <= max_distance and (best is None or d < best[0]):
            best = (d, candidate)
    return None if best is None else best[1]


def did_you_mean(word: str, candidates: Iterable[str], *, max_distance: int = 2) -> str:
    """``" (did you mean 'x'?)"`` or the empty string."""
    found = suggest(word, candidates, max_distance=max_distance)
    return f" (did you mean {found!r}?)" if found else ""
