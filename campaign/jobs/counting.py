"""Jobs that keep counts exact: the fold of pending deltas, the nightly recount, momentum."""

from __future__ import annotations

import logging

from flask import current_app
from redis.exceptions import LockError, RedisError

from campaign.jobs import app_job
from campaign.outbox import FOLD_REQUESTED
from campaign.queue import redis_connection
from campaign.services import counting

log = logging.getLogger(__name__)

FOLD_LOCK = "groundswell:lock:fold-counts"
#: The fold lock lapses this soon after a worker folding died (and is renewed per batch).
FOLD_LOCK_SECONDS = 30


@app_job
def fold_counts_job() -> int:
    """Fold every pending delta (singleton: a Redis lock keeps two from working at once).

    Correctness does not rest on the lock: each delta is deleted and applied in one
    transaction; the milestones and met conditions a fold records are enqueued by the
    outbox when it commits. Returns deltas folded.
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
            folded = counting.fold_counts()  # its commit enqueues the notices it owes
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


@app_job
def recount_job() -> int:
    """The nightly exact recount; returns how many campaigns had drifted."""
    lock = redis_connection().lock(FOLD_LOCK, timeout=3600, blocking_timeout=60)
    with lock:
        return len(counting.recount())


@app_job
def refresh_momentum_job() -> int:
    """Re-base momentum on the last days' counts; returns how many campaigns changed. Holds
    the fold lock (a fold between its read and its write would be undone)."""
    lock = redis_connection().lock(FOLD_LOCK, timeout=FOLD_LOCK_SECONDS, blocking_timeout=60)
    with lock:
        return counting.refresh_momentum()
