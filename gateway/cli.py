"""The `gateway` command line."""
from __future__ import annotations

import json
from contextlib import contextmanager
import logging
import signal
import sys
from pathlib import Path

import click
from sqlalchemy import select

from gateway import settings as settings_module
from gateway.db import session_for, upgrade


def _settings():
    try:
        return settings_module.load()
    except settings_module.SettingsError as exc:
        click.echo(f"gateway: {exc}", err=True)
        sys.exit(2)


def _session(settings):
    return session_for(settings.database_url)


@contextmanager
def _refusals():
    """Our plain-words refusals (ValueErrors) become one line on standard error and exit status 1."""
    try:
        yield
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None


@click.group()
def main():
    """School social publishing gateway."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.group()
def db():
    """The database."""


@db.command("upgrade")
def db_upgrade():
    """Apply every migration."""
    s = _settings()
    upgrade(s.database_url)
    click.echo("database is up to date")


@main.group()
def users():
    """People who log in."""


@users.command("add")
@click.argument("email")
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["teacher", "smt", "head", "consent_officer"]))
def users_add(email, name, role):
    """Add a user; the password is read from standard input, or generated and printed when none is given."""
    from gateway.users import create_user, generate_password

    s = _settings()
    given = "" if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    password = given or generate_password()
    with _session(s) as session:
        with _refusals():
            create_user(session, email, name, role, password, by="command line")
        session.commit()
    click.echo(f"added {email} ({role})" + ("" if given else f"; password: {password}"))


@users.command("list")
def users_list():
    from gateway.models import User

    s = _settings()
    with _session(s) as session:
        for u in session.scalars(select(User).order_by(User.email)):
            click.echo(f"{u.email}\t{u.name}\t{u.role}\t{'active' if u.active else 'disabled'}")


@main.group()
def accounts():
    """The school's official accounts."""


@accounts.command("add")
@click.option("--platform", required=True, type=click.Choice(["archive"]))
@click.option("--handle", required=True)
@click.option("--url", required=True)
def accounts_add(platform, handle, url):
    """Register an account; it is usable once the head confirms it."""
    from gateway.accounts import add_account

    s = _settings()
    with _session(s) as session:
        with _refusals():
            account = add_account(session, platform, handle, url, by="command line")
        session.commit()
        click.echo(f"added account {account.id}: {account.label}; a headteacher must confirm it "
                   f"(`gateway accounts confirm {account.id} --by EMAIL` or the admin page)")


@accounts.command("confirm")
@click.argument("account_id", type=int)
@click.option("--by", "head_email", required=True, help="the headteacher confirming it")
def accounts_confirm(account_id, head_email):
    from gateway.accounts import confirm_account
    from gateway.models import Account, User

    s = _settings()
    with _session(s) as session:
        account = session.get(Account, account_id)
        head = session.scalar(select(User).where(User.email == head_email.strip().lower()))
        if account is None or head is None:
            raise click.ClickException("no such account" if account is None else f"no user {head_email}")
        with _refusals():
            confirm_account(session, account, head)
        session.commit()
        click.echo(f"{account.label} confirmed by {head.name}")


@accounts.command("list")
def accounts_list():
    from gateway.models import Account

    s = _settings()
    with _session(s) as session:
        for a in session.scalars(select(Account).order_by(Account.id)):
            state = f"confirmed by {a.confirmed_by.name} {a.confirmed_at:%Y-%m-%d}" if a.confirmed else "not confirmed"
            click.echo(f"{a.id}\t{a.platform}\t{a.handle}\t{a.url}\t{state}")


@main.group()
def audit():
    """The audit log."""


@audit.command("verify")
def audit_verify():
    """Check that no entry was edited, inserted or deleted."""
    from moderation.audit import verify

    s = _settings()
    with _session(s) as session:
        result = verify(session)
    if not result.ok:
        click.echo(f"audit log BROKEN: {result.problem}", err=True)
        sys.exit(1)
    click.echo(f"audit log intact: {result.entries} entries")


