"""Every allowed and every forbidden move of the post lifecycle, and the rules that guard them."""
from datetime import datetime, timedelta, timezone

import pytest

from consent_registry.models import Takedown
from gateway.core.db import utcnow
from gateway.models import SMT, TEACHER, Account, User
from moderation import lifecycle
from moderation.lifecycle import InvalidTransition
from moderation.models import FindingRow, Post, PostImage, Publication

AUTHOR = User(id=1, role=TEACHER, email="t@s.sch.uk", name="T")
LEADER = User(id=2, role=SMT, email="s@s.sch.uk", name="S")
ARCHIVE = Account(id=1, platform="archive", handle="demo_archive", url="https://demo.school/archive")
STATES = list(lifecycle.STATE_NAMES)


def make_post(state, **kw):
    post = Post(id=7, author_id=AUTHOR.id, accounts=[ARCHIVE], text="Sports day was great", state=state,
                check_attempt=0, images=[], findings=[], **kw)
    post.cleaned_text = post.text
    post.checked_hash = lifecycle.content_hash(post.text, [])
    if state in (lifecycle.APPROVED, lifecycle.SCHEDULED, lifecycle.PUBLISHING, lifecycle.PUBLISH_FAILED):
        post.approved_hash, post.approved_at = post.checked_hash, utcnow()
    return post


ACTIONS = {
    "submit": lambda p: lifecycle.submit(p, AUTHOR),
    "start_checks": lambda p: lifecycle.start_checks(p, timedelta(minutes=5)),
    "requeue_checks": lifecycle.requeue_checks,
    "finish_checks": lambda p: lifecycle.finish_checks(p, p.text),
    "fail_checks": lambda p: lifecycle.fail_checks(p, "boom"),
    "retry_checks": lifecycle.retry_checks,
    "approve": lambda p: lifecycle.approve(p, LEADER),
    "schedule": lambda p: (setattr(p, "publish_at", utcnow() + timedelta(days=1)), lifecycle.approve(p, LEADER)),
    "reject": lambda p: lifecycle.reject(p, LEADER, "off topic"),
    "request_changes": lambda p: lifecycle.request_changes(p, LEADER, "add alt text"),
    "withdraw": lambda p: lifecycle.withdraw(p, AUTHOR),
    "start_publishing": lifecycle.start_publishing,
    "finish_publishing": lifecycle.finish_publishing,
    "fail_publishing": lambda p: lifecycle.fail_publishing(p, "X said no"),
    "retry_publishing": lifecycle.retry_publishing,
    "expire_approval": lifecycle.expire_approval,
    "take_down": lambda p: lifecycle.take_down(p, "parent asked"),
    "recheck": lambda p: lifecycle.recheck(p, "consent withdrawn"),
    "cancel_approval": lifecycle.cancel_approval,
    "reschedule": lambda p: lifecycle.reschedule(p, utcnow() + timedelta(days=1)),
    "release": lambda p: lifecycle.reschedule(p, utcnow() - timedelta(minutes=1)),
}


def test_every_action_is_exercised():
    assert set(ACTIONS) == set(lifecycle.TRANSITIONS)


@pytest.mark.parametrize("state", STATES)
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_transition_table(action, state):
    sources, target = lifecycle.TRANSITIONS[action]
    post = make_post(state)
    if state in sources:
        ACTIONS[action](post)
        assert post.state == target
    else:
        with pytest.raises(InvalidTransition):
            ACTIONS[action](post)
        assert post.state == state


def test_nobody_approves_their_own_post():
    post = make_post(lifecycle.AWAITING_REVIEW)
    own = User(id=AUTHOR.id, role=SMT, email="x@s.sch.uk", name="X")
    with pytest.raises(InvalidTransition, match="own post"):
        lifecycle.approve(post, own)
    assert post.state == lifecycle.AWAITING_REVIEW


def test_a_blocking_finding_prevents_approval():
    post = make_post(lifecycle.AWAITING_REVIEW)
    post.findings = [FindingRow(code="photo_unreadable", severity="block", message="m", subject="photo 1")]
    with pytest.raises(InvalidTransition, match="problems"):
        lifecycle.approve(post, LEADER)


def test_review_findings_do_not_prevent_approval():
    post = make_post(lifecycle.AWAITING_REVIEW)
    post.findings = [FindingRow(code="x", severity="review", message="m", subject="text")]
    lifecycle.approve(post, LEADER)
    assert post.state == lifecycle.APPROVED and post.approved_by_id == LEADER.id


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_rejection_needs_a_reason(reason):
    post = make_post(lifecycle.AWAITING_REVIEW)
    with pytest.raises(InvalidTransition, match="reason"):
        lifecycle.reject(post, LEADER, reason)
    with pytest.raises(InvalidTransition):
        lifecycle.request_changes(post, LEADER, reason)
    assert post.state == lifecycle.AWAITING_REVIEW


