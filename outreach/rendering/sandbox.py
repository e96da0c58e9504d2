"""Jinja's sandbox, with a budget: templates are campaign content, not code.

Templates render in `ImmutableSandboxedEnvironment` (no Python internals, no mutation of the
values they are given) and within a budget per render: a number of steps (calls, attribute
reads, loop turns, pieces of output), a wall-clock deadline as a backstop, and a size for any
string the template builds. A render past its budget raises `BudgetError`, located like any
other rendering error at the template line it was on.
"""

from __future__ import annotations

import functools
import math
import operator
import threading
import time
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_STEPS = 1_000_000
"""Steps one render may take (the demo's emails take a few hundred)."""

MAX_SECONDS = 2.0
"""Wall-clock backstop for one render, checked every few steps."""

MAX_SIZE = 1_000_000
"""Characters any string, list or output a template builds may hold."""

MAX_RANGE = 100_000
"""Numbers one `range()` may give."""

_MAX_POWER_BITS = 4096


class BudgetError(SecurityError):
    """A render went past its budget of steps, time or size."""


class Budget:
    """The steps and time left to one render."""

    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + MAX_SECONDS

    def step(self, count: int = 1) -> None:
        """Spend `count` steps; BudgetError when the render is over budget."""
        self.steps += count
        if self.steps > MAX_STEPS:
            raise BudgetError(
                f"the template takes too long to render (over {MAX_STEPS:,} steps): "
                "is a loop too long?"
            )
        if self.steps % 1024 < count and time.monotonic() > self.deadline:
            raise BudgetError(
                f"the template takes too long to render (over {MAX_SECONDS:g} s): "
                "is a loop too long?"
            )


_local = threading.local()


def _budget() -> Budget | None:
    """The budget of the render in progress on this thread, if any."""
    return getattr(_local, "budget", None)


def _step(count: int = 1) -> None:
    """Spend steps of the render in progress (none outside a render)."""
    budget = _budget()
    if budget is not None:
        budget.step(count)


def check_size(value: Any) -> Any:
    """`value`, unless it is a string or collection over `MAX_SIZE`."""
    if isinstance(value, str | bytes | list | tuple | dict) and len(value) > MAX_SIZE:
        raise BudgetError(
            f"the template builds a value of {len(value):,} characters or items "
            f"(limit {MAX_SIZE:,})"
        )
    return value


def budgeted_concat(parts: Iterable[str]) -> str:
    """Join a render's output, spending a step per piece; starts a budget if none runs."""
    outer = _budget() is None
    if outer:
        _local.budget = Budget()
    try:
        budget = _budget()
        assert budget is not None
        pieces, size = [], 0
        for part in parts:
            size += len(part)
            try:
                budget.step()
                if size > MAX_SIZE:
                    raise BudgetError(f"the template's output is over {MAX_SIZE:,} characters")
            except BudgetError as exc:
                if isinstance(parts, Generator):  # raised at the template's line
                    parts.throw(exc)
                raise
            pieces.append(part)
        return "".join(pieces)
    finally:
        if outer:
            _local.budget = None


class BoundedRange:
    """`range()` for templates: at most `MAX_RANGE` numbers, each a step of the budget."""

    def __init__(self, *args: int) -> None:
        self._range = range(*args)
        if len(self._range) > MAX_RANGE:
            raise BudgetError(
                f"range() of {len(self._range):,} numbers is too long (limit {MAX_RANGE:,})"
            )

    def __iter__(self) -> Iterator[int]:
        for number in self._range:
            _step()
            yield number

    def __len__(self) -> int:
        return len(self._range)

    def __contains__(self, number: object) -> bool:
        return number in self._range

    def __reversed__(self) -> Iterator[int]:
        return iter(BoundedRange(self._range.stop - 1, self._range.start - 1, -self._range.step))


def _power(base: Any, exponent: Any) -> Any:
    """`base ** exponent`, refused when the result would be huge."""
    integers = isinstance(base, int) and isinstance(exponent, int)
    if integers and abs(base) > 1 and exponent * math.log2(abs(base)) > _MAX_POWER_BITS:
        raise BudgetError(f"{base} ** {exponent} is too large a number for a template")
    return operator.pow(base, exponent)


def _times(left: Any, right: Any) -> Any:
    """`left * right`, refused when it would repeat a string or list past `MAX_SIZE`."""
    for seq, count in ((left, right), (right, left)):
        repeats = isinstance(seq, str | bytes | list | tuple) and isinstance(count, int)
        if repeats and len(seq) * count > MAX_SIZE:
            raise BudgetError(
                f"repeating {len(seq):,} characters {count:,} times is over the limit "
                f"of {MAX_SIZE:,}"
            )
    return operator.mul(left, right)


_BINOPS: dict[str, Callable[[Any, Any], Any]] = {"*": _times, "**": _power}


def _budgeted_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that spends a step and may not build a value past `MAX_SIZE`."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _step()
        return check_size(function(*args, **kwargs))

    return wrapper


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, each render within a budget of steps, time and size."""

    intercepted_binops = frozenset(_BINOPS)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.concat = budgeted_concat  # type: ignore[method-assign]
        self.globals["range"] = BoundedRange
        self.filters = {name: _budgeted_filter(f) for name, f in self.filters.items()}

    def add_filter(self, name: str, function: Callable[..., Any]) -> None:
        """Offer `function` as filter `name`, within the budget."""
        self.filters[name] = _budgeted_filter(function)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """`*` and `**`, bounded; the others as usual."""
        _step()
        if operator in _BINOPS:
            return _BINOPS[operator](left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        """A call from a template: a step, and a result within `MAX_SIZE`."""
        _step()
        return check_size(super().call(__context, __obj, *args, **kwargs))

    def getattr(self, obj: Any, attribute: str) -> Any:
        """An attribute read: a step."""
        _step()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        """An item read: a step."""
        _step()
        return super().getitem(obj, argument)
