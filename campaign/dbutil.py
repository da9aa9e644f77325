"""Statements that differ by backend (inserts that may collide on a unique constraint), and
the check of a pooled PostgreSQL connection before use."""

from __future__ import annotations

import select
import time

from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InvalidatePoolError

from campaign.extensions import db


def insert_ignoring_conflicts(model, index_elements: list[str], **values):
    """``INSERT … ON CONFLICT (index_elements) DO NOTHING RETURNING id`` for the session's backend.

    Returns the new row's id, or None when a row with the same key already exists. The
    database decides, so two concurrent inserts can never both succeed.
    """
    dialect = db.session.get_bind().dialect.name
    key = (model, dialect, tuple(index_elements), tuple(values))
    stmt = _inserts.get(key)
    if stmt is None:
        # Built once per model and set of columns, the values passed as parameters: building
        # the statement around each row's values was most of a signature's insert.
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(model.__table__)
            .on_conflict_do_nothing(index_elements=index_elements)
            .returning(model.__table__.c.id)
        )
        _inserts[key] = stmt
    return db.session.execute(stmt, values).scalar()


_inserts: dict[tuple, object] = {}


def session_in_transaction() -> bool:
    """Whether this context's session has begun a transaction: False when the context has
    no session yet, without making one to ask (a signature that writes alone needs none)."""
    return db.session.registry.has() and db.session().in_transaction()


def upsert_add(model, index_elements: list[str], column: str, amount: int, **key):
    """``INSERT … ON CONFLICT DO UPDATE SET column = column + amount`` (a counter upsert)."""
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(model).values(**key, **{column: amount})
    stmt = stmt.on_conflict_do_update(
        index_elements=index_elements,
        set_={column: getattr(model, column) + stmt.excluded[column]},
    )
    db.session.execute(stmt)


#: A pooled PostgreSQL connection unused for longer than this is pinged (one round trip)
#: before it is handed out; one used more recently only when its socket has something to
#: read. See :func:`ping_when_in_doubt`.
PING_AFTER_IDLE_SECONDS = 1.0
_IDLE_SINCE = "groundswell.idle_since"


def ping_when_in_doubt(engine) -> None:
    """Check a pooled connection before use only when it may have gone: SQLAlchemy's
    ``pool_pre_ping`` instead pings on every checkout, a round trip per request (6% of a
    signature's CPU under a surge, and its wait).

    A connection is pinged when it was idle longer than :data:`PING_AFTER_IDLE_SECONDS`,
    when psycopg knows it is closed or broken, or when its socket can be read (an idle
    connection gets nothing from the server unless it went away: a restart, a failover, a
    killed backend close the socket, or send their last message first). A failed ping
    raises ``InvalidatePoolError``, as ``pool_pre_ping`` does: the connection is replaced,
    and every other connection older than it is replaced at its next checkout. A server
    that vanishes without closing its sockets (a cut network) is found by the statement
    itself, as a ping would have been: its error is the same either way.
    """

    @event.listens_for(engine, "connect")
    def connected(dbapi_connection, record):
        record.info[_IDLE_SINCE] = time.monotonic()  # fresh: known to be there

    @event.listens_for(engine, "checkin")
    def checked_in(dbapi_connection, record):
        if dbapi_connection is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection, record, _proxy):
        idle_since = record.info.pop(_IDLE_SINCE, None)
        if (
            idle_since is not None
            and time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS
            and not (dbapi_connection.closed or dbapi_connection.broken)
            and not _readable(dbapi_connection.fileno())
        ):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure of "SELECT 1" leaves the connection unusable
            raise InvalidatePoolError(f"ping before use failed: {exc}") from exc


def _readable(fd: int) -> bool:
    """Whether ``fd`` has something to read (or was closed), without waiting. ``poll``, not
    ``select``: a busy process's sockets may be numbered past ``select``'s 1,024."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