@main.command()
@click.option("--text", default="", help="the post text")
@click.option("--image", "images", multiple=True, type=click.Path(dir_okay=False), help="a photo; repeatable")
@click.option("--alt", "alts", multiple=True, help="alt text for the photo given before it; repeatable")
@click.option("--limit", default=280, show_default=True, help="the account's text limit")
@click.option("--out", type=click.Path(file_okay=False), help="folder for the clean renditions")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
def check(text, images, alts, limit, out, as_json):
    """Run the checks on local files, without the queue or the database. Exit 0 pass/review, 1 block."""
    from workers.checks import PhotoIn, run_checks
    from workers.photos import PhotoLimits

    if len(alts) > len(images):
        raise click.UsageError("each --alt belongs to the --image before it")
    if not text and not images:
        raise click.UsageError("give --text, --image or both")
    s = _settings()
    photos = []
    for n, path in enumerate(images):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise click.UsageError(f"cannot read {path}: {exc.strerror}")
        photos.append(PhotoIn(f"photo {n + 1} ({Path(path).name})", data, alts[n] if n < len(alts) else ""))
    from consent_registry.registry import face_context, name_matcher
    from gateway.crypto import WrongKey
    from moderation.link_rules import link_policy

    upgrade(s.database_url)
    with _session(s) as session:
        try:
            faces = face_context(session, s) if photos else None
        except WrongKey as exc:
            raise click.ClickException(f"the consent registry cannot be read: {exc}")
        names, links = name_matcher(session, s), link_policy(session, s)
    run = run_checks(text, photos, limit, PhotoLimits.from_settings(s), faces, names, links)
    result = {
        "verdict": run.verdict,
        "findings": [f.as_dict() for f in run.findings],
        "text": run.cleaned_text,
        "images": [],
        "links": run.links,
    }
    mis_ids = {}
    if faces:
        from consent_registry.models import Person

        with _session(s) as session:
            mis_ids = dict(session.execute(select(Person.id, Person.mis_id)).all())
    for n, (path, photo) in enumerate(zip(images, run.photos)):
        output = None
        if out and photo.data:
            Path(out).mkdir(parents=True, exist_ok=True)
            output = str(Path(out) / f"{Path(path).stem}.clean.{'png' if photo.format == 'PNG' else 'jpg'}")
            Path(output).write_bytes(photo.data)
        shown = [{**face, "person": mis_ids.get(face["person"])} for face in photo.faces]
        result["images"].append({"input": path, "output": output, "width": photo.width, "height": photo.height,
                                 "faces": shown, "alt": run.alts[n] if n < len(run.alts) else None})
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False))
    else:
        click.echo(f"verdict: {run.verdict}")
        for f in run.findings:
            click.echo(f"  [{f.severity}] {f.subject}: {f.message}")
        if text:
            click.echo(f"text: {run.cleaned_text}")
        for image in result["images"]:
            click.echo(f"  {image['input']} -> {image['output'] or '(not written)'} {image['width']}x{image['height']}")
    sys.exit(1 if run.verdict == "block" else 0)


@main.command()
@click.option("--wait", default=120, show_default=True, help="seconds to wait while another reconciler runs")
def reconcile(wait):
    """Re-enqueue work whose job was lost, and expire old approvals (one reconciler at a time)."""
    from workers import reconcile as reconciler

    s = _settings()
    try:
        click.echo(str(reconciler.reconcile(s, wait=wait)))
    except reconciler.Busy:
        raise click.ClickException(f"another reconciler (a worker's maintenance round) is still running after "
                                   f"{wait} s; nothing was done. Try again shortly.") from None


@main.command()
def purge():
    """Delete the originals of posts finished longer ago than RETENTION_DAYS."""
    from workers.purge import purge_originals

    s = _settings()
    purged = purge_originals(s)
    click.echo(f"originals deleted for {len(purged)} post(s)")


