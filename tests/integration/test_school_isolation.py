"""Two schools in one installation: every route, for every role of school A, given school B's objects (its posts,
photos, people, users, accounts, notices, link rules), answers 403 or 404, changes nothing, and shows none of B's
words. The trust's data protection officer reads both schools' audit logs and writes nothing."""
from __future__ import annotations

import io
import re
from datetime import date

from sqlalchemy import func, select
from werkzeug.routing.converters import AnyConverter

from consent_registry.importer import COLUMNS
from consent_registry.models import GRANTED, PhotoConsent, Person, Takedown
from gateway.core.schools import School, for_school
from gateway.core.db import session_for
from gateway.models import DPO, HEAD, SCHOOL_ROLES, SMT, TEACHER, Notice, User
from gateway.core import settings as settings_module
from gateway.services import alerts, posts, review
from gateway.services.accounts import add_account, confirm_account
from gateway.users import UserError, create_user, hasher_for
from gateway.web.access import IGNORED_METHODS
from moderation import link_rules, replies
from moderation.audit import AuditEntry
from moderation.models import Post, Publication
from moderation.replies import Reply, ReplyAlert
from tests.helpers import big_photo

SECRET_WORDS = "Marigold class visited the secret garden"
B = 2


def _school_b(settings, work) -> dict[str, int | str]:
    """School B with a head, an SMT member and a teacher, a confirmed account, a person with consent, and a post with
    a photo that was checked, approved, published and then asked to come down; the ids of each."""
    with session_for(settings.database_url) as s:
        s.add(School(id=B, name="Other School", domains=[]))
        s.commit()
        for_school(s, B)
        hasher = hasher_for(settings)
        users = {role: create_user(s, f"{role}@other.school", f"Other {role}", role, "", "test", hasher)
                 for role in (HEAD, SMT, TEACHER)}
        account = add_account(s, "archive", "other_archive", "https://other.school/archive", by="test")
        confirm_account(s, account, users[HEAD])
        rule = link_rules.add_rule(s, "block", "only-b-blocks.co.uk", by="test")
        person = Person(mis_id="B001", kind="pupil", first_name="Bea", last_name="Other", year_group="Year 2")
        s.add(person)
        s.flush()
        s.add(PhotoConsent(person_id=person.id, status=GRANTED, given_by="Mrs Other", given_on=date.today(),
                           recorded_by="test"))
        data = big_photo(3, (320, 240))
        form = posts.PostForm(text=SECRET_WORDS, account_ids=[account.id], publish_at=None,
                              photos=[posts.NewPhoto(1, "garden.jpg", data, len(data), "The secret garden")])
        post_id = posts.save(s, settings, users[TEACHER], None, form, submit=True).post.id
        ids = {"user_id": users[TEACHER].id, "smt": users[SMT].id, "account_id": account.id, "post_id": post_id,
               "rule_id": rule.id}
    work()
    with session_for(settings.database_url) as s:
        for_school(s, B)
        post = s.get(Post, post_id)
        review.approve(s, settings, s.get(User, ids["smt"]), post)
    work()
    with session_for(settings.database_url) as s:
        for_school(s, B)
        s.add(Takedown(post_id=post_id, reason="B's parent asked", requested_by="test"))
        s.commit()
        ids["takedown_id"] = s.scalar(select(Takedown.id))
        ids["notice_id"] = s.scalar(select(func.max(Notice.id)))
        assert s.get(Post, post_id).state == "published"
    return ids


def _value(name: str, converter, ids: dict):
    """School B's object for a route's argument; a choice route (<any(...)>) gets its first choice."""
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    if name == "handle":
        return "other_archive"
    if name == "position":
        return 1
    return ids.get(name, ids["post_id"] if name.endswith("_id") else "x")


OBJECT_IN_QUERY = ("people.person", "people.withdraw_consent", "people.enrol_photos", "people.record")
# Not one school's: an import preview's token is its uploader's own.
NOT_A_SCHOOLS = ("people.confirm_import",)


