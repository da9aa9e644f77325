"""Starting, editing, reviewing and publishing campaigns."""

from __future__ import annotations

import re
import secrets
import unicodedata
from datetime import timedelta
from typing import Any

from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from sqlalchemy import or_, select
from sqlalchemy import update as sa_update
from sqlalchemy.exc import IntegrityError

from campaign.extensions import db
from campaign.models import Brand, Campaign, CampaignState, Delivery, Endorsement, Topic, Update, User, utcnow
from campaign.outbox import add_notice, add_review_notice
from campaign.services import ServiceError, require_moderator

#: Fields the shared form and the kinds' own forms may set.
CAMPAIGN_FIELDS = (
    "title",
    "summary",
    "body",
    "goal",
    "closes_at",
    "target_brand_id",
    "demand",
    "demands",
    "answer_deadline",
    "group_scope",
    "language",
)


def slugify(text: str, max_length: int = 80) -> str:
    """A lowercase ASCII slug of ``text`` ("Fair pay at Acmé!" -> "fair-pay-at-acme")."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:max_length].rstrip("-") or "campaign"


def _apply(campaign: Campaign, data: dict[str, Any]) -> None:
    brand_id = data.get("target_brand_id")
    if brand_id:
        brand = db.session.get(Brand, brand_id)
        if brand is None or brand.approved_at is None:
            raise ServiceError(_("The chosen brand does not exist."))
    for name in CAMPAIGN_FIELDS:
        if name in data and hasattr(type(campaign), name):
            setattr(campaign, name, data[name])
    if "endorsements" in data:
        _set_endorsements(campaign, data["endorsements"], data.get("evidence_on"))
    if "topic_ids" in data:
        wanted = set(data["topic_ids"])
        topics = db.session.execute(select(Topic).where(Topic.id.in_(wanted))).scalars().all()
        if len(topics) != len(wanted):
            raise ServiceError(_("One of the chosen topics does not exist."))
        campaign.topics = sorted(topics, key=lambda t: t.name)


def _set_endorsements(campaign, endorsements: list[tuple[int, str]], evidence_on=None) -> None:
    wanted = dict(endorsements)
    for existing in list(campaign.endorsements):
        if existing.brand_id not in wanted:
            campaign.endorsements.remove(existing)
        else:
            existing.reason = wanted.pop(existing.brand_id)
            existing.evidence_on = evidence_on or existing.evidence_on
    for brand_id, reason in wanted.items():
        brand = db.session.get(Brand, brand_id)
        if brand is None or brand.approved_at is None:
            raise ServiceError(_("One of the chosen brands does not exist."))
        campaign.endorsements.append(
            Endorsement(brand_id=brand_id, reason=reason, evidence_on=evidence_on or utcnow().date())
        )


def create_campaign(model: type[Campaign], organiser_id: int, data: dict[str, Any], **links: int) -> Campaign:
    """Save a new draft of kind ``model`` for ``organiser_id``. Commits.

    The slug is the title's with a short random suffix, always: a plain slug given only when
    free would tell whoever typed a title that an unpublished campaign has it. (The unique
    constraint decides, not a prior lookup; a collision draws another suffix.) ``links`` (escalated_from_id,
    thanks_for_id) are unique too: a second draft from the same campaign raises
    ServiceError, however close together the two requests come.
    """
    organiser = db.session.get(User, organiser_id)
    if organiser is None or not organiser.is_verified:
        raise ServiceError(_("Confirm your email address before starting a campaign."))
    base = slugify(data["title"])
    for _attempt in range(5):
        campaign = model(
            organiser_id=organiser_id,
            state=CampaignState.DRAFT,
            slug=f"{base[:73].rstrip('-')}-{secrets.token_hex(3)}",
            **links,
        )
        _apply(campaign, data)
        db.session.add(campaign)
        try:
            db.session.commit()
            return campaign
        except IntegrityError:
            db.session.rollback()
            for name, value in links.items():
                taken = db.session.execute(
                    db.select(Campaign.id).where(getattr(Campaign, name) == value)
                ).first()
                if taken:
                    raise ServiceError(_("A campaign was already started from this one.")) from None
    raise ServiceError(_("Could not find a free web address for this title; try another title."))


def _owned(campaign_id: int, user_id: int) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.organiser_id != user_id:
        raise ServiceError(_("Only the organiser can change this campaign."))
    return campaign


def update_campaign(campaign_id: int, user_id: int, data: dict[str, Any]) -> Campaign:
    """Change a draft or rejected campaign's text. Commits; raises ServiceError otherwise."""
    campaign = _owned(campaign_id, user_id)
    if not campaign.is_editable:
        raise ServiceError(_("A campaign can be edited only while it is a draft or was sent back."))
    _apply(campaign, data)
    db.session.commit()
    return campaign


