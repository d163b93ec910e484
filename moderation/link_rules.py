"""The head's allow and block lists for links, kept in the database."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, UTCDateTime, utcnow
from moderation import audit
from workers.checks.links import LinkPolicy, normalise_entry

ALLOW, BLOCK = "allow", "block"


class LinkRule(Base):
    __tablename__ = "link_rules"
    __table_args__ = (UniqueConstraint("kind", "entry"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    entry: Mapped[str] = mapped_column(String(300))
    added_by: Mapped[str] = mapped_column(String(300))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def add_rule(session, kind: str, entry: str, by) -> LinkRule:
    """Raises ValueError with a plain message for an entry that cannot be a rule."""
    if kind not in (ALLOW, BLOCK):
        raise ValueError("a rule either allows or blocks")
    entry = normalise_entry(entry)
    existing = session.scalar(select(LinkRule).where(LinkRule.entry == entry))
    if existing:
        if existing.kind == kind:
            return existing
        session.delete(existing)  # moving a host from one list to the other
    rule = LinkRule(kind=kind, entry=entry, added_by=audit.actor_label(by))
    session.add(rule)
    audit.record(session, by, f"link_{kind}ed", f"link:{entry}")
    return rule


def remove_rule(session, rule_id: int, by) -> None:
    rule = session.get(LinkRule, rule_id)
    if rule:
        audit.record(session, by, "link_rule_removed", f"link:{rule.entry}", kind=rule.kind)
        session.delete(rule)


def rules(session) -> list[LinkRule]:
    return list(session.scalars(select(LinkRule).order_by(LinkRule.kind, LinkRule.entry)))


def link_policy(session, settings) -> LinkPolicy:
    """The lists from the database, plus the school's own domains from the settings."""
    found = rules(session)
    return LinkPolicy(
        allow=tuple(r.entry for r in found if r.kind == ALLOW) + settings.school_domains,
        block=tuple(r.entry for r in found if r.kind == BLOCK),
        expand_shortened=settings.link_expand,
        safe_browsing_url=settings.safe_browsing_url, safe_browsing_key=settings.safe_browsing_key,
    )
