"""The contract every check meets: a Draft in, a CheckResult out, and what it leaves when it crashes.

A check is prepared once per run with the read-only CheckContext, then given the Draft as the checks
before it left it. It returns its findings, the Draft as the next checks should see it (or None: unchanged)
and its own records. Nothing else passes between checks.
"""
from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar

from moderation.findings import Finding

log = logging.getLogger(__name__)

if TYPE_CHECKING:  # types only: importing them here would load the checks (and dlib) with the contract
    from consent_registry.faces import FaceContext
    from workers.checks.links import LinkPolicy
    from workers.checks.names import NameMatcher
    from workers.checks.photos import PhotoLimits


@dataclass(frozen=True)
class Memo:
    """Work an earlier check of the same photo did that depends on nothing but its inputs, kept to be reused while
    they are unchanged (so covering an area of one photo does not look for faces in the others again). `source`
    names the inputs (hashes and settings), `value` is plain data, `data` the bytes of a rendition. Never a face
    encoding: those are biometric data and are made afresh."""

    source: str
    value: Any = None
    data: bytes | None = None


@dataclass(frozen=True)
class Photo:
    """One photo of a draft: the upload until the photos check, then the rendition that would be published."""

    label: str
    data: bytes | None           # None once a check refused it or could not finish
    alt: str | None              # as it would be published; None when the check that cleans it could not finish
    alt_written: str = ""        # as the teacher wrote it
    regions: tuple = ()          # boxes a reviewer obscured by hand
    format: str | None = None    # "JPEG" or "PNG" once cleaned
    width: int = 0
    height: int = 0
    faces: tuple[dict, ...] = ()  # each face found, its verdict, whether it was obscured and where it is shown
    # (channel, data): a network whose rendition differs from data, because a face its consent covers is shown
    renditions: tuple[tuple[str, bytes], ...] = ()
    memos: Mapping[str, Memo] = field(default_factory=dict)  # by the name of the stage that made each

    @classmethod
    def given(cls, label: str, data: bytes, alt: str, regions=(), memos: Mapping[str, Memo] | None = None) -> "Photo":
        """A photo as uploaded, with the alt text and obscured regions it came with, and what earlier checks of it
        kept."""
        return cls(label, data, alt, alt, tuple(tuple(r) for r in regions), memos=dict(memos or {}))

    def remembered(self, stage: str, source: str) -> Memo | None:
        """The memo `stage` kept, if it was made from the same inputs."""
        memo = self.memos.get(stage)
        return memo if memo is not None and memo.source == source else None

    def remembering(self, stage: str, memo: Memo | None) -> dict[str, Memo]:
        """The memos with `stage`'s replaced (or dropped, for None)."""
        return {**{k: v for k, v in self.memos.items() if k != stage}, **({stage: memo} if memo else {})}

    def withheld(self) -> "Photo":
        """Nothing half-checked is kept: no data, no measurements, no faces."""
        return replace(self, data=None, format=None, width=0, height=0, faces=(), renditions=(), memos={})


@dataclass(frozen=True)
class Draft:
    """What the checks pass on to each other: the text and the photos as they would be published."""

    text: str
    photos: tuple[Photo, ...] = ()


@dataclass(frozen=True)
class Target:
    """One account the post goes to: its text limit, the way its network counts text, and its photo limits
    (None: no limit checked here). Its channel (the network's name) says which consent covers a face on it."""

    label: str
    channel: str
    network: str  # the network's name as people say it
    limit: int
    length: Callable[[str], int]
    max_photos: int | None = None
    max_photo_bytes: int | None = None
    max_alt_text: int | None = None


@dataclass(frozen=True)
class CheckContext:
    """What the checks may read, loaded once per run; a check whose part is missing raises, so it fails closed."""

    photo_limits: PhotoLimits
    faces: FaceContext | None = None    # the registry's templates and consent; needed whenever there are photos
    names: NameMatcher | None = None    # the roster; without it the text cannot be checked
    links: LinkPolicy | None = None     # the head's lists; without them links cannot be checked
    targets: tuple[Target, ...] = ()
    # told how far the checks have got with each photo (its index, in words), for the teacher's page
    progress: Callable[[int, str], None] | None = None


@dataclass(frozen=True)
class CheckResult:
    findings: list[Finding] = field(default_factory=list)
    draft: Draft | None = None                 # None: the draft is unchanged
    records: Mapping[str, Any] = field(default_factory=dict)  # the post's, named after the column that keeps them
    photo_records: tuple[Mapping[str, Any], ...] = ()          # one mapping per photo, named likewise


class Check(ABC):
    """Subclass, set `name` (teachers read it when the check crashes) and write `run`.

    `records` and `photo_records` name what the check keeps; each is [] when the check did not finish.
    """

    name: ClassVar[str]
    records: ClassVar[tuple[str, ...]] = ()
    photo_records: ClassVar[tuple[str, ...]] = ()

    def prepare(self, context: CheckContext) -> None:
        self.context = context

    def report(self, index: int, stage: str) -> None:
        """Say how far this check has got with a photo; a report that fails never stops the check."""
        if self.context.progress is None:
            return
        try:
            self.context.progress(index, stage)
        except Exception:  # the page shows less; the check goes on
            log.warning("progress of photo %s not recorded", index + 1, exc_info=True)

    @abstractmethod
    def run(self, draft: Draft) -> CheckResult:
        """The check on the draft the checks before it left."""

    def fail_closed(self, draft: Draft) -> Draft:
        """The draft the next checks see, and the outcome keeps, when this check raised."""
        return draft


def each_photo(check, photos) -> list:
    """check(index, photo) for every photo, side by side on the machine's cores; the results in the photos' order.

    Threads, not processes: decoding, the detector's network, face encoding and JPEG encoding run outside Python's
    lock, and the progress reports write to the database from here. Each call gets only its own photo and the
    read-only context, so nothing of one photo reaches another's result. The first exception is raised once every
    photo is done: the check then fails closed."""
    if len(photos) <= 1:
        return [check(index, photo) for index, photo in enumerate(photos)]
    with ThreadPoolExecutor(max_workers=min(len(photos), os.cpu_count() or 1), thread_name_prefix="photo") as pool:
        return list(pool.map(check, range(len(photos)), photos))


class PhotoCheck(Check):
    """A check made of one photo at a time. The runner runs consecutive photo checks as one pipeline per photo, the
    photos side by side, so that one photo's faces are looked for while another is still being decoded."""

    @abstractmethod
    def check_photo(self, index: int, photo: Photo) -> tuple[Photo, list[Finding]]:
        """The photo as the next check should see it, and what was found in it."""

    def run(self, draft: Draft) -> CheckResult:
        results = each_photo(self.check_photo, draft.photos)
        return CheckResult([f for _, found in results for f in found],
                           replace(draft, photos=tuple(photo for photo, _ in results)))

    def fail_closed(self, draft: Draft) -> Draft:
        """Nothing half-checked is kept: every photo is withheld."""
        return replace(draft, photos=tuple(p.withheld() for p in draft.photos))
