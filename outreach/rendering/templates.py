"""The templates folder, compiled once: each `<template>.<language>.j2` with its layouts.

`templates/<template>.<language>.j2` defines blocks: `subject`, `text` (required), `html`,
`post`, `announcement`. Files whose names start with `_` are layouts. Every file is compiled
in two environments: plain text (no escaping) and HTML (autoescaped). A block is rendered on
its own through the file's chain of layouts, so `{% extends %}` and `super()` work without
rendering the whole file for each block.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, Template, TemplateSyntaxError, meta, nodes
from jinja2.bccache import BytecodeCache
from jinja2.runtime import Context

from outreach.errors import OutreachError, Problem, ProblemsError
from outreach.rendering.analysis import Personalization, analyse, rewrite
from outreach.rendering.environment import template_environment
from outreach.rendering.fingerprint import environment_key
from outreach.rendering.safety import nesting_problem, unsafe_reads
from outreach.rendering.slots import SlotReader

Blocks = dict[str, list[Callable[[Context], Iterator[str]]]]
CacheFor = Callable[[str], BytecodeCache | None]
"""An environment's key (`fingerprint.environment_key`) → a bytecode cache for it, or None."""

_FILE_NAME = re.compile(r"(?P<template>[^._/][^./]*)\.(?P<language>[A-Za-z]{2,3}([-_]\w+)?)\.j2")
_POST_CONTEXT = frozenset(
    {"campaign", "milestone", "target", "targets", "organization", "language"}
)
_SUPPORTER_KEYS = frozenset(
    {"first_name", "last_name", "name", "email", "city", "region", "language"}
)


def template_names_in(folder: Path) -> frozenset[str]:
    """Template names found as `<name>.<language>.j2` (files starting with `_` are layouts)."""
    if not folder.is_dir():
        raise OutreachError(f"{folder}: template folder not found (set OUTREACH_TEMPLATES)")
    return frozenset(
        path.name.split(".", 1)[0]
        for path in folder.glob("*.*.j2")
        if not path.name.startswith("_")
    )


@dataclass(frozen=True)
class CompiledFile:
    """One language file of a template, compiled in both environments."""

    file: str
    language: str
    plain: Template
    html: Template
    plain_blocks: Blocks
    html_blocks: Blocks
    lines: Mapping[str, int]
    post_reads: tuple[str, ...] | None
    """The supporter fields the post block reads; None when it may read more (not cached)."""
    chain: tuple[str, ...] = ()
    """The file and the layouts it extends, nearest first."""


def block_context(template: Template, blocks: Blocks, variables: dict[str, Any]) -> Context:
    """A render context whose blocks are those of `template` and of its layouts."""
    context = template.new_context(variables)
    context.blocks = blocks
    return context


