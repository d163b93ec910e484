"""The checks every post passes through, in order (CHECKS), and the runner; a check that crashes blocks the post.

CHECKS lives here rather than in the package's __init__ so that importing one check's helpers (the link
rules, the name matcher) does not load every check, and with the face check dlib.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any

from moderation.findings import BLOCK, Finding, verdict
from workers.checks.alt_text import AltTextCheck
from workers.checks.base import Check, CheckContext, Draft, PhotoCheck, each_photo
from workers.checks.faces import FacesCheck
from workers.checks.fit import FitCheck
from workers.checks.length import LengthCheck
from workers.checks.post_photos import PhotosCheck
from workers.checks.post_links import LinksCheck
from workers.checks.post_text import TextCheck

log = logging.getLogger(__name__)

CHECKS: tuple[type[Check], ...] = (
    PhotosCheck,
    FacesCheck,
    TextCheck,
    LinksCheck,
    AltTextCheck,
    LengthCheck,
    FitCheck,
)


@dataclass
class Outcome:
    """What the checks made of a draft: the draft as it would be published, every finding, every check's records."""

    draft: Draft
    findings: list[Finding] = field(default_factory=list)
    records: dict[str, Any] = field(default_factory=dict)             # named after the Post column keeping each
    photo_records: list[dict[str, Any]] = field(default_factory=list)  # one per photo, named after PostImage's

    @property
    def verdict(self) -> str:
        return verdict(self.findings)


def _crashed(check: Check) -> Finding:
    return Finding("check_crashed", BLOCK, f"The {check.name} check could not finish, so the post cannot be "
                   "approved. Try again or ask for help.", check.name)


def _keep(outcome: Outcome, check: Check, result) -> None:
    """Add a check's records to the outcome; a record it did not declare is a fault in the check."""
    photo_names = {name for records in result.photo_records for name in records}
    undeclared = (set(result.records) - set(check.records)) | (photo_names - set(check.photo_records))
    if undeclared:
        raise RuntimeError(f"the {check.name} check returned records it does not declare: {sorted(undeclared)}")
    if result.photo_records and len(result.photo_records) != len(outcome.photo_records):
        raise RuntimeError(f"the {check.name} check did not return one set of records per photo")
    outcome.records.update(result.records)
    for kept, records in zip(outcome.photo_records, result.photo_records):
        kept.update(records)


def run_checks(draft: Draft, context: CheckContext, checks: tuple[type[Check], ...] = CHECKS) -> Outcome:
    """Each check in turn on the draft the one before left; records a check did not make are empty. Consecutive
    photo checks run as one pipeline per photo (_photo_pipeline), with the same outcome as one after the other."""
    prepared = [check() for check in checks]
    outcome = Outcome(draft, records={name: [] for c in prepared for name in c.records},
                      photo_records=[{name: [] for c in prepared for name in c.photo_records} for _ in draft.photos])
    start = 0
    while start < len(prepared):
        end = start
        while end < len(prepared) and isinstance(prepared[end], PhotoCheck):
            end += 1
        if end - start > 1:
            _photo_pipeline(outcome, prepared[start:end], context)
        else:
            end = start + 1
            _run(outcome, prepared[start], context)
        start = end
    return outcome


def _run(outcome: Outcome, check: Check, context: CheckContext) -> None:
    try:
        check.prepare(context)
        result = check.run(outcome.draft)
        _keep(outcome, check, result)
    except Exception:  # fail closed: a broken check blocks the post, and what it guards is not kept
        log.exception("the %s check crashed", check.name)
        _crash(outcome, check)
        return
    outcome.findings += result.findings
    outcome.draft = result.draft or outcome.draft


def _crash(outcome: Outcome, check: Check) -> None:
    outcome.findings.append(_crashed(check))
    outcome.draft = check.fail_closed(outcome.draft)


def _photo_pipeline(outcome: Outcome, checks: list[PhotoCheck], context: CheckContext) -> None:
    """Every photo through all of `checks`, photos side by side. A check that raises on any photo has crashed, as
    it would have alone: the draft the checks before it left is failed closed, and the checks after it run alone on
    that (nothing of their pipeline's work on the other photos is kept)."""
    for check in checks:
        check.prepare(context)

    def pipeline(index: int, photo) -> list:
        stages = []  # (photo, findings) after each check, up to the first that raises
        for check in checks:
            try:
                photo, found = check.check_photo(index, photo)
            except Exception:
                log.exception("the %s check crashed on photo %s", check.name, index + 1)
                break
            stages.append((photo, found))
        return stages

    staged = each_photo(pipeline, outcome.draft.photos)
    for k, check in enumerate(checks):
        if any(len(stages) <= k for stages in staged):
            if k:
                outcome.draft = replace(outcome.draft, photos=tuple(stages[k - 1][0] for stages in staged))
            _crash(outcome, check)
            for later in checks[k + 1:]:
                _run(outcome, later, context)
            return
        outcome.findings += [f for stages in staged for f in stages[k][1]]
    outcome.draft = replace(outcome.draft, photos=tuple(stages[-1][0] for stages in staged))
