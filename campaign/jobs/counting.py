"""Jobs that keep counts exact, close campaigns on time and re-enqueue what was left behind."""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from redis.exceptions import LockError, RedisError
from sqlalchemy import String, cast, exists, literal, select

from campaign.extensions import db
from campaign.jobs import app_job
from campaign.models import Milestone, utcnow
from campaign.queue import get_queue, redis_connection
from campaign.services import counting

log = logging.getLogger(__name__)

FOLD_LOCK = "groundswell:lock:fold-counts"
FOLD_REQUESTED = "groundswell:fold-requested"
#: The fold lock lapses this soon after a worker folding died (and is renewed per batch).
FOLD_LOCK_SECONDS = 30


def request_fold() -> None:
    """Ask for a fold soon; under load, one fold job serves every request.

    A flag set with NX means only the first request enqueues. The flag stands for
    ``FOLD_REQUEST_SECONDS`` (1 by default), so a surge of confirmations costs one fold job a
    second rather than one after another (each is a job, a transaction and, in RQ's default
    worker, a fork and a new database connection); what is committed while it stands is
    folded by the next request's job or by the clock's (every 2 s), well within the seconds a
    count may lag. With 0, the job clears the flag when it starts, so changes committed after
    that start ask again (the tests, which run each job at once). Either way the flag
    expires, so a lost job is replaced within seconds.
    """
    standing = current_app.config.get("FOLD_REQUEST_SECONDS", 0)
    try:
        if redis_connection().set(
            FOLD_REQUESTED, 1, nx=True, px=int(standing * 1000) if standing else 10_000
        ):
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
    if not current_app.config.get("FOLD_REQUEST_SECONDS", 0):
        conn.delete(FOLD_REQUESTED)
    lock = conn.lock(FOLD_LOCK, timeout=FOLD_LOCK_SECONDS, blocking=False)
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
            try:
                lock.reacquire()
            except (LockError, RedisError):
                pass  # lapsed: another fold may start; each delta is still folded once
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
        batch = support_ids[i : i + BATCH_SIZE]
        enqueue(
            notify_conditions_met,
            campaign_id,
            batch,
            queue="bulk",
            job_id=f"condition-{campaign_id}-{batch[0]}",
        )


@app_job
def recount_job() -> int:
    """The nightly exact recount; returns how many campaigns had drifted."""
    lock = redis_connection().lock(FOLD_LOCK, timeout=3600, blocking_timeout=60)
    with lock:
        return len(counting.recount())


@app_job
def refresh_momentum_job() -> int:
    """Re-base momentum on the last days' supports; returns how many campaigns changed."""
    return counting.refresh_momentum()


@app_job
def close_due_campaigns_job() -> int:
    closed = counting.close_due_campaigns()
    if closed:
        log.info("closed campaigns %s", closed)
    return len(closed)


