"""Jobs that keep counts exact, close campaigns on time and re-enqueue what was left behind."""

from __future__ import annotations

import logging
from datetime import timedelta

from redis.exceptions import RedisError
from sqlalchemy import select

from campaign.extensions import db
from campaign.jobs import app_job
from campaign.models import Milestone, utcnow
from campaign.queue import get_queue, redis_connection
from campaign.services import counting

log = logging.getLogger(__name__)

FOLD_LOCK = "groundswell:lock:fold-counts"
FOLD_REQUESTED = "groundswell:fold-requested"


def request_fold() -> None:
    """Ask for a fold soon; under load, one waiting fold job serves every request.

    A flag set with NX means only the first request enqueues; the job clears the flag when
    it starts, so changes committed after that start ask again. The flag expires, so a lost
    job is replaced within seconds (and the clock folds every few seconds regardless).
    """
    try:
        if redis_connection().set(FOLD_REQUESTED, 1, nx=True, ex=10):
            get_queue("high").enqueue(fold_counts_job, result_ttl=60, failure_ttl=7 * 86400)
    except RedisError:
        log.warning("could not request a fold; the clock's next tick will fold instead")


@app_job
def fold_counts_job() -> int:
    """Fold every pending delta (singleton: a Redis lock keeps two from working at once).

    Correctness does not rest on the lock: each delta is deleted and applied in one
    transaction. Enqueues the notices of milestones reached. Returns deltas folded.
    """
    conn = redis_connection()
    conn.delete(FOLD_REQUESTED)
    lock = conn.lock(FOLD_LOCK, timeout=300, blocking=False)
    if not lock.acquire():
        return 0  # another fold is running and will be followed by the next request
    try:
        total = 0
        while True:
            folded = counting.fold_counts()
            for milestone_id in folded.milestone_ids:
                enqueue_milestone(milestone_id)
            for campaign_id, support_ids in folded.conditions_met.items():
                enqueue_conditions_met(campaign_id, support_ids)
            total += folded.count
            if folded.count < counting.FOLD_BATCH:
                return total
    finally:
        try:
            lock.release()
        except RedisError:
            pass  # expired: harmless, the work is committed


def enqueue_milestone(milestone_id: int) -> None:
    from campaign.jobs.notify import notify_milestone
    from campaign.queue import enqueue

    enqueue(notify_milestone, milestone_id, queue="default", job_id=f"milestone-{milestone_id}")


def enqueue_conditions_met(campaign_id: int, support_ids: list[int]) -> None:
    """Tell conditional pledgers their boycott is on, in batches; each is told once."""
    from campaign.jobs.notify import BATCH_SIZE, notify_conditions_met
    from campaign.queue import enqueue

    for i in range(0, len(support_ids), BATCH_SIZE):
        batch = support_ids[i:i + BATCH_SIZE]
        enqueue(notify_conditions_met, campaign_id, batch, queue="bulk",
                job_id=f"condition-{campaign_id}-{batch[0]}")


@app_job
def recount_job() -> int:
    """The nightly exact recount; returns how many campaigns had drifted."""
    lock = redis_connection().lock(FOLD_LOCK, timeout=3600, blocking_timeout=60)
    with lock:
        return len(counting.recount())


@app_job
def close_due_campaigns_job() -> int:
    closed = counting.close_due_campaigns()
    if closed:
        log.info("closed campaigns %s", closed)
    return len(closed)


@app_job
def sweep_job() -> int:
    """Re-enqueue what a lost job left undone (Redis was down, a worker died): milestone
    notices, outbox notices and queued deliveries older than a few minutes. Each of those
    jobs is idempotent, so one still in the queue running twice sends nothing twice."""
    from campaign.jobs.deliveries import enqueue_delivery
    from campaign.jobs.notices import enqueue_notice
    from campaign.models import Delivery, DeliveryState, Notice

    stale = utcnow() - timedelta(minutes=5)
    milestones = db.session.execute(
        select(Milestone.id).where(Milestone.notified_at.is_(None), Milestone.reached_at < stale)
    ).scalars().all()
    for milestone_id in milestones:
        enqueue_milestone(milestone_id)
    notices = db.session.execute(
        select(Notice.id).where(Notice.done_at.is_(None), Notice.created_at < stale)
    ).scalars().all()
    for notice_id in notices:
        enqueue_notice(notice_id)
    # A delivery's retries span under two hours; one still queued after three was lost.
    deliveries = db.session.execute(
        select(Delivery.id).where(Delivery.state == DeliveryState.QUEUED,
                                  Delivery.created_at < utcnow() - timedelta(hours=3))
    ).scalars().all()
    for delivery_id in deliveries:
        enqueue_delivery(delivery_id)
    return len(milestones) + len(notices) + len(deliveries)
