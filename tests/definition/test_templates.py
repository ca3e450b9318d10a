from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from quorum.errors import TemplateRenderError
from quorum.templates import TemplateEngine, default_engine
from quorum.templates._sandbox import MAX_ITERATIONS
from tests.work import allocated, calls

pytestmark = [pytest.mark.unit]

CTX: dict[str, Any] = {
    "input": {"ticker": "BTC", "amount": 10000, "tags": ["a", "b"]},
    "task": {"name": "demo", "version": "1.0.0", "title": "Demo"},
    "phases": {"Round Table": {"outputs": {"stance": "bullish"}, "responses": {}, "status": "completed"}},
    "phase": {"name": "Debate", "attempt": 1, "round": 2},
    "execution": {"id": "x1", "started_at": "2026-01-01T00:00:00Z"},
}


@pytest.fixture
def engine() -> TemplateEngine:
    return TemplateEngine()


def test_render_substitutes(engine: TemplateEngine) -> None:
    assert engine.render("Analyse {{ input.ticker }} now", CTX) == "Analyse BTC now"
    assert engine.render('{{ phases["Round Table"].outputs.stance }}', CTX) == "bullish"


def test_text_without_template_is_returned_unchanged(engine: TemplateEngine) -> None:
    text = "no braces here { nor } here"
    assert engine.render(text, {}) is text
    assert not engine.is_template(text)
    assert engine.is_template("{{ x }}")
    assert engine.is_template("{% if x %}{% endif %}")


def test_mapping_proxies_and_collections_render_as_json(engine: TemplateEngine) -> None:
    ctx = {"data": MappingProxyType({"a": (1, 2), "b": MappingProxyType({"c": None})})}
    assert engine.render("{{ data }}", ctx) == '{"a": [1, 2], "b": {"c": null}}'
    assert engine.render("{{ data|tojson }}", ctx) == '{"a": [1, 2], "b": {"c": null}}'


def test_helpers(engine: TemplateEngine) -> None:
    assert engine.render("{{ 0.153|pct }}", {}) == "15.3%"
    assert engine.render("{{ 0.5|pct(0) }}", {}) == "50%"
    assert engine.render("{{ 1234.5|money }}", {}) == "$1,234.50"
    assert engine.render("{{ -1234.5|money('€', 0) }}", {}) == "-€1,234"
    assert (
        engine.render("{{ max(1, 3) }} {{ min([4, 2]) }} {{ sum([1, 2]) }} {{ len('abc') }}", {}) == "3 2 3 3"
    )
    assert engine.render("{{ round(2.567, 1) }} {{ abs(-2) }} {{ sorted([3, 1]) }}", {}) == "2.6 2 [1, 3]"
    assert engine.render("{{ input.tags|join(', ') }}", CTX) == "a, b"
    assert engine.render("{% for t in input.tags %}{{ loop.index }}{{ t|upper }}{% endfor %}", CTX) == "1A2B"


def test_evaluate_with_and_without_braces(engine: TemplateEngine) -> None:
    assert engine.evaluate("input.amount > 0", CTX) is True
    assert engine.evaluate("{{ input.amount > 0 }}", CTX) is True
    assert engine.evaluate("  {{ input.amount * 2 }} ", CTX) == 20000
    assert engine.evaluate("input.tags", CTX) == ["a", "b"]
    assert engine.evaluate("phase.round == 2 and input.ticker == 'BTC'", CTX) is True


def test_missing_name_error_has_template_and_name(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateRenderError) as info:
        engine.render("Analyse {{ input.tiker }}", CTX)
    assert "Analyse {{ input.tiker }}" in str(info.value)
    assert "tiker" in str(info.value)
    with pytest.raises(TemplateRenderError, match="'nothing' is undefined"):
        engine.evaluate("nothing > 1", CTX)
    with pytest.raises(TemplateRenderError, match="tiker"):
        engine.evaluate("input.tiker", CTX)
    with pytest.raises(TemplateRenderError, match="nope"):
        engine.evaluate("[input.ticker, {'a': input.nope}]", CTX)


