"""Every platform end to end through the web pages: the head adds, confirms and keys the account, a teacher
submits a post with a photo, a senior leader approves it, it is published on the network's emulator, then taken
down; and no secret of the account appears in a log line, a page or the audit log on the way."""
from __future__ import annotations

import io
import json
import logging

import pytest
from sqlalchemy import select

from gateway.platforms import PLATFORMS, outgoing_for, publisher_for
from moderation.audit import AuditEntry
from moderation.models import Post, Publication
from tests.helpers import add_network_account, big_photo, post_id_of, submit
from tests.networks import HARNESSES


@pytest.mark.parametrize("name", list(HARNESSES))
def test_a_post_is_published_and_taken_down_and_no_secret_is_shown_or_logged(
        name, login, work_here, fetch, read, settings, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("PUBLISH_LOOKUP_DELAY", "0")
    teacher, smt = login("teacher"), login("smt")
    with HARNESSES[name]() as credentials:
        account_id, pages = add_network_account(login("head"), read, name, credentials)
        post_id = post_id_of(submit(teacher, "Our new library opens on Monday", account_id=str(account_id),
                                    photo_1=(io.BytesIO(big_photo(1, (1200, 800))), "library.jpg"),
                                    alt_new_1="The new library's reading corner"))
        work_here()
        assert fetch(Post, post_id).state == "awaiting_review", fetch(Post, post_id).reason
        smt.post(f"/review/{post_id}/approve")
        work_here()
        post = fetch(Post, post_id)
        assert post.state == "published", [p.error for p in post.publications]
        publication = fetch(Publication, post.publications[0].id)
        publisher = publisher_for(publication.account, settings)
        assert publisher.find(outgoing_for(publication, settings)) is not None  # it is on the network

        pages += [smt.get(f"/review/{post_id}").get_data(as_text=True),
                  teacher.get(f"/posts/{post_id}").get_data(as_text=True)]
        smt.post(f"/review/{post_id}/take-down", {"reason": "A parent asked us to"})
        work_here()
        assert fetch(Post, post_id).state == "taken_down"
        assert publisher.find(outgoing_for(fetch(Publication, publication.id), settings)) is None

    secrets = [credentials[f.name] for f in PLATFORMS[name].credential_fields if f.secret]
    logged = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    audited = read(lambda s: json.dumps([[e.actor, e.action, e.subject, e.details]
                                         for e in s.scalars(select(AuditEntry))]))
    for secret in secrets:
        assert secret not in logged and secret not in audited and all(secret not in page for page in pages)
