"""Notices that fan out: milestones to organisers, the goal and updates to supporters.

A fan-out job splits the consenting supporters into batches of ids and enqueues one job per
batch, with a deterministic job id. Each email is sent through :func:`send_once` with a key
naming the notice and the recipient, so a batch that runs twice sends nothing twice.
"""

from __future__ import annotations

import logging

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from campaign.dbutil import insert_ignoring_conflicts
from campaign.extensions import db
from campaign.i18n import writing_to
from campaign.jobs import app_job, keeps_loaded_objects
from campaign.jobs.digests import hold_for_digest, member_links, support_member
from campaign.jobs.supports import support_token
from campaign.mail import add_unsubscribe_headers, one_connection, render_email, send_once
from campaign.models import (
    Campaign,
    CampaignState,
    Delivery,
    FanoutBatch,
    Milestone,
    Response,
    StatusChange,
    Support,
    Update,
    utcnow,
)
from campaign.queue import enqueue
from campaign.urls import external_url

BATCH_SIZE = 500

log = logging.getLogger(__name__)


@app_job
def notify_review(campaign_id: int) -> int:
    """Tell the organiser how the review of their campaign ended: published, or sent back
    with the moderator's reason. Once per submission (the receipt's key names it); returns
    the number of emails sent."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.state not in (CampaignState.OPEN, CampaignState.REJECTED):
        return 0
    organiser = campaign.organiser
    approved = campaign.state == CampaignState.OPEN
    submitted = campaign.submitted_at.isoformat() if campaign.submitted_at else "-"
    key = f"review:{campaign.id}:{campaign.state.value}:{submitted}"
    with writing_to(organiser):
        if approved:
            subject = _("Your %(noun)s is published: %(title)s", noun=campaign.noun, title=campaign.title)
            url = external_url(f"{campaign.blueprint}.show", slug=campaign.slug)
        else:
            subject = _("Your %(noun)s needs changes: %(title)s", noun=campaign.noun, title=campaign.title)
            url = external_url(f"{campaign.blueprint}.edit", slug=campaign.slug)
        email = render_email(
            "review_organiser",
            to=organiser.email,
            subject=subject,
            campaign=campaign,
            organiser=organiser,
            approved=approved,
            campaign_url=url,
        )
    return int(send_once(key, email))


@app_job
def notify_milestone(milestone_id: int) -> bool:
    """Tell the organiser of a milestone; at the goal, fan out to consenting supporters."""
    milestone = db.session.get(Milestone, milestone_id)
    if milestone is None:
        return False
    campaign = milestone.campaign
    organiser = campaign.organiser
    key = f"milestone:{milestone.id}:organiser"
    if hold_for_digest(organiser, key, "milestone", milestone.id, campaign.id):
        db.session.commit()
    else:
        links = member_links(organiser)
        with writing_to(organiser):
            email = render_email(
                "milestone_organiser",
                to=organiser.email,
                subject=(
                    _("Goal reached: %(title)s", title=campaign.title)
                    if milestone.is_goal
                    else _(
                        "%(counted)s: %(title)s",
                        counted=campaign.count_phrase(milestone.threshold),
                        title=campaign.title,
                    )
                ),
                campaign=campaign,
                milestone=milestone,
                organiser=organiser,
                campaign_url=external_url(f"{campaign.blueprint}.show", slug=campaign.slug),
                **links,
            )
        add_unsubscribe_headers(email, links["member_unsubscribe_url"])
        send_once(key, email)
    if milestone.is_goal:
        fan_out("goal", milestone.id, campaign.id)
        _deliver_at_goal(campaign.id)
    db.session.execute(
        update(Milestone)
        .where(Milestone.id == milestone.id, Milestone.notified_at.is_(None))
        .values(notified_at=utcnow())
    )
    db.session.commit()
    return True


def _deliver_at_goal(campaign_id: int) -> None:
    from campaign.services import ServiceError
    from campaign.services.deliveries import DELIVERABLE_KINDS, request_delivery

    campaign = db.session.get(Campaign, campaign_id)
    if campaign.kind not in DELIVERABLE_KINDS or campaign.deliveries:
        return  # delivered already (or not a kind that is delivered): later rounds are manual
    try:
        request_delivery(campaign_id, automatic=True)
    except ServiceError as exc:
        db.session.rollback()
        log.warning("no automatic delivery of campaign %s at its goal: %s", campaign_id, exc)


@app_job
def notify_answer(response_id: int) -> int:
    """Fan a brand's answer out to the campaign's consenting supporters."""
    response = db.session.get(Response, response_id)
    if response is None:
        return 0
    return fan_out("answer", response.id, response.campaign_id)


@app_job
def notify_delivered(delivery_id: int) -> int:
    """Tell the consenting supporters in a delivered round that their support reached the
    brand, each with the link to their own receipt (their proof of inclusion)."""
    delivery = db.session.get(Delivery, delivery_id)
    if delivery is None or delivery.sent_at is None:
        return 0
    return fan_out("delivered", delivery.id, delivery.campaign_id)


@app_job
def notify_victory(campaign_id: int) -> int:
    """Tell the consenting supporters that their campaign won."""
    if db.session.get(Campaign, campaign_id) is None:
        return 0
    return fan_out("victory", campaign_id, campaign_id)


@app_job
def notify_conditions_met(campaign_id: int, support_ids: list[int]) -> int:
    """Tell conditional pledgers that enough people pledged: their boycott is on. Once each."""
    campaign = db.session.get(Campaign, campaign_id)
    url = external_url(f"{campaign.blueprint}.show", slug=campaign.slug)
    sent = 0
    for support in (
        db.session.execute(
            select(Support).where(Support.id.in_(support_ids), Support.condition_met_at.is_not(None))
        )
        .scalars()
        .all()
    ):
        key = f"condition-met:{support.id}"
        member = support_member(support)
        if hold_for_digest(member, key, "condition-met", support.id, campaign.id, support.id):
            db.session.commit()
            continue
        with writing_to(member, support):
            email = render_email(
                "condition_met",
                to=support.email,
                subject=_(
                    "It's on: %(count)s people pledged — %(title)s",
                    count=format_decimal(support.condition_threshold),
                    title=campaign.title,
                ),
                campaign=campaign,
                support=support,
                campaign_url=url,
                withdraw_url=_withdraw_url(support),
                **(member_links(member) if member else {}),
            )
        sent += send_once(key, email)
    return sent


@app_job
def notify_status_change(change_id: int) -> int:
    """Tell a proposal's endorsers of a status change (those moved, for a duplicate)."""
    change = db.session.get(StatusChange, change_id)
    if change is None:
        return 0
    topic = "moved" if change.duplicate_of_id else "status"
    return fan_out(topic, change.id, change.campaign_id)