def test_check_template_and_expression(engine: TemplateEngine) -> None:
    assert engine.check_template("Hello {{ input.x }}") is None
    assert engine.check_template("{% for a in b %}{{ a }}{% endfor %}") is None
    problem = engine.check_template("Hello {{ input.x }")
    assert problem is not None
    assert "syntax error" in problem
    assert engine.check_template("{% if x %}") is not None
    assert engine.check_expression("a.b > 1") is None
    assert engine.check_expression("{{ a.b > 1 }}") is None
    assert engine.check_expression("a b") is not None
    assert engine.check_expression("") == "empty expression"
    assert engine.check_expression("{{ a }} and {{ b }}") is not None
    assert engine.check_template("{{ x|nosuchfilter }}") == "refused: unknown filter 'nosuchfilter'"
    unknown_test = engine.check_template("{% if x is nosuchtest %}{% endif %}")
    assert unknown_test is not None
    assert "nosuchtest" in unknown_test


def test_compiled_sources_are_cached(engine: TemplateEngine) -> None:
    engine.render("{{ input.ticker }}!", CTX)
    compiled = engine._template("{{ input.ticker }}!")
    engine.render("{{ input.ticker }}!", CTX)
    assert engine._template("{{ input.ticker }}!") is compiled
    assert engine._template.cache_info().hits >= 2


def test_default_engine_is_shared() -> None:
    assert default_engine() is default_engine()


@pytest.mark.errors
@pytest.mark.parametrize(
    "source",
    [
        "{{ 'a' * 10**9 }}",
        "{{ 'x' * 999999999 }}",
        "{{ [1] * 10**9 }}",
        "{{ range(10**9)|list }}",
        "{{ range(0, 10**12, 2)|length }}",
        "{{ 2 ** 100000000 }}",
        "{{ 10 ** (10**8) }}",
        "{{ ('x' * 100000) ~ ('x' * 100000) ~ ('x' * 100000) }}",
        "{{ ('x' * 150000) + ('x' * 150000) }}",
        "{{ 'x'|center(999999999) }}",
        "{{ 'x'|indent(999999999) }}",
        "{{ '%999999999d'|format(1) }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '%*d' % (10**9, 1) }}",
        "{{ ('x' * 1000)|replace('x', 'y' * 1000) }}",
        "{{ range(10)|batch(10**9, 'x')|list }}",
        "{{ range(10)|slice(10**9)|list }}",
        "{{ (range(10000)|list)|join('x' * 1000) }}",
        "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
        "{% for i in range(5000) %}{{ 'x' * 100 }}{% endfor %}",
    ],
)
def test_size_bombs_are_refused_fast(engine: TemplateEngine, source: str) -> None:
    def refuse() -> None:
        with pytest.raises(TemplateRenderError):
            engine.render(source, CTX)

    refuse()  # compiled once, so that the counts below are the render's
    # Refused before the work, not after: no more calls than the loop budget allows, and a few MB at
    # most (the output limit is 200,000 characters; 2 ** 100000000 alone would take 12 MB, most of
    # these gigabytes). A hang is the per-test timeout's to catch.
    assert calls(refuse) < 2 * MAX_ITERATIONS
    assert allocated(refuse) < 8_000_000


@pytest.mark.errors
@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__ }}",
        "{{ ''|attr('__class__') }}",
        "{{ (''|attr('__class__'))|attr('__mro__') }}",
        "{{ lipsum.__globals__ }}",
        "{{ lipsum }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ joiner() }}",
        "{{ namespace(a=1) }}",
        "{{ config }}",
        "{{ config.items() }}",
        "{{ self }}",
        "{{ self._TemplateReference__context }}",
        "{{ request.environ }}",
        "{{ input['__class__'] }}",
        "{{ input|attr('_private') }}",
        "{{ _secret }}",
        "{% include '/etc/passwd' %}",
        "{% import 'x.html' as x %}",
        "{% from 'x.html' import y %}",
        "{% extends '/etc/passwd' %}",
        "{% macro f() %}{% endmacro %}{{ f() }}",
        "{{ '{0.__class__}'.format(1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 'ab'.replace('a', 'b') }}",
        "{{ (1).to_bytes(10**9, 'big') }}",
        "{{ input.tags.append(1) }}",
        "{{ ''|attr('format') }}",
        "{{ str.join }}",
        "{{ os.environ }}",
        "{{ range.__self__ }}",
        "{{ 1|random }}",
    ],
)
def test_escapes_are_refused(engine: TemplateEngine, source: str) -> None:
    with pytest.raises(TemplateRenderError):
        engine.render(source, CTX)


