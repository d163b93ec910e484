"""The post lifecycle: every state, every allowed move, and the rules that guard them.

Nothing else changes `Post.state`; an invalid move raises InvalidTransition.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from gateway.core.errors import Refused
from gateway.core.db import utcnow

DRAFT = "draft"
SUBMITTED = "submitted"
CHECKING = "checking"
AWAITING_REVIEW = "awaiting_review"
APPROVED = "approved"
SCHEDULED = "scheduled"
PUBLISHING = "publishing"
PUBLISHED = "published"
TAKEN_DOWN = "taken_down"
REJECTED = "rejected"
CHANGES_REQUESTED = "changes_requested"
WITHDRAWN = "withdrawn"
CHECK_FAILED = "check_failed"
PUBLISH_FAILED = "publish_failed"

STATE_NAMES = {
    DRAFT: "Draft",
    SUBMITTED: "Waiting for checks",
    CHECKING: "Being checked",
    AWAITING_REVIEW: "Waiting for senior leader review",
    APPROVED: "Approved, publishing soon",
    SCHEDULED: "Approved, scheduled",
    PUBLISHING: "Publishing",
    PUBLISHED: "Published",
    TAKEN_DOWN: "Taken down",
    REJECTED: "Rejected",
    CHANGES_REQUESTED: "Changes requested",
    WITHDRAWN: "Withdrawn",
    CHECK_FAILED: "Checks could not run",
    PUBLISH_FAILED: "Publishing failed",
}

# action -> (states it may start from, state it leads to)
TRANSITIONS = {
    "submit": ({DRAFT, CHANGES_REQUESTED, REJECTED, AWAITING_REVIEW, CHECK_FAILED}, SUBMITTED),
    "start_checks": ({SUBMITTED}, CHECKING),
    "requeue_checks": ({CHECKING}, SUBMITTED),
    "finish_checks": ({CHECKING}, AWAITING_REVIEW),
    "fail_checks": ({SUBMITTED, CHECKING}, CHECK_FAILED),
    "retry_checks": ({CHECK_FAILED}, SUBMITTED),
    "approve": ({AWAITING_REVIEW}, APPROVED),
    "schedule": ({AWAITING_REVIEW}, SCHEDULED),
    "reject": ({AWAITING_REVIEW}, REJECTED),
    "request_changes": ({AWAITING_REVIEW}, CHANGES_REQUESTED),
    "withdraw": ({DRAFT, SUBMITTED, CHECKING, AWAITING_REVIEW, CHANGES_REQUESTED, CHECK_FAILED, REJECTED}, WITHDRAWN),
    "start_publishing": ({APPROVED, SCHEDULED, PUBLISHING}, PUBLISHING),
    "finish_publishing": ({PUBLISHING}, PUBLISHED),
    "fail_publishing": ({APPROVED, SCHEDULED, PUBLISHING}, PUBLISH_FAILED),
    "retry_publishing": ({PUBLISH_FAILED}, APPROVED),
    "expire_approval": ({APPROVED, SCHEDULED, PUBLISH_FAILED}, AWAITING_REVIEW),
    "take_down": ({PUBLISHED}, TAKEN_DOWN),
    "recheck": ({CHECKING, AWAITING_REVIEW, APPROVED, SCHEDULED}, SUBMITTED),
    "cancel_approval": ({APPROVED, SCHEDULED}, AWAITING_REVIEW),
    "reschedule": ({APPROVED, SCHEDULED}, SCHEDULED),
    "release": ({APPROVED, SCHEDULED}, APPROVED),
}
EDITABLE = {DRAFT, CHANGES_REQUESTED, REJECTED, AWAITING_REVIEW, CHECK_FAILED}


PUBLISH_HORIZON = timedelta(days=366)


def publish_time_problem(when: datetime, now: datetime | None = None) -> str | None:
    """Plain words if a publish time is too far ahead to be meant (a typed year, say); None if it is fine."""
    if when - (now or utcnow()) > PUBLISH_HORIZON:
        return "The publish time is more than a year ahead; choose a time within the next twelve months."
    return None


class InvalidTransition(Refused):
    """The move is not allowed from the post's state, or a rule forbids it."""


def _move(post, action: str) -> None:
    sources, target = TRANSITIONS[action]
    if post.state not in sources:
        raise InvalidTransition(f"cannot {action.replace('_', ' ')}: the post is {STATE_NAMES[post.state].lower()}")
    post.state = target


def content_hash(text: str, images) -> str:
    """Hash of exactly what would be published: cleaned text, photo bytes' hashes and cleaned alt texts, in order."""
    h = hashlib.sha256(text.encode())
    for image in images:
        h.update(b"\0" + (image.clean_sha256 or "none").encode() + b"\0" + (image.clean_alt_text or "").encode())
    return h.hexdigest()


