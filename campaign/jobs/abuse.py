"""Jobs of the signing fraud defences: a moderator's invalidation or release, the hourly
report."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from campaign.extensions import db
from campaign.jobs import app_job
from campaign.jobs.counting import FOLD_LOCK
from campaign.models import Invalidation, utcnow
from campaign.outbox import enqueue, request_fold
from campaign.queue import redis_connection
from campaign.services import abuse, counting

log = logging.getLogger(__name__)


@app_job
def run_invalidation_job(invalidation_id: int) -> int:
    """Carry out an invalidation or a release: change its supports in batches (each batch
    takes them out of the counts, or puts them in, in its own transaction), then recount
    exactly every campaign they were on. Idempotent: a second run, or one after a worker
    died half-way, changes only what is left and recounts again. Returns how many supports
    it has changed in all.
    """
    inv = db.session.get(Invalidation, invalidation_id)
    if inv is None:
        return 0
    if inv.finished_at is None:
        while abuse.decide_batch(invalidation_id):
            pass
        # The recount must not interleave with a fold: the same lock as the nightly one.
        with redis_connection().lock(FOLD_LOCK, timeout=3600, blocking_timeout=120):
            for campaign_id in abuse.affected_campaigns(invalidation_id):
                counting.recount(campaign_id)
        abuse.finish_invalidation(invalidation_id)
        request_fold()
    inv = db.session.get(Invalidation, invalidation_id)
    log.info("%s %s: %s supports changed", inv.action.value, invalidation_id, inv.invalidated)
    return inv.invalidated


@app_job
def signing_report_job(hour: str | None = None) -> int:
    """Write the report of heavy signers for ``hour`` (ISO start of an hour), by default the
    last complete one. Rewrites that hour whole, so running twice changes nothing.

    Also enqueues again any invalidation or release left unfinished for ten minutes (its job was lost
    with Redis, or its worker died for good); that job is idempotent.
    """
    start = datetime.fromisoformat(hour) if hour else abuse.hour_start(utcnow()) - timedelta(hours=1)
    lines = abuse.report_hour(start)
    for invalidation_id in abuse.unfinished_invalidations(timedelta(minutes=10)):
        enqueue("invalidation", invalidation_id)
    return lines
