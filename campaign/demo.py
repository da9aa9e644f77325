"""Demo data for ``make run``: brands with an ownership tree, people of every role, campaigns."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from campaign.extensions import db
from campaign.models import (
    Boycott,
    Brand,
    BrandMember,
    Buycott,
    CampaignState,
    Certification,
    Endorsement,
    Petition,
    Proposal,
    Role,
    User,
    utcnow,
)

DEMO_PEOPLE = [
    ("moderator@demo.groundswell.example", "Demo Moderator", "moderator"),
    ("organiser@demo.groundswell.example", "Demo Organiser", "organiser"),
    ("brand@demo.groundswell.example", "Demo Brand Member", "brand member (Northwind Coffee)"),
    ("supporter@demo.groundswell.example", "Demo Supporter", "member"),
]


def seed() -> bool:
    """Insert the demo data unless it is there. Commits. Returns True if it was created."""
    from campaign.cli import DEMO_PASSWORD

    if db.session.execute(select(User).filter_by(email=DEMO_PEOPLE[0][0])).scalar():
        return False
    now = utcnow()
    people = {}
    for email, name, role in DEMO_PEOPLE:
        user = User(email=email, name=name, email_verified_at=now,
                    role=Role.MODERATOR if role == "moderator" else Role.MEMBER)
        user.set_password(DEMO_PASSWORD)
        people[role.split()[0]] = user
        db.session.add(user)

    northwind = Brand(name="Northwind Group", slug="northwind-group",
                      website="https://northwind.example", contact_email="press@northwind.example",
                      description="A food and clothing group with brands in 30 countries.")
    coffee = Brand(name="Northwind Coffee", slug="northwind-coffee", parent=northwind,
                   website="https://coffee.northwind.example",
                   contact_email="care@coffee.northwind.example",
                   description="Coffee shops and supermarket coffee.")
    apparel = Brand(name="Northwind Apparel", slug="northwind-apparel", parent=northwind,
                    website="https://apparel.northwind.example",
                    contact_email="care@apparel.northwind.example",
                    description="High-street clothing.")
    evergreen = Brand(name="Evergreen Outfitters", slug="evergreen-outfitters",
                      website="https://evergreen.example", contact_email="hello@evergreen.example",
                      description="Outdoor clothing repaired for life.")
    evergreen.certifications.append(Certification(
        name="Certified B Corporation", issuer="B Lab", evidence_url="https://evergreen.example/bcorp",
        verified_at=now, expires_on=date.today() + timedelta(days=365)))
    fairfield = Brand(name="Fairfield Foods", slug="fairfield-foods",
                      website="https://fairfield.example", contact_email="contact@fairfield.example",
                      description="Supermarket own-brand food.")
    for brand, domain in ((northwind, "northwind.example"), (coffee, "coffee.northwind.example"),
                          (apparel, "apparel.northwind.example"), (evergreen, "evergreen.example"),
                          (fairfield, "fairfield.example")):
        brand.approved_at = now
        brand.email_domains = domain
    db.session.add_all([northwind, coffee, apparel, evergreen, fairfield])
    db.session.add(BrandMember(brand=coffee, user=people["brand"], title="Head of Sustainability",
                               verified_at=now))

    organiser = people["organiser"]
    common = {"organiser": organiser, "state": CampaignState.OPEN, "published_at": now,
              "submitted_at": now}
    campaigns = [
        Petition(slug="northwind-coffee-pay-farmers-a-living-income",
                 title="Northwind Coffee: pay farmers a living income",
                 summary="Publish what you pay coffee farmers and commit to a living income by 2028.",
                 body="Most coffee farmers earn **below a living income**.\n\n"
                      "Northwind Coffee sells millions of cups a day. We ask it to:\n\n"
                      "- publish the prices it pays, farm by farm;\n"
                      "- commit to a living income reference price by 2028.",
                 demand="Publish your farm-gate prices and pay a living income reference price "
                        "by 2028.",
                 target_brand=coffee, goal=10_000, **common),
        Boycott(slug="boycott-northwind-apparel-until-it-signs-the-safety-accord",
                title="Boycott Northwind Apparel until it signs the safety accord",
                summary="Stop buying Northwind Apparel until it signs the garment factory safety accord.",
                body="Factory fires and collapses are preventable. The accord makes safety "
                     "inspections binding.",
                demands="Sign the international accord on factory safety\n"
                        "Publish the list of supplier factories",
                target_brand=apparel, goal=5_000, **common),
        Buycott(slug="buy-from-brands-that-repair-for-life",
                title="Buy from brands that repair for life",
                summary="Choose outdoor clothing from brands that repair what they sell, for free.",
                body="Repairs keep clothes out of landfill. Reward the brands that offer them.",
                endorsements=[Endorsement(brand=evergreen,
                                          reason="Free repairs for life; certified B Corp")],
                goal=2_000, **common),
        Proposal(slug="fairfield-foods-refill-stations-for-staples",
                 title="Fairfield Foods: refill stations for staples",
                 summary="Let customers refill rice, pasta and oats in their own containers.",
                 body="Refill stations cut packaging and cost. We propose a pilot in ten stores.",
                 target_brand=fairfield, goal=1_000, **common),
    ]
    for campaign, picture in zip(campaigns, ("coffee", "factory", "repair", "refill"), strict=True):
        campaign.picture, campaign.picture_alt = _demo_picture(picture)
    db.session.add_all(campaigns)
    try:
        db.session.commit()
    except IntegrityError:  # another process seeded at the same moment
        db.session.rollback()
        return False
    return True


#: The demo campaigns' pictures, drawn for the project (campaign.demo_art; CC0, see README).
DEMO_PICTURES = Path(__file__).resolve().parent.parent / "static" / "demo"


def _demo_picture(name: str) -> tuple[str, str]:
    """Store a demo picture's renditions in MEDIA_STORAGE; (key, alt text)."""
    from campaign import media
    from campaign.demo_art import PICTURES

    key, made = media.renditions((DEMO_PICTURES / f"{name}.webp").read_bytes())
    media.store(made)
    return key, PICTURES[name][1]
