"""The web app for a WSGI server of its own, such as gunicorn in production (`gunicorn gateway.web.wsgi:app`;
see compose.yaml). Built as `gateway web` builds it: the settings from the environment, checked the same way (a
wrong one stops start-up, its one line logged first), the `gateway` command's log lines, then the app."""
from __future__ import annotations

import logging

from gateway.core.settings import SettingsError, load
from gateway.web.app import create_app
from moderation.link_rules import school_domains

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
logging.getLogger("alembic").setLevel(logging.WARNING)
log = logging.getLogger(__name__)

try:
    settings = load()
    school_domains(settings)  # as gateway.cli.common.load_settings does: a bad entry stops start-up
except SettingsError as exc:
    log.error("gateway: %s", exc)
    raise

app = create_app(settings)
