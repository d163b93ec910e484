"""The authors' use cases: write a post, revise it, send it to the checks, withdraw it.

A draft is saved with every valid part of the form even when other parts have problems; it goes to the checks
only once it has none. A new post whose submission has problems is not created at all: its photos are held for the
author's next try (gateway.services.held). Views and commands parse their input into a PostForm and show what comes
back.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from gateway.core.errors import Problem, Refused
from gateway.models import Account
from gateway.platforms import PLATFORMS
from gateway.services.held import forget, hold
from gateway.services.queueing import commit_then_enqueue
from moderation import audit, lifecycle
from moderation.models import Post, PostImage
from workers import queues
from workers.checks.photos import PhotoLimits, screen


@dataclass(frozen=True)
class NewPhoto:
    """A photo added in the form: `data` is at most the size limit plus one byte; `size` is the whole upload's."""
    slot: int  # its field in the form (photo_1, photo_2, ...), which the messages number it by
    filename: str
    data: bytes
    size: int
    alt_text: str
    held: str = ""  # the token of the copy held since the author's last try, when it came from there


@dataclass
class PostForm:
    """The author's form, parsed."""
    text: str
    account_ids: list[int]
    publish_at: datetime | None
    alt_texts: dict[int, str] = field(default_factory=dict)  # photo id -> alt text, for the photos it names
    removed: set[int] = field(default_factory=set)  # ids of the photos to remove
    photos: list[NewPhoto] = field(default_factory=list)
    extra_files: list[str] = field(default_factory=list)  # names of files sent where the form has no photo box
    problems: list[str] = field(default_factory=list)  # what could not be read (a date that is not a date)


@dataclass(frozen=True)
class Saved:
    post: Post | None  # None: a new post with nothing in it, not saved
    problems: list[str]  # saved as a draft and not submitted, because of these
    submitted: bool = False
    queued: bool = True  # False: submitted, but the queue is out of reach; the reconciler queues the checks
    held: dict[int, tuple[str, str]] = field(default_factory=dict)  # slot -> (token, file name): photos kept


def confirmed_accounts(session) -> list[Account]:
    """The accounts a post may go to: those the head confirmed."""
    return list(session.scalars(select(Account).where(Account.confirmed_at.is_not(None)).order_by(Account.handle)))


def check_editable(post: Post, actor) -> None:
    """Refused unless the actor may revise the post now."""
    if not lifecycle.can_edit(post, actor):
        raise Refused(f"This post cannot be changed now: it is {lifecycle.STATE_NAMES[post.state].lower()}.")


def save(session, settings, actor, post: Post | None, form: PostForm, submit: bool) -> Saved:
    """Save a new post (`post` None) or revise one; with `submit`, send it to the checks if it has no problems."""
    if post is not None:
        check_editable(post, actor)
    is_new = post is None
    post = post or Post(author_id=actor.id, state=lifecycle.DRAFT, images=[])
    problems = [*form.problems, *_apply(session, settings, post, form)]
    if submit:
        problems += [Problem(f"Describe {image.label} (its alt text, read aloud to people who cannot see it) before "
                             "submitting.", _alt_field(image)) for image in post.images if not image.alt_text.strip()]
    if is_new and (submit and problems or not post.text and not post.images):
        return _nothing_saved(session, settings, actor, post, form, problems)
    if is_new:
        session.add(post)
    session.flush()
    audit.record(session, actor, "post_saved", f"post:{post.id}", photos=len(post.images))
    if problems or not submit:
        session.commit()
        _forget_held(settings, form)
        return Saved(post, problems)
    was_checked = post.state == lifecycle.AWAITING_REVIEW
    try:
        lifecycle.submit(post, actor)
    except lifecycle.InvalidTransition as exc:
        session.commit()  # the draft is kept
        _forget_held(settings, form)
        return Saved(post, [f"Not submitted: {exc}."])
    audit.record(session, actor, "resubmitted" if was_checked else "submitted", f"post:{post.id}")
    queued = commit_then_enqueue(
        session, settings, lambda conn: queues.enqueue_checks(settings, post.id, post.check_attempt, conn),
        f"the checks of post {post.id}")
    _forget_held(settings, form)
    return Saved(post, [], submitted=True, queued=queued)


