"""How a template's email depends on the supporter it is for, read from the Jinja AST.

Every use of supporter data must be one of two kinds of *slot*:

- a **test** (`{% if supporter.city %}`, `{% if supporter.fields.member_since < "2016" %}`,
  a filter or a test over a supporter's value): it is computed for each supporter, and
  supporters whose tests come out alike share a rendering;
- a **value** printed as it is, or through filters that keep it a plain string
  (`{{ supporter.city }}`, `{{ supporter.city|upper }}`, `{{ supporter.fields.team }}`,
  a `mailto()` argument): it is computed for each supporter and filled into the shared
  rendering where a marker stands for it (`skeleton.py`).

Anything else (a loop over a supporter's value, a `set`, a macro printing it, an include)
makes the email render for each supporter on its own; `Personalization.reason` says why, and
where. `rewrite` replaces each value slot of a fresh parse by a lookup into `outreach_fills`,
the variable the shared rendering gets its markers from.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from jinja2 import nodes

FILLS = "outreach_fills"
"""The variable a rewritten template reads its value slots from (slot name → marker)."""

UNSUBSCRIBE = "unsubscribe_url"
_POST_NAMES = frozenset({"suggested_post", "share"})
"""Carry the suggested post, which may print supporter data."""

_CONSTANT_NAMES = frozenset(
    {"campaign", "milestone", "target", "targets", "organization", "language"}
)
"""Variables that are the same for every supporter of a send: a slot may read them."""

_FILTERS = frozenset(
    {
        "upper", "lower", "title", "capitalize", "trim", "truncate", "default", "d",
        "length", "count", "wordcount", "string", "first", "last", "int", "float", "abs",
        "round", "replace", "join", "center",
    }
)  # fmt: skip
"""Pure filters a slot may apply to a supporter's value."""

_DUAL = frozenset({"replace", "join"})
"""Filters that give markup in the HTML environment (so does `~`): such slots are computed in
both environments."""

_COMPUTABLE = (
    nodes.Getattr, nodes.Getitem, nodes.Slice, nodes.Const, nodes.Name, nodes.Filter,
    nodes.Test, nodes.Compare, nodes.Operand, nodes.And, nodes.Or, nodes.Not, nodes.CondExpr,
    nodes.Concat, nodes.Keyword, nodes.Tuple, nodes.List,
)  # fmt: skip
"""Expression nodes a slot is made of (no calls: nothing runs but filters and tests)."""

_TRANSPARENT_FILTERS = frozenset({"trim", "paragraphs"})
"""Filters that leave a filled-in value intact (for the values `skeleton.plain` admits)."""

_URL_ARGUMENTS = {"mailto": ("address", "subject", "body")}
"""Functions whose arguments are URL-quoted (but for the first): a value is quoted the same way."""

_PLAIN_PLACES = (nodes.Template, nodes.Block, nodes.If, nodes.For, nodes.Output)
"""Where printed output reaches the email as it is (no macro, filter block or `set` between)."""

_UNSHARED_BLOCKS = frozenset({"announcement"})
"""Rendered with no supporter."""


@dataclass(frozen=True)
class Slot:
    """One supporter-dependent expression of a template: a test or a printed value."""

    name: str
    """The value's tag name (`city`, `fields_team`, `v2`), or the test's (`t0`)."""
    test: bool
    node: nodes.Node = field(compare=False, repr=False)
    label: str
    """How organizers read it: `supporter.city`."""
    where: str
    """`file:line`."""
    dual: bool = False
    """Computed in both environments (it may give markup in the HTML one)."""
    as_text: bool = True
    """Printed (any value becomes text), rather than handed to a function (must be text)."""


@dataclass(frozen=True)
class Personalization:
    """What of a supporter one template file's email depends on."""

    slots: tuple[Slot, ...] = ()
    reason: str | None = None
    """Why each supporter's email must be rendered on its own (`file:line: what`), or None."""

    @property
    def shared(self) -> bool:
        """Whether the email can be rendered once per group of supporters."""
        return self.reason is None

    @property
    def fields(self) -> tuple[str, ...]:
        """The supporter fields it prints or tests, for reports."""
        return tuple(sorted({r for s in self.slots for r in s.label.split(", ")}))

    @property
    def renderings(self) -> int:
        """The most shared renderings a send of it needs (per language and send date)."""
        return int(2 ** len(self.slots))


Path = tuple[nodes.Node, ...]
"""A node's ancestors, the template first."""


def analyse(trees: Mapping[str, nodes.Template]) -> Personalization:
    """How the email of a template file varies by supporter (`trees`: file, then its layouts)."""
    return _Analysis(trees).run()[0]


