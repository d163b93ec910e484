"""Staff land on their own work, a post the checks blocked says it needs its author's changes (and is not in the
review list), a publish time that has passed is refused, and the console has one line per request and no secrets
(issue 18, first part)."""
from __future__ import annotations

import io
import logging
import re
from datetime import datetime, timedelta

from sqlalchemy import select

from gateway.core.db import utcnow
from gateway.models import Account, User
from moderation import lifecycle
from moderation.models import Post
from tests.helpers import post_id_of, submit
from tests.shared_fixtures import fixture_path

BLOCKED_TEXT = "Questions to parent.helper@gmail.com please"  # personal data: the checks block it


def test_each_role_lands_on_its_work(login):
    landings = {"teacher": "/posts", "smt": "/review", "head": "/review", "consent_officer": "/people/"}
    for role, path in landings.items():
        response = login(role).get("/")
        assert response.status_code == 302 and response.headers["Location"].endswith(path), (role, response.headers)


def test_a_blocked_post_needs_its_authors_changes_and_is_not_waiting_for_review(login, work, fetch):
    teacher, smt = login("teacher"), login("smt")
    blocked = post_id_of(submit(teacher, BLOCKED_TEXT))
    fine = post_id_of(submit(teacher, "Sports day was great"))
    work()
    assert fetch(Post, blocked).blocking and not fetch(Post, fine).blocking
    mine = teacher.get("/posts").get_data(as_text=True)
    assert mine.count("Needs your changes") == 1 and "1 problem to fix" in mine
    detail = teacher.get(f"/posts/{blocked}").get_data(as_text=True)
    assert "The checks found problems that stop it being published." in detail
    assert "Next:</strong> Edit the post to fix the problems listed below" in detail and "What to fix" in detail
    queue = smt.get("/review").get_data(as_text=True)
    assert f"/review/{fine}" in queue and f"/review/{blocked}" not in queue
    assert "Waiting for review: 1" in queue and "Blocked, with their authors: 1" in queue
    blocked_view = smt.get("/review?view=blocked").get_data(as_text=True)
    assert f"/review/{blocked}" in blocked_view and f"/review/{fine}" not in blocked_view
    assert "Needs your changes" in blocked_view


def test_every_state_has_a_sentence_and_a_next_action():
    from moderation import lifecycle

    shown = set(lifecycle.STATE_NAMES) | {lifecycle.NEEDS_CHANGES}
    assert set(lifecycle.STATE_SENTENCES) == shown
    assert all(sentence.endswith(".") and action.endswith(".") for sentence, action in lifecycle.STATE_SENTENCES.values())


