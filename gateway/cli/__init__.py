"""The `gateway` command line: one command group per feature; each command parses, calls one service, prints."""
from __future__ import annotations

import logging

import click

from gateway.cli import accounts, checks, links, ops, people, users


@click.group()
def main():
    """School social publishing gateway."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # a line per migration step on every command otherwise


for command in (ops.db, users.users, accounts.accounts, ops.audit, checks.check, ops.reconcile, ops.purge,
                ops.worker, ops.queue_server, ops.web, ops.run, people.people, links.links):
    main.add_command(command)
