"""The lifecycle of posts, publications and takedowns: every state, every move, and the rules that guard them.

Nothing else changes `Post.state`, `Publication.state` or `Takedown.state`; an invalid post move raises
InvalidTransition. Publications and takedowns are changed by workers that lock and re-read the row first, so
their moves record what happened rather than refuse.
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

# How a state is shown: a post the checks blocked waits for its author's changes, not for a review, so it is shown
# as such (its stored state stays AWAITING_REVIEW: consent given later re-checks it and may unblock it).
NEEDS_CHANGES = "needs_changes"
SHOWN_NAMES = {**STATE_NAMES, NEEDS_CHANGES: "Needs your changes", CHANGES_REQUESTED: "Needs your changes"}
# Each shown state in one plain sentence for the author, and what to do next.
STATE_SENTENCES = {
    DRAFT: ("Saved, not sent to anyone yet.", "Submit it when it is ready."),
    SUBMITTED: ("Waiting for the checks to start.", "Nothing to do: this takes seconds."),
    CHECKING: ("The photos and text are being checked.", "Nothing to do: the page shows each photo's progress."),
    AWAITING_REVIEW: ("Checked; a senior leader will review it.", "Nothing to do unless you want to change it."),
    NEEDS_CHANGES: ("The checks found problems that stop it being published.",
                    "Edit the post to fix the problems listed below, or withdraw it."),
    CHANGES_REQUESTED: ("A senior leader sent it back with changes to make.",
                        "Edit the post as they asked, then submit it again."),
    APPROVED: ("Approved; it is being published now.", "Nothing to do."),
    SCHEDULED: ("Approved; it will be published at its publish time.", "Nothing to do."),
    PUBLISHING: ("It is being published now.", "Nothing to do."),
    PUBLISHED: ("Published.", "Nothing to do; it is taken down if anyone's consent ends."),
    TAKEN_DOWN: ("Taken down from the school's accounts.", "Nothing to do; the reason is below."),
    REJECTED: ("A senior leader rejected it.", "Read the reason; you may edit it and submit it again."),
    WITHDRAWN: ("You withdrew it; it will not be published.", "Nothing to do."),
    CHECK_FAILED: ("The checks could not run, so it is held.", "Ask a senior leader to retry the checks."),
    PUBLISH_FAILED: ("Publishing failed; a senior leader has been shown why.", "Nothing to do; they will retry."),
}


def shown_state(post) -> str:
    """The state as people see it: a checked post with a blocking finding needs its author's changes."""
    return NEEDS_CHANGES if post.state == AWAITING_REVIEW and post.blocking else post.state


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

# A publication: one post on one account.
PUB_PENDING = "pending"  # due: a publish job will send it
PUB_PUBLISHING = "publishing"  # claimed by a publish job, which may be sending it now
PUB_UNKNOWN = "unknown"  # sent, but the platform's answer was lost: look before sending again
PUB_PUBLISHED = "published"
PUB_FAILED = "failed"  # given up; SMT may retry
PUB_CANCELLED = "cancelled"  # called off before it went out
PUB_REMOVED = "removed"  # taken down from the platform
PUB_UNSURE = (PUB_PUBLISHING, PUB_UNKNOWN)  # whether the platform has it is not known
PUB_GOING = (*PUB_UNSURE, PUB_PUBLISHED)  # on its way out, or out
PUB_MAYBE_LIVE = (*PUB_GOING, PUB_PENDING)  # what a takedown must look at

# A takedown: a published post that must come down.
TAKEDOWN_REQUIRED = "required"  # asked for by the registry; waits for SMT unless the school lets it run
TAKEDOWN_PENDING = "pending"  # a takedown job is removing it
TAKEDOWN_DONE = "done"  # every platform confirmed it gone
TAKEDOWN_FAILED = "failed"
TAKEDOWN_MANUAL = "manual"  # the platform cannot delete through its API: a person removes it by hand
TAKEDOWN_ENDS = (TAKEDOWN_DONE, TAKEDOWN_FAILED, TAKEDOWN_MANUAL)


