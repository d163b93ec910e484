"""The school's official accounts."""
from __future__ import annotations


import click
from sqlalchemy import select

from gateway.cli.common import load_settings, refusals, session as session_of


@click.group()
def accounts():
    """The school's official accounts."""


@accounts.command("add")
@click.option("--platform", required=True, type=click.Choice(["archive"]))
@click.option("--handle", required=True)
@click.option("--url", required=True)
def accounts_add(platform, handle, url):
    """Register an account; it is usable once the head confirms it."""
    from gateway.services.accounts import add_account

    s = load_settings()
    with session_of(s) as session:
        with refusals():
            account = add_account(session, platform, handle, url, by="command line")
        session.commit()
        click.echo(f"added account {account.id}: {account.label}; a headteacher must confirm it "
                   f"(`gateway accounts confirm {account.id} --by EMAIL` or the admin page)")


@accounts.command("confirm")
@click.argument("account_id", type=int)
@click.option("--by", "head_email", required=True, help="the headteacher confirming it")
def accounts_confirm(account_id, head_email):
    from gateway.services.accounts import confirm_account
    from gateway.models import Account, User

    s = load_settings()
    with session_of(s) as session:
        account = session.get(Account, account_id)
        head = session.scalar(select(User).where(User.email == head_email.strip().lower()))
        if account is None or head is None:
            raise click.ClickException("no such account" if account is None else f"no user {head_email}")
        with refusals():
            confirm_account(session, account, head)
        session.commit()
        click.echo(f"{account.label} confirmed by {head.name}")


@accounts.command("list")
def accounts_list():
    from gateway.models import Account

    s = load_settings()
    with session_of(s) as session:
        for a in session.scalars(select(Account).order_by(Account.id)):
            state = f"confirmed by {a.confirmed_by.name} {a.confirmed_at:%Y-%m-%d}" if a.confirmed else "not confirmed"
            click.echo(f"{a.id}\t{a.platform}\t{a.handle}\t{a.url}\t{state}")
