"""`outreach db`: the schema's migrations (Alembic)."""

from __future__ import annotations

import click
from sqlalchemy.exc import OperationalError

from outreach.app import App
from outreach.cli.context import pass_app
from outreach.errors import OutreachError
from outreach.store import versions
from outreach.store.db import connect


@click.group()
def db() -> None:
    """Apply and show schema migrations."""


@db.command()
@pass_app
def upgrade(app: App) -> None:
    """Bring the database's schema to this version's (stop every worker first)."""
    engine = connect(app.settings.database_url)
    try:
        before, after = versions.upgrade(engine)
    except OperationalError as exc:
        raise OutreachError(f"cannot upgrade the database: {exc.orig}") from None
    if before == after:
        click.echo(f"The database is at revision {after} (head): nothing to do.")
    else:
        click.echo(f"Upgraded the database from {_label(before)} to revision {after} (head).")


@db.command()
@pass_app
def current(app: App) -> None:
    """Show the database's schema revision."""
    engine = connect(app.settings.database_url)
    try:
        with engine.connect() as conn:
            revision = versions.current_revision(conn)
    except OperationalError as exc:
        raise OutreachError(f"cannot open the database: {exc.orig}") from None
    if revision == versions.HEAD:
        click.echo(f"{revision} (head)")
    elif revision is None:
        click.echo(f"none (empty database: made at {versions.HEAD} on first use)")
    else:
        click.echo(f"{_label(revision)} (head is {versions.HEAD}: {versions.UPGRADE_HINT})")


def _label(revision: str | None) -> str:
    if revision is None:
        return "an empty database"
    if revision == versions.LEGACY:
        return "release 0.1.0 (before migrations)"
    return f"revision {revision}"
