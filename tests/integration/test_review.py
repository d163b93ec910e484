"""The review and post services through the web: a queue out of reach only delays the work, never loses it or
answers with an error page, and the reconciler sets the work going once the queue is back."""
import logging
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from gateway.services.queueing import QUEUE_DOWN
from gateway.web.app import create_app
from moderation import lifecycle
from moderation.models import Post
from tests.client import Client
from tests.helpers import post_id_of, submit
from workers.reconcile import reconcile

UNREACHABLE = "redis://127.0.0.1:1/0"  # nothing listens on port 1: the queue is out of reach


@pytest.fixture
def no_errors(caplog):
    """Fails the test if the server logged an error (an unhandled exception is logged as one)."""
    caplog.set_level(logging.WARNING)
    yield caplog
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


@pytest.fixture
def cut_off(settings, school):
    """cut_off(role): a client of an app whose queue is out of reach, logged in as the demo user with that role."""
    app = create_app(replace(settings, redis_url=UNREACHABLE))
    emails = {"teacher": "teacher@demo.school", "smt": "smt@demo.school"}
    return lambda role: Client(app).login(emails[role], school[role])


def local(days: int) -> str:
    return (datetime.now(timezone.utc) + timedelta(days=days)).astimezone().strftime("%Y-%m-%dT%H:%M")


def test_a_reschedule_with_the_queue_out_of_reach_is_saved_and_said_in_plain_words(
        login, cut_off, work, fetch, settings, no_errors):
    post_id = post_id_of(submit(login("teacher"), "Open evening", publish_at=local(2)))
    work()
    login("smt").post(f"/review/{post_id}/approve")
    assert fetch(Post, post_id).state == lifecycle.SCHEDULED

    smt = cut_off("smt")
    response = smt.post(f"/review/{post_id}/schedule", {"publish_at": local(3)}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Rescheduled." in page and QUEUE_DOWN in page
    post = fetch(Post, post_id)
    assert post.state == lifecycle.SCHEDULED and post.publish_at - datetime.now(timezone.utc) > timedelta(days=2)
    assert "is out of reach" in no_errors.text  # logged, for whoever looks after the server


def test_an_approval_with_the_queue_out_of_reach_is_published_once_the_reconciler_queues_it(
        login, cut_off, work, fetch, settings, no_errors):
    post_id = post_id_of(submit(login("teacher"), "Sports day"))
    work()
    smt = cut_off("smt")
    response = smt.post(f"/review/{post_id}/approve", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Approved." in page and QUEUE_DOWN in page
    assert fetch(Post, post_id).state == lifecycle.APPROVED
    assert fetch(Post, post_id).publications[0].state == lifecycle.PUB_PENDING
    assert reconcile(settings).publications_requeued == [fetch(Post, post_id).publications[0].id]
    work()
    assert fetch(Post, post_id).state == lifecycle.PUBLISHED


def test_a_submission_and_a_takedown_with_the_queue_out_of_reach_are_kept_and_done_later(
        cut_off, login, work, fetch, settings, no_errors):
    teacher = cut_off("teacher")
    response = submit(teacher, "Art week")
    post_id = post_id_of(response)
    assert QUEUE_DOWN in teacher.get(response.headers["Location"]).get_data(as_text=True)
    assert fetch(Post, post_id).state == lifecycle.SUBMITTED and fetch(Post, post_id).check_attempt == 1
    assert reconcile(settings).checks_requeued == [post_id]
    work()
    login("smt").post(f"/review/{post_id}/approve")
    work()
    assert fetch(Post, post_id).state == lifecycle.PUBLISHED

    page = cut_off("smt").post(f"/review/{post_id}/take-down", {"reason": "A parent asked us to"},
                               follow_redirects=True).get_data(as_text=True)
    assert "Taking it down now." in page and QUEUE_DOWN in page
    assert reconcile(settings).takedowns_started == [1]
    work()
    assert fetch(Post, post_id).state == lifecycle.TAKEN_DOWN


def test_refusals_are_shown_and_change_nothing(login, work, fetch, no_errors):
    post_id = post_id_of(submit(login("teacher"), "Science fair"))
    smt = login("smt")
    for url, data, words in [
        (f"/review/{post_id}/take-down", {"reason": "no"}, "only a published post can be taken down"),
        (f"/review/{post_id}/schedule", {"publish_at": "next week"}, "Give a date and time."),
        (f"/review/{post_id}/cancel", {}, "cannot cancel approval"),
    ]:
        response = smt.post(url, data)
        assert response.status_code == 303, url
        assert words in smt.get(response.headers["Location"]).get_data(as_text=True), url
    work()
    response = smt.post(f"/review/{post_id}/take-down", {"reason": ""})
    assert "Not done: only a published post can be taken down." in smt.get(
        response.headers["Location"]).get_data(as_text=True)
    assert fetch(Post, post_id).state == lifecycle.AWAITING_REVIEW