def _urls(app, ids: dict) -> list[tuple[str, str, bool]]:
    """(method, url, whether it names one of B's objects) for every route but sign-in's, health and static files."""
    query = f"?mis_id=B001&post={ids['post_id']}"
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.endpoint.startswith(("auth.", "health")):
            continue
        _domain, url = rule.build({n: _value(n, c, ids) for n, c in rule._converters.items()})
        names_one = rule.endpoint not in NOT_A_SCHOOLS and (
            any(not isinstance(c, AnyConverter) for c in rule._converters.values()) or rule.endpoint in OBJECT_IN_QUERY)
        found += [(method, url + query, names_one) for method in sorted(rule.methods - IGNORED_METHODS)]
    return found


def test_every_role_of_one_school_sees_nothing_of_another(app, login, read, settings, work):
    ids = _school_b(settings, work)
    clients = {role: login(role) for role in SCHOOL_ROLES}  # logging in is audited: before the count
    audited = read(lambda s: s.scalar(select(func.count()).select_from(AuditEntry)))
    problems = []
    for role, client in clients.items():
        for method, url, names_one in _urls(app, ids):
            response = getattr(client, method.lower())(url)  # POST: an empty form with its CSRF token
            status, page = response.status_code, response.get_data().decode(errors="replace")
            if names_one and status not in (403, 404):
                problems.append(f"{role} {method} {url}: {status}, not 403 or 404")
            elif any(word in page for word in (SECRET_WORDS, "Bea Other", "other_archive", "Other teacher")):
                problems.append(f"{role} {method} {url}: {status} shows school B's words")
    assert not problems, "\n".join(["", *problems])
    added = read(lambda s: [(e.actor, e.action, e.subject) for e in s.scalars(select(AuditEntry).where(
        AuditEntry.seq > audited).execution_options(all_schools=True))])
    assert added == []
    post = read(lambda s: s.get(Post, ids["post_id"]))
    assert (post.state, post.text) == ("published", SECRET_WORDS)


def test_each_schools_checks_know_only_its_own_pupils(login, work, fetch, settings):
    """A pupil of school B named in school A's post is nobody A knows, so the name stays; in B's post it goes."""
    text = "Well done to Bea Other for the spelling prize"
    with session_for(settings.database_url) as s:
        s.add(School(id=B, name="Other School", domains=[]))
        s.commit()
        for_school(s, B)
        teacher = create_user(s, "teacher@other.school", "Other teacher", TEACHER, "", "test", hasher_for(settings))
        head = create_user(s, "head@other.school", "Other head", HEAD, "", "test", hasher_for(settings))
        account = add_account(s, "archive", "other_archive", "https://other.school/archive", by="test")
        confirm_account(s, account, head)
        s.add(Person(mis_id="B001", kind="pupil", first_name="Bea", last_name="Other", year_group="Year 2"))
        form = posts.PostForm(text=text, account_ids=[account.id], publish_at=None)
        theirs = posts.save(s, settings, teacher, None, form, submit=True).post.id
    ours = int(login("teacher").post("/posts/new", {"text": text, "account_id": "1", "action": "submit"},
                                     content_type="multipart/form-data").headers["Location"].rsplit("/", 1)[1])
    work()
    assert "Bea Other" in fetch(Post, ours).cleaned_text
    assert "Bea Other" not in fetch(Post, theirs).cleaned_text


