"""A gevent worker's statements that stand alone committed together
(``campaign.dbutil.JoinedStatements``), run in a process patched for gevent as the bench's and
production's gevent workers are, against the suite's real PostgreSQL: each request gets the
row, or the error, it would have had alone, and nothing is half-written."""

from __future__ import annotations

import subprocess
import sys

from tests.backends import create_pg_database

CHECK = r"""
import sys

from gevent import monkey

monkey.patch_all()
import gevent
import psycopg
from sqlalchemy import create_engine
from sqlalchemy.exc import DBAPIError, OperationalError

from campaign import dbutil

URL = sys.argv[1]
INSERT = "INSERT INTO signed (k) VALUES (%(k)s) ON CONFLICT DO NOTHING RETURNING k"


class Counted(dbutil.JoinedStatements):
    together: list[int] = []

    def _together(self, statements):
        self.together.append(len(statements))
        return super()._together(statements)


def at_once(joined, keys):
    '''Each statement from a greenlet of its own, all started at once: their rows or errors.'''

    def one(key):
        try:
            return joined.first_row(INSERT, {"k": key})
        except Exception as exc:  # what this request alone was told
            return exc

    greenlets = [gevent.spawn(one, key) for key in keys]
    gevent.joinall(greenlets, raise_error=True)
    return [g.value for g in greenlets]


def stored():
    with psycopg.connect(URL.replace("+psycopg", "")) as conn:
        return sorted(k for (k,) in conn.execute("SELECT k FROM signed"))


engine = create_engine(URL, pool_size=4)
with engine.begin() as conn:
    conn.exec_driver_sql("CREATE TABLE signed (k varchar(3) PRIMARY KEY)")
joined = Counted(engine)

# Eight requests at once: one transaction, each its own row.
rows = at_once(joined, [f"a{i}" for i in range(8)])
assert rows == [(f"a{i}",) for i in range(8)], rows
assert Counted.together == [8], Counted.together
assert stored() == [f"a{i}" for i in range(8)]

# The same key twice in one transaction: the second finds the first, as it would a moment later.
Counted.together.clear()
rows = at_once(joined, ["b1", "b1", "a0"])
assert rows == [("b1",), None, None], rows
assert Counted.together == [3], Counted.together

# One statement fails (too long): the transaction is undone and each is sent again alone,
# the one that fails gets its own error, as SQLAlchemy raises it; the others are stored.
Counted.together.clear()
rows = at_once(joined, ["c1", "much too long", "c2"])
assert rows[0] == ("c1",) and rows[2] == ("c2",), rows
assert isinstance(rows[1], DBAPIError) and "too long" in str(rows[1]), rows
assert Counted.together == [3], Counted.together
assert stored() == sorted([f"a{i}" for i in range(8)] + ["b1", "c1", "c2"])

# The pool is whole: every connection back, none left in a transaction.
assert engine.pool.checkedout() == 0, engine.pool.status()

# The database gone: each request is told, as alone (SQLAlchemy's OperationalError).
gone = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none", pool_size=2)
rows = at_once(dbutil.JoinedStatements(gone), ["d1", "d2"])
assert all(isinstance(r, OperationalError) for r in rows), rows

# first_row_alone(joined=True) takes this path under gevent: one JoinedStatements an engine.
assert dbutil.first_row_alone(engine, INSERT, {"k": "e1"}, joined=True) == ("e1",)
assert isinstance(dbutil._joined[engine], dbutil.JoinedStatements)
print("ok")
"""


def test_statements_of_a_gevent_worker_commit_together_and_keep_their_own_answers(postgres_server_url):
    url = create_pg_database(postgres_server_url, "groundswell_joined")
    done = subprocess.run([sys.executable, "-c", CHECK, url], capture_output=True, text=True, timeout=100)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


def test_without_gevent_a_joined_statement_is_sent_alone(postgres_server_url):
    from sqlalchemy import create_engine

    from campaign import dbutil

    engine = create_engine(create_pg_database(postgres_server_url, "groundswell_joined_alone"))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE signed (k text PRIMARY KEY)")
        sql = "INSERT INTO signed (k) VALUES (%(k)s) ON CONFLICT DO NOTHING RETURNING k"
        assert dbutil.first_row_alone(engine, sql, {"k": "alone"}, joined=True) == ("alone",)
        assert dbutil.first_row_alone(engine, sql, {"k": "alone"}, joined=True) is None
        assert engine not in dbutil._joined
    finally:
        engine.dispose()


def test_a_database_that_refuses_the_connection_is_an_outage_as_sqlalchemy_raises_it():
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from campaign import dbutil
    from campaign.errors import OUTAGES

    gone = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        dbutil.first_row_alone(gone, "SELECT 1", {})
    except OperationalError as exc:  # SQLAlchemy's, which the app answers with its 503 page
        assert isinstance(exc, OUTAGES) and "127.0.0.1" in str(exc)
    else:
        raise AssertionError("a refused connection raised nothing")
    finally:
        gone.dispose()