def test_changes_requested_goes_back_to_the_author_who_resubmits():
    post = make_post(lifecycle.AWAITING_REVIEW)
    lifecycle.request_changes(post, LEADER, "Add the school hashtag")
    assert post.state == lifecycle.CHANGES_REQUESTED and post.reason == "Add the school hashtag"
    assert lifecycle.can_edit(post, AUTHOR) and not lifecycle.can_edit(post, LEADER)
    lifecycle.submit(post, AUTHOR)
    assert post.state == lifecycle.SUBMITTED and post.reason is None


def test_only_the_author_withdraws_or_submits():
    post = make_post(lifecycle.AWAITING_REVIEW)
    with pytest.raises(InvalidTransition):
        lifecycle.withdraw(post, LEADER)
    with pytest.raises(InvalidTransition):
        lifecycle.submit(make_post(lifecycle.DRAFT), LEADER)


def test_an_edit_after_checking_voids_the_check():
    post = make_post(lifecycle.AWAITING_REVIEW)
    post.text = post.cleaned_text = "Sports day was great, see you next year"
    with pytest.raises(InvalidTransition, match="checked again"):
        lifecycle.approve(post, LEADER)


def test_the_approval_covers_the_exact_photo_bytes_and_alt_text():
    image = PostImage(position=1, label="photo 1", alt_text="Children racing", clean_alt_text="Children racing",
                      clean_sha256="a" * 64)
    post = make_post(lifecycle.AWAITING_REVIEW)
    post.images = [image]
    post.checked_hash = lifecycle.content_hash(post.cleaned_text, post.images)
    lifecycle.approve(post, LEADER)
    image.clean_alt_text = "Amelia winning the race"
    with pytest.raises(InvalidTransition, match="not the one that was approved"):
        lifecycle.start_publishing(post)
    image.clean_alt_text, image.clean_sha256 = "Children racing", "b" * 64
    with pytest.raises(InvalidTransition):
        lifecycle.start_publishing(post)
    image.clean_sha256 = "a" * 64
    lifecycle.start_publishing(post)
    assert post.state == lifecycle.PUBLISHING


def test_a_future_publish_time_schedules_and_a_past_one_approves():
    later = make_post(lifecycle.AWAITING_REVIEW, publish_at=utcnow() + timedelta(hours=2))
    lifecycle.approve(later, LEADER)
    assert later.state == lifecycle.SCHEDULED
    past = make_post(lifecycle.AWAITING_REVIEW, publish_at=utcnow() - timedelta(hours=2))
    lifecycle.approve(past, LEADER)
    assert past.state == lifecycle.APPROVED


def test_check_and_publish_failures_are_retryable():
    post = make_post(lifecycle.CHECKING)
    lifecycle.fail_checks(post, "the worker crashed")
    assert post.state == lifecycle.CHECK_FAILED and post.error
    lifecycle.retry_checks(post)
    assert post.state == lifecycle.SUBMITTED and post.error is None and post.check_attempt == 1
    post = make_post(lifecycle.PUBLISHING)
    lifecycle.fail_publishing(post, "duplicate content")
    lifecycle.retry_publishing(post)
    assert post.state == lifecycle.APPROVED


def test_an_expired_approval_must_be_given_again():
    post = make_post(lifecycle.APPROVED)
    valid_for = timedelta(hours=72)
    assert not lifecycle.approval_expired(post, valid_for, post.approved_at + valid_for)
    assert lifecycle.approval_expired(post, valid_for, post.approved_at + valid_for + timedelta(seconds=1))
    lifecycle.expire_approval(post)
    assert post.state == lifecycle.AWAITING_REVIEW and post.approved_hash is None
    with pytest.raises(InvalidTransition):
        lifecycle.start_publishing(post)


def test_an_empty_post_cannot_be_submitted():
    post = make_post(lifecycle.DRAFT)
    post.text = ""
    with pytest.raises(InvalidTransition, match="text or a photo"):
        lifecycle.submit(post, AUTHOR)


def test_a_publish_time_near_the_end_of_the_calendar_cannot_overflow_the_expiry():
    post = make_post(lifecycle.SCHEDULED)
    post.publish_at = datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)
    assert not lifecycle.approval_expired(post, timedelta(hours=72), utcnow())


