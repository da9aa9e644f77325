"""Statements that differ by backend (inserts that may collide on a unique constraint), the
check of a pooled PostgreSQL connection before use, and one statement sent alone to the
driver (the hottest write's)."""

from __future__ import annotations

import functools
import select
import sys
import time

from sqlalchemy import ARRAY, Date, Integer, any_, cast, event, func
from sqlalchemy import select as sql_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InvalidatePoolError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from campaign.extensions import db


def insert_for(dialect: str):
    """The ``insert`` of ``dialect`` (PostgreSQL's or SQLite's), which takes ``ON CONFLICT``."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


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
        stmt = (
            insert_for(dialect)(model.__table__)
            .on_conflict_do_nothing(index_elements=index_elements)
            .returning(model.__table__.c.id)
        )
        _inserts[key] = stmt
    return db.session.execute(stmt, values).scalar()


_inserts: dict[tuple, object] = {}


def id_among(column, ids):
    """``column`` is one of the ids ``ids`` (a subquery's column) selects: on PostgreSQL
    ``column = ANY(the ids as one array)``, the subquery run once before an index scan of
    ``column``, whatever the planner believes of the tables' sizes (as a join or ``IN``, a
    planner with stale statistics walked every row of ``column``'s table looking each up);
    elsewhere ``column IN (…)``."""
    if db.session.get_bind().dialect.name != "postgresql":
        return column.in_(sql_select(ids))
    # (Cast: ``= ANY (SELECT …)`` would compare each row, not the one array.)
    return column == any_(cast(sql_select(func.array_agg(ids)).scalar_subquery(), ARRAY(Integer)))


class utc_day(FunctionElement):  # noqa: N801 - a SQL function, named as SQL names them
    """The UTC day of an aware timestamp column, as a date (:func:`campaign.models.day_of`
    in SQL): PostgreSQL's ``date()`` of a ``timestamptz`` reads it in the session's time
    zone; SQLite keeps UTC text."""

    type = Date()
    inherit_cache = True
    name = "utc_day"


@compiles(utc_day, "postgresql")
def _utc_day_postgresql(element, compiler, **kw) -> str:
    return f"(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC')::date"


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element, compiler, **kw) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


def session_in_transaction() -> bool:
    """Whether this context's session has begun a transaction: False when the context has
    no session yet, without making one to ask (a signature that writes alone needs none)."""
    return db.session.registry.has() and db.session().in_transaction()


def upsert_add(model, index_elements: list[str], column: str, amount: int, **key):
    """``INSERT … ON CONFLICT DO UPDATE SET column = column + amount`` (a counter upsert)."""
    stmt = insert_for(db.session.get_bind().dialect.name)(model).values(**key, **{column: amount})
    stmt = stmt.on_conflict_do_update(
        index_elements=index_elements,
        set_={column: getattr(model, column) + stmt.excluded[column]},
    )
    db.session.execute(stmt)


def upsert(model, index_elements: list[str], set_: dict, **values) -> None:
    """``INSERT … ON CONFLICT (index_elements) DO UPDATE SET set_`` for the session's backend."""
    insert = insert_for(db.session.get_bind().dialect.name)
    db.session.execute(
        insert(model).values(**values).on_conflict_do_update(index_elements=index_elements, set_=set_)
    )


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
    poller = _os_poll()()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


@functools.cache
def _os_poll():
    """The operating system's ``poll``, even in a gevent worker: there gevent's monkey-patching
    makes ``select.poll`` a cooperative copy, which for a poll that never waits starts a
    watcher for each descriptor and hands over to gevent's loop (10 µs, and other requests
    run meanwhile) where the system call takes half a microsecond. Kept once found: before
    any patch ``select.poll`` is the system's, and after one gevent keeps the original."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey.get_original("select", "poll") if monkey is not None else select.poll


def first_row_alone(engine, sql: str, values: dict) -> tuple | None:
    """Run ``sql`` (in the driver's own form, with ``values`` converted already) by itself in
    autocommit on a pooled PostgreSQL connection of ``engine``, straight through the driver:
    its first row, or None.

    For a signature, the site's hottest write, whose one statement is atomic by itself:
    SQLAlchemy's ``Connection`` around it (its execution context, its result, its events)
    cost a tenth of a millisecond of CPU per signature. What the ``Connection`` does that
    matters is kept. The connection is checked out of the engine's pool (pinged there when
    in doubt) and returned to it as it came (not in autocommit). A driver error is raised as
    SQLAlchemy raises it (``sqlalchemy.exc.OperationalError`` for a database gone: the app's
    503 page). A connection lost is invalidated, not returned: the pool's other connections
    to a server that went away are found at their checkout, whose ping replaces them all
    (:func:`ping_when_in_doubt`). The engine's cursor events do not see the statement.
    """
    dialect = engine.dialect
    error = dialect.loaded_dbapi.Error
    try:
        pooled = engine.raw_connection()
    except error as exc:  # a new connection refused: raised as the engine's connect() raises it
        raise DBAPIError.instance(sql, values, exc, error, dialect=dialect) from exc
    driver = pooled.driver_connection
    cursor = None
    try:
        driver.autocommit = True
        cursor = driver.cursor()
        cursor.execute(sql, values)
        row = cursor.fetchone()
        cursor.close()
        driver.autocommit = False
        return row
    except error as exc:
        lost = dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
        if lost or driver.broken:
            pooled.invalidate(exc)
        else:
            driver.autocommit = False  # nothing is begun in autocommit: the pool may have it back
        wrapped = DBAPIError.instance(sql, values, exc, error, connection_invalidated=lost, dialect=dialect)
        raise wrapped from exc
    except BaseException:  # interrupted (a worker's timeout): it is not known what was sent
        pooled.invalidate()
        raise
    finally:
        pooled.close()
