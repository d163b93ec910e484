"""The append-only audit log: every entry carries the hash of the one before it."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import JSON, Integer, String, and_, false, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from gateway.core.db import Base, UTCDateTime, utcnow
from gateway.core.schools import ALL_SCHOOLS, School, register_child, school_of

GENESIS = "0" * 64


class AuditEntry(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(300))
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject: Mapped[str] = mapped_column(String(100), index=True)
    details: Mapped[dict] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    school_id: Mapped[int | None] = mapped_column(Integer, index=True)  # None: written for the whole trust


class AuditHead(Base):
    """A single row holding the newest entry: appending locks it, so the chain never forks."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


def _digest(prev_hash, seq, at, actor, action, subject, details, school=None) -> str:
    """The entry's hash; its school is hashed too, when it has one (entries from before schools have none)."""
    body = json.dumps(
        [prev_hash, seq, at.isoformat(timespec="microseconds"), actor, action, subject, details,
         *([school] if school is not None else [])],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(body.encode()).hexdigest()


# An entry written outside any school (a maintenance round, a command without --school) is every school's while the
# installation has one school, as before schools came; in a trust it is the trust's alone.
register_child(AuditEntry, lambda school: or_(AuditEntry.school_id == school, and_(
    AuditEntry.school_id.is_(None), select(func.count(School.id)).scalar_subquery() == 1)))


def actor_label(user) -> str:
    """How an entry names who acted: the user's id and e-mail, or the system part that did it."""
    return user if isinstance(user, str) else f"user:{user.id} {user.email}"


def record(session: Session, actor, action: str, subject: str, school: int | None = None, **details) -> AuditEntry:
    """Append an entry in the caller's transaction, as the session's school's, or `school`'s when a session of every
    school (a maintenance round, a log-in) acts on one school's record."""
    head = session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update()).scalar_one_or_none()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    at = utcnow()
    seq = head.seq + 1
    label = actor_label(actor)
    details = json.loads(json.dumps(details, default=str))
    school = school_of(session) if school_of(session) is not None else school
    entry = AuditEntry(
        seq=seq, at=at, actor=label, action=action, subject=subject, details=details, prev_hash=head.hash,
        hash=_digest(head.hash, seq, at, label, action, subject, details, school), school_id=school,
    )
    session.add(entry)
    head.seq, head.hash = seq, entry.hash
    session.flush()
    return entry


@dataclass
class Verification:
    ok: bool
    entries: int
    problem: str = ""


def verify(session: Session) -> Verification:
    """Recompute the chain; any edited, inserted or deleted entry breaks it."""
    prev, expected_seq, count = GENESIS, 1, 0
    for e in session.execute(select(AuditEntry).order_by(AuditEntry.seq).execution_options(**{ALL_SCHOOLS: True})
                             ).scalars():
        if e.seq != expected_seq:
            return Verification(False, count, f"entry {expected_seq} is missing (next is {e.seq})")
        if e.prev_hash != prev:
            return Verification(False, count, f"entry {e.seq} does not follow entry {e.seq - 1}")
        if _digest(prev, e.seq, e.at, e.actor, e.action, e.subject, e.details, e.school_id) != e.hash:
            return Verification(False, count, f"entry {e.seq} ({e.action} {e.subject}) was changed")
        prev, expected_seq, count = e.hash, e.seq + 1, count + 1
    head = session.get(AuditHead, 1)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS)
    if (head_seq, head_hash) != (count, prev):
        return Verification(False, count, f"the log ends at entry {count} but entry {head_seq} was written")
    return Verification(True, count)


@dataclass(frozen=True)
class Filters:
    """What the audit viewer narrows the log to; each empty part narrows nothing."""

    who: str = ""             # part of the actor's label (their e-mail) or of their name (names: user id -> name)
    what: str = ""            # an action, exactly
    post: int | None = None   # the post's id
    person: str = ""          # a person's MIS id
    since: date | None = None
    until: date | None = None  # inclusive

    def any(self) -> bool:
        return any((self.who, self.what, self.post, self.person, self.since, self.until))


def search(session: Session, filters: Filters, names: dict[int, str], limit: int | None = 300) -> list[AuditEntry]:
    """The newest entries matching `filters` (all of them with limit None)."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc())
    if filters.who:
        who = filters.who.strip().lower()
        named = [f"user:{uid} " for uid, name in names.items() if who in name.lower()]
        query = query.where(AuditEntry.actor.ilike(f"%{who}%") | _starts_with_any(named))
    if filters.what:
        query = query.where(AuditEntry.action == filters.what)
    if filters.post is not None:
        query = query.where(AuditEntry.subject == f"post:{filters.post}")
    if filters.person:
        query = query.where(AuditEntry.subject == f"person:{filters.person.strip()}")
    if filters.since:
        query = query.where(AuditEntry.at >= datetime.combine(filters.since, time.min, timezone.utc))
    if filters.until:
        query = query.where(AuditEntry.at < datetime.combine(filters.until + timedelta(days=1), time.min, timezone.utc))
    return list(session.scalars(query.limit(limit) if limit else query))


def _starts_with_any(prefixes: list[str]):
    return or_(*(AuditEntry.actor.startswith(p) for p in prefixes)) if prefixes else false()


def actions(session: Session) -> list[str]:
    """Every action the log holds, for the viewer's choice of "what"."""
    return sorted(session.scalars(select(AuditEntry.action).distinct()))
