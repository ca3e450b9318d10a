"""Static checks of a template's syntax tree (run when a task file is parsed, and before compiling):
private names, forbidden names, method calls off the allow-list, unknown filters and tests, includes
and macros are refused; so are the size bombs written with constants (``'a' * 10**9``, ``9 ** 999999``,
``[x] * 10**9``, ``range(10**9)``), which would be refused at run time anyway, so that ``quorum validate``
shows them with the file and line. ``for`` loops and ``~`` are rewritten to go through the sandbox's
budgets."""

from __future__ import annotations

import re
from collections.abc import Iterable

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.visitor import NodeTransformer

from quorum.templates._budget import printed_size
from quorum.templates._sandbox import ALL_METHODS, MAX_INT_BITS, MAX_RANGE, Sandbox

__all__ = ("Checker", "is_simple")

_FORBIDDEN_NAMES = frozenset(
    {"self", "config", "request", "session", "g", "lipsum", "cycler", "joiner", "namespace", "os", "sys"}
)

# A template made only of ``{{ name.attr.attr }}`` substitutions cannot fail to compile and cannot reach
# anything unsafe, so checking it needs no Jinja parse (most prompts look like this).
_SIMPLE_SUBSTITUTION = re.compile(r"\{\{ ?([A-Za-z][A-Za-z0-9_]*(?:\.[A-Za-z][A-Za-z0-9_]*)*) ?\}\}")
_KEYWORDS = frozenset(
    {
        "and", "or", "not", "in", "is", "if", "else", "elif", "endif", "for", "endfor", "true", "false",
        "none", "True", "False", "None", "recursive", "set", "with",
    }
)  # fmt: skip


def _refuse(message: str) -> SecurityError:
    return SecurityError(message)


class Checker(NodeTransformer):
    """Refuses unsafe constructs and wraps loops and ``~`` with the budget checks."""

    def __init__(self, env: Sandbox) -> None:
        self.env = env

    def visit_Name(self, node: nodes.Name) -> nodes.Node:
        if node.name.startswith("_"):
            raise _refuse(f"name {node.name!r} is private (names starting with '_' are not allowed)")
        if node.name in _FORBIDDEN_NAMES:
            raise _refuse(f"name {node.name!r} is not available in templates")
        return node

    def visit_Getattr(self, node: nodes.Getattr) -> nodes.Node:
        if node.attr.startswith("_"):
            raise _refuse(f"attribute {node.attr!r} is private (names starting with '_' are not allowed)")
        return self.generic_visit(node)

    def visit_Getitem(self, node: nodes.Getitem) -> nodes.Node:
        if isinstance(node.arg, nodes.Const) and str(node.arg.value).startswith("_"):
            raise _refuse(f"key {node.arg.value!r} is private (names starting with '_' are not allowed)")
        return self.generic_visit(node)

    def visit_Call(self, node: nodes.Call) -> nodes.Node:
        if isinstance(node.node, nodes.Getattr) and node.node.attr not in ALL_METHODS:
            raise _refuse(f"method {node.node.attr!r} is not available in templates")
        if isinstance(node.node, nodes.Name) and node.node.name == "range" and not node.kwargs:
            bounds = [_constant_int(a) for a in node.args]
            if bounds and None not in bounds and (bounds[-1] != 0 or len(bounds) < 3):
                known = [b for b in bounds if b is not None]
                try:
                    length = len(range(*known))
                except (TypeError, ValueError, OverflowError):
                    length = 0  # the run-time error says what is wrong
                if length > MAX_RANGE:
                    raise _refuse(f"range of {length} numbers is larger than the limit of {MAX_RANGE}")
        return self.generic_visit(node)

    # -- size bombs written with constants ----------------------------------------------------
    def visit_Mul(self, node: nodes.Mul) -> nodes.Node:
        self.generic_visit(node)
        _constant_int(node)  # raises for an integer product over the limit
        size = _constant_size(node)
        if size is not None and size > self.env.max_size:
            raise _refuse(
                f"this repetition makes {size} characters or items; the limit is {self.env.max_size}"
            )
        return node

    def visit_Pow(self, node: nodes.Pow) -> nodes.Node:
        self.generic_visit(node)
        _constant_int(node)
        return node

    def _check_name(self, kind: str, name: str, known: Iterable[str]) -> None:
        if name not in known:
            from quorum.definition.suggest import did_you_mean

            raise _refuse(f"unknown {kind} {name!r}{did_you_mean(name, known)}")

    def visit_Filter(self, node: nodes.Filter) -> nodes.Node:
        self._check_name("filter", node.name, self.env.filters)
        return self.generic_visit(node)

    def visit_Test(self, node: nodes.Test) -> nodes.Node:
        self._check_name("test", node.name, self.env.tests)
        return self.generic_visit(node)

    def _no_files(self, node: nodes.Node) -> nodes.Node:
        raise _refuse("templates cannot include, import or extend other templates")

    visit_Include = visit_Import = visit_FromImport = visit_Extends = _no_files

    def _no_macros(self, node: nodes.Node) -> nodes.Node:
        raise _refuse("macros and call blocks are not supported in templates")

    visit_Macro = visit_CallBlock = _no_macros

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name("_q_iter", "load"), [node.iter], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(
            nodes.Name("_q_concat", "load"), list(node.nodes), [], None, None, lineno=node.lineno
        )


