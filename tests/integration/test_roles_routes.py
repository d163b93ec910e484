"""Roles × routes: every route of app.url_map, for every role and for people not logged in, answers as its rule says."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select
from werkzeug.routing.converters import AnyConverter, NumberConverter

from gateway.models import ROLES
from gateway.web.access import ANONYMOUS, IGNORED_METHODS, markdown, route_table
from moderation.audit import AuditEntry
from tests.client import Client

README = Path(__file__).resolve().parents[2] / "README.md"
START, END = "<!-- routes:start -->", "<!-- routes:end -->"

# Written by hand: a new route fails test_every_route_has_an_expected_rule until its rule is added here.
EXPECTED = {
    "static": "public",
    "auth.login": "public",
    "auth.home": "public",
    "auth.logout": "public",
    "auth.code": "public",
    "auth.enrol": "public",
    "auth.enrol_qr": "public",
    "auth.forgot": "public",
    "auth.link": "public",
    "auth.password": "anyone",
    "health.healthz": "public",
    "posts.mine": "staff",
    "posts.new": "staff",
    "posts.edit": "staff",
    "posts.detail": "staff",
    "posts.progress": "staff",
    "posts.withdraw": "staff",
    "posts.clean_photo": "staff",
    "posts.original_photo": "reviewer",
    "archive.page": "anyone",
    "review.queue": "reviewer",
    "review.page": "reviewer",
    "review.annotated": "reviewer",
    "review.obscure_region": "reviewer",
    "review.decide": "reviewer",
    "review.edit": "reviewer",
    "review.published": "reviewer",
    "review.audit_log": "auditor",
    "review.audit_csv": "auditor",
    "calendar.month": "reviewer",
    "notices.page": "anyone",
    "notices.how": "anyone",
    "review.reschedule": "reviewer",
    "review.cancel": "reviewer",
    "review.take_down": "reviewer",
    "comments.queue": "reviewer",
    "comments.decide": "reviewer",
    "comments.concern": "reviewer",
    "comments.read_now": "reviewer",
    "admin.index": "head",
    "admin.add_user": "head",
    "admin.change_user": "head",
    "admin.sign_in_action": "head",
    "admin.add_account_view": "head",
    "admin.confirm": "head",
    "admin.add_link_rule": "head",
    "admin.remove_link_rule": "head",
    "admin.credentials": "head",
    "admin.settings_page": "head",
    "people.search": "registry_keeper",
    "people.person": "registry_keeper",
    "people.record": "registry_keeper",
    "people.withdraw_consent": "registry_keeper",
    "people.enrol_photos": "registry_keeper",
    "people.import_csv": "registry_keeper",
    "people.confirm_import": "registry_keeper",
}
ALLOWED = {
    "public": {ANONYMOUS, *ROLES},
    "anyone": set(ROLES),
    "staff": set(ROLES) - {"dpo"},
    "reviewer": {"smt", "head"},
    "auditor": {"smt", "head", "dpo"},
    "head": {"head"},
    "registry_keeper": {"consent_officer", "head"},
}
LAST = {"auth.logout"}  # ends the client's session, so each client sends it after everything else
SIGN_IN = "auth."  # its routes may audit sign-in events; any other route must change nothing here


def test_every_route_has_an_expected_rule(app):
    assert {rule.endpoint for rule in app.url_map.iter_rules()} == set(EXPECTED)


def test_each_view_carries_its_rule(app):
    table = route_table(app)
    assert {row.endpoint: row.access for row in table} == EXPECTED
    assert {row.endpoint: {who for who, ok in row.allowed.items() if ok} for row in table} == {
        endpoint: ALLOWED[access] for endpoint, access in EXPECTED.items()}


def _sample(converter):
    """A value that fits the converter and names nothing that exists."""
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return 999999 if isinstance(converter, NumberConverter) else "nobody"


def _requests(app) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every rule and method, with sample arguments; session-ending ones last."""
    found = []
    for rule in app.url_map.iter_rules():
        _domain, url = rule.build({name: _sample(conv) for name, conv in rule._converters.items()})
        found += [(rule.endpoint, method, url) for method in sorted(rule.methods - IGNORED_METHODS)]
    return sorted(found, key=lambda request: request[0] in LAST)


def _sent_to_log_in(response) -> bool:
    """Flask-Login's answer to someone not logged in: to the log-in page, with where they were going."""
    location = urlsplit(response.headers.get("Location", ""))
    return response.status_code == 302 and location.path == "/login" and "next" in parse_qs(location.query)


def _wrong(who: str, access: str | None, response) -> str | None:
    """What is wrong with the answer for `who` on a route with this rule, if anything."""
    status = response.status_code
    if status == 500:
        return "500"
    if access is None:  # a route missing from EXPECTED (test_every_route_has_an_expected_rule says so)
        return None
    if who in ALLOWED[access]:
        return f"refused ({status})" if status == 403 or _sent_to_log_in(response) else None
    if who == ANONYMOUS:
        return None if _sent_to_log_in(response) else f"not sent to log in ({status})"
    return None if status == 403 else f"not refused ({status})"


def _audited(read) -> int:
    return read(lambda s: s.scalar(select(func.count()).select_from(AuditEntry)))


def test_every_route_answers_every_role_as_its_rule_says(app, login, read):
    clients = {role: login(role) for role in ROLES}  # logged in first: the anonymous sweep tries a log-in too
    clients[ANONYMOUS] = Client(app)
    problems = []
    for who, client in clients.items():
        for endpoint, method, url in _requests(app):
            before = None if endpoint.startswith(SIGN_IN) else _audited(read)
            response = getattr(client, method.lower())(url)  # POST: an empty form with its CSRF token
            wrong = _wrong(who, EXPECTED.get(endpoint), response)
            if before is not None and _audited(read) != before:
                wrong = f"changed something (audited) with status {response.status_code}"
            if wrong:
                problems.append(f"{who} {method} {url}: {wrong}")
    assert not problems, "\n".join(["", *problems])


def test_the_readme_table_is_the_apps(app):
    text = README.read_text()
    assert START in text and END in text, f"README.md has no {START} … {END} section"
    assert text.split(START, 1)[1].split(END, 1)[0].strip() == markdown(app).strip()