def _nothing_saved(session, settings, actor, post: Post, form: PostForm, problems: list[str]) -> Saved:
    """A new post that cannot be submitted is not created; its acceptable photos are held for the next try, each in
    its own slot, so the form comes back exactly as it was."""
    session.rollback()
    for image in post.images:
        settings.media.delete(image.original_key)
    limits, held = PhotoLimits.from_settings(settings), {}
    for photo in form.photos:
        if not screen(photo.data, photo.filename, limits, size=photo.size):
            held[photo.slot] = (photo.held or hold(settings, actor.id, photo.filename, photo.data), photo.filename)
    return Saved(None, problems, held=held)


def _alt_field(image: PostImage) -> str:
    """The form field holding a photo's description: its own once saved, else the box it was added in."""
    return f"alt_{image.id}" if image.id is not None else f"alt_new_{image.form_slot}"


def _forget_held(settings, form: PostForm) -> None:
    for photo in form.photos:
        if photo.held:
            forget(settings, photo.held)


def withdraw(session, settings, actor, post: Post) -> None:
    """The author takes the post back before approval; it is never published."""
    lifecycle.withdraw(post, actor)
    audit.record(session, actor, "withdrawn", f"post:{post.id}")
    session.commit()


def _apply(session, settings, post: Post, form: PostForm) -> list[str]:
    """Copy the form into the post; keep every valid part even when other parts have problems."""
    problems: list[str] = []
    post.text = form.text
    accounts = {a.id: a for a in confirmed_accounts(session)}
    post.accounts = [accounts[i] for i in dict.fromkeys(form.account_ids) if i in accounts]
    if not post.accounts:
        problems.append(Problem("Choose the accounts to publish to." if accounts else
                                "There is no confirmed account to publish to yet; ask the headteacher to confirm one.",
                                "accounts"))
    post.publish_at = form.publish_at
    if form.publish_at:
        problem = lifecycle.publish_time_problem(form.publish_at, past=False)
        if problem:
            problems.append(Problem(problem, "publish_at"))
            post.publish_at = None
    _apply_photos(settings, post, form, problems)
    if not post.text and not post.images:
        problems.append(Problem("Write some text or add a photo: the post is empty.", "text"))
    for account in post.accounts:
        count, limit = PLATFORMS[account.platform].text_length(post.text), account.text_limit
        if count > limit:
            problems.append(Problem(f"The text is {count} characters as {account.label} counts them; "
                                    f"the limit is {limit}. Shorten it by {count - limit}.", "text"))
    return problems


def _apply_photos(settings, post: Post, form: PostForm, problems: list[str]) -> None:
    """Remove, re-describe and add photos; a photo that fails the screen is left out, in the check's own words."""
    keep = []
    for image in post.images:
        if image.id in form.removed:
            for key in [image.original_key, *image.memo_keys()]:
                settings.media.delete(key)
            continue
        image.alt_text = form.alt_texts.get(image.id, image.alt_text).strip()
        keep.append(image)
    post.images = keep
    limits, max_photos, kept = PhotoLimits.from_settings(settings), settings.max_photos, len(post.images)
    left_out = list(form.extra_files)
    for photo in form.photos:
        if len(post.images) >= max_photos:
            left_out.append(photo.filename)
            continue
        name = photo.filename[-80:]
        label = f"photo {kept + photo.slot} ({name})"  # numbered as the form shows it
        found = screen(photo.data, label, limits, size=photo.size)
        problems += [Problem(p.message[0].upper() + p.message[1:], f"photo_{photo.slot}") for p in found]
        if found:
            continue
        post.images.append(PostImage(
            position=len(post.images) + 1, label=f"photo {len(post.images) + 1} ({name})", alt_text=photo.alt_text,
            original_key=settings.media.put(photo.data),
            original_sha256=hashlib.sha256(photo.data).hexdigest(),
        ))
        post.images[-1].form_slot = photo.slot
    if left_out:
        problems.append(_too_many_photos(max_photos, left_out))
    for position, image in enumerate(post.images, 1):
        image.position = position


def _too_many_photos(max_photos: int, filenames: list[str]) -> str:
    """What the author is told of the photos beyond the limit: how many, and which, so none is lost unnoticed."""
    more = f"{len(filenames)} more {'was' if len(filenames) == 1 else 'were'} sent"
    return (f"A post can have at most {max_photos} photos; {more} ({', '.join(n[-80:] for n in filenames)}) "
            "and not added.")
