"""Consent per network (policy §4): a parent may agree to the school's Facebook Page and not to public networks.

A network's own decision overrides the general social-media consent; without one, the general consent applies.
Joe Biden (P002) has refused social media in the test registry; here he is given consent for Facebook only.
"""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from consent_registry import importer
from consent_registry.consent import photo_status, record_photo_consent
from consent_registry.models import Person, PhotoConsent, Takedown
from consent_registry.registry import school_today
from gateway.core.db import session_for
from gateway.services.checking import check_draft, target
from moderation.models import Post
from tests.bluesky_api import APP_PASSWORD, BlueskyEmulator
from tests.facebook_api import TEST_CREDENTIALS, FacebookApiEmulator
from tests.helpers import WITHDRAWAL, add_network_account, post_id_of, submit
from tests.registry import HEADER, ROWS, biden_is_visible, consent_for_facebook_only
from tests.shared_fixtures import fixture_path
from workers.checks.base import Draft, Photo

GROUP = "faces/group_two_people.jpg"  # Barack Obama (consent for every network) and Joe Biden


def test_a_networks_own_decision_overrides_the_general_one_and_the_others_follow_the_general(settings, registry):
    consent_for_facebook_only(settings)
    today = school_today(settings)
    with session_for(settings.database_url) as session:
        biden = session.get(Person, registry["P002"])
        obama = session.get(Person, registry["P001"])
        assert [photo_status(biden, today, c).ok for c in ("social", "facebook", "bluesky", "x")] == [
            False, True, False, False]
        record_photo_consent(session, obama, "refused", "test", channel="bluesky", today=today)
        assert [photo_status(obama, today, c).ok for c in ("social", "facebook", "bluesky", "x")] == [
            True, True, False, True]
        assert photo_status(obama, today, "bluesky").reason == "consent refused"


def test_the_import_takes_an_optional_consent_per_network(settings, registry):
    header = HEADER + ",facebook_consent,bluesky_consent"
    rows = [ROWS[0] + ",,refused", ROWS[1] + ",granted,"]
    with session_for(settings.database_url) as session:
        plan = importer.plan(session, "\n".join([header, *rows]) + "\n", ("facebook", "bluesky"))
        assert plan.errors == []
        assert plan.changes == ["P001 Barack Obama: bluesky photo consent refused",
                                "P002 Joe Biden: facebook photo consent granted"]
        importer.apply(session, plan, "test", school_today(settings))
        session.commit()
        again = importer.plan(session, "\n".join([header, *rows]) + "\n", ("facebook", "bluesky"))
        assert again.changes == []  # nothing is recorded twice
        today = school_today(settings)
        biden = session.get(Person, registry["P002"])
        assert (photo_status(biden, today, "facebook").ok, photo_status(biden, today, "bluesky").ok) == (True, False)
        wrong = importer.plan(session, header + "\n" + ROWS[0] + ",maybe,\n", ("facebook", "bluesky"))
        assert wrong.errors == ["row 2: facebook_consent must be one of granted, refused, withdrawn or empty, "
                                "not 'maybe'"]


def test_a_face_with_consent_forconsent_for_facebook_only_is_covered_on_bluesky_and_not_on_facebook(settings, registry):
    consent_for_facebook_only(settings)
    photo = Photo.given("photo 1 (group.jpg)", fixture_path(GROUP).read_bytes(), "Two visitors")
    targets = [target("@school (facebook)", "facebook", 63206), target("@school (bluesky)", "bluesky", 300)]
    outcome = check_draft(settings, Draft("Our visitors", (photo,)), targets)
    checked = outcome.draft.photos[0]
    assert [channel for channel, _ in checked.renditions] == ["facebook"]
    assert biden_is_visible(dict(checked.renditions)["facebook"])
    assert not biden_is_visible(checked.data)  # what Bluesky (every network without its own rendition) gets
    biden = next(f for f in checked.faces if f["person"] == registry["P002"])
    assert (biden["verdict"], biden["obscured"], biden["shown_on"]) == ("no_consent", True, ["facebook"])
    messages = [f.message for f in outcome.findings]
    assert "1 face obscured on Bluesky: consent refused." in messages
    assert "1 face shown on Facebook only: consent covers that network." in messages


def test_without_a_decision_of_its_own_every_network_gets_one_rendition(settings, registry):
    photo = Photo.given("photo 1 (group.jpg)", fixture_path(GROUP).read_bytes(), "Two visitors")
    targets = [target("@school (facebook)", "facebook", 63206), target("@school (bluesky)", "bluesky", 300)]
    outcome = check_draft(settings, Draft("Our visitors", (photo,)), targets)
    assert outcome.draft.photos[0].renditions == ()
    assert "1 face obscured: consent refused." in [f.message for f in outcome.findings]