class TemplateSet:
    """Every template of a folder, compiled; raises ProblemsError listing every broken file."""

    def __init__(self, templates_dir: Path, label: str, cache_for: CacheFor | None = None) -> None:
        self.label = label
        self.plain = template_environment(templates_dir, autoescape=False)
        self.html = template_environment(templates_dir, autoescape=True)
        if cache_for is not None:  # compiled code kept across processes, per environment
            for environment in (self.plain, self.html):
                environment.bytecode_cache = cache_for(environment_key(environment))
        self.filenames: dict[str, str] = {}
        """Compiled code's file name → the template file it came from (to locate errors)."""
        self._sources: dict[str, tuple[str, str, str]] = {}
        self.files = self._compile(templates_dir)
        """Template name → language → compiled file."""
        self._analysed: dict[str, tuple[Personalization, SlotReader]] = {}
        self._skeletons: dict[str, CompiledFile] = {}

    def personalization(self, compiled: CompiledFile) -> tuple[Personalization, SlotReader]:
        """How `compiled`'s email depends on the supporter, and its slots' reader (cached)."""
        if compiled.file not in self._analysed:
            # Each environment compiles from a parse of its own: compiling optimizes in place.
            personalization = analyse(self._fresh(compiled.chain))
            twin = analyse(self._fresh(compiled.chain))
            reader = SlotReader(personalization, twin, self.plain, self.html)
            self._analysed[compiled.file] = personalization, reader
        return self._analysed[compiled.file]

    def skeleton_file(self, compiled: CompiledFile) -> CompiledFile:
        """`compiled` with its value slots read from `outreach_fills` (compiled on first use)."""
        if compiled.file not in self._skeletons:
            plain, html = (
                [
                    self._from_tree(environment, name, tree)
                    for name, tree in self._rewritten(compiled)
                ]
                for environment in (self.plain, self.html)
            )
            self._skeletons[compiled.file] = replace(
                compiled,
                plain=plain[0],
                html=html[0],
                plain_blocks=_blocks(plain),
                html_blocks=_blocks(html),
                post_reads=None,
            )
        return self._skeletons[compiled.file]

    def _rewritten(self, compiled: CompiledFile) -> list[tuple[str, nodes.Template]]:
        trees = self._fresh(compiled.chain)
        rewrite(trees)
        return list(trees.items())

    def _fresh(self, chain: Sequence[str]) -> dict[str, nodes.Template]:
        """The files of `chain` parsed anew (analysis and rewriting keep node identities)."""
        return {name: self.plain.parse(*self._sources[name]) for name in chain}

    def _from_tree(self, environment: Environment, name: str, tree: nodes.Template) -> Template:
        tree.set_environment(environment)
        code = environment.compile(tree, name, f"{self._sources[name][2]}#shared")
        return environment.template_class.from_code(
            environment, code, environment.make_globals(None)
        )

    def _compile(self, templates_dir: Path) -> dict[str, dict[str, CompiledFile]]:
        """Compile every file of `templates_dir`."""
        if not templates_dir.is_dir():
            raise OutreachError(f"{self.label}: template folder not found")
        problems: list[Problem] = []
        trees: dict[str, nodes.Template] = {}
        paths = sorted(templates_dir.rglob("*.j2"))
        for path in paths:
            name = path.relative_to(templates_dir).as_posix()
            try:
                source = path.read_text(encoding="utf-8")
                if (deep := nesting_problem(self.plain, source)) is not None:
                    problems.append(Problem(f"{self.label}/{name}", *deep))
                    continue
                self._sources[name] = (source, name, str(path))
                trees[name] = self.plain.parse(source, name, str(path))
                unsafe = unsafe_reads(trees[name])
                problems += [Problem(f"{self.label}/{name}", *found) for found in unsafe]
                for environment in (self.plain, self.html):
                    self.filenames[str(environment.get_template(name).filename)] = name
            except TemplateSyntaxError as exc:
                problems.append(Problem(f"{self.label}/{name}", exc.lineno, exc.message or ""))
            except (RecursionError, SyntaxError, MemoryError):
                problems.append(Problem(f"{self.label}/{name}", 1, "too deeply nested to compile"))
            except UnicodeDecodeError:
                problems.append(Problem(f"{self.label}/{name}", 1, "not UTF-8 text"))
        names = {path.relative_to(templates_dir).as_posix() for path in paths}
        parents = self._parents(trees, names, problems)
        templates: dict[str, dict[str, CompiledFile]] = {}
        for name in trees:
            if name.startswith("_") or "/" in name:
                continue
            match = _FILE_NAME.fullmatch(name)
            chain = self._chain(name, parents, problems)
            if match is None:
                message = (
                    "name templates NAME.LANGUAGE.j2 (like letter-reminder.en.j2), layouts _NAME"
                )
                problems.append(Problem(f"{self.label}/{name}", 1, message))
            elif chain:
                compiled = self._compiled(name, match["language"], chain, trees)
                templates.setdefault(match["template"], {})[match["language"]] = compiled
        if problems:
            raise ProblemsError(problems)
        return templates

    def _parents(
        self, trees: Mapping[str, nodes.Template], names: set[str], problems: list[Problem]
    ) -> dict[str, str]:
        """The layout each file extends, for those that extend one (among `names`)."""
        parents = {}
        for name, tree in trees.items():
            extends = list(tree.find_all(nodes.Extends))
            if not extends:
                continue
            node = extends[0]
            parent = node.template.value if isinstance(node.template, nodes.Const) else None
            if len(extends) > 1 or node not in tree.body or not isinstance(parent, str):
                message = 'extend one layout, once, at the top level: {% extends "_layout.j2" %}'
                problems.append(Problem(f"{self.label}/{name}", node.lineno, message))
            elif parent not in names:
                message = f"extends '{parent}', which is not in {self.label}"
                problems.append(Problem(f"{self.label}/{name}", node.lineno, message))
            elif parent in trees:  # else the layout's own problem is reported
                parents[name] = parent
        return parents

    def _chain(self, name: str, parents: Mapping[str, str], problems: list[Problem]) -> list[str]:
        """`name` and the layouts it extends, nearest first; [] if they extend each other."""
        chain = [name]
        while (parent := parents.get(chain[-1])) is not None:
            if parent in chain:
                loop = " → ".join([*chain, parent])
                problems.append(
                    Problem(f"{self.label}/{name}", 1, f"layouts extend in a loop: {loop}")
                )
                return []
            chain.append(parent)
        return chain

    def _compiled(
        self, name: str, language: str, chain: list[str], trees: Mapping[str, nodes.Template]
    ) -> CompiledFile:
        """The compiled form of template file `name`, extending the layouts in `chain`."""
        plain = [self.plain.get_template(file) for file in chain]
        html = [self.html.get_template(file) for file in chain]
        lines = {block.name: block.lineno for block in trees[name].find_all(nodes.Block)}
        post_reads = _supporter_reads(self.plain, [trees[file] for file in chain], "post")
        return CompiledFile(
            name,
            language,
            plain[0],
            html[0],
            _blocks(plain),
            _blocks(html),
            lines,
            post_reads,
            tuple(chain),
        )


def _blocks(chain: Sequence[Template]) -> Blocks:
    """Every block of a template and its layouts, the template's own first (as `extends` does)."""
    blocks: Blocks = {}
    for template in chain:
        for name, function in template.blocks.items():
            blocks.setdefault(name, []).append(function)
    return blocks


def _supporter_reads(
    environment: Environment, trees: Sequence[nodes.Template], block: str
) -> tuple[str, ...] | None:
    """The supporter fields `block` reads, or None when it may read anything else of them."""
    node = next((b for tree in trees for b in tree.find_all(nodes.Block) if b.name == block), None)
    if node is None:
        return ()
    opaque = (nodes.Call, nodes.Include, nodes.Import, nodes.FromImport, nodes.Block)
    if any(True for _ in node.find_all(opaque)):
        return None
    body = nodes.Template(node.body, lineno=node.lineno)
    body.set_environment(environment)
    if not meta.find_undeclared_variables(body) <= _POST_CONTEXT | {"supporter"}:
        return None
    uses = [n for n in node.find_all(nodes.Name) if n.name == "supporter" and n.ctx == "load"]
    reads = [
        n.attr
        for n in node.find_all(nodes.Getattr)
        if isinstance(n.node, nodes.Name) and n.node.name == "supporter"
    ]
    if len(reads) != len(uses) or not set(reads) <= _SUPPORTER_KEYS:
        return None
    return tuple(sorted(set(reads)))
