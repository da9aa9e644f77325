"""Demo data for ``make run``: brands with an ownership tree, people of every role, and a
platform that looks alive: campaigns with thousands of supporters over the last 30 days, in
several countries, a delivered petition with the brand's answer and supporters' verdicts, a
declared victory, proposals across the roadmap, a conditional boycott part way.

Supporters are written with bulk inserts, and every cached count (campaign totals, countries,
pledged spend, milestones) is set to exactly what a recount finds, so ``make run`` starts fast
and the nightly recount finds nothing to correct.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from campaign import media, packages
from campaign.demo_art import PICTURES
from campaign.extensions import db
from campaign.models import (
    Boycott,
    Brand,
    BrandMember,
    Buycott,
    Campaign,
    CampaignState,
    Certification,
    Comment,
    CountryCount,
    DailyCount,
    Delivery,
    DeliveryState,
    Endorsement,
    Milestone,
    Petition,
    Proposal,
    ProposalStatus,
    Response,
    Role,
    Stance,
    StatusChange,
    Support,
    Update,
    User,
    Verdict,
    VerdictChoice,
    canonical_email,
    day_of,
    utcnow,
)
from campaign.services.counting import refresh_momentum, thresholds_crossed

#: The password of every demo login.
DEMO_PASSWORD = "groundswell-demo"

DEMO_PEOPLE = [
    ("moderator@demo.groundswell.example", "Demo Moderator", "moderator"),
    ("organiser@demo.groundswell.example", "Demo Organiser", "organiser"),
    ("brand@demo.groundswell.example", "Demo Brand Member", "brand member (Northwind Coffee)"),
    ("supporter@demo.groundswell.example", "Demo Supporter", "member"),
]


def seed() -> bool:
    """Insert the demo data unless it is there. Commits. Returns True if it was created."""
    if db.session.execute(select(User).filter_by(email=DEMO_PEOPLE[0][0])).scalar():
        return False
    now = utcnow()
    people = {}
    for email, name, role in DEMO_PEOPLE:
        user = User(
            email=email,
            name=name,
            email_verified_at=now,
            role=Role.MODERATOR if role == "moderator" else Role.MEMBER,
        )
        user.set_password(DEMO_PASSWORD)
        people[role.split()[0]] = user
        db.session.add(user)

    northwind = Brand(
        name="Northwind Group",
        slug="northwind-group",
        website="https://northwind.example",
        contact_email="press@northwind.example",
        description="A food and clothing group with brands in 30 countries.",
    )
    coffee = Brand(
        name="Northwind Coffee",
        slug="northwind-coffee",
        parent=northwind,
        website="https://coffee.northwind.example",
        contact_email="care@coffee.northwind.example",
        description="Coffee shops and supermarket coffee.",
    )
    apparel = Brand(
        name="Northwind Apparel",
        slug="northwind-apparel",
        parent=northwind,
        website="https://apparel.northwind.example",
        contact_email="care@apparel.northwind.example",
        description="High-street clothing.",
    )
    evergreen = Brand(
        name="Evergreen Outfitters",
        slug="evergreen-outfitters",
        website="https://evergreen.example",
        contact_email="hello@evergreen.example",
        description="Outdoor clothing repaired for life.",
    )
    evergreen.certifications.append(
        Certification(
            name="Certified B Corporation",
            issuer="B Lab",
            evidence_url="https://evergreen.example/bcorp",
            verified_at=now,
            expires_on=date.today() + timedelta(days=365),
        )
    )
    fairfield = Brand(
        name="Fairfield Foods",
        slug="fairfield-foods",
        website="https://fairfield.example",
        contact_email="contact@fairfield.example",
        description="Supermarket own-brand food.",
    )
    for brand, domain in (
        (northwind, "northwind.example"),
        (coffee, "coffee.northwind.example"),
        (apparel, "apparel.northwind.example"),
        (evergreen, "evergreen.example"),
        (fairfield, "fairfield.example"),
    ):
        brand.approved_at = now
        brand.email_domains = domain
    db.session.add_all([northwind, coffee, apparel, evergreen, fairfield])
    db.session.add(
        BrandMember(brand=coffee, user=people["brand"], title="Head of Sustainability", verified_at=now)
    )

    organiser = people["organiser"]
    common = {"organiser": organiser, "state": CampaignState.OPEN, "published_at": now, "submitted_at": now}
    campaigns = [
        Petition(
            slug="northwind-coffee-pay-farmers-a-living-income",
            title="Northwind Coffee: pay farmers a living income",
            summary="Publish what you pay coffee farmers and commit to a living income by 2028.",
            body="Most coffee farmers earn **below a living income**.\n\n"
            "Northwind Coffee sells millions of cups a day. We ask it to:\n\n"
            "- publish the prices it pays, farm by farm;\n"
            "- commit to a living income reference price by 2028.",
            demand="Publish your farm-gate prices and pay a living income reference price by 2028.",
            target_brand=coffee,
            goal=10_000,
            **common,
        ),
        Boycott(
            slug="boycott-northwind-apparel-until-it-signs-the-safety-accord",
            title="Boycott Northwind Apparel until it signs the safety accord",
            summary="Stop buying Northwind Apparel until it signs the garment factory safety accord.",
            body="Factory fires and collapses are preventable. The accord makes safety inspections binding.",
            demands="Sign the international accord on factory safety\nPublish the list of supplier factories",
            target_brand=apparel,
            goal=5_000,
            **common,
        ),
        Buycott(
            slug="buy-from-brands-that-repair-for-life",
            title="Buy from brands that repair for life",
            summary="Choose outdoor clothing from brands that repair what they sell, for free.",
            body="Repairs keep clothes out of landfill. Reward the brands that offer them.",
            endorsements=[Endorsement(brand=evergreen, reason="Free repairs for life; certified B Corp")],
            goal=2_000,
            **common,
        ),
        Proposal(
            slug="fairfield-foods-refill-stations-for-staples",
            title="Fairfield Foods: refill stations for staples",
            summary="Let customers refill rice, pasta and oats in their own containers.",
            body="Refill stations cut packaging and cost. We propose a pilot in ten stores.",
            target_brand=fairfield,
            goal=1_000,
            **common,
        ),
    ]
    for campaign, picture in zip(campaigns, ("coffee", "factory", "repair", "refill"), strict=True):
        campaign.picture, campaign.picture_alt = _demo_picture(picture)
    db.session.add_all(campaigns)
    db.session.flush()
    _seed_activity(
        now,
        people,
        campaigns,
        {"coffee": coffee, "apparel": apparel, "evergreen": evergreen, "fairfield": fairfield},
    )
    try:
        db.session.commit()
    except IntegrityError:  # another process seeded at the same moment
        db.session.rollback()
        return False

    refresh_momentum()  # trending reads it: the last week's supports, as the clock keeps it
    return True


#: The demo campaigns' pictures, drawn for the project (campaign.demo_art; CC0, see README).
DEMO_PICTURES = Path(__file__).resolve().parent.parent / "static" / "demo"


def _demo_picture(name: str) -> tuple[str, str]:
    """Store a demo picture's renditions in MEDIA_STORAGE; (key, alt text)."""
    key, made = media.renditions((DEMO_PICTURES / f"{name}.webp").read_bytes())
    media.store(made)
    return key, PICTURES[name][1]


