"""The senior leaders' use cases: decide on a checked post, retry what failed, reschedule or stop an approved
post, cover part of a photo by hand, and take a published post down.

Each moves the post through moderation.lifecycle, records the audit entry, commits, then queues what follows;
those that queue return False when the queue is out of reach (the work is saved and starts once it is back).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from consent_registry.models import Takedown
from gateway.core.errors import Refused
from gateway.models import Account
from gateway.platforms import PLATFORMS
from gateway.services import notices
from gateway.services.queueing import commit_then_enqueue
from moderation import audit, lifecycle
from moderation.models import Post, PostImage, Publication
from workers import queues


@dataclass(frozen=True)
class Preview:
    """The post as one of its accounts will show it: the text counted as that network counts it, and the photos."""

    account: Account
    network: str
    count: int
    limit: int
    photos: int
    max_photos: int
    long_alt_texts: tuple[str, ...]  # labels of the photos whose description is over the network's limit
    shown: tuple[str, ...]  # the people recognised whose faces this network's photos show (their consent covers it)
    covered: int            # faces covered in this network's photos

    @property
    def fits(self) -> bool:
        return self.count <= self.limit and self.photos <= self.max_photos and not self.long_alt_texts


def previews(post: Post, names: dict[int, str]) -> list[Preview]:
    """One Preview per account the post goes to, for the review page; `names` are the people's, by id."""
    text = post.cleaned_text if post.cleaned_text is not None else post.text
    faces = [f for i in post.images for f in i.faces]
    out = []
    for account in post.accounts:
        platform = PLATFORMS[account.platform]
        long_alts = tuple(i.label for i in post.images
                          if len(i.clean_alt_text or i.alt_text or "") > platform.max_alt_text)
        shown = tuple(sorted({names[f.person_id] for f in faces if account.platform in f.shown_on
                              and f.person_id in names}))
        covered = sum(f.obscured and account.platform not in f.shown_on for f in faces)
        out.append(Preview(account, platform.title, platform.text_length(text), account.text_limit,
                           len(post.images), platform.max_photos, long_alts, shown, covered))
    return out


def approve(session, settings, actor, post: Post) -> bool:
    """Approve the exact checked content for the post's accounts; it publishes now, or at its publish time."""
    lifecycle.approve(post, actor)
    started = {p.account_id for p in post.publications}
    session.add_all(Publication(post=post, account_id=account.id, state=lifecycle.PUB_PENDING)
                    for account in post.accounts if account.id not in started)
    audit.record(session, actor, "approve", f"post:{post.id}")
    notices.decided(session, post, actor)
    return _publish(session, settings, post, "the publishing of an approved post")


def reject(session, settings, actor, post: Post, reason: str) -> None:
    lifecycle.reject(post, actor, reason)
    audit.record(session, actor, "reject", f"post:{post.id}", reason=post.reason)
    notices.decided(session, post, actor)
    session.commit()


def request_changes(session, settings, actor, post: Post, note: str) -> None:
    """Back to the author with a note saying what to change."""
    lifecycle.request_changes(post, actor, note)
    audit.record(session, actor, "request_changes", f"post:{post.id}", reason=post.reason)
    notices.decided(session, post, actor)
    session.commit()


def retry_checks(session, settings, actor, post: Post) -> bool:
    lifecycle.retry_checks(post)
    audit.record(session, actor, "retry_checks", f"post:{post.id}")
    return _check(session, settings, post)


def retry_publishing(session, settings, actor, post: Post) -> bool:
    lifecycle.retry_publishing(post)
    audit.record(session, actor, "retry_publishing", f"post:{post.id}")
    return _publish(session, settings, post, "the retry of a failed publication")


def reschedule(session, settings, actor, post: Post, when: datetime) -> bool:
    """A new publish time for an approved post; its approval stands, as the content is unchanged."""
    lifecycle.reschedule(post, when)
    audit.record(session, actor, "rescheduled", f"post:{post.id}", publish_at=post.publish_at)
    return _publish(session, settings, post, "a rescheduled publication")


