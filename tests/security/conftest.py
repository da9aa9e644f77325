"""The world the route walks open: one of everything (its URLs: tests/security/walk.py)."""

from __future__ import annotations

import pytest

from campaign.extensions import db
from campaign.models import BrandMember, CampaignKind, CoAuthor, Comment, Delivery, Support, utcnow
from tests.factories import make_brand, make_campaign, make_user
from tests.security.walk import KIND_NAMES


@pytest.fixture
def world(app):
    """One of everything, owned by someone else than the stranger."""
    owner = make_user("owner@example.org")
    brand = make_brand("Acme")
    campaigns = {k: make_campaign(CampaignKind(k[:-1]), organiser=owner, brand=brand) for k in KIND_NAMES}
    petition = campaigns["petitions"]
    support = Support(
        campaign_id=petition.id,
        email="s@example.org",
        email_canonical="s@example.org",
        name="S",
        country="GB",
        confirmed_at=utcnow(),
    )
    db.session.add(support)
    comment = Comment(campaign_id=campaigns["proposals"].id, user_id=owner.id, body="Hi")
    db.session.add(comment)
    delivery = Delivery(
        campaign_id=petition.id,
        brand_id=brand.id,
        round=1,
        up_to_support_id=1,
        support_count=1,
        sent_at=utcnow(),
    )
    db.session.add(delivery)
    invitee = make_user("invitee@example.org")
    db.session.add(
        CoAuthor(campaign_id=campaigns["proposals"].id, user_id=invitee.id, invited_by_id=owner.id)
    )
    claimant = make_user("claimant@example.org")
    db.session.add(BrandMember(brand_id=brand.id, user_id=claimant.id))
    db.session.commit()
    return {
        "campaigns": campaigns,
        "brand": brand,
        "support": support,
        "comment": comment,
        "delivery": delivery,
    }
