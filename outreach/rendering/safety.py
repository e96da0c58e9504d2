"""Static checks of a template's source: nesting depth, and reads of Python's internals.

The sandbox refuses unsafe attributes when a template reaches them; these checks refuse them
in every branch, rendered or not, so `outreach check` reports them before anything is sent.
"""

from __future__ import annotations

from jinja2 import Environment, nodes
from jinja2.sandbox import (
    UNSAFE_ASYNC_GENERATOR_ATTRIBUTES,
    UNSAFE_COROUTINE_ATTRIBUTES,
    UNSAFE_FUNCTION_ATTRIBUTES,
    UNSAFE_GENERATOR_ATTRIBUTES,
    UNSAFE_METHOD_ATTRIBUTES,
)

MAX_NESTING = 16
"""Tags (`if`, `for`, …) one template may nest inside each other."""

MAX_BRACKETS = 32
"""Brackets an expression may nest."""

UNSAFE_NAMES = frozenset(
    {"mro", "func_globals", "func_code", "f_globals", "f_locals", "f_builtins", "tb_frame"}
    | UNSAFE_FUNCTION_ATTRIBUTES
    | UNSAFE_METHOD_ATTRIBUTES
    | UNSAFE_GENERATOR_ATTRIBUTES
    | UNSAFE_COROUTINE_ATTRIBUTES
    | UNSAFE_ASYNC_GENERATOR_ATTRIBUTES
)

_OPENERS = frozenset(
    {"if", "for", "macro", "call", "filter", "block", "with", "autoescape", "trans"}
)


def is_unsafe_name(name: str) -> bool:
    """Whether an attribute name leads to Python's internals (`__class__`, `mro`, …)."""
    return name.startswith("_") or name in UNSAFE_NAMES


def nesting_problem(environment: Environment, source: str) -> tuple[int, str] | None:
    """(line, message) where `source` nests tags or brackets too deeply, else None.

    Reads tokens only (the lexer does not recurse), so it is safe on any input.
    """
    tags = brackets = 0
    after_block_begin = False
    for line, kind, value in environment.lex(source):
        if kind == "whitespace":
            continue
        if kind == "operator" and value in "([{":
            brackets += 1
            if brackets > MAX_BRACKETS:
                return line, f"brackets nested more than {MAX_BRACKETS} deep"
        elif kind == "operator" and value in ")]}":
            brackets = max(brackets - 1, 0)
        elif after_block_begin and kind == "name":
            if value in _OPENERS:
                tags += 1
                if tags > MAX_NESTING:
                    return line, f"tags nested more than {MAX_NESTING} deep: simplify"
            elif value.startswith("end"):
                tags = max(tags - 1, 0)
        after_block_begin = kind == "block_begin"
    return None


def unsafe_reads(tree: nodes.Template) -> list[tuple[int, str]]:
    """(line, message) for the first read of an unsafe attribute on each line, in any branch."""
    found: dict[int, str] = {}
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        name: object = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif isinstance(node, nodes.Filter) and node.name == "attr" and node.args:
            argument = node.args[0]
            name = argument.value if isinstance(argument, nodes.Const) else None
        if isinstance(name, str) and is_unsafe_name(name):
            message = f"'{name}' is off limits: templates cannot reach Python's internals"
            found.setdefault(node.lineno, message)
    return sorted(found.items())
