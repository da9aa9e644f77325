"""An outage of the database or Redis is a 503 with a clear page (or JSON), never a 500, and
signing keeps working while only Redis is away (the database is the truth)."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import func, select

from campaign.extensions import db
from campaign.models import CampaignKind, Support
from tests.backends import make_test_app
from tests.factories import make_campaign
from tests.helpers import post_form


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def app_without_database(tmp_path, redis_url):
    url = f"postgresql+psycopg://nobody@127.0.0.1:{closed_port()}/groundswell?connect_timeout=2"
    app = make_test_app(url, redis_url, tmp_path)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def test_a_page_is_503_with_retry_after_when_the_database_is_unreachable(app_without_database):
    response = app_without_database.test_client().get("/campaigns/")
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.headers["Cache-Control"] == "no-store"
    page = response.get_data(as_text=True)
    assert "Back in a moment" in page and "Nothing you sent was half-saved" in page
    assert "Traceback" not in page


def test_the_api_answers_503_in_json_when_the_database_is_unreachable(app_without_database):
    response = app_without_database.test_client().get("/api/v1/campaigns")
    assert response.status_code == 503
    assert response.get_json()["error"] == {"status": 503, "message": "Back in a moment", "retry_after": 5}


def test_a_redis_outage_in_a_request_is_a_503(app):
    from redis.exceptions import ConnectionError as RedisConnectionError

    @app.route("/needs-redis")
    def needs_redis():
        raise RedisConnectionError("Error 111 connecting to redis. Connection refused.")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/needs-redis")
    assert response.status_code == 503
    assert "Back in a moment" in response.get_data(as_text=True)


def test_signing_works_while_redis_is_unreachable(database, tmp_path):
    """The rate limits fall back to memory and the enqueue is logged: the support is stored
    (the sweeper sends its confirmation once Redis is back)."""
    dead_redis = f"unix://{tmp_path / 'no-redis.sock'}"
    app = make_test_app(database.url_for_test(tmp_path), dead_redis, tmp_path, RATELIMIT_ENABLED=True)
    with app.app_context():
        database.prepare()
        try:
            petition = make_campaign(CampaignKind.PETITION)
            db.session.commit()
            client = app.test_client()
            page = f"/petitions/{petition.slug}"
            response = post_form(
                client,
                f"{page}/support",
                {"name": "Ada Lovelace", "email": "ada@example.org", "country": "GB", "is_public": "y"},
                page=page,
            )
            assert response.status_code == 303
            stored = db.session.execute(
                select(func.count()).select_from(Support).filter_by(campaign_id=petition.id)
            ).scalar_one()
            assert stored == 1
        finally:
            db.session.remove()
            database.clean()
            db.engine.dispose()


def test_a_connection_the_database_dropped_does_not_fail_the_response(
    postgres_server_url, redis_url, tmp_path
):
    """PostgreSQL restarting after the view's work: the session's end cannot roll back on the
    dead connection, and must not turn the finished response into a 500."""
    import psycopg
    from sqlalchemy import text

    from tests.backends import create_pg_database

    app = make_test_app(create_pg_database(postgres_server_url, "groundswell_dropped"), redis_url, tmp_path)

    @app.route("/dropped")
    def dropped():
        pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()  # a transaction
        with psycopg.connect(postgres_server_url, autocommit=True) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [pid])
        return "done"

    response = app.test_client().get("/dropped")
    assert response.status_code == 200 and response.get_data(as_text=True) == "done"
    with app.app_context():
        db.engine.dispose()


def test_a_pooled_connection_is_pinged_only_when_it_may_have_gone(
    postgres_server_url, redis_url, tmp_path, monkeypatch
):
    """No round trip before each request's first statement (``pool_pre_ping`` made one):
    a connection used a moment ago is handed out as it is, unless the server ended it
    meanwhile (then it is replaced, and the request never sees it), and one idle longer
    than ``PING_AFTER_IDLE_SECONDS`` is pinged first."""
    import psycopg
    from sqlalchemy import text

    from campaign import dbutil
    from tests.backends import create_pg_database

    app = make_test_app(create_pg_database(postgres_server_url, "groundswell_pinged"), redis_url, tmp_path)

    @app.route("/pid")
    def pid():
        return str(db.session.execute(text("SELECT pg_backend_pid()")).scalar_one())

    client = app.test_client()
    with app.app_context():
        dialect = db.engine.dialect
    pings = []
    real_ping = dialect.do_ping
    monkeypatch.setattr(dialect, "do_ping", lambda conn: pings.append(conn) or real_ping(conn))
    try:
        backends = {client.get("/pid").get_data(as_text=True) for _ in range(5)}
        assert len(backends) == 1 and pings == []  # one pooled connection, never pinged

        with psycopg.connect(postgres_server_url, autocommit=True) as other:
            # Ended by the server (as a restart or failover ends them); waits until it is gone.
            assert other.execute("SELECT pg_terminate_backend(%s, 5000)", [int(*backends)]).fetchone()[0]
        answer = client.get("/pid")
        assert answer.status_code == 200 and answer.get_data(as_text=True) not in backends
        assert len(pings) == 1  # its socket said so: pinged, failed, replaced

        monkeypatch.setattr(dbutil, "PING_AFTER_IDLE_SECONDS", 0)
        again = client.get("/pid")
        assert again.get_data(as_text=True) == answer.get_data(as_text=True) and len(pings) == 2
    finally:
        with app.app_context():
            db.engine.dispose()


def test_a_statement_sent_alone_to_the_driver_fails_as_sqlalchemy_fails(
    postgres_server_url, redis_url, tmp_path
):
    """:func:`campaign.dbutil.first_row_alone` (a signature's statement, without SQLAlchemy's
    connection around it): a database gone mid-statement is SQLAlchemy's ``OperationalError``
    (the app's 503) and its connection is dropped, not pooled; a statement that fails leaves
    its connection pooled and usable; either way the pool gets its connections back as they
    came, out of autocommit."""
    from sqlalchemy import exc

    from campaign.dbutil import first_row_alone
    from tests.backends import create_pg_database

    app = make_test_app(create_pg_database(postgres_server_url, "groundswell_alone"), redis_url, tmp_path)
    with app.app_context():
        engine = db.engine
        try:
            (pid,) = first_row_alone(engine, "SELECT pg_backend_pid()", {})
            with engine.connect() as conn:  # the pool's one connection, handed back as it came
                assert conn.connection.dbapi_connection.autocommit is False
                assert conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() == pid

            with pytest.raises(exc.DataError):  # a statement's own failure, wrapped alike
                first_row_alone(engine, "SELECT 1 / %(zero)s", {"zero": 0})
            assert first_row_alone(engine, "SELECT pg_backend_pid()", {}) == (pid,)  # still pooled

            with pytest.raises(exc.OperationalError) as lost:  # the server ends it mid-statement
                first_row_alone(engine, "SELECT pg_terminate_backend(pg_backend_pid())", {})
            assert lost.value.connection_invalidated
            assert engine.pool.checkedout() == 0
            (replaced,) = first_row_alone(engine, "SELECT pg_backend_pid()", {})
            assert replaced != pid  # the dead one was not handed out again
            assert first_row_alone(engine, "SELECT 1 WHERE false", {}) is None
        finally:
            engine.dispose()


GEVENT_CHECKOUTS = """
import sys

from gevent import monkey

monkey.patch_all()
import sqlalchemy as sa

from campaign import dbutil

engine = sa.create_engine(sys.argv[1], pool_size=2)
dbutil.ping_when_in_doubt(engine)
pings = []
real_ping = engine.dialect.do_ping
engine.dialect.do_ping = lambda conn: pings.append(conn) or real_ping(conn)
for i in range(50):
    if i % 2:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1")).scalar_one()
            conn.commit()
    else:  # as the signing statement goes: alone, in autocommit, straight through the driver
        assert dbutil.first_row_alone(engine, "SELECT %(n)s", {"n": i}) == (i,)
print(len(pings))
"""


def test_a_gevent_worker_pings_no_pooled_connection_used_a_moment_ago(postgres_server_url, tmp_path):
    """In a gevent worker (as `make bench` and production choose), the check before use
    reads the socket with the system's poll: fifty checkouts of connections used a moment
    ago, through SQLAlchemy and alone through the driver, and not one ping."""
    import subprocess
    import sys

    from tests.backends import create_pg_database

    url = create_pg_database(postgres_server_url, "groundswell_gevent_pings")
    done = subprocess.run(
        [sys.executable, "-c", GEVENT_CHECKOUTS, url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
