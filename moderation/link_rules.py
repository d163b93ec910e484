"""The head's allow and block lists for links, kept in the database."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint, func, or_, select
from sqlalchemy.orm import Mapped, mapped_column

from gateway.core.db import Base, UTCDateTime, utcnow
from gateway.core.errors import Refused
from gateway.core.schools import ALL_SCHOOLS, School, register_child, school_of
from gateway.core.settings import Settings, SettingsError
from moderation import audit
from workers.checks.links import LinkPolicy, normalise_entry

ALLOW, BLOCK = "allow", "block"


class LinkRule(Base):
    """A rule of one school's lists, or of the trust's (school_id None), which every school's posts follow."""
    __tablename__ = "link_rules"
    __table_args__ = (UniqueConstraint("school_id", "entry", name="uq_link_rules_school_id_entry"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    entry: Mapped[str] = mapped_column(String(300))
    added_by: Mapped[str] = mapped_column(String(300))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


register_child(LinkRule, lambda school: or_(LinkRule.school_id == school, LinkRule.school_id.is_(None)))


def add_rule(session, kind: str, entry: str, by) -> LinkRule:
    """A rule of the session's school, or of the trust for a session of every school. Refused, in plain words, for
    an entry that cannot be a rule, and for changing the trust's rule from one school."""
    if kind not in (ALLOW, BLOCK):
        raise Refused("a rule either allows or blocks")
    entry, school = normalise_entry(entry), school_of(session)
    same = select(LinkRule).where(LinkRule.entry == entry)
    existing = session.scalar(same.where(LinkRule.school_id.is_(None)))
    if existing is not None:
        _may_change(session, existing)
    elif school is not None:
        existing = session.scalar(same.where(LinkRule.school_id == school))
    if existing:
        if existing.kind == kind:
            return existing
        session.delete(existing)  # moving a host from one list to the other
    rule = LinkRule(kind=kind, entry=entry, added_by=audit.actor_label(by), school_id=school)
    session.add(rule)
    audit.record(session, by, f"link_{kind}ed", f"link:{entry}")
    return rule


def remove_rule(session, rule_id: int, by) -> None:
    rule = session.get(LinkRule, rule_id)
    if rule:
        _may_change(session, rule)
        audit.record(session, by, "link_rule_removed", f"link:{rule.entry}", kind=rule.kind)
        session.delete(rule)


def several_schools(session) -> bool:
    return session.scalar(select(func.count(School.id)).execution_options(**{ALL_SCHOOLS: True})) > 1


def _may_change(session, rule: LinkRule) -> None:
    """A school changes its own rules; the trust's rules only the trust (a single school's are its own)."""
    if rule.school_id != school_of(session) and several_schools(session):
        raise Refused(f"{rule.entry} is on the trust's {rule.kind} list, which only the trust changes")


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
    """The lists from the database (the trust's and the session's school's), plus the school's own domains from the
    settings (gateway.core.schools.settings_for adds a school's)."""
    found = rules(session)
    return LinkPolicy(
        allow=tuple(r.entry for r in found if r.kind == ALLOW) + school_domains(settings),
        block=tuple(r.entry for r in found if r.kind == BLOCK),
        expand_shortened=settings.link_expand,
        safe_browsing_url=settings.safe_browsing_url, safe_browsing_key=settings.safe_browsing_key,
    )
