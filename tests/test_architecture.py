"""The code keeps its shape: the import contract, the declared dependencies, lint and types.

Each runs the tool the project configures in pyproject.toml, as CI and a developer would.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = Path(sys.executable).parent
"""Where pip put the tools' commands, beside the interpreter running the tests."""


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param((str(SCRIPTS / "lint-imports"),), id="import-contract"),
        pytest.param((sys.executable, "-m", "deptry", "."), id="declared-dependencies"),
        pytest.param((sys.executable, "-m", "ruff", "check", "outreach", "tests"), id="ruff"),
        pytest.param((sys.executable, "-m", "mypy"), id="mypy-strict"),
    ],
)
def test_the_code_keeps_its_shape(command: tuple[str, ...]) -> None:
    result = _run(*command)
    assert result.returncode == 0, result.stdout + result.stderr
