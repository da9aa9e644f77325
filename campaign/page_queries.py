"""Small read-only queries the campaign page asks for while it renders.

The ones whose cost grows with a campaign's supporters are cached in Redis for a few
seconds, so a page of a campaign with a million supporters costs what one with a hundred
does (the counts themselves are already cached on the campaign row).
"""

from __future__ import annotations

import functools
import json
import logging
import time as _time
from datetime import date, timedelta

from flask import request
from redis.exceptions import RedisError
from sqlalchemy import case, func, select
from sqlalchemy.orm import selectinload

from campaign.extensions import db
from campaign.models import Campaign, Comment, CountryCount, DailyCount, Support, day_of, utcnow
from campaign.queue import redis_connection

log = logging.getLogger(__name__)

#: Seconds a campaign's momentum figures may be stale.
MOMENTUM_TTL = 15
#: Seconds a value past MOMENTUM_TTL is still kept, to answer with while one request
#: computes the next (then it is gone, and the next request computes it).
STALE_TTL = 120
#: Seconds one request may take to compute a value before another may try.
REFRESH_LOCK_SECONDS = 30


def cached_per_campaign(func_):
    """Cache ``func_(campaign)``'s JSON-able result in Redis for MOMENTUM_TTL seconds.

    Past that, one request (holding a short Redis lock) computes it again while the others
    answer with the value before it: a campaign with a million supporters has its figures
    aggregated once per MOMENTUM_TTL, not by every request that found them expired at once
    (the bench saw PostgreSQL busy on 1.4 cores, and the page's p90 at 1.3 s, for that)."""

    @functools.wraps(func_)
    def wrapper(campaign: Campaign):
        key = f"groundswell:page:{func_.__name__}:{campaign.id}"
        stored = None
        try:
            hit = redis_connection().get(key)
        except RedisError:
            hit = None
        if hit is not None:
            stored = json.loads(hit)
            if not (isinstance(stored, dict) and "fresh_until" in stored):
                stored = None  # written in the format before this one
        if stored is not None and (stored["fresh_until"] > _time.time() or not _may_refresh(key)):
            return stored["value"]
        value = func_(campaign)
        try:
            pipe = redis_connection().pipeline(transaction=False)
            entry = {"value": value, "fresh_until": _time.time() + MOMENTUM_TTL}
            pipe.set(key, json.dumps(entry), ex=MOMENTUM_TTL + STALE_TTL)
            pipe.delete(f"{key}:refreshing")
            pipe.execute()
        except RedisError:
            log.warning("page cache unavailable; computed %s directly", func_.__name__)
        return value

    return wrapper


def _may_refresh(key: str) -> bool:
    """Whether this request is the one to compute ``key`` again (it took the lock)."""
    try:
        return bool(redis_connection().set(f"{key}:refreshing", 1, nx=True, ex=REFRESH_LOCK_SECONDS))
    except RedisError:
        return True


@cached_per_campaign
def conditional_summary(campaign: Campaign) -> dict[str, int]:
    """How many counted conditional pledges a boycott has, and how many are on."""
    total, met = db.session.execute(
        select(func.count(Support.id), func.count(Support.condition_met_at)).where(
            Support.campaign_id == campaign.id,
            Support.condition_threshold.is_not(None),
            Support.counts,
        )
    ).one()
    # The lowest threshold still waited for, and how many pledges begin when it is reached.
    waiting = db.session.execute(
        select(Support.condition_threshold, func.count(Support.id))
        .where(
            Support.campaign_id == campaign.id,
            Support.condition_threshold.is_not(None),
            Support.condition_met_at.is_(None),
            Support.counts,
        )
        .group_by(Support.condition_threshold)
        .order_by(Support.condition_threshold)
        .limit(1)
    ).first()
    return {
        "total": total,
        "met": met,
        "next_threshold": waiting[0] if waiting else 0,
        "next_waiting": waiting[1] if waiting else 0,
    }


COMMENTS_PER_PAGE = 20


def comments_page_number() -> int:
    """The ``comments`` query argument (a page of comments), clamped to 1..10,000."""
    return min(max(request.args.get("comments", 1, type=int), 1), 10_000)


