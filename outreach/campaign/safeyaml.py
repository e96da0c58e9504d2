"""A YAML loader for campaign files: no aliases, a depth limit, never a RecursionError.

Aliases (`*name`) let a 10 KB file stand for millions of nodes, and PyYAML's composer recurses
once per level of nesting: both are refused as ordinary YAML errors, with their line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent
from yaml.nodes import Node

MAX_DEPTH = 32
"""Levels of nesting a campaign file may have (the demo has 7)."""


class CampaignLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases and nesting deeper than `MAX_DEPTH`."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        """One node, refused if it is an alias or nested too deeply."""
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ComposerError(
                None,
                None,
                f"aliases (*{event.anchor}) are not allowed here: write the value out",
                event.start_mark,
            )
        if self._depth >= MAX_DEPTH:
            raise ComposerError(
                None,
                None,
                f"nested more than {MAX_DEPTH} levels deep",
                self.peek_event().start_mark,  # type: ignore[no-untyped-call]
            )
        self._depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
