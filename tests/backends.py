"""The real parts the fixtures are made of: a test app, its databases, a client that acts like
a browser. Plain functions and classes (the fixtures themselves are in the conftest.py files),
for the few tests that build an app of their own: a migrated database, an unreachable one, a
server that another process talks to."""

from __future__ import annotations

import atexit
import contextvars
import os
import shutil
import tempfile
import uuid
import weakref
from pathlib import Path

from flask import Config, Flask, has_app_context
from flask.testing import FlaskClient
from jinja2 import FileSystemBytecodeCache
from sqlalchemy import Integer

from campaign import create_app
from campaign.extensions import db
from campaign.models import Base
from campaign.models.search_index import WORD_LIST_TABLES


def worker_suffix() -> str:
    """``""`` or, under pytest-xdist, ``"_gw0"``…: names each worker keeps for itself."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    return f"_{worker}" if worker else ""


def process_folder(prefix: str) -> str:
    """A new temporary folder, removed when this process ends (a test process leaves none)."""
    folder = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, folder, True)
    return folder


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
                for name in WORD_LIST_TABLES["sqlite"]:
                    conn.exec_driver_sql(f"DELETE FROM {name}")


def _pg_empty_every_table() -> str:
    """SQL that deletes every row and restarts each table's id sequence at 1."""
    tables = Base.metadata.sorted_tables
    # The search's word list is no model's table: words of one test's titles would be
    # candidates for another's typos.
    deletes = [f'DELETE FROM "{t.name}"' for t in reversed(tables)]
    deletes += [f'DELETE FROM "{name}"' for name in WORD_LIST_TABLES["postgresql"]]
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


def _compiled_templates_folder() -> str:
    """The folder of compiled templates shared by every process of a test run. The first
    process makes it (and removes it when it ends); the processes it starts (pytest-xdist's
    workers, a job worker a test kills) find it in their environment, so one killed leaves
    no folder behind. Jinja writes each file whole (a temporary file, then a rename)."""
    folder = os.environ.get(_COMPILED_TEMPLATES_VARIABLE)
    if not folder or not os.path.isdir(folder):
        folder = os.environ[_COMPILED_TEMPLATES_VARIABLE] = process_folder("gs-jinja-")
    return folder


_COMPILED_TEMPLATES_VARIABLE = "GROUNDSWELL_TEST_COMPILED_TEMPLATES"

#: Compiled templates, kept for every app a test run builds: a session builds several (one
#: per backend and set of overrides), each with its own Jinja environment, and compiling the
#: templates again for each cost about a second per app.
_COMPILED_TEMPLATES = FileSystemBytecodeCache(_compiled_templates_folder())


def make_test_app(db_url: str, redis_url: str, tmp_path: Path, **overrides):
    """A testing app on ``db_url`` and ``redis_url``, with ``overrides`` applied to its settings
    before it is built. :func:`settings_read_when_built` tells which settings building it read."""
    config_class, Flask.config_class = Flask.config_class, _NotingConfig
    try:
        app = create_app(
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
    finally:
        Flask.config_class = config_class
    noted = app.config.noted
    _READ_WHEN_BUILT[app] = None if noted is None else frozenset(noted)
    app.config.__class__ = Config  # the noting ends with the build
    del app.config.noted
    app.jinja_env.bytecode_cache = _COMPILED_TEMPLATES
    return app


def settings_read_when_built(app) -> frozenset[str] | None:
    """The names of the settings that building ``app`` (by :func:`make_test_app`) read, or
    None when it went through all of them (then any may have been used).

    A setting the build did not read is used, if at all, when a request or a job runs: set
    on the built app, it acts as it would have had the app been built with it."""
    return _READ_WHEN_BUILT[app]


_READ_WHEN_BUILT: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class _NotingConfig(Config):
    """Settings that note the names read from them (``noted``; None once all were listed)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.noted: set[str] | None = set()

    def _note(self, key) -> None:
        if self.noted is not None:
            self.noted.add(key)

    def _note_all(self) -> None:
        self.noted = None

    def __getitem__(self, key):
        self._note(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self._note(key)
        return super().__contains__(key)

    def get(self, key, default=None):
        self._note(key)
        return super().get(key, default)

    def setdefault(self, key, default=None):
        self._note(key)
        return super().setdefault(key, default)

    def pop(self, key, *default):
        self._note(key)
        return super().pop(key, *default)

    def __iter__(self):
        self._note_all()
        return super().__iter__()

    def keys(self):
        self._note_all()
        return super().keys()

    def values(self):
        self._note_all()
        return super().values()

    def items(self):
        self._note_all()
        return super().items()

    def copy(self):
        self._note_all()
        return super().copy()

    def get_namespace(self, *args, **kwargs):
        self._note_all()
        return super().get_namespace(*args, **kwargs)


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


#: What ``limiter.init_app`` sets on the one Flask-Limiter object every app shares.
_LIMITER_STATE = ("enabled", "_storage", "_limiter")


def limiter_state() -> dict:
    """The Flask-Limiter state the last app built left (call right after building an app)."""
    from campaign.extensions import limiter

    return {name: getattr(limiter, name, None) for name in _LIMITER_STATE}


def restore_limiter(state: dict) -> None:
    """Put back the Flask-Limiter state of an app built earlier (another app built since,
    or a test's own app, changed it for every app of the process)."""
    from campaign.extensions import limiter

    for name, value in state.items():
        setattr(limiter, name, value)


def closing_every_response(app):
    """``app`` as a WSGI callable for a live server, whose responses are closed even when the
    browser drops the connection. werkzeug's server then reads what is left of the request,
    which raises on a reset connection, and never closes the response: a static file stayed
    open, and its ResourceWarning failed whichever test was running. Here the response is
    closed when werkzeug lets go of this generator."""

    def wsgi(environ, start_response):
        response = app(environ, start_response)
        try:
            yield from response
        finally:
            if hasattr(response, "close"):
                response.close()

    return wsgi
