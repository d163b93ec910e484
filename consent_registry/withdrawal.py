"""What follows when someone's photo consent changes: pending posts are checked again, published ones come down."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select

from consent_registry.models import Person, Takedown
from moderation import audit, lifecycle
from moderation.models import ImageFace, Post, PostImage

PENDING = [lifecycle.CHECKING, lifecycle.AWAITING_REVIEW, lifecycle.APPROVED, lifecycle.SCHEDULED]


@dataclass
class Consequences:
    rechecked: list[int] = field(default_factory=list)       # post ids sent back through the checks
    takedowns: list[int] = field(default_factory=list)       # post ids needing takedown

    def add(self, other: "Consequences") -> None:
        self.rechecked += [i for i in other.rechecked if i not in self.rechecked]
        self.takedowns += [i for i in other.takedowns if i not in self.takedowns]


def posts_featuring(session, person: Person, states) -> list[Post]:
    """Posts with a photo in which this person was recognised."""
    featuring = select(PostImage.post_id).join(ImageFace).where(ImageFace.person_id == person.id)
    query = select(Post).where(Post.id.in_(featuring), Post.state.in_(states)).order_by(Post.id)
    return list(session.scalars(query))


def _shown_where_ended(post: Post, person: Person, allowed: Callable[[str], bool]) -> bool:
    """Is the person visible on a network where their photo may no longer be shown?"""
    return any(face.person_id == person.id and not allowed(channel)
               for image in post.images for face in image.faces for channel in face.shown_on)


def after_photo_consent_ended(session, person: Person, by, reason: str,
                              allowed: Callable[[str], bool]) -> Consequences:
    """Pending posts go back through the checks (which now obscure the person); a published one needs a takedown
    where the person is visible on a network their consent no longer covers (allowed(channel) is False)."""
    result = Consequences()
    for post in posts_featuring(session, person, PENDING):
        lifecycle.recheck(post, f"Photo consent changed for someone in a photo ({reason}); checked again.")
        audit.record(session, by, "consent_changed_recheck", f"post:{post.id}", person=person.mis_id)
        result.rechecked.append(post.id)
    for post in posts_featuring(session, person, [lifecycle.PUBLISHED]):
        if not _shown_where_ended(post, person, allowed):
            continue
        if session.scalar(select(Takedown).where(Takedown.post_id == post.id, Takedown.person_id == person.id)):
            continue
        session.add(Takedown(post_id=post.id, person_id=person.id, reason=f"Photo consent ended for someone shown in it ({reason}).",
                             requested_by=audit.actor_label(by)))
        audit.record(session, by, "takedown_required", f"post:{post.id}", person=person.mis_id, reason=reason)
        result.takedowns.append(post.id)
    return result