FIRST_NAMES = (
    "Ada",
    "Ben",
    "Chloé",
    "Dario",
    "Elif",
    "Femi",
    "Greta",
    "Hugo",
    "Inés",
    "Jonas",
    "Kai",
    "Lucía",
    "Mateo",
    "Nadia",
    "Oskar",
    "Priya",
    "Quinn",
    "Rosa",
    "Sami",
    "Tomás",
    "Uma",
    "Viktor",
    "Wen",
    "Yara",
    "Zoë",
)
LAST_NAMES = (
    "Abbott",
    "Bauer",
    "Costa",
    "Dubois",
    "Evans",
    "Fischer",
    "García",
    "Hansen",
    "Ivanova",
    "Jansen",
    "Kowalski",
    "López",
    "Martin",
    "Novak",
    "O'Brien",
    "Pereira",
    "Rossi",
    "Schmidt",
    "Torres",
    "Visser",
)
# Countries, weighted: most supporters in a few, some everywhere.
COUNTRIES = (
    ("GB", 30),
    ("DE", 18),
    ("FR", 14),
    ("ES", 12),
    ("NL", 8),
    ("IE", 5),
    ("IT", 5),
    ("US", 4),
    ("MX", 2),
    ("BR", 2),
)
DAYS = 30


def _when(rng: random.Random, now: datetime, shape: str) -> datetime:
    """A confirmation time in the last 30 days; ``shape`` gives the campaign its momentum."""
    if shape == "surge":  # most of it in the last week: trending now
        days = rng.triangular(0, DAYS, 0) if rng.random() < 0.7 else rng.uniform(0, DAYS)
    elif shape == "early":  # a launch spike that fades
        days = rng.triangular(0, DAYS, DAYS)
    else:  # steady, with a spike around a news story twelve days ago
        days = rng.gauss(12, 1.5) if rng.random() < 0.25 else rng.uniform(0, DAYS)
    days = min(max(days, 0.02), DAYS - 0.01)
    return now - timedelta(days=days, seconds=rng.randrange(3600))


