"""People who log in."""
from __future__ import annotations

import sys

import click
from sqlalchemy import select

from gateway.cli.common import load_settings, refusals, session as session_of


@click.group()
def users():
    """People who log in."""


@users.command("add")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["teacher", "smt", "head", "consent_officer"]))
def users_add(email, name, role):
    """Add a user; the password is read from standard input, or generated and printed when none is given."""
    from gateway.users import create_user, generate_password

    s = load_settings()
    given = "" if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    password = given or generate_password()
    with session_of(s) as session:
        with refusals():
            create_user(session, email, name, role, password, by="command line")
        session.commit()
    click.echo(f"added {email} ({role})" + ("" if given else f"; password: {password}"))


@users.command("list")
def users_list():
    from gateway.models import User

    s = load_settings()
    with session_of(s) as session:
        for u in session.scalars(select(User).order_by(User.email)):
            click.echo(f"{u.email}\t{u.name}\t{u.role}\t{'active' if u.active else 'disabled'}")
