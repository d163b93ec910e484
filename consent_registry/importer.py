"""Importing people and consents from the school's MIS export (CSV): all rows are checked before anything changes.

Besides COLUMNS, a file may have a `<network>_consent` column for any network the gateway publishes to (for
example `facebook_consent`): that network's own decision, given by the same person on the same form as the
social-media consent (so it shares its given-by, date and expiry). Left empty, the social-media consent applies.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from consent_registry.consent import (
    current_biometric_consent, current_photo_consent, record_biometric_consent, record_photo_consent)
from consent_registry.models import PUPIL, SOCIAL, STAFF, STATUSES, Person
from consent_registry.withdrawal import Consequences
from moderation import audit

COLUMNS = ["mis_id", "kind", "first_name", "last_name", "preferred_name", "year_group", "social_consent",
           "social_consent_given_by", "social_consent_date", "social_consent_expires", "biometric_consent",
           "biometric_consent_given_by", "biometric_consent_date", "child_objects"]
YES, NO = {"yes", "y", "true", "1"}, {"no", "n", "false", "0", ""}
PERSON_FIELDS = ["kind", "first_name", "last_name", "preferred_name", "year_group"]


@dataclass
class Row:
    number: int
    values: dict


@dataclass
class ImportPlan:
    rows: list[Row] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)


def _date(value: str, column: str, problems: list[str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems.append(f"{column} {value!r} is not a date as YYYY-MM-DD")
        return None


def _channel_column(channel: str) -> str:
    return f"{channel}_consent"


def _parse(number: int, raw: dict, channels) -> tuple[Row | None, list[str]]:
    v = {k: (raw.get(k) or "").strip() for k in [*COLUMNS, *map(_channel_column, channels)]}
    problems = []
    for column in ("mis_id", "first_name", "last_name"):
        if not v[column]:
            problems.append(f"{column} is empty")
    if v["kind"].lower() not in (PUPIL, STAFF):
        problems.append(f"kind must be pupil or staff, not {v['kind']!r}")
    for column in ("social_consent", "biometric_consent", *map(_channel_column, channels)):
        if v[column] and v[column].lower() not in STATUSES:
            problems.append(f"{column} must be one of {', '.join(STATUSES)} or empty, not {v[column]!r}")
    if v["child_objects"].lower() not in YES | NO:
        problems.append(f"child_objects must be yes or no, not {v['child_objects']!r}")
    values = {
        "mis_id": v["mis_id"], "kind": v["kind"].lower(), "first_name": v["first_name"], "last_name": v["last_name"],
        "preferred_name": v["preferred_name"] or None, "year_group": v["year_group"] or None,
        "social": v["social_consent"].lower() or None, "social_by": v["social_consent_given_by"],
        "social_on": _date(v["social_consent_date"], "social_consent_date", problems),
        "social_expires": _date(v["social_consent_expires"], "social_consent_expires", problems),
        "biometric": v["biometric_consent"].lower() or None, "biometric_by": v["biometric_consent_given_by"],
        "biometric_on": _date(v["biometric_consent_date"], "biometric_consent_date", problems),
        "child_objects": v["child_objects"].lower() in YES,
        "channels": {c: v[_channel_column(c)].lower() for c in channels if v[_channel_column(c)]},
    }
    return (None if problems else Row(number, values)), [f"row {number}: {p}" for p in problems]


def plan(session, text: str, channels=()) -> ImportPlan:
    """Check every row and describe what importing would change; `channels` are the networks that may have a
    consent column of their own."""
    result = ImportPlan()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        result.errors.append(f"the file has no column {', '.join(missing)} (the first row must name the columns)")
        return result
    seen: dict[str, int] = {}
    for number, raw in enumerate(reader, start=2):
        row, problems = _parse(number, raw, channels)
        mis_id = (raw.get("mis_id") or "").strip()
        if mis_id and mis_id in seen:
            problems.append(f"row {number}: mis_id {mis_id} is also on row {seen[mis_id]}")
            row = None
        seen.setdefault(mis_id, number)
        result.errors += problems
        if row:
            result.rows.append(row)
    if not result.errors:
        for row in result.rows:
            result.changes += _describe(session, row.values)
    return result


def _person(session, mis_id: str) -> Person | None:
    return session.scalar(select(Person).where(Person.mis_id == mis_id))


def _photo_decisions(v) -> dict[str, str]:
    """The row's photo decisions by channel: the social-media one and each network's own."""
    return ({SOCIAL: v["social"]} if v["social"] else {}) | v["channels"]


def _photo_differs(person, v, channel: str) -> bool:
    current = current_photo_consent(person, channel) if person else None
    return current is None or (current.status, current.given_by, current.given_on, current.expires_on) != (
        _photo_decisions(v)[channel], v["social_by"], v["social_on"], v["social_expires"])


def _biometric_differs(person, v) -> bool:
    current = current_biometric_consent(person) if person else None
    return v["biometric"] is not None and (current is None or (current.status, current.given_by, current.given_on,
                                           current.child_objects) != (v["biometric"], v["biometric_by"], v["biometric_on"], v["child_objects"]))


def _describe(session, v) -> list[str]:
    person = _person(session, v["mis_id"])
    name = f"{v['mis_id']} {v['first_name']} {v['last_name']}"
    changes = []
    if person is None:
        changes.append(f"{name}: new {v['kind']}")
    else:
        changed = [f for f in PERSON_FIELDS if getattr(person, f) != v[f]]
        if changed:
            changes.append(f"{name}: {', '.join(changed)} updated")
    for channel, status in _photo_decisions(v).items():
        if _photo_differs(person, v, channel):
            where = "social media" if channel == SOCIAL else channel
            changes.append(f"{name}: {where} photo consent {status}")
    if _biometric_differs(person, v):
        objection = " (the child objects)" if v["child_objects"] else ""
        changes.append(f"{name}: biometric consent {v['biometric']}{objection}")
    return changes


def apply(session, import_plan: ImportPlan, by, today: date) -> Consequences:
    """Make the planned changes in the caller's transaction; refuses a plan with errors."""
    if import_plan.errors:
        raise ValueError("a file with errors imports nothing")
    consequences = Consequences()
    for row in import_plan.rows:
        v = row.values
        person = _person(session, v["mis_id"])
        if person is None:
            person = Person(mis_id=v["mis_id"], active=True)
            session.add(person)
        for f in PERSON_FIELDS:
            setattr(person, f, v[f])
        session.flush()
        for channel, status in _photo_decisions(v).items():
            if _photo_differs(person, v, channel):
                consequences.add(record_photo_consent(
                    session, person, status, by, given_by=v["social_by"], given_on=v["social_on"],
                    expires_on=v["social_expires"], evidence="MIS import", channel=channel, today=today))
        if _biometric_differs(person, v):
            record_biometric_consent(session, person, v["biometric"], by, given_by=v["biometric_by"],
                                     given_on=v["biometric_on"], child_objects=v["child_objects"],
                                     evidence="MIS import", today=today)
        session.flush()
    audit.record(session, by, "people_imported", "people", rows=len(import_plan.rows), changes=len(import_plan.changes))
    return consequences
