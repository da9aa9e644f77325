"""Delivering campaigns to brands, and the brands' public answers."""

from __future__ import annotations

import hashlib
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from campaign.dbutil import insert_ignoring_conflicts
from campaign.extensions import db
from campaign.kinds import kind_of
from campaign.models import (
    PUBLIC_STATES,
    Campaign,
    Delivery,
    DeliveryState,
    Response,
    Stance,
    Support,
    User,
    Verdict,
    VerdictChoice,
    utcnow,
)
from campaign.outbox import add_notice, later
from campaign.services import ServiceError
from campaign.services.transparency import append_log_entry
from campaign.tokens import make_token
from campaign.urls import external_url

#: The kinds whose definition says they are delivered to the brand.


def delivery_link_token(delivery: Delivery) -> str:
    """The token of the brand's private link to a delivered round."""
    return make_token("delivery", {"d": delivery.id})


def delivery_link(delivery: Delivery) -> str:
    return external_url("deliveries.show", token=delivery_link_token(delivery))


def request_delivery(campaign_id: int, user_id: int | None = None, *, automatic: bool = False) -> Delivery:
    """Queue the next delivery round of a campaign to its brand. Commits, then enqueues.

    A round holds the counted supports since the previous round. The unique constraint on
    (campaign, round) means two requests at once make one round. ``user_id`` must be the
    organiser unless ``automatic`` (the goal was reached). Raises ServiceError when there is
    nothing new to deliver, the brand has no contact address, or a round is still on its way.
    """
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.state not in PUBLIC_STATES:
        raise ServiceError(_("Only a published campaign can be delivered."))
    if not automatic and campaign.organiser_id != user_id:
        raise ServiceError(_("Only the organiser can deliver this campaign."))
    if not kind_of(campaign).delivers:
        raise ServiceError(_("A %(noun)s is not delivered to a brand.", noun=campaign.noun))
    brand = campaign.target_brand
    if brand is None:
        raise ServiceError(_("Choose the brand this is addressed to first."))
    # A brand without a contact address still gets a round: its job fails visibly, and the
    # organiser can try again once a moderator has added the address.
    last = db.session.execute(
        select(Delivery).filter_by(campaign_id=campaign.id).order_by(Delivery.round.desc()).limit(1)
    ).scalar_one_or_none()
    if last is not None and last.state == DeliveryState.QUEUED:
        raise ServiceError(_("Round %(round)s is still being delivered.", round=last.round))
    after = last.up_to_support_id if last else 0
    up_to = (
        db.session.execute(
            select(func.max(Support.id)).where(
                Support.campaign_id == campaign.id,
                Support.counts,
            )
        ).scalar()
        or 0
    )
    if up_to <= after:
        raise ServiceError(_("There are no new supporters since the last delivery."))
    delivery_id = insert_ignoring_conflicts(
        Delivery,
        ["campaign_id", "round"],
        campaign_id=campaign.id,
        brand_id=brand.id,
        round=(last.round + 1) if last else 1,
        state=DeliveryState.QUEUED,
        after_support_id=after,
        up_to_support_id=up_to,
        automatic=automatic,
        created_at=utcnow(),
    )
    if delivery_id is None:
        db.session.rollback()
        raise ServiceError(_("Another delivery of this campaign was just started."))
    later("delivery", delivery_id)
    db.session.commit()
    return db.session.get(Delivery, delivery_id)


def retry_failed_delivery(delivery_id: int, user_id: int) -> Delivery:
    """Put a round that failed for good back in the queue. Commits, then enqueues."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.campaign.organiser_id != user_id:
        raise ServiceError(_("Only the organiser can retry this delivery."))
    claimed = db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state == DeliveryState.FAILED)
        .values(state=DeliveryState.QUEUED, failed_at=None)
        .returning(Delivery.id)
    ).first()
    if claimed is not None:
        later("delivery", delivery_id)
    db.session.commit()
    if claimed is None:
        raise ServiceError(_("Only a failed delivery can be tried again."))
    return delivery


def mark_opened(delivery_id: int) -> None:
    """The brand opened its private link: sent becomes opened (once). Commits."""
    db.session.execute(
        update(Delivery)
        .where(Delivery.id == delivery_id, Delivery.state == DeliveryState.SENT)
        .values(state=DeliveryState.OPENED, opened_at=utcnow())
    )
    db.session.commit()


def answer(
    campaign_id: int,
    brand_id: int,
    *,
    author_name: str,
    stance: Stance,
    body: str,
    commitment: str | None = None,
    commitment_due: date | None = None,
    author_id: int | None = None,
    delivery_id: int | None = None,
) -> Response:
    """Publish a brand's answer. Commits, then notifies consenting supporters (batched).

    The answer's digest goes into the public log in the same transaction.

    A commitment must say what and by when. Every delivered round of the campaign to this
    brand is marked answered (the first answer time is kept for the accountability record).
    """
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.state not in PUBLIC_STATES:
        raise ServiceError(_("This campaign is not public."))
    if stance in (Stance.COMMITTED, Stance.PARTLY) and not (commitment and commitment_due):
        raise ServiceError(_("A commitment says what the brand will do and by when."))
    if commitment_due is not None and commitment_due < utcnow().date():
        raise ServiceError(_("The date of a commitment cannot be in the past."))
    digest = hashlib.sha256(f"{stance}\n{body.strip()}".encode()).hexdigest()
    response = Response(
        campaign_id=campaign.id,
        brand_id=brand_id,
        author_id=author_id,
        author_name=author_name.strip(),
        stance=stance,
        body=body.strip(),
        commitment=(commitment or "").strip() or None,
        commitment_due=commitment_due,
        delivery_id=delivery_id,
        digest=digest,
        created_at=utcnow(),
    )
    db.session.add(response)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ServiceError(_("This answer is already published.")) from None
    db.session.execute(
        update(Delivery)
        .where(
            Delivery.campaign_id == campaign.id,
            Delivery.brand_id == brand_id,
            Delivery.state.in_([DeliveryState.SENT, DeliveryState.OPENED]),
        )
        .values(state=DeliveryState.ANSWERED, answered_at=utcnow())
    )
    append_log_entry(
        "answer",
        {
            "campaign": campaign.slug,
            "brand": response.brand.slug,
            "response": response.id,
            "stance": str(stance),
            "digest": digest,
            "delivery": delivery_id,
        },
    )
    add_notice("answer", response.id)
    db.session.commit()
    return response


def record_verdict(response_id: int, support_id: int, choice: VerdictChoice) -> bool:
    """A supporter says whether the answer meets the demand; one view each, changeable.

    Commits. Returns True for a first verdict, False when an earlier one was changed.
    """
    response = db.session.get(Response, response_id)
    support = db.session.get(Support, support_id)
    if response is None or support is None or support.campaign_id != response.campaign_id:
        raise ServiceError(_("Only supporters of this campaign can say what they think of it."))
    if support.confirmed_at is None or support.withdrawn_at is not None:
        raise ServiceError(_("Only confirmed supporters can say what they think of the answer."))
    new_id = insert_ignoring_conflicts(
        Verdict,
        ["response_id", "support_id"],
        response_id=response.id,
        support_id=support.id,
        choice=choice.value,
        created_at=utcnow(),
    )
    if new_id is None:
        db.session.execute(
            update(Verdict).filter_by(response_id=response.id, support_id=support.id).values(choice=choice)
        )
    db.session.commit()
    return new_id is not None


def member_answer_allowed(user: User, campaign: Campaign) -> bool:
    brand = campaign.target_brand
    return brand is not None and user.is_authenticated and user.speaks_for(brand.id)
