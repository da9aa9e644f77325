"""Redis connection and RQ queues. Jobs get ids, never objects; they are enqueued by kind
through :mod:`campaign.outbox`, after the commit that justifies them."""

from __future__ import annotations

import sys

from flask import current_app
from redis import Redis
from redis.exceptions import NoScriptError
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


def run_script(name: str, source: str, keys: list = (), args: list = (), joined: bool = False):
    """Run the Lua script ``source`` on the app's Redis (registered once per app under
    ``name``, then sent by its SHA: one round trip). ``joined``: in a gevent worker, the call
    may share its round trip with other requests' (:class:`JoinedScripts`)."""
    conn = redis_connection()
    script = current_app.extensions.get(f"groundswell.{name}_script")
    if script is None:
        script = current_app.extensions[f"groundswell.{name}_script"] = conn.register_script(source)
    if joined and gevent_patched():
        together = current_app.extensions.get("groundswell.joined_scripts")
        if together is None or together.client is not conn:
            together = current_app.extensions["groundswell.joined_scripts"] = JoinedScripts(conn)
        return together.call(script, list(keys), list(args))
    return script(keys=list(keys), args=list(args), client=conn)


def gevent_patched() -> bool:
    """Whether this process was patched for gevent (a gevent worker's)."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and monkey.is_module_patched("socket")


class JoinedScripts:
    """Lua script calls of one gevent worker's requests, sent together: each call waits while
    the calls the other requests make before gevent's loop next turns join it, then one
    pipeline (one round trip) carries them all and each request gets its own reply, or its
    own error, as if it had sent its call alone.

    A round trip costs a gevent worker more CPU than the script it carries (the socket's
    send, the wait handed to gevent's loop, the wake-up and the reply read: 40 µs of a
    signature's CPU for a PING), and a surge of signatures makes one each. Several waiting
    at once share one. A script the server does not have (restarted, failed over) is loaded
    and its call sent again alone, as redis-py's ``Script`` does; an error of the
    connection reaches every call of the pipeline, as it would have reached each alone."""

    def __init__(self, client: Redis) -> None:
        self.client = client
        self._waiting: list[tuple] = []

    def call(self, script, keys: list, args: list):
        from gevent import spawn
        from gevent.event import AsyncResult

        reply = AsyncResult()
        self._waiting.append((script, keys, args, reply))
        if len(self._waiting) == 1:  # the first since the last send: it sends them all
            spawn(self._send)
        return reply.get()

    def _send(self) -> None:
        calls, self._waiting = self._waiting, []
        if len(calls) == 1:  # alone after all: sent as alone, without a pipeline's own cost
            self._alone(*calls[0])
            return
        try:
            pipe = self.client.pipeline(transaction=False)
            for script, keys, args, _reply in calls:
                pipe.evalsha(script.sha, len(keys), *keys, *args)
            replies = pipe.execute(raise_on_error=False)
        except BaseException as exc:
            for *_, reply in calls:
                reply.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (script, keys, args, reply), answer in zip(calls, replies, strict=True):
            if isinstance(answer, NoScriptError):
                self._alone(script, keys, args, reply)
            elif isinstance(answer, Exception):
                reply.set_exception(answer)
            else:
                reply.set(answer)

    def _alone(self, script, keys: list, args: list, reply) -> None:
        """One call sent by itself through redis-py's ``Script`` (which loads a script the
        server lost), its reply or error given to its caller."""
        try:
            reply.set(script(keys=keys, args=args, client=self.client))
        except BaseException as exc:
            reply.set_exception(exc)
            if not isinstance(exc, Exception):
                raise


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
