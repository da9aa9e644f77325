"""Test data: a factory_boy factory per aggregate, bound to the app's session; each commits.

Rows a test may build freely (users, brands, campaigns, members, updates, comments) are made
as rows. Supports and deliveries are made through their services, as the app makes them, so
counts, milestones and the work they enqueue are what the app would have:

    petition = PetitionFactory(goal=10)
    SupportFactory.create_batch(3, campaign=petition)   # s0, s1, s2@example.org, confirmed
    SupportFactory(campaign=petition, confirm=False)    # s3@example.org, pending its link
    SupportFactory(campaign=petition, member=user)      # a member's, counted at once

``make_user``, ``make_brand`` and ``make_campaign`` are the short forms most tests use. The
sequences (``n``) start again at 0 in each test (an autouse fixture in conftest.py).
"""

from __future__ import annotations

import itertools

import factory
from factory.alchemy import SQLAlchemyModelFactory

from campaign.extensions import db
from campaign.models import (
    CAMPAIGN_CLASSES,
    Boycott,
    Brand,
    BrandMember,
    Buycott,
    Campaign,
    CampaignKind,
    CampaignState,
    Certification,
    Comment,
    Delivery,
    DeliveryState,
    EmailFrequency,
    Endorsement,
    Invalidation,
    Milestone,
    Petition,
    Proposal,
    ProposalStatus,
    Response,
    Role,
    RuleKind,
    SigningReport,
    StatusChange,
    Support,
    Suspect,
    Update,
    User,
    canonical_email,
    utcnow,
)

PASSWORD = "correct horse battery"
#: One counter for every factory: slugs and addresses never repeat within a session.
_seq = itertools.count(1)


def _next(_obj=None) -> int:
    return next(_seq)


def _store(obj):
    """Add ``obj`` to the test's session and commit, leaving the session's objects loaded.

    Nothing else wrote since they were loaded (a request or a job commits the test's session
    first, which expires them), so reading them again would only repeat what they hold:
    that is most of what a factory cost."""
    session = db.session()
    session.add(obj)
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    return obj


class _Factory(SQLAlchemyModelFactory):
    class Meta:
        abstract = True
        sqlalchemy_session_factory = lambda: db.session  # noqa: E731 - the test's own session

    @classmethod
    def _save(cls, model_class, session, args, kwargs):
        return _store(model_class(*args, **kwargs))


# ---------------------------------------------------------------------------- people


class UserFactory(_Factory):
    """A verified member who logs in with :data:`PASSWORD`; ``moderator=True``,
    ``unverified=True`` are traits."""

    class Meta:
        model = User

    class Params:
        moderator = factory.Trait(role=Role.MODERATOR)
        unverified = factory.Trait(email_verified_at=None)

    email = factory.LazyFunction(lambda: f"member{_next()}@example.org")
    name = "Test Member"
    role = Role.MEMBER
    email_verified_at = factory.LazyFunction(utcnow)
    email_frequency = EmailFrequency.DAILY

    @classmethod
    def _create(cls, model_class, *args, password: str = PASSWORD, **kwargs):
        user = model_class(*args, **kwargs)
        user.set_password(password)
        return _store(user)


# ---------------------------------------------------------------------------- brands


class BrandFactory(_Factory):
    """An approved brand with a contact address and an email domain of its own."""

    class Meta:
        model = Brand

    class Params:
        n = factory.LazyFunction(_next)

    name = factory.LazyAttribute(lambda o: f"Brand {o.n}")
    slug = factory.LazyAttribute(lambda o: f"{o.name.lower().replace(' ', '-')}-{o.n}")
    contact_email = factory.LazyAttribute(lambda o: f"contact{o.n}@brand.example")
    website = "https://brand.example"
    email_domains = factory.LazyAttribute(lambda o: f"brand{o.n}.example")
    approved_at = factory.LazyFunction(utcnow)
    parent = None