PUBLISH_HORIZON = timedelta(days=366)


PAST_GRACE = timedelta(minutes=2)  # the form's times are to the minute, and the author takes a moment to submit


def publish_time_problem(when: datetime, now: datetime | None = None, past: bool = True) -> str | None:
    """Plain words if a publish time is too far ahead to be meant (a typed year, say), or, unless `past` is allowed
    (a senior leader's "publish now" is a reschedule to a time that has come), already gone; None if it is fine."""
    now = now or utcnow()
    if when - now > PUBLISH_HORIZON:
        return "The publish time is more than a year ahead; choose a time within the next twelve months."
    if not past and when < now - PAST_GRACE:
        return ("The publish time has already passed; choose a time from now on, or leave it empty to publish as "
                "soon as the post is approved.")
    return None


class InvalidTransition(Refused):
    """The move is not allowed from the post's state, or a rule forbids it."""


def _move(post, action: str) -> None:
    sources, target = TRANSITIONS[action]
    if post.state not in sources:
        raise InvalidTransition(f"cannot {action.replace('_', ' ')}: the post is {STATE_NAMES[post.state].lower()}")
    post.state = target


def content_hash(text: str, images) -> str:
    """Hash of exactly what would be published: cleaned text, photo bytes' hashes (each network's own rendition
    too) and cleaned alt texts, in order."""
    h = hashlib.sha256(text.encode())
    for image in images:
        h.update(b"\0" + (image.clean_sha256 or "none").encode() + b"\0" + (image.clean_alt_text or "").encode())
        for rendition in image.renditions:
            h.update(b"\0" + rendition.channel.encode() + b"=" + rendition.sha256.encode())
    return h.hexdigest()


def submit(post, actor) -> None:
    """The author sends the post to the checks: a new check attempt, and any earlier verdict lapses."""
    if actor.id != post.author_id:
        raise InvalidTransition("only the author can submit a post")
    if not post.text.strip() and not post.images:
        raise InvalidTransition("a post needs some text or a photo")
    if not post.accounts:
        raise InvalidTransition("choose the accounts to publish to")
    _move(post, "submit")
    post.check_attempt += 1
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
    if actor.id in (post.editor_ids or []):
        raise InvalidTransition("you changed its words, so another senior leader or the head must approve it")
    if post.blocking:
        raise InvalidTransition("this post has problems that must be fixed before it can be approved")
    if post.checked_hash is None or post.checked_hash != content_hash(post.cleaned_text or "", post.images):
        raise InvalidTransition("the post changed after it was checked; it must be checked again")
    _move(post, "schedule" if post.publish_at and post.publish_at > now else "approve")
    post.approved_hash, post.approved_by_id, post.approved_at = post.checked_hash, actor.id, now
    for pub in post.publications:  # a new approval makes the earlier failed or called-off ones due again
        if pub.state in (PUB_FAILED, PUB_CANCELLED):
            pub.state = PUB_PENDING


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
    """SMT tries again after a failure: the failed publications are due again."""
    _move(post, "retry_publishing")
    post.error = None
    for pub in post.publications:
        if pub.state == PUB_FAILED:
            pub.state = PUB_PENDING


def approval_expired(post, valid_for: timedelta, now: datetime) -> bool:
    """Whether the approval lapsed: `valid_for` after approval, or after the publish time if that is later.

    Written as a difference of two datetimes, which always fits in a timedelta: adding `valid_for` to a
    publish time near the year 9999 would overflow.
    """
    start = max(filter(None, [post.approved_at, post.publish_at]))
    return now - start > valid_for


