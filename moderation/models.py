"""Posts, their photos, findings and publications."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Integer, String, Table, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.db import Base, UTCDateTime, utcnow
from gateway.core.schools import SchoolOwned, register_child
from gateway.models import Account, User
from moderation import lifecycle


# The school's accounts a post goes to: one publication each once it is approved.
post_accounts = Table(
    "post_accounts", Base.metadata,
    Column("post_id", ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
    Column("account_id", ForeignKey("accounts.id"), primary_key=True),
)


class Post(SchoolOwned, Base):
    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text, default="")
    cleaned_text: Mapped[str | None] = mapped_column(Text)
    text_changes: Mapped[list] = mapped_column(JSON, default=list)  # what the checks changed, on the original
    links: Mapped[list] = mapped_column(JSON, default=list)  # each link with its verdict and reasons
    editor_ids: Mapped[list] = mapped_column(JSON, default=list)  # the senior leaders who changed its words
    state: Mapped[str] = mapped_column(String(30), default=lifecycle.DRAFT, index=True)
    publish_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    check_attempt: Mapped[int] = mapped_column(Integer, default=0)
    check_lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    checked_hash: Mapped[str | None] = mapped_column(String(64))
    approved_hash: Mapped[str | None] = mapped_column(String(64))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    author: Mapped[User] = relationship(foreign_keys=[author_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    accounts: Mapped[list[Account]] = relationship(secondary=post_accounts, order_by=Account.id)
    images: Mapped[list[PostImage]] = relationship(
        order_by="PostImage.position", cascade="all, delete-orphan", back_populates="post"
    )
    findings: Mapped[list[FindingRow]] = relationship(
        order_by="FindingRow.id", cascade="all, delete-orphan", back_populates="post"
    )
    publications: Mapped[list[Publication]] = relationship(back_populates="post", order_by="Publication.id")

    @property
    def blocking(self) -> list[FindingRow]:
        return [f for f in self.findings if f.severity == "block"]


class PostImage(Base):
    __tablename__ = "post_images"
    form_slot = None  # not stored: the box of the form a photo being added came from, named in its messages

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200))
    alt_text: Mapped[str] = mapped_column(Text, default="")
    clean_alt_text: Mapped[str | None] = mapped_column(Text)
    alt_changes: Mapped[list] = mapped_column(JSON, default=list)
    original_key: Mapped[str | None] = mapped_column(String(80))
    original_sha256: Mapped[str] = mapped_column(String(64))
    clean_key: Mapped[str | None] = mapped_column(String(80))
    clean_sha256: Mapped[str | None] = mapped_column(String(64))
    clean_format: Mapped[str | None] = mapped_column(String(10))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    manual_regions: Mapped[list] = mapped_column(JSON, default=list)
    progress: Mapped[str | None] = mapped_column(String(80))  # how far the running check has got with this photo
    # stage -> {"source", "value", "key"}: work of the last check to reuse while its inputs are unchanged; "key" is
    # the storage key of a rendition it kept (the clean one before any face is covered: purged with the original)
    memos: Mapped[dict] = mapped_column(JSON, default=dict)

    def memo_keys(self) -> list[str]:
        return [m["key"] for m in (self.memos or {}).values() if m.get("key")]

    post: Mapped[Post] = relationship(back_populates="images")
    faces: Mapped[list[ImageFace]] = relationship(
        order_by="ImageFace.id", cascade="all, delete-orphan", back_populates="image")
    renditions: Mapped[list[ImageRendition]] = relationship(
        order_by="ImageRendition.channel", cascade="all, delete-orphan", back_populates="image")

    def rendition_for(self, channel: str) -> tuple[str | None, str | None]:
        """(storage key, SHA-256) of what a network gets: its own rendition, or the clean one every other gets."""
        own = next((r for r in self.renditions if r.channel == channel), None)
        return (own.key, own.sha256) if own else (self.clean_key, self.clean_sha256)


class ImageRendition(Base):
    """A photo as one network gets it, where that differs from the clean rendition: a face is shown on it because
    the consent for that network covers it (consent_registry: per-channel consent)."""

    __tablename__ = "image_renditions"
    __table_args__ = (UniqueConstraint("image_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("post_images.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(80))
    sha256: Mapped[str] = mapped_column(String(64))

    image: Mapped[PostImage] = relationship(back_populates="renditions")


class ImageFace(Base):
    """A face found in a photo: the index of who appears in what. Never a template."""

    __tablename__ = "image_faces"

    id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(ForeignKey("post_images.id", ondelete="CASCADE"), index=True)
    box: Mapped[list] = mapped_column(JSON)  # [top, right, bottom, left] in the published rendition
    verdict: Mapped[str] = mapped_column(String(20))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"), index=True)
    distance: Mapped[float | None] = mapped_column(Float)
    obscured: Mapped[bool] = mapped_column(Boolean)       # covered in at least one rendition
    shown_on: Mapped[list] = mapped_column(JSON, default=list)  # the channels whose rendition shows it

    image: Mapped[PostImage] = relationship(back_populates="faces")


class FindingRow(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[dict] = mapped_column(JSON, default=dict)

    post: Mapped[Post] = relationship(back_populates="findings")


class Publication(Base):
    """One post on one account; published at most once."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("post_id", "account_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"))
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    state: Mapped[str] = mapped_column(String(20), default=lifecycle.PUB_PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    platform_id: Mapped[str | None] = mapped_column(String(100))
    platform_url: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reply_cursor: Mapped[str | None] = mapped_column(String(100))  # where the next read of its replies starts

    post: Mapped[Post] = relationship(back_populates="publications")
    account: Mapped[Account] = relationship()


def _posts_of(school: int):
    return select(Post.id).where(Post.school_id == school)


register_child(PostImage, lambda school: PostImage.post_id.in_(_posts_of(school)))
register_child(FindingRow, lambda school: FindingRow.post_id.in_(_posts_of(school)))
register_child(Publication, lambda school: Publication.post_id.in_(_posts_of(school)))
register_child(ImageRendition, lambda school: ImageRendition.image_id.in_(
    select(PostImage.id).where(PostImage.post_id.in_(_posts_of(school)))))
register_child(ImageFace, lambda school: ImageFace.image_id.in_(
    select(PostImage.id).where(PostImage.post_id.in_(_posts_of(school)))))
