"""The head's link lists."""
from __future__ import annotations

import click

from gateway.cli.common import load_settings, refusals, session as session_of
from gateway.core.db import upgrade
from gateway.services.links import add_rule
from moderation.link_rules import rules, school_domains


@click.group()
def links():
    """The allow and block lists for links in posts."""


def _add_link_rule(kind, host):
    s = load_settings()
    upgrade(s.database_url)
    with session_of(s) as session:
        with refusals():
            rule = add_rule(session, kind, host, "command line")
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
    """Both lists, with who added each entry; the school's own domains are always allowed."""
    s = load_settings()
    with session_of(s) as session:
        for rule in rules(session):
            click.echo(f"{rule.kind}\t{rule.entry}\t{rule.added_by}")
    for entry in school_domains(s):
        click.echo(f"allow\t{entry}\tSCHOOL_DOMAINS setting")
