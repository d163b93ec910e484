"""Notices (issue 18): each event reaches the right people on their Notices page and by e-mail, at a real SMTP
server, at once or in a daily digest; no e-mail holds a post's words, a photo or a senior leader's reason."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from rq.job import Job
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from consent_registry.models import Takedown
from gateway.core.db import utcnow
from gateway.models import Notice, User
from gateway.services import notices
from gateway.services.publishing import MAX_ATTEMPTS
from moderation.models import Post
from tests.helpers import add_network_account, post_id_of, submit, submit_photo
from tests.networks import EMULATORS
from workers import queues
from workers.worker import run

BLOCKED_TEXT = "Questions to parent.helper@gmail.com please"


def mails(smtp) -> dict[str, list[str]]:
    """Recipient -> the bodies of the mails they got."""
    out: dict[str, list[str]] = {}
    for m in smtp.messages:
        out.setdefault(m["To"], []).append(m.get_body().get_content())
    return out


def worker(settings, smtp):
    """A real worker mailing through the test's SMTP server: its jobs, then a second round whose maintenance mails
    the notices they made (a round mails what was waiting when it began)."""
    def work():
        for _ in range(2):
            run(replace(settings, smtp_url=smtp.url), burst=True)
    return work


def test_each_event_reaches_the_right_people(login, settings, smtp):
    work = worker(settings, smtp)
    teacher, smt = login("teacher"), login("smt")
    ready = post_id_of(submit(teacher, "Sports day was great"))
    blocked = post_id_of(submit(teacher, BLOCKED_TEXT))
    rejected = post_id_of(submit(teacher, "The choir sang"))
    work()
    assert len(smtp.messages) == 3  # the teacher, the senior leader and the head: one mail each
    got = mails(smtp)
    assert f"Post {ready} by Tara Teacher is ready for your review." in got["smt@demo.school"][0]
    assert f"/review/{ready}" in got["head@demo.school"][0] and f"/review/{blocked}" not in got["head@demo.school"][0]
    assert f"Post {blocked} needs your changes" in got["teacher@demo.school"][0]

    smtp.messages.clear()
    smt.post(f"/review/{ready}/approve")
    smt.post(f"/review/{rejected}/reject", {"reason": "Not this week, thank you"})
    work()
    smt.post(f"/review/{ready}/take-down", {"reason": "A parent asked us to"})
    work()
    body = "\n".join(mails(smtp)["teacher@demo.school"])
    for words in (f"Post {ready} was approved by", f"Post {ready} is published", f"Post {rejected} was rejected by",
                  "Read why on the post's page", f"Post {ready} was taken down"):
        assert words in body, (words, body)
    everything = "\n".join(m.as_string() for m in smtp.messages)
    for secret in ("Sports day was great", "The choir sang", "Not this week", "A parent asked", "parent.helper"):
        assert secret not in everything

    page = teacher.get("/notices").get_data(as_text=True)
    assert "Their reason: Not this week, thank you" in page and "Why: A parent asked us to" in page
    assert "(0 new)" not in page and "Notices (" not in teacher.get("/posts").get_data(as_text=True)


def test_a_daily_digest_groups_the_days_notices(login, work, settings, smtp):
    """`work` here mails into the outbox; the digest is sent by the service itself, on two days."""
    settings = replace(settings, smtp_url=smtp.url)
    teacher, smt = login("teacher"), login("smt")
    teacher.post("/notices/how", {"notify": "digest"})
    first, second = (post_id_of(submit(teacher, text)) for text in ("Sports day was great", "The choir sang"))
    work()
    smt.post(f"/review/{first}/approve")
    smt.post(f"/review/{second}/request_changes", {"reason": "Add the date"})
    notices.send_due(settings)
    digests = mails(smtp)["teacher@demo.school"]
    assert len(digests) == 1 and f"Post {first} was approved" in digests[0] and f"Post {second} was sent back" in digests[0]
    assert "once a day" in digests[0]
    work()  # published: one more notice, held for tomorrow's digest
    smtp.messages.clear()
    notices.send_due(settings)
    assert "teacher@demo.school" not in mails(smtp)
    notices.send_due(settings, now=utcnow() + timedelta(hours=25))
    assert f"Post {first} is published" in mails(smtp)["teacher@demo.school"][0]


def test_the_notices_page_counts_what_is_new(login, work):
    teacher, smt = login("teacher"), login("smt")
    post_id_of(submit(teacher, "Sports day was great"))
    work()
    assert "Notices (1 new)" in smt.get("/review").get_data(as_text=True)
    assert "is ready for your review" in smt.get("/notices").get_data(as_text=True)
    assert "Notices (1 new)" not in smt.get("/review").get_data(as_text=True)
    assert smt.post("/notices/how", {"notify": "sometimes"}, follow_redirects=True).status_code == 200


def test_the_approver_is_told_once_before_an_approval_lapses(login, work, settings, fetch, read, session):
    """A scheduled post whose publish time passed without it going out (say the queue was down): in the last twelve
    hours before its approval lapses, the reconciler tells the senior leader who approved it, once."""
    from moderation.models import Post
    from workers.reconcile import reconcile

    teacher, smt = login("teacher"), login("smt")
    post_id = post_id_of(submit(teacher, "Assembly tomorrow"))
    work()
    smt.post(f"/review/{post_id}/approve")

    def told() -> int:
        return read(lambda s: len(s.scalars(select(Notice).where(Notice.event == "approval_expiring")).all()))

    post = session.get(Post, post_id)
    post.approved_at = utcnow() - timedelta(hours=settings.approval_hours - 13)  # 13 hours left: not yet
    session.commit()
    reconcile(settings)
    assert told() == 0
    post.approved_at = utcnow() - timedelta(hours=settings.approval_hours - 11)  # 11 hours left
    session.commit()
    reconcile(settings)
    reconcile(settings)
    assert told() == 1 and fetch(Post, post_id).state == "approved"
    assert "Your approval of post" in login("smt").get("/notices").get_data(as_text=True)


def test_a_failed_takedown_is_told_to_the_head_and_every_senior_leader_without_the_post(
        registry, login, session, read, fetch, work_here, settings, smtp):
    """The post shows a pupil (Rose Leslie, consented); X answers each delete with a 503 until the attempts run out."""
    session.add_all([User(email="deputy@demo.school", name="Dan Deputy", role="smt", password_hash=""),
                     User(email="gone@demo.school", name="Gil Gone", role="smt", password_hash="", active=False)])
    session.commit()
    work, teacher, smt = worker(settings, smtp), login("teacher"), login("smt")
    text, alt, reason = "Relay final: what a finish", "The relay team at the line", "Rose Leslie's mother asked us"
    with EMULATORS["x"]() as (credentials, x):
        account_id, _pages = add_network_account(login("head"), read, "x", credentials)
        post_id = submit_photo(teacher, "faces/rose_leslie_2.jpg", text, alt, account_id=str(account_id))
        work_here()
        smt.post(f"/review/{post_id}/approve")
        work_here()
        assert fetch(Post, post_id).state == "published", fetch(Post, post_id).reason
        assert [f.verdict for f in fetch(Post, post_id).images[0].faces] == ["consented"]  # she is in the photo
        work()  # what was told so far is mailed
        smtp.messages.clear()
        for n in range(1, MAX_ATTEMPTS + 1):  # X's problem JSON: {"title", "detail", "type", "status": 503}
            x.fail("tweets.delete", on_call=n, status=503)
        smt.post(f"/review/{post_id}/take-down", {"reason": reason})
        work_here()
        takedown_id = read(lambda s: s.scalar(select(Takedown.id).where(Takedown.post_id == post_id)))
        retries = ScheduledJobRegistry(queues.TAKEDOWNS, connection=queues.connection(settings))
        for attempt in range(1, MAX_ATTEMPTS):  # each retry is scheduled for later: its time comes now
            assert fetch(Takedown, takedown_id).state == "pending" and notices_of(read, "takedown_failed") == []
            assert len(notices_of(read, "takedown_retrying")) == 3  # the first failure is told at once, once
            assert retries.get_job_ids() == [queues.takedown_job_id(takedown_id, attempt)]
            retries.schedule(Job.fetch(retries.get_job_ids()[0], connection=retries.connection), utcnow())
            work_here()
        takedown = fetch(Takedown, takedown_id)
        assert (takedown.state, takedown.attempts, retries.get_job_ids()) == ("failed", MAX_ATTEMPTS, [])
        assert len(x.calls_to("tweets.delete")) == MAX_ATTEMPTS and len(x.live_tweets()) == 1  # still online
        work()
    leaders = {"head@demo.school", "smt@demo.school", "deputy@demo.school"}
    assert {email for email, _ in notices_of(read, "takedown_failed")} == leaders
    assert {email for email, _ in notices_of(read, "takedown_retrying")} == leaders
    told = f"Taking down post {post_id} failed: it may still be online."
    for role in ("head", "smt"):
        assert told in login(role).get("/notices").get_data(as_text=True)
    assert told not in teacher.get("/notices").get_data(as_text=True)
    got = mails(smtp)
    retrying = f"Taking down post {post_id} did not work at the first try"
    assert set(got) == leaders and all(len(got[e]) == 1 and told in got[e][0] and retrying in got[e][0]
                                       for e in leaders), got  # both, mailed in the one round at the end
    assert all(f"/review/{post_id}" in mail for e in leaders for mail in got[e])
    for message in smtp.messages:
        assert [p.get_content_type() for p in message.walk()] == ["text/plain"]  # no photo, attached or inline
        for secret in (text, alt, reason, "Rose", "Leslie", "relay", "Relay"):
            assert secret not in message.as_string(), (secret, message.as_string())


def notices_of(read, event: str) -> list[tuple[str, str]]:
    """(recipient's e-mail, text) of each notice of the event."""
    return read(lambda s: s.execute(select(User.email, Notice.text).join(User, Notice.user_id == User.id)
                                    .where(Notice.event == event)).all())
