"""Redis connection and RQ queues. Jobs get ids, never objects, and are enqueued after commit."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry
from rq.serializers import JSONSerializer

log = logging.getLogger(__name__)

#: Mail is retried with backoff: the worker runs the scheduler that requeues it.
MAIL_RETRY = Retry(max=5, interval=[10, 30, 120, 600, 1800])


def redis_connection() -> Redis:
    """The app's Redis client (one connection pool per app)."""
    conn = current_app.extensions.get("groundswell.redis")
    if conn is None:
        conn = Redis.from_url(current_app.config["REDIS_URL"], health_check_interval=30)
        current_app.extensions["groundswell.redis"] = conn
    return conn


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_connection(), serializer=JSONSerializer)


def enqueue(func: Callable, *args, queue: str = "default", job_id: str | None = None, **options):
    """Enqueue ``func(*args)``; call only after the commit that justifies the job.

    If Redis cannot be reached the data is already safe in the database; the failure is
    logged (not raised) so the person's request still succeeds, and the sweeper or a
    "send again" button recovers the job.
    """
    options.setdefault("retry", MAIL_RETRY)
    try:
        return get_queue(queue).enqueue(func, *args, job_id=job_id, **options)
    except RedisError:
        log.exception("could not enqueue %s%r", func.__qualname__, args)
        return None
