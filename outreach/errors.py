"""Errors a user can act on, and the problems found in their files."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class OutreachError(Exception):
    """A user error: bad input or configuration. Shown as one line, exit status 1."""


class DeliveryError(Exception):
    """Delivery trouble that needs attention (provider refused us, credentials). Exit 2."""


@dataclass(frozen=True)
class Problem:
    """One problem in a user's file, reported as `path:line: message`."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


class ProblemsError(OutreachError):
    """Several problems in the user's files, all reported at once."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.path, p.line, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))
