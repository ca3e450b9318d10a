"""Static checks of a template's syntax tree (run when a task file is parsed, and before compiling):
private names, forbidden names, method calls off the allow-list, unknown filters and tests, includes
and macros are refused; ``for`` loops and ``~`` are rewritten to go through the sandbox's budgets."""

from __future__ import annotations

import re
from collections.abc import Iterable

from jinja2 import nodes
from jinja2.exceptions import SecurityError
from jinja2.visitor import NodeTransformer

from quorum.templates._sandbox import ALL_METHODS, Sandbox

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
        return self.generic_visit(node)

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


def is_simple(source: str) -> bool:
    rest = _SIMPLE_SUBSTITUTION.sub("", source)
    if "{{" in rest or "{%" in rest or "{#" in rest:
        return False
    for match in _SIMPLE_SUBSTITUTION.finditer(source):
        parts = match.group(1).split(".")
        if len(parts) > 20 or parts[0] in _FORBIDDEN_NAMES or any(p in _KEYWORDS for p in parts):
            return False
    return True
