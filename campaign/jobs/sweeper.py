"""The sweeper: re-enqueues work a lost job left undone (run by the clock).

The database says what is owed (outbox rows, milestones not yet told, queued deliveries,
confirmation emails owed and unsent, co-author invitations without a receipt); RQ says what
it still holds. Work owed and no longer held is enqueued again, by kind, through
:mod:`campaign.outbox`; every job is idempotent.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from rq.intermediate_queue import IntermediateQueue
from rq.job import Job
from rq.registry import ScheduledJobRegistry, clean_registries
from sqlalchemy import String, cast, exists, literal, or_, select

from campaign import outbox
from campaign.dbutil import id_among
from campaign.extensions import db
from campaign.jobs import app_job
from campaign.models import (
    CoAuthor,
    ConfirmationOwed,
    Delivery,
    DeliveryState,
    FanoutBatch,
    MailReceipt,
    Milestone,
    Notice,
    Support,
    utcnow,
)
from campaign.queue import get_queue, redis_connection

log = logging.getLogger(__name__)


@app_job
def sweep_job() -> int:
    """Re-enqueue what a lost job left undone; returns how many jobs it enqueued.

    First RQ's own repair: a job whose worker died (its heartbeat stopped) is retried or
    failed, and one a worker took but never started is released. Then, from the database
    (the truth): milestone and outbox notices, fan-out batches, queued deliveries
    not done some time after they were asked for (``SWEEP_AFTER_SECONDS``) whose job RQ no
    longer holds (Redis lost it, or it finished without doing the work). Each job is
    idempotent, and one still queued, running or waiting to retry is left alone. Confirmation
    emails owed that long ask for a dispatcher (one for all of them).
    """
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
        "milestone",
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
        "notice",
    )
    enqueued += _enqueue_lost(
        [
            outbox.batch_args(batch)
            for batch in db.session.execute(
                select(FanoutBatch)
                .where(FanoutBatch.done_at.is_(None), FanoutBatch.created_at < stale)
                .order_by(FanoutBatch.id)
                .limit(limit)
            ).scalars()
        ],
        "batch",
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
        "delivery",
    )
    # Co-author invitations not accepted whose email has no receipt: the organiser's page
    # says the same whatever the address, so this email is the invitee's only way to learn.
    invitation_key = literal("coauthor-invite:") + cast(CoAuthor.id, String)
    enqueued += _enqueue_lost(
        db.session.execute(
            select(CoAuthor.id)
            .where(
                CoAuthor.accepted_at.is_(None),
                CoAuthor.created_at < stale,
                ~exists().where(MailReceipt.key == invitation_key),
            )
            .order_by(CoAuthor.id)
            .limit(limit)
        )
        .scalars()
        .all(),
        "coauthor-invitation",
    )
    # Confirmation emails owed and not sent some time after they were owed, or claimed by a
    # dispatcher that died (its claim expired): a dispatcher is asked for (unless one was
    # just asked for), which sends them all. A support confirmed or withdrawn meanwhile is
    # never chased (the dispatcher only deletes its row). The late rows are read first, then
    # their supports by id (dbutil.id_among): joined, the planner walked every pending
    # support looking each up (30 ms at 50,000, once a minute, growing with them).
    claim_expired = utcnow() - timedelta(seconds=current_app.config["CONFIRMATION_CLAIM_SECONDS"])
    late = (
        select(ConfirmationOwed.support_id)
        .where(
            ConfirmationOwed.owed_at < stale,
            or_(ConfirmationOwed.claimed_at.is_(None), ConfirmationOwed.claimed_at < claim_expired),
        )
        .subquery("late")
    )
    owed = db.session.execute(
        select(Support.id)
        .where(
            id_among(Support.id, late.c.support_id),
            Support.confirmed_at.is_(None),
            Support.suspect_confirmed_at.is_(None),
            Support.withdrawn_at.is_(None),
        )
        .limit(1)
    ).first()
    if owed is not None and outbox.request_dispatch():
        enqueued += 1
    db.session.commit()
    if enqueued:
        log.warning("sweeper re-enqueued %s lost jobs", enqueued)
    return enqueued


#: At most this many of each kind per sweep; the next sweep takes the rest.
SWEEP_LIMIT = 5_000


def _enqueue_lost(items, kind: str) -> int:
    """Enqueue the work ``kind`` of each of ``items`` (an id, or a tuple of the job's
    arguments) whose job RQ no longer holds; returns how many were enqueued."""
    enqueued = 0
    for item in items:
        args = item if isinstance(item, tuple) else (item,)
        if lost(outbox.job_id(kind, *args)):
            outbox.enqueue(kind, *args)
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
    for name in current_app.config["RQ_QUEUES"]:
        queue = get_queue(name)
        clean_registries(queue)
        _release_stuck(queue)


def _release_stuck(queue) -> None:
    # RQ's IntermediateQueue.cleanup wants a live worker object to fail the job through; a
    # job left there (taken, never started) is simply put back at the front of its queue.
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