def expire_approval(post) -> None:
    """The approval lapsed before anything went out: nothing is published until it is approved again."""
    _move(post, "expire_approval")
    post.approved_hash = post.approved_by_id = post.approved_at = None
    for pub in post.publications:
        if pub.state in (PUB_PENDING, PUB_FAILED):
            pub.state = PUB_CANCELLED
    post.reason = "The approval expired before the post was published; it needs approving again."


def cancel_approval(post) -> None:
    """SMT stops an approved or scheduled post before it goes out; it waits for a decision again."""
    _move(post, "cancel_approval")
    post.approved_hash = post.approved_by_id = post.approved_at = None
    for pub in post.publications:
        if pub.state == PUB_PENDING:
            pub.state = PUB_CANCELLED


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


def reviewer_edit(post, actor) -> None:
    """A senior leader changed the words of a post waiting for review: checked again, and they may not approve it."""
    if post.state != AWAITING_REVIEW:
        raise InvalidTransition(f"only a post waiting for review can be changed by a reviewer; this one is "
                                f"{STATE_NAMES[post.state].lower()}")
    recheck(post, f"{actor.name} changed its words; checked again. Someone else must approve it.")
    post.editor_ids = sorted({*(post.editor_ids or []), actor.id})


def can_edit(post, actor) -> bool:
    """The author may revise a post before approval, while its photos' originals are still kept."""
    return actor.id == post.author_id and post.state in EDITABLE and all(i.original_key for i in post.images)


# -- publications: moves made by the publish jobs, the reconciler and takedowns, on a locked row ---------------

def claim_publication(pub, lease: timedelta) -> None:
    """A publish job claims a pending publication before sending it; the lease says when the reconciler may
    assume the job died and look the post up."""
    pub.state, pub.attempts = PUB_PUBLISHING, pub.attempts + 1
    pub.lease_until = utcnow() + lease


def publication_unknown(pub, error: str, look_after: timedelta) -> None:
    """The platform's answer was lost: the post may be out. It is looked up after `look_after`, never resent blind."""
    pub.state, pub.error = PUB_UNKNOWN, error
    pub.lease_until = utcnow() + look_after


def requeue_publication(pub, error: str | None = None) -> None:
    """Nothing went out: the publication is due again, unclaimed; `error` says why, when there is news."""
    pub.state, pub.lease_until = PUB_PENDING, None
    if error is not None:
        pub.error = error


def publication_failed(pub, error: str) -> None:
    """Given up: SMT sees why and may retry (the post's own move is fail_publishing)."""
    pub.state, pub.error, pub.lease_until = PUB_FAILED, error, None


def publication_published(pub, platform_id: str, url: str | None) -> None:
    """Where the post went; the post is published once every one of its publications is."""
    pub.state, pub.platform_id, pub.platform_url = PUB_PUBLISHED, platform_id, url
    pub.published_at, pub.lease_until, pub.error = utcnow(), None, None
    if all(p.state == PUB_PUBLISHED for p in pub.post.publications):
        finish_publishing(pub.post)


def publication_removed(pub, platform_id: str) -> None:
    pub.state, pub.removed_at, pub.platform_id = PUB_REMOVED, utcnow(), platform_id


def cancel_publication(pub) -> None:
    """It never went out, and now never will."""
    pub.state = PUB_CANCELLED


# -- takedowns ---------------------------------------------------------------------------------------------

def start_takedown(takedown) -> None:
    """SMT asked for it, or the school lets a required takedown run without SMT: a job removes the post."""
    takedown.state = TAKEDOWN_PENDING


def end_takedown(takedown, outcome: str, error: str | None = None) -> None:
    """Done (every platform confirmed the post gone), failed, or left to a person (manual)."""
    if outcome not in TAKEDOWN_ENDS:
        raise ValueError(f"{outcome!r} is not how a takedown ends")  # a bug in the caller, not a refusal
    takedown.state, takedown.error = outcome, error
    takedown.done_at = utcnow() if outcome == TAKEDOWN_DONE else None
