from datetime import UTC, datetime, timedelta, timezone

import hypothesis
import pytest
from hypothesis import strategies as st
from sqlalchemy.exc import IntegrityError, StatementError

from campaign.extensions import db
from campaign.models import (
    Boycott,
    Campaign,
    CampaignKind,
    Milestone,
    Petition,
    Support,
    canonical_email,
)
from campaign.models.support import PLAIN_ADDRESS, validated_parts
from tests.factories import SupportRowFactory, make_brand, make_campaign, make_user


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("  Ada@Example.ORG ", "ada@example.org"),
        ("ada+news@example.org", "ada@example.org"),
        ("a.d.a@gmail.com", "ada@gmail.com"),
        ("A.D.A+x@googlemail.com", "ada@gmail.com"),
        ("a.da@example.org", "a.da@example.org"),  # dots matter elsewhere
    ],
)
def test_canonical_email(given, canonical):
    assert canonical_email(given) == canonical


@hypothesis.given(st.from_regex(PLAIN_ADDRESS, fullmatch=True))
def test_a_plain_address_is_what_the_validator_would_make_of_it(address):
    """Such an address skips email-validator: it would have given the same parts back, up to
    the case and a trailing dot that canonical_email folds away anyway."""
    local, domain = validated_parts(address)
    given_local, _, given_domain = address.partition("@")
    assert (local.lower(), domain.lower().rstrip(".")) == (
        given_local.lower(),
        given_domain.lower().rstrip("."),
    )


def test_one_support_per_campaign_per_canonical_email(app):
    campaign = make_campaign()
    db.session.add(SupportRowFactory.build(campaign=campaign, email="ada@gmail.com"))
    db.session.commit()
    db.session.add(SupportRowFactory.build(campaign=campaign, email=" A.D.A+again@gmail.com"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    other = make_campaign()
    db.session.add(SupportRowFactory.build(campaign=other, email="ada@gmail.com"))  # another campaign is fine
    db.session.commit()
    assert db.session.query(Support).count() == 2


def test_one_milestone_per_campaign_and_threshold(app):
    campaign = make_campaign()
    db.session.add(Milestone(campaign_id=campaign.id, threshold=10))
    db.session.commit()
    db.session.add(Milestone(campaign_id=campaign.id, threshold=10))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()
    assert db.session.query(Milestone).count() == 1


def test_slugs_are_unique_across_kinds(app):
    first = make_campaign(CampaignKind.PETITION)
    second = make_campaign(CampaignKind.BOYCOTT)
    second.slug = first.slug
    with pytest.raises(IntegrityError):
        db.session.commit()


def test_goal_must_be_positive(app):
    campaign = make_campaign()
    campaign.goal = 0
    with pytest.raises(IntegrityError):
        db.session.commit()


def test_single_table_inheritance_loads_each_kind(app):
    petition_id = make_campaign(CampaignKind.PETITION).id
    boycott_id = make_campaign(CampaignKind.BOYCOTT).id
    make_campaign(CampaignKind.BUYCOTT)
    make_campaign(CampaignKind.PROPOSAL)
    db.session.expunge_all()
    loaded = {c.id: c for c in db.session.query(Campaign)}
    assert isinstance(loaded[petition_id], Petition)
    assert isinstance(loaded[boycott_id], Boycott)
    assert loaded[boycott_id].demand_list == ["First demand", "Second demand"]
    assert {type(c).__name__ for c in loaded.values()} == {"Petition", "Boycott", "Buycott", "Proposal"}
    assert db.session.query(Boycott).count() == 1


def test_times_are_aware_utc_on_every_backend(app):
    campaign = make_campaign()
    paris = timezone(timedelta(hours=1))
    campaign.closes_at = datetime(2030, 1, 1, 12, 0, tzinfo=paris)
    db.session.commit()
    db.session.expire_all()
    assert campaign.closes_at == datetime(2030, 1, 1, 11, 0, tzinfo=UTC)
    assert campaign.closes_at.utcoffset() == timedelta(0)
    assert campaign.created_at.tzinfo is not None


def test_naive_datetimes_are_refused(app):
    campaign = make_campaign()
    campaign.closes_at = datetime(2030, 1, 1, 12, 0)
    with pytest.raises(StatementError, match="naive datetime"):
        db.session.commit()


def test_brand_ownership_tree(app):
    group = make_brand("Group")
    child = make_brand("Child", parent=group)
    grandchild = make_brand("Grandchild", parent=child)
    assert grandchild.ancestors() == [child, group]
    assert group.subsidiaries == [child]


def test_user_email_is_unique(app):
    make_user("same@example.org")
    with pytest.raises(IntegrityError):
        make_user("same@example.org")