def cancel(session, settings, actor, post: Post) -> None:
    """Stop an approved or scheduled post going out; it waits for a decision again."""
    lifecycle.cancel_approval(post)
    audit.record(session, actor, "publishing_cancelled", f"post:{post.id}")
    session.commit()


def obscure_region(session, settings, actor, post: Post, image: PostImage, left: int, top: int, width: int,
                   height: int) -> bool:
    """Cover an area of a photo by hand (in pixels of the clean rendition); the post is checked again with it."""
    box = [max(0, top), min(image.width, left + width), min(image.height, top + height), max(0, left)]
    if box[1] <= box[3] or box[2] <= box[0]:
        raise Refused("that area is outside the photo")
    lifecycle.recheck(post, "A senior leader obscured part of a photo; checked again.")
    image.manual_regions = [*image.manual_regions, box]
    audit.record(session, actor, "region_obscured", f"post:{post.id}", photo=image.position, box=box)
    return _check(session, settings, post)


def edit(session, settings, actor, post: Post, text: str, alt_texts: dict[int, str]) -> bool:
    """A senior leader corrects the words (the text, photos' descriptions by position) of a post waiting for review.
    It is checked again, with the author's other choices unchanged, and someone else must approve it."""
    text = text.strip()
    alt_texts = {i.position: alt_texts[i.position].strip() for i in post.images if i.position in alt_texts}
    changed = (["text"] if text != post.text else []) + [
        f"description of photo {i.position}" for i in post.images if alt_texts.get(i.position, i.alt_text) != i.alt_text]
    if not changed:
        raise Refused("nothing was changed")
    if not text and not post.images:
        raise Refused("a post needs some text or a photo")
    if any(not alt_texts.get(i.position, i.alt_text) for i in post.images):
        raise Refused("every photo needs its description")
    lifecycle.reviewer_edit(post, actor)
    post.text = text
    for image in post.images:
        image.alt_text = alt_texts.get(image.position, image.alt_text)
    audit.record(session, actor, "edited_by_reviewer", f"post:{post.id}", changed=changed)
    notices.edited(session, post, actor)
    return _check(session, settings, post)


def take_down(session, settings, actor, post: Post, reason: str) -> bool:
    """Take a published post down, with a reason (policy §6.4); or start the takedowns the registry asked for."""
    reason = reason.strip()
    required = session.scalars(select(Takedown).where(
        Takedown.post_id == post.id, Takedown.state == lifecycle.TAKEDOWN_REQUIRED)).all()
    if post.state != lifecycle.PUBLISHED:
        raise Refused("only a published post can be taken down")
    if not required and not reason:
        raise Refused("say why it is being taken down")
    takedowns = required or [Takedown(post_id=post.id, reason=reason, requested_by=audit.actor_label(actor))]
    for takedown in takedowns:
        lifecycle.start_takedown(takedown)
        session.add(takedown)
    session.flush()
    audit.record(session, actor, "takedown_requested", f"post:{post.id}",
                 reason=reason or "; ".join(t.reason for t in required))

    def enqueue(conn) -> None:
        for takedown in takedowns:
            queues.enqueue_takedown(settings, takedown.id, takedown.attempts, None, conn)

    return commit_then_enqueue(session, settings, enqueue, f"the takedown of post {post.id}")


def _check(session, settings, post: Post) -> bool:
    """Commit, then queue the post's checks."""
    return commit_then_enqueue(
        session, settings, lambda conn: queues.enqueue_checks(settings, post.id, post.check_attempt, conn),
        f"the checks of post {post.id}")


def _publish(session, settings, post: Post, what: str) -> bool:
    """Commit, then queue the post's due publications: now, or at its publish time if it is scheduled."""
    def enqueue(conn) -> None:
        at = post.publish_at if post.state == lifecycle.SCHEDULED else None
        for pub in post.publications:
            if pub.state == lifecycle.PUB_PENDING:
                queues.enqueue_publish(settings, pub.id, pub.attempts, at, conn)

    return commit_then_enqueue(session, settings, enqueue, f"{what} (post {post.id})")
