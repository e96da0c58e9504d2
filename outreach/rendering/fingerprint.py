"""What compiled template code depends on, as a name for its bytecode cache.

Jinja keys a cached template by its name and the checksum of its source. The code compiled
from that source also depends on the environment: autoescaping, the sandbox's intercepted
operators, whether each filter takes the context, the code generator, Jinja's and Python's
versions. `environment_key` names all of that, so that entries compiled by different
environments (plain and HTML, another release, an edited sandbox) never meet.
"""

from __future__ import annotations

import hashlib
import sys
from types import CodeType, ModuleType
from typing import Any

import jinja2
from jinja2 import Environment

import outreach
from outreach.rendering import environment as environment_module
from outreach.rendering import sandbox

_OPTIONS = (
    "block_start_string",
    "block_end_string",
    "variable_start_string",
    "variable_end_string",
    "comment_start_string",
    "comment_end_string",
    "line_statement_prefix",
    "line_comment_prefix",
    "trim_blocks",
    "lstrip_blocks",
    "newline_sequence",
    "keep_trailing_newline",
    "optimized",
    "is_async",
    "sandboxed",
    "intercepted_binops",
    "intercepted_unops",
    "autoescape",
)


def environment_key(environment: Environment) -> str:
    """`plain-<hash>` or `html-<hash>`: a folder name for `environment`'s compiled templates."""
    digest = hashlib.sha256()
    parts: tuple[object, ...] = (outreach.__version__, jinja2.__version__, sys.version)
    for part in (*parts, type(environment)):
        digest.update(repr(part).encode())
    for option in _OPTIONS:
        digest.update(f"{option}={_stable(getattr(environment, option, None))}".encode())
    for kind, functions in (("filter", environment.filters), ("test", environment.tests)):
        for name in sorted(functions):
            digest.update(f"{kind}:{name}:{_pass_arg(functions[name])}".encode())
    classes: tuple[object, ...] = (environment.undefined, environment.code_generator_class)
    for named in (*classes, environment.finalize):
        digest.update(repr(getattr(named, "__qualname__", named)).encode())
    for module in (sandbox, environment_module):
        _module_code(digest, module)
    kind = "html" if environment.autoescape else "plain"
    return f"{kind}-{digest.hexdigest()[:20]}"


def _pass_arg(function: Any) -> str:
    """Which context a filter or test asks for (the compiler passes it in the code)."""
    return str(getattr(function, "jinja_pass_arg", ""))


def _stable(value: Any) -> str:
    """`repr(value)`, with sets in sorted order (their order varies with hash seeds)."""
    if isinstance(value, frozenset | set):
        return "{" + ", ".join(sorted(map(_stable, value))) + "}"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_stable, value)) + ")"
    return repr(value)


def _module_code(digest: Any, module: ModuleType) -> None:
    """Add the code of every function and method `module` defines (its behaviour) to `digest`."""
    for name in sorted(vars(module)):
        value = vars(module)[name]
        if getattr(value, "__module__", None) != module.__name__:
            continue
        members = sorted(vars(value).items()) if isinstance(value, type) else [(name, value)]
        for member, function in members:
            code = getattr(getattr(function, "__func__", function), "__code__", None)
            if isinstance(code, CodeType):
                digest.update(f"{name}.{member}".encode())
                _code(digest, code)


def _code(digest: Any, code: CodeType) -> None:
    """Bytecode, names and constants of `code` and of the code it nests (deterministic)."""
    digest.update(code.co_code)
    digest.update(_stable((code.co_names, code.co_varnames, code.co_freevars)).encode())
    for constant in code.co_consts:
        if isinstance(constant, CodeType):
            _code(digest, constant)
        else:
            digest.update(_stable(constant).encode())