@main.command()
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@click.option("--queues", "names", default=",".join(("takedowns", "publish", "checks")), show_default=True,
              help="the queues to take, in order; 'takedowns' alone keeps a worker free for takedowns")
def worker(burst, names):
    """Run a worker (with the scheduler and the reconciler); it waits for the queue if it is down."""
    from workers import queues
    from workers.worker import run

    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = sorted(set(chosen) - set(queues.ALL))
    if unknown or not chosen:
        raise click.BadParameter(f"choose from {', '.join(queues.ALL)}", param_hint="--queues")
    s = _settings()
    run(s, [n for n in queues.ALL if n in chosen], burst=burst)


@main.command("queue-server")
def queue_server():
    """Run the embedded queue in the foreground (only when REDIS_URL is not set)."""
    from workers.embedded import serve

    s = _settings()
    if s.redis_url:
        raise click.ClickException("REDIS_URL is set; the embedded queue is not used")
    serve(s.queue_dir)


@main.command()
def web():
    """Serve the web app (waitress)."""
    s = _settings()
    _serve(s)


def _serve(s):
    from waitress import serve

    from gateway.web import create_app

    serve(create_app(s), host=s.host, port=s.port, threads=8, max_request_body_size=200 * 1024 * 1024)


@main.command()
def run():
    """Migrate, create a demo school if empty, then keep the queue and two workers running and serve the app."""
    from gateway.demo import seed_if_empty
    from gateway.supervisor import EmbeddedQueue, Process, Supervisor
    from workers import queues

    s = _settings()
    upgrade(s.database_url)
    with _session(s) as session:
        created = seed_if_empty(session)
    if created:
        click.echo("\nA demo school was created. These passwords are shown only once:")
        for email, role, password in created:
            click.echo(f"  {role:16} {email:24} {password}")
    gateway = [sys.executable, "-m", "gateway"]
    units = [] if s.redis_url else [EmbeddedQueue(s.queue_dir)]
    units += [Process("worker", [*gateway, "worker"]),
              # a takedown never waits behind a long check: this worker takes nothing else
              Process("takedown worker", [*gateway, "worker", "--queues", "takedowns"])]
    supervisor = Supervisor(units, status_conn=lambda: queues.connection(s))
    supervisor.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    click.echo(f"\nThe gateway is running: open http://{s.host}:{s.port}/ and log in. Ctrl-C stops it.\n")
    try:
        _serve(s)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):  # a second Ctrl-C must not cut the shutdown short
            signal.signal(sig, signal.SIG_IGN)
        supervisor.stop(timeout=30)


@main.group()
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

    s = _settings()
    upgrade(s.database_url)
    with _session(s) as session:
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

    s = _settings()
    with _session(s) as session:
        person = _person_or_fail(session, mis_id)
        with _refusals():
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

    s = _settings()
    with _session(s) as session:
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

    s = _settings()
    today = school_today(s)
    with _session(s) as session:
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


@main.group()
def links():
    """The allow and block lists for links in posts."""


def _add_link_rule(kind, host):
    from moderation.link_rules import add_rule

    s = _settings()
    upgrade(s.database_url)
    with _session(s) as session:
        with _refusals():
            rule = add_rule(session, kind, host, "command line")
        session.commit()
        click.echo(f"{rule.kind}: {rule.entry}")


@links.command("allow")
@click.argument("host")
def links_allow(host):
    """Allow a host (www.example.org) or a site with its subdomains (*.example.org)."""
    _add_link_rule("allow", host)


@links.command("block")
@click.argument("host")
def links_block(host):
    """Block a host or a site with its subdomains; the block list wins over the allow list."""
    _add_link_rule("block", host)


@links.command("list")
def links_list():
    from moderation.link_rules import rules

    s = _settings()
    with _session(s) as session:
        for rule in rules(session):
            click.echo(f"{rule.kind}\t{rule.entry}\t{rule.added_by}")
    for entry in s.school_domains:
        click.echo(f"allow\t{entry}\tSCHOOL_DOMAINS setting")
