"""Starting, editing, reviewing and publishing campaigns."""

from __future__ import annotations

import re
import secrets
import unicodedata
from typing import Any

from sqlalchemy.exc import IntegrityError

from campaign.extensions import db
from campaign.models import Brand, Campaign, CampaignState, Endorsement, User, utcnow
from campaign.services import ServiceError

#: Fields the shared form and the kinds' own forms may set.
CAMPAIGN_FIELDS = ("title", "summary", "body", "goal", "closes_at", "target_brand_id",
                   "demand", "demands")


def slugify(text: str, max_length: int = 80) -> str:
    """A lowercase ASCII slug of ``text`` ("Fair pay at Acmé!" -> "fair-pay-at-acme")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "campaign"


def _apply(campaign: Campaign, data: dict[str, Any]) -> None:
    for name in CAMPAIGN_FIELDS:
        if name in data and hasattr(type(campaign), name):
            setattr(campaign, name, data[name])
    if "endorsements" in data:
        _set_endorsements(campaign, data["endorsements"])


def _set_endorsements(campaign, endorsements: list[tuple[int, str]]) -> None:
    wanted = dict(endorsements)
    for existing in list(campaign.endorsements):
        if existing.brand_id not in wanted:
            campaign.endorsements.remove(existing)
        else:
            existing.reason = wanted.pop(existing.brand_id)
    for brand_id, reason in wanted.items():
        if db.session.get(Brand, brand_id) is None:
            raise ServiceError("One of the chosen brands does not exist.")
        campaign.endorsements.append(Endorsement(brand_id=brand_id, reason=reason))


def create_campaign(model: type[Campaign], organiser_id: int, data: dict[str, Any]) -> Campaign:
    """Save a new draft of kind ``model`` for ``organiser_id``. Commits.

    The slug comes from the title; if another campaign has it, a short random suffix is
    added (the unique constraint decides, not a prior lookup).
    """
    organiser = db.session.get(User, organiser_id)
    if organiser is None or not organiser.is_verified:
        raise ServiceError("Confirm your email address before starting a campaign.")
    base = slugify(data["title"])
    for attempt in range(5):
        campaign = model(organiser_id=organiser_id, state=CampaignState.DRAFT,
                         slug=base if attempt == 0 else f"{base}-{secrets.token_hex(3)}")
        _apply(campaign, data)
        db.session.add(campaign)
        try:
            db.session.commit()
            return campaign
        except IntegrityError:
            db.session.rollback()
    raise ServiceError("Could not find a free web address for this title; try another title.")


def _owned(campaign_id: int, user_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.organiser_id != user_id:
        raise ServiceError("Only the organiser can change this campaign.")
    return campaign


def update_campaign(campaign_id: int, user_id: int, data: dict[str, Any]) -> Campaign:
    """Change a draft or rejected campaign's text. Commits; raises ServiceError otherwise."""
    campaign = _owned(campaign_id, user_id)
    if not campaign.is_editable:
        raise ServiceError("A campaign can be edited only while it is a draft or was sent back.")
    _apply(campaign, data)
    db.session.commit()
    return campaign


def submit_for_review(campaign_id: int, user_id: int) -> Campaign:
    """Send a draft (or a rejected campaign, after edits) to the moderators. Commits."""
    campaign = _owned(campaign_id, user_id)
    if not campaign.is_editable:
        raise ServiceError("This campaign has already been submitted.")
    if not campaign.brands():
        raise ServiceError(f"Choose the brand this {campaign.noun} is addressed to first.")
    campaign.state = CampaignState.PENDING
    campaign.submitted_at = utcnow()
    db.session.commit()
    return campaign


def _pending_for_review(campaign_id: int, moderator_id: int) -> Campaign:
    moderator = db.session.get(User, moderator_id)
    if moderator is None or not moderator.is_moderator:
        raise ServiceError("Only moderators can review campaigns.")
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.state != CampaignState.PENDING:
        raise ServiceError("This campaign is not waiting for review.")
    return campaign


def approve(campaign_id: int, moderator_id: int) -> Campaign:
    """Publish a pending campaign. Commits."""
    campaign = _pending_for_review(campaign_id, moderator_id)
    campaign.state = CampaignState.OPEN
    campaign.rejection_reason = None
    campaign.published_at = utcnow()
    db.session.commit()
    return campaign


def reject(campaign_id: int, moderator_id: int, reason: str) -> Campaign:
    """Send a pending campaign back to its organiser with ``reason``. Commits."""
    if not reason.strip():
        raise ServiceError("Give the organiser a reason.")
    campaign = _pending_for_review(campaign_id, moderator_id)
    campaign.state = CampaignState.REJECTED
    campaign.rejection_reason = reason.strip()
    db.session.commit()
    return campaign
