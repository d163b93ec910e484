"""Signing in, as an attacker would probe it (OWASP ASVS level 2): sessions that really end, the second factor,
strong passwords, one-time links by e-mail, throttling that cannot be turned against users, and safe headers."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from gateway.core.db import utcnow
from gateway.users import HASHING
from gateway.models import AccountLink, LoginSession, User
from moderation.audit import AuditEntry
from gateway.web.app import create_app
from tests.client import RECOVERY, SECRETS, Client, totp_code

TEACHER, SMT, HEAD = "teacher@demo.school", "smt@demo.school", "head@demo.school"
LINK = re.compile(r"http://[^/\s]+(/account/(setup|reset)/[\w-]+)")


def _wrong(client, email, times):
    client.get("/login")
    for _ in range(times):
        assert client.post("/login", {"email": email, "password": "not-the-password"}).status_code == 401


def _saved_cookie(client) -> str:
    return client.http.get_cookie("session").value


def _with_cookie(app, cookie: str) -> Client:
    other = Client(app)
    other.http.set_cookie("session", cookie)
    return other


def _logged_in(client) -> bool:
    response = client.get("/posts")
    return response.status_code == 200


def _link_from(mailbox, to: str) -> str:
    mail = [m for m in mailbox.messages if m["To"] == to][-1]
    return LINK.search(mail.get_content()).group(1)


def test_logout_ends_the_session_on_the_server(app, login):
    teacher = login("teacher")
    saved = _saved_cookie(teacher)
    teacher.post("/logout")
    assert not _logged_in(_with_cookie(app, saved))


def test_a_password_change_logs_out_every_other_session(app, login, school):
    first, second = login("teacher"), login("teacher")
    new = "violet kettle harbour drum"
    changed = first.post("/account/password", {"current": school["teacher"], "new": new, "again": new})
    assert changed.status_code == 302
    assert _logged_in(first) and not _logged_in(second)
    Client(app).login(TEACHER, new)


def test_idle_and_too_old_sessions_end(app, login, session):
    idle, old = login("teacher"), login("teacher")
    assert _logged_in(idle) and _logged_in(old)
    rows = session.scalars(select(LoginSession).order_by(LoginSession.id)).all()[-2:]
    session.execute(update(LoginSession).where(LoginSession.id == rows[0].id)
                    .values(seen_at=utcnow() - timedelta(minutes=31)))
    session.execute(update(LoginSession).where(LoginSession.id == rows[1].id)
                    .values(started_at=utcnow() - timedelta(hours=12, minutes=1)))
    session.commit()
    assert not _logged_in(idle) and not _logged_in(old)
    ended = session.scalars(select(LoginSession.ended_why).where(LoginSession.id.in_([r.id for r in rows]))
                            .order_by(LoginSession.id)).all()
    assert ended == ["idle", "too old"]


def test_the_session_and_csrf_token_are_new_after_login(app, school):
    client = Client(app)
    client.get("/login")
    planted_token, planted_cookie = client.token, _saved_cookie(client)
    client.login(TEACHER, school["teacher"])
    assert client.token != planted_token and _saved_cookie(client) != planted_cookie
    refused = client.post("/account/password", {"csrf_token": planted_token, "current": "x", "new": "y", "again": "y"})
    assert refused.status_code == 400 and "did not come from this site" in refused.get_data(as_text=True)


def test_the_head_logs_a_user_out_everywhere_and_resets_a_lost_second_factor(app, login, read):
    smt = login("smt")
    head = login("head")
    smt_id = read(lambda s: s.scalar(select(User.id).where(User.email == SMT)))
    assert head.post(f"/admin/users/{smt_id}/end_sessions").status_code == 302
    assert not _logged_in(smt)
    assert head.post(f"/admin/users/{smt_id}/reset_second_factor").status_code == 302
    assert not read(lambda s: s.get(User, smt_id).second_factor)
    actions = read(lambda s: s.scalars(select(AuditEntry.action).where(AuditEntry.subject == f"user:{smt_id}")).all())
    assert "sessions_ended" in actions and "second_factor_reset" in actions
    assert login("teacher").post(f"/admin/users/{smt_id}/end_sessions").status_code == 403


@pytest.mark.parametrize("target", ["/%09/evil.example", "/\t/evil.example", "/%0a/x", "/\n/evil.example",
                                    "//evil.example", "/\\evil.example", "https://evil.example/", " //evil.example",
                                    "/%0d%0a/evil.example", "\\/evil.example"])
def test_next_is_only_ever_a_path_on_this_site(app, school, target):
    client = Client(app)
    client.get("/login")
    response = client.post(f"/login?next={target}", {"email": TEACHER, "password": school["teacher"]})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "evil" not in location.split("?")[0][:20]
    assert "\n" not in location and "\t" not in location


def test_a_local_next_is_followed(app, school):
    client = Client(app)
    client.get("/login")
    response = client.post("/login?next=/review", {"email": TEACHER, "password": school["teacher"]})
    assert response.headers["Location"] == "/review"


@pytest.mark.parametrize("weak", ["1234567890ab", "password1234", "aaaaaaaaaaaa", "demoprimaryschool",
                                  "TaraTeacher2024", "short"])
def test_weak_passwords_are_refused(login, school, weak):
    teacher = login("teacher")
    refused = teacher.post("/account/password", {"current": school["teacher"], "new": weak, "again": weak})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and ("too easy to guess" in text or "at least 12 characters" in text)


def test_the_current_password_check_is_held_like_a_log_in(login, school):
    teacher = login("teacher")
    new = "violet kettle harbour drum"
    for _ in range(10):
        wrong = teacher.post("/account/password", {"current": "a guess", "new": new, "again": new})
        assert wrong.status_code == 400
    right = teacher.post("/account/password", {"current": school["teacher"], "new": new, "again": new})
    assert right.status_code == 400 and "too many wrong passwords" in right.get_data(as_text=True)


def test_a_held_account_still_lets_its_owner_in_with_the_second_factor(app, school):
    _wrong(Client(app), HEAD, 10)
    client = Client(app)
    client.get("/login")
    alone = client.post("/login", {"email": HEAD, "password": school["head"]})
    assert alone.status_code == 429 and "authenticator app" in alone.get_data(as_text=True)
    wrong_code = client.post("/login", {"email": HEAD, "password": school["head"], "code": "000000"})
    wrong_password = client.post("/login", {"email": HEAD, "password": "nope", "code": totp_code(SECRETS[HEAD])})
    assert wrong_code.status_code == wrong_password.status_code == 429
    assert wrong_code.get_data(as_text=True).count("do not match") == 1
    with_code = client.post("/login", {"email": HEAD, "password": school["head"], "code": totp_code(SECRETS[HEAD])})
    assert with_code.status_code == 302 and _logged_in(client)


def test_a_held_account_without_an_app_gets_in_by_a_reset_link(app, school, work_here, smtp):
    _wrong(Client(app), TEACHER, 10)
    client = Client(app)
    client.get("/login/forgot")
    client.post("/login/forgot", {"email": TEACHER})
    work_here()
    path = _link_from(smtp, TEACHER)
    new = "violet kettle harbour drum"
    client.get(path)
    assert client.post(path, {"new": new, "again": new}).status_code == 302
    Client(app).login(TEACHER, new)


def test_a_spray_from_one_address_is_throttled_across_every_web_process(app, settings, school):
    """Two apps stand for two web processes: the counts are on Redis, so they add up."""
    clients = [Client(app), Client(create_app(settings))]
    for client in clients:
        client.get("/login")
    statuses = [clients[n % 2].post("/login", {"email": f"user{n}@demo.school", "password": "Summer2026!"})
                .status_code for n in range(21)]
    assert statuses[:20] == [401] * 20 and statuses[20] == 429


def test_wrong_codes_are_refused_and_a_code_is_accepted_once(app, school):
    client = Client(app)
    client.get("/login")
    client.post("/login", {"email": SMT, "password": school["smt"]})
    client.get("/login/code")
    assert client.post("/login/code", {"code": "123456"}).status_code == 401
    code = totp_code(SECRETS[SMT])
    assert client.post("/login/code", {"code": code}).status_code == 302
    again = Client(app)
    again.get("/login")
    again.post("/login", {"email": SMT, "password": school["smt"]})
    again.get("/login/code")
    assert again.post("/login/code", {"code": code}).status_code == 401


def test_a_recovery_code_works_once(app, school):
    code = RECOVERY[SMT][0]
    for expected in (302, 401):
        client = Client(app)
        client.get("/login")
        client.post("/login", {"email": SMT, "password": school["smt"]})
        client.get("/login/code")
        assert client.post("/login/code", {"code": code.upper()}).status_code == expected


def test_a_new_user_chooses_their_own_password_through_a_set_up_link(app, login, work_here, smtp, read):
    head = login("head")
    page = head.post("/admin/users", {"name": "Nia Senior", "email": "Nia@Demo.School", "role": "smt"},
                     follow_redirects=True).get_data(as_text=True)
    assert "A link to choose their password was e-mailed to nia@demo.school" in page
    bad = head.post("/admin/users", {"name": "", "email": "nope", "role": "teacher"})
    assert bad.status_code == 400 and "is not an e-mail address" in bad.get_data(as_text=True)
    work_here()
    path = _link_from(smtp, "nia@demo.school")
    assert path.split("/")[-1] not in str(read(lambda s: s.scalars(select(AccountLink.token_hash)).all()))
    new = "violet kettle harbour drum"
    client = Client(app)
    assert "Welcome, Nia Senior" in client.get(path).get_data(as_text=True)
    assert client.post(path, {"new": new, "again": new}).status_code == 302
    assert client.get(path).status_code == 410  # once only
    client.get("/login")
    to_enrol = client.post("/login", {"email": "nia@demo.school", "password": new})
    assert "/login/enrol" in to_enrol.headers["Location"]
    assert client.get("/posts").status_code == 302  # nobody is logged in until the app is set up
    secret = re.search(r'<code id="secret">(\w+)</code>', client.get("/login/enrol").get_data(as_text=True)).group(1)
    assert client.get("/login/enrol/qr.svg").mimetype == "image/svg+xml"
    done = client.post("/login/enrol", {"code": totp_code(secret)}).get_data(as_text=True)
    assert len(re.findall(r"<li><code>[a-z0-9-]{19}</code></li>", done)) == 10
    assert _logged_in(client)


def test_links_run_out_and_a_reset_link_lasts_30_minutes(app, school, work_here, smtp, session):
    client = Client(app)
    client.get("/login/forgot")
    sent = client.post("/login/forgot", {"email": TEACHER}).get_data(as_text=True)
    unknown = client.post("/login/forgot", {"email": "nobody@demo.school"}).get_data(as_text=True)
    assert "If that address has an account" in sent and sent == unknown.replace(client.token, client.token)
    work_here()
    path = _link_from(smtp, TEACHER)
    link = session.scalar(select(AccountLink).where(AccountLink.purpose == "reset"))
    assert timedelta(minutes=29) < link.expires_at - link.created_at <= timedelta(minutes=30)
    assert link.sealed_token is None  # mailed: only its hash is left
    session.execute(update(AccountLink).values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    expired = client.get(path)
    assert expired.status_code == 410 and "run out" in expired.get_data(as_text=True)
    client.post("/login/forgot", {"email": TEACHER})
    work_here()
    assert len([m for m in smtp.messages if m["To"] == TEACHER]) == 1  # one reset mail per 5 minutes


def test_private_pages_are_never_cached_and_headers_are_strict(login):
    smt = login("smt")
    for path in ("/review", "/audit", "/posts", "/comments"):
        response = smt.get(path)
        assert response.headers["Cache-Control"] == "no-store", path
    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "form-action 'self'" in csp and "base-uri 'none'" in csp
    assert "Strict-Transport-Security" not in response.headers


def test_behind_tls_cookies_are_secure_and_hsts_is_sent(env, school, monkeypatch):
    from gateway.core import settings as settings_module
    from gateway.web.app import create_app
    tls = create_app(settings_module.load({**env, "BEHIND_TLS": "yes"}))
    client = Client(tls)
    response = client.get("/login")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    client.post("/login", {"email": TEACHER, "password": school["teacher"]})
    cookie = client.http.get_cookie("session")
    assert cookie is not None and cookie.secure and cookie.http_only


def _to_code_step(app, email, password) -> Client:
    client = Client(app)
    client.get("/login")
    assert "/login/code" in client.post("/login", {"email": email, "password": password}).headers["Location"]
    client.get("/login/code")
    return client


def test_ten_wrong_codes_in_a_day_stop_codes_from_the_app_but_not_recovery_codes(app, school):
    client = _to_code_step(app, SMT, school["smt"])
    for _ in range(10):
        assert client.post("/login/code", {"code": "000000"}).status_code == 401
    refused = client.post("/login/code", {"code": totp_code(SECRETS[SMT])})
    assert refused.status_code == 401 and "refused for a day" in refused.get_data(as_text=True)
    assert client.post("/login/code", {"code": RECOVERY[SMT][1]}).status_code == 302


def test_someone_elses_guesses_do_not_lock_out_a_browser_that_logged_in_before(app, school):
    owner = Client(app).login(TEACHER, school["teacher"])
    owner.post("/logout")
    _wrong(Client(app), TEACHER, 10)  # holds the teacher's account
    spray = Client(app)
    spray.get("/login")
    while spray.post("/login", {"email": "x@demo.school", "password": "guess"}).status_code != 429:
        pass  # the address is throttled now too
    elsewhere = Client(app)
    elsewhere.get("/login")
    assert elsewhere.post("/login", {"email": TEACHER, "password": school["teacher"]}).status_code == 429
    owner.get("/login")
    assert owner.post("/login", {"email": TEACHER, "password": school["teacher"]}).status_code == 302
    owner.get("/posts")
    for _ in range(5):  # a stolen device cookie gets few guesses of its own
        owner.post("/logout")
        owner.get("/login")
        owner.post("/login", {"email": TEACHER, "password": "a guess"})
    assert owner.post("/login", {"email": TEACHER, "password": school["teacher"]}).status_code == 429


def test_an_enrolment_secret_seen_before_its_owner_enrols_is_useless(app, login, work_here, smtp, read):
    head = login("head")
    head.post("/admin/users", {"name": "Nia Senior", "email": "nia@demo.school", "role": "smt"})
    work_here()
    path, new = _link_from(smtp, "nia@demo.school"), "violet kettle harbour drum"
    setter = Client(app)
    setter.get(path)
    setter.post(path, {"new": new, "again": new})
    attacker, owner = Client(app), Client(app)
    for client in (attacker, owner):
        client.get("/login")
        client.post("/login", {"email": "nia@demo.school", "password": new})
    seen = re.search(r'id="secret">(\w+)<', attacker.get("/login/enrol").get_data(as_text=True)).group(1)
    mine = re.search(r'id="secret">(\w+)<', owner.get("/login/enrol").get_data(as_text=True)).group(1)
    assert seen != mine
    assert owner.post("/login/enrol", {"code": totp_code(mine)}).status_code == 200
    assert attacker.post("/login/enrol", {"code": totp_code(seen)}).status_code != 200
    nia = read(lambda s: s.scalar(select(User.id).where(User.email == "nia@demo.school")))
    head.post(f"/admin/users/{nia}/reset_second_factor")
    attacker.get("/login")
    attacker.post("/login", {"email": "nia@demo.school", "password": new})
    attacker.get("/login/enrol")
    head.post(f"/admin/users/{nia}/disable")
    assert attacker.post("/login/enrol", {"code": "123456"}).headers["Location"].endswith("/login")


def test_a_busy_server_leaves_a_reset_link_for_another_try(app, school, work_here, smtp):
    client = Client(app)
    client.get("/login/forgot")
    client.post("/login/forgot", {"email": TEACHER})
    work_here()
    path, new = _link_from(smtp, TEACHER), "violet kettle harbour drum"
    client.get(path)
    taken = [HASHING.acquire(timeout=30) for _ in range(HASHING._initial_value)]  # every turn at hashing
    try:
        busy = client.post(path, {"new": new, "again": new})
    finally:
        for _ in taken:
            HASHING.release()
    assert busy.status_code == 400 and "busy" in busy.get_data(as_text=True)
    assert client.post(path, {"new": new, "again": new}).status_code == 302


def test_forgot_password_does_the_same_work_for_any_address(app, school, read):
    client = Client(app)
    client.get("/login/forgot")
    for email in (TEACHER, "nobody@demo.school"):
        assert "If that address has an account" in client.post("/login/forgot", {"email": email}).get_data(as_text=True)
    assert read(lambda s: s.scalars(select(AccountLink)).all()) == []  # the worker looks the address up


def test_a_password_typed_as_the_e_mail_never_reaches_the_audit_page(app, login):
    client = Client(app)
    client.get("/login")
    client.post("/login", {"email": "Tr0ub4dor&3-horse", "password": "x"})
    assert "Tr0ub4dor" not in login("smt").get("/audit").get_data(as_text=True)
