"""The calendar: a month of scheduled and published posts, day by day, for every account or one."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, render_template, request
from sqlalchemy import select

from gateway.services.posts import confirmed_accounts
from gateway.web.util import db, requires, reviewer, settings
from moderation import lifecycle
from moderation.models import Post, Publication

bp = Blueprint("calendar", __name__)


@dataclass(frozen=True)
class Entry:
    when: datetime  # in the school's time zone
    post: Post
    account: str
    published: bool


def _month(value: str, today: date) -> date:
    try:
        return date.fromisoformat(value + "-01") if value else today.replace(day=1)
    except ValueError:
        return today.replace(day=1)


def _entries(session, start: datetime, end: datetime, account_id: int | None, zone: ZoneInfo) -> list[Entry]:
    out = []
    published = select(Publication).where(Publication.published_at >= start, Publication.published_at < end)
    for pub in session.scalars(published):
        if account_id in (None, pub.account_id):
            out.append(Entry(pub.published_at.astimezone(zone), pub.post, pub.account.label, True))
    scheduled = select(Post).where(Post.state == lifecycle.SCHEDULED, Post.publish_at >= start, Post.publish_at < end)
    for post in session.scalars(scheduled):
        out += [Entry(post.publish_at.astimezone(zone), post, a.label, False)
                for a in post.accounts if account_id in (None, a.id)]
    return sorted(out, key=lambda e: (e.when, e.account))


@bp.get("/calendar")
@requires(reviewer)
def month():
    zone = ZoneInfo(settings().timezone)
    first = _month(request.args.get("month", ""), datetime.now(zone).date())
    after = (first + timedelta(days=32)).replace(day=1)
    accounts = confirmed_accounts(db())
    chosen = request.args.get("account", type=int)
    chosen = chosen if any(a.id == chosen for a in accounts) else None
    entries = _entries(db(), datetime.combine(first, time.min, zone), datetime.combine(after, time.min, zone), chosen,
                       zone)
    days: dict[date, list[Entry]] = {}
    for entry in entries:
        days.setdefault(entry.when.date(), []).append(entry)
    return render_template("calendar.html", first=first, days=days, accounts=accounts, chosen=chosen,
                           before=(first - timedelta(days=1)).strftime("%Y-%m"), after=after.strftime("%Y-%m"))
