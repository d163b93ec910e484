"""Withdrawing a consent asks once more, and records who asked, how and on what day (issue 18)."""
from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from consent_registry.models import BiometricConsent, PhotoConsent, Person
from tests.helpers import gateway

PAGE = "/people/person/withdraw/social?mis_id=P001"


def newest(read, model):
    return read(lambda s: s.scalars(select(model).join(Person).where(Person.mis_id == "P001")
                                    .order_by(model.id.desc())).first())


def test_the_officer_is_asked_once_more_and_for_who_how_and_when(registry, login, read):
    office = login("consent_officer")
    person_page = office.get("/people/person?mis_id=P001").get_data(as_text=True)
    assert f'href="{PAGE.replace("&", "&amp;")}"' in person_page or 'withdraw/social?mis_id=P001' in person_page
    page = office.get(PAGE).get_data(as_text=True)
    assert "Withdraw Barack Obama's social media photo consent?" in page and "Who asked" in page
    assert newest(read, PhotoConsent).status == "granted"  # looking changes nothing

    missing = office.post(PAGE, {"asked_by": " ", "how": "sent a pigeon"})
    words = missing.get_data(as_text=True)
    assert missing.status_code == 400 and '<a href="#asked_by">Say who asked for it' in words
    assert '<a href="#how">Say how they asked' in words
    assert 'name="asked_by" aria-invalid="true"' in words and 'name="how" aria-invalid="true"' in words
    assert 'name="asked_on" aria-invalid' not in words
    future = office.post(PAGE, {"asked_by": "Mrs Obama", "how": "by letter",
                                "asked_on": (date.today() + timedelta(days=3)).isoformat()})
    assert future.status_code == 400 and "cannot be in the future" in future.get_data(as_text=True)
    assert newest(read, PhotoConsent).status == "granted"

    asked_on = date.today() - timedelta(days=1)
    done = office.post(PAGE, {"asked_by": "Mrs Obama", "how": "by e-mail", "asked_on": asked_on.isoformat()})
    assert done.status_code == 302
    record = newest(read, PhotoConsent)
    assert (record.status, record.given_by, record.evidence, record.given_on) == (
        "withdrawn", "Mrs Obama", "asked by e-mail", asked_on)
    assert "user:" in record.recorded_by and "office@demo.school" in record.recorded_by


def test_the_command_line_needs_who_and_how(registry, read):
    refused = gateway("people", "withdraw", "P001", "--consent", "biometric")
    assert refused.exit_code == 2 and "--asked-by" in refused.output
    done = gateway("people", "withdraw", "P001", "--consent", "biometric", "--asked-by", "Mr Obama", "--how", "by phone")
    assert done.exit_code == 0, done.output
    record = newest(read, BiometricConsent)
    assert (record.status, record.given_by, record.evidence) == ("withdrawn", "Mr Obama", "asked by phone")