def campaign_comments(campaign: Campaign, page: int = 1) -> dict:
    """One page of visible top-level comments, oldest first (replies hang off each), with
    ``page`` and ``pages``; authors and replies are loaded with them, not one by one."""
    visible = (Comment.campaign_id == campaign.id, Comment.parent_id.is_(None), Comment.hidden_at.is_(None))
    total = db.session.execute(select(func.count()).select_from(Comment).where(*visible)).scalar_one()
    pages = max(1, -(-total // COMMENTS_PER_PAGE))
    page = min(page, pages)
    comments = list(
        db.session.execute(
            select(Comment)
            .where(*visible)
            .options(selectinload(Comment.author), selectinload(Comment.replies).selectinload(Comment.author))
            .order_by(Comment.created_at, Comment.id)
            .offset((page - 1) * COMMENTS_PER_PAGE)
            .limit(COMMENTS_PER_PAGE)
        ).scalars()
    )
    return {"comments": comments, "page": page, "pages": pages, "total": total}


def top_countries(campaign: Campaign, limit: int = 10) -> list[list]:
    """Countries by confirmed supports (from the cached per-country counts)."""
    return [
        list(row)
        for row in db.session.execute(
            select(CountryCount.country, CountryCount.count)
            .where(CountryCount.campaign_id == campaign.id, CountryCount.count > 0)
            .order_by(CountryCount.count.desc(), CountryCount.country)
            .limit(limit)
        )
    ]


@cached_per_campaign
def latest_public_supporters(campaign: Campaign, limit: int = 8) -> list[dict]:
    """The newest confirmed supporters who chose to show their name (name, country, reason)."""
    rows = db.session.execute(
        select(
            Support.name,
            Support.country,
            case((Support.reason_hidden_at.is_(None), Support.comment), else_=None).label("comment"),
        )
        .where(
            Support.campaign_id == campaign.id,
            Support.is_public.is_(True),
            Support.counts,
        )
        .order_by(Support.confirmed_at.desc())
        .limit(limit)
    ).all()
    return [{"name": r.name, "country": r.country, "comment": r.comment} for r in rows]


def supports_per_day(campaign: Campaign, days: int = 30) -> list[tuple[str, int]]:
    """Confirmed supports per day (UTC) over the last ``days`` days, oldest first (for the
    chart): at most ``days`` rows of the counts per day the fold keeps, however many supports
    those days had (a ``GROUP BY`` of a month of a million supports took 190 ms)."""
    start = day_of(utcnow()) - timedelta(days=days - 1)
    counted = dict(
        db.session.execute(
            select(DailyCount.day, DailyCount.count).where(
                DailyCount.campaign_id == campaign.id, DailyCount.day >= start
            )
        ).all()
    )
    return [
        [(start + timedelta(days=i)).isoformat(), counted.get(start + timedelta(days=i), 0)]
        for i in range(days)
    ]


def chart_points(series: list[tuple[str, int]], width: int = 300, height: int = 80) -> str:
    """SVG polyline points for a daily series (server-rendered chart, no script)."""
    top = max((n for _, n in series), default=0) or 1
    step = width / max(len(series) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - n * height / top:.1f}" for i, (_, n) in enumerate(series))


def supported_after_shares(user_id: int) -> dict[int, int]:
    """support id → how many counted supports came through that supporter's share links,
    for each support of ``user_id`` that brought any."""
    mine = select(Support.id).where(Support.user_id == user_id)
    rows = db.session.execute(
        select(Support.referred_by_id, func.count())
        .where(
            Support.referred_by_id.in_(mine),
            Support.counts,
        )
        .group_by(Support.referred_by_id)
    ).all()
    return dict(rows)


def momentum_chart(series: list[tuple[str, int]], width: int = 300, height: int = 100) -> dict:
    """What the momentum chart draws: a bar per day scaled to a round top, the axis labels and
    the busiest day (for the caption that says in words what the bars show)."""
    counts = [n for _, n in series]
    most = max(counts, default=0)
    top = next(
        n * step
        for step in (1, 10, 100, 1000, 10_000, 100_000, 1_000_000)
        for n in (1, 2, 5)
        if n * step >= most
    )
    step = width / max(len(series), 1)
    bars = [
        {
            "x": round(i * step + step * 0.15, 2),
            "width": round(step * 0.7, 2),
            "height": round(n * height / top, 2),
            "y": round(height - n * height / top, 2),
        }
        for i, n in enumerate(counts)
    ]
    busiest = max(range(len(counts)), key=lambda i: (counts[i], i)) if most else None
    return {
        "bars": bars,
        "top": top,
        "total": sum(counts),
        "first": date.fromisoformat(series[0][0]) if series else None,
        "last": date.fromisoformat(series[-1][0]) if series else None,
        "busiest": (date.fromisoformat(series[busiest][0]), most) if busiest is not None else None,
        "days": [(date.fromisoformat(day), n) for day, n in series],
    }