class BrandMemberFactory(_Factory):
    """A verified person who speaks for a brand."""

    class Meta:
        model = BrandMember

    brand = factory.SubFactory(BrandFactory)
    user = factory.SubFactory(UserFactory)
    title = ""
    verified_at = factory.LazyFunction(utcnow)


class CertificationFactory(_Factory):
    """A brand's certification, verified."""

    class Meta:
        model = Certification

    brand = factory.SubFactory(BrandFactory)
    name = "Fair Trade"
    issuer = "Fairtrade International"
    evidence_url = "https://certifier.example/evidence"
    verified_at = factory.LazyFunction(utcnow)


# ---------------------------------------------------------------------------- campaigns


class CampaignFactory(_Factory):
    """An open campaign aimed at ``brand`` (a buycott endorses it instead)."""

    class Meta:
        abstract = True

    class Params:
        n = factory.LazyFunction(_next)

    slug = factory.LazyAttribute(lambda o: f"campaign-{o.n}")
    title = factory.LazyAttribute(lambda o: f"Campaign number {o.n} for change")
    summary = "A short summary."
    body = "The **story**."
    goal = 100
    state = CampaignState.OPEN
    organiser = factory.SubFactory(UserFactory)
    published_at = factory.LazyAttribute(lambda o: utcnow() if o.state == CampaignState.OPEN else None)
    brand = factory.SubFactory(BrandFactory)

    @classmethod
    def _create(cls, model_class, *args, brand: Brand, **kwargs):
        campaign = model_class(*args, **kwargs)
        if isinstance(campaign, Buycott):
            campaign.endorsements.append(Endorsement(brand=brand, reason="Good practice"))
        else:
            campaign.target_brand = brand
        return _store(campaign)


class PetitionFactory(CampaignFactory):
    class Meta:
        model = Petition

    demand = "Do the right thing."


class BoycottFactory(CampaignFactory):
    class Meta:
        model = Boycott

    demands = "First demand\nSecond demand"


class BuycottFactory(CampaignFactory):
    class Meta:
        model = Buycott


class ProposalFactory(CampaignFactory):
    class Meta:
        model = Proposal


CAMPAIGN_FACTORIES: dict[CampaignKind, type[CampaignFactory]] = {
    CampaignKind.PETITION: PetitionFactory,
    CampaignKind.BOYCOTT: BoycottFactory,
    CampaignKind.BUYCOTT: BuycottFactory,
    CampaignKind.PROPOSAL: ProposalFactory,
}
assert set(CAMPAIGN_FACTORIES) == set(CAMPAIGN_CLASSES), "a kind without a factory"


class UpdateFactory(_Factory):
    """An organiser's update, stored as already emailed (``campaign_service.post_update``
    is the way to test the emails)."""

    class Meta:
        model = Update

    campaign = factory.SubFactory(PetitionFactory)
    author_id = factory.LazyAttribute(lambda o: o.campaign.organiser_id)
    title = "News from the campaign"
    body = "What happened this week."
    emailed = True


class CommentFactory(_Factory):
    """A member's comment on a (public) proposal."""

    class Meta:
        model = Comment

    campaign = factory.SubFactory(ProposalFactory)
    author = factory.SubFactory(UserFactory)
    body = "A fine idea."


# ---------------------------------------------------------------------------- supports


