"""Compiled templates kept on disk (OUTREACH_CACHE), so that each process need not compile them.

Jinja's `FileSystemBytecodeCache` in one folder per environment (`cache_for(key)`, the key
from `outreach.rendering.fingerprint`): plain and HTML code never meet, nor code of another
release of Jinja, Python or outreach. Jinja checks each entry against its template's source.

The folder holds code that is run: it is created owner-only (0700) and refused when someone
else owns it or may write to it. A folder that cannot be used is not fatal: templates are
compiled as without a cache, and one line is logged.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable
from pathlib import Path

from jinja2.bccache import Bucket, BytecodeCache, FileSystemBytecodeCache

log = logging.getLogger("outreach.template_cache")

CacheFor = Callable[[str], BytecodeCache | None]
"""An environment's key → its bytecode cache, or None to compile without one."""


class _Warning:
    """Logs the first trouble with the cache folder, and only that."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.given = False

    def __call__(self, exc: OSError) -> None:
        if not self.given:
            self.given = True
            reason = exc.strerror or str(exc)
            log.warning(
                "template cache %s not used (%s): templates are compiled in each process; "
                "set OUTREACH_CACHE to a folder outreach may write",
                self.folder,
                reason,
            )


class _TolerantCache(FileSystemBytecodeCache):
    """Jinja's file cache, for which an entry it cannot read or write is a miss."""

    def __init__(self, directory: Path, warn: _Warning) -> None:
        super().__init__(str(directory))
        self._warn = warn

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except OSError as exc:
            bucket.reset()
            self._warn(exc)

    def dump_bytecode(self, bucket: Bucket) -> None:
        try:
            super().dump_bytecode(bucket)
        except OSError as exc:
            self._warn(exc)


def bytecode_caches(folder: Path) -> CacheFor:
    """Bytecode caches in `folder` (created 0700 when missing), one subfolder per key."""
    warn = _Warning(folder)

    def cache_for(key: str) -> BytecodeCache | None:
        directory = folder / key
        try:
            for path in (folder, directory):
                path.mkdir(mode=0o700, parents=True, exist_ok=True)
                _check_private(path)
        except OSError as exc:
            warn(exc)
            return None
        return _TolerantCache(directory, warn)

    return cache_for


def _check_private(path: Path) -> None:
    """Raise PermissionError unless `path` is a folder of ours that no one else may write."""
    info = path.stat()
    if not stat.S_ISDIR(info.st_mode):
        raise NotADirectoryError(f"{path} is not a folder")
    if info.st_uid != os.geteuid():
        raise PermissionError(f"{path} belongs to another user")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise PermissionError(f"others may write to {path}")
