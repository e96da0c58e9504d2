"""Reading a composed YAML node tree with line numbers, collecting every problem on the way.

Helpers never raise on bad input: they report a `Problem` and return a harmless placeholder,
so one pass finds all problems. Callers raise `ProblemsError` before a placeholder escapes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from outreach.campaign.safeyaml import CampaignLoader
from outreach.errors import Problem, ProblemsError

T = TypeVar("T")

NULL_TAG = "tag:yaml.org,2002:null"
BOOL_TAG = "tag:yaml.org,2002:bool"


def compose(text: str, path_label: str) -> Node:
    """The node tree of one YAML document; a syntax error or an empty file is a problem."""
    try:
        node = yaml.compose(text, Loader=CampaignLoader)
    except yaml.reader.ReaderError as error:
        line = text.count("\n", 0, error.position) + 1
        message = f"invalid YAML: {error.reason} (character #x{error.character:04x})"
        raise ProblemsError([Problem(path_label, line, message)]) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        problem = error.problem or error.context or "syntax error"
        if problem.startswith("but ") and error.context:
            problem = f"{error.context}, {problem}"
        message = f"invalid YAML: {problem}"
        raise ProblemsError([Problem(path_label, line, message)]) from None
    if node is None:
        raise ProblemsError([Problem(path_label, 1, "the file is empty")])
    return node


def line_of(node: Node) -> int:
    """The 1-based line where `node` starts."""
    return int(node.start_mark.line) + 1


def is_empty(node: Node) -> bool:
    """Whether `node` is a null or blank scalar (`key:` with nothing after it)."""
    return isinstance(node, ScalarNode) and (node.tag == NULL_TAG or not node.value.strip())


def describe(node: Node) -> str:
    """What a node is, in plain words, for 'expected X, found Y' messages."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "nothing" if is_empty(node) else f"'{node.value}'"


class NodeReader:
    """Reads nodes of one file and collects the problems found."""

    def __init__(self, path_label: str) -> None:
        self.path_label = path_label
        self.problems: list[Problem] = []

    def report(self, where: Node | int, message: str) -> None:
        """Record a problem at a node's line, or at a line number."""
        line = where if isinstance(where, int) else line_of(where)
        self.problems.append(Problem(self.path_label, line, message))

    def raise_problems(self) -> None:
        """Raise `ProblemsError` when any problem was found."""
        if self.problems:
            raise ProblemsError(self.problems)

    def key_line(self, node: Node, key: str) -> int:
        """The line of `key` in a mapping node (of the node itself when it is not there)."""
        keys = node.value if isinstance(node, MappingNode) else []
        return next((line_of(k) for k, _ in keys if k.value == key), line_of(node))

    def entries(self, node: Node, what: str) -> dict[str, tuple[Node, Node]]:
        """A mapping as key -> (key node, value node); duplicate keys keep the first."""
        if not isinstance(node, MappingNode):
            self.report(node, f"expected a mapping for {what}, found {describe(node)}")
            return {}
        found: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or is_empty(key_node):
                self.report(key_node, f"keys in {what} must be plain words")
                continue
            key = str(key_node.value)
            if key in found:
                first = line_of(found[key][0])
                self.report(key_node, f"duplicate key '{key}' in {what} (first at line {first})")
                continue
            found[key] = (key_node, value_node)
        return found

    def fields(
        self, node: Node, what: str, required: Sequence[str], optional: Sequence[str], line: int
    ) -> dict[str, Node]:
        """The allowed entries of a mapping; unknown keys and missing ones (at `line`) are
        problems."""
        found = self.entries(node, what)
        if not isinstance(node, MappingNode):
            return {}
        allowed = [*required, *optional]
        for key, (key_node, _) in found.items():
            if key not in allowed:
                expected = ", ".join(allowed)
                self.report(
                    key_node, f"unknown key '{key}' in {what} (expected one of: {expected})"
                )
        for key in required:
            if key not in found:
                self.report(line, f"missing key '{key}' in {what}")
        return {key: value for key, (_, value) in found.items() if key in allowed}

    def get(
        self,
        fields: Mapping[str, Node],
        key: str,
        parse: Callable[[Node, str], T],
        owner: str,
        default: T,
    ) -> T:
        """`parse` the value of `key`, or `default` when the key is absent."""
        node = fields.get(key)
        if node is None:
            return default
        return parse(node, f"'{key}' in {owner}" if owner else f"'{key}'")

    def checked(
        self, label: str, parse: Callable[[str], T], default: T
    ) -> Callable[[Node, str], T]:
        """A reader of one text parsed by `parse`, whose ValueError explains a problem."""

        def read(node: Node, what: str) -> T:
            value = self.text(node, what)
            try:
                return parse(value) if value else default
            except ValueError as error:
                self.report(node, f"{label} '{value}' in {what}: {error}")
                return default

        return read

    def checked_list(
        self, label: str, parse: Callable[[str], str]
    ) -> Callable[[Node, str], tuple[str, ...]]:
        """A reader of a list of texts, each parsed by `parse` as in `checked`."""
        one = self.checked(label, parse, "")

        def read(node: Node, what: str) -> tuple[str, ...]:
            values = (one(item, what) for item, _ in self.texts(node, what))
            return tuple(value for value in values if value)

        return read

    def text(self, node: Node, what: str) -> str:
        """A non-empty scalar, as written (ends stripped)."""
        if isinstance(node, ScalarNode) and not is_empty(node):
            return str(node.value).strip()
        self.report(node, f"expected text for {what}, found {describe(node)}")
        return ""

    def boolean(self, node: Node, what: str) -> bool:
        """A YAML boolean: true or false."""
        if isinstance(node, ScalarNode) and node.tag == BOOL_TAG:
            return str(node.value).lower() in ("true", "yes", "on")
        self.report(node, f"expected true or false for {what}, found {describe(node)}")
        return False

    def items(self, node: Node, what: str) -> list[Node]:
        """The items of a list."""
        if isinstance(node, SequenceNode):
            return list(node.value)
        self.report(node, f"expected a list for {what}, found {describe(node)}")
        return []

    def texts(self, node: Node, what: str) -> list[tuple[Node, str]]:
        """A list of texts, each with its node (for line numbers); duplicates are problems."""
        result: dict[str, Node] = {}
        for item in self.items(node, what):
            value = self.text(item, what)
            if value in result:
                self.report(item, f"'{value}' is listed twice in {what}")
            elif value:
                result[value] = item
        return [(item, value) for value, item in result.items()]