@app_job
def notify_escalation(campaign_id: int) -> int:
    """Invite (never enrol) the supporters of the campaign this one escalates."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.escalated_from_id is None:
        return 0
    return fan_out("invite", campaign.id, campaign.escalated_from_id)


@app_job
def notify_update(update_id: int) -> int:
    """Fan an organiser's update out to the campaign's consenting supporters."""
    item = db.session.get(Update, update_id)
    if item is None:
        return 0
    return fan_out("update", item.id, item.campaign_id)


def _recipients(campaign_id: int, topic: str = "", object_id: int | None = None):
    """Consenting supporters who count; for "moved", those moved away to a duplicate; for
    "delivered" (given the delivery's id), those in the delivered round."""
    stmt = select(Support.id).where(
        Support.campaign_id == campaign_id,
        Support.consents_to_updates.is_(True),
        Support.confirmed_at.is_not(None),
    )
    if topic == "delivered" and object_id is not None:
        delivery = db.session.get(Delivery, object_id)
        stmt = stmt.where(Support.id > delivery.after_support_id, Support.id <= delivery.up_to_support_id)
    if topic == "moved":
        stmt = stmt.where(Support.moved_to_id.is_not(None))
    else:
        stmt = stmt.where(Support.withdrawn_at.is_(None))
    return stmt.order_by(Support.id)


def fan_out(topic: str, object_id: int, campaign_id: int) -> int:
    """Record the batches of a notice to many (BATCH_SIZE recipients each, an outbox row per
    batch) and commit, then enqueue each batch not yet done; returns the number of batches.

    The batches are decided once: a second call (the job ran twice, or was swept) enqueues
    the unfinished batches recorded the first time, so nobody is added or left out by a rerun.
    """
    batches = _batches(topic, object_id)
    if not batches:
        ids = db.session.execute(_recipients(campaign_id, topic, object_id)).scalars().all()
        for i in range(0, len(ids), BATCH_SIZE):
            chunk = ids[i : i + BATCH_SIZE]
            insert_ignoring_conflicts(
                FanoutBatch,
                ["topic", "object_id", "first_id"],
                topic=topic,
                object_id=object_id,
                first_id=chunk[0],
                last_id=chunk[-1],
                created_at=utcnow(),
            )
        db.session.commit()
        batches = _batches(topic, object_id)
    for batch in batches:
        if batch.done_at is None:
            enqueue_batch(batch)
    return len(batches)


def _batches(topic: str, object_id: int) -> list[FanoutBatch]:
    return list(
        db.session.execute(
            select(FanoutBatch).filter_by(topic=topic, object_id=object_id).order_by(FanoutBatch.first_id)
        ).scalars()
    )


def enqueue_batch(batch: FanoutBatch) -> None:
    """Enqueue the job that sends ``batch``; call after the commit that recorded it."""
    enqueue(
        send_batch,
        batch.topic,
        batch.object_id,
        batch.first_id,
        batch.last_id,
        queue="bulk",
        job_id=f"{batch.topic}-{batch.object_id}-{batch.first_id}",
    )


@app_job
@keeps_loaded_objects
@one_connection
def send_batch(topic: str, object_id: int, first_id: int, last_id: int) -> int:
    """Send notice ``topic`` about ``object_id`` to the consenting supporters with ids in
    ``first_id..last_id``; returns how many emails this run sent (0 on a repeat)."""
    campaign, template, subject, context = _TOPICS[topic](object_id)
    recipients_of = context.pop("recipients_of", campaign.id)
    campaign_url = external_url(f"{campaign.blueprint}.show", slug=campaign.slug)
    supports = (
        db.session.execute(
            select(Support)
            .where(
                Support.id.in_(_recipients(recipients_of, topic).where(Support.id.between(first_id, last_id)))
            )
            .order_by(Support.id)
        )
        .scalars()
        .all()
    )
    sent = 0
    for support in supports:
        key = f"{topic}:{object_id}:{support.id}"
        member = support_member(support)
        if hold_for_digest(member, key, topic, object_id, recipients_of, support.id):
            continue
        unsubscribe_url = _unsubscribe_url(support)
        with writing_to(member, support):
            email = render_email(
                template,
                to=support.email,
                subject=subject,
                campaign=campaign,
                support=support,
                campaign_url=campaign_url,
                unsubscribe_url=unsubscribe_url,
                withdraw_url=_withdraw_url(support),
                verdict_url=_verdict_url(support, context.get("response")),
                receipt_url=_receipt_url(support, context.get("delivery")),
                **(member_links(member) if member else {}),
                **context,
            )
        add_unsubscribe_headers(email, unsubscribe_url)
        sent += send_once(key, email)
    _batch_done(topic, object_id, first_id)
    db.session.commit()  # the notices held for members' digests, the batch done
    return sent


def _batch_done(topic: str, object_id: int, first_id: int) -> None:
    db.session.execute(
        update(FanoutBatch)
        .where(
            FanoutBatch.topic == topic,
            FanoutBatch.object_id == object_id,
            FanoutBatch.first_id == first_id,
            FanoutBatch.done_at.is_(None),
        )
        .values(done_at=utcnow())
    )


def _verdict_url(support: Support, response) -> str | None:
    if response is None:
        return None
    return external_url(
        "deliveries.verdict", response_id=response.id, token=support_token("verdict", support)
    )


def _receipt_url(support: Support, delivery) -> str | None:
    if delivery is None:
        return None
    return external_url("deliveries.receipt", token=support_token("receipt", support))


def _withdraw_url(support: Support) -> str:
    """Every email to a supporter lets them take their support back (no account needed)."""
    return external_url("supports.withdraw", token=support_token("withdraw", support))


def _unsubscribe_url(support: Support) -> str:
    return external_url("supports.unsubscribe", token=support_token("unsubscribe", support))


def _goal(milestone_id: int) -> tuple[Campaign, str, str, dict]:
    milestone = db.session.get(Milestone, milestone_id)
    campaign = milestone.campaign
    return (
        campaign,
        "goal_supporter",
        _l("We reached the goal: %(title)s", title=campaign.title),
        {"milestone": milestone},
    )


def _update(update_id: int) -> tuple[Campaign, str, str, dict]:
    item = db.session.get(Update, update_id)
    campaign = item.campaign
    return campaign, "update_supporter", f"{item.title} — {campaign.title}", {"update": item}


def _answer(response_id: int) -> tuple[Campaign, str, str, dict]:
    response = db.session.get(Response, response_id)
    campaign = response.campaign
    return (
        campaign,
        "answer_supporter",
        _l("%(brand)s answered: %(title)s", brand=response.brand.name, title=campaign.title),
        {"response": response},
    )


def _delivered(delivery_id: int) -> tuple[Campaign, str, str, dict]:
    delivery = db.session.get(Delivery, delivery_id)
    campaign = delivery.campaign
    return (
        campaign,
        "delivered_supporter",
        _l("Delivered to %(brand)s: %(title)s", brand=delivery.brand.name, title=campaign.title),
        {"delivery": delivery},
    )


def _victory(campaign_id: int) -> tuple[Campaign, str, str, dict]:
    campaign = db.session.get(Campaign, campaign_id)
    return campaign, "victory_supporter", _l("We won: %(title)s", title=campaign.title), {}


def _status(change_id: int) -> tuple[Campaign, str, str, dict]:
    change = db.session.get(StatusChange, change_id)
    campaign = change.campaign
    return (
        campaign,
        "status_supporter",
        _l("%(status)s: %(title)s", status=change.label, title=campaign.title),
        {"change": change},
    )


def _moved(change_id: int) -> tuple[Campaign, str, str, dict]:
    change = db.session.get(StatusChange, change_id)
    target = change.duplicate_of
    return (
        target,
        "moved_supporter",
        _l("Your endorsement moved to: %(title)s", title=target.title),
        {"change": change, "old": change.campaign, "recipients_of": change.campaign_id},
    )


def _invite(new_campaign_id: int) -> tuple[Campaign, str, str, dict]:
    campaign = db.session.get(Campaign, new_campaign_id)
    old = campaign.escalated_from
    return (
        campaign,
        "escalation_invite",
        _l("Next step: %(title)s", title=campaign.title),
        {"old": old, "recipients_of": old.id},
    )


#: topic -> loader of (campaign, template, subject, extra template context); the context's
#: "recipients_of" names the campaign whose supporters get it, when not ``campaign``.
_TOPICS = {
    "goal": _goal,
    "update": _update,
    "answer": _answer,
    "victory": _victory,
    "status": _status,
    "moved": _moved,
    "invite": _invite,
    "delivered": _delivered,
}