def _supporters(
    rng: random.Random,
    now: datetime,
    campaign: Campaign,
    n: int,
    shape: str,
    *,
    spend: tuple[int, int] | None = None,
    pending: int = 0,
    withdrawn: int = 0,
    conditional: dict[int, int] | None = None,
    before: datetime | None = None,
) -> list[dict]:
    """Rows for ``n`` counted supports (plus a few pending and withdrawn), oldest first."""
    countries = [c for c, _ in COUNTRIES]
    weights = [w for _, w in COUNTRIES]
    conditional = dict(conditional or {})
    rows = []
    for i in range(n + pending + withdrawn):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        email = f"{first}.{last}.{campaign.id}.{i}@people.demo.groundswell.example"
        confirmed = _when(rng, now, shape)
        if before is not None and i < n // 2:
            confirmed = min(confirmed, before - timedelta(hours=rng.randrange(1, 240)))
        row = {
            "campaign_id": campaign.id,
            "email": email,
            "email_canonical": canonical_email(email),
            "name": f"{first} {last}",
            "is_public": rng.random() < 0.8,
            "country": rng.choices(countries, weights)[0],
            "postcode": None,
            "comment": None,
            "monthly_spend": None,
            "consents_to_updates": rng.random() < 0.6,
            "condition_threshold": None,
            "condition_met_at": None,
            "locale": "es" if rng.random() < 0.15 else None,
            "created_at": confirmed - timedelta(minutes=rng.randrange(1, 90)),
            "confirmed_at": confirmed,
            "withdrawn_at": None,
        }
        if spend is not None:
            row["monthly_spend"] = rng.randrange(spend[0], spend[1] + 1, 5)
        if i >= n + pending:
            row["withdrawn_at"] = min(now, confirmed + timedelta(days=rng.uniform(0.5, 5)))
        elif i >= n:
            row["confirmed_at"] = None  # waiting for the email link
        else:
            for threshold, left in conditional.items():
                if left:
                    conditional[threshold] -= 1
                    row["condition_threshold"] = threshold
                    break
        rows.append(row)
    rows.sort(key=lambda r: r["confirmed_at"] or r["created_at"])
    return rows


def _counted(rows: list[dict]) -> list[dict]:
    return [r for r in rows if r["confirmed_at"] is not None and r["withdrawn_at"] is None]


def _set_counts(campaign: Campaign, rows: list[dict]) -> None:
    """Cached counts exactly as a recount finds them, and the milestones already reached."""
    counted = sorted(_counted(rows), key=lambda r: r["confirmed_at"])
    campaign.confirmed_count = len(counted)
    campaign.monthly_spend_total = sum(r["monthly_spend"] or 0 for r in counted)
    for country, n in sorted(Counter(r["country"] for r in counted).items()):
        db.session.add(CountryCount(campaign_id=campaign.id, country=country, count=n))
    for day, n in sorted(Counter(day_of(r["confirmed_at"]) for r in counted).items()):
        db.session.add(DailyCount(campaign_id=campaign.id, day=day, count=n))
    for threshold, is_goal in thresholds_crossed(0, len(counted), campaign.goal):
        reached = counted[threshold - 1]["confirmed_at"]
        db.session.add(
            Milestone(
                campaign_id=campaign.id,
                threshold=threshold,
                is_goal=is_goal,
                reached_at=reached,
                notified_at=reached,
            )
        )


