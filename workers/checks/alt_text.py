"""The alt-text check: every photo needs a description for people who cannot see it."""
from __future__ import annotations

from moderation.findings import BLOCK, Finding
from workers.checks.base import Check, CheckResult, Draft


class AltTextCheck(Check):
    """Judges the alt text as the teacher wrote it."""

    name = "alt text"

    def run(self, draft: Draft) -> CheckResult:
        return CheckResult([
            Finding("alt_text_missing", BLOCK, f"Add a description (alt text) to {p.label} for people who cannot "
                    "see it.", p.label)
            for p in draft.photos if not p.alt_written.strip()
        ])
