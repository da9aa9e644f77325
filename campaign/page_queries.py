"""Small read-only queries the campaign page asks for while it renders."""

from __future__ import annotations

from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import Campaign, Comment, Support


def conditional_summary(campaign: Campaign) -> dict[str, int]:
    """How many counted conditional pledges a boycott has, and how many are on."""
    total, met = db.session.execute(
        select(func.count(Support.id), func.count(Support.condition_met_at))
        .where(Support.campaign_id == campaign.id, Support.condition_threshold.is_not(None),
               Support.confirmed_at.is_not(None), Support.withdrawn_at.is_(None))).one()
    return {"total": total, "met": met}


def campaign_comments(campaign: Campaign) -> list[Comment]:
    """Visible top-level comments, oldest first (replies hang off each)."""
    return list(db.session.execute(
        select(Comment).where(Comment.campaign_id == campaign.id, Comment.parent_id.is_(None),
                              Comment.hidden_at.is_(None))
        .order_by(Comment.created_at)).scalars())
