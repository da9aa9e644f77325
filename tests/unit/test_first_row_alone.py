"""The signature's statement sent alone to the driver (``campaign.dbutil.first_row_alone``): a
database that refuses a new connection is an outage, raised as SQLAlchemy raises it."""

from __future__ import annotations

from sqlalchemy import create_engine
from sqlalchemy.exc import OperationalError

from campaign import dbutil
from campaign.errors import OUTAGES
from tests.backends import create_pg_database


def test_a_database_that_refuses_the_connection_is_an_outage_as_sqlalchemy_raises_it():
    gone = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        dbutil.first_row_alone(gone, "SELECT 1", {})
    except OperationalError as exc:  # SQLAlchemy's, which the app answers with its 503 page
        assert isinstance(exc, OUTAGES) and "127.0.0.1" in str(exc)
    else:
        raise AssertionError("a refused connection raised nothing")
    finally:
        gone.dispose()


def test_the_statement_alone_gives_its_first_row_and_returns_its_connection(postgres_server_url):
    engine = create_engine(create_pg_database(postgres_server_url, "groundswell_alone"))
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE signed (k text PRIMARY KEY)")
        sql = "INSERT INTO signed (k) VALUES (%(k)s) ON CONFLICT DO NOTHING RETURNING k"
        assert dbutil.first_row_alone(engine, sql, {"k": "alone"}) == ("alone",)
        assert dbutil.first_row_alone(engine, sql, {"k": "alone"}) is None  # there already
        assert engine.pool.checkedout() == 0
        with engine.connect() as conn:  # committed, and the pooled connection not left in autocommit
            assert conn.exec_driver_sql("SELECT count(*) FROM signed").scalar() == 1
            assert conn.connection.driver_connection.autocommit is False
    finally:
        engine.dispose()
