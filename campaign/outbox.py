"""Work owed, enqueued once the transaction that owes it commits: the outbox.

A service (or a job) records the work its change owes in the same transaction, as an outbox
row (:func:`add_notice`, :func:`add_batches`) or as the state its job reads (a queued
delivery, a pending support's confirmation count), and names the job with :func:`later`.
When that transaction commits, one ``after_commit`` hook enqueues what it named; a rollback
discards it. So work is in the database before it is queued, and queued only once its
reason is committed; if Redis loses it, the sweeper finds the row undone and enqueues it
again (jobs are idempotent: their receipts make a second run do nothing).

:data:`WORK` is the one place that says which job does a kind of work, on which queue and
under which job id. The hook, the sweeper and the clock enqueue through it by kind, never by
importing a job: services do not import :mod:`campaign.jobs`.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from flask import current_app
from redis.exceptions import RedisError
from rq import Callback, Retry
from sqlalchemy import delete, event, select
from sqlalchemy.orm import Session

from campaign.dbutil import insert_ignoring_conflicts
from campaign.extensions import db
from campaign.models import NOTICE_TOPICS, FanoutBatch, Notice, utcnow
from campaign.queue import MAIL_RETRY, get_queue, redis_connection, run_script

log = logging.getLogger(__name__)

#: Recipients per fan-out batch (an outbox row and a job each).
BATCH_SIZE = 500

#: Transient failures of a delivery (mail server down, a busy database) are retried with backoff.
DELIVERY_RETRY = Retry(max=5, interval=[30, 120, 600, 1800, 3600])

#: Kept for a minute when done, a week when failed: the clock's and the fold's jobs.
_SHORT = {"result_ttl": 60, "failure_ttl": 7 * 86400}


@dataclass(frozen=True)
class Work:
    """How a kind of work is queued: its job (a dotted path), queue and job id.

    ``job_id`` formats the job's arguments (``"notice-{0}"``): the same work always has the
    same id, so the sweeper can ask RQ whether it still holds it.
    """

    job: str
    queue: str = "default"
    job_id: str | None = None
    retry: Retry | None = MAIL_RETRY
    options: dict[str, Any] = field(default_factory=dict)

    def id_for(self, *args) -> str | None:
        return self.job_id.format(*args) if self.job_id else None


WORK: dict[str, Work] = {
    # Outbox rows and the notices they start.
    "notice": Work("campaign.jobs.notices.run_notice", "bulk", "notice-{0}"),
    "batch": Work("campaign.jobs.notify.send_batch", "bulk", "{0}-{1}-{2}"),
    "milestone": Work("campaign.jobs.notify.notify_milestone", "default", "milestone-{0}"),
    "delivery": Work(
        "campaign.jobs.deliveries.deliver",
        "default",
        "delivery-{0}",
        retry=DELIVERY_RETRY,
        options={
            "on_failure": Callback("campaign.jobs.deliveries.delivery_failed"),
            "job_timeout": 1800,
        },
    ),
    "invalidation": Work("campaign.jobs.abuse.run_invalidation_job", "bulk", "invalidation-{0}"),
    "digest": Work("campaign.jobs.digests.send_digest", "bulk", "digest-{2}-{0}"),
    # Emails that answer a person's own request. Supports' confirmation emails are owed in
    # the support's own row and sent in batches by the dispatcher (request_dispatch).
    "confirmations": Work("campaign.jobs.supports.dispatch_confirmations", "high", "confirmations-{0}"),
    "already-supporting": Work("campaign.jobs.supports.send_already_supporting", "high", "already-{0}-{1}"),
    "verify-email": Work("campaign.jobs.accounts.send_verification_email", "high", "verify-{0}-{1}"),
    "verify-address": Work("campaign.jobs.accounts.send_verification_to", "high", "verify-address-{1}"),
    "reset-password": Work("campaign.jobs.accounts.send_password_reset_to", "high", "reset-{1}"),
    "account-exists": Work("campaign.jobs.accounts.send_account_exists", "high", "account-exists-{0}-{1}"),
    "claim-verification": Work("campaign.jobs.brands.send_claim_verification", "high", "claim-{0}"),
    "coauthor-invitation": Work(
        "campaign.jobs.proposals.send_coauthor_invitation", "high", "coauthor-invite-{0}"
    ),
    "privacy-link": Work("campaign.jobs.privacy.send_privacy_link", "high"),
    # A fold asked for by a change of count (coalesced: see request_fold).
    "fold": Work("campaign.jobs.counting.fold_counts_job", "high", retry=None, options=_SHORT),
    # The clock's periodic work (campaign.clock names these kinds).
    "fold-counts": Work("campaign.jobs.counting.fold_counts_job", "high", retry=None, options=_SHORT),
    "close-due": Work("campaign.jobs.lifecycle.close_due_campaigns_job", retry=None, options=_SHORT),
    "sweep": Work("campaign.jobs.sweeper.sweep_job", retry=None, options=_SHORT),
    "momentum": Work("campaign.jobs.counting.refresh_momentum_job", "bulk", retry=None, options=_SHORT),
    "recount": Work("campaign.jobs.counting.recount_job", "bulk", retry=None, options=_SHORT),
    "anonymise": Work("campaign.jobs.privacy.anonymise_job", "bulk", retry=None, options=_SHORT),
    "signing-report": Work("campaign.jobs.abuse.signing_report_job", "bulk", retry=None, options=_SHORT),
    "daily-digests": Work("campaign.jobs.digests.daily_digests_job", "bulk", retry=None, options=_SHORT),
    "weekly-digests": Work("campaign.jobs.digests.weekly_digests_job", "bulk", retry=None, options=_SHORT),
}


def enqueue(kind: str, *args):
    """Enqueue the job of ``kind`` with ``args`` now; returns the RQ job, or None.

    Call it only for work whose reason is committed (the hook, the sweeper, the clock, a
    "send again"); a service calls :func:`later` instead. If Redis cannot be reached the work
    is already safe in the database: the failure is logged, not raised, so the person's
    request still succeeds, and the sweeper (or a "send again" button) recovers it.
    """
    work = WORK[kind]
    try:
        return get_queue(work.queue).enqueue(
            work.job, *args, job_id=work.id_for(*args), retry=work.retry, **work.options
        )
    except RedisError:
        log.exception("could not enqueue %s%r", kind, args)
        return None


def job_id(kind: str, *args) -> str | None:
    """The RQ job id the work ``kind`` with ``args`` is enqueued under."""
    return WORK[kind].id_for(*args)


_PENDING = "groundswell.outbox"
_MARKS = "groundswell.outbox.savepoints"


def later(kind: str, *args) -> None:
    """Enqueue the job of ``kind`` with ``args`` once the session's transaction commits.

    Nothing is enqueued if it rolls back (or a savepoint the call was made in does); the
    same work named twice in one transaction is enqueued once.
    """
    if kind not in WORK:
        raise ValueError(f"unknown work {kind!r}")
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback before any statement discards the work too
    pending = session.info.setdefault(_PENDING, [])
    if (kind, args) not in pending:
        pending.append((kind, args))


@event.listens_for(Session, "after_commit")
def _enqueue_committed(session: Session) -> None:
    if session.get_nested_transaction() is not None:
        return  # a savepoint released: its work waits for the outer commit
    for kind, args in session.info.pop(_PENDING, ()):
        if kind == "fold":
            request_fold()  # coalesced: one fold job serves a surge of requests
        else:
            enqueue(kind, *args)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction) -> None:
    if transaction.nested:
        session.info.setdefault(_MARKS, {})[transaction] = len(session.info.get(_PENDING, ()))


@event.listens_for(Session, "after_soft_rollback")
def _discard_rolled_back(session: Session, previous_transaction) -> None:
    marks = session.info.get(_MARKS, {})
    if previous_transaction.nested:
        mark = marks.pop(previous_transaction, None)
        if mark is not None and _PENDING in session.info:
            del session.info[_PENDING][mark:]
    elif previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_ended(session: Session, transaction) -> None:
    if transaction.parent is None:
        # Committed (the hook took the work) or rolled back or closed: nothing is owed now.
        session.info.pop(_PENDING, None)
        session.info.pop(_MARKS, None)


FOLD_REQUESTED = "groundswell:fold-requested"

#: Sets the fold request for ARGV[1] ms unless one stands; -1 if this set it, else how many
#: ms the standing one has left (-2: it has just expired).
FOLD_REQUEST_SCRIPT = """
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then return -1 end
return redis.call('PTTL', KEYS[1])
"""
_FOLD_STANDS_UNTIL = "groundswell.fold_request_stands_until"


def request_fold() -> None:
    """Ask for a fold soon; under load, one fold job serves every request.

    A flag set with NX means only the first request enqueues. The flag stands for
    ``FOLD_REQUEST_SECONDS`` (1 by default), so a surge of confirmations costs one fold job a
    second rather than one after another (each is a job, a transaction and, in RQ's default
    worker, a fork and a new database connection); what is committed while it stands is
    folded by the next request's job or by the clock's (every 2 s), well within the seconds a
    count may lag. With 0, the job clears the flag when it starts, so changes committed after
    that start ask again (the tests, which run each job at once). Either way the flag
    expires, so a lost job is replaced within seconds. With a standing period, each process
    remembers until when the flag it set or found stands (one script: set, or its time left)
    and does not ask again meanwhile.
    """
    standing = current_app.config.get("FOLD_REQUEST_SECONDS", 0)
    if not standing:
        try:
            if redis_connection().set(FOLD_REQUESTED, 1, nx=True, px=10_000):
                enqueue("fold")
        except RedisError:
            log.warning("could not request a fold; the clock's next tick will fold instead")
        return
    # A standing request only expires (nothing clears it): while this process knows one
    # stands, asking again would be refused, so it does not ask (one round trip a second
    # per process instead of one per confirmation).
    extensions = current_app.extensions
    if time.monotonic() < extensions.get(_FOLD_STANDS_UNTIL, 0.0):
        return
    asked_at = time.monotonic()
    try:
        left_ms = run_script("fold_request", FOLD_REQUEST_SCRIPT, [FOLD_REQUESTED], [int(standing * 1000)])
    except RedisError:
        log.warning("could not request a fold; the clock's next tick will fold instead")
        return
    if left_ms == -1:
        extensions[_FOLD_STANDS_UNTIL] = asked_at + standing
        enqueue("fold")
    elif left_ms > 0:
        # Redis measured what is left after this process asked: it stands at least so long.
        extensions[_FOLD_STANDS_UNTIL] = asked_at + left_ms / 1000


#: Counts the confirmation emails marked owed, each once its statement committed: the
#: dispatcher reads it to know whether an email was owed while it worked.
CONFIRMATIONS_WAITING = "groundswell:confirmations:waiting"
#: The standing request for a dispatcher: the token (job argument) of the one asked for or
#: running, set with NX for ``CONFIRMATION_DISPATCH_SECONDS`` and renewed by the running
#: dispatcher at each look, so a surge asks for one (``campaign.jobs.supports``).
CONFIRMATIONS_REQUESTED = "groundswell:confirmations:requested"


def dispatch_ttl_ms() -> int:
    """How long a request for the confirmations dispatcher stands, in milliseconds."""
    return max(1, int(current_app.config.get("CONFIRMATION_DISPATCH_SECONDS", 1) * 1000))


def start_dispatcher(token: str) -> None:
    """Enqueue the confirmations dispatcher asked for under ``token`` (whoever set the
    standing request with it, after the commit that made an email owed)."""
    enqueue("confirmations", token)


def request_dispatch() -> bool:
    """Ask for the confirmations dispatcher unless a request stands; True if this asked.

    For what finds owed emails outside a signature (the sweeper, after Redis lost the
    dispatcher): a signature asks in the same Redis script as its limit
    (:func:`campaign.services.abuse.record_signature`).
    """
    token = uuid.uuid4().hex
    try:
        conn = redis_connection()
        with conn.pipeline(transaction=True) as pipe:
            pipe.incr(CONFIRMATIONS_WAITING)
            pipe.set(CONFIRMATIONS_REQUESTED, token, nx=True, px=dispatch_ttl_ms())
            won = pipe.execute()[1]
    except RedisError:
        log.warning("could not ask for the confirmations dispatcher; the sweeper will again")
        return False
    if won:
        start_dispatcher(token)
    return bool(won)


def add_notice(topic: str, object_id: int) -> Notice:
    """Record a notice to send, in the caller's transaction (no commit); its job is
    enqueued when that transaction commits."""
    if topic not in NOTICE_TOPICS:
        raise ValueError(f"unknown notice topic {topic!r}")
    notice = Notice(topic=topic, object_id=object_id, created_at=utcnow())
    db.session.add(notice)
    db.session.flush()
    later("notice", notice.id)
    return notice


def add_review_notice(campaign_id: int) -> int:
    """Record that the organiser is owed the outcome of a review, in the caller's transaction.

    A campaign can be reviewed more than once (sent back, fixed, submitted again), while a
    notice is one row per topic and object: the row of an earlier review, once done, is
    replaced; one still undone is kept (its job sends the outcome current when it runs).
    Returns the notice's id; its job is enqueued when the transaction commits.
    """
    db.session.execute(
        delete(Notice).where(
            Notice.topic == "review", Notice.object_id == campaign_id, Notice.done_at.is_not(None)
        )
    )
    notice_id = insert_ignoring_conflicts(
        Notice, ["topic", "object_id"], topic="review", object_id=campaign_id, created_at=utcnow()
    )
    if notice_id is None:
        notice_id = db.session.execute(
            select(Notice.id).filter_by(topic="review", object_id=campaign_id)
        ).scalar_one()
    later("notice", notice_id)
    return notice_id


def add_batches(topic: str, object_id: int, recipient_ids: list[int]) -> None:
    """Record the fan-out of notice ``topic`` about ``object_id`` to ``recipient_ids``
    (ascending), BATCH_SIZE to an outbox row, in the caller's transaction; each batch's job
    is enqueued when it commits. A batch already recorded (same first id) is kept as it was."""
    for i in range(0, len(recipient_ids), BATCH_SIZE):
        chunk = recipient_ids[i : i + BATCH_SIZE]
        if insert_ignoring_conflicts(
            FanoutBatch,
            ["topic", "object_id", "first_id"],
            topic=topic,
            object_id=object_id,
            first_id=chunk[0],
            last_id=chunk[-1],
            created_at=utcnow(),
        ):
            later("batch", topic, object_id, chunk[0], chunk[-1])


def batch_args(batch: FanoutBatch) -> tuple[str, int, int, int]:
    """The arguments of the job that sends ``batch``."""
    return batch.topic, batch.object_id, batch.first_id, batch.last_id