def test_the_trusts_data_protection_officer_reads_every_schools_audit_log_and_writes_nothing(
        app, login, read, settings, work):
    ids = _school_b(settings, work)
    dpo = login(DPO)
    assert dpo.get("/").headers["Location"].endswith("/audit")
    page = dpo.get(f"/audit?post={ids['post_id']}").get_data(as_text=True)
    assert "Other School" in page and "<td>approve</td>" in page  # B's post, with its school
    sheet = dpo.get("/audit.csv").get_data(as_text=True)
    assert sheet.splitlines()[0].endswith(",school")
    assert "Other School" in sheet
    for url in ("/posts/new", "/posts", f"/posts/{ids['post_id']}", "/review", f"/review/{ids['post_id']}", "/admin/",
                "/people/"):
        assert dpo.get(url).status_code == 403, url
    assert dpo.post("/posts/new", {"text": "From the trust", "action": "submit"}).status_code == 403
    assert read(lambda s: s.scalar(select(func.count()).select_from(Post).execution_options(all_schools=True))) == 1
    head_page = login("head").get(f"/audit?post={ids['post_id']}").get_data(as_text=True)
    assert "Other School" not in head_page and "<td>approve</td>" not in head_page  # a school's head reads its own only


def test_the_trusts_officer_is_added_by_the_trust_not_by_a_school(settings, login):
    with session_for(settings.database_url) as s:
        for_school(s, 1)
        try:
            create_user(s, "dpo2@demo.school", "Second officer", DPO, "", "test", hasher_for(settings))
        except UserError as exc:
            assert "the trust adds them" in str(exc)
        else:
            raise AssertionError("a school made the trust's officer")
    answer = login("head").post("/admin/users", {"email": "dpo3@demo.school", "name": "Third officer", "role": DPO})
    assert answer.status_code == 400 and "belongs to no one school" in answer.get_data(as_text=True)
    assert 'value="dpo"' not in login("head").get("/admin/").get_data(as_text=True)  # not offered on the form


def test_a_pupils_mis_id_is_unique_within_a_school_not_across_the_trust(settings, login, read):
    csv = (",".join(COLUMNS) + "\n" + ",".join({"mis_id": "P001", "kind": "pupil", "first_name": "Ada",
                                                 "last_name": "Ours", "year_group": "Year 3"}.get(c, "")
                                                for c in COLUMNS) + "\n")
    with session_for(settings.database_url) as s:
        s.add(School(id=B, name="Other School", domains=[]))
        s.flush()
        s.add(Person(school_id=B, mis_id="P001", kind="pupil", first_name="Bea", last_name="Theirs"))
        s.commit()
    office = login("consent_officer")
    preview = office.post("/people/import", {"file": (io.BytesIO(csv.encode()), "mis.csv")},
                          content_type="multipart/form-data")
    assert preview.status_code == 200, preview.get_data(as_text=True)
    token = re.search(r'action="/people/import/(\w+)"', preview.get_data(as_text=True)).group(1)
    assert office.post(f"/people/import/{token}").status_code == 302
    people = read(lambda s: sorted((p.school_id, p.mis_id, p.first_name) for p in s.scalars(
        select(Person).execution_options(all_schools=True))))
    assert people == [(1, "P001", "Ada"), (B, "P001", "Bea")]


def test_a_reply_alert_about_one_schools_post_goes_to_its_senior_leaders_only(settings, env, work, smtp, read):
    """The alert job's session starts as every school's (it knows only a post id): its mail must not reach school
    A's senior leaders, nor name A's school."""
    ids = _school_b(settings, work)
    with session_for(settings.database_url) as s:
        pub = s.scalar(select(Publication).where(Publication.post_id == ids["post_id"]))
        s.add(Reply(publication_id=pub.id, platform_id="r1", text="A rude reply", verdict=replies.ASK,
                    state=replies.HELD))
        s.add(ReplyAlert(post_id=ids["post_id"], pending=True))
        s.commit()
    alerts.send_alert(settings_module.load({**env, "SMTP_URL": smtp.url}), ids["post_id"])
    [mail] = smtp.messages
    assert sorted(mail["To"].split(", ")) == ["head@other.school", "smt@other.school"]
    assert "Other School" in mail.get_content() and settings.school_name not in mail.get_content()
    sent = read(lambda s: s.scalar(select(AuditEntry).where(AuditEntry.action == "replies_alert_sent")))
    assert sent.school_id == B
