"""`outreach users`: accounts for the organizer console."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from outreach.app import App
from outreach.cli.context import pass_app
from outreach.errors import OutreachError
from outreach.store import accounts

ROLE = click.Choice(accounts.ROLES)


@click.group()
def users() -> None:
    """Add, list, remove console accounts and change their roles."""


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise OutreachError("no password on standard input")
        return password
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@users.command("add")
@click.argument("email")
@click.option("--role", type=ROLE, required=True, help="viewer, organizer or admin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_app
def add_command(app: App, email: str, role: str, password_stdin: bool) -> None:
    """An account for the console (the password is asked for twice)."""
    now = datetime.now(UTC)
    user = accounts.add_user(app.engine, email, _password(password_stdin), role, now)
    accounts.record(app.engine, "cli", "account-add", f"{user.email} as {role}", now)
    click.echo(f"{user.email}: {role} account added")


@users.command("list")
@pass_app
def list_command(app: App) -> None:
    """Every account and its role."""
    found = accounts.list_users(app.engine)
    if not found:
        click.echo("No accounts yet: add one with `outreach users add EMAIL --role admin`.")
    for user in found:
        click.echo(f"{user.email}  {user.role}  since {user.created_at:%Y-%m-%d}")


@users.command("remove")
@click.argument("email")
@pass_app
def remove_command(app: App, email: str) -> None:
    """Delete an account; its sessions end at once."""
    if not accounts.remove_user(app.engine, email):
        raise OutreachError(f"no account for {email}")
    accounts.record(app.engine, "cli", "account-remove", email, datetime.now(UTC))
    click.echo(f"{email}: account removed")


@users.command("set-role")
@click.argument("email")
@click.argument("role", type=ROLE)
@pass_app
def set_role_command(app: App, email: str, role: str) -> None:
    """Change an account's role; its sessions end at once."""
    if not accounts.set_role(app.engine, email, role):
        raise OutreachError(f"no account for {email}")
    accounts.record(app.engine, "cli", "account-role", f"{email} to {role}", datetime.now(UTC))
    click.echo(f"{email}: now {role}")