class SupportFactory(factory.Factory):
    """A support made by the service, as the signing view makes it, then confirmed by its
    emailed link (``confirm=False``: left pending). ``n`` (a sequence, from 0 in each test)
    names it ``Supporter n`` of ``sn@example.org``. With ``member=`` it is that member's own,
    not confirmed by link (it counts at once when the member is verified); with ``stall=`` it
    is made at that open stall (``sign_at_stall``; the campaign is the stall's). Any other keyword
    goes to ``add_support`` (``ip_address``, ``consents_to_updates``, ``monthly_spend``,
    ``condition_threshold``…).
    Returns the stored :class:`Support`.

    A batch of confirmed supporters of whom every other one (0, 2, 4…) wants updates::

        SupportFactory.create_batch(4, campaign=petition,
                                    consents_to_updates=every_other())
    """

    class Meta:
        model = Support

    class Params:
        n = factory.Sequence(lambda n: n)

    campaign = factory.SubFactory(PetitionFactory)
    member = None
    stall = None
    name = factory.LazyAttribute(lambda o: o.member.name if o.member else f"Supporter {o.n}")
    email = factory.LazyAttribute(lambda o: o.member.email if o.member else f"s{o.n}@example.org")
    country = "GB"
    confirm = factory.LazyAttribute(lambda o: o.member is None)

    @classmethod
    def _create(cls, model_class, *, campaign, member, stall, confirm: bool, **fields):
        from campaign.jobs.supports import support_token
        from campaign.services import stalls as stall_service
        from campaign.services import supports as support_service

        if member is not None:
            fields["user_id"] = member.id
        if stall is not None:  # made on the stall's device, as its page makes it
            ip = fields.pop("ip_address", None)
            result = stall_service.sign_at_stall(stall.id, fields, ip, None)
        else:
            result = support_service.add_support(campaign.id, **fields)
        if confirm:
            support_service.confirm(
                support_token("confirm-support", db.session.get(Support, result.support_id))
            )
        return db.session.get(Support, result.support_id)


def every_other() -> factory.Iterator:
    """True, False, True… for a batch: the first, third… supporter consents."""
    return factory.Iterator([True, False])


class SupportRowFactory(_Factory):
    """A confirmed support written straight as a row, past the service: for tests that need
    many supporters fast, or a support in a given state (traits ``pending``, ``withdrawn``,
    ``held``, ``held_confirmed``), and for ``.build()``, a support not yet stored."""

    class Meta:
        model = Support

    class Params:
        n = factory.Sequence(lambda n: n)
        pending = factory.Trait(confirmed_at=None)
        withdrawn = factory.Trait(withdrawn_at=factory.LazyFunction(utcnow))
        held = factory.Trait(confirmed_at=None, suspect=Suspect.RATE_LIMIT.value)
        held_confirmed = factory.Trait(
            confirmed_at=None,
            suspect=Suspect.RATE_LIMIT.value,
            suspect_confirmed_at=factory.LazyFunction(utcnow),
        )

    campaign = factory.SubFactory(PetitionFactory)
    name = "S"
    email = factory.LazyAttribute(lambda o: f"fan{o.n}@example.org")
    email_canonical = factory.LazyAttribute(lambda o: canonical_email(o.email))
    country = "GB"
    consents_to_updates = True
    confirmed_at = factory.LazyAttribute(lambda o: o.campaign.created_at)


class DeliveryFactory(factory.Factory):
    """A delivery round requested by the organiser through the service (its job is queued,
    not run: ``run_jobs()`` builds and sends it). The campaign needs confirmed supporters."""

    class Meta:
        model = Delivery

    campaign = factory.SubFactory(PetitionFactory)

    @classmethod
    def _create(cls, model_class, *, campaign, **kwargs):
        from campaign.services.deliveries import request_delivery

        return request_delivery(campaign.id, campaign.organiser_id, **kwargs)


# ---------------------------------------------------------------------------- short forms


def make_user(
    email: str | None = None,
    *,
    role: Role = Role.MEMBER,
    verified: bool = True,
    name: str = "Test Member",
    email_frequency: EmailFrequency | None = None,
) -> User:
    fields = {"email": email} if email else {}
    return UserFactory(
        **fields,
        role=role,
        name=name,
        unverified=not verified,
        email_frequency=email_frequency or EmailFrequency.DAILY,
    )


def make_brand(name: str | None = None, parent: Brand | None = None) -> Brand:
    return BrandFactory(**({"name": name} if name else {}), parent=parent)


