"""Each supporter's slots computed: how their tests come out and the values they print.

Supporters whose tests come out alike, and whose printed values are empty alike, share one
rendering (`Reading.key`); the values are filled into it. A slot that cannot be computed for a
supporter (an undefined field, say) is an error in its place: the shared rendering raises where
it meets it, and its supporters are rendered on their own, as they would be anyway.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from jinja2 import Environment, Template, nodes
from jinja2.exceptions import UndefinedError
from markupsafe import Markup

from outreach.campaign.model import Supporter
from outreach.rendering.analysis import Personalization, Slot
from outreach.rendering.skeleton import marker, plain

ERROR = "!"
"""A slot that raised for this supporter."""

_ATTRIBUTES = frozenset(f.name for f in fields(Supporter)) | {"name"}


@dataclass(frozen=True)
class Reading:
    """What one supporter gives a template's slots."""

    key: tuple[Hashable, ...]
    """Alike for supporters who share a rendering."""
    values: Mapping[str, str | None]
    """Each value slot's text (None: it raised)."""


class Fills(Mapping[str, str]):
    """`outreach_fills` in a shared rendering: a marker for each non-empty value slot."""

    def __init__(self, values: Mapping[str, str | None]) -> None:
        self._values = values

    def __getitem__(self, name: str) -> str:
        value = self._values[name]
        if value is None:
            raise UndefinedError(f"slot {name} has no value for these supporters")
        return marker(name) if value else ""

    def __iter__(self) -> Any:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


Evaluate = Callable[[Supporter, Callable[[], dict[str, Any]]], Any]


class SlotReader:
    """Computes a template file's slots for supporters."""

    def __init__(
        self,
        personalization: Personalization,
        twin: Personalization,
        plain: Environment,
        html: Environment,
    ) -> None:
        """`twin`: the same analysis of another parse, to compile for the HTML environment."""
        self._slots = [
            (slot, _evaluator(slot, plain), _evaluator(other, html) if slot.dual else None)
            for slot, other in zip(personalization.slots, twin.slots, strict=True)
        ]

    def read(self, supporter: Supporter, context: Callable[[], dict[str, Any]]) -> Reading | None:
        """`supporter`'s reading; None when a value cannot be filled in (render them alone)."""
        key: list[Hashable] = []
        values: dict[str, str | None] = {}
        for slot, plain_value, html_value in self._slots:
            outcome = _outcome(slot, plain_value, supporter, context)
            if html_value is not None:
                other = _outcome(slot, html_value, supporter, context)
                if other != outcome:
                    if slot.test:
                        outcome = (outcome, other)
                    else:
                        return None
            if slot.test:
                key.append(outcome)
                continue
            if outcome is _UNFILLABLE:
                return None
            values[slot.name] = None if outcome is ERROR else outcome
            key.append(ERROR if outcome is ERROR else bool(outcome))
        return Reading(tuple(key), values)


_UNFILLABLE = object()


def _outcome(
    slot: Slot, evaluate: Evaluate, supporter: Supporter, context: Callable[[], dict[str, Any]]
) -> Any:
    """A test's truth, a value's text (ERROR when it raised, _UNFILLABLE when not plain)."""
    try:
        value = evaluate(supporter, context)
        if slot.test:
            return bool(value)
        if isinstance(value, Markup) or (not slot.as_text and type(value) is not str):
            return _UNFILLABLE
        text = "" if value is None else str(value)
    except Exception:
        return ERROR
    return text if plain(text) or not text else _UNFILLABLE


def _evaluator(slot: Slot, environment: Environment) -> Evaluate:
    """A function computing `slot`'s expression for a supporter, in `environment`."""
    node = slot.node
    fast = _direct(node, environment)
    if fast is not None:
        return lambda supporter, _: fast(supporter)
    template = _expression_template(node, environment)

    def evaluate(supporter: Supporter, context: Callable[[], dict[str, Any]]) -> Any:
        run = template.new_context({**context(), "supporter": supporter})
        for _ in template.root_render_func(run):
            pass
        return run.vars["result"]

    return evaluate


_COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "gt": operator.gt,
    "lteq": operator.le,
    "gteq": operator.ge,
}


def _direct(node: nodes.Node, environment: Environment) -> Callable[[Supporter], Any] | None:
    """`node` as a plain Python function of the supporter, for the expressions that Jinja
    compiles to the same Python: a supporter attribute, a constant, attribute and item reads
    (through `environment`, as Jinja reads them), a filter or test without arguments, `and`,
    `or`, `not`, one comparison. None for anything else, which runs as a small template."""
    if isinstance(node, nodes.Getattr):
        if isinstance(node.node, nodes.Name):
            if node.node.name != "supporter" or node.attr not in _ATTRIBUTES:
                return None
            attribute = node.attr
            return lambda supporter: getattr(supporter, attribute)
        return _read(node.node, environment, _attribute_read(environment, node.attr), node.attr)
    if isinstance(node, nodes.Getitem):
        if not isinstance(node.arg, nodes.Const):
            return None
        return _read(node.node, environment, environment.getitem, node.arg.value)
    if isinstance(node, nodes.Filter | nodes.Test):
        return _applied(node, environment)
    if isinstance(node, nodes.Const):
        value = node.value
        return lambda _: value
    if isinstance(node, nodes.Not):
        inner = _direct(node.node, environment)
        return None if inner is None else lambda supporter: not inner(supporter)
    if isinstance(node, nodes.And | nodes.Or):
        left, right = _direct(node.left, environment), _direct(node.right, environment)
        if left is None or right is None:
            return None
        if isinstance(node, nodes.And):
            return lambda supporter: left(supporter) and right(supporter)
        return lambda supporter: left(supporter) or right(supporter)
    if isinstance(node, nodes.Compare) and len(node.ops) == 1:
        compare = _COMPARISONS.get(node.ops[0].op)
        first = _direct(node.expr, environment)
        second = _direct(node.ops[0].expr, environment)
        if compare is None or first is None or second is None:
            return None
        return lambda supporter: compare(first(supporter), second(supporter))
    return None


def _read(
    node: nodes.Node, environment: Environment, read: Callable[[Any, Any], Any], key: Any
) -> Callable[[Supporter], Any] | None:
    """`read(node's value, key)`: an attribute or item read as the compiled template does it."""
    inner = _direct(node, environment)
    return None if inner is None else lambda supporter: read(inner(supporter), key)


def _attribute_read(environment: Environment, attribute: str) -> Callable[[Any, str], Any]:
    """`environment.getattr`, quicker for a plain dict (a supporter's `fields`): a dict has
    no attribute of that name, so Jinja reads its item, as this does straight away."""
    read = environment.getattr
    if hasattr(dict, attribute):
        return read

    def attribute_of(value: Any, name: str) -> Any:
        if type(value) is dict and name in value:
            return value[name]
        return read(value, name)

    return attribute_of


def _applied(
    node: nodes.Filter | nodes.Test, environment: Environment
) -> Callable[[Supporter], Any] | None:
    """A filter or test applied to a value, when it takes nothing else: no arguments, and
    neither the context nor the environment (`pass_context` and its kind)."""
    table: Mapping[str, Any] = (
        environment.filters if isinstance(node, nodes.Filter) else environment.tests
    )
    function = table.get(node.name)
    if (
        function is None
        or node.node is None
        or node.args
        or node.kwargs
        or node.dyn_args is not None
        or node.dyn_kwargs is not None
        or hasattr(function, "jinja_pass_arg")
    ):
        return None
    inner = _direct(node.node, environment)
    return None if inner is None else lambda supporter: function(inner(supporter))


def _expression_template(node: nodes.Node, environment: Environment) -> Template:
    """A template that stores `node`'s value in `result`."""
    target = nodes.Name("result", "store", lineno=node.lineno)
    tree = nodes.Template([nodes.Assign(target, node, lineno=node.lineno)], lineno=1)
    tree.set_environment(environment)
    code = environment.compile(tree, "<slot>", "<slot>")
    return environment.template_class.from_code(environment, code, environment.make_globals(None))
