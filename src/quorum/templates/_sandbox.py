"""The sandboxed Jinja2 environment: the method allow-list, the size checks on operators, filters and
calls (made while rendering, before the value is built), the render's work budget (``_budget``), and
quorum's extra globals and filters (``tojson``, ``pct``, ``money``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from jinja2 import StrictUndefined
from jinja2.exceptions import SecurityError
from jinja2.filters import make_attrgetter
from jinja2.runtime import LoopContext, Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from quorum.definition.model import json_default
from quorum.templates._budget import MAX_ITERATIONS, budget, charge, printed_size

__all__ = ("ALL_METHODS", "MAX_INT_BITS", "MAX_ITERATIONS", "MAX_RANGE", "Sandbox")

MAX_RANGE = 10_000
MAX_WIDTH = 1_000
"""Largest padding/format width (center, indent, ``%10s``)."""
MAX_INT_BITS = 100_000
"""Largest integer a power or a product may make (about 30,000 digits)."""

# Filters that turn their input into text: a collection given to one is measured first (see printed_size).
_STRINGIFYING_FILTERS = frozenset(
    {
        "capitalize", "center", "e", "escape", "forceescape", "format", "indent", "lower", "pprint",
        "replace", "safe", "string", "striptags", "title", "tojson", "trim", "truncate", "upper",
        "urlencode", "wordcount", "wordwrap", "xmlattr",
    }
)  # fmt: skip
# Built in, but for HTML only, and each adds text per link found (a bomb with a long ``target``).
_REMOVED_FILTERS = ("random", "urlize")

# Names a template may not use: the objects other Jinja setups expose (Flask's config/request, the
# template reference ``self``) and the default globals we removed.
_STR_METHODS = frozenset(
    {
        "capitalize", "casefold", "count", "endswith", "find", "index", "isalnum", "isalpha", "isdecimal",
        "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "lower", "lstrip", "partition",
        "removeprefix", "removesuffix", "rfind", "rindex", "rpartition", "rsplit", "rstrip", "split",
        "splitlines", "startswith", "strip", "swapcase", "title", "upper",
    }
)  # fmt: skip
_MAPPING_METHODS = frozenset({"items", "keys", "values", "get"})
_SEQUENCE_METHODS = frozenset({"index", "count"})
_LOOP_METHODS = frozenset({"cycle", "changed"})
ALL_METHODS = _STR_METHODS | _MAPPING_METHODS | _SEQUENCE_METHODS | _LOOP_METHODS

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d+))?")


def _refuse(message: str) -> SecurityError:
    return SecurityError(message)


def _allowed_methods(obj: Any) -> frozenset[str]:
    if isinstance(obj, str):
        return _STR_METHODS
    if isinstance(obj, Mapping):
        return _MAPPING_METHODS
    if isinstance(obj, list | tuple):
        return _SEQUENCE_METHODS
    if isinstance(obj, LoopContext):
        return _LOOP_METHODS
    return frozenset()


def _check_percent_format(fmt: str) -> None:
    for match in _PERCENT_SPEC.finditer(fmt):
        for part in match.groups():
            if part == "*" or (part and int(part) > MAX_WIDTH):
                raise _refuse(f"format width {part!r} is too large (at most {MAX_WIDTH})")


def _to_json(value: Any, indent: int | None = None) -> str:
    if indent is not None and not 0 <= indent <= 8:
        raise _refuse("tojson indent must be between 0 and 8")
    return json.dumps(value, default=json_default, ensure_ascii=False, indent=indent)


def _pct(value: float, digits: int = 1) -> str:
    """0.153 -> '15.3%'."""
    if not 0 <= digits <= 10:
        raise _refuse("pct digits must be between 0 and 10")
    return f"{float(value) * 100:.{digits}f}%"


def _money(value: float, symbol: str = "$", digits: int = 2) -> str:
    """-1234.5 -> '-$1,234.50'."""
    if not 0 <= digits <= 10 or len(symbol) > 5:
        raise _refuse("money digits must be between 0 and 10 and the symbol short")
    number = float(value)
    sign = "-" if number < 0 else ""
    return f"{sign}{symbol}{abs(number):,.{digits}f}"


class Sandbox(ImmutableSandboxedEnvironment):
    """The sandbox with quorum's method allow-list and size checks on operators."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, max_output_chars: int) -> None:
        super().__init__(
            undefined=StrictUndefined,
            autoescape=False,
            optimized=False,  # no constant folding: nothing runs at compile time
            keep_trailing_newline=True,
            cache_size=0,
            auto_reload=False,
        )
        self.finalize = self.finalize_value
        self.max_size = max_output_chars
        self.globals.clear()
        self.globals.update(
            min=min, max=max, sum=sum, len=len, round=round, abs=abs, sorted=sorted, any=any, all=all,
            zip=zip, enumerate=enumerate, int=int, float=float, str=str, bool=bool, range=self._range,
            _q_iter=self._iter, _q_concat=self._concat,
        )  # fmt: skip
        self.globals["sum"] = _sum
        for name in _REMOVED_FILTERS:  # random: nondeterministic, a prompt must be reproducible
            self.filters.pop(name, None)
        base = dict(self.filters)
        self.filters.update(
            center=self._guard_width(base["center"], "width", 1),
            indent=self._indent(base["indent"]),
            wordwrap=self._wordwrap(base["wordwrap"]),
            format=self._format,
            join=self._join,
            replace=self._replace,
            batch=self._guard_count(base["batch"], "linecount", 1),
            slice=self._guard_count(base["slice"], "slices", 1),
            sum=_sum_filter(base["sum"]),
            tojson=_to_json,
            pct=_pct,
            money=_money,
        )
        for name, func in list(self.filters.items()):
            self.filters[name] = self._metered(name, func)

    # -- attribute access ------------------------------------------------------------------------
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        return not callable(value) or attr in _allowed_methods(obj)

    def wrap_str_format(self, value: Any) -> None:
        # str.format / format_map are not on the allow-list (width bombs); never wrap them.
        return None

    # -- operators and calls (checked before the value is built; what is built is charged) ---------
    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            self._check_repeat(left, right)
            self._check_repeat(right, left)
            if _is_int(left) and _is_int(right):
                _check_int_bits(left, right, abs(left).bit_length() + abs(right).bit_length())
        elif operator == "**":
            if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1:
                _check_int_bits(left, right, abs(left).bit_length() * right, "**")
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                self._check_size(self._printed(left) + self._printed(right))
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left)
            self._check_size(len(left) + self._printed(right))
        return charge(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # (Jinja's signature: the double underscores keep the names apart from the call's keywords.)
        if isinstance(__obj, LoopContext) and args:
            # loop(children) in a recursive for: the recursion iterates too, so it counts too.
            args = (__self._iter(args[0]), *args[1:])
        elif __obj is str and args:
            __self._check_size(__self._printed(args[0]))
        return charge(super().call(__context, __obj, *args, **kwargs))

    def _printed(self, value: Any) -> int:
        return len(value) if isinstance(value, str) else printed_size(value, self.max_size)

    def _check_size(self, size: int) -> None:
        if size > self.max_size:
            raise _refuse(f"result of {size} items/characters is larger than the limit of {self.max_size}")

    def _check_repeat(self, seq: Any, times: Any) -> None:
        if isinstance(seq, str | list | tuple) and _is_int(times) and times > 0:
            # The printed size, not the length: ['a' * 199999] * 20000 is 20,000 items but 4 GB of text.
            self._check_size(self._printed(seq) * times if seq else 0)

    def _range(self, *args: int) -> range:
        r = range(*args)
        if len(r) > MAX_RANGE:
            raise _refuse(f"range of {len(r)} numbers is larger than the limit of {MAX_RANGE}")
        return r

    def _iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        state = budget.get(None)
        for item in iterable:
            if state is not None:
                state.iterations -= 1
                if state.iterations < 0:
                    raise _refuse(f"loops ran more than {MAX_ITERATIONS} times in one render")
            yield item

    def _concat(self, *parts: Any) -> str:
        texts = [p if isinstance(p, str) else str(self.finalize_value(p)) for p in parts]
        self._check_size(sum(map(len, texts)))
        return charge("".join(texts))

    def finalize_value(self, value: Any) -> Any:
        """How a value prints: mappings and lists as JSON (readable in a prompt), the rest as str().
        A collection is measured before it is serialised (it may hold one long string many times)."""
        if isinstance(value, Mapping | list | tuple) and not isinstance(value, Undefined):
            self._check_size(printed_size(value, self.max_size))
            return charge(_to_json(value))
        return value

    # -- filters -----------------------------------------------------------------------------------
    def _metered(self, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
        """Every filter's result is charged; one that makes text of a collection measures it first."""
        stringifying = name in _STRINGIFYING_FILTERS
        takes_env = getattr(func, "jinja_pass_arg", None) is not None

        def metered(*args: Any, **kwargs: Any) -> Any:
            if stringifying:
                value = args[1] if takes_env else args[0]
                if not isinstance(value, str):
                    self._check_size(printed_size(value, self.max_size))
            return charge(func(*args, **kwargs))

        return _same_arguments(metered, func)

    def _guard_width(self, func: Callable[..., Any], name: str, position: int) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            width = kwargs.get(name, args[position] if len(args) > position else None)
            if isinstance(width, int) and width > MAX_WIDTH:
                raise _refuse(f"width {width} is larger than the limit of {MAX_WIDTH}")
            if isinstance(width, str) and len(width) > MAX_WIDTH:
                raise _refuse(f"indent text is longer than {MAX_WIDTH} characters")
            return func(*args, **kwargs)

        return guarded

    def _guard_count(self, func: Callable[..., Any], name: str, position: int) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            count = kwargs.get(name, args[position] if len(args) > position else None)
            if isinstance(count, int) and count > MAX_RANGE:
                raise _refuse(f"{count} is larger than the limit of {MAX_RANGE}")
            return func(*args, **kwargs)

        return guarded

    def _indent(self, func: Callable[..., Any]) -> Callable[..., Any]:
        guarded = self._guard_width(func, "width", 1)

        def indent(*args: Any, **kwargs: Any) -> Any:
            width = kwargs.get("width", args[1] if len(args) > 1 else 4)
            text = str(args[0]) if args else ""
            pad = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
            self._check_size(len(text) + max(pad, 0) * (text.count("\n") + 1))
            return guarded(*args, **kwargs)

        return indent

    def _wordwrap(self, func: Callable[..., Any]) -> Callable[..., Any]:
        def wordwrap(*args: Any, **kwargs: Any) -> Any:
            # (environment, text, width=79, break_long_words=True, wrapstring=None, ...): every line
            # break inserts wrapstring, and width 1 makes a line of each character.
            text = str(args[1]) if len(args) > 1 else ""
            width = kwargs.get("width", args[2] if len(args) > 2 else 79)
            wrap = kwargs.get("wrapstring", args[4] if len(args) > 4 else None) or "\n"
            lines = len(text) // max(width, 1) + text.count("\n") + 1 if isinstance(width, int) else 1
            self._check_size(len(text) + len(str(wrap)) * lines)
            return func(*args, **kwargs)

        return _same_arguments(wordwrap, func)

    def _format(self, value: Any, *args: Any, **kwargs: Any) -> str:
        if args and kwargs:
            raise _refuse("format takes positional or keyword arguments, not both")
        text = str(value)
        _check_percent_format(text)
        self._check_size(len(text) + printed_size(kwargs or args, self.max_size))
        result = text % (kwargs or args)
        self._check_size(len(result))
        return result

    def _join(self, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
        if attribute is not None:
            getter = make_attrgetter(self, attribute)
            value = [getter(v) for v in value]
        items = list(value)
        self._check_size(printed_size(items, self.max_size) + len(d) * max(len(items) - 1, 0))
        texts = [str(self.finalize_value(v)) for v in items]
        self._check_size(sum(map(len, texts)) + len(d) * max(len(texts) - 1, 0))
        return d.join(texts)

    def _replace(self, value: Any, old: str, new: str, count: int | None = None) -> str:
        text = str(value)
        found = text.count(old) if old else len(text) + 1
        if count is not None and count >= 0:
            found = min(found, count)
        self._check_size(len(text) + found * max(len(new) - len(old), 0))
        return text.replace(old, new, -1 if count is None else count)


def _same_arguments(wrapper: Callable[..., Any], func: Callable[..., Any]) -> Callable[..., Any]:
    """A wrapper of a filter is passed what the filter is (Jinja's ``pass_environment`` marks)."""
    marked = getattr(func, "jinja_pass_arg", None)
    if marked is not None:
        wrapper.jinja_pass_arg = marked  # type: ignore[attr-defined]
    return wrapper


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_int_bits(left: int, right: int, bits: int, operator: str = "*") -> None:
    if bits > MAX_INT_BITS:
        shown = f"{left} {operator} {right}" if bits < 10_000 else f"a {operator} of two big integers"
        raise _refuse(f"{shown} is too large (results are limited to {MAX_INT_BITS} bits)")


def _check_sum_start(start: Any) -> None:
    # sum(lists, []) concatenates (quadratic, unbounded): sum adds numbers, join makes text.
    if not isinstance(start, int | float):
        raise _refuse("sum adds numbers; its start must be a number (use join for text)")


def _sum(iterable: Iterable[Any], start: Any = 0) -> Any:
    _check_sum_start(start)
    return sum(iterable, start)


def _sum_filter(func: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(*args: Any, **kwargs: Any) -> Any:
        # (environment, iterable, attribute=None, start=0)
        _check_sum_start(kwargs.get("start", args[3] if len(args) > 3 else 0))
        return func(*args, **kwargs)

    return _same_arguments(guarded, func)
