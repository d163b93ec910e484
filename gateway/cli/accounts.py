"""The school's official accounts."""
from __future__ import annotations

import sys

import click
from sqlalchemy import select

from gateway.cli.common import load_settings, refusals, session as session_of
from gateway.models import Account, User
from gateway.platforms import PLATFORMS
from gateway.platforms.base import PublishError
from gateway.services.accounts import add_account, confirm_account, save_credentials


@click.group()
def accounts():
    """The school's official accounts."""


@accounts.command("add")
@click.option("--platform", required=True, type=click.Choice(list(PLATFORMS)))
@click.option("--handle", required=True)
@click.option("--url", required=True)
def accounts_add(platform, handle, url):
    """Register an account; it is usable once the head confirms it."""
    s = load_settings()
    with session_of(s) as session:
        with refusals():
            account = add_account(session, platform, handle, url, by="command line")
        click.echo(f"added account {account.id}: {account.label}; a headteacher must confirm it "
                   f"(`gateway accounts confirm {account.id} --by EMAIL` or the admin page)")


def _account_and_head(session, account_id: int, head_email: str) -> tuple[Account, User]:
    account = session.get(Account, account_id)
    head = session.scalar(select(User).where(User.email == head_email.strip().lower()))
    if account is None or head is None:
        raise click.ClickException("no such account" if account is None else f"no user {head_email}")
    return account, head


@accounts.command("confirm")
@click.argument("account_id", type=int)
@click.option("--by", "head_email", required=True, help="the headteacher confirming it")
def accounts_confirm(account_id, head_email):
    s = load_settings()
    with session_of(s) as session:
        account, head = _account_and_head(session, account_id, head_email)
        with refusals():
            confirm_account(session, account, head)
        click.echo(f"{account.label} confirmed by {head.name}")


def _read_credentials(platform) -> dict[str, str]:
    """NAME=VALUE lines from standard input; at a terminal, each field asked for in turn, secret ones unseen."""
    if sys.stdin.isatty():
        return {f.name: click.prompt(f.label, hide_input=f.secret, default=f.default or None)
                for f in platform.credential_fields}
    names = {f.name for f in platform.credential_fields}
    values = {}
    for number, line in enumerate(sys.stdin, 1):
        name, sep, value = line.rstrip("\n").partition("=")
        if not line.strip():
            continue
        if not sep or name.strip() not in names:
            # the line may hold a secret: say where it is and what is expected, never what it says
            raise click.ClickException(f"line {number} of standard input is not NAME=VALUE with NAME one of "
                                       f"{', '.join(sorted(names))}")
        values[name.strip()] = value.strip()
    return values


@accounts.command("credentials")
@click.argument("account_id", type=int)
@click.option("--by", "head_email", required=True, help="the headteacher entering them")
def accounts_credentials(account_id, head_email):
    """Enter an account's credentials as NAME=VALUE lines on standard input (asked for one by one at a terminal);
    they are checked with the network, then stored encrypted."""
    s = load_settings()
    with session_of(s) as session:
        account, head = _account_and_head(session, account_id, head_email)
        platform = PLATFORMS[account.platform]
        values = _read_credentials(platform) if platform.credential_fields else {}
        with refusals():
            try:
                username = save_credentials(session, account, values, s.encryption_key, head)
            except PublishError as exc:
                raise click.ClickException(f"the keys were not saved: {exc}") from None
        click.echo(f"keys saved for {account.label}, checked with {platform.title} as @{username}")


@accounts.command("list")
def accounts_list():
    s = load_settings()
    with session_of(s) as session:
        for a in session.scalars(select(Account).order_by(Account.id)):
            state = f"confirmed by {a.confirmed_by.name} {a.confirmed_at:%Y-%m-%d}" if a.confirmed else "not confirmed"
            click.echo(f"{a.id}\t{a.platform}\t{a.handle}\t{a.url}\t{state}")
