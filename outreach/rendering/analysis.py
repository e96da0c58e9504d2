"""How a template's email depends on the supporter it is for, read from the Jinja AST.

Most emails differ between supporters only by a few printed values (a first name, a city, the
unsubscribe link) and by which branch a test of such a value takes (`{% if supporter.city %}`).
Such an email can be rendered once for a group of supporters, with stand-in values, and filled
in for each of them (`substitution.py`). Anything else (a filter or a comparison applied to a
supporter's value, a loop over it, a macro printing it) makes the email render for each
supporter on its own; `Personalization.reason` says why, and where.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from jinja2 import nodes

PRINTABLE = ("first_name", "last_name", "name", "email", "city", "region")
"""Supporter fields whose values can be filled into a shared rendering."""

UNSUBSCRIBE = "unsubscribe_url"

_KEYED = "language"
"""Read as it is: supporters are grouped by its value (there are few)."""

_TRANSPARENT_FILTERS = frozenset({"trim", "paragraphs"})
"""Filters that leave a filled-in value intact (for the values `substitution.plain` admits)."""

_URL_ARGUMENTS = {"mailto": ("address", "subject", "body")}
"""Functions whose arguments are URL-quoted (but for the first): a value is quoted the same way."""

_PLAIN_PLACES = (nodes.Template, nodes.Block, nodes.If, nodes.For, nodes.Output)
"""Where printed output reaches the email as it is (no macro, filter block or `set` between)."""

_UNSHARED_BLOCKS = frozenset({"post", "announcement"})
"""Checked elsewhere: the post by the renderer's post cache, the announcement has no supporter."""


@dataclass(frozen=True)
class Personalization:
    """What of a supporter one template file's email depends on."""

    fields: tuple[str, ...] = ()
    """Supporter fields it prints or tests; supporters are grouped by which of them are empty."""
    by_language: bool = False
    """It reads `supporter.language`: supporters are grouped by it."""
    reason: str | None = None
    """Why each supporter's email must be rendered on its own (`file:line: what`), or None."""

    @property
    def shared(self) -> bool:
        """Whether the email can be rendered once per group of supporters."""
        return self.reason is None


Path = tuple[nodes.Node, ...]
"""A node's ancestors, the template first."""


def analyse(trees: Mapping[str, nodes.Template]) -> Personalization:
    """How the email of a template file varies by supporter (`trees`: file, then its layouts)."""
    walked = [(node, path) for tree in trees.values() for node, path in _walk(tree, ())]
    files = {id(tree): name for name, tree in trees.items()}
    tainted = _tainted_blocks(walked)
    fields: set[str] = set()
    by_language = False
    for node, path in walked:
        problem = None
        if isinstance(node, nodes.Include | nodes.Import | nodes.FromImport):
            problem = "uses another template, which may print supporter data in any way"
        elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name == "supporter":
            parent = path[-1]
            if not isinstance(parent, nodes.Getattr):
                problem = "uses `supporter` other than through one of its fields"
            elif parent.attr == _KEYED:
                by_language = True
            elif parent.attr not in PRINTABLE:
                problem = f"reads supporter.{parent.attr}"
            else:
                fields.add(parent.attr)
                if not (_tested(parent, path[:-1]) or _printed(parent, path[:-1])):
                    problem = f"transforms supporter.{parent.attr} before printing it"
        elif isinstance(node, nodes.Name) and node.ctx == "load" and node.name == UNSUBSCRIBE:
            if not _printed(node, path):
                problem = f"transforms {UNSUBSCRIBE} before printing it"
        elif (block := _block_called(node, path)) in tainted and not _printed(node, path):
            problem = f"transforms the '{block}' block, which prints supporter data"
        if problem is not None:
            return Personalization(reason=f"{files[id(path[0])]}:{node.lineno}: {problem}")
    return Personalization(tuple(sorted(fields)), by_language)


def _walk(node: nodes.Node, path: Path) -> Iterator[tuple[nodes.Node, Path]]:
    """Every node under `node` with its ancestors, except the unshared blocks."""
    for child in node.iter_child_nodes():
        if isinstance(child, nodes.Block) and child.name in _UNSHARED_BLOCKS:
            continue
        yield child, (*path, node)
        yield from _walk(child, (*path, node))


def _prints_supporter_data(node: nodes.Node, path: Path) -> bool:
    """Whether `node` is a supporter's printable field or the unsubscribe link."""
    if isinstance(node, nodes.Name) and node.ctx == "load" and node.name == UNSUBSCRIBE:
        return True
    return (
        isinstance(node, nodes.Getattr)
        and isinstance(node.node, nodes.Name)
        and node.node.name == "supporter"
        and node.attr in PRINTABLE
        and not _tested(node, path)
    )


def _tainted_blocks(walked: Sequence[tuple[nodes.Node, Path]]) -> set[str]:
    """Blocks whose output contains supporter data, directly or through other blocks."""
    tainted: set[str] = set()
    while True:
        found = set(tainted)
        for node, path in walked:
            if _prints_supporter_data(node, path) or _block_called(node, path) in tainted:
                found.update(a.name for a in path if isinstance(a, nodes.Block))
        if found == tainted:
            return tainted
        tainted = found


def _block_called(node: nodes.Node, path: Path) -> str | None:
    """The block `node` renders: `self.NAME()`, or `super()` inside block NAME."""
    if not isinstance(node, nodes.Call):
        return None
    callee = node.node
    if isinstance(callee, nodes.Getattr) and isinstance(callee.node, nodes.Name):
        return callee.attr if callee.node.name == "self" else None
    if isinstance(callee, nodes.Name) and callee.name == "super":
        return next((a.name for a in reversed(path) if isinstance(a, nodes.Block)), None)
    return None


def _tested(node: nodes.Node, path: Path) -> bool:
    """Whether only the truth of `node` matters: the test of an if, or of a loop's filter."""
    current, index = node, len(path) - 1
    while index >= 0:
        parent = path[index]
        if isinstance(parent, nodes.Not | nodes.And | nodes.Or):
            current, index = parent, index - 1
            continue
        return isinstance(parent, nodes.If | nodes.CondExpr | nodes.For) and (
            getattr(parent, "test", None) is current
        )
    return False


def _printed(node: nodes.Node, path: Path) -> bool:
    """Whether `node` is printed as it is, or through filters and functions a value survives."""
    current, index = node, len(path) - 1
    while index >= 0:
        parent = path[index]
        if isinstance(parent, nodes.Filter) and parent.node is current:
            if parent.name not in _TRANSPARENT_FILTERS or parent.args or parent.kwargs:
                return False
        elif isinstance(parent, nodes.Keyword) and index > 0 and _quotes(path[index - 1], parent):
            current, index = path[index - 1], index - 2
            continue
        elif isinstance(parent, nodes.Call) and _quotes(parent, current):
            pass
        else:
            return isinstance(parent, nodes.Output) and all(
                isinstance(a, _PLAIN_PLACES) for a in path[:index]
            )
        current, index = parent, index - 1
    return False


def _quotes(call: nodes.Node, argument: nodes.Node) -> bool:
    """Whether `call` URL-quotes `argument` (one of its arguments, or a Keyword of them)."""
    if not isinstance(call, nodes.Call) or not isinstance(call.node, nodes.Name):
        return False
    names = _URL_ARGUMENTS.get(call.node.name, ())
    if isinstance(argument, nodes.Keyword):
        return argument.key in names[1:]
    return any(a is argument for a in call.args[1 : len(names)])