def _seed_activity(
    now: datetime, people: dict[str, User], campaigns: list[Campaign], brands: dict[str, Brand]
) -> None:
    rng = random.Random(2026)
    petition, boycott, buycott, refill = campaigns
    organiser, member, supporter = people["organiser"], people["brand"], people["member"]
    evergreen, fairfield, coffee = brands["evergreen"], brands["fairfield"], brands["coffee"]
    common = {"organiser": organiser, "state": CampaignState.OPEN}

    won = Petition(
        slug="evergreen-outfitters-publish-repair-figures",
        title="Evergreen Outfitters: publish how many items you repair",
        summary="Report every year how many items are repaired, and how many are thrown away.",
        body="Repair for life is a promise worth checking. Publish the figures.",
        demand="Publish a yearly repair report.",
        target_brand=evergreen,
        goal=1_000,
        **{**common, "state": CampaignState.WON},
        published_at=now - timedelta(days=40),
        won_at=now - timedelta(days=2),
        victory_story="Evergreen Outfitters published its first repair report: "
        "**38,412 items repaired** last year, and a promise to report "
        "every spring. Thank you to everyone who signed.",
    )
    statuses = [
        (
            "planned",
            "Paper bags at every checkout",
            "Replace plastic carrier bags with paper or reusable bags in every store.",
            ProposalStatus.PLANNED,
            "We will switch all stores by the end of next year.",
            420,
            fairfield,
        ),
        (
            "in-progress",
            "Label the origin of every fresh product",
            "Say which country each fruit and vegetable comes from, on the shelf.",
            ProposalStatus.IN_PROGRESS,
            "Origin labels are on the shelves of 40 stores so far.",
            310,
            fairfield,
        ),
        (
            "done",
            "Oat milk at no extra charge",
            "Charge the same for oat milk as for cow's milk in every coffee shop.",
            ProposalStatus.DONE,
            "Done: plant milks cost the same since 1 November.",
            980,
            coffee,
        ),
        (
            "declined",
            "Reopen the Sunday evening hours",
            "Open until 8 pm on Sundays, as before.",
            ProposalStatus.DECLINED,
            "We can't staff Sunday evenings fairly, so we are keeping the current hours.",
            150,
            fairfield,
        ),
        (
            "review",
            "Reusable cups you can return at any shop",
            "A deposit cup you can return to any Northwind Coffee shop.",
            ProposalStatus.UNDER_REVIEW,
            None,
            260,
            coffee,
        ),
    ]
    proposals = []
    for slug, title, summary, status, _answer, _n, brand in statuses:
        proposals.append(
            Proposal(
                slug=f"{brand.slug}-{slug}",
                title=title,
                summary=summary,
                body=summary,
                target_brand=brand,
                goal=1_000,
                proposal_status=status,
                published_at=now - timedelta(days=29),
                **common,
            )
        )
    db.session.add(won)
    db.session.add_all(proposals)
    for i, campaign in enumerate(campaigns):
        campaign.published_at = now - timedelta(days=30 - i * 3)
    db.session.flush()

    delivered_at = now - timedelta(days=6)
    plans = [
        (
            petition,
            _supporters(rng, now, petition, 2_400, "steady", pending=25, withdrawn=12, before=delivered_at),
        ),
        (
            boycott,
            _supporters(
                rng,
                now,
                boycott,
                640,
                "early",
                spend=(10, 120),
                pending=8,
                withdrawn=4,
                conditional={500: 60, 1_000: 140},
            ),
        ),
        (buycott, _supporters(rng, now, buycott, 1_150, "surge", spend=(15, 90), pending=10)),
        (refill, _supporters(rng, now, refill, 540, "steady", pending=5, withdrawn=2)),
        (won, _supporters(rng, now - timedelta(days=2), won, 1_320, "early")),
    ]
    plans += [
        (p, _supporters(rng, now, p, n, "steady"))
        for p, (*_, n, _brand) in zip(proposals, statuses, strict=True)
    ]
    # The demo supporter (an account) signed the petition and pledged to buy.
    for _campaign, rows in plans[:3:2]:
        rows.append(
            {
                **rows[-1],
                "email": supporter.email,
                "email_canonical": canonical_email(supporter.email),
                "name": supporter.name,
                "user_id": supporter.id,
                "is_public": True,
                "created_at": now - timedelta(days=2, hours=1),
                "confirmed_at": now - timedelta(days=2),
                "withdrawn_at": None,
            }
        )
    for campaign, rows in plans:
        for row in rows:
            row.setdefault("user_id", None)
        # Every row names every column (None too): one INSERT for them all. The ORM leaves a
        # None out of a row, and rows with different columns go in separate statements: that
        # made 2,484 INSERTs of the 8,238 rows.
        db.session.execute(insert(Support).execution_options(render_nulls=True), rows)
        _set_counts(campaign, rows)
    # Conditional pledges whose threshold the count has passed are on.
    for row in _counted(plans[1][1]):
        if row["condition_threshold"] and row["condition_threshold"] <= boycott.confirmed_count:
            db.session.execute(
                Support.__table__.update()
                .where(Support.email_canonical == row["email_canonical"], Support.campaign_id == boycott.id)
                .values(condition_met_at=row["confirmed_at"])
            )

    _seed_delivery(rng, now, delivered_at, petition, member)
    for (_slug, _title, _summary, status, answer, _n, _brand), proposal in zip(
        statuses, proposals, strict=True
    ):
        if answer:
            db.session.add(
                StatusChange(
                    campaign_id=proposal.id,
                    status=status,
                    answer=answer,
                    author_name=f"{proposal.target_brand.name} team",
                    created_at=now - timedelta(days=rng.randrange(2, 20)),
                )
            )
    db.session.add_all(
        [
            Update(
                campaign=petition,
                author=organiser,
                title="Delivered to Northwind Coffee",
                body="We delivered your signatures. Northwind Coffee has answered: read it "
                "below and tell us whether it meets our demand.",
                created_at=delivered_at + timedelta(hours=2),
                emailed=True,
            ),
            Update(
                campaign=boycott,
                author=organiser,
                title="Half way to the first threshold",
                body="Two hundred of you pledged on condition that others join: share the page.",
                created_at=now - timedelta(days=9),
                emailed=True,
            ),
            Comment(
                campaign_id=refill.id,
                user_id=supporter.id,
                body="My local store would be perfect for the pilot.",
                created_at=now - timedelta(days=3),
            ),
            Comment(
                campaign_id=proposals[4].id,
                user_id=member.id,
                body="Thank you for the idea: we are costing a deposit scheme with two cities.",
                created_at=now - timedelta(days=1),
            ),
        ]
    )


