"""What pledges cover, through the ownership tree: brand pages and a supporter's own check."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, or_, select

from campaign.extensions import db
from campaign.models import (
    PUBLIC_STATES,
    Boycott,
    Brand,
    Buycott,
    Campaign,
    CampaignState,
    PledgeBrand,
    Support,
)
from campaign.search import like_pattern


def boycotts_covering(brand: Brand) -> list[Boycott]:
    """Open boycotts of this brand, or of a brand above it with group scope."""
    ancestors = [a.id for a in brand.ancestors()]
    stmt = (
        select(Boycott)
        .where(Boycott.state == CampaignState.OPEN)
        .where(
            or_(
                Boycott.target_brand_id == brand.id,
                (Boycott.target_brand_id.in_(ancestors or [0])) & Boycott.group_scope.is_(True),
            )
        )
    )
    return list(db.session.execute(stmt.order_by(Boycott.published_at.desc())).scalars())


def buycott_pledges_for(brand_id: int) -> tuple[int, int]:
    """(pledges to buy from this brand, their monthly spend) over public buycotts."""
    pledges, spend = db.session.execute(
        select(func.count(Support.id), func.coalesce(func.sum(Support.monthly_spend), 0))
        .join(PledgeBrand, PledgeBrand.support_id == Support.id)
        .join(Campaign, Campaign.id == Support.campaign_id)
        .where(
            PledgeBrand.brand_id == brand_id,
            Campaign.state.in_(PUBLIC_STATES),
            Support.counts,
        )
    ).one()
    return pledges, int(spend)


@dataclass
class MyPledges:
    boycotts: list[tuple[Boycott, list[Brand]]]  # with the brands each covers
    buycotts: list[tuple[Buycott, list[Brand]]]  # with the brands I said I'd buy from


def my_pledges(user_id: int) -> MyPledges:
    supports = (
        db.session.execute(
            select(Support)
            .join(Campaign, Campaign.id == Support.campaign_id)
            # A held pledge is still the member's own: it is listed like any other (only
            # counting leaves it out).
            .where(
                Support.user_id == user_id,
                Support.confirmed_at.is_not(None) | Support.suspect_confirmed_at.is_not(None),
                Support.withdrawn_at.is_(None),
                Campaign.state == CampaignState.OPEN,
            )
            .order_by(Support.created_at.desc())
        )
        .scalars()
        .all()
    )
    result = MyPledges([], [])
    for support in supports:
        campaign = support.campaign
        if isinstance(campaign, Boycott):
            result.boycotts.append((campaign, campaign.covered_brands()))
        elif isinstance(campaign, Buycott):
            result.buycotts.append((campaign, support.pledged_brands or campaign.brands()))
    return result


@dataclass
class Coverage:
    brand: Brand
    avoid: list[tuple[Boycott, Brand]]  # a boycott, and the brand it names (maybe a parent)
    prefer: list[Buycott]


def check_brand(user_id: int, name: str) -> list[Coverage]:
    """Brands whose name contains ``name``, each with the pledges of mine that cover it."""
    name = name.strip()
    if not name:
        return []
    brands = (
        db.session.execute(
            select(Brand)
            .where(Brand.approved_at.is_not(None), Brand.name.ilike(like_pattern(name), escape="\\"))
            .order_by(Brand.name)
            .limit(5)
        )
        .scalars()
        .all()
    )
    mine = my_pledges(user_id)
    found = []
    for brand in brands:
        avoid = []
        for boycott, covered in mine.boycotts:
            if brand in covered:
                avoid.append((boycott, boycott.target_brand))
        prefer = [buycott for buycott, chosen in mine.buycotts if brand in chosen]
        found.append(Coverage(brand, avoid, prefer))
    return found
