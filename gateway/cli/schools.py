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


@schools.command("set")
@click.argument("school_id", type=int)
@click.option("--retention-days", type=int, help="days before finished posts' originals are deleted (0: RETENTION_DAYS)")
@click.option("--face-detector", help="retinaface, hog or centerface (\"\": FACE_DETECTOR)")
def schools_set(school_id, retention_days, face_detector):
    """Give a school its own retention or face detector, in place of the installation's."""
    s = load_settings()
    with session_of(s) as session:
        with refusals():
            school = service.change_school(session, school_id, "command line", retention_days, face_detector)
    click.echo(f"school {school.id}: retention {school.retention_days or s.retention_days} days, face detector "
               f"{school.face_detector or s.face_detector}")


@schools.command("list")
def schools_list():
    s = load_settings()
    with session_of(s) as session:
        for school in service.all_schools(session):
            click.echo(f"{school.id}\t{school.name or s.school_name}\t{', '.join(school.domains)}\t"
                       f"retention {school.retention_days or s.retention_days} days\t"
                       f"face detector {school.face_detector or s.face_detector}")
