"""Digests: the notices a member chose to get daily or weekly, as one email per period.

A notice for a member who chose a digest is not sent: :func:`hold_for_digest` records a
:class:`DigestItem` under the key the email would have had (so a batch that runs twice holds
it once). The clock runs :func:`daily_digests_job` and :func:`weekly_digests_job`, which
enqueue one :func:`send_digest` per member with pending items. That job marks the pending
items with the digest's key and claims the digest's mail receipt in the same transaction, so
a digest that runs twice sends one email, and an item is in exactly one digest. Items wait
in the database, so a run that was missed only delays them: the next daily run sends them
(and a weekly member's, once they are more than a week old).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace

from flask_babel import gettext, ngettext
from sqlalchemy import select, update

from campaign.dbutil import insert_ignoring_conflicts
from campaign.extensions import db
from campaign.i18n import writing_to
from campaign.jobs import app_job
from campaign.jobs.notifications import (
    TOPICS,
    campaign_url,
    member_links,
    receipt_url,
    unsubscribe_url,
    verdict_url,
)
from campaign.mail import Email, add_unsubscribe_headers, render_email, send_once
from campaign.models import Campaign, DigestItem, EmailFrequency, MailReceipt, Milestone, User, utcnow
from campaign.outbox import later
from campaign.services.accounts import forget_pending

#: period -> the frequencies whose members it serves. The daily run also empties what was
#: held for a member who has since asked for notices at once.
PERIODS = {
    "daily": (EmailFrequency.DAILY, EmailFrequency.IMMEDIATELY),
    "weekly": (EmailFrequency.WEEKLY,),
}


def hold_for_digest(
    user: User | None, key: str, topic: str, object_id: int, campaign_id: int, support_id: int | None = None
) -> bool:
    """Whether the notice ``key`` must not be emailed now, because it goes to a member who
    chose a digest (then it is held, once, for that digest) or no notices at all.

    Adds a row in the caller's transaction (no commit). Supporters without an account
    (``user`` None) and members who chose "immediately" get the email now: False.
    """
    if user is None or user.email_frequency == EmailFrequency.IMMEDIATELY:
        return False
    if user.email_frequency == EmailFrequency.NEVER:
        return True
    insert_ignoring_conflicts(
        DigestItem,
        ["key"],
        key=key,
        user_id=user.id,
        topic=topic,
        object_id=object_id,
        campaign_id=campaign_id,
        support_id=support_id,
        created_at=utcnow(),
    )
    return True


def period_label(period: str, now: datetime) -> str:
    """The name of the digest period ``now`` falls in: ``daily-2026-12-01``, ``weekly-2026-W49``."""
    if period == "daily":
        return f"daily-{now.date().isoformat()}"
    year, week, _ = now.isocalendar()
    return f"weekly-{year}-W{week:02d}"


@app_job
def daily_digests_job() -> int:
    """Enqueue today's digest of every member who has one waiting (run by the clock), and
    the weekly digest of any member whose Monday run was missed (Redis down, a lost job)."""
    return enqueue_digests("daily") + enqueue_digests("weekly", overdue_only=True)


@app_job
def weekly_digests_job() -> int:
    """Enqueue this week's digest of every member who has one waiting (run by the clock)."""
    return enqueue_digests("weekly")


#: A weekly member's news older than this missed its Monday digest: the daily run sends it.
WEEKLY_OVERDUE = timedelta(days=8)


def enqueue_digests(period: str, now: datetime | None = None, overdue_only: bool = False) -> int:
    """Enqueue one :func:`send_digest` per member of ``period`` with pending items; returns
    how many. Job ids name the member and the period, so a second run adds nothing new.
    ``overdue_only`` picks only members with a pending item older than
    :data:`WEEKLY_OVERDUE`."""
    now = now or utcnow()
    label = period_label(period, now)
    stmt = (
        select(DigestItem.user_id)
        .join(User, User.id == DigestItem.user_id)
        .where(DigestItem.digest_key.is_(None), User.email_frequency.in_(PERIODS[period]))
    )
    if overdue_only:
        stmt = stmt.where(DigestItem.created_at < now - WEEKLY_OVERDUE)
    user_ids = db.session.execute(stmt.distinct().order_by(DigestItem.user_id)).scalars().all()
    for user_id in user_ids:
        later("digest", user_id, period, label)
    db.session.commit()
    return len(user_ids)


