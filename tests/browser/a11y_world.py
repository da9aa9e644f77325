"""The seeded world the accessibility walk looks at: every panel of every page filled.

A campaign of each kind with its organiser tools, a delivered and answered petition with a
failed second round, a won petition, a boycott with conditional pledges waiting, a buycott past
its goal, a proposal with comments (one reported), a moderation queue holding one item of each
kind, and a valid link for every page that opens with a token.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from campaign.extensions import db
from campaign.jobs.supports import support_token
from campaign.models import (
    AbuseRule,
    BrandMember,
    Campaign,
    CampaignKind,
    CampaignState,
    Certification,
    CoAuthor,
    Comment,
    CommentReport,
    Delivery,
    DeliveryState,
    Milestone,
    ProposalStatus,
    Role,
    RuleAction,
    RuleKind,
    Stance,
    StatusChange,
    Support,
    Update,
    VerdictChoice,
    utcnow,
)
from campaign.models.delivery import UNREACHABLE_REASON
from campaign.services import campaigns as campaigns_service
from campaign.services import deliveries as deliveries_service
from campaign.services import supports as supports_service
from campaign.services.accounts import member_token
from campaign.tokens import make_token
from tests.browser.browsing import run_worker
from tests.factories import SupportFactory, add_signing_fraud_records, make_brand, make_campaign, make_user

COUNTRIES = ("GB", "FR", "ES", "DE", "IE", "PT")


def supporters(campaign, n: int, *, start: int = 0, days: int = 1, **fields) -> list[Support]:
    """``n`` confirmed supporters through the real service, confirmed over ``days`` days."""
    made = [
        SupportFactory(
            campaign=campaign,
            name=f"Supporter {i}",
            email=f"s{i}-{campaign.id}@example.org",
            country=COUNTRIES[i % len(COUNTRIES)],
            consents_to_updates=True,
            comment="Farmers deserve a fair price." if i % 3 == 0 else None,
            **fields,
        )
        for i in range(start, start + n)
    ]
    now = utcnow()
    for i, support in enumerate(made):  # spread over the last days: a chart with a shape
        db.session.execute(
            update(Support)
            .where(Support.id == support.id)
            .values(confirmed_at=now - timedelta(days=(i * 7) % days, hours=i))
        )
    db.session.commit()
    return made


def again(ids: dict) -> tuple:
    """The seeded objects, read again after a worker run ended the session."""
    from campaign.models import Brand, User

    models = {
        "brand": Brand,
        "group": Brand,
        "fair": Brand,
        "petition": Campaign,
        "boycott": Campaign,
        "buycott": Campaign,
        "proposal": Campaign,
    }
    return tuple(db.session.get(models.get(name, User), id_) for name, id_ in ids.items())


def seed(app) -> dict:
    """Fill the database behind ``app``; returns the ids, slugs and links the walk visits."""
    group = make_brand("Northwind Group")
    brand = make_brand("Northwind Coffee", parent=group)
    fair = make_brand("Fairbean Roasters")
    db.session.add(
        Certification(
            brand_id=fair.id,
            name="Fairtrade",
            issuer="Fairtrade International",
            evidence_url="https://fair.example/cert",
            verified_at=utcnow(),
        )
    )
    organiser = make_user("organiser@example.org", name="Olu Organiser")
    moderator = make_user("moderator@example.org", role=Role.MODERATOR, name="Mo Moderator")
    member = make_user("sam@example.org", name="Sam Lee")
    db.session.add(BrandMember(brand=brand, user=member, title="Head of Sourcing", verified_at=utcnow()))
    ana = make_user("ana@example.org", name="Ana Supporter")
    claimant = make_user("claimant@example.org", name="Cleo Claimant")
    unverified = make_user("new@example.org", name="Nell New", verified=False)
    db.session.commit()

    campaigns = {
        kind: make_campaign(
            kind,
            organiser=organiser,
            brand=brand,
            goal=10_000,
            title=f"A {kind.value} about fair coffee prices",
        )
        for kind in CampaignKind
    }
    petition = campaigns[CampaignKind.PETITION]
    boycott = campaigns[CampaignKind.BOYCOTT]
    buycott = campaigns[CampaignKind.BUYCOTT]
    proposal = campaigns[CampaignKind.PROPOSAL]
    petition.body = (
        "Farmers earn less than it costs to grow the coffee we drink.\n\n"
        "## What we ask\n\nPublish the price paid at the farm gate, every year."
    )
    buycott.goal = 2  # past its goal: the next goal shows
    proposal.proposal_status = ProposalStatus.UNDER_REVIEW
    db.session.commit()

    signed = supporters(petition, 7, days=20)
    supporters(boycott, 3, days=5, monthly_spend=40)
    supporters(boycott, 2, start=10, condition_threshold=50)
    supporters(buycott, 3, days=3, monthly_spend=25)
    supporters(proposal, 3, days=8)
    # Ana signs with her account (counts at once) and so has a support to withdraw.
    supports_service.add_support(
        petition.id,
        name="Ana Supporter",
        email="ana@example.org",
        country="ES",
        user_id=ana.id,
        consents_to_updates=True,
    )
    pending_support = supports_service.add_support(
        petition.id, name="Pat Pending", email="pat@example.org", country="IE"
    ).support_id
    ids = {
        name: obj.id
        for name, obj in (
            ("brand", brand),
            ("group", group),
            ("fair", fair),
            ("organiser", organiser),
            ("moderator", moderator),
            ("member", member),
            ("ana", ana),
            ("claimant", claimant),
            ("unverified", unverified),
            ("petition", petition),
            ("boycott", boycott),
            ("buycott", buycott),
            ("proposal", proposal),
        )
    }
    signed_ids = [s.id for s in signed]
    run_worker(app)  # counts folded, confirmation emails written
    (
        brand,
        group,
        fair,
        organiser,
        moderator,
        member,
        ana,
        claimant,
        unverified,
        petition,
        boycott,
        buycott,
        proposal,
    ) = again(ids)
    campaigns = {
        CampaignKind.PETITION: petition,
        CampaignKind.BOYCOTT: boycott,
        CampaignKind.BUYCOTT: buycott,
        CampaignKind.PROPOSAL: proposal,
    }

    won = make_campaign(
        CampaignKind.PETITION,
        organiser=organiser,
        brand=brand,
        goal=2_500,
        title="Northwind Coffee pays a living price",
    )
    supporters(won, 5, days=10)
    won_id = won.id
    run_worker(app)
    (
        brand,
        group,
        fair,
        organiser,
        moderator,
        member,
        ana,
        claimant,
        unverified,
        petition,
        boycott,
        buycott,
        proposal,
    ) = again(ids)
    won = db.session.get(Campaign, won_id)
    campaigns_service.declare_victory(
        won.id, organiser.id, "Northwind Coffee now publishes its farm-gate prices."
    )

    # Delivered, opened, answered, rated; then a second round that failed.
    delivery_id = deliveries_service.request_delivery(petition.id, organiser.id).id
    run_worker(app)
    (
        brand,
        group,
        fair,
        organiser,
        moderator,
        member,
        ana,
        claimant,
        unverified,
        petition,
        boycott,
        buycott,
        proposal,
    ) = again(ids)
    won = db.session.get(Campaign, won_id)
    delivery = db.session.get(Delivery, delivery_id)
    response = deliveries_service.answer(
        petition.id,
        brand.id,
        author_name="Sam Lee, Head of Sourcing",
        stance=Stance.COMMITTED,
        body="We will publish our farm-gate prices.",
        commitment="Publish farm-gate prices",
        commitment_due=(utcnow() + timedelta(days=180)).date(),
        author_id=member.id,
        delivery_id=delivery.id,
    )
    deliveries_service.record_verdict(response.id, signed_ids[0], VerdictChoice.PARTLY)
    db.session.add(
        Delivery(
            campaign_id=petition.id,
            brand_id=brand.id,
            round=2,
            state=DeliveryState.FAILED,
            after_support_id=delivery.up_to_support_id,
            up_to_support_id=delivery.up_to_support_id + 1,
            failure_reason=UNREACHABLE_REASON,
            failed_at=utcnow(),
        )
    )
    # The boycott was delivered two days ago and is not answered yet (the brand's inbox).
    db.session.add(
        Delivery(
            campaign_id=boycott.id,
            brand_id=brand.id,
            round=1,
            state=DeliveryState.SENT,
            up_to_support_id=0,
            support_count=0,  # as a sent delivery always has (its package counted them)
            sent_at=utcnow() - timedelta(days=2),
        )
    )
    db.session.add(Milestone(campaign_id=petition.id, threshold=5, reached_at=utcnow() - timedelta(days=3)))
    db.session.add(
        Update(
            campaign_id=petition.id,
            author_id=organiser.id,
            title="We delivered the first round",
            body="Northwind Coffee has the signatures; **thank you**.",
        )
    )

    # The proposal's discussion: a comment reported by two members, and a reply.
    comment = Comment(
        campaign_id=proposal.id, user_id=ana.id, body="Could the prices be published per region?"
    )
    db.session.add(comment)
    db.session.flush()
    db.session.add(
        Comment(
            campaign_id=proposal.id, user_id=organiser.id, parent_id=comment.id, body="Yes, that is the idea."
        )
    )
    db.session.add(CommentReport(comment_id=comment.id, user_id=claimant.id, reason="Off topic"))
    db.session.add(CommentReport(comment_id=comment.id, user_id=member.id))
    db.session.add(
        StatusChange(
            campaign_id=proposal.id,
            status=ProposalStatus.UNDER_REVIEW,
            answer="We are reading every endorsement.",
            author_id=member.id,
            author_name="Sam Lee",
        )
    )
    db.session.add(CoAuthor(campaign_id=proposal.id, user_id=ana.id, invited_by_id=organiser.id))

    # The moderation queue: a campaign, a brand, a claim and a comment (above) waiting.
    pending = make_campaign(
        CampaignKind.PETITION,
        organiser=organiser,
        brand=brand,
        state=CampaignState.PENDING,
        title="A petition waiting for review",
    )
    pending.submitted_at = utcnow()
    suggested = make_brand("Southbay Tea")
    suggested.approved_at = None
    suggested.suggested_by_id = ana.id
    claim = BrandMember(brand=fair, user=claimant, title="Press officer", claim_email="cleo@fairbean.example")
    db.session.add(claim)
    db.session.add(
        AbuseRule(
            kind=RuleKind.DOMAIN,
            action=RuleAction.BLOCK,
            value="spam.example",
            note="Throwaway addresses",
            created_by_id=moderator.id,
        )
    )
    add_signing_fraud_records(petition, moderator)
    drafts = {
        kind: make_campaign(
            kind, organiser=organiser, brand=brand, state=CampaignState.DRAFT, title=f"A draft {kind.value}"
        )
        for kind in CampaignKind
    }
    rejected = make_campaign(
        CampaignKind.BOYCOTT,
        organiser=organiser,
        brand=brand,
        state=CampaignState.REJECTED,
        title="A boycott sent back",
    )
    rejected.rejection_reason = "Please name the brand's demands one per line."
    db.session.commit()
    world = {
        "brand": brand.slug,
        "group": group.slug,
        "fair": fair.slug,
        "suggested": suggested.slug,
        "campaigns": {
            kind: (c.blueprint, c.slug)
            for kind, c in zip(CampaignKind, (petition, boycott, buycott, proposal), strict=True)
        },
        "drafts": {kind: (c.blueprint, c.slug) for kind, c in drafts.items()},
        "won": won.slug,
        "rejected": rejected.slug,
        "pending_review": pending.id,
        "digest": delivery.digest,
        "seal": delivery.seal,
        "response_id": response.id,
    }
    claim_id, claim_email = claim.id, claim.claim_email
    run_worker(app)  # the answer's and victory's emails, for the outbox pages
    (
        brand,
        group,
        fair,
        organiser,
        moderator,
        member,
        ana,
        claimant,
        unverified,
        petition,
        boycott,
        buycott,
        proposal,
    ) = again(ids)
    delivery = db.session.get(Delivery, delivery_id)
    withdrawable = db.session.get(Support, signed_ids[1])
    pending_one = db.session.get(Support, pending_support)
    from campaign.mail import outbox_folder

    emails = sorted(p.name for p in outbox_folder().glob("*.eml"))
    return {
        **world,
        "email": emails[0],
        "tokens": {
            "delivery": make_token("delivery", {"d": delivery.id}),
            "confirm": support_token("confirm-support", pending_one),
            "withdraw": support_token("withdraw", withdrawable),
            "unsubscribe": support_token("unsubscribe", withdrawable),
            "verdict": support_token("verdict", db.session.get(Support, signed_ids[2])),
            "privacy": make_token("privacy", {"e": "ana@example.org"}),
            "verify": make_token(
                "verify-email",
                {"u": unverified.id, "e": unverified.email, "p": unverified.password_fingerprint},
            ),
            "reset": make_token("reset-password", {"u": ana.id, "p": ana.password_fingerprint}),
            "claim": make_token("brand-claim", {"m": claim_id, "e": claim_email}),
            "member": member_token(ana),
        },
    }