def submit(post, actor) -> None:
    if actor.id != post.author_id:
        raise InvalidTransition("only the author can submit a post")
    if not post.text.strip() and not post.images:
        raise InvalidTransition("a post needs some text or a photo")
    if post.account_id is None:
        raise InvalidTransition("choose the account to publish to")
    _move(post, "submit")
    post.submitted_at = utcnow()
    post.reason = post.error = post.checked_hash = None
    post.approved_hash = post.approved_by_id = post.approved_at = None


def start_checks(post, lease: timedelta) -> None:
    """A worker claims the checks; the lease says when the reconciler may assume it died."""
    _move(post, "start_checks")
    post.check_lease_until = utcnow() + lease


def requeue_checks(post) -> None:
    _move(post, "requeue_checks")
    post.check_attempt += 1
    post.check_lease_until = None


def finish_checks(post, cleaned_text: str) -> None:
    _move(post, "finish_checks")
    post.cleaned_text = cleaned_text
    post.checked_hash = content_hash(cleaned_text, post.images)
    post.check_lease_until = None


def fail_checks(post, error: str) -> None:
    _move(post, "fail_checks")
    post.error = error
    post.check_lease_until = None


def retry_checks(post) -> None:
    _move(post, "retry_checks")
    post.check_attempt += 1
    post.error = None


def approve(post, actor, now: datetime | None = None) -> None:
    """Approve the exact checked content; scheduled if it has a publish time in the future."""
    now = now or utcnow()
    if actor.id == post.author_id:
        raise InvalidTransition("nobody can approve their own post")
    if post.blocking:
        raise InvalidTransition("this post has problems that must be fixed before it can be approved")
    if post.checked_hash is None or post.checked_hash != content_hash(post.cleaned_text or "", post.images):
        raise InvalidTransition("the post changed after it was checked; it must be checked again")
    _move(post, "schedule" if post.publish_at and post.publish_at > now else "approve")
    post.approved_hash, post.approved_by_id, post.approved_at = post.checked_hash, actor.id, now


def reject(post, actor, reason: str) -> None:
    if not reason or not reason.strip():
        raise InvalidTransition("a rejection needs a reason for the author")
    _move(post, "reject")
    post.reason = reason.strip()
    post.finished_at = utcnow()


def request_changes(post, actor, note: str) -> None:
    if not note or not note.strip():
        raise InvalidTransition("say what needs to change")
    _move(post, "request_changes")
    post.reason = note.strip()


def withdraw(post, actor) -> None:
    if actor.id != post.author_id:
        raise InvalidTransition("only the author can withdraw a post")
    _move(post, "withdraw")
    post.finished_at = utcnow()


def start_publishing(post) -> None:
    """Only the exact approved content may go out."""
    if post.approved_hash is None or post.approved_hash != content_hash(post.cleaned_text or "", post.images):
        raise InvalidTransition("the post is not the one that was approved")
    _move(post, "start_publishing")


def finish_publishing(post) -> None:
    _move(post, "finish_publishing")
    post.finished_at = utcnow()


def fail_publishing(post, error: str) -> None:
    _move(post, "fail_publishing")
    post.error = error


def retry_publishing(post) -> None:
    _move(post, "retry_publishing")
    post.error = None


def approval_expired(post, valid_for: timedelta, now: datetime) -> bool:
    """Whether the approval lapsed: `valid_for` after approval, or after the publish time if that is later.

    Written as a difference of two datetimes, which always fits in a timedelta: adding `valid_for` to a
    publish time near the year 9999 would overflow.
    """
    start = max(filter(None, [post.approved_at, post.publish_at]))
    return now - start > valid_for


def expire_approval(post) -> None:
    _move(post, "expire_approval")
    post.approved_hash = post.approved_by_id = post.approved_at = None
    post.reason = "The approval expired before the post was published; it needs approving again."


def cancel_approval(post) -> None:
    """SMT stops an approved or scheduled post before it goes out; it waits for a decision again."""
    _move(post, "cancel_approval")
    post.approved_hash = post.approved_by_id = post.approved_at = None


def reschedule(post, when: datetime, now: datetime | None = None) -> None:
    """A new publish time for approved content: scheduled if it is in the future, due now otherwise."""
    problem = publish_time_problem(when, now)
    if problem:
        raise InvalidTransition(problem[0].lower() + problem[1:-1])
    _move(post, "reschedule" if when > (now or utcnow()) else "release")
    post.publish_at = when


def take_down(post, reason: str) -> None:
    if not reason or not reason.strip():
        raise InvalidTransition("a takedown needs a reason")
    _move(post, "take_down")
    post.reason = reason.strip()


def recheck(post, reason: str) -> None:
    """Something the checks depend on changed (a consent, a region obscured by hand): any approval lapses."""
    _move(post, "recheck")
    post.check_attempt += 1
    post.check_lease_until = None
    post.approved_hash = post.approved_by_id = post.approved_at = None
    post.reason = reason


def can_edit(post, actor) -> bool:
    """The author may revise a post before approval, while its photos' originals are still kept."""
    return actor.id == post.author_id and post.state in EDITABLE and all(i.original_key for i in post.images)