def test_a_publish_time_more_than_a_year_ahead_is_refused_in_plain_words():
    now = utcnow()
    assert lifecycle.publish_time_problem(now + timedelta(days=300), now) is None
    assert "more than a year ahead" in lifecycle.publish_time_problem(now + timedelta(days=400), now)
    post = make_post(lifecycle.APPROVED)
    with pytest.raises(InvalidTransition, match="more than a year ahead"):
        lifecycle.reschedule(post, datetime(9999, 12, 31, tzinfo=timezone.utc), now)
    assert post.state == lifecycle.APPROVED


def test_submitting_starts_a_new_check_attempt():
    post = make_post(lifecycle.DRAFT)
    lifecycle.submit(post, AUTHOR)
    assert post.check_attempt == 1
    post.state = lifecycle.CHANGES_REQUESTED  # sent back to the author, who submits again
    lifecycle.submit(post, AUTHOR)
    assert post.check_attempt == 2


def publications(post, *states):
    return [Publication(id=n, account_id=n, state=state, attempts=0, post=post) for n, state in enumerate(states, 1)]


def test_a_new_approval_makes_failed_and_cancelled_publications_due_again():
    post = make_post(lifecycle.AWAITING_REVIEW)
    publications(post, lifecycle.PUB_FAILED, lifecycle.PUB_CANCELLED, lifecycle.PUB_PENDING)
    lifecycle.approve(post, LEADER)
    assert [p.state for p in post.publications] == [lifecycle.PUB_PENDING] * 3


def test_retrying_publishing_makes_only_failed_publications_due_again():
    post = make_post(lifecycle.PUBLISH_FAILED)
    publications(post, lifecycle.PUB_FAILED, lifecycle.PUB_CANCELLED)
    lifecycle.retry_publishing(post)
    assert [p.state for p in post.publications] == [lifecycle.PUB_PENDING, lifecycle.PUB_CANCELLED]


def test_cancelling_or_expiring_an_approval_calls_off_what_has_not_gone_out():
    post = make_post(lifecycle.SCHEDULED)
    publications(post, lifecycle.PUB_PENDING, lifecycle.PUB_FAILED)
    lifecycle.cancel_approval(post)
    assert [p.state for p in post.publications] == [lifecycle.PUB_CANCELLED, lifecycle.PUB_FAILED]
    post = make_post(lifecycle.APPROVED)
    publications(post, lifecycle.PUB_PENDING, lifecycle.PUB_FAILED)
    lifecycle.expire_approval(post)
    assert [p.state for p in post.publications] == [lifecycle.PUB_CANCELLED] * 2


def test_a_publication_is_claimed_then_unknown_requeued_failed_or_published():
    post = make_post(lifecycle.PUBLISHING)
    first, second = publications(post, lifecycle.PUB_PENDING, lifecycle.PUB_PENDING)
    lifecycle.claim_publication(first, timedelta(seconds=30))
    assert first.state == lifecycle.PUB_PUBLISHING and first.attempts == 1 and first.lease_until > utcnow()
    lifecycle.publication_unknown(first, "timed out", timedelta(seconds=60))
    assert first.state == lifecycle.PUB_UNKNOWN and first.error == "timed out"
    lifecycle.requeue_publication(first)
    assert (first.state, first.lease_until, first.error) == (lifecycle.PUB_PENDING, None, "timed out")
    lifecycle.requeue_publication(first, "rate limited")
    assert first.error == "rate limited"
    lifecycle.publication_failed(second, "duplicate content")
    assert (second.state, second.error) == (lifecycle.PUB_FAILED, "duplicate content")
    lifecycle.publication_published(first, "123", "https://x.com/s/123")
    assert first.state == lifecycle.PUB_PUBLISHED and first.error is None and first.published_at
    assert post.state == lifecycle.PUBLISHING  # not until every publication is out
    second.state = lifecycle.PUB_PUBLISHING
    lifecycle.publication_published(second, "124", None)
    assert post.state == lifecycle.PUBLISHED


def test_a_takedown_starts_and_ends_done_failed_or_by_hand():
    takedown = Takedown(post_id=7, reason="consent ended", requested_by="test", state=lifecycle.TAKEDOWN_REQUIRED)
    lifecycle.start_takedown(takedown)
    assert takedown.state == lifecycle.TAKEDOWN_PENDING
    lifecycle.end_takedown(takedown, lifecycle.TAKEDOWN_MANUAL, "remove it by hand")
    assert (takedown.state, takedown.error, takedown.done_at) == (lifecycle.TAKEDOWN_MANUAL, "remove it by hand", None)
    lifecycle.end_takedown(takedown, lifecycle.TAKEDOWN_DONE)
    assert takedown.state == lifecycle.TAKEDOWN_DONE and takedown.done_at and takedown.error is None
    with pytest.raises(ValueError):
        lifecycle.end_takedown(takedown, lifecycle.TAKEDOWN_PENDING)
