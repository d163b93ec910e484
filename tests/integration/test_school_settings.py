"""Each school of a trust has its own settings where it differs from the installation's (its name, web domains,
retention and face detector, `gateway schools set`) and its own link lists beside the trust's."""
from __future__ import annotations

from datetime import timedelta

import pytest

from gateway.core.db import session_for, utcnow
from gateway.core.errors import Refused
from gateway.core.storage import Missing
from gateway.core.schools import School, as_school, for_school
from gateway.models import TEACHER, User
from gateway.services.checking import check_context
from gateway.services.schools import change_school
from gateway.users import create_user, hasher_for
from moderation import lifecycle
from moderation.link_rules import add_rule, link_policy, remove_rule
from moderation.models import Post, PostImage
from workers.purge import purge_originals

B = 2


@pytest.fixture
def trust(settings, school):
    """The demo school (school 1) and Hill School (school 2, with its own domain), and a teacher at each."""
    with session_for(settings.database_url) as s:
        s.add(School(id=B, name="Hill School", domains=["hill.herts.sch.uk"]))
        s.commit()
        create_user(for_school(s, B), "t@hill.herts.sch.uk", "Hill teacher", TEACHER, "", "test", hasher_for(settings))
        s.commit()


def test_a_schools_own_retention_and_detector_replace_the_installations(settings, trust):
    with session_for(settings.database_url) as s:
        change_school(s, B, "test", retention_days=60, face_detector="hog")
        ours, theirs = as_school(s, settings, 1), as_school(s, settings, B)
        assert (ours.retention_days, ours.face_detector, ours.school_name) == (30, "retinaface", settings.school_name)
        assert (theirs.retention_days, theirs.face_detector, theirs.school_name) == (60, "hog", "Hill School")
        assert check_context(s, theirs, photos=True).faces.settings.description == "hog, upsample 2"
        assert check_context(for_school(s, 1), ours, photos=True).faces.settings.description == "retinaface"
        change_school(s, B, "test", retention_days=0, face_detector="")  # the installation's again
        assert as_school(s, settings, B).retention_days == 30 and as_school(s, settings, B).face_detector == "retinaface"
        with pytest.raises(Refused, match="from 1 to 3650"):
            change_school(s, B, "test", retention_days=-1)


def _finished_post_with_photo(settings, school_id: int, days_ago: int) -> tuple[int, str]:
    with session_for(settings.database_url) as s:
        for_school(s, school_id)
        author = s.scalar(User.__table__.select().where(User.role == TEACHER).with_only_columns(User.id))
        key = settings.media.put(b"an original photo")
        post = Post(author_id=author, text="Sports day", state=lifecycle.PUBLISHED,
                    finished_at=utcnow() - timedelta(days=days_ago))
        post.images.append(PostImage(position=1, label="a.jpg", original_key=key, original_sha256="0" * 64))
        s.add(post)
        s.commit()
        return post.id, key


def test_each_schools_originals_are_deleted_on_its_own_retention(settings, trust):
    with session_for(settings.database_url) as s:
        change_school(s, B, "test", retention_days=60)
    ours, ours_key = _finished_post_with_photo(settings, 1, days_ago=31)
    theirs, theirs_key = _finished_post_with_photo(settings, B, days_ago=31)
    assert purge_originals(settings) == [ours]  # the installation's 30 days for school 1; Hill School keeps 60
    assert settings.media.get(theirs_key) == b"an original photo"
    assert purge_originals(settings, now=utcnow() + timedelta(days=30)) == [theirs]
    with pytest.raises(Missing):
        settings.media.get(ours_key)


def test_each_school_has_its_own_link_lists_beside_the_trusts(settings, trust):
    with session_for(settings.database_url) as s:
        trusts = add_rule(s, "block", "scam-prizes.co.uk", by="trust")  # a session of every school: the trust's
        hills = add_rule(for_school(s, B), "allow", "hillfarm.co.uk", by="Hill head")
        s.commit()
        ours, theirs = link_policy(for_school(s, 1), settings), link_policy(for_school(s, B), as_school(s, settings, B))
        assert "scam-prizes.co.uk" in ours.block and "scam-prizes.co.uk" in theirs.block
        assert "hillfarm.co.uk" in theirs.allow and "hillfarm.co.uk" not in ours.allow
        assert "hill.herts.sch.uk" in theirs.allow and "hill.herts.sch.uk" not in ours.allow  # its own domain
        for school, rule in ((B, trusts), (1, trusts)):
            with pytest.raises(Refused, match="only the trust changes"):
                remove_rule(for_school(s, school), rule.id, by="a head")
        with pytest.raises(Refused, match="only the trust changes"):
            add_rule(for_school(s, B), "allow", "scam-prizes.co.uk", by="Hill head")
        assert s.get(type(hills), hills.id) is not None
        remove_rule(for_school(s, B), hills.id, by="Hill head")
        s.commit()
        assert "hillfarm.co.uk" not in link_policy(for_school(s, B), settings).allow
