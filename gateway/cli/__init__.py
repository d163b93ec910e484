"""The `gateway` command line: one command group per feature; each command parses, calls one service, prints."""
from __future__ import annotations

import logging

import click

from gateway.cli import accounts, checks, links, ops, people, schools, users


@click.group()
@click.option("--school", type=int, envvar="GATEWAY_SCHOOL", help="act for this school of a trust (see `schools list`)")
def main(school):
    """School social publishing gateway."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a line per migration step on every command otherwise


for command in (ops.db, users.users, accounts.accounts, ops.audit, checks.check, ops.reconcile, ops.purge,
                ops.worker, ops.queue_server, ops.web, ops.run, people.people, links.links, schools.schools):
    main.add_command(command)