def _seed_delivery(
    rng: random.Random, now: datetime, delivered_at: datetime, petition: Petition, member: User
) -> None:
    """Round 1 of the petition, packaged and sealed as a real delivery, answered by the brand,
    with supporters' verdicts on the answer."""
    up_to = db.session.execute(
        select(Support.id)
        .where(Support.campaign_id == petition.id, Support.confirmed_at <= delivered_at)
        .order_by(Support.id.desc())
        .limit(1)
    ).scalar_one()
    delivery = Delivery(
        campaign_id=petition.id,
        brand_id=petition.target_brand_id,
        round=1,
        state=DeliveryState.ANSWERED,
        after_support_id=0,
        up_to_support_id=up_to,
        created_at=delivered_at - timedelta(minutes=5),
        sent_at=delivered_at,
        opened_at=delivered_at + timedelta(hours=3),
        answered_at=now - timedelta(days=3),
    )
    db.session.add(delivery)
    db.session.flush()
    packages.build(delivery)
    body = (
        "We publish our farm-gate prices from next quarter and have asked our three largest "
        "cooperatives to work with us on a living income reference price."
    )
    response = Response(
        campaign_id=petition.id,
        brand_id=petition.target_brand_id,
        delivery_id=delivery.id,
        author_id=member.id,
        author_name=member.name,
        stance=Stance.PARTLY,
        body=body,
        commitment="Publish farm-gate prices for every origin.",
        commitment_due=(now + timedelta(days=120)).date(),
        digest=hashlib.sha256(f"{Stance.PARTLY}\n{body}".encode()).hexdigest(),
        created_at=now - timedelta(days=3),
    )
    db.session.add(response)
    db.session.flush()
    voters = (
        db.session.execute(
            select(Support.id)
            .where(
                Support.campaign_id == petition.id,
                Support.counts,
            )
            .order_by(Support.id)
            .limit(400)
        )
        .scalars()
        .all()
    )
    choices = [VerdictChoice.MEETS] * 2 + [VerdictChoice.PARTLY] * 5 + [VerdictChoice.DOES_NOT] * 3
    db.session.execute(
        insert(Verdict),
        [
            {
                "response_id": response.id,
                "support_id": sid,
                "choice": rng.choice(choices),
                "created_at": now - timedelta(days=rng.uniform(0, 3)),
            }
            for sid in voters
        ],
    )
