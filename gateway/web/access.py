"""The roles × routes table, made from the app's own route list: which rule guards each route, and who passes it.

`python -m gateway.web.access` prints it as Markdown, for the README's security section."""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask_login import login_required

from gateway.core import settings
from gateway.models import ROLE_NAMES, ROLES, User
from gateway.web.app import create_app
from gateway.web.util import anyone

ANONYMOUS = "anonymous"
WHO = (ANONYMOUS, *ROLES)
IGNORED_METHODS = {"HEAD", "OPTIONS"}  # answered by Flask itself for every route
_LOGIN_REQUIRED = login_required(lambda: None).__code__


@dataclass(frozen=True)
class Row:
    path: str
    endpoint: str
    methods: tuple[str, ...]
    access: str
    allowed: dict[str, bool]  # by ANONYMOUS and by each role


def _login_protected(view) -> bool:
    """Flask-Login's `login_required` is one of the view's decorators."""
    while view is not None:
        if getattr(view, "__code__", None) is _LOGIN_REQUIRED:
            return True
        view = getattr(view, "__wrapped__", None)
    return False


def _rule(view) -> tuple[str, object]:
    """The view's access rule and its check on a user (None: anyone, logged in or not)."""
    if hasattr(view, "access"):
        return view.access, getattr(view, "check", None)
    if _login_protected(view):
        return anyone.__name__, anyone
    return "public", None


def route_table(app: Flask) -> list[Row]:
    """Every route of the app with its methods (not HEAD or OPTIONS), its rule, and who may use it."""
    rows = []
    for rule in app.url_map.iter_rules():
        access, check = _rule(app.view_functions[rule.endpoint])
        allowed = {ANONYMOUS: check is None}
        allowed.update({role: check is None or bool(check(User(role=role))) for role in ROLES})
        methods = tuple(sorted(rule.methods - IGNORED_METHODS))
        rows.append(Row(rule.rule, rule.endpoint, methods, access, allowed))
    return sorted(rows, key=lambda row: (row.path, row.methods))


def markdown(app: Flask) -> str:
    """The table in Markdown: a row per route, a column per role and one for people not logged in."""
    titles = ["Route", "Methods", "Rule", "Not logged in", *(ROLE_NAMES[role] for role in ROLES)]
    lines = ["| " + " | ".join(titles) + " |", "|" + "---|" * len(titles)]
    for row in route_table(app):
        cells = [f"`{row.path}`", ", ".join(row.methods), row.access,
                 *("yes" if row.allowed[who] else "no" for who in WHO)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(create_app(settings.load())), end="")
