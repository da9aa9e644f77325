"""Jobs of the signing fraud defences: a moderator's invalidation, the hourly report."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from campaign.extensions import db
from campaign.jobs import app_job
from campaign.models import Invalidation, utcnow
from campaign.services import abuse, counting

log = logging.getLogger(__name__)


@app_job
def run_invalidation_job(invalidation_id: int) -> int:
    """Carry out an invalidation: mark its supports in batches (each batch takes the counted
    ones out of the counts in its own transaction), then recount exactly every campaign
    they were on. Idempotent: a second run, or one after a worker died half-way, marks only
    what is left and recounts again. Returns how many supports it has invalidated in all.
    """
    from campaign.jobs.counting import FOLD_LOCK, request_fold
    from campaign.queue import redis_connection

    inv = db.session.get(Invalidation, invalidation_id)
    if inv is None:
        return 0
    if inv.finished_at is None:
        while abuse.invalidate_batch(invalidation_id):
            pass
        # The recount must not interleave with a fold: the same lock as the nightly one.
        with redis_connection().lock(FOLD_LOCK, timeout=3600, blocking_timeout=120):
            for campaign_id in abuse.affected_campaigns(invalidation_id):
                counting.recount(campaign_id)
        abuse.finish_invalidation(invalidation_id)
        request_fold()
    inv = db.session.get(Invalidation, invalidation_id)
    log.info("invalidation %s: %s supports invalidated", invalidation_id, inv.invalidated)
    return inv.invalidated


@app_job
def signing_report_job(hour: str | None = None) -> int:
    """Write the report of heavy signers for ``hour`` (ISO start of an hour), by default the
    last complete one. Rewrites that hour whole, so running twice changes nothing."""
    start = datetime.fromisoformat(hour) if hour else abuse.hour_start(utcnow()) - timedelta(hours=1)
    return abuse.report_hour(start)
