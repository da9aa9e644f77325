"""Exact counts without a hot row: deltas are appended per support and folded in batches.

Confirming or withdrawing a support appends a :class:`CountDelta` row in the same
transaction. :func:`fold_counts` (run by a job, a few seconds apart at most) deletes a batch
of deltas *with RETURNING* and adds them to the cached counts in the same transaction, so a
delta is applied exactly once even if two folds run at once. :func:`recount` repairs any
drift from ``COUNT(*)`` and logs it.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import NamedTuple

from sqlalchemy import bindparam, case, delete, func, select, true, update

from campaign.dbutil import insert_ignoring_conflicts, upsert_add, utc_day
from campaign.extensions import db
from campaign.models import (
    Campaign,
    CampaignState,
    CountDelta,
    CountryCount,
    DailyCount,
    Milestone,
    Support,
    day_of,
    utcnow,
)
from campaign.outbox import add_batches, later

log = logging.getLogger(__name__)

#: Organisers hear of each of these, and of the goal.
THRESHOLDS = (10, 100, 1_000, 10_000, 100_000, 1_000_000)

FOLD_BATCH = 50_000


def thresholds_crossed(old: int, new: int, goal: int) -> list[tuple[int, bool]]:
    """(threshold, is_goal) pairs with ``old < threshold <= new``, ascending."""
    crossed = {t: False for t in THRESHOLDS if old < t <= new}
    if old < goal <= new:
        crossed[goal] = True
    return sorted(crossed.items())


class Folded(NamedTuple):
    count: int  # deltas folded
    milestone_ids: list[int]  # milestones newly reached, each written exactly once
    conditions_met: dict[int, list[int]]  # campaign -> conditional pledges now on


def fold_counts(batch: int = FOLD_BATCH) -> Folded:
    """Fold up to ``batch`` pending deltas into the cached counts. Commits.

    Also writes the milestones reached (the unique constraint makes each exactly once) and
    marks the conditional pledges whose threshold the new count reaches (``condition_met_at``
    is set once, by a conditional UPDATE), with the work they owe (the organiser's notice,
    the pledgers' fan-out batches): the outbox enqueues it when this commits.
    """
    ids_in_batch = select(CountDelta.id).order_by(CountDelta.id).limit(batch)
    rows = db.session.execute(
        delete(CountDelta)
        .where(CountDelta.id.in_(ids_in_batch))
        .returning(
            CountDelta.campaign_id, CountDelta.country, CountDelta.delta, CountDelta.spend, CountDelta.day
        )
    ).all()
    if not rows:
        db.session.commit()
        return Folded(0, [], {})
    per_campaign: Counter[int] = Counter()
    spend: Counter[int] = Counter()
    per_country: dict[int, Counter[str]] = defaultdict(Counter)
    per_day: dict[int, Counter[date]] = defaultdict(Counter)
    for campaign_id, country, delta, delta_spend, day in rows:
        per_campaign[campaign_id] += delta
        spend[campaign_id] += delta_spend
        per_country[campaign_id][country] += delta
        per_day[campaign_id][day] += delta
    milestone_ids = []
    conditions_met: dict[int, list[int]] = {}
    first_recent = momentum_first_day()
    for campaign_id in sorted(per_campaign):  # a fixed order: no deadlock between folds
        change = per_campaign[campaign_id]
        # Momentum takes the deltas of the days it counts: a support confirmed a month ago
        # and withdrawn today leaves it as it is.
        recent = sum(amount for day, amount in per_day[campaign_id].items() if day >= first_recent)
        new, goal = db.session.execute(
            update(Campaign)
            .where(Campaign.id == campaign_id)
            .values(
                confirmed_count=Campaign.confirmed_count + change,
                monthly_spend_total=Campaign.monthly_spend_total + spend[campaign_id],
                momentum=case((Campaign.momentum + recent < 0, 0), else_=Campaign.momentum + recent),
            )
            .returning(Campaign.confirmed_count, Campaign.goal)
        ).one()
        for country, amount in sorted(per_country[campaign_id].items()):
            if amount:
                upsert_add(
                    CountryCount,
                    ["campaign_id", "country"],
                    "count",
                    amount,
                    campaign_id=campaign_id,
                    country=country,
                )
        for day, amount in sorted(per_day[campaign_id].items()):
            if amount:
                upsert_add(
                    DailyCount, ["campaign_id", "day"], "count", amount, campaign_id=campaign_id, day=day
                )
        for threshold, is_goal in thresholds_crossed(new - change, new, goal):
            milestone_id = insert_ignoring_conflicts(
                Milestone,
                ["campaign_id", "threshold"],
                campaign_id=campaign_id,
                threshold=threshold,
                is_goal=is_goal,
                reached_at=utcnow(),
            )
            if milestone_id is not None:
                milestone_ids.append(milestone_id)
                later("milestone", milestone_id)
        met = (
            db.session.execute(
                update(Support)
                .where(
                    Support.campaign_id == campaign_id,
                    Support.condition_threshold.is_not(None),
                    Support.condition_threshold <= new,
                    Support.condition_met_at.is_(None),
                    Support.counts,
                )
                .values(condition_met_at=utcnow())
                .returning(Support.id)
            )
            .scalars()
            .all()
        )
        if met:
            conditions_met[campaign_id] = sorted(met)
            add_batches("condition-met", campaign_id, conditions_met[campaign_id])
    db.session.commit()
    return Folded(len(rows), milestone_ids, conditions_met)


#: Momentum counts the confirmed supports of this many days (UTC), today's included.
MOMENTUM_DAYS = 7


def momentum_first_day() -> date:
    """The first day whose supports momentum counts."""
    return day_of(utcnow()) - timedelta(days=MOMENTUM_DAYS - 1)


def refresh_momentum() -> int:
    """Set each campaign's momentum to its counted supports confirmed in the last
    ``MOMENTUM_DAYS`` days as the folds have counted them: its ``daily_counts`` of those days,
    at most seven rows a campaign, however many supports they hold. The folds add to
    momentum what they add to those days, so this only lets a day that has left the window
    age out, and a support confirmed but not folded yet is counted by its fold alone (read
    from the supports, it was counted here and again by the fold until the next refresh).
    Its job holds the fold's lock, as the recount's does, so that no fold adds to both
    between the read and the write. Commits; returns how many campaigns changed."""
    fresh = {
        campaign_id: max(0, int(total))
        for campaign_id, total in db.session.execute(
            select(DailyCount.campaign_id, func.sum(DailyCount.count))
            .where(DailyCount.day >= momentum_first_day())
            .group_by(DailyCount.campaign_id)
        )
    }
    # Momentum is never below 0 (the fold and this stop there), so "> 0" is "!= 0" that the
    # index on (momentum, id) can answer, where "!=" read every campaign (25 ms at 100,000).
    stored = dict(
        db.session.execute(select(Campaign.id, Campaign.momentum).where(Campaign.momentum > 0)).all()
    )
    changes = [
        {"cid": cid, "value": fresh.get(cid, 0)}
        for cid in stored.keys() | fresh.keys()
        if fresh.get(cid, 0) != stored.get(cid, 0)
    ]
    if changes:
        table = Campaign.__table__
        db.session.execute(
            update(table).where(table.c.id == bindparam("cid")).values(momentum=bindparam("value")), changes
        )
    db.session.commit()
    return len(changes)


class Exact(NamedTuple):
    """``COUNT(*)`` of the counted supports (confirmed, not withdrawn), per campaign: by
    country, by day of confirmation (UTC), and their pledged spend."""

    countries: dict[int, Counter[str]]
    days: dict[int, Counter[date]]
    spend: Counter[int]


def exact_counts(campaign_id: int | None = None) -> Exact:
    """What every cached count should be once the waiting deltas are folded, in one pass
    over the counted supports (grouped by campaign, country and day)."""
    confirmed_on = utc_day(Support.confirmed_at)
    exact = Exact(defaultdict(Counter), defaultdict(Counter), Counter())
    for cid, country, day, n, spent in db.session.execute(
        select(
            Support.campaign_id,
            Support.country,
            confirmed_on,
            func.count(),
            func.coalesce(func.sum(Support.monthly_spend), 0),
        )
        .where(Support.counts, _only(Support.campaign_id, campaign_id))
        .group_by(Support.campaign_id, Support.country, confirmed_on)
    ):
        exact.countries[cid][country] += n
        exact.days[cid][day] += n
        exact.spend[cid] += int(spent)
    return exact


def _only(column, campaign_id: int | None):
    return true() if campaign_id is None else column == campaign_id


def recount(campaign_id: int | None = None) -> dict[int, tuple[int, int]]:
    """Set every cached count (and its counts per country and per day) to what ``COUNT(*)``
    says, minus deltas not yet folded. Commits.

    Reads in one snapshot (REPEATABLE READ on PostgreSQL; SQLite transactions are
    serialised), so supports confirmed meanwhile are neither lost nor counted twice.
    Returns ``{campaign_id: (cached_before, corrected)}`` for each campaign that drifted,
    and logs each.
    """
    db.session.commit()
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    exact, exact_days, exact_spend = exact_counts(campaign_id)
    pending: dict[int, Counter[str]] = defaultdict(Counter)
    stmt = select(CountDelta.campaign_id, CountDelta.country, func.sum(CountDelta.delta)).group_by(
        CountDelta.campaign_id, CountDelta.country
    )
    if campaign_id is not None:
        stmt = stmt.where(CountDelta.campaign_id == campaign_id)
    for cid, country, total in db.session.execute(stmt):
        pending[cid][country] = int(total)
    campaigns = select(Campaign.id, Campaign.confirmed_count, Campaign.monthly_spend_total)
    if campaign_id is not None:
        campaigns = campaigns.where(Campaign.id == campaign_id)
    stored_countries: dict[int, dict[str, int]] = defaultdict(dict)
    cc = select(CountryCount.campaign_id, CountryCount.country, CountryCount.count)
    if campaign_id is not None:
        cc = cc.where(CountryCount.campaign_id == campaign_id)
    for cid, country, n in db.session.execute(cc):
        stored_countries[cid][country] = n
    pending_spend = dict(
        db.session.execute(
            select(CountDelta.campaign_id, func.sum(CountDelta.spend))
            .where(_only(CountDelta.campaign_id, campaign_id))
            .group_by(CountDelta.campaign_id)
        ).all()
    )
    pending_days = _per_campaign_day(
        select(CountDelta.campaign_id, CountDelta.day, func.sum(CountDelta.delta))
        .where(_only(CountDelta.campaign_id, campaign_id))
        .group_by(CountDelta.campaign_id, CountDelta.day)
    )
    stored_days = _per_campaign_day(
        select(DailyCount.campaign_id, DailyCount.day, DailyCount.count).where(
            _only(DailyCount.campaign_id, campaign_id)
        )
    )
    drift = {}
    for cid, cached, cached_spend in db.session.execute(campaigns).all():
        wanted_spend = exact_spend[cid] - int(pending_spend.get(cid) or 0)
        if wanted_spend != cached_spend:
            db.session.execute(
                update(Campaign).where(Campaign.id == cid).values(monthly_spend_total=wanted_spend)
            )
        wanted = {
            country: exact[cid][country] - pending[cid][country]
            for country in set(exact[cid]) | set(pending[cid]) | set(stored_countries[cid])
        }
        wanted = {country: n for country, n in wanted.items() if n or country in stored_countries[cid]}
        total = sum(wanted.values())
        days = {
            day: exact_days[cid][day] - pending_days[cid][day]
            for day in set(exact_days[cid]) | set(pending_days[cid]) | set(stored_days[cid])
        }
        days = {day: n for day, n in days.items() if n or day in stored_days[cid]}
        if total != cached or wanted != stored_countries[cid] or days != stored_days[cid]:
            drift[cid] = (cached, total)
            log.warning("count drift on campaign %s: cached %s, corrected to %s", cid, cached, total)
            db.session.execute(update(Campaign).where(Campaign.id == cid).values(confirmed_count=total))
            for country, n in wanted.items():
                if stored_countries[cid].get(country) != n:
                    db.session.execute(delete(CountryCount).filter_by(campaign_id=cid, country=country))
                    db.session.add(CountryCount(campaign_id=cid, country=country, count=n))
            for day, n in days.items():
                if stored_days[cid].get(day) != n:
                    db.session.execute(delete(DailyCount).filter_by(campaign_id=cid, day=day))
                    db.session.add(DailyCount(campaign_id=cid, day=day, count=n))
    db.session.commit()
    return drift


def _per_campaign_day(stmt) -> dict[int, Counter[date]]:
    """``{campaign_id: {day: n}}`` of a statement's (campaign_id, day, n) rows."""
    found: dict[int, Counter[date]] = defaultdict(Counter)
    for cid, day, n in db.session.execute(stmt):
        found[cid][day] += int(n)
    return found


def close_due_campaigns() -> list[int]:
    """Close every open campaign whose closing instant has passed. Commits; returns their ids."""
    now = utcnow()
    ids = (
        db.session.execute(
            update(Campaign)
            .where(
                Campaign.state == CampaignState.OPEN,
                Campaign.closes_at.is_not(None),
                Campaign.closes_at <= now,
            )
            .values(state=CampaignState.CLOSED, closed_at=now)
            .returning(Campaign.id)
        )
        .scalars()
        .all()
    )
    db.session.commit()
    return list(ids)
