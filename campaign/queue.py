"""Redis connection and RQ queues. Jobs get ids, never objects; they are enqueued by kind
through :mod:`campaign.outbox`, after the commit that justifies them."""

from __future__ import annotations

from flask import current_app
from redis import Redis
from redis.sentinel import Sentinel
from rq import Queue, Retry
from rq.serializers import JSONSerializer

#: Mail is retried with backoff: the worker runs the scheduler that requeues it.
MAIL_RETRY = Retry(max=5, interval=[10, 30, 120, 600, 1800])


def redis_connection() -> Redis:
    """The app's Redis client (one connection pool per app)."""
    conn = current_app.extensions.get("groundswell.redis")
    if conn is None:
        conn = connect_redis(current_app.config)
        current_app.extensions["groundswell.redis"] = conn
    return conn


def run_script(name: str, source: str, keys: list = (), args: list = ()):
    """Run the Lua script ``source`` on the app's Redis (registered once per app under
    ``name``, then sent by its SHA: one round trip)."""
    conn = redis_connection()
    script = current_app.extensions.get(f"groundswell.{name}_script")
    if script is None:
        script = current_app.extensions[f"groundswell.{name}_script"] = conn.register_script(source)
    return script(keys=list(keys), args=list(args), client=conn)


def connect_redis(config) -> Redis:
    """A client of ``REDIS_URL``, or of the primary the sentinels name (``REDIS_SENTINELS``,
    ``REDIS_SERVICE``): after a failover its pool asks the sentinels again and reconnects to
    the new primary, so the queue, the workers, the locks and the caches follow it."""
    if config.get("REDIS_SENTINELS"):
        sentinel = Sentinel(
            config["REDIS_SENTINELS"], socket_timeout=2, sentinel_kwargs={"socket_timeout": 2}
        )
        return sentinel.master_for(
            config["REDIS_SERVICE"], health_check_interval=30, socket_connect_timeout=2
        )
    return Redis.from_url(config["REDIS_URL"], health_check_interval=30)


def limiter_storage_uri(config) -> str:
    """The same Redis in the URI form of the ``limits`` package (Flask-Limiter's storage)."""
    if config.get("REDIS_SENTINELS"):
        hosts = ",".join(f"{host}:{port}" for host, port in config["REDIS_SENTINELS"])
        return f"redis+sentinel://{hosts}/{config['REDIS_SERVICE']}"
    url = config["REDIS_URL"]
    # limits names a Redis unix socket "redis+unix://"; redis-py calls it "unix://".
    return "redis+" + url if url.startswith("unix://") else url


def get_queue(name: str = "default") -> Queue:
    return Queue(name, connection=redis_connection(), serializer=JSONSerializer)
