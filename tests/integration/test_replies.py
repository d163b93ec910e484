"""Replies under the school's posts on every network, through the real gateway: read by a real worker, judged by
the text checks, hidden on the network's emulator, SMT told by e-mail through a real SMTP server on loopback."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from rq import Queue
from sqlalchemy import select, update

from gateway.core.db import session_for, utcnow
from moderation.audit import AuditEntry
from moderation.models import Publication
from moderation.replies import Reply, ReplyAlert, ReplyPoll
from tests.networks import EMULATORS
from tests.replies import BAD, FINE, publish
from workers import queues

def at_reset(when: datetime, reset: int) -> bool:
    """At the network's reset: Facebook says only in how many whole minutes access comes back, so up to a minute
    after it there; never before it."""
    return timedelta(seconds=-1) <= when - datetime.fromtimestamp(reset, timezone.utc) <= timedelta(seconds=61)


def read_now(smt, account_id: int, work_here) -> None:
    assert smt.post(f"/comments/accounts/{account_id}/read").status_code == 302
    work_here()


def replies_of(read, post_id: int) -> list[Reply]:
    return read(lambda s: s.scalars(select(Reply).join(Publication).where(Publication.post_id == post_id)
                                    .order_by(Reply.id)).all())


def audited(read, action: str) -> list[AuditEntry]:
    return read(lambda s: s.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                    .order_by(AuditEntry.seq)).all())


@pytest.mark.parametrize("name", list(EMULATORS))
def test_five_bad_replies_of_twenty_are_hidden_in_one_read_and_smt_gets_one_email(
        name, amelia_on_roster, signed_in, read, fetch, work_here, smtp):
    with EMULATORS[name]() as (credentials, network):
        account_id, post_id, platform_id = publish(name, credentials, signed_in, read, fetch, work_here)
        ids = {}
        for n, text in enumerate(FINE[:10] + BAD[:4]):
            ids[text] = network.add_reply(platform_id, text, author=f"parent{n}")
        # replies to replies, and one whose author has since deleted their account
        for text in FINE[10:14]:
            ids[text] = network.add_reply(ids[FINE[0]], text, author="grandparent")
        ids[BAD[4]] = network.add_reply(ids[FINE[1]], BAD[4], author="troll")
        ids[FINE[14]] = network.add_reply(platform_id, FINE[14], author_gone=True)

        read_now(signed_in("smt"), account_id, work_here)

        assert {text for text, reply_id in ids.items() if network.is_hidden(reply_id)} == set(BAD)
        seen = replies_of(read, post_id)
        assert len(seen) == 20 - (name == "bluesky")  # Bluesky shows a deleted author's reply as not found
        assert {r.text for r in seen if r.verdict == "hide" and r.state == "hidden"} == set(BAD)
        assert all(r.verdict == "fine" and r.state == "shown" for r in seen if r.text in FINE)

    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    body = mail.get_content()
    assert set(mail["To"].addresses[i].addr_spec for i in range(len(mail["To"].addresses))) == {
        "smt@demo.school", "head@demo.school"}
    assert f"/comments?post={post_id}" in body and "5 replies" in body
    for text in BAD:  # no reply's words in the e-mail, only a link
        assert text not in body and text not in mail["Subject"]
    assert "Amelia" not in body and "07700" not in body


def test_a_reply_seen_twice_is_judged_once_and_restoring_it_shows_it_again(
        amelia_on_roster, signed_in, read, fetch, work_here, smtp):
    smt = signed_in("smt")
    with EMULATORS["x"]() as (credentials, network):
        account_id, post_id, platform_id = publish("x", credentials, signed_in, read, fetch, work_here)
        bad = network.add_reply(platform_id, BAD[0])
        network.add_reply(platform_id, FINE[0])
        read_now(smt, account_id, work_here)
        assert network.is_hidden(bad)
        judged = len(audited(read, "reply_hide"))
        read_now(smt, account_id, work_here)  # X is asked only for what is new (since_id); nothing is judged again
        read_now(smt, account_id, work_here)
        assert len(replies_of(read, post_id)) == 2 and len(audited(read, "reply_hide")) == judged == 1

        reply = next(r for r in replies_of(read, post_id) if r.platform_id == bad)
        page = smt.get("/comments").get_data(as_text=True)
        assert f'id="reply-{reply.id}"' in page and "Restore" in page
        smt.post(f"/comments/{reply.id}/restore")
        work_here()
        assert not network.is_hidden(bad)
        restored = audited(read, "reply_restore_done")
        assert len(restored) == 1 and restored[0].actor.endswith("smt@demo.school")
        assert fetch(Reply, reply.id).state == "shown" and fetch(Reply, reply.id).reviewed_by_id is not None


@pytest.mark.parametrize("name", list(EMULATORS))
def test_a_rate_limit_while_reading_waits_for_its_reset_and_the_other_accounts_go_on(
        name, amelia_on_roster, signed_in, read, fetch, work_here, settings, smtp):
    other = "mastodon" if name != "mastodon" else "x"
    reset = int((utcnow() + timedelta(minutes=37)).timestamp())
    with EMULATORS[name]() as (credentials, network), EMULATORS[other]() as (other_credentials, other_network):
        account_id, _, platform_id = publish(name, credentials, signed_in, read, fetch, work_here)
        other_id, _, other_platform_id = publish(other, other_credentials, signed_in, read, fetch, work_here,
                                                 "The school fair is on Saturday")
        waiting = network.add_reply(platform_id, BAD[1])
        other_bad = other_network.add_reply(other_platform_id, BAD[1])
        network.rate_limit("read", reset)
        smt = signed_in("smt")
        smt.post(f"/comments/accounts/{account_id}/read")
        smt.post(f"/comments/accounts/{other_id}/read")
        work_here()
        assert other_network.is_hidden(other_bad) and not network.is_hidden(waiting)
        poll = fetch(ReplyPoll, account_id)
        assert at_reset(poll.next_at, reset) and "again after" in poll.note
        assert fetch(ReplyPoll, other_id).next_at < poll.next_at
        scheduled = Queue(queues.COMMENTS, connection=queues.connection(settings)).scheduled_job_registry
        assert queues.poll_job_id(account_id, poll.round) in scheduled.get_job_ids()


@pytest.mark.parametrize("name", list(EMULATORS))
def test_a_rate_limit_while_hiding_retries_at_its_reset_then_reports_could_not_hide(
        name, amelia_on_roster, signed_in, read, fetch, work_here, settings, smtp):
    reset = int((utcnow() + timedelta(minutes=20)).timestamp())
    with EMULATORS[name]() as (credentials, network):
        account_id, post_id, platform_id = publish(name, credentials, signed_in, read, fetch, work_here)
        bad = network.add_reply(platform_id, BAD[2])
        network.rate_limit("hide", reset)
        read_now(signed_in("smt"), account_id, work_here)
        assert not network.is_hidden(bad)
        reply = replies_of(read, post_id)[0]
        assert reply.action == "hide" and reply.state == "shown"
        assert at_reset(fetch(ReplyPoll, account_id).next_at, reset)
        scheduled = Queue(queues.COMMENTS, connection=queues.connection(settings)).scheduled_job_registry
        job_id = queues.reply_job_id(reply.id, reply.attempts)
        assert job_id in scheduled.get_job_ids()
        # the reset comes: the hide goes through
        queues.enqueue_reply_action(settings, reply.id, reply.attempts)
        scheduled.remove(job_id)
        work_here()
        assert network.is_hidden(bad) and fetch(Reply, reply.id).state == "hidden"


def test_a_hide_the_network_refuses_is_reported_to_smt_as_could_not_hide(
        amelia_on_roster, signed_in, read, fetch, work_here, smtp):
    with EMULATORS["x"]() as (credentials, network):
        account_id, post_id, platform_id = publish("x", credentials, signed_in, read, fetch, work_here)
        bad = network.add_reply(platform_id, BAD[2])
        network.fail("tweets/hidden", status=403, body=network.problem(
            403, "Forbidden", "You are not permitted to hide this reply."))
        read_now(signed_in("smt"), account_id, work_here)
        assert not network.is_hidden(bad)
    reply = replies_of(read, post_id)[0]
    assert reply.state == "failed" and reply.action is None and reply.error
    page = signed_in("smt").get("/comments").get_data(as_text=True)
    assert "Could not hide" in page and "Try hiding again" in page
    assert len(smtp.messages) == 1


def test_smt_is_mailed_at_most_once_a_post_every_ten_minutes(
        amelia_on_roster, signed_in, read, fetch, work_here, settings, smtp):
    smt = signed_in("smt")
    with EMULATORS["x"]() as (credentials, network):
        account_id, post_id, platform_id = publish("x", credentials, signed_in, read, fetch, work_here)
        network.add_reply(platform_id, BAD[0])
        read_now(smt, account_id, work_here)
        assert len(smtp.messages) == 1
        network.add_reply(platform_id, BAD[1])
        read_now(smt, account_id, work_here)
        assert len(smtp.messages) == 1  # the second waits for the ten minutes to pass
        alert = fetch(ReplyAlert, post_id)
        assert alert.pending
        scheduled = Queue(queues.MAIL, connection=queues.connection(settings)).scheduled_job_registry
        job_id = queues.alert_job_id(post_id, alert.sends)
        assert job_id in scheduled.get_job_ids()
        when = scheduled.get_scheduled_time(job_id)
        assert abs((when - (alert.sent_at + timedelta(minutes=10))).total_seconds()) < 2
        with session_for(settings.database_url) as session:  # ten minutes pass
            session.execute(update(ReplyAlert).values(sent_at=alert.sent_at - timedelta(minutes=10)))
            session.commit()
        scheduled.remove(job_id)
        queues.enqueue_alert(settings, post_id, alert.sends)
        work_here()
    assert len(smtp.messages) == 2 and "2 replies" in smtp.messages[1].get_content()


def test_the_mail_server_down_keeps_the_alert_for_a_retry(
        amelia_on_roster, signed_in, read, fetch, work_here, settings, smtp):
    smtp.refuse = 1
    with EMULATORS["x"]() as (credentials, network):
        account_id, post_id, platform_id = publish("x", credentials, signed_in, read, fetch, work_here)
        network.add_reply(platform_id, BAD[0])
        read_now(signed_in("smt"), account_id, work_here)
    assert smtp.messages == []
    alert = fetch(ReplyAlert, post_id)
    assert alert.pending and alert.sent_at is None  # rq retries the job; nothing is lost
    queues.enqueue_alert(settings, post_id, alert.sends)
    work_here()
    assert len(smtp.messages) == 1


@pytest.mark.parametrize("role", ["teacher", "consent_officer"])
def test_only_smt_and_the_head_see_and_act_on_the_comments_queue(role, signed_in):
    client = signed_in(role)
    assert client.get("/comments").status_code == 403
    for what in ("keep", "stand", "restore", "hide", "block", "concern"):
        assert client.post(f"/comments/1/{what}", {"why": "x"}).status_code == 403
    assert client.post("/comments/accounts/1/read").status_code == 403
    assert signed_in("smt").get("/comments").status_code == 200
    assert signed_in("head").get("/comments").status_code == 200
