"""What every command shares: settings, a session, and refusals turned into one line."""
from __future__ import annotations

import sys
from contextlib import contextmanager

import click

from gateway.core import settings as settings_module
from gateway.core.errors import Refused
from gateway.core.db import session_for
from gateway.core.schools import for_school
from moderation.link_rules import school_domains


def load_settings():
    try:
        s = settings_module.load()
        school_domains(s)  # the link rules judge these entries (core cannot): a bad one stops every command
        return s
    except settings_module.SettingsError as exc:
        click.echo(f"gateway: {exc}", err=True)
        sys.exit(2)


def session(settings):
    """A database session for the school given with `gateway --school ID` (every school's without one)."""
    context = click.get_current_context(silent=True)
    school = context.find_root().params.get("school") if context is not None else None
    return for_school(session_for(settings.database_url), school)


@contextmanager
def refusals():
    """A refusal becomes its reasons on one line of standard error and exit status 1."""
    try:
        yield
    except Refused as exc:
        raise click.ClickException(str(exc)) from None
