"""Reads from a PostgreSQL streaming replica, with bounded staleness.

With ``DATABASE_REPLICA_URL`` set, the GET requests that only show public state (the public
pages, the API, ``count.json``) run their SELECTs on the replica; everything else, and every
write, goes to the primary. Three rules keep what people see right:

- A replica lagging more than ``REPLICA_MAX_LAG_SECONDS`` behind (or not answering) is
  skipped: each web process asks it at most once a second, and reads the primary meanwhile.
- What a person just did is read from the primary: any request that changes something sets
  a short-lived cookie (``REPLICA_READ_YOUR_WRITES_SECONDS``, longer than the lag bound), and
  while it is there that browser reads the primary, on whichever app host it lands.
- A session that has written anything in this request reads the primary from then on.
"""

from __future__ import annotations

import logging
import threading
import time
from contextvars import ContextVar

from flask import Flask, g, request
from flask_sqlalchemy.session import Session
from sqlalchemy import Select, event, text
from sqlalchemy.exc import DBAPIError

from campaign.kinds import KINDS

log = logging.getLogger(__name__)

REPLICA = "replica"
FRESH_COOKIE = "gs_fresh"
#: Set for the requests that may read the replica (see :func:`register`).
READ_REPLICA: ContextVar[bool] = ContextVar("read_replica", default=False)

_KIND_BLUEPRINTS = {kind.name for kind in KINDS.values()}
_PUBLIC_ENDPOINTS = {"main.home", "main.victories", "campaigns.browse", "brands.index", "brands.show"}

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def may_read_replica(endpoint: str | None) -> bool:
    """Whether a GET of ``endpoint`` shows only public state a replica can serve."""
    if not endpoint:
        return False
    blueprint, _, view = endpoint.partition(".")
    return (
        blueprint == "api"
        or endpoint in _PUBLIC_ENDPOINTS
        or (blueprint in _KIND_BLUEPRINTS and view in {"show", "count_json"})
    )


class RoutingSession(Session):
    """Flask-SQLAlchemy's session, sending a read-only request's SELECTs to the replica."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        if (
            bind is None
            and READ_REPLICA.get()
            and not self._flushing
            and not self.info.get("wrote")
            and isinstance(clause, Select)
        ):
            engine = self._db.engines.get(REPLICA)
            if engine is not None and _lag.fresh(engine):
                return engine
        return super().get_bind(mapper=mapper, clause=clause, bind=bind, **kwargs)


@event.listens_for(RoutingSession, "after_flush")
def _remember_write(session, _flush_context):
    # Kept until the session is removed at the end of the request, across its commits.
    session.info["wrote"] = True


class _LagCheck:
    """Whether the replica is within the lag bound, asked at most once a second per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._checked_at = 0.0
        self._fresh = False
        self.max_lag = 5.0
        self.last_lag: float | None = None

    def fresh(self, engine) -> bool:
        now = time.monotonic()
        if now - self._checked_at < 1.0:
            return self._fresh
        with self._lock:
            if now - self._checked_at >= 1.0:
                self._fresh = self._ask(engine)
                self._checked_at = time.monotonic()
        return self._fresh

    def _ask(self, engine) -> bool:
        try:
            lag = replica_lag(engine)
        except DBAPIError:
            log.warning("the replica does not answer; reading the primary")
            self.last_lag = None
            return False
        self.last_lag = lag
        return lag is not None and lag <= self.max_lag

    def reset(self) -> None:
        self._checked_at = 0.0


_lag = _LagCheck()


def replica_lag(engine) -> float | None:
    """Seconds the replica is behind its primary (0 when it has replayed all it received);
    None when the server is not a replica (a promoted one, say)."""
    with engine.connect() as conn:
        row = conn.execute(
            text(
                "SELECT pg_is_in_recovery(), "
                "pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), "
                "EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())"
            )
        ).one()
    in_recovery, caught_up, behind = row
    if not in_recovery:
        return None
    if caught_up or behind is None:
        return 0.0
    return max(0.0, float(behind))


def remember_write(response, config) -> None:
    """Send the browser that wrote to the primary only, for a while (when a replica is set:
    also for a write answered before Flask, :mod:`campaign.supports.sign_lane`)."""
    if config.get("DATABASE_REPLICA_URL"):
        response.set_cookie(
            FRESH_COOKIE,
            "1",
            max_age=int(config["REPLICA_READ_YOUR_WRITES_SECONDS"]),
            httponly=True,
            samesite="Lax",
            secure=config.get("SESSION_COOKIE_SECURE", False),
        )


def register(app: Flask) -> None:
    """Route public reads to the replica when one is configured."""
    if not app.config.get("DATABASE_REPLICA_URL"):
        return
    _lag.max_lag = float(app.config["REPLICA_MAX_LAG_SECONDS"])

    @app.before_request
    def choose_replica():
        if (
            request.method in _SAFE_METHODS
            and FRESH_COOKIE not in request.cookies
            and may_read_replica(request.endpoint)
        ):
            g.replica_token = READ_REPLICA.set(True)

    @app.after_request
    def remember_writes(response):
        if request.method not in _SAFE_METHODS and response.status_code < 400:
            remember_write(response, app.config)
        return response

    @app.teardown_request
    def end_replica(_exc):
        token = g.pop("replica_token", None)
        if token is not None:
            READ_REPLICA.reset(token)
