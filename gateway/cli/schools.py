"""The schools of a trust."""
from __future__ import annotations

import click

from gateway.cli.common import load_settings, refusals, session as session_of
from gateway.services import schools as service


@click.group()
def schools():
    """The schools of a trust (one installation, each school's records kept apart)."""


@schools.command("add")
@click.argument("name")
@click.option("--domain", "domains", multiple=True, help="the school's own web domain (repeatable)")
def schools_add(name, domains):
    """Add a school; then `gateway --school ID ...` acts for it (users, accounts, people)."""
    s = load_settings()
    with session_of(s) as session:
        with refusals():
            school = service.add_school(session, name, list(domains), "command line")
    click.echo(f"added school {school.id}: {school.name}")


@schools.command("list")
def schools_list():
    s = load_settings()
    with session_of(s) as session:
        for school in service.all_schools(session):
            click.echo(f"{school.id}\t{school.name or s.school_name}\t{', '.join(school.domains)}")
