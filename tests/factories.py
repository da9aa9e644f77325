"""Small builders for test data, bound to the app's session; each commits."""

from __future__ import annotations

import itertools

from campaign.extensions import db
from campaign.models import (
    CAMPAIGN_CLASSES,
    Brand,
    CampaignKind,
    CampaignState,
    EmailFrequency,
    Endorsement,
    Role,
    User,
    utcnow,
)

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_user(email: str | None = None, *, role: Role = Role.MEMBER, verified: bool = True,
              name: str = "Test Member", email_frequency: EmailFrequency | None = None) -> User:
    user = User(email=email or f"member{next(_seq)}@example.org", name=name, role=role,
                email_verified_at=utcnow() if verified else None,
                email_frequency=email_frequency or EmailFrequency.DAILY)
    user.set_password(PASSWORD)
    db.session.add(user)
    db.session.commit()
    return user


def make_brand(name: str | None = None, parent: Brand | None = None) -> Brand:
    n = next(_seq)
    name = name or f"Brand {n}"
    brand = Brand(name=name, slug=f"{name.lower().replace(' ', '-')}-{n}", parent=parent,
                  contact_email=f"contact{n}@brand.example", website="https://brand.example",
                  email_domains=f"brand{n}.example", approved_at=utcnow())
    db.session.add(brand)
    db.session.commit()
    return brand


def make_campaign(kind: CampaignKind = CampaignKind.PETITION, *, organiser: User | None = None,
                  brand: Brand | None = None, state: CampaignState = CampaignState.OPEN,
                  title: str | None = None, goal: int = 100):
    n = next(_seq)
    organiser = organiser or make_user()
    brand = brand or make_brand()
    model = CAMPAIGN_CLASSES[kind]
    campaign = model(
        slug=f"campaign-{n}", title=title or f"Campaign number {n} for change",
        summary="A short summary.", body="The **story**.", goal=goal, state=state,
        organiser=organiser,
        published_at=utcnow() if state == CampaignState.OPEN else None,
    )
    if kind == CampaignKind.BUYCOTT:
        campaign.endorsements.append(Endorsement(brand=brand, reason="Good practice"))
    else:
        campaign.target_brand = brand
    if kind == CampaignKind.PETITION:
        campaign.demand = "Do the right thing."
    if kind == CampaignKind.BOYCOTT:
        campaign.demands = "First demand\nSecond demand"
    db.session.add(campaign)
    db.session.commit()
    return campaign
