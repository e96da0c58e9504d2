"""Files that hold supporters' data are made readable by their owner only (0600, 0700)."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import TextIO

FILE_MODE = 0o600
FOLDER_MODE = 0o700


def private_file(path: Path) -> TextIO:
    """`path` opened for writing UTF-8 text (CSV-ready), created or truncated as 0600."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(descriptor, FILE_MODE)
    except OSError:
        os.close(descriptor)
        raise
    return open(descriptor, "w", encoding="utf-8", newline="")


def create_private(path: Path) -> None:
    """Make the file empty with mode 0600 unless it exists (SQLite then keeps its mode for
    its -wal and -shm files)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
