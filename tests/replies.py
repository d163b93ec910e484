"""What the tests of replies share: replies fine and bad, a pupil on the amelia_on_roster, and a post published on a network."""
from __future__ import annotations

import pytest

from consent_registry import importer
from consent_registry.registry import school_today
from gateway.core.db import session_for
from moderation.models import Post
from tests.helpers import add_network_account, post_id_of, submit

FINE = [
    "Lovely photos, thank you!", "What a great day for everyone", "Well done to the whole year group",
    "Is the fair on Saturday too?", "Thanks to all the staff 👏👏", "Brilliant effort", "So proud of our school",
    "Where can I buy tickets for the play?", "Great to see the new library open", "مرحبا، عمل رائع \u200f",
    "Fantastic news 🎉\u200d🎉", "Good luck in the final!", "Can't wait for next year",
    "See the programme at https://www.bbc.co.uk/news", "Z\u0351\u0352a\u0353l\u0354g\u0355o says hello",
]
BAD = [
    "Well done Amelia Smith!",                           # a pupil's name
    "Ring me on 07700 900123 about the trip",            # a phone number
    "You are all idiots and crap",                       # an abusive word
    "Claim your prize http://xn--pypal-4ve.com/login",   # a look-alike (phishing) link
    "So proud #WellDoneAmelia",                          # a pupil's name in a hashtag
]


@pytest.fixture
def amelia_on_roster(settings):
    """Amelia Smith, a pupil on the roster."""
    rows = [",".join(importer.COLUMNS), "S100,pupil,Amelia,Smith,,Year 4,granted,Parent,2026-09-01,,,,,"]
    with session_for(settings.database_url) as session:
        importer.apply(session, importer.plan(session, "\n".join(rows) + "\n"), "test", school_today(settings))
        session.commit()


def publish(name: str, credentials: dict, login, read, fetch, work_here, text: str = "Sports day was great"):
    """The head adds the account, a teacher posts to it, SMT approves: (account id, post id, its id on the network)."""
    account_id, _ = add_network_account(login("head"), read, name, credentials)
    post_id = post_id_of(submit(login("teacher"), text, account_id=str(account_id)))
    work_here()
    login("smt").post(f"/review/{post_id}/approve")
    work_here()
    post = fetch(Post, post_id)
    assert post.state == "published", [p.error for p in post.publications]
    return account_id, post_id, post.publications[0].platform_id
