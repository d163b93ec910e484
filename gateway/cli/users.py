"""People who log in."""
from __future__ import annotations

import sys

import click

from gateway.cli.common import load_settings, refusals, session as session_of
from gateway.models import ROLES
from gateway.services import sign_in, users as service
from gateway.users import find


@click.group()
def users():
    """People who log in."""


@users.command("add")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
def users_add(email, name, role):
    """Add a user; the password is read from standard input, or else they are e-mailed a link to choose one."""
    s = load_settings()
    given = "" if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    with session_of(s) as session:
        with refusals():
            service.add_user(session, s, email, name, role, "command line", password=given)
    click.echo(f"added {email} ({role})" + ("" if given else "; a link to choose a password is being e-mailed"))


@users.command("list")
def users_list():
    """Every user, their role, and whether they can log in."""
    s = load_settings()
    with session_of(s) as session:
        for u in service.all_users(session):
            click.echo(f"{u.email}\t{u.name}\t{u.role}\t{'active' if u.active else 'disabled'}")


@users.command("reset-second-factor")
@click.argument("email")
def users_reset_second_factor(email):
    """Clear a lost authenticator app (for a head with no other head to do it); they set up a new one at log-in."""
    s = load_settings()
    with session_of(s) as session:
        user = find(session, email)
        if user is None:
            raise click.ClickException(f"there is no user {email}")
        sign_in.reset_second_factor(session, user, by="command line")
    click.echo(f"{email}'s second factor is reset; they set up their authenticator app again at their next log-in")
