"""People who log in and the school's official accounts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text, select
from sqlalchemy.orm import Mapped, mapped_column, relationship

from gateway.core.db import Base, UTCDateTime, utcnow
from gateway.core.schools import SchoolOwned, register_child

TEACHER, SMT, HEAD, CONSENT_OFFICER, DPO = "teacher", "smt", "head", "consent_officer", "dpo"
SCHOOL_ROLES = (TEACHER, SMT, HEAD, CONSENT_OFFICER)  # the head gives these to the school's staff
ROLES = (*SCHOOL_ROLES, DPO)  # the trust's data protection officer belongs to no one school and reads every school's
ROLE_NAMES = {TEACHER: "Teacher", SMT: "Senior management", HEAD: "Headteacher", CONSENT_OFFICER: "Consent officer",
              DPO: "Trust data protection officer"}
# Those who approve, publish, change consent or read every school's records log in with a second factor; teachers
# may choose to.
SECOND_FACTOR_ROLES = (SMT, HEAD, CONSENT_OFFICER, DPO)


class User(SchoolOwned, Base):
    __tablename__ = "users"
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)  # None: the trust's

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))  # "" until the user chooses one through a set-up link
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    password_set_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # wrong passwords before it are forgiven
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted with the instance key
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None while enrolment is unconfirmed
    totp_last_step: Mapped[int | None] = mapped_column(Integer)  # a code is accepted once: only later steps after it
    notify: Mapped[str] = mapped_column(String(10), default="now")  # notices by e-mail: "now", or "digest" once a day
    digest_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def second_factor(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def needs_second_factor(self) -> bool:
        return self.role in SECOND_FACTOR_ROLES or self.second_factor

    @property
    def trust_wide(self) -> bool:
        """Of the trust, not of one school: their pages show every school's records, and they write none."""
        return self.role == DPO

    @property
    def can_audit(self) -> bool:
        return self.can_review or self.trust_wide

    @property
    def can_review(self) -> bool:
        return self.role in (SMT, HEAD)

    @property
    def can_admin(self) -> bool:
        return self.role == HEAD

    @property
    def can_keep_registry(self) -> bool:
        return self.role in (CONSENT_OFFICER, HEAD)

    @property
    def role_name(self) -> str:
        return ROLE_NAMES[self.role]

    # Flask-Login's protocol, kept here so the model needs no Flask import.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return str(self.id)


class Account(SchoolOwned, Base):
    """An official social media account of the school (policy §6: confirmed by the head)."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(20))
    handle: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    text_limit: Mapped[int] = mapped_column(Integer, default=280)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted with the instance key
    credentials_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    confirmed_by: Mapped[User | None] = relationship(foreign_keys=[confirmed_by_id])

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def label(self) -> str:
        return f"{self.handle} ({self.platform})"


class LoginSession(Base):
    """One log-in: the browser's cookie holds a random token whose hash is kept here, so it can be ended."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_why: Mapped[str | None] = mapped_column(String(40))
    address: Mapped[str] = mapped_column(String(64), default="")


class AccountLink(Base):
    """A one-time link by e-mail: "setup" for a new account's first password, "reset" for a forgotten one."""

    __tablename__ = "account_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    sealed_token: Mapped[bytes | None] = mapped_column(LargeBinary)  # encrypted until mailed, then forgotten
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class RecoveryCode(Base):
    """One of ten single-use codes that stand in for the authenticator app; only their hashes are kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(80))  # "salt$sha256"
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Notice(Base):
    """Something a member of staff is told, on their Notices page and by e-mail (at once, or in a daily digest).
    Its text names posts by number, never a pupil, and never holds a photo."""

    __tablename__ = "notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    post_id: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)       # for the page: may quote a senior leader's reason
    mailed: Mapped[str] = mapped_column(Text)     # for the e-mail: never a reason, which is free text
    link: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


register_child(Notice, lambda school: Notice.user_id.in_(select(User.id).where(User.school_id == school)))