def submit_for_review(campaign_id: int, user_id: int) -> Campaign:
    """Send a draft (or a rejected campaign, after edits) to the moderators. Commits."""
    campaign = _owned(campaign_id, user_id)
    if not campaign.is_editable:
        raise ServiceError(_("This campaign has already been submitted."))
    if not campaign.brands():
        raise ServiceError(_("Choose the brand this %(noun)s is addressed to first.", noun=campaign.noun))
    campaign.state = CampaignState.PENDING
    campaign.submitted_at = utcnow()
    db.session.commit()
    return campaign


def _pending_for_review(campaign_id: int, moderator_id: int) -> Campaign:
    require_moderator(moderator_id, _("Only moderators can review campaigns."))
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.state != CampaignState.PENDING:
        raise ServiceError(_("This campaign is not waiting for review."))
    return campaign


def approve(campaign_id: int, moderator_id: int) -> Campaign:
    """Publish a pending campaign. Commits, then emails the organiser (a notice)."""
    campaign = _pending_for_review(campaign_id, moderator_id)
    campaign.state = CampaignState.OPEN
    campaign.rejection_reason = None
    campaign.published_at = utcnow()
    if campaign.escalated_from_id:
        add_notice("escalation", campaign.id)
    add_review_notice(campaign.id)
    db.session.commit()
    return campaign


def reject(campaign_id: int, moderator_id: int, reason: str) -> Campaign:
    """Send a pending campaign back to its organiser with ``reason``. Commits, then emails
    the organiser the reason (a notice)."""
    if not reason.strip():
        raise ServiceError(_("Give the organiser a reason."))
    campaign = _pending_for_review(campaign_id, moderator_id)
    campaign.state = CampaignState.REJECTED
    campaign.rejection_reason = reason.strip()
    add_review_notice(campaign.id)
    db.session.commit()
    return campaign


def raise_goal(campaign_id: int, user_id: int, new_goal: int) -> Campaign:
    """Raise an open campaign's goal above both the old goal and the current count. Commits."""
    campaign = _owned(campaign_id, user_id)
    if campaign.state != CampaignState.OPEN:
        raise ServiceError(_("Only an open campaign's goal can be raised."))
    if new_goal <= max(campaign.goal, campaign.confirmed_count):
        raise ServiceError(
            _(
                "Choose a goal above %(goal)s.",
                goal=format_decimal(max(campaign.goal, campaign.confirmed_count)),
            )
        )
    campaign.goal = new_goal
    db.session.commit()
    return campaign


UPDATE_EMAIL_INTERVAL = timedelta(days=1)


def post_update(campaign_id: int, user_id: int, title: str, body: str) -> tuple[Update, bool]:
    """Publish an organiser's update; email it to consenting supporters at most once a day.

    Commits, then enqueues the fan-out if this update is emailed. Returns the update and
    whether it will be emailed. The once-a-day rule is a conditional UPDATE on the campaign,
    so two updates posted at once cannot both be emailed.
    """
    campaign = _owned(campaign_id, user_id)
    if not campaign.is_public:
        raise ServiceError(_("Updates can be posted once the campaign is public."))
    now = utcnow()
    claimed = (
        db.session.execute(
            sa_update(Campaign)
            .where(
                Campaign.id == campaign.id,
                or_(
                    Campaign.last_update_emailed_at.is_(None),
                    Campaign.last_update_emailed_at <= now - UPDATE_EMAIL_INTERVAL,
                ),
            )
            .values(last_update_emailed_at=now)
            .returning(Campaign.id)
        ).first()
        is not None
    )
    item = Update(
        campaign_id=campaign.id,
        author_id=user_id,
        title=title.strip(),
        body=body,
        emailed=claimed,
        created_at=now,
    )
    db.session.add(item)
    db.session.flush()
    if claimed:
        add_notice("update", item.id)
    db.session.commit()
    return item, claimed


MIN_SUPPORTERS_FOR_VICTORY = 5


