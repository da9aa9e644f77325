"""Notices that fan out: milestones to organisers, the goal and updates to supporters.

A fan-out records the consenting supporters in batches of ids (an outbox row each, see
:func:`campaign.outbox.add_batches`), and each batch's job is enqueued when that commits.
Each email has a receipt whose key names the notice and the recipient; a batch claims its
receipts in one statement, sends over one connection and marks them sent in one statement
(:func:`campaign.mail.send_batch_once`), so a batch that runs twice sends nothing twice.
What each topic loads, renders and whom it reaches is in :mod:`campaign.jobs.notifications`.
"""

from __future__ import annotations

import logging

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from campaign.extensions import db
from campaign.jobs import app_job, keeps_loaded_objects
from campaign.jobs.digests import hold_for_digest
from campaign.jobs.notifications import TOPICS, support_member
from campaign.kinds import kind_of
from campaign.mail import send_batch_once, send_once
from campaign.models import Campaign, CampaignState, FanoutBatch, Milestone, Support, utcnow
from campaign.outbox import add_batches, batch_args, later
from campaign.services import ServiceError
from campaign.services.deliveries import request_delivery

log = logging.getLogger(__name__)


@app_job
def notify_review(campaign_id: int) -> int:
    """Tell the organiser how the review of their campaign ended: published, or sent back
    with the moderator's reason. Once per submission (the receipt's key names it); returns
    the number of emails sent."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or campaign.state not in (CampaignState.OPEN, CampaignState.REJECTED):
        return 0
    submitted = campaign.submitted_at.isoformat() if campaign.submitted_at else "-"
    key = f"review:{campaign.id}:{campaign.state.value}:{submitted}"
    return int(send_once(key, TOPICS["review"].email(campaign)))


@app_job
def notify_milestone(milestone_id: int) -> bool:
    """Tell the organiser of a milestone; at the goal, fan out to consenting supporters."""
    milestone = db.session.get(Milestone, milestone_id)
    if milestone is None:
        return False
    campaign = milestone.campaign
    key = f"milestone:{milestone.id}:organiser"
    if hold_for_digest(campaign.organiser, key, "milestone", milestone.id, campaign.id):
        db.session.commit()
    else:
        send_once(key, TOPICS["milestone"].email(milestone))
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
    campaign = db.session.get(Campaign, campaign_id)
    if not kind_of(campaign).delivers or campaign.deliveries:
        return  # delivered already (or not a kind that is delivered): later rounds are manual
    try:
        request_delivery(campaign_id, automatic=True)
    except ServiceError as exc:
        db.session.rollback()
        log.warning("no automatic delivery of campaign %s at its goal: %s", campaign_id, exc)


def fan_out(topic: str, object_id: int, campaign_id: int) -> int:
    """Record the batches of notice ``topic`` about ``object_id`` to the supporters of
    ``campaign_id`` it reaches (an outbox row per BATCH_SIZE recipients) and commit: each
    batch not yet done is enqueued then. Returns the number of batches.

    The batches are decided once: a second call (the job ran twice, or was swept) enqueues
    the unfinished batches recorded the first time, so nobody is added or left out by a rerun.
    """
    batches = _batches(topic, object_id)
    if not batches:
        obj = TOPICS[topic].load(object_id)
        ids = db.session.execute(TOPICS[topic].recipients(campaign_id, obj)).scalars().all()
        add_batches(topic, object_id, list(ids))
        db.session.commit()
        return len(_batches(topic, object_id))
    for batch in batches:
        if batch.done_at is None:
            later("batch", *batch_args(batch))
    db.session.commit()
    return len(batches)


def _batches(topic: str, object_id: int) -> list[FanoutBatch]:
    return list(
        db.session.execute(
            select(FanoutBatch).filter_by(topic=topic, object_id=object_id).order_by(FanoutBatch.first_id)
        ).scalars()
    )


@app_job
@keeps_loaded_objects
def send_batch(topic: str, object_id: int, first_id: int, last_id: int) -> int:
    """Send notice ``topic`` about ``object_id`` to the supporters it reaches with ids in
    ``first_id..last_id``; returns how many emails this run sent (0 on a repeat).

    The batch's receipts are claimed in one statement, its emails sent over one SMTP
    connection and marked sent in one statement (:func:`campaign.mail.send_batch_once`):
    a run that is repeated sends nothing twice, and a worker killed mid-batch leaves only
    its unmarked emails to be sent again, with the same Message-IDs. Raises (so that RQ
    retries it) when a send fails or another run's claim still stands on some of them.
    """
    kind = TOPICS[topic]
    obj = kind.load(object_id)
    audience = kind.audience(obj).id
    supports = (
        db.session.execute(
            select(Support)
            .where(
                Support.id.in_(kind.recipients(audience, obj).where(Support.id.between(first_id, last_id)))
            )
            .options(selectinload(Support.user))
            .order_by(Support.id)
        )
        .scalars()
        .all()
    )
    owed: dict[str, Support] = {}
    for support in supports:
        key = kind.receipt_key(object_id, support.id)
        if not hold_for_digest(support_member(support), key, topic, object_id, audience, support.id):
            owed[key] = support

    def compose(keys: list[str]):
        for support, email in kind.emails(obj, [owed[key] for key in keys]):
            yield kind.receipt_key(object_id, support.id), email

    # The claim commits the notices held for members' digests with it.
    sent = send_batch_once({key: support.email for key, support in owed.items()}, compose)
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
    db.session.commit()
    return sent