def _constant_int(node: nodes.Node) -> int | None:
    """The value of an integer written with constants (``10 ** 6``, ``-3``); None for anything else.
    Raises for a power or product larger than the sandbox allows."""
    if isinstance(node, nodes.Const):
        value = node.value
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(node, nodes.Neg):
        inner = _constant_int(node.node)
        return None if inner is None else -inner
    if isinstance(node, nodes.Pow | nodes.Mul | nodes.Add | nodes.Sub):
        left, right = _constant_int(node.left), _constant_int(node.right)
        if left is None or right is None:
            return None
        if isinstance(node, nodes.Pow):
            if right < 0 or abs(left) < 2:
                return None  # a float, or 0, 1, -1: small
            if abs(left).bit_length() * right > MAX_INT_BITS:
                raise _refuse(f"{left} ** {right} is too large (results are limited to {MAX_INT_BITS} bits)")
            return int(left**right)
        if isinstance(node, nodes.Mul):
            if abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
                raise _refuse(f"this product is too large (results are limited to {MAX_INT_BITS} bits)")
            return left * right
        return left + right if isinstance(node, nodes.Add) else left - right
    return None


def _constant_size(node: nodes.Node) -> int | None:
    """The printed size of a string or list written with constants, repeated with ``*``, counted as the
    sandbox counts it at run time (an item not known yet counts 1); None when nothing is known."""
    if isinstance(node, nodes.Const) and isinstance(node.value, str):
        return len(node.value)
    if isinstance(node, nodes.List | nodes.Tuple):
        return 2 + sum(2 + _item_size(item) for item in node.items)
    if isinstance(node, nodes.Mul):
        for seq, times in ((node.left, node.right), (node.right, node.left)):
            size, count = _constant_size(seq), _constant_int(times)
            if size is not None and count is not None:
                return size * max(count, 0)
    return None


def _item_size(node: nodes.Node) -> int:
    if isinstance(node, nodes.Const):
        return printed_size(node.value, 10**9)
    return _constant_size(node) or 1


def is_simple(source: str) -> bool:
    rest = _SIMPLE_SUBSTITUTION.sub("", source)
    if "{{" in rest or "{%" in rest or "{#" in rest:
        return False
    for match in _SIMPLE_SUBSTITUTION.finditer(source):
        parts = match.group(1).split(".")
        if len(parts) > 20 or parts[0] in _FORBIDDEN_NAMES or any(p in _KEYWORDS for p in parts):
            return False
    return True
