"""``flask users create``, ``flask users set-password`` and ``flask tokens create``."""

from __future__ import annotations

import secrets
import sys

import click

from funrun.accounts.models import Role
from funrun.accounts.services import AccountError, create_api_token, create_user, find_user

users_cli = click.Group("users", help="Manage staff and partner accounts.")
tokens_cli = click.Group("tokens", help="Manage API tokens.")


@users_cli.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--event", "events", multiple=True, help="Event slug (volunteers); repeatable.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(
    email: str, role: str, events: tuple[str, ...], password_stdin: bool
) -> None:
    """Create an account; prints a generated password unless one is given on stdin."""
    generated = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif role == Role.PARTNER:
        password = None  # API tokens only, until given a password (its pages: /partner/)
    else:
        password = generated = secrets.token_urlsafe(12)
    try:
        user = create_user(email, role, password=password, event_slugs=events)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {user.role} {user.email}")
    if generated:
        click.echo(f"password: {generated}")


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def set_password_command(email: str, password_stdin: bool) -> None:
    """Set a new password (printed unless given on stdin); every session of the account ends."""
    from funrun.accounts.admin_services import set_password

    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no account for {email}")
    generated = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = generated = secrets.token_urlsafe(12)
    try:
        ended = set_password(user, password)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"password changed for {user.email}; {ended} sessions ended")
    if generated:
        click.echo(f"password: {generated}")


@tokens_cli.command("create")
@click.argument("email")
def create_token_command(email: str) -> None:
    """Print a new API token for the account, alone on one line."""
    user = find_user(email)
    if user is None:
        raise click.ClickException(f"no account for {email}")
    if not user.active:
        raise click.ClickException(f"the account {email} is deactivated")
    click.echo(create_api_token(user))
