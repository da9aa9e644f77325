"""A brand's accountability record, derived from recorded delivery and answer times."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import PUBLIC_STATES, Campaign, Delivery, Response, utcnow


@dataclass
class Waiting:
    campaign: Campaign
    delivered_at: datetime
    days: int


@dataclass
class AnswerTime:
    """One delivered campaign on the record's chart: days to the answer, or waited so far."""

    campaign: Campaign
    delivered_at: datetime
    days: float
    answered: bool


@dataclass
class ChartRow:
    time: AnswerTime
    y: int
    width: float


@dataclass
class Record:
    delivered: int = 0
    answered: int = 0
    median_days_to_answer: float | None = None
    waiting: list[Waiting] = field(default_factory=list)
    times: list[AnswerTime] = field(default_factory=list)  # newest delivery first

    @property
    def share_answered(self) -> int | None:
        return round(self.answered * 100 / self.delivered) if self.delivered else None

    def chart_rows(self, limit: int = 12, width: int = 200, row_height: int = 34) -> list[ChartRow]:
        """The bars of the record's chart (server-rendered SVG): the ``limit`` newest
        deliveries, each as long as its days to answer (or waited), on one scale."""
        times = self.times[:limit]
        longest = max((t.days for t in times), default=0) or 1
        return [
            ChartRow(t, i * row_height, max(2.0, round(t.days * width / longest, 1)))
            for i, t in enumerate(times)
        ]


def record_for(brand_id: int, now: datetime | None = None) -> Record:
    """Campaigns delivered to the brand, how many it answered, how fast, and who waits.

    A campaign counts from its first delivered round; its answer time is from then to the
    brand's first answer.
    """
    now = now or utcnow()
    # A campaign a moderator hid (or withdrawn) is no longer shown, nor counted in figures.
    first_sent = dict(
        db.session.execute(
            select(Delivery.campaign_id, func.min(Delivery.sent_at))
            .join(Campaign, Campaign.id == Delivery.campaign_id)
            .where(
                Delivery.brand_id == brand_id,
                Delivery.sent_at.is_not(None),
                Campaign.state.in_(PUBLIC_STATES),
            )
            .group_by(Delivery.campaign_id)
        ).all()
    )
    first_answer = dict(
        db.session.execute(
            select(Response.campaign_id, func.min(Response.created_at))
            .where(Response.brand_id == brand_id, Response.campaign_id.in_(list(first_sent) or [0]))
            .group_by(Response.campaign_id)
        ).all()
    )
    record = Record(delivered=len(first_sent), answered=len(first_answer))
    days = []
    for campaign_id, sent in first_sent.items():
        sent = _aware(sent)
        campaign = db.session.get(Campaign, campaign_id)
        if campaign_id in first_answer:
            days.append(max(0.0, (_aware(first_answer[campaign_id]) - sent).total_seconds() / 86400))
            record.times.append(AnswerTime(campaign, sent, round(days[-1], 1), answered=True))
        else:
            record.waiting.append(Waiting(campaign, sent, (now - sent).days))
            record.times.append(AnswerTime(campaign, sent, (now - sent).days, answered=False))
    if days:
        record.median_days_to_answer = round(statistics.median(days), 1)
    record.waiting.sort(key=lambda w: w.delivered_at)
    record.times.sort(key=lambda t: t.delivered_at, reverse=True)
    return record


def _aware(value: datetime) -> datetime:
    # Aggregates bypass the column type on SQLite, which returns naive UTC (or text).
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
