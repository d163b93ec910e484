"""NameMatcher: the names check's one entry point, built once per roster version."""
from __future__ import annotations

from typing import Iterable

from workers.checks.names.changes import apply_changes, plan_changes
from workers.checks.names.mentions import plan_text
from workers.checks.names.model import NameResult, Plan, RosterPerson
from workers.checks.names.reporting import link_findings, removed_finding, review_finding
from workers.checks.names.roster import Roster
from workers.checks.names.scan import Scan
from workers.checks.names.tags import plan_tag


class NameMatcher:
    """Finds roster names in text. Build once per roster version; `clean` and `remaining` are cheap."""

    def __init__(self, people: Iterable[RosterPerson], include_staff: bool = False):
        self.include_staff = include_staff
        self._roster = Roster(people)

    def clean(self, text: str, subject: str) -> NameResult:
        """Replace or remove every roster name in text; findings say what kind of name went where."""
        plan = self._plan(text)
        changes, phrases = plan_changes(text, plan.actions)
        cleaned = apply_changes(text, changes)
        findings = [removed_finding(a, phrases[id(a)], subject) for a in plan.actions]
        findings += link_findings(plan, subject)
        findings += [review_finding(r, subject) for r in plan.reviews.values()]
        return NameResult(cleaned, changes, findings)

    def remaining(self, text: str) -> list[str]:
        """Roster names still findable in text: whatever clean() would replace, remove or block on."""
        plan = self._plan(text)
        hits = [(a.core_os, text[a.core_os:a.core_oe]) for a in plan.actions]
        hits += [(os_, text[os_:oe]) for os_, oe, _, _, _ in plan.links]
        return [s for _, s in sorted(hits)]

    def _plan(self, text: str) -> Plan:
        scan = Scan(text, self._roster, self.include_staff)
        for k, (_, _, what) in enumerate(scan.zones):
            if what in ("#", "@"):
                plan_tag(scan, k)
        plan_text(scan)
        scan.plan.actions.sort(key=lambda x: x.core_os)
        scan.plan.links.sort()
        return scan.plan