def declare_victory(campaign_id: int, user_id: int, story: str) -> Campaign:
    """The organiser declares the campaign won, telling what changed. Commits, then tells
    consenting supporters (batched). Raises ServiceError below 5 supporters or without a story.
    """
    campaign = _owned(campaign_id, user_id)
    if campaign.state not in (CampaignState.OPEN, CampaignState.CLOSED):
        raise ServiceError(_("Only an open or closed campaign can be declared won."))
    if campaign.confirmed_count < MIN_SUPPORTERS_FOR_VICTORY:
        raise ServiceError(
            ngettext(
                "A victory needs at least %(num)s confirmed supporter.",
                "A victory needs at least %(num)s confirmed supporters.",
                MIN_SUPPORTERS_FOR_VICTORY,
            )
        )
    if len(story.strip()) < 20:
        raise ServiceError(_("Tell supporters what changed, in a few sentences."))
    claimed = db.session.execute(
        sa_update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.state.in_([CampaignState.OPEN, CampaignState.CLOSED]))
        .values(state=CampaignState.WON, won_at=utcnow(), victory_story=story.strip())
        .returning(Campaign.id)
    ).first()
    if claimed is None:
        db.session.rollback()
        raise ServiceError(_("This campaign was already declared won."))
    add_notice("victory", campaign.id)
    db.session.commit()
    db.session.refresh(campaign)
    return campaign


def close_campaign(campaign_id: int, user_id: int) -> Campaign:
    """The organiser closes an open campaign now (it keeps its page and counts). Commits."""
    campaign = _owned(campaign_id, user_id)
    claimed = db.session.execute(
        sa_update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.state == CampaignState.OPEN)
        .values(state=CampaignState.CLOSED, closed_at=utcnow())
        .returning(Campaign.id)
    ).first()
    db.session.commit()
    if claimed is None:
        raise ServiceError(_("Only an open campaign can be closed."))
    return campaign


def hide_campaign(campaign_id: int, moderator_id: int, reason: str) -> Campaign:
    """A moderator takes a public campaign down, telling the organiser why. Commits."""
    require_moderator(moderator_id, _("Only moderators can hide campaigns."))
    if not reason.strip():
        raise ServiceError(_("Give the organiser a reason."))
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or not campaign.is_public:
        raise ServiceError(_("Only a public campaign can be hidden."))
    campaign.state = CampaignState.HIDDEN
    campaign.rejection_reason = reason.strip()
    db.session.commit()
    return campaign


def renew_endorsement(
    campaign_id: int, user_id: int, endorsement_id: int, evidence_on, reason: str | None = None
) -> Endorsement:
    """The organiser renews an endorsement with newer evidence (not in the future). Commits."""
    campaign = _owned(campaign_id, user_id)
    endorsement = db.session.get(Endorsement, endorsement_id)
    if endorsement is None or endorsement.campaign_id != campaign.id:
        raise ServiceError(_("No such endorsement on this buycott."))
    if evidence_on is None or evidence_on > utcnow().date():
        raise ServiceError(_("Give the date of the new evidence (not in the future)."))
    endorsement.evidence_on = evidence_on
    if reason and reason.strip():
        endorsement.reason = reason.strip()[:300]
    db.session.commit()
    return endorsement


def timeline(campaign: Campaign, delivery: Delivery | None = None) -> list:
    """(when, what) of a campaign's story so far, oldest first: published, milestones,
    rounds delivered and the brands' answers (up to ``delivery``, when given: its package)."""
    events = []
    if campaign.published_at:
        events.append((campaign.published_at, _("Published")))
    for m in campaign.milestones:
        threshold = format_decimal(m.threshold)
        events.append(
            (
                m.reached_at,
                _("Goal reached (%(goal)s)", goal=threshold)
                if m.is_goal
                else campaign.count_phrase(m.threshold),
            )
        )
    for d in campaign.deliveries:
        if d.sent_at and (delivery is None or d.round < delivery.round):
            events.append(
                (d.sent_at, _("Round %(round)s delivered to %(brand)s", round=d.round, brand=d.brand.name))
            )
    for r in campaign.responses:
        events.append(
            (r.created_at, _("%(brand)s answered: %(stance)s", brand=r.brand.name, stance=r.stance_label))
        )
    if delivery is not None:
        events.append((delivery.created_at, _("Round %(round)s prepared", round=delivery.round)))
    return sorted(events, key=lambda e: e[0])
