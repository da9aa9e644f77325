"""Jobs of a campaign's lifecycle run by the clock: closing campaigns whose date has passed."""

from __future__ import annotations

import logging

from campaign.jobs import app_job
from campaign.services import counting

log = logging.getLogger(__name__)


@app_job
def close_due_campaigns_job() -> int:
    """Close every open campaign whose closing instant has passed; returns how many."""
    closed = counting.close_due_campaigns()
    if closed:
        log.info("closed campaigns %s", closed)
    return len(closed)