def rewrite(trees: Mapping[str, nodes.Template]) -> Personalization:
    """Analyse `trees` (a fresh parse) and replace each value slot in them by its fill-in."""
    personalization, places = _Analysis(trees).run()
    for parent, node, slot in places:
        lookup = nodes.Getitem(nodes.Name(FILLS, "load"), nodes.Const(slot.name), "load")
        lookup.set_lineno(node.lineno)
        _replace(parent, node, lookup)
    return personalization


class _Analysis:
    def __init__(self, trees: Mapping[str, nodes.Template]) -> None:
        self.walked = [(node, path) for tree in trees.values() for node, path in _walk(tree, ())]
        self.files = {id(tree): name for name, tree in trees.items()}
        self.slots: dict[tuple[bool, str], Slot] = {}
        self.places: list[tuple[nodes.Node, nodes.Node, Slot]] = []
        self.counter = 0

    def run(self) -> tuple[Personalization, list[tuple[nodes.Node, nodes.Node, Slot]]]:
        problem = self._bindings()
        for node, path in self.walked:
            if problem is not None:
                break
            if isinstance(node, nodes.Include | nodes.Import | nodes.FromImport):
                problem = node, "uses another template, which may print supporter data in any way"
            elif isinstance(node, nodes.Name) and _loads(node, "supporter"):
                problem = self._supporter(node, path)
        if problem is None:
            problem = self._carriers()
        if problem is not None:
            node, what = problem
            return Personalization(reason=f"{self._where(node, self._path_of(node))}: {what}"), []
        return Personalization(tuple(self.slots.values())), self.places

    def _path_of(self, node: nodes.Node) -> Path:
        return next(path for n, path in self.walked if n is node)

    def _where(self, node: nodes.Node, path: Path) -> str:
        return f"{self.files[id(path[0])]}:{node.lineno}"

    def _bindings(self) -> tuple[nodes.Node, str] | None:
        """A `set`, loop or macro argument that hides a variable slots read."""
        names = _CONSTANT_NAMES | {"supporter", FILLS}
        for node, _ in self.walked:
            stores = isinstance(node, nodes.Name) and node.ctx in ("store", "param")
            if stores and getattr(node, "name", None) in names:
                return node, f"assigns '{getattr(node, 'name', '')}'"
        return None

    def _supporter(self, name: nodes.Name, path: Path) -> tuple[nodes.Node, str] | None:
        """Make `supporter` here part of a slot, or say why it cannot be."""
        if any(isinstance(a, nodes.Block) and a.name in _UNSHARED_BLOCKS for a in path):
            return None
        expression, index = _widest(name, path)
        if expression is name:
            return name, "uses `supporter` other than through one of its fields"
        label = _label(expression)
        names = {n.name for n in expression.find_all(nodes.Name) if n.ctx == "load"}
        if isinstance(expression, nodes.Name):
            names.add("supporter")
        if not names <= _CONSTANT_NAMES | {"supporter"}:
            other = ", ".join(sorted(names - _CONSTANT_NAMES - {"supporter"}))
            return expression, f"combines {label} with {other}, which differ within a rendering"
        parent = path[index]
        test = isinstance(parent, nodes.If | nodes.For) and parent.test is expression
        if not test and not _printed(expression, path[: index + 1]):
            return expression, f"transforms {label} before printing it"
        if any(id(place) == id(expression) for _, place, _ in self.places):
            return None
        dual = any(isinstance(n, nodes.Concat) for n in _nodes_in(expression)) or any(
            n.name in _DUAL for n in _nodes_in(expression) if isinstance(n, nodes.Filter)
        )
        slot = self._slot(expression, test, label, self._where(expression, path), dual, parent)
        if not test:
            self.places.append((parent, expression, slot))
        return None

    def _slot(
        self,
        expression: nodes.Node,
        test: bool,
        label: str,
        where: str,
        dual: bool,
        parent: nodes.Node,
    ) -> Slot:
        key = (test, repr(expression))
        as_text = isinstance(parent, nodes.Output)
        slot = self.slots.get(key)
        if slot is None:
            name = f"t{len(self.slots)}" if test else _value_name(expression, len(self.slots))
            slot = self.slots[key] = Slot(name, test, expression, label, where, dual, as_text)
        elif slot.as_text and not as_text:
            slot = self.slots[key] = replace(slot, as_text=False)
        return slot

    def _carriers(self) -> tuple[nodes.Node, str] | None:
        """Uses of what carries supporter data (blocks, the post, the unsubscribe link) that
        do more than print it or test it."""
        valued = [place for _, place, _ in self.places]
        tainted = _tainted_blocks(self.walked, valued)
        post_tainted = "post" in tainted
        for node, path in self.walked:
            if isinstance(node, nodes.Name) and node.ctx == "load":
                if node.name == UNSUBSCRIBE and not _printed(node, path):
                    return node, f"transforms {UNSUBSCRIBE} before printing it"
                if post_tainted and node.name in _POST_NAMES:
                    target: nodes.Node = node
                    inner = path
                    if node.name == "share" and isinstance(path[-1], nodes.Getattr):
                        target, inner = path[-1], path[:-1]
                    if not (_printed(target, inner) or _tested(target, inner)):
                        return node, f"transforms {node.name}, which prints supporter data"
            block = _block_called(node, path)
            if block in tainted and not _printed(node, path):
                return node, f"transforms the '{block}' block, which prints supporter data"
        return None


