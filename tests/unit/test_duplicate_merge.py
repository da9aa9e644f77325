"""Merging a duplicate proposal over every pair of support states: never an error, each
person counted once at most, a withdrawal or a hold on the target respected, counts exact."""

from __future__ import annotations

import itertools

from sqlalchemy import select

from campaign.extensions import db
from campaign.models import BrandMember, CampaignKind, Proposal, Support, utcnow
from campaign.services import counting
from campaign.services import proposals as proposal_service
from tests.factories import SupportRowFactory, make_brand, make_campaign, make_user

SOURCE_STATES = ("pending", "counted", "held", "held_confirmed", "withdrawn")
TARGET_STATES = ("none", *SOURCE_STATES)


def _support(campaign, email: str, state: str) -> None:
    """A support of ``email`` in ``state`` (each state but "counted" is a factory trait)."""
    SupportRowFactory(campaign=campaign, email=email, **({} if state == "counted" else {state: True}))


def _counts_after_merge(source_state: str, target_state: str) -> bool:
    return target_state == "counted" or (source_state == "counted" and target_state in ("none", "pending"))


def test_merging_over_every_pair_of_support_states(app):
    brand = make_brand("Fairfield")
    member = make_user()
    db.session.add(BrandMember(brand_id=brand.id, user_id=member.id, verified_at=utcnow()))
    target = make_campaign(CampaignKind.PROPOSAL, brand=brand)
    sources = {state: make_campaign(CampaignKind.PROPOSAL, brand=brand) for state in SOURCE_STATES}
    pairs = list(itertools.product(SOURCE_STATES, TARGET_STATES))
    for a, b in pairs:
        email = f"{a}-{b}@example.org"
        _support(sources[a], email, a)
        if b != "none":
            _support(target, email, b)
    db.session.commit()
    counting.recount()
    for source in sources.values():
        proposal_service.set_status(
            source.id, member, "duplicate", "The same idea.", duplicate_of_id=target.id
        )
    counting.fold_counts()
    rows = {
        s.email: s
        for s in db.session.execute(select(Support).where(Support.campaign_id == target.id)).scalars()
    }
    for a, b in pairs:
        row = rows.get(f"{a}-{b}@example.org")
        if row is None:  # a withdrawn endorsement is not moved
            assert (a, b) == ("withdrawn", "none")
            continue
        assert row.counts == _counts_after_merge(a, b), (a, b)
        if b == "withdrawn":
            assert row.withdrawn_at is not None, (a, b)
        if b.startswith("held"):
            assert row.suspect is not None and row.confirmed_at is None, (a, b)
    assert counting.recount() == {}
    expected = sum(_counts_after_merge(a, b) for a, b in pairs)
    assert db.session.get(Proposal, target.id).confirmed_count == expected
    for source in sources.values():
        assert db.session.get(Proposal, source.id).confirmed_count == 0
