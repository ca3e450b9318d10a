"""The engine's template fast path renders exactly what Jinja renders, or hands the text to Jinja."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quorum.engine import templating
from quorum.errors import QuorumError

pytestmark = pytest.mark.unit

names = st.sampled_from(["topic", "x", "items", "keys", "get", "_hidden", "a1", "copy"])
scalars = st.one_of(
    st.text(max_size=8), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.sampled_from(["k"]), st.integers(), max_size=1),
)
leaf_maps = st.dictionaries(names, scalars, max_size=4)
inner = st.one_of(leaf_maps, leaf_maps.map(MappingProxyType))
contexts = st.dictionaries(
    st.sampled_from(["input", "phase", "task", "min"]), st.one_of(inner, scalars), max_size=4
)
pieces = st.one_of(
    st.sampled_from(["Assess ", " and ", "\n", "} ", "{ ", "}}", " {#", "{%", "\r\n", "-"]),
    st.builds(
        lambda a, b, sp: "{{" + sp + a + "." + b + sp + "}}",
        st.sampled_from(["input", "phase", "task", "missing", "min"]),
        names,
        st.sampled_from(["", " ", "  "]),
    ),
    st.builds(lambda a: "{{ " + a + " }}", st.sampled_from(["input", "phase", "min", "input.x.k"])),
    st.sampled_from(["{{- input.x }}", "{{ input.x | upper }}", "{{ input.x + 1 }}", "{{ input['x'] }}"]),
)


def _jinja(source: str, context: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", templating.engine().render(source, context)
    except QuorumError as exc:
        return "error", type(exc).__name__


def _ours(source: str, context: dict[str, Any]) -> tuple[str, Any]:
    try:
        return "ok", templating.render(source, context)
    except QuorumError as exc:
        return "error", type(exc).__name__


@given(parts=st.lists(pieces, min_size=1, max_size=5), context=contexts)
def test_fast_path_renders_what_jinja_renders(parts: list[str], context: dict[str, Any]) -> None:
    source = "".join(parts)
    assert _ours(source, context) == _jinja(source, context)


def test_simple_lookups_skip_jinja() -> None:
    context = {"input": MappingProxyType({"topic": "rates", "n": 3, "ok": True, "f": 0.5})}
    source = "Assess {{ input.topic }} ({{input.n}}, {{ input.ok }}, {{ input.f }})"
    plan = templating._plan(source)
    assert plan is not templating._NOT_SIMPLE
    assert templating._fast_render(source, context, 1000) == "Assess rates (3, True, 0.5)"
    assert templating.render(source, context) == templating.engine().render(source, context)


@pytest.mark.parametrize(
    ("source", "context"),
    [
        ("{{ input.items }}", {"input": {"x": 1}}),  # a method name: Jinja decides
        ("{{ input.items }}", {"input": {"items": "x"}}),  # ... even when it is also a key
        ("{{ input.copy }}", {"input": {"copy": "x"}}),  # (the sandbox refuses that one)
        ("{{ input.missing }}", {"input": {"x": 1}}),  # an error Jinja must report
        ("{{ input.x }}", {"input": {"x": [1, 2]}}),  # printed as JSON by the sandbox
        ("{{ input.x }}", {"input": {"x": None}}),
        ("{{ input.x | upper }}", {"input": {"x": "a"}}),
        ("a\r\n{{ input.x }}", {"input": {"x": "a"}}),
    ],
)
def test_everything_else_goes_to_jinja(source: str, context: dict[str, Any]) -> None:
    assert templating._fast_render(source, context, 1000) is None


def test_the_size_limit_still_holds() -> None:
    assert templating._fast_render("{{ input.x }}", {"input": {"x": "a" * 50}}, 10) is None


def test_a_key_named_like_a_method_renders_as_jinja_renders_it() -> None:
    context = {"input": {"copy": "x", "items": "y"}}
    for source in ("{{ input.copy }}", "{{ input.items }}"):
        assert _ours(source, context) == _jinja(source, context)
