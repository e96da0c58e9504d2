"""The `outreach` command line: a root group whose commands are imported when first used.

Exit status: 0 success, 1 user error (one clear line, no traceback), 2 delivery trouble.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from outreach.app import App
from outreach.errors import DeliveryError, OutreachError, ProblemsError

COMMANDS = {
    "campaign": ("outreach.cli.campaign", "campaign", "Pause and resume a campaign's sending."),
    "check": ("outreach.cli.check", "check", "Validate schedules.yaml and every template."),
    "db": ("outreach.cli.db", "db", "Apply and show schema migrations."),
    "health": ("outreach.cli.health", "health", "Check the database, campaign and heartbeat."),
    "plan": ("outreach.cli.reports", "plan", "Upcoming sends: local time, UTC window, audience."),
    "preview": ("outreach.cli.preview", "preview", "A reminder as one supporter gets it."),
    "queue": ("outreach.cli.queue", "queue", "Queue, list and cancel ad-hoc reminders."),
    "run": ("outreach.cli.run", "run", "The worker; `--once` sends what is due and exits."),
    "serve": ("outreach.cli.serve", "serve", "The web app: unsubscribe, webhook, console."),
    "status": ("outreach.cli.reports", "status", "Per reminder: what was sent, and what was not."),
    "supporters": ("outreach.cli.supporters", "supporters", "Import, export, unsubscribe."),
    "users": ("outreach.cli.users", "users", "Accounts for the organizer console."),
}
"""Command name → (module, attribute, one-line help): a command's imports cost only the
commands that use them (the web stack, the transports' client libraries, the scheduler)."""


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (`--help` imports none)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        module, attribute, _help = where
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, help) for name, (_m, _a, help) in sorted(COMMANDS.items())])


@click.group(cls=LazyGroup)
@click.version_option(package_name="outreach")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Campaign outreach as code: scheduled, bilingual email reminders with suggested posts."""
    from outreach.config import Settings  # pydantic-settings: not for `--help`

    ctx.obj = App(Settings.from_env())


def main() -> None:
    """Entry point: runs the CLI and turns errors into one line and an exit status."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        sys.exit(1)
    except ProblemsError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    except OutreachError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except DeliveryError as exc:
        click.echo(f"delivery trouble: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(1)
    except Exception as exc:
        from outreach.config import DEBUG_VARIABLE

        if os.environ.get(DEBUG_VARIABLE):
            raise
        trouble = _database_trouble(exc)
        if trouble is not None:
            message, status = trouble
            click.echo(f"error: {message}", err=True)
            sys.exit(status)
        click.echo(
            f"unexpected error: {type(exc).__name__}: {exc} "
            "(set OUTREACH_DEBUG=1 to see where; please report it)",
            err=True,
        )
        sys.exit(2)


def _database_trouble(exc: Exception) -> tuple[str, int] | None:
    """A database error as one line that quotes no SQL and no supporter's data, and its exit
    status (1 for a locked database, which the organizer can retry); None for other errors."""
    if "sqlalchemy" not in sys.modules:  # imported by then if the error came from it
        return None
    from sqlalchemy.exc import DBAPIError

    from outreach.store.db import describe_error, is_locked

    if not isinstance(exc, DBAPIError):
        return None
    return describe_error(exc), 1 if is_locked(exc) else 2


if __name__ == "__main__":
    main()