def make_campaign(
    kind: CampaignKind = CampaignKind.PETITION,
    *,
    organiser: User | None = None,
    brand: Brand | None = None,
    state: CampaignState = CampaignState.OPEN,
    title: str | None = None,
    goal: int = 100,
):
    fields = {"organiser": organiser, "brand": brand, "title": title}
    return CAMPAIGN_FACTORIES[kind](
        state=state, goal=goal, **{k: v for k, v in fields.items() if v is not None}
    )


def add_signing_fraud_records(campaign: Campaign, moderator: User) -> None:
    """What a bot signing from one email domain leaves for the moderators' pages: the hour's
    report of that domain signing heavily, and a finished invalidation of its supports."""
    db.session.add(
        SigningReport(
            hour=utcnow().replace(minute=0, second=0, microsecond=0),
            campaign_id=campaign.id,
            kind=RuleKind.DOMAIN,
            value="spam.example",
            supports=40,
            held=38,
        )
    )
    db.session.add(
        Invalidation(
            campaign_id=campaign.id,
            domain="spam.example",
            reason="A bot signed from throwaway addresses",
            matched=3,
            invalidated=3,
            created_by_id=moderator.id,
            finished_at=utcnow(),
        )
    )


def an_object_per_topic(member) -> dict:
    """An object of each notification topic (``campaign.jobs.notifications.TOPICS``), about
    campaigns that a supporter without an account and ``member`` support."""
    petition = make_campaign(title="Fair cocoa prices", goal=100)
    proposal = make_campaign(CampaignKind.PROPOSAL, title="Refill stations")
    same_idea = make_campaign(CampaignKind.PROPOSAL, brand=proposal.target_brand, title="Refills")
    boycott = make_campaign(CampaignKind.BOYCOTT, title="No more palm oil")
    next_step = make_campaign(CampaignKind.BOYCOTT, brand=petition.target_brand, title="Next step")
    for campaign in (petition, proposal, boycott):
        threshold = 2 if campaign is boycott else None
        SupportFactory(campaign=campaign, consents_to_updates=True, condition_threshold=threshold)
        SupportFactory(
            campaign=campaign, member=member, consents_to_updates=True, condition_threshold=threshold
        )
    next_step.escalated_from_id = petition.id
    petition.state, petition.victory_story = CampaignState.WON, "The brand **doubled** its price."
    update = Update(campaign_id=petition.id, author_id=petition.organiser_id, title="Halfway", body="Half.")
    goal = Milestone(campaign_id=petition.id, threshold=100, is_goal=True)
    answer = Response(
        campaign_id=petition.id,
        brand_id=petition.target_brand_id,
        author_name="Ana Ruiz",
        stance="committed",
        body="We will pay more.",
        digest="topics",
    )
    delivery = Delivery(
        campaign_id=petition.id,
        brand_id=petition.target_brand_id,
        round=1,
        state=DeliveryState.SENT,
        up_to_support_id=10**6,
        support_count=2,
        sent_at=utcnow(),
    )
    status = StatusChange(
        campaign_id=proposal.id, status=ProposalStatus.PLANNED, answer="In May.", author_name="Ana"
    )
    moved = StatusChange(
        campaign_id=proposal.id,
        status=ProposalStatus.DUPLICATE,
        answer="One list.",
        author_name="Ana",
        duplicate_of_id=same_idea.id,
    )
    db.session.add_all([update, goal, answer, delivery, status, moved])
    db.session.commit()
    for support in db.session.execute(db.select(Support).filter_by(campaign_id=boycott.id)).scalars():
        support.condition_met_at = utcnow()
    db.session.commit()
    return {
        "milestone": goal,
        "review": same_idea,
        "goal": goal,
        "update": update,
        "answer": answer,
        "delivered": delivery,
        "victory": petition,
        "status": status,
        "moved": moved,
        "invite": next_step,
        "condition-met": boycott,
    }