@app_job
def send_digest(user_id: int, period: str, label: str) -> bool:
    """Email member ``user_id`` the digest ``label`` of what was held for them; at most once.

    Never sends an empty digest. Items that can no longer be told (the supporter stopped
    these emails or withdrew, or the thing was deleted) are dropped. Returns True if this
    run sent the email.
    """
    user = db.session.get(User, user_id)
    if user is None:
        return False
    key = f"digest:{user.id}:{label}"
    if user.email_frequency == EmailFrequency.NEVER:
        forget_pending(user.id)
        db.session.commit()
        return False
    if (
        user.email_frequency not in PERIODS[period]
        or db.session.execute(select(MailReceipt.id).where(MailReceipt.key == key)).first()
    ):
        db.session.rollback()
        return False
    db.session.execute(
        update(DigestItem)
        .where(DigestItem.user_id == user.id, DigestItem.digest_key.is_(None))
        .values(digest_key=key)
    )
    items = (
        db.session.execute(
            select(DigestItem)
            .where(DigestItem.digest_key == key)
            .order_by(DigestItem.created_at.desc(), DigestItem.id.desc())
        )
        .scalars()
        .all()
    )
    groups = group_items(items)
    if not groups:
        db.session.commit()  # what was held can no longer be told: dropped, nothing sent
        return False
    return send_once(key, digest_email(user, period, groups))


@dataclass
class Group:
    """The news of one campaign in a digest, newest first."""

    campaign: Campaign
    campaign_url: str
    unsubscribe_url: str | None
    organiser: bool
    items: list[SimpleNamespace] = field(default_factory=list)


def group_items(items: list[DigestItem]) -> list[Group]:
    """Items that can still be told, grouped by campaign; groups ordered by their newest item
    (``items`` come newest first)."""
    groups: dict[int, Group] = {}
    for item in items:
        entry = _entry(item)
        if entry is None:
            continue
        group = groups.get(item.campaign_id)
        if group is None:
            campaign = item.campaign
            group = groups[item.campaign_id] = Group(
                campaign=campaign,
                campaign_url=campaign_url(campaign),
                unsubscribe_url=None,
                organiser=item.support_id is None,
            )
        if item.support is not None and group.unsubscribe_url is None:
            group.unsubscribe_url = unsubscribe_url(item.support)
        group.items.append(entry)
    return list(groups.values())


def _entry(item: DigestItem) -> SimpleNamespace | None:
    """What the digest says about ``item``: the same content the immediate email carries."""
    support = item.support
    if item.topic == "milestone":
        milestone = db.session.get(Milestone, item.object_id)
        return milestone and SimpleNamespace(
            topic="milestone", at=item.created_at, milestone=milestone, campaign=milestone.campaign
        )
    if support is None or support.withdrawn_at is not None and item.topic != "moved":
        return None
    if item.topic == "condition-met":
        return SimpleNamespace(
            topic="condition-met", at=item.created_at, support=support, campaign=support.campaign
        )
    topic = TOPICS[item.topic]
    obj = topic.load(item.object_id)
    if not support.consents_to_updates or obj is None:
        return None
    campaign, context = topic.campaign(obj), topic.context(obj)
    return SimpleNamespace(
        topic=item.topic,
        at=item.created_at,
        subject=topic.subject(obj, support),
        campaign=campaign,
        support=support,
        campaign_url=campaign_url(campaign),
        verdict_url=verdict_url(support, context.get("response")),
        receipt_url=receipt_url(support, context.get("delivery")),
        **context,
    )


def digest_email(user: User, period: str, groups: list[Group]) -> Email:
    """The digest of ``groups`` for ``user``, with its one-click unsubscribe headers."""
    count = sum(len(g.items) for g in groups)
    links = member_links(user)
    with writing_to(user):
        news_count = ngettext("%(num)s piece of news", "%(num)s pieces of news", count)
        # "daily" / "weekly", as the words of a sentence in the member's language.
        words = {"daily": gettext("daily"), "weekly": gettext("weekly")}.get(period, period)
        if len(groups) == 1:
            subject = gettext(
                "Your %(period)s digest: %(title)s", period=words, title=groups[0].campaign.title
            )
        else:
            subject = ngettext(
                "Your %(period)s digest: news from %(num)s campaign",
                "Your %(period)s digest: news from %(num)s campaigns",
                len(groups),
                period=words,
            )
        email = render_email(
            "digest",
            to=user.email,
            subject=subject,
            user=user,
            period=words,
            groups=groups,
            news_count=news_count,
            **links,
        )
    add_unsubscribe_headers(email, links["member_unsubscribe_url"])
    return email
