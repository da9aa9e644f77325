"""The job that sends an outbox notice: it starts the notice's fan-out (or tells the organiser).

A service records a :class:`~campaign.models.Notice` with :func:`campaign.outbox.add_notice`
in the transaction that justifies it; the outbox enqueues :func:`run_notice` when that
commits. If Redis was down, or a worker died, the row stays undone and the sweeper enqueues
it again; the fan-out it starts sends each email once (receipts), so running a notice twice
sends nothing twice.
"""

from __future__ import annotations

from sqlalchemy import update

from campaign.extensions import db
from campaign.jobs import app_job
from campaign.jobs.notifications import notice_model, topic_of_notice
from campaign.jobs.notify import fan_out, notify_review
from campaign.models import Notice, utcnow


@app_job
def run_notice(notice_id: int) -> bool:
    """Send a notice (by fanning it out) and mark it done. Safe to run twice."""
    notice = db.session.get(Notice, notice_id)
    if notice is None or notice.done_at is not None:
        return False
    obj = db.session.get(notice_model(notice.topic), notice.object_id)
    topic = topic_of_notice(notice.topic, obj) if obj is not None else None
    if topic is None:
        pass  # deleted since, or no longer applies (a round not sent): nothing to tell
    elif topic.organiser:
        notify_review(notice.object_id)
    else:
        fan_out(topic.name, notice.object_id, topic.audience(obj).id)
    db.session.execute(
        update(Notice).where(Notice.id == notice.id, Notice.done_at.is_(None)).values(done_at=utcnow())
    )
    db.session.commit()
    return True