def _walk(node: nodes.Node, path: Path) -> Iterator[tuple[nodes.Node, Path]]:
    """Every node under `node` with its ancestors."""
    for child in node.iter_child_nodes():
        yield child, (*path, node)
        yield from _walk(child, (*path, node))


def _nodes_in(node: nodes.Node) -> Iterator[nodes.Node]:  # the node and all under it
    yield node
    yield from node.find_all(nodes.Node)


def _loads(node: nodes.Node, name: str) -> bool:
    return isinstance(node, nodes.Name) and node.ctx == "load" and node.name == name


def _widest(node: nodes.Node, path: Path) -> tuple[nodes.Node, int]:
    """The largest expression around `node` a slot can compute, and its parent's index."""
    index = len(path) - 1
    while index >= 0:
        parent = path[index]
        if isinstance(parent, nodes.Keyword):
            if index == 0 or not _computable(path[index - 1]):
                break
            node, index = path[index - 1], index - 2
        elif _computable(parent):
            node, index = parent, index - 1
        else:
            break
    return node, index


def _computable(node: nodes.Node) -> bool:
    if isinstance(node, nodes.Filter):
        return node.node is not None and node.name in _FILTERS
    return isinstance(node, _COMPUTABLE)


def _label(expression: nodes.Node) -> str:
    """`supporter.city`, `supporter.fields.team`: the supporter data an expression reads."""
    reads = []
    for node in _nodes_in(expression):
        if not isinstance(node, nodes.Getattr | nodes.Getitem):
            continue
        key = node.attr if isinstance(node, nodes.Getattr) else getattr(node.arg, "value", "?")
        if _is_fields(node.node):
            reads.append(f"supporter.fields.{key}")
        elif _loads(node.node, "supporter") and key != "fields":
            reads.append(f"supporter.{key}")
    if not reads and any(_is_fields(n) for n in _nodes_in(expression)):
        reads.append("supporter.fields")
    return ", ".join(dict.fromkeys(reads)) or "supporter"


def _is_fields(node: nodes.Node) -> bool:
    return (
        isinstance(node, nodes.Getattr) and node.attr == "fields" and _loads(node.node, "supporter")
    )


def _value_name(expression: nodes.Node, count: int) -> str:
    """A tag name for a value slot: the field's own name when it is one, else `vN`."""
    if isinstance(expression, nodes.Getattr) and _loads(expression.node, "supporter"):
        attribute = str(expression.attr)
        if attribute.isidentifier() and attribute.islower():
            return attribute
    if isinstance(expression, nodes.Getattr | nodes.Getitem) and _is_fields(expression.node):
        key = expression.attr if isinstance(expression, nodes.Getattr) else expression.arg
        key = getattr(key, "value", key)
        if isinstance(key, str) and key.isascii() and key.isidentifier() and key.islower():
            return f"fields_{key}"
    return f"v{count}"


def _replace(parent: nodes.Node, old: nodes.Node, new: nodes.Node) -> None:
    """Put `new` where `old` is among `parent`'s fields."""
    for name in parent.fields:
        value = getattr(parent, name)
        if value is old:
            setattr(parent, name, new)
        elif isinstance(value, list):
            value[:] = [new if item is old else item for item in value]


def _tainted_blocks(
    walked: Sequence[tuple[nodes.Node, Path]], valued: list[nodes.Node]
) -> set[str]:
    """Blocks whose output contains supporter data, directly or through other blocks."""
    ids = {id(node) for node in valued}
    tainted: set[str] = set()
    while True:
        found = set(tainted)
        for node, path in walked:
            carries = id(node) in ids or _loads(node, UNSUBSCRIBE)
            if carries or _block_called(node, path) in tainted:
                found.update(a.name for a in path if isinstance(a, nodes.Block))
        if "post" in found:
            for node, path in walked:
                if isinstance(node, nodes.Name) and node.name in _POST_NAMES:
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
