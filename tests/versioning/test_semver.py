"""The strict semver parser and the selector forms, on their own."""

from __future__ import annotations

import pytest

from quorum.definition.versions import Selector, Version, VersionSyntaxError, newest, parse_selector

pytestmark = [pytest.mark.unit]

ORDER = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2",
         "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1", "1.1.0", "1.10.0", "2.0.0"]


def test_precedence_is_semvers() -> None:
    # the example list of semver.org, section 11, plus numbers that sort wrongly as text
    versions = [Version.parse(v) for v in reversed(ORDER)]
    assert [str(v) for v in sorted(versions, key=lambda v: v.key)] == ORDER


def test_build_metadata_does_not_order() -> None:
    assert Version.parse("1.0.0+a").key == Version.parse("1.0.0+b").key
    assert str(Version.parse("1.0.0-rc.1+exp.sha")) == "1.0.0-rc.1+exp.sha"


@pytest.mark.parametrize("text", ["1.0", "1", "01.0.0", "1.0.0-", "1.0.0-01", "v1.0.0", "1.0.0.0", ""])
def test_not_semver(text: str) -> None:
    with pytest.raises(VersionSyntaxError, match=r"semantic version|leading zero"):
        Version.parse(text)


VERSIONS = ["0.2.0", "0.2.5", "0.3.0", "1.0.0", "1.1.0", "1.2.0", "1.2.3", "1.3.0-rc.1", "2.0.0-beta"]


def pick(selector: str) -> str | None:
    chosen = newest(parse_selector(selector), ((Version.parse(v), v) for v in VERSIONS))
    return None if chosen is None else chosen[1]


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("t", "1.2.3"),  # the newest release: pre-releases wait while a release exists
        ("t@1.2.0", "1.2.0"),
        ("t@1.2", "1.2.3"),
        ("t@1", "1.2.3"),
        ("t@^1", "1.2.3"),
        ("t@^1.1", "1.2.3"),
        ("t@^1.2.1", "1.2.3"),
        ("t@0.2", "0.2.5"),
        ("t@^0.2", "0.2.5"),  # ^0.x: the minor number is the compatible range
        ("t@1.3.0-rc.1", "1.3.0-rc.1"),  # named exactly, a pre-release is taken
        ("t@1.3", "1.3.0-rc.1"),  # no 1.3 release: the newest pre-release of the range
        ("t@2", "2.0.0-beta"),
        ("t@1.4", None),
        ("t@3", None),
        ("t@1.2.9", None),
    ],
)
def test_selector_forms(selector: str, expected: str | None) -> None:
    assert pick(selector) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Committee", "not a valid task name"),
        ("t@", "nothing after '@'"),
        ("t@latest", "not a version selector"),
        ("t@>=1", "not a version selector"),
        ("t@^", "not a version selector"),
        ("t@1.x", "not a version selector"),
    ],
)
def test_bad_selectors_say_how(text: str, message: str) -> None:
    with pytest.raises(VersionSyntaxError, match=message):
        parse_selector(text)


def test_selector_round_trips() -> None:
    assert str(parse_selector("t@^1.2")) == "t@^1.2"
    assert parse_selector("t") == Selector("t")
    assert parse_selector("t@1.2.0+build").spec == "1.2.0"
