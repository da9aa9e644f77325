"""Escalation: a campaign the brand ignored past its answer deadline becomes a stronger one."""

from __future__ import annotations

from flask_babel import gettext as _

from campaign.extensions import db
from campaign.kinds import kind_of
from campaign.models import Boycott, Buycott, Campaign, CampaignState, utcnow
from campaign.services import ServiceError
from campaign.services.campaigns import create_campaign


def brand_answered(campaign: Campaign) -> bool:
    """The brand answered: a public answer, or a status it set on a proposal."""
    return any(r.brand_id == campaign.target_brand_id for r in campaign.responses) or bool(
        campaign.status_changes
    )


def can_escalate(campaign: Campaign) -> bool:
    return (
        kind_of(campaign).escalates_to is not None
        and campaign.is_public
        and campaign.answer_deadline is not None
        and campaign.answer_deadline <= utcnow()
        and not brand_answered(campaign)
        and not campaign.escalations
    )


def escalate(campaign_id: int, user_id: int) -> Campaign:
    """Start the next kind of campaign from one the brand ignored. Commits.

    The new campaign is a draft linked back to the old one, with its text carried over for
    the organiser to edit and submit. The old one's supporters are invited (not enrolled)
    when it is published.
    """
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.organiser_id != user_id:
        raise ServiceError(_("Only the organiser can escalate this campaign."))
    if kind_of(campaign).escalates_to is None:
        raise ServiceError(_("A %(noun)s cannot be escalated.", noun=campaign.noun))
    if not campaign.is_public:
        raise ServiceError(_("Only a published campaign can be escalated."))
    if campaign.answer_deadline is None or campaign.answer_deadline > utcnow():
        raise ServiceError(_("A campaign can be escalated once its answer deadline has passed."))
    if brand_answered(campaign):
        raise ServiceError(_("The brand has answered, so this campaign cannot be escalated."))
    if campaign.escalations:
        raise ServiceError(_("This campaign was already escalated."))
    model = kind_of(kind_of(campaign).escalates_to).model
    demand = getattr(campaign, "demand", None) or campaign.summary
    data = {
        "title": campaign.title,
        "summary": campaign.summary,
        "body": campaign.body
        + "\n\n*"
        + _(
            "%(brand)s did not answer the %(noun)s by its deadline.",
            brand=campaign.target_brand.name,
            noun=campaign.noun,
        )
        + "*",
        "goal": max(campaign.goal, campaign.confirmed_count * 2, 10),
        "target_brand_id": campaign.target_brand_id,
        "demand": demand,
        "demands": demand,
        "language": campaign.language,
        "topic_ids": [t.id for t in campaign.topics],
    }
    return create_campaign(model, user_id, data, escalated_from_id=campaign.id)


def thank_you_buycott(boycott_id: int, user_id: int) -> Campaign:
    """Turn a won boycott into a draft buycott of the same brand, in one step. Commits."""
    boycott = db.session.get(Boycott, boycott_id)
    if boycott is None or boycott.organiser_id != user_id:
        raise ServiceError(_("Only the organiser can do this."))
    if boycott.state != CampaignState.WON:
        raise ServiceError(_("A thank-you buycott follows a boycott that won."))
    brand = boycott.target_brand
    buycott = create_campaign(
        Buycott,
        user_id,
        {
            "title": f"Thank you, {brand.name}: buy from them again",
            "summary": f"{brand.name} met the demands of our boycott. Let's reward it.",
            "body": f"{brand.name} met every demand of the boycott “{boycott.title}”.\n\n"
            f"{boycott.victory_story or ''}",
            "goal": max(boycott.goal, 10),
            "endorsements": [(brand.id, f"Met the demands of the boycott “{boycott.title}”"[:300])],
            "evidence_on": utcnow().date(),
        },
        thanks_for_id=boycott.id,
    )
    return buycott
