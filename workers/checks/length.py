"""The length check: the text as it would be published, counted the way each target network counts it."""
from __future__ import annotations

from moderation.findings import BLOCK, Finding
from workers.checks.base import Check, CheckResult, Draft


class LengthCheck(Check):
    name = "text length"

    def run(self, draft: Draft) -> CheckResult:
        findings = []
        for target in self.context.targets:
            count = target.length(draft.text)
            if count > target.limit:
                findings.append(Finding(
                    "text_too_long", BLOCK,
                    f"The text is {count} characters as the account counts them; the limit is {target.limit}.",
                    "text", {"count": count, "limit": target.limit},
                ))
        return CheckResult(findings)
