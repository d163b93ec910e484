"""Deletes the originals of finished posts once the retention period has passed; only clean renditions stay."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from gateway.core.db import session_for, utcnow
from gateway.core.schools import School, as_school
from moderation import audit, lifecycle
from moderation.models import Post, PostImage

FINISHED = [lifecycle.PUBLISHED, lifecycle.TAKEN_DOWN, lifecycle.REJECTED, lifecycle.WITHDRAWN]
# An import preview is a copy of the MIS export: names, year groups and consent decisions of every pupil. It is kept
# only for the consent officer to read the preview and confirm it, which takes minutes; uploading the file again
# costs little, so an hour is enough and no copy lingers long after the officer has gone.
IMPORT_PREVIEW_LIFETIME = timedelta(hours=1)


def purge_originals(settings, now: datetime | None = None) -> list[int]:
    """Returns the ids of the posts whose originals were deleted, each on its school's retention."""
    with session_for(settings.database_url) as session:
        return [post_id for school in list(session.scalars(select(School.id)))
                for post_id in _purge(session, as_school(session, settings, school), now)]


def _purge(session, settings, now: datetime | None) -> list[int]:
    cutoff = (now or utcnow()) - timedelta(days=settings.retention_days)
    purged = []
    due = select(Post).where(
        Post.state.in_(FINISHED), Post.finished_at < cutoff,
        Post.images.any(PostImage.original_key.is_not(None)),
    )
    for post in session.scalars(due):
        count = 0
        for image in post.images:
            if image.original_key:
                # the remembered clean rendition shows every face uncovered, as the original does
                for key in [image.original_key, *image.memo_keys()]:
                    settings.media.delete(key)
                image.original_key, image.memos, count = None, {}, count + 1
        audit.record(session, "purge", "originals_deleted", f"post:{post.id}", photos=count,
                     retention_days=settings.retention_days)
        session.commit()
        purged.append(post.id)
    return purged


def purge_import_previews(settings, now: datetime | None = None) -> int:
    """Uploaded MIS files waiting for a confirmation that never came are deleted once IMPORT_PREVIEW_LIFETIME has
    passed; returns how many."""
    return settings.imports.delete_older_than((now or utcnow()) - IMPORT_PREVIEW_LIFETIME)
