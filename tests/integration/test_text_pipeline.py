"""Text through the whole gateway: pupils' names out, personal data held, X's own count."""
import io
import json
import warnings

import pytest

from consent_registry import importer
from consent_registry.registry import school_today
from gateway.core.db import session_for
from moderation.models import Post
from tests.shared_fixtures import fixture_path
from tests.helpers import submit
from gateway.services.checking import target
from workers.checks.base import CheckContext, Draft
from workers.checks.links import LinkPolicy
from workers.checks.names import NameMatcher
from workers.checks.photos import PhotoLimits
from workers.checks.run import run_checks
from twitter_text import parse_tweet

with warnings.catch_warnings():
    warnings.simplefilter("ignore")

PUPILS = [("S100", "Amelia", "Smith"), ("S101", "Jacob", "Okafor"), ("S102", "Zoë", "Brown"), ("S103", "Grace", "Hall")]


@pytest.fixture
def roster(settings):
    rows = [",".join(importer.COLUMNS)] + [f"{m},pupil,{f},{l},,Year 4,granted,Parent,2026-09-01,,,,," for m, f, l in PUPILS]
    rows.append("T200,staff,Priya,Patel,,,granted,Priya Patel,2026-09-01,,,,,")
    with session_for(settings.database_url) as session:
        plan = importer.plan(session, "\n".join(rows) + "\n")
        importer.apply(session, plan, "test", school_today(settings))
        session.commit()


def photo(name="Canon_40D.jpg"):
    return (io.BytesIO(fixture_path(f"photos/{name}").read_bytes()), name)


def post_id_of(response):
    return int(response.headers["Location"].rsplit("/", 1)[1])


def test_names_are_taken_out_and_the_review_shows_both_texts(roster, login, work, fetch, settings):
    teacher, smt = login("teacher"), login("smt")
    text = "Congratulations to Amelia Smith and #TeamJacob on sports day!"
    post_id = post_id_of(submit(teacher, text, photo_1=photo(), alt_new_1="The winners' podium"))
    work()
    post = fetch(Post, post_id)
    assert post.state == "awaiting_review"
    assert post.cleaned_text == "Congratulations to one of our pupils on sports day!"
    page = smt.get(f"/review/{post_id}").get_data(as_text=True)
    assert "As written" in page and "As it will be published" in page
    assert "<del>Amelia Smith</del>" in page and "<del> and #TeamJacob</del>" in page
    assert "<ins>one of our pupils</ins>" in page
    smt.post(f"/review/{post_id}/approve")
    work()
    post = fetch(Post, post_id)
    assert post.state == "published"
    record = json.loads(settings.archive.read(f"demo_archive/posts/{post.publications[0].id}/post.json"))
    assert record["text"] == "Congratulations to one of our pupils on sports day!"
    published = settings.archive.read("demo_archive/index.html").decode()
    assert "Amelia" not in published and "Jacob" not in published and "Smith" not in published


def test_a_name_only_in_the_alt_text_is_taken_out_too(roster, login, work, fetch, settings):
    teacher, smt = login("teacher"), login("smt")
    post_id = post_id_of(submit(teacher, "What a race!", photo_1=photo(), alt_new_1="Zoe Brown crossing the line first"))
    work()
    post = fetch(Post, post_id)
    assert post.cleaned_text == "What a race!"
    assert post.images[0].clean_alt_text == "One of our pupils crossing the line first"
    assert "<del>Zoe Brown</del>" in smt.get(f"/review/{post_id}").get_data(as_text=True)
    smt.post(f"/review/{post_id}/approve")
    work()
    record = json.loads(settings.archive.read(f"demo_archive/posts/{fetch(Post, post_id).publications[0].id}/post.json"))
    assert record["photos"][0]["alt"] == "One of our pupils crossing the line first"


@pytest.mark.parametrize("text, what", [
    ("Call Mrs Jones on 07700 900123 to book", "phone number"),
    ("Questions to parent.helper@gmail.com please", "e-mail address"),
    ("The fair is at 12 Station Road, Hitchin SG5 1AB", "postcode"),
    ("Happy birthday to our star, born on 3 March 2018!", "date of birth"),
])
def test_personal_data_holds_the_post_and_says_which_and_where(roster, login, work, fetch, text, what):
    teacher, smt = login("teacher"), login("smt")
    post_id = post_id_of(submit(teacher, text))
    work()
    post = fetch(Post, post_id)
    messages = [f.message for f in post.blocking]
    assert any(what in m and "text" in m for m in messages), messages
    smt.post(f"/review/{post_id}/approve")
    assert fetch(Post, post_id).state == "awaiting_review"


def test_staff_names_are_left_alone(roster, login, work, fetch):
    post_id = post_id_of(submit(login("teacher"), "Thank you to Mrs Patel's class for a lovely assembly"))
    work()
    assert fetch(Post, post_id).cleaned_text == "Thank you to Mrs Patel's class for a lovely assembly"


@pytest.mark.parametrize("text", [
    "A" * 280,
    "A" * 281,
    "Read more https://www.bbc.co.uk/news/education-12345678 " + "a" * 230,
    "Read more https://www.bbc.co.uk/news/education-12345678 " + "a" * 240,
    "🎉" * 140,
    "🎉" * 141,
    "運動会" * 46 + "!",
    "運動会" * 47,
    "Well done everyone 🏅 " * 13,
])
def test_the_length_check_agrees_with_xs_own_count(text):
    x = target("@school (x)", "x", 280)
    run = run_checks(Draft(text), CheckContext(PhotoLimits(), None, NameMatcher([]), LinkPolicy(allow=("*.bbc.co.uk",)),
                                               (x,)))
    expected = parse_tweet(text).weightedLength
    too_long = [f for f in run.findings if f.code == "text_too_long"]
    if expected > 280:
        assert too_long and too_long[0].evidence == {"count": expected, "limit": 280}
    else:
        assert not too_long


def test_without_the_roster_the_text_check_blocks():
    run = run_checks(Draft("Well done Amelia"), CheckContext(PhotoLimits(), None, None, LinkPolicy()))
    assert run.verdict == "block"
    assert [(f.code, f.subject) for f in run.findings] == [("check_crashed", "text")]
    assert run.draft.text == ""


def test_each_target_counts_the_text_as_its_network_does():
    text = "🎉" * 141
    limits = (target("@school (x)", "x", 280),
              target("archive (archive)", "archive", 280))
    run = run_checks(Draft(text), CheckContext(PhotoLimits(), None, NameMatcher([]), LinkPolicy(), limits))
    assert [f.evidence for f in run.findings if f.code == "text_too_long"] == [{"count": 282, "limit": 280}]
