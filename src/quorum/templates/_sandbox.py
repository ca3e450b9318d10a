"""The sandboxed Jinja2 environment: the method allow-list, the size checks on operators and filters,
the loop budget, and quorum's extra globals and filters (``tojson``, ``pct``, ``money``)."""

from __future__ import annotations

import contextvars
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

__all__ = ("ALL_METHODS", "MAX_ITERATIONS", "Sandbox", "iterations")

MAX_ITERATIONS = 100_000
"""Loop iterations allowed in one render (all ``for`` loops together)."""
MAX_RANGE = 10_000
MAX_WIDTH = 1_000
"""Largest padding/format width (center, indent, ``%10s``)."""
MAX_POWER_BITS = 100_000

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

iterations: contextvars.ContextVar[list[int]] = contextvars.ContextVar("quorum_templateiterations")
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
            finalize=_finalize,
        )
        self.max_size = max_output_chars
        self.globals.clear()
        self.globals.update(
            min=min, max=max, sum=sum, len=len, round=round, abs=abs, sorted=sorted, any=any, all=all,
            zip=zip, enumerate=enumerate, int=int, float=float, str=str, bool=bool, range=self._range,
            _q_iter=self._iter, _q_concat=self._concat,
        )  # fmt: skip
        self.filters.pop("random", None)  # nondeterministic: a prompt must be reproducible
        base = dict(self.filters)
        self.filters.update(
            center=self._guard_width(base["center"], "width", 1),
            indent=self._guard_width(base["indent"], "width", 1),
            format=self._format,
            join=self._join,
            replace=self._replace,
            batch=self._guard_count(base["batch"], "linecount", 1),
            slice=self._guard_count(base["slice"], "slices", 1),
            tojson=_to_json,
            pct=_pct,
            money=_money,
        )

    # -- attribute access ------------------------------------------------------------------------
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        return not callable(value) or attr in _allowed_methods(obj)

    def wrap_str_format(self, value: Any) -> None:
        # str.format / format_map are not on the allow-list (width bombs); never wrap them.
        return None

    # -- operators ---------------------------------------------------------------------------------
    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            self._check_repeat(left, right)
            self._check_repeat(right, left)
        elif operator == "**":
            if isinstance(left, int) and isinstance(right, int) and right > 0:
                bits = max(abs(left).bit_length(), 1) * right
                if abs(left) > 1 and bits > MAX_POWER_BITS:
                    raise _refuse(f"{left} ** {right} is too large")
        elif operator == "+":
            if isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
                self._check_size(len(left) + len(right))
        elif operator == "%" and isinstance(left, str):
            _check_percent_format(left)
        return super().call_binop(context, operator, left, right)

    def _check_size(self, size: int) -> None:
        if size > self.max_size:
            raise _refuse(f"result of {size} items/characters is larger than the limit of {self.max_size}")

    def _check_repeat(self, seq: Any, times: Any) -> None:
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            self._check_size(len(seq) * max(times, 0))

    def _range(self, *args: int) -> range:
        r = range(*args)
        if len(r) > MAX_RANGE:
            raise _refuse(f"range of {len(r)} numbers is larger than the limit of {MAX_RANGE}")
        return r

    def _iter(self, iterable: Iterable[Any]) -> Iterator[Any]:
        budget = iterations.get(None)
        for item in iterable:
            if budget is not None:
                budget[0] -= 1
                if budget[0] < 0:
                    raise _refuse(f"loops ran more than {MAX_ITERATIONS} times in one render")
            yield item

    def _concat(self, *parts: Any) -> str:
        texts = [p if isinstance(p, str) else str(_finalize(p)) for p in parts]
        self._check_size(sum(map(len, texts)))
        return "".join(texts)

    # -- filters -----------------------------------------------------------------------------------
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

    def _format(self, value: Any, *args: Any, **kwargs: Any) -> str:
        if args and kwargs:
            raise _refuse("format takes positional or keyword arguments, not both")
        text = str(value)
        _check_percent_format(text)
        result = text % (kwargs or args)
        self._check_size(len(result))
        return result

    def _join(self, value: Iterable[Any], d: str = "", attribute: str | int | None = None) -> str:
        if attribute is not None:
            getter = make_attrgetter(self, attribute)
            value = [getter(v) for v in value]
        items = list(value)
        texts = [str(_finalize(v)) for v in items]
        self._check_size(sum(map(len, texts)) + len(d) * max(len(texts) - 1, 0))
        return d.join(texts)

    def _replace(self, value: Any, old: str, new: str, count: int | None = None) -> str:
        text = str(value)
        found = text.count(old) if old else len(text) + 1
        if count is not None and count >= 0:
            found = min(found, count)
        self._check_size(len(text) + found * max(len(new) - len(old), 0))
        return text.replace(old, new, -1 if count is None else count)


def _finalize(value: Any) -> Any:
    """How a value prints: mappings and lists as JSON (readable in a prompt), the rest as str()."""
    if isinstance(value, Mapping | list | tuple) and not isinstance(value, Undefined):
        return _to_json(value)
    return value
