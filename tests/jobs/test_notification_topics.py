"""Every notification topic renders through the one registry, each with a way to stop it."""

from campaign.extensions import db
from campaign.jobs.notifications import TOPICS
from campaign.models import (
    CampaignKind,
    CampaignState,
    Delivery,
    DeliveryState,
    Milestone,
    ProposalStatus,
    Response,
    StatusChange,
    Support,
    Update,
    utcnow,
)
from tests.factories import SupportFactory, make_campaign, make_user


def _objects(member) -> dict:
    """An object of each topic, about campaigns that a supporter without an account and
    ``member`` support."""
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


def test_every_notification_has_a_one_click_unsubscribe_header_and_link(app):
    objects = _objects(make_user("member@example.org"))
    assert set(objects) == set(TOPICS), "a topic without an object here is not checked"
    for name, topic in TOPICS.items():
        obj = objects[name]
        recipients = (
            [None]
            if topic.organiser
            else db.session.execute(db.select(Support).filter_by(campaign_id=topic.audience(obj).id))
            .scalars()
            .all()
        )
        assert len(recipients) == (1 if topic.organiser else 2), name
        for support in recipients:
            email = topic.email(obj, support)
            if topic.transactional:
                assert "List-Unsubscribe" not in email.headers, name
                continue
            header = email.headers.get("List-Unsubscribe", "")
            assert header.startswith("<http") and header.endswith(">"), name
            assert email.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click", name
            url = header[1:-1]
            assert url in email.text, f"{name}: no unsubscribe link in the text part"
            assert f'href="{url}"' in email.html, f"{name}: no unsubscribe link in the HTML part"
    # The one email without: the outcome of the review an organiser asked for.
    assert [name for name, topic in TOPICS.items() if topic.transactional] == ["review"]
