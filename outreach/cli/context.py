"""What every command shares: the app it runs on, and the `--now` option's help."""

from __future__ import annotations

import click

from outreach.app import App

pass_app = click.make_pass_decorator(App)
"""Hands a command the `App` the root group built from the settings."""

NOW_HELP = "Pretend it is this time (ISO 8601; a naive time is in the schedule's time zone)."
