"""Groundswell: collective-action campaigns. ``create_app`` builds the Flask application."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from pathlib import Path

from flask import Flask, g
from flask_babel import lazy_gettext
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import joinedload
from werkzeug.middleware.proxy_fix import ProxyFix

from campaign import replica
from campaign.config import ROOT, config_class, load_environment, sqlalchemy_url
from campaign.dbutil import ping_when_in_doubt
from campaign.extensions import check_limits_in_views_only, csrf, db, limiter, login_manager, migrate
from campaign.queue import limiter_storage_uri
from campaign.sessions import SignedCookieSessionInterface


def create_app(config: str | Mapping | None = None) -> Flask:
    """Build the app.

    ``config`` is a config name (``development``, ``testing``, ``production``) or a mapping of
    settings applied over the class chosen by ``GROUNDSWELL_ENV`` (or by the mapping's own
    ``ENV_NAME``). Never migrates, seeds or touches the network.
    """
    overrides = dict(config) if isinstance(config, Mapping) else {}
    name = config if isinstance(config, str) else overrides.get("ENV_NAME")
    app = Flask(
        __name__,
        instance_path=(
            overrides.pop("INSTANCE_PATH", None)
            or os.environ.get("GROUNDSWELL_INSTANCE")
            or str(ROOT / "instance")
        ),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    cls = config_class(name)
    app.config.from_object(cls)
    load_environment(app)
    app.config.update(overrides)
    cls().finalise(app)
    app.session_interface = SignedCookieSessionInterface()
    # Imported when an app is built: importing any campaign module runs this package first.
    from campaign import signing

    signing.init_app(app)

    from campaign.hot_count import HotCountMiddleware

    app.wsgi_app = HotCountMiddleware(app, app.wsgi_app)  # inside ProxyFix: it sees the real host
    from campaign.supports.lane import ConfirmLane

    app.wsgi_app = ConfirmLane(app, app.wsgi_app)  # the same
    from campaign.supports.sign_lane import SignLane

    app.wsgi_app = SignLane(app, app.wsgi_app)  # the same
    if app.config["PROXY_FIX"]:
        hops = app.config["PROXY_FIX"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    register_extensions(app)
    from campaign.converters import register_converters

    register_converters(app)  # before any route is added
    register_blueprints(app)
    check_limits_in_views_only(app)  # every view's limits known by now
    register_template_helpers(app)
    from campaign import errors, i18n, security
    from campaign.cli import register_cli

    i18n.register(app)
    errors.register(app)
    security.register(app)
    register_cli(app)
    return app


def register_extensions(app: Flask) -> None:
    if app.config.get("DATABASE_REPLICA_URL"):
        app.config.setdefault("SQLALCHEMY_BINDS", {})[replica.REPLICA] = {
            "url": sqlalchemy_url(app.config["DATABASE_REPLICA_URL"]),
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
        }
    db.init_app(app)
    replica.register(app)
    migrate.init_app(
        app, db, directory=str(Path(ROOT, "migrations")), compare_type=True, render_as_batch=True
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = lazy_gettext("Please log in to continue.")
    login_manager.localize_callback = str  # the lazy message, in the visitor's language
    login_manager.login_message_category = "info"
    app.config.setdefault("RATELIMIT_STORAGE_URI", limiter_storage_uri(app.config))
    limiter.init_app(app)

    @app.teardown_appcontext
    def end_session(_exc):
        # Runs before Flask-SQLAlchemy's own teardown (the last registered runs first). A
        # connection the database dropped (a restart, a failover) cannot be rolled back:
        # drop it instead, so the end of the request is not turned into a 500. A context
        # that never used its session (a signature written alone) has none to close.
        if not db.session.registry.has():
            return
        try:
            db.session.close()
        except DBAPIError:
            db.session().invalidate()

    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            _configure_sqlite(db.engine)
        elif db.engine.dialect.name == "postgresql":
            _configure_postgresql(db.engine)
        for engine in db.engines.values():  # the primary's, and the replica's when set
            if engine.dialect.name == "postgresql":
                ping_when_in_doubt(engine)

    # Imported when an app is built: importing any campaign module runs this package first.
    from campaign.models import BrandMember, User

    @login_manager.user_loader
    def load_user(session_token: str) -> User | None:
        # With their brand memberships and brands, which every page's menu reads (an inbox).
        memberships = joinedload(User.brand_memberships).joinedload(BrandMember.brand)
        found = db.select(User).filter_by(session_token=session_token).options(memberships)
        return db.session.execute(found).unique().scalar_one_or_none()


#: How SQLite transactions begin in this context. Tests set plain "BEGIN" for their own
#: reads so that they don't hold the write lock while the requests they make run.
SQLITE_BEGIN: ContextVar[str] = ContextVar("sqlite_begin", default="BEGIN IMMEDIATE")


def _configure_sqlite(engine) -> None:
    """WAL, a busy timeout, foreign keys, and write transactions that begin IMMEDIATE.

    pysqlite's own transaction handling begins lazily and DEFERRED, so two writers can both
    read and then fail with "database is locked" on upgrade; taking the write lock at BEGIN
    makes the second wait instead.
    """

    # Imported when an app is built: importing any campaign module runs this package first.
    from campaign.models.search_index import register_sqlite_functions

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        register_sqlite_functions(dbapi_connection)

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        connection.exec_driver_sql(SQLITE_BEGIN.get())


def _configure_postgresql(engine) -> None:
    """Typo tolerance: a title or brand name is "similar" to a word from this share of
    trigrams in common (pg_trgm's default, 0.6, misses one dropped letter in "Nortwind")."""

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SET pg_trgm.word_similarity_threshold = 0.5")
        dbapi_connection.commit()


def register_blueprints(app: Flask) -> None:
    # Imported when an app is built: importing any campaign module runs this package first.
    from campaign.accounts.views import bp as accounts_bp
    from campaign.api.views import bp as api_bp
    from campaign.auth.views import bp as auth_bp
    from campaign.boycotts.views import bp as boycotts_bp
    from campaign.brands.views import bp as brands_bp
    from campaign.buycotts.views import bp as buycotts_bp
    from campaign.campaigns.views import bp as campaigns_bp
    from campaign.campaigns.views import topics_bp
    from campaign.community.views import bp as community_bp
    from campaign.deliveries.views import bp as deliveries_bp
    from campaign.dev.views import bp as dev_bp
    from campaign.main.language import bp as language_bp
    from campaign.main.views import bp as main_bp
    from campaign.moderation.views import bp as moderation_bp
    from campaign.petitions.views import bp as petitions_bp
    from campaign.pictures.views import bp as media_bp
    from campaign.pictures.views import register_upload_limit
    from campaign.privacy.views import bp as privacy_bp
    from campaign.proposals.views import bp as proposals_bp
    from campaign.supports.views import bp as supports_bp

    for bp in (
        main_bp,
        auth_bp,
        accounts_bp,
        campaigns_bp,
        topics_bp,
        petitions_bp,
        boycotts_bp,
        buycotts_bp,
        proposals_bp,
        brands_bp,
        moderation_bp,
        supports_bp,
        deliveries_bp,
        community_bp,
        privacy_bp,
        api_bp,
        media_bp,
        language_bp,
    ):
        app.register_blueprint(bp)
    register_upload_limit(app)
    if app.config["SHOW_OUTBOX"]:
        app.register_blueprint(dev_bp)


def page_script(filename: str) -> str:
    """Ask for ``static/filename`` to be loaded at the end of the page being rendered, once
    however many parts of it ask (a macro's widget that needs a script); writes nothing."""
    g.setdefault("page_scripts", {})[filename] = None
    return ""


def page_scripts() -> list[str]:
    """The scripts the page being rendered asked for with :func:`page_script`, in order."""
    return list(g.get("page_scripts", ()))


def register_template_helpers(app: Flask) -> None:
    # Imported when an app is built: importing any campaign module runs this package first.
    from campaign.markdown import render_markdown

    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.globals["show_outbox"] = app.config["SHOW_OUTBOX"]

    from campaign.pictures.views import picture_url

    app.jinja_env.globals["picture_url"] = picture_url

    from campaign import cards

    cards.register(app)

    from campaign.sharing import share_kit

    app.jinja_env.globals["share_kit"] = share_kit

    from campaign.services.reasons import featured_reason, reasons_page

    app.jinja_env.globals.update(featured_reason=featured_reason, reasons_page=reasons_page)

    app.jinja_env.globals.update(page_script=page_script, page_scripts=page_scripts)

    from campaign import page_queries
    from campaign.i18n import CountryNames
    from campaign.services.campaigns import timeline
    from campaign.services.escalation import can_escalate
    from campaign.supports.forms import COUNTRY_NAMES
    from campaign.urls import campaign_url, template_url_for

    app.jinja_env.globals.update(
        url_for=template_url_for,
        campaign_url=campaign_url,
        can_escalate=can_escalate,
        campaign_comments=page_queries.campaign_comments,
        comments_page_number=page_queries.comments_page_number,
        conditional_summary=page_queries.conditional_summary,
        top_countries=page_queries.top_countries,
        latest_public_supporters=page_queries.latest_public_supporters,
        supports_per_day=page_queries.supports_per_day,
        momentum_chart=page_queries.momentum_chart,
        timeline=timeline,
        country_names=CountryNames(COUNTRY_NAMES),
    )
