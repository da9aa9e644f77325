"""The browser lane: one Chromium per test process, one live server per test process.

- ``browser`` is Debian's Chromium, in its headless shell (Chromium's old headless mode, about
  half the processor time of the full browser run headless), driven by Playwright and
  launched once per process (each test opens contexts of its own, which share nothing:
  cookies, storage, viewport).
- ``live_app`` is the app on SQLite served by a real HTTP server in a thread. The server, its
  app and its schema are made once per process; each test gets an empty database, an empty
  Redis, its own instance folder, outbox and storage under ``tmp_path``, and the app's
  settings back as they were when it ends (the same isolation as the ``app`` fixture).
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from pathlib import Path

import pytest
import redis
from werkzeug.serving import make_server

from campaign.extensions import db
from tests.backends import Database, closing_every_response, limiter_state, make_test_app, restore_limiter

CHROMIUM = "/usr/bin/chromium-headless-shell"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs it (package chromium-headless-shell).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory, redis_url):
    """``(app, base_url, database, limiter state)``: the session's app on SQLite behind a real
    HTTP server."""
    folder = tmp_path_factory.mktemp("live")
    server = make_server("127.0.0.1", 0, None, threaded=True)
    base_url = f"http://127.0.0.1:{server.port}"
    database = Database("sqlite", f"sqlite:///{folder / 'browser.db'}")
    app = make_test_app(database.url, redis_url, folder, PUBLIC_URL=base_url)
    server.app = closing_every_response(app)
    limits = limiter_state()
    with app.app_context():
        database.prepare()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, base_url, database, limits
    server.shutdown()
    server.server_close()
    with app.app_context():
        db.engine.dispose()


@contextlib.contextmanager
def _emptied(live_server, folder: Path, redis_url: str):
    """The live server's app with an empty database and Redis and its own folders under
    ``folder``, inside an app context; emptied again and its settings put back at the end."""
    app, base_url, database, limits = live_server
    restore_limiter(limits)
    settings = dict(app.config)
    instance = folder / "instance"
    instance.mkdir()
    app.instance_path = str(instance)
    app.config.update(
        SECRET_KEY="test-secret-" + uuid.uuid4().hex,
        MAIL_URL=f"file://{folder / 'outbox'}",
        DELIVERY_STORAGE=str(instance / "deliveries"),
        MEDIA_STORAGE=str(instance / "media"),
    )
    redis.Redis.from_url(redis_url).flushdb()
    try:
        with app.app_context():
            yield app, base_url
            db.session.remove()
            database.clean()
    finally:
        app.config.clear()
        app.config.update(settings)


@pytest.fixture
def live_app(live_server, tmp_path, redis_url):
    """``(app, base_url)``: the live server's app, emptied for this test, inside an app context
    (for factories; call ``db.session.remove()`` before the browser writes). The outbox is
    ``tmp_path / "outbox"``."""
    with _emptied(live_server, tmp_path, redis_url) as live:
        yield live


@pytest.fixture(scope="module")
def live_module_app(live_server, tmp_path_factory, redis_url):
    """The same, emptied for a module whose tests share one world (seeded once)."""
    with _emptied(live_server, tmp_path_factory.mktemp("module"), redis_url) as live:
        yield live
