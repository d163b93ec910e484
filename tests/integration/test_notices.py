"""Notices (issue 18): each event reaches the right people on their Notices page and by e-mail, at a real SMTP
server, at once or in a daily digest; no e-mail holds a post's words, a photo or a senior leader's reason."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from gateway.core.db import utcnow
from gateway.models import Notice
from gateway.services import notices
from tests.helpers import post_id_of, submit
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
