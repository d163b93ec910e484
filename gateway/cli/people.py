"""The consent registry."""
from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from gateway.core.db import upgrade
from gateway.cli.common import load_settings, refusals, session as session_of


@click.group()
def people():
    """The consent registry: people, consents and face enrolment."""


def _person_or_fail(session, mis_id):
    from consent_registry.models import Person

    person = session.scalar(select(Person).where(Person.mis_id == mis_id))
    if person is None:
        raise click.ClickException(f"no person with MIS id {mis_id}")
    return person


def _after_consent_change(s, session, consequences):
    from workers import queues

    if consequences.rechecked:
        click.echo(f"posts sent back through the checks: {', '.join(map(str, consequences.rechecked))}")
        try:
            queues.enqueue_rechecks(s, session, consequences.rechecked)
        except Exception as exc:
            click.echo(f"the queue is not answering ({type(exc).__name__}); the worker's reconciler will pick them up")
    if consequences.takedowns:
        click.echo(f"published posts that must be taken down: {', '.join(map(str, consequences.takedowns))}")
        from workers.reconcile import release_takedowns

        try:
            started = release_takedowns(s, session)
            click.echo(f"takedowns started: {len(started)}")
        except Exception as exc:
            click.echo(f"the queue is not answering ({type(exc).__name__}); the worker's reconciler will start them")


@people.command("import")
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--dry-run", is_flag=True, help="show what would change; change nothing")
def people_import(csv_file, dry_run):
    """Import people and consents from the MIS export; a file with any bad row imports nothing."""
    from consent_registry import importer
    from consent_registry.registry import school_today

    s = load_settings()
    upgrade(s.database_url)
    with session_of(s) as session:
        plan = importer.plan(session, csv_file.read())
        if plan.errors:
            for error in plan.errors:
                click.echo(error, err=True)
            raise click.ClickException(f"{len(plan.errors)} problem(s); nothing was imported")
        for change in plan.changes:
            click.echo(change)
        if dry_run:
            click.echo(f"dry run: {len(plan.changes)} change(s) would be made")
            return
        consequences = importer.apply(session, plan, "command line", school_today(s))
        session.commit()
        click.echo(f"imported: {len(plan.changes)} change(s)")
        _after_consent_change(s, session, consequences)


@people.command("enrol")
@click.argument("mis_id")
@click.argument("photos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def people_enrol(mis_id, photos):
    """Enrol 1-5 photos of a person (each with exactly one face); only the face templates are kept."""
    from consent_registry.enrolment import enrol
    from consent_registry.faces import FaceSettings
    from consent_registry.registry import school_today

    s = load_settings()
    with session_of(s) as session:
        person = _person_or_fail(session, mis_id)
        with refusals():
            added = enrol(session, person, [(Path(p).name, Path(p).read_bytes()) for p in photos], s.encryption_key,
                          FaceSettings.from_settings(s), "command line", school_today(s))
        session.commit()
        click.echo(f"{person.display_name}: {added} template(s) added, {len(person.templates)} in all")


@people.command("withdraw")
@click.argument("mis_id")
@click.option("--consent", "kind", required=True, type=click.Choice(["social", "biometric"]))
def people_withdraw(mis_id, kind):
    """Withdraw a consent; biometric withdrawal deletes the face templates at once."""
    from consent_registry.consent import withdraw
    from consent_registry.registry import school_today

    s = load_settings()
    with session_of(s) as session:
        person = _person_or_fail(session, mis_id)
        consequences = withdraw(session, person, kind, "command line", school_today(s))
        session.commit()
        click.echo(f"{person.display_name}: {kind} consent withdrawn; face templates kept: {len(person.templates)}")
        _after_consent_change(s, session, consequences)


@people.command("show")
@click.argument("mis_id")
def people_show(mis_id):
    from consent_registry.consent import biometric_status, photo_status
    from consent_registry.registry import school_today
    from consent_registry.withdrawal import posts_featuring
    from moderation.lifecycle import STATE_NAMES

    s = load_settings()
    today = school_today(s)
    with session_of(s) as session:
        p = _person_or_fail(session, mis_id)
        click.echo(f"{p.mis_id}  {p.display_name} ({p.first_name} {p.last_name}), {p.kind}"
                   f"{', ' + p.year_group if p.year_group else ''}{'' if p.active else ', not active'}")
        click.echo(f"social media photos: {photo_status(p, today).reason}")
        for c in p.photo_consents:
            click.echo(f"  {c.recorded_at:%Y-%m-%d} {c.channel} {c.status} given by {c.given_by or '-'} on "
                       f"{c.given_on or '-'} expires {c.expires_on or '-'} ({c.evidence or 'no reference'}; "
                       f"recorded by {c.recorded_by})")
        click.echo(f"face recognition: {biometric_status(p, today).reason}; templates: {len(p.templates)}")
        for c in p.biometric_consents:
            click.echo(f"  {c.recorded_at:%Y-%m-%d} {c.status} given by {c.given_by or '-'} on {c.given_on or '-'}"
                       f"{', the child objects' if c.child_objects else ''} (recorded by {c.recorded_by})")
        featured = posts_featuring(session, p, list(STATE_NAMES))
        click.echo(f"posts featuring them: {', '.join(f'{x.id} ({x.state})' for x in featured) or 'none'}")