@app_job
def sweep_job() -> int:
    """Re-enqueue what a lost job left undone; returns how many jobs it enqueued.

    First RQ's own repair: a job whose worker died (its heartbeat stopped) is retried or
    failed, and one a worker took but never started is released. Then, from the database
    (the truth): milestone and outbox notices, fan-out batches, queued deliveries and
    confirmation emails not done some time after they were asked for (``SWEEP_AFTER_SECONDS``)
    whose job RQ no longer holds (Redis lost it, or it finished without doing the work). Each
    job is idempotent, and one still queued, running or waiting to retry is left alone.
    """
    from campaign.jobs.deliveries import enqueue_delivery
    from campaign.jobs.notices import enqueue_notice
    from campaign.jobs.notify import enqueue_batch
    from campaign.jobs.supports import enqueue_confirmation
    from campaign.models import Delivery, DeliveryState, FanoutBatch, MailReceipt, Notice, Support

    repair_abandoned_jobs()
    stale = utcnow() - timedelta(seconds=current_app.config["SWEEP_AFTER_SECONDS"])
    limit = SWEEP_LIMIT
    enqueued = _enqueue_lost(
        db.session.execute(
            select(Milestone.id)
            .where(Milestone.notified_at.is_(None), Milestone.reached_at < stale)
            .order_by(Milestone.id)
            .limit(limit)
        )
        .scalars()
        .all(),
        lambda milestone_id: f"milestone-{milestone_id}",
        enqueue_milestone,
    )
    enqueued += _enqueue_lost(
        db.session.execute(
            select(Notice.id)
            .where(Notice.done_at.is_(None), Notice.created_at < stale)
            .order_by(Notice.id)
            .limit(limit)
        )
        .scalars()
        .all(),
        lambda notice_id: f"notice-{notice_id}",
        enqueue_notice,
    )
    enqueued += _enqueue_lost(
        db.session.execute(
            select(FanoutBatch)
            .where(FanoutBatch.done_at.is_(None), FanoutBatch.created_at < stale)
            .order_by(FanoutBatch.id)
            .limit(limit)
        )
        .scalars()
        .all(),
        lambda batch: f"{batch.topic}-{batch.object_id}-{batch.first_id}",
        enqueue_batch,
    )
    # A delivery waiting for its retry is still held by RQ (scheduled): only a lost one is sent.
    enqueued += _enqueue_lost(
        db.session.execute(
            select(Delivery.id)
            .where(Delivery.state == DeliveryState.QUEUED, Delivery.created_at < stale)
            .order_by(Delivery.id)
            .limit(limit)
        )
        .scalars()
        .all(),
        lambda delivery_id: f"delivery-{delivery_id}",
        enqueue_delivery,
    )
    # Pending supports whose latest confirmation email has no receipt, while its link is valid.
    receipt_key = (
        literal("confirm-support:")
        + cast(Support.id, String)
        + literal(":")
        + cast(Support.confirmation_sends, String)
    )
    oldest = utcnow() - timedelta(seconds=current_app.config["SUPPORT_TOKEN_MAX_AGE"])
    pending = db.session.execute(
        select(Support.id, Support.confirmation_sends)
        .where(
            Support.confirmed_at.is_(None),
            Support.withdrawn_at.is_(None),
            Support.confirmation_sends > 0,
            Support.created_at < stale,
            Support.created_at > oldest,
            ~exists().where(MailReceipt.key == receipt_key),
        )
        .order_by(Support.id)
        .limit(limit)
    ).all()
    enqueued += _enqueue_lost(
        pending, lambda row: f"confirm-support-{row[0]}-{row[1]}", lambda row: enqueue_confirmation(*row)
    )
    db.session.commit()
    if enqueued:
        log.warning("sweeper re-enqueued %s lost jobs", enqueued)
    return enqueued


#: At most this many of each kind per sweep; the next sweep takes the rest.
SWEEP_LIMIT = 5_000


def _enqueue_lost(items, job_id, enqueue) -> int:
    """Enqueue each of ``items`` whose job (named by ``job_id(item)``) RQ no longer holds;
    returns how many were enqueued."""
    enqueued = 0
    for item in items:
        if lost(job_id(item)):
            enqueue(item)
            enqueued += 1
    return enqueued


def lost(job_id: str) -> bool:
    """Whether RQ no longer holds job ``job_id`` to run.

    Held means queued in its queue (or taken by a worker), started and in the started
    registry, scheduled for a retry, or waiting on another job. A status that no list or
    registry backs up is what a Redis crash can leave (up to a second of writes lost with
    ``appendfsync everysec``): such a job would never run, so it counts as lost. A job
    finished, or failed for good (it stays visible in the failed registry), also counts as
    lost: the database says its work is still undone.
    """
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    conn = redis_connection()
    status, origin = conn.hmget(Job.key_for(job_id), "status", "origin")
    if status is None:
        return True
    status, queue = status.decode(), get_queue((origin or b"default").decode())
    if status == "queued":
        return (
            conn.lpos(queue.key, job_id) is None and conn.lpos(queue.intermediate_queue.key, job_id) is None
        )
    if status == "started":
        return job_id not in queue.started_job_registry
    if status == "scheduled":
        return job_id not in ScheduledJobRegistry(queue=queue)
    return status != "deferred"


def repair_abandoned_jobs() -> None:
    """RQ's registry maintenance, which workers otherwise run only every few minutes: a job
    whose work-horse died is retried (or failed when out of retries), and a job taken from a
    queue by a worker that died before starting it is handed back."""
    from rq.registry import clean_registries

    for name in current_app.config["RQ_QUEUES"]:
        queue = get_queue(name)
        clean_registries(queue)
        _release_stuck(queue)


def _release_stuck(queue) -> None:
    # RQ's IntermediateQueue.cleanup wants a live worker object to fail the job through; a
    # job left there (taken, never started) is simply put back at the front of its queue.
    from rq.intermediate_queue import IntermediateQueue

    intermediate = IntermediateQueue(queue.key, connection=queue.connection)
    for job_id in intermediate.get_job_ids():
        if job_id in queue.started_job_registry:
            continue
        if intermediate.set_first_seen(job_id):
            continue  # seen for the first time: a live worker may be starting it right now
        if intermediate.should_be_cleaned_up(job_id):
            intermediate.remove(job_id)
            if queue.fetch_job(job_id) is not None:
                queue.push_job_id(job_id, at_front=True)
