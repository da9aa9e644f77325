"""The clock: enqueues the periodic jobs, by their kind of work in :data:`campaign.outbox.WORK`.
Run one or more (``flask clock``); Redis keys with NX and an expiry make sure each tick's job is
enqueued once however many clocks run."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from datetime import datetime

from flask import current_app
from redis.exceptions import RedisError

from campaign.models import utcnow
from campaign.outbox import enqueue
from campaign.queue import redis_connection

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Periodic:
    name: str  # the kind of work (campaign.outbox.WORK) it enqueues
    every_seconds: int | None = None  # interval jobs
    at_hour_utc: int | None = None  # daily jobs, once in that hour
    at_minute: int | None = None  # hourly jobs, once an hour from this minute on
    every_setting: str | None = None  # a setting that overrides every_seconds
    on_weekday: int | None = None  # with at_hour_utc: weekly jobs, on that day (Monday is 0)

    def slot(self, now: datetime) -> tuple[str, int] | None:
        """The Redis key and expiry for this job's current slot, or None when not due."""
        if self.every_seconds:
            return f"groundswell:clock:{self.name}", self.every_seconds
        if self.on_weekday is not None and now.weekday() != self.on_weekday:
            return None
        if self.at_minute is not None:
            if now.minute < self.at_minute:
                return None
            return f"groundswell:clock:{self.name}:{now:%Y-%m-%dT%H}", 2 * 3600
        if now.hour == self.at_hour_utc:
            return f"groundswell:clock:{self.name}:{now.date().isoformat()}", 2 * 86400
        return None


SCHEDULE = (
    Periodic("fold-counts", every_seconds=2),
    Periodic("close-due", every_seconds=60),
    Periodic("sweep", every_seconds=60, every_setting="SWEEP_EVERY_SECONDS"),
    Periodic("momentum", every_seconds=600),
    Periodic("recount", at_hour_utc=3),
    Periodic("anonymise", at_hour_utc=4),
    # The report of the hour that just ended, a few minutes after it, for moderators.
    Periodic("signing-report", at_minute=5),
    Periodic("daily-digests", at_hour_utc=7),
    Periodic("weekly-digests", at_hour_utc=7, on_weekday=0),
)


def schedule() -> tuple[Periodic, ...]:
    """:data:`SCHEDULE` without the jobs the ``CLOCK_SKIP`` setting names; a name that is no
    job's is an error (a misspelt name would leave the job running)."""
    skip = set(current_app.config.get("CLOCK_SKIP") or ())
    unknown = skip - {job.name for job in SCHEDULE}
    if unknown:
        raise RuntimeError(
            f"CLOCK_SKIP names no periodic job: {', '.join(sorted(unknown))} "
            f"(the jobs: {', '.join(job.name for job in SCHEDULE)})"
        )
    return tuple(job for job in SCHEDULE if job.name not in skip)


def tick(now: datetime) -> list[str]:
    """Enqueue every job whose slot is free; returns the names enqueued."""
    conn = redis_connection()
    enqueued = []
    for job in schedule():
        if job.every_setting and current_app.config.get(job.every_setting):
            job = replace(job, every_seconds=int(current_app.config[job.every_setting]))
        slot = job.slot(now)
        if slot and conn.set(slot[0], now.isoformat(), nx=True, ex=slot[1]):
            enqueue(job.name)
            enqueued.append(job.name)
    return enqueued


def run_forever(interval: float = 1.0) -> None:
    jobs = schedule()
    left_out = [job.name for job in SCHEDULE if job not in jobs]
    log.info(
        "clock started: %s%s",
        ", ".join(job.name for job in jobs),
        f" (left out by CLOCK_SKIP: {', '.join(left_out)})" if left_out else "",
    )
    while True:
        try:
            tick(utcnow())
        except RedisError as exc:
            log.warning("clock tick skipped, Redis unavailable: %s", exc)
        time.sleep(interval)
