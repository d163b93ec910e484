"""The head's allow and block lists for links; each change commits."""
from __future__ import annotations

from moderation import link_rules
from moderation.link_rules import LinkRule


def add_rule(session, kind: str, entry: str, by) -> LinkRule:
    rule = link_rules.add_rule(session, kind, entry, by)
    session.commit()
    return rule


def remove_rule(session, rule_id: int, by) -> None:
    link_rules.remove_rule(session, rule_id, by)
    session.commit()