@pytest.mark.errors
def test_static_check_rejects_escapes_at_parse_time(engine: TemplateEngine) -> None:
    for source in (
        "{{ ''.__class__ }}",
        "{{ self }}",
        "{{ config }}",
        "{% include 'x' %}",
        "{% macro m() %}{% endmacro %}",
    ):
        problem = engine.check_template(source)
        assert problem is not None, source
        assert problem.startswith("refused"), source


@pytest.mark.errors
def test_output_is_bounded() -> None:
    small = TemplateEngine(max_output_chars=50)
    with pytest.raises(TemplateRenderError, match="longer than 50"):
        small.render("{% for i in range(100) %}xx{% endfor %}", {})
    assert small.render("{{ 'x' * 50 }}", {}) == "x" * 50


@pytest.mark.errors
def test_runtime_errors_become_template_render_errors(engine: TemplateEngine) -> None:
    with pytest.raises(TemplateRenderError, match="ZeroDivisionError"):
        engine.render("{{ 1 / 0 }}", {})
    with pytest.raises(TemplateRenderError, match="syntax error"):
        engine.render("{{ x", {})
    with pytest.raises(TemplateRenderError, match="syntax error"):
        engine.evaluate("a b", {})


@pytest.mark.errors
@pytest.mark.parametrize(
    "source",
    [
        "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
        "{{ " + "[" * 5000 + "]" * 5000 + " }}",
        "{{ a" + ".b" * 20000 + " }}",
        "{{ 1" + "+1" * 20000 + " }}",
        "{{ " + "-" * 20000 + "1 }}",
        "{% if a %}" * 3000 + "{% endif %}" * 3000,
    ],
)
def test_deep_nesting_is_refused_not_a_crash(engine: TemplateEngine, source: str) -> None:
    assert engine.check_template(source) == "refused: nested too deeply"
    with pytest.raises(TemplateRenderError, match="nested too deeply"):
        engine.render(source, {})


def test_allowed_methods(engine: TemplateEngine) -> None:
    ctx = {"d": {"a": 1}, "items": [3, 4], "s": " Hi "}
    assert (
        engine.render("{{ d.items()|list }} {{ d.get('a') }} {{ d.keys()|list }}", ctx)
        == '[["a", 1]] 1 ["a"]'
    )
    assert engine.render("{{ items.index(4) }} {{ s.strip().lower() }} {{ s.split() }}", ctx) == '1 hi ["Hi"]'
    assert engine.render("{% for x in items %}{{ loop.cycle('a', 'b') }}{% endfor %}", ctx) == "ab"


def test_filters_within_limits_still_work(engine: TemplateEngine) -> None:
    ctx = {"rows": [{"n": {"v": "a"}}, {"n": {"v": "b"}}]}
    assert engine.render("{{ rows|join(', ', attribute='n.v') }}", ctx) == "a, b"
    assert engine.render("{{ 'x'|center(5) }}|{{ 'a\nb'|indent(2) }}", {}) == "  x  |a\n  b"
    assert engine.render("{{ 'aaa'|replace('a', 'bb', 2) }}", {}) == "bbbba"
    assert engine.render("{{ '%05.1f'|format(3.14159) }} {{ '%(a)s'|format(a=1) }}", {}) == "003.1 1"
    assert engine.render("{{ range(5)|batch(linecount=2)|list }}", {}) == "[[0, 1], [2, 3], [4]]"
    assert engine.render("{{ {'a': [1]}|tojson(indent=2) }}", {}) == '{\n  "a": [\n    1\n  ]\n}'


@pytest.mark.errors
@pytest.mark.parametrize(
    "source",
    [
        "{{ x|tojson(indent=20) }}",
        "{{ 1|pct(50) }}",
        "{{ 1|money('dollars') }}",
        "{{ 1|money(digits=99) }}",
        "{{ 'a'|indent('x' * 2000) }}",
        "{{ 'a'|center(width=5000) }}",
        "{{ range(3)|batch(linecount=10**9)|list }}",
        "{{ range(3)|slice(slices=10**9)|list }}",
        "{{ '%s %(a)s'|format(1, a=2) }}",
        "{{ '%.2000f'|format(1) }}",
    ],
)
def test_filter_arguments_are_bounded(engine: TemplateEngine, source: str) -> None:
    with pytest.raises(TemplateRenderError):
        engine.render(source, {"x": 1})
