"""The links check: every link in the text and the alt texts, as they would be published, against the school's rules."""
from __future__ import annotations

from workers.checks.base import Check, CheckResult, Draft
from workers.checks.links import check_links


class LinksCheck(Check):
    name = "links"
    records = ("links",)

    def run(self, draft: Draft) -> CheckResult:
        if self.context.links is None:
            raise RuntimeError("the school's link lists could not be read")
        texts = [("text", draft.text)] + [(f"alt text of {p.label}", p.alt) for p in draft.photos if p.alt is not None]
        links, findings = check_links(texts, self.context.links)
        return CheckResult(findings, records={"links": links})
