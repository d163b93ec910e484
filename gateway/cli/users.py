"""People who log in."""
from __future__ import annotations

import sys

import click

from gateway.cli.common import load_settings, refusals, session as session_of
from gateway.models import ROLES
from gateway.services import users as service


@click.group()
def users():
    """People who log in."""


@users.command("add")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(ROLES))
def users_add(email, name, role):
    """Add a user; the password is read from standard input, or generated and printed when none is given."""
    s = load_settings()
    given = "" if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    with session_of(s) as session:
        with refusals():
            _user, password = service.add_user(session, s, email, name, role, "command line", password=given)
    click.echo(f"added {email} ({role})" + ("" if given else f"; password: {password}"))


@users.command("list")
def users_list():
    """Every user, their role, and whether they can log in."""
    s = load_settings()
    with session_of(s) as session:
        for u in service.all_users(session):
            click.echo(f"{u.email}\t{u.name}\t{u.role}\t{'active' if u.active else 'disabled'}")
