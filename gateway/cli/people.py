"""The consent registry."""
from __future__ import annotations

from pathlib import Path

import click

from consent_registry.consent import HOW_ASKED, Asked

from gateway.cli.common import load_settings, refusals, session as session_of
from gateway.core.db import upgrade
from gateway.core.errors import Refused
from gateway.services.queueing import QUEUE_DOWN


@click.group()
def people():
    """The consent registry: people, consents and face enrolment."""


def _service():
    """The consent service, imported when a people command runs: it loads dlib (seconds), which no other
    command needs, so `gateway --help` and the rest start without it."""
    from gateway.services import consent

    return consent


def _person_or_fail(session, mis_id):
    person = _service().find(session, mis_id)
    if person is None:
        raise click.ClickException(f"no person with MIS id {mis_id}")
    return person


def _show(follow_up) -> None:
    """Say what a consent change set going."""
    if follow_up.rechecked:
        click.echo(f"posts sent back through the checks: {', '.join(map(str, follow_up.rechecked))}")
    if follow_up.takedowns:
        click.echo(f"published posts that must be taken down: {', '.join(map(str, follow_up.takedowns))}")
        if follow_up.queued:
            click.echo(f"takedowns started: {len(follow_up.started)}")
    if not follow_up.queued:
        click.echo(QUEUE_DOWN)


@people.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--dry-run", is_flag=True, help="show what would change; change nothing")
def people_import(csv_file, dry_run):
    """Import people and consents from the MIS export; a file with any bad row imports nothing."""
    consent = _service()
    s = load_settings()
    upgrade(s.database_url)
    with session_of(s) as session:
        imported = consent.import_people(session, s, csv_file.read(), "command line", dry_run=dry_run)
    if imported.plan.errors:
        for error in imported.plan.errors:
            click.echo(error, err=True)
        raise click.ClickException(f"{len(imported.plan.errors)} problem(s); nothing was imported")
    for change in imported.plan.changes:
        click.echo(change)
    if dry_run:
        click.echo(f"dry run: {len(imported.plan.changes)} change(s) would be made")
        return
    click.echo(f"imported: {len(imported.plan.changes)} change(s)")
    _show(imported.follow_up)


@people.command("enrol")
@click.argument("mis_id")
@click.argument("photos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def people_enrol(mis_id, photos):
    """Enrol 1-5 photos of a person (each with exactly one face); only the face templates are kept."""
    consent = _service()
    s = load_settings()
    with session_of(s) as session:
        person = _person_or_fail(session, mis_id)
        with refusals():
            added = consent.enrol(session, s, person, [(Path(p).name, Path(p).read_bytes()) for p in photos],
                                  "command line")
        click.echo(f"{person.display_name}: {added} template(s) added, {len(person.templates)} in all")


@people.command("withdraw")
@click.argument("mis_id")
@click.option("--consent", "kind", required=True, type=click.Choice(["social", "biometric"]))
@click.option("--asked-by", required=True, help="who asked for it to be withdrawn")
@click.option("--how", required=True, type=click.Choice(HOW_ASKED), help="how they asked")
@click.option("--on", "asked_on", type=click.DateTime(["%Y-%m-%d"]), help="the day they asked (default: today)")
def people_withdraw(mis_id, kind, asked_by, how, asked_on):
    """Withdraw a consent; biometric withdrawal deletes the face templates at once."""
    consent = _service()
    s = load_settings()
    with session_of(s) as session:
        person = _person_or_fail(session, mis_id)
        from consent_registry.registry import school_today

        asked = Asked(asked_by, how, asked_on.date() if asked_on else school_today(s))
        try:
            follow_up = consent.withdraw(session, s, person, kind, "command line", asked)
        except Refused as exc:
            raise click.UsageError(f"not withdrawn: {exc}") from None
        click.echo(f"{person.display_name}: {kind} consent withdrawn; face templates kept: {len(person.templates)}")
    _show(follow_up)


@people.command("show")
@click.argument("mis_id")
def people_show(mis_id):
    """A person, their consents with their history, and the posts they were recognised in."""
    consent = _service()
    s = load_settings()
    with session_of(s) as session:
        shown = consent.profile(session, s, _person_or_fail(session, mis_id))
        p = shown.person
        click.echo(f"{p.mis_id}  {p.display_name} ({p.first_name} {p.last_name}), {p.kind}"
                   f"{', ' + p.year_group if p.year_group else ''}{'' if p.active else ', not active'}")
        click.echo(f"social media photos: {shown.photo.reason}")
        for c in p.photo_consents:
            click.echo(f"  {c.recorded_at:%Y-%m-%d} {c.channel} {c.status} given by {c.given_by or '-'} on "
                       f"{c.given_on or '-'} expires {c.expires_on or '-'} ({c.evidence or 'no reference'}; "
                       f"recorded by {c.recorded_by})")
        click.echo(f"face recognition: {shown.biometric.reason}; templates: {len(p.templates)}")
        for c in p.biometric_consents:
            click.echo(f"  {c.recorded_at:%Y-%m-%d} {c.status} given by {c.given_by or '-'} on {c.given_on or '-'}"
                       f"{', the child objects' if c.child_objects else ''} (recorded by {c.recorded_by})")
        click.echo(f"posts featuring them: {', '.join(f'{x.id} ({x.state})' for x in shown.posts) or 'none'}")
