"""Running the gateway: database, workers, the queue, the web app, maintenance, the audit log."""
from __future__ import annotations

import logging
import signal
import sys

import click
from waitress import serve as serve_wsgi

from gateway.cli.common import load_settings, session as session_of
from gateway.core.db import upgrade
from gateway.services.demo import seed_content, seed_if_empty
from moderation.audit import verify
from workers import queues
from workers.embedded import serve as serve_queue
from workers.purge import purge_originals
from workers.supervisor import EmbeddedQueue, Process, Supervisor

log = logging.getLogger(__name__)


@click.group()
def db():
    """The database."""


@db.command("upgrade")
def db_upgrade():
    """Apply every migration."""
    s = load_settings()
    upgrade(s.database_url)
    click.echo("database is up to date")


@click.group()
def audit():
    """The audit log."""


@audit.command("verify")
def audit_verify():
    """Check that no entry was edited, inserted or deleted."""
    s = load_settings()
    with session_of(s) as session:
        result = verify(session)
    if not result.ok:
        click.echo(f"audit log BROKEN: {result.problem}", err=True)
        sys.exit(1)
    click.echo(f"audit log intact: {result.entries} entries")


@click.command()
@click.option("--wait", default=120, show_default=True, help="seconds to wait while another reconciler runs")
def reconcile(wait):
    """Re-enqueue work whose job was lost, and expire old approvals (one reconciler at a time)."""
    from workers import reconcile as reconciler  # late: it loads dlib (seconds), which other commands need not wait for

    s = load_settings()
    try:
        click.echo(str(reconciler.reconcile(s, wait=wait)))
    except reconciler.Busy:
        raise click.ClickException(f"another reconciler (a worker's maintenance round) is still running after "
                                   f"{wait} s; nothing was done. Try again shortly.") from None


@click.command()
def purge():
    """Delete the originals of posts finished longer ago than RETENTION_DAYS."""
    s = load_settings()
    purged = purge_originals(s)
    click.echo(f"originals deleted for {len(purged)} post(s)")


@click.command()
@click.option("--burst", is_flag=True, help="stop when the queues are empty")
@click.option("--queues", "names", default=",".join(queues.ALL), show_default=True,
              help="the queues to take, in order; 'takedowns' alone keeps a worker free for takedowns")
def worker(burst, names):
    """Run a worker (with the scheduler and the reconciler); it waits for the queue if it is down."""
    from workers.worker import run  # late: it loads dlib and OpenCV (seconds), which other commands need not wait for

    chosen = [n.strip() for n in names.split(",") if n.strip()]
    unknown = sorted(set(chosen) - set(queues.ALL))
    if unknown or not chosen:
        raise click.BadParameter(f"choose from {', '.join(queues.ALL)}", param_hint="--queues")
    s = load_settings()
    run(s, [n for n in queues.ALL if n in chosen], burst=burst)


@click.command("queue-server")
def queue_server():
    """Run the embedded queue in the foreground (only when REDIS_URL is not set)."""
    s = load_settings()
    if s.redis_url:
        raise click.ClickException("REDIS_URL is set; the embedded queue is not used")
    serve_queue(s.queue_dir)


@click.command()
def web():
    """Serve the web app (waitress)."""
    s = load_settings()
    _serve(s)


def _serve(s):
    from gateway.web.app import create_app  # late: the app loads Flask and dlib, which other commands need not wait for

    serve_wsgi(create_app(s), host=s.host, port=s.port, **waitress_options(s))


def waitress_options(s) -> dict:
    """How the gateway's web server runs. Waitress drops X-Forwarded-* headers unless told otherwise; with
    PROXIES set they reach the app, whose ProxyFix trusts exactly that many (any WSGI server works the same)."""
    return dict(threads=8, max_request_body_size=200 * 1024 * 1024, clear_untrusted_proxy_headers=not s.proxies)


def _demo_content(s) -> None:
    """The demo school's pupils and sample post; on a failure the gateway runs on without them (passwords are out)."""
    try:
        with session_of(s) as session:
            content = seed_content(session, s)
    except Exception as exc:  # the demo is an extra: nothing of a real school depends on it
        log.warning("the demo pupils and sample post were not created", exc_info=True)
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        click.echo(f"The demo pupils and sample post could not be created ({reason}); the gateway runs without them.")
        return
    if content is None:
        return
    click.echo(f"Demo pupils and staff in the consent registry: {', '.join(content.people)} "
               f"({content.enrolled} enrolled from the photos in gateway/demo).")
    checks = "the workers are checking it now" if content.queued else "its checks start once the queue answers"
    click.echo(f"Tara Teacher's sample post {content.post_id} was submitted; {checks}. "
               "Log in as smt or head to review it.")


@click.command()
def run():
    """Migrate, create a demo school if empty, then keep the queue and two workers running and serve the app."""
    s = load_settings()
    upgrade(s.database_url)
    with session_of(s) as session:
        created = seed_if_empty(session, s)
    if created:
        click.echo("\nA demo school was created. These passwords are shown only once:")
        for email, role, password in created:
            click.echo(f"  {role:16} {email:24} {password}")
        click.echo("head, smt and office set up an authenticator app (a second factor) when they first log in.")
    gateway = [sys.executable, "-m", "gateway"]
    units = [] if s.redis_url else [EmbeddedQueue(s.queue_dir)]
    units += [Process("worker", [*gateway, "worker"]),
              # a takedown never waits behind a long check: this worker takes nothing else
              Process("takedown worker", [*gateway, "worker", "--queues", "takedowns"])]
    supervisor = Supervisor(units, status_conn=lambda: queues.connection(s))
    supervisor.start()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        if created:  # once the queue and the workers run, so that they check the sample post at once
            _demo_content(s)
        click.echo(f"\nThe gateway is running: open http://{s.host}:{s.port}/ and log in. Ctrl-C stops it.\n")
        _serve(s)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):  # a second Ctrl-C must not cut the shutdown short
            signal.signal(sig, signal.SIG_IGN)
        supervisor.stop(timeout=30)
