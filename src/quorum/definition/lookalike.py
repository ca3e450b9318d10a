"""Names that look like other names: invisible characters and words that mix scripts.

``Gather`` with a Cyrillic ``а``, or with a zero-width space inside, prints exactly like ``Gather`` but is
another name: ``dependsOn: [Gather]`` would not find it, and a reader could not see why. Such names are
refused where they are defined, saying which character it is.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ("suspicious_characters",)

# Scripts that are written together in one word (Japanese mixes kana and kanji).
_SAME_SCRIPT = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "KATAKANA-HIRAGANA": "CJK", "IDEOGRAPHIC": "CJK"}
_WORD = re.compile(r"\w+")


def _describe(char: str) -> str:
    return f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"


def _script(char: str) -> str | None:
    if not char.isalpha():
        return None
    first = unicodedata.name(char, "").split(" ", 1)[0]
    return _SAME_SCRIPT.get(first, first) or None


def suspicious_characters(name: str) -> str | None:
    """What makes ``name`` look like another name, or None: an invisible or format character
    (zero-width, bidi controls, soft hyphen), a space other than the plain one, or a word whose letters
    come from two scripts (Latin with a Cyrillic or Greek look-alike)."""
    for char in name:
        category = unicodedata.category(char)
        if category in ("Cf", "Cc", "Co", "Cs", "Cn") or (category.startswith("Z") and char != " "):
            return f"contains the invisible character {_describe(char)}"
    for word in _WORD.findall(name):
        letters: dict[str, list[str]] = {}
        for char in word:
            script = _script(char)
            if script is not None:
                letters.setdefault(script, []).append(char)
        if len(letters) > 1:
            # The odd one out is the script with the fewest letters (the look-alike slipped in).
            ranked = sorted(letters.items(), key=lambda kv: len(kv[1]))
            (other, odd), (main, _) = ranked[0], ranked[-1]
            return f"mixes scripts in {word!r}: {other} {odd[0]!r} {_describe(odd[0])} among {main} letters"
    return None
