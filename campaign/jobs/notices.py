"""The transactional outbox of notices: written with the change, sent by a job, swept if lost.

A service adds a :class:`Notice` in the transaction that justifies it and, after its commit,
calls :func:`enqueue_notice`. If Redis was down, or a worker died, the row stays undone and
the sweeper (run by the clock) enqueues it again; the fan-out it triggers sends each email
once (receipts), so running a notice twice sends nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import delete, select, update

from campaign.dbutil import insert_ignoring_conflicts
from campaign.extensions import db
from campaign.jobs import app_job
from campaign.models import Notice, utcnow
from campaign.queue import enqueue

TOPICS = ("update", "answer", "victory", "status", "escalation", "delivered", "review")


def add_notice(topic: str, object_id: int) -> Notice:
    """Record a notice to send, in the caller's transaction (no commit)."""
    if topic not in TOPICS:
        raise ValueError(f"unknown notice topic {topic!r}")
    notice = Notice(topic=topic, object_id=object_id, created_at=utcnow())
    db.session.add(notice)
    db.session.flush()
    return notice


def add_review_notice(campaign_id: int) -> int:
    """Record that the organiser is owed the outcome of a review, in the caller's transaction.

    A campaign can be reviewed more than once (sent back, fixed, submitted again), while a
    notice is one row per topic and object: the row of an earlier review, once done, is
    replaced; one still undone is kept (its job sends the outcome current when it runs).
    Returns the notice's id.
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
    return notice_id


def enqueue_notice(notice_id: int) -> None:
    """Enqueue the job that sends notice ``notice_id``; call after the commit."""
    enqueue(run_notice, notice_id, queue="bulk", job_id=f"notice-{notice_id}")


@app_job
def run_notice(notice_id: int) -> bool:
    """Send a notice (by fanning it out) and mark it done. Safe to run twice."""
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.done_at is not None:
        return False
    _handler(notice.topic)(notice.object_id)
    db.session.execute(
        update(Notice).where(Notice.id == notice.id, Notice.done_at.is_(None)).values(done_at=utcnow())
    )
    db.session.commit()
    return True


def _handler(topic: str) -> Callable[[int], int]:
    from campaign.jobs import notify  # notify enqueues through this module: import late

    return {
        "update": notify.notify_update,
        "answer": notify.notify_answer,
        "victory": notify.notify_victory,
        "status": notify.notify_status_change,
        "escalation": notify.notify_escalation,
        "delivered": notify.notify_delivered,
        "review": notify.notify_review,
    }[topic]
