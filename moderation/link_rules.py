"""The head's allow and block lists for links, kept in the database."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, UTCDateTime, utcnow
from gateway.core.errors import Refused
from gateway.core.schools import DEFAULT_SCHOOL, School, school_of
from gateway.core.settings import Settings, SettingsError
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
    """Refused, in plain words, for an entry that cannot be a rule."""
    if kind not in (ALLOW, BLOCK):
        raise Refused("a rule either allows or blocks")
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


def school_domains(settings: Settings) -> tuple[str, ...]:
    """The SCHOOL_DOMAINS setting's entries in canonical form. A SettingsError naming the setting for an
    entry that cannot be used: start-up calls this, so a bad entry stops the gateway before it serves."""
    try:
        return tuple(normalise_entry(entry) for entry in settings.school_domains)
    except Refused as exc:
        raise SettingsError(f"SCHOOL_DOMAINS: {exc}") from None


def link_policy(session, settings: Settings) -> LinkPolicy:
    """The lists from the database, plus the school's own domains from the settings."""
    found, school = rules(session), session.get(School, school_of(session) or DEFAULT_SCHOOL)
    return LinkPolicy(
        allow=tuple(r.entry for r in found if r.kind == ALLOW) + school_domains(settings)
        + tuple(normalise_entry(d) for d in (school.domains if school else ())),
        block=tuple(r.entry for r in found if r.kind == BLOCK),
        expand_shortened=settings.link_expand,
        safe_browsing_url=settings.safe_browsing_url, safe_browsing_key=settings.safe_browsing_key,
    )
