"""The checks every post passes through, in order; a check that crashes blocks the post."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from consent_registry.faces import FaceContext, check_faces
from moderation.findings import BLOCK, Finding, verdict
from workers.checks.links import LinkPolicy, check_links
from workers.checks.names import NameMatcher
from workers.checks.personal_data import find_personal_data
from workers.checks.photos import PhotoLimits, clean_photo
from workers.checks.text import weighted_length
from workers.checks.tone import check_tone

log = logging.getLogger(__name__)


@dataclass
class PhotoIn:
    label: str
    data: bytes
    alt: str
    regions: list = field(default_factory=list)  # boxes a reviewer obscured by hand


@dataclass
class PhotoOut:
    label: str
    data: bytes | None = None
    format: str | None = None
    width: int = 0
    height: int = 0
    faces: list = field(default_factory=list)


@dataclass
class CheckRun:
    """What the checks were given, what they made of it, and what they found."""

    text: str
    photos_in: list[PhotoIn]
    text_limit: int | None
    limits: PhotoLimits
    faces: FaceContext | None  # the registry's view; needed whenever there are photos
    names: NameMatcher | None  # the roster; without it the text cannot be checked
    links_policy: LinkPolicy | None = None  # the head's lists; without them links cannot be checked
    cleaned_text: str = ""
    text_changes: list = field(default_factory=list)
    alts: list[str] = field(default_factory=list)          # cleaned alt texts, one per photo given
    alt_changes: list[list] = field(default_factory=list)
    photos: list[PhotoOut] = field(default_factory=list)
    links: list = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return verdict(self.findings)


def check_photos(run: CheckRun) -> list[Finding]:
    findings = []
    run.photos = []
    for photo in run.photos_in:
        clean = clean_photo(photo.data, photo.label, run.limits)
        run.photos.append(PhotoOut(photo.label, clean.data, clean.format, clean.width, clean.height))
        findings += clean.findings
    return findings


def check_faces_and_consent(run: CheckRun) -> list[Finding]:
    if run.photos_in and run.faces is None:
        raise RuntimeError("photos cannot be checked without the consent registry")
    findings = []
    for photo, given in zip(run.photos, run.photos_in):
        if photo.data is None:
            continue
        result = check_faces(photo.data, photo.format, photo.label, run.faces, run.limits, given.regions)
        photo.data, photo.faces = result.data, result.faces
        findings += result.findings
    return findings


def _changes(result) -> list[dict]:
    return [{"start": c.start, "end": c.end, "original": c.original, "replacement": c.replacement}
            for c in result.changes]


def check_text(run: CheckRun) -> list[Finding]:
    """Pupils' names out of the text and every alt text; personal data and offensive words flagged."""
    if run.names is None:
        raise RuntimeError("the roster could not be read, so pupils' names cannot be checked")
    findings = []
    result = run.names.clean(run.text, "text")
    run.cleaned_text, run.text_changes = result.cleaned, _changes(result)
    findings += result.findings
    texts = [("text", run.cleaned_text)]
    run.alts, run.alt_changes = [], []
    for photo in run.photos_in:
        subject = f"alt text of {photo.label}"
        result = run.names.clean(photo.alt, subject)
        run.alts.append(result.cleaned)
        run.alt_changes.append(_changes(result))
        findings += result.findings
        texts.append((subject, result.cleaned))
    for subject, text in texts:
        findings += find_personal_data(text, subject) + check_tone(text, subject)
        if run.names.remaining(text):
            findings.append(Finding("name_left", BLOCK, f"A pupil's name is still in the {subject} after cleaning; "
                                    "please take it out by hand.", subject))
    return findings


def check_the_links(run: CheckRun) -> list[Finding]:
    if run.links_policy is None:
        raise RuntimeError("the school's link lists could not be read")
    texts = [("text", run.cleaned_text)] + [(f"alt text of {p.label}", alt) for p, alt in zip(run.photos_in, run.alts)]
    run.links, findings = check_links(texts, run.links_policy)
    return findings


def check_alt_text(run: CheckRun) -> list[Finding]:
    return [
        Finding("alt_text_missing", BLOCK, f"Add a description (alt text) to {p.label} for people who cannot see it.", p.label)
        for p in run.photos_in if not p.alt.strip()
    ]


def check_length(run: CheckRun) -> list[Finding]:
    if run.text_limit is None:
        return []
    count = weighted_length(run.cleaned_text)
    if count <= run.text_limit:
        return []
    return [Finding(
        "text_too_long", BLOCK,
        f"The text is {count} characters as the account counts them; the limit is {run.text_limit}.",
        "text", {"count": count, "limit": run.text_limit},
    )]


CHECKS = [
    ("photos", check_photos),
    ("faces", check_faces_and_consent),
    ("text", check_text),
    ("links", check_the_links),
    ("alt text", check_alt_text),
    ("text length", check_length),
]


def run_checks(text: str, photos: list[PhotoIn], text_limit: int | None, limits: PhotoLimits,
               faces: FaceContext | None, names: NameMatcher | None, links: LinkPolicy | None) -> CheckRun:
    run = CheckRun(text=text, photos_in=photos, text_limit=text_limit, limits=limits, faces=faces, names=names,
                   links_policy=links, cleaned_text=text)
    for name, check in CHECKS:
        try:
            run.findings += check(run)
        except Exception:  # fail closed: a broken check blocks the post
            log.exception("the %s check crashed", name)
            run.findings.append(Finding(
                "check_crashed", BLOCK,
                f"The {name} check could not finish, so the post cannot be approved. Try again or ask for help.",
                name,
            ))
    crashed = {f.subject for f in run.findings if f.code == "check_crashed"}
    if crashed & {"photos", "faces"}:
        run.photos = [PhotoOut(p.label) for p in photos]  # nothing half-checked is kept
    if "text" in crashed:
        run.cleaned_text, run.text_changes, run.alts, run.alt_changes = "", [], [], []
    return run