@pytest.fixture
def two_networks(login, read, monkeypatch):
    """The school's Facebook Page and Bluesky account, on their emulators: {name: (account id, emulator)}."""
    monkeypatch.setenv("PUBLISH_LOOKUP_DELAY", "0")
    with FacebookApiEmulator() as fb, BlueskyEmulator() as bsky:
        head = login("head")
        facebook, _ = add_network_account(head, read, "facebook", dict(TEST_CREDENTIALS))
        bluesky, _ = add_network_account(head, read, "bluesky", {"app_password": APP_PASSWORD, "service": bsky.url})
        yield {"facebook": (facebook, fb), "bluesky": (bluesky, bsky)}


def _submit_group(login, networks) -> int:
    group = (io.BytesIO(fixture_path(GROUP).read_bytes()), "group.jpg")
    return post_id_of(submit(login("teacher"), "Our visitors at assembly", photo_1=group,
                             alt_new_1="Two visitors smiling", account_id=[str(a) for a, _ in networks.values()]))


def test_each_network_gets_its_own_rendition_and_a_withdrawal_takes_down_where_he_is_shown(
        settings, registry, login, work_here, fetch, read, two_networks):
    consent_for_facebook_only(settings)
    post_id = _submit_group(login, two_networks)
    work_here()
    smt = login("smt")
    page = smt.get(f"/review/{post_id}").get_data(as_text=True)
    assert "Facebook only; covered elsewhere" in page  # the faces table: where Joe Biden is shown
    assert "photo 1 (group.jpg) on Facebook, whose consent covers more faces" in page
    assert "shown: Barack Obama, Joe Biden" in page and "shown: Barack Obama; 1 covered" in page
    smt.post(f"/review/{post_id}/approve")
    work_here()
    assert fetch(Post, post_id).state == "published"
    fb, bsky = two_networks["facebook"][1], two_networks["bluesky"][1]
    assert [biden_is_visible(p["data"]) for p in fb.photos.values()] == [True]
    assert [biden_is_visible(b["data"]) for b in bsky.blobs.values()] == [False]

    with session_for(settings.database_url) as session:  # Bluesky refused: he is not shown there, nothing comes down
        record_photo_consent(session, session.get(Person, registry["P002"]), "refused", "test", channel="bluesky",
                             today=school_today(settings))
        session.commit()
    assert read(lambda s: s.scalars(select(Takedown)).all()) == []

    office = login("consent_officer")
    page = office.get("/people/person?mis_id=P002").get_data(as_text=True)
    assert "On Facebook (a decision of its own): may appear" in page
    response = office.post("/people/person/withdraw/social?mis_id=P002", WITHDRAWAL)  # every network, Facebook's own one included
    assert "must be taken down" in office.get(response.headers["Location"]).get_data(as_text=True)
    assert read(lambda s: [t.post_id for t in s.scalars(select(Takedown))]) == [post_id]
    work_here()
    assert fetch(Post, post_id).state == "taken_down" and fb.live_posts() == [] and bsky.live_posts() == {}


def test_consent_for_a_network_ended_after_approval_sends_the_post_back(
        settings, registry, login, work_here, fetch, two_networks):
    consent_for_facebook_only(settings)
    post_id = _submit_group(login, two_networks)
    work_here()
    login("smt").post(f"/review/{post_id}/approve")  # the publish jobs are queued, not yet run
    with session_for(settings.database_url) as session:  # recorded with no follow-up, as when a consent lapses
        session.add(PhotoConsent(person_id=registry["P002"], channel="facebook", status="withdrawn",
                                 recorded_by="test"))
        session.commit()
    work_here()  # whichever network comes first, nothing is published: the post is checked again
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review", post.state
    assert "Consent changed" in post.reason
    biden = next(f for f in post.images[0].faces if f.person_id == registry["P002"])
    assert biden.shown_on == [] and post.images[0].renditions == []
    assert two_networks["facebook"][1].live_posts() == [] and two_networks["bluesky"][1].live_posts() == {}


def test_the_office_records_a_decision_for_one_network_on_the_persons_page(settings, registry, login):
    office = login("consent_officer")
    office.post("/people/person/photo?mis_id=P002", {"channel": "facebook", "status": "granted",
                                                     "given_by": "Jill Biden (mother)", "given_on": "2026-11-02",
                                                     "evidence": "form 12"})
    page = office.get("/people/person?mis_id=P002").get_data(as_text=True)
    assert "On Facebook (a decision of its own): may appear, written consent on record." in page
    assert "Must not appear on any other network: consent refused." in page
    wrong = office.post("/people/person/photo?mis_id=P002", {"channel": "myspace", "status": "granted"})
    assert wrong.status_code == 303
    assert "Not recorded: there is no network called &#39;myspace&#39;." in office.get(
        "/people/person?mis_id=P002").get_data(as_text=True)