def test_a_publish_time_that_has_passed_is_refused_and_the_form_kept(login):
    teacher = login("teacher")
    past = (datetime.now() - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = submit(teacher, "Our trip to the museum", publish_at=past)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "The publish time has already passed" in page
    assert "Our trip to the museum" in page


def test_one_log_line_per_request_without_secrets(login, caplog):
    teacher = login("teacher")
    with caplog.at_level(logging.INFO, logger="gateway.http"):
        teacher.get("/posts?secret=should-not-appear")
        teacher.get("/account/setup/abcdef0123456789token")
    lines = [r.getMessage() for r in caplog.records if r.name == "gateway.http"]
    assert re.fullmatch(r"GET /posts 200 \d+ ms", lines[0]), lines
    assert re.fullmatch(r"GET /account/setup/<token> \d{3} \d+ ms", lines[1]), lines
    assert not any("should-not-appear" in line or "abcdef0123456789token" in line for line in lines)


def published(teacher, smt, work, fetch, text: str) -> tuple[int, str]:
    """A post written, checked, approved and published to the demo archive: its id and address."""
    post_id = post_id_of(submit(teacher, text))
    work()
    smt.post(f"/review/{post_id}/approve")
    work()
    return post_id, fetch(Post, post_id).publications[0].platform_url


def test_a_taken_down_post_no_longer_links_to_where_it_was(login, work, fetch):
    teacher, smt = login("teacher"), login("smt")
    post_id, url = published(teacher, smt, work, fetch, "Sports day was great")
    assert f'<a href="{url}">' in smt.get("/published").get_data(as_text=True)
    smt.post(f"/review/{post_id}/take-down", {"reason": "A parent asked us to"})
    work()
    assert fetch(Post, post_id).state == "taken_down"
    for page in (smt.get("/published"), smt.get(f"/review/{post_id}"), teacher.get(f"/posts/{post_id}")):
        text = page.get_data(as_text=True)
        assert f'<a href="{url}">' not in text and f"{url} (taken down" in text


def test_each_remove_button_on_the_admin_page_says_what_it_removes(login):
    head = login("head")
    head.post("/admin/links", {"kind": "block", "entry": "badsite.com"})
    head.post("/admin/links", {"kind": "allow", "entry": "goodsite.org"})
    page = head.get("/admin", follow_redirects=True).get_data(as_text=True)
    labels = re.findall(r'aria-label="(Remove [^"]+)"', page)
    assert "Remove badsite.com from the block list" in labels and len(labels) == len(set(labels))


def test_the_archive_is_styled_and_its_links_can_be_followed(login, work, fetch):
    teacher, smt = login("teacher"), login("smt")
    _post_id, url = published(teacher, smt, work, fetch, "Read about our visit: https://www.bbc.co.uk/news and more")
    index = teacher.get(url.rsplit("/posts/", 1)[0] + "/").get_data(as_text=True)
    assert '<link rel="stylesheet" href="/static/site.css">' in index
    assert '<a href="https://www.bbc.co.uk/news">https://www.bbc.co.uk/news</a>' in index
    own = re.search(r'<a href="(posts/[^"]+/)">this post on its own</a>', index).group(1)
    assert "Read about our visit" in teacher.get(url.rsplit("/posts/", 1)[0] + "/" + own).get_data(as_text=True)


def test_the_calendar_shows_scheduled_and_published_posts_by_day_and_account(login, work, fetch, settings):
    from zoneinfo import ZoneInfo

    teacher, smt = login("teacher"), login("smt")
    when = (datetime.now(ZoneInfo(settings.timezone)) + timedelta(days=1)).replace(hour=10, minute=30)
    later = post_id_of(submit(teacher, "Tomorrow's assembly", publish_at=when.strftime("%Y-%m-%dT%H:%M")))
    now = post_id_of(submit(teacher, "Sports day was great"))
    work()
    smt.post(f"/review/{later}/approve")
    smt.post(f"/review/{now}/approve")
    work()
    assert (fetch(Post, later).state, fetch(Post, now).state) == ("scheduled", "published")
    page = smt.get(f"/calendar?month={when.strftime('%Y-%m')}").get_data(as_text=True)
    assert when.strftime("%A %d %B") in page and "<strong>10:30</strong>" in page and "scheduled:" in page
    assert f"/review/{later}" in page
    this_month = smt.get("/calendar").get_data(as_text=True)
    assert f"/review/{now}" in this_month and "published:" in this_month
    account = fetch(Post, now).publications[0].account_id
    assert f"/review/{now}" not in smt.get(f"/calendar?account={account + 1000}&month=1999-01").get_data(as_text=True)
    assert teacher.get("/calendar").status_code == 403


def test_the_review_page_title_is_words_only(login, work):
    teacher, smt = login("teacher"), login("smt")
    post_id = post_id_of(submit(teacher, "Sports day was great"))
    work()
    page = smt.get(f"/review/{post_id}").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", page, re.S).group(1)
    assert title == f"Review post {post_id} · Demo Primary School"


def test_the_queue_has_thumbnails_authors_targets_and_age_and_is_filtered_and_sorted(login, work, read):
    teacher, smt = login("teacher"), login("smt")
    files = {"photo_1": (io.BytesIO(fixture_path("faces/obama_3.jpg").read_bytes()), "visit.jpg"),
             "alt_new_1": "Our visitor"}
    older = post_id_of(submit(teacher, "Our visitor", **files))
    newer = post_id_of(submit(teacher, "Sports day was great"))
    work()
    page = smt.get("/review").get_data(as_text=True)
    assert f'src="/posts/{older}/photos/1/clean"' in page and "By Tara Teacher to " in page
    assert "waiting under an hour" in page
    assert page.index(f"/review/{older}") < page.index(f"/review/{newer}")
    newest = smt.get("/review?sort=newest").get_data(as_text=True)
    assert newest.index(f"/review/{newer}") < newest.index(f"/review/{older}")
    assert f"/review/{older}" not in smt.get("/review?account=99999").get_data(as_text=True)


def test_a_long_queue_comes_in_pages_of_fifty_and_each_page_keeps_the_order_chosen(login, session, school):
    """120 posts waiting: a senior leader's phone gets fifty at a time, with the way to the next and previous pages;
    a page past the end shows the last one."""
    teacher = session.scalar(select(User).where(User.email == "teacher@demo.school"))
    account = session.scalar(select(Account))
    now = utcnow()
    posts = [Post(school_id=teacher.school_id, author_id=teacher.id, text=f"Waiting post {n}",
                  cleaned_text=f"Waiting post {n}", state=lifecycle.AWAITING_REVIEW, check_attempt=1,
                  submitted_at=now - timedelta(minutes=200 - n), accounts=[account]) for n in range(120)]
    session.add_all(posts)
    session.commit()
    ids = [p.id for p in posts]  # oldest first
    smt = login("smt")

    def shown(path: str) -> list[int]:
        return [int(i) for i in re.findall(r'class="card queued">.*?href="/review/(\d+)"', smt.get(path)
                                           .get_data(as_text=True), re.S)]

    first = smt.get("/review").get_data(as_text=True)
    assert "Posts 1 to 50 of 120 (page 1 of 3)." in first and 'href="/review?page=2" rel="next"' in first
    assert 'rel="prev"' not in first
    assert shown("/review") == ids[:50]
    assert shown("/review?page=2") == ids[50:100]
    last = smt.get("/review?page=3").get_data(as_text=True)
    assert "Posts 101 to 120 of 120 (page 3 of 3)." in last and 'rel="next"' not in last
    assert shown("/review?page=99") == ids[100:] and shown("/review?page=-4") == ids[:50]
    newest = smt.get("/review?sort=newest&page=2").get_data(as_text=True)
    assert 'href="/review?page=3&amp;sort=newest" rel="next"' in newest
    assert shown("/review?sort=newest&page=2") == ids[::-1][50:100]
    assert shown(f"/review?account={account.id}&page=3") == ids[100:]
