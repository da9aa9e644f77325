"""Configuration classes, chosen by ``GROUNDSWELL_ENV`` and filled from the environment.

Every setting can be overridden by an environment variable of the same name; the embedded
default (development) needs none. See README.md for the full list.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

from campaign.signing import instance_key

ROOT = Path(__file__).resolve().parent.parent


class Config:
    ENV_NAME = "base"
    SECRET_KEY: str | None = None
    SQLALCHEMY_DATABASE_URI: str | None = None
    # No pool_pre_ping (a round trip on every checkout): a PostgreSQL connection is checked
    # before use only when it may have gone (campaign.dbutil.ping_when_in_doubt); a SQLite
    # file's cannot go.
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    REDIS_URL: str | None = None
    # Redis through Sentinel (production with failover): "host:port,host:port" of the
    # sentinels and the name of the service they watch; used instead of REDIS_URL when set.
    REDIS_SENTINELS: list[tuple[str, int]] | None = None
    REDIS_SERVICE = "groundswell"
    # A PostgreSQL streaming replica the public pages, the API and count.json may read from
    # (see campaign/replica.py): skipped while it lags more than REPLICA_MAX_LAG_SECONDS; a
    # browser that changed something reads the primary for REPLICA_READ_YOUR_WRITES_SECONDS.
    DATABASE_REPLICA_URL: str | None = None
    REPLICA_MAX_LAG_SECONDS = 5.0
    REPLICA_READ_YOUR_WRITES_SECONDS = 15
    # file:// (a folder of .eml files) or smtp://user:pass@host:port (smtps:// for TLS).
    MAIL_URL: str | None = None
    MAIL_FROM = "Groundswell <no-reply@groundswell.localhost>"
    # How long a fan-out batch's claim on its receipts stands: a run that finds them claimed
    # more recently leaves them (and is retried); a worker killed mid-batch has the emails it
    # left unmarked sent again once its claim lapses. A batch stops at half of it.
    MAIL_CLAIM_SECONDS = 120
    # Absolute base of links in emails, which jobs build without a request.
    PUBLIC_URL = "http://127.0.0.1:5000"
    RQ_QUEUES = ("high", "default", "bulk")
    SHOW_OUTBOX = False

    EMAIL_TOKEN_MAX_AGE = int(timedelta(days=3).total_seconds())
    RESET_TOKEN_MAX_AGE = int(timedelta(hours=2).total_seconds())
    SUPPORT_TOKEN_MAX_AGE = int(timedelta(days=7).total_seconds())
    # Unsubscribe and withdraw links keep working for as long as emails are kept.
    STANDING_TOKEN_MAX_AGE = int(timedelta(days=3 * 365).total_seconds())

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    PERMANENT_SESSION_LIFETIME = timedelta(days=14)
    WTF_CSRF_TIME_LIMIT = 3600 * 8

    RATELIMIT_ENABLED = True
    RATELIMIT_SIGNUP = "5 per minute;20 per hour"
    RATELIMIT_LOGIN = "10 per minute;100 per hour"
    # Wrong passwords for one account from one address, and from all addresses together.
    RATELIMIT_LOGIN_ACCOUNT = "10 per 15 minutes"
    RATELIMIT_LOGIN_ACCOUNT_ANYWHERE = "50 per hour"
    RATELIMIT_CAMPAIGN_CREATE = "10 per hour"
    # Comments on proposals, per member.
    RATELIMIT_COMMENT = "3 per minute;20 per hour;50 per day"
    # Per IP and campaign. Over it a support is stored as suspect and never counted; the
    # signer sees the same pages as anyone (a bot learns nothing from the answer).
    RATELIMIT_SUPPORT = "1 per minute;5 per 5 minutes"
    # Per account (the typed address), whatever the IP: sign-up and reset emails.
    RATELIMIT_SIGNUP_ACCOUNT = "3 per hour"
    RATELIMIT_RESET_ACCOUNT = "5 per hour"
    # Confirmation emails of supports, across all campaigns: per recipient mailbox (its
    # canonical address) and per IP that typed the addresses. Over either, no email is sent
    # (the support waits, uncounted, for a later try).
    RATELIMIT_CONFIRMATION_MAILBOX = "3 per hour;6 per day"
    RATELIMIT_CONFIRMATION_IP = "30 per hour;100 per day"
    # The hourly report lists IPs and email domains with this many supports on one
    # campaign in one hour.
    ABUSE_REPORT_THRESHOLD = 20
    # It also lists IPs, IP ranges and email domains that signed this many campaigns in one
    # hour, however few times each.
    ABUSE_SPREAD_THRESHOLD = 10
    # Per stall (its link skips the per-IP limit): over it a support is held for review.
    RATELIMIT_STALL = "1 per 10 seconds"
    # Likes per member, reports of supporters' reasons per IP.
    RATELIMIT_REASON_LIKE = "30 per minute;500 per day"
    RATELIMIT_REASON_REPORT = "10 per hour"
    RATELIMIT_HEADERS_ENABLED = True
    # While Redis is unreachable (a restart, a failover) each web process keeps the limits in
    # its own memory instead of failing the request; they move back to Redis when it returns.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True

    # Behind N reverse proxies, trust N X-Forwarded-* hops (client address, scheme, host);
    # 0 trusts none, so a client cannot forge its address to dodge limits or poison links.
    PROXY_FIX = 0
    # Host names the app answers to (None: any, for development); production requires it, or
    # a foreign Host header would be reflected in links the app builds.
    TRUSTED_HOSTS: list[str] | None = None
    # Strict-Transport-Security (sent when cookies are secure): its optional parts.
    HSTS_INCLUDE_SUBDOMAINS = False
    HSTS_PRELOAD = False
    MAX_CONTENT_LENGTH = 5 * 1024 * 1024

    CAMPAIGNS_PER_PAGE = 12
    # Seconds a web process may reuse what a surge reads most (a campaign's count, its page
    # for visitors who are not logged in, whether any abuse rule exists); 0 turns it off.
    HOT_CACHE_SECONDS = 1.0
    # Campaign cards each web process keeps rendered, keyed on the values they show (about
    # 1.5 KB each; campaign/cards.py); 0 renders every card anew.
    CARD_CACHE_SIZE = 5_000
    # The sweeper (run by the clock every SWEEP_EVERY_SECONDS) re-enqueues work asked for more
    # than SWEEP_AFTER_SECONDS ago whose job was lost: Redis lost it, or its worker died.
    SWEEP_EVERY_SECONDS = 60
    SWEEP_AFTER_SECONDS = 300
    # Periodic jobs (campaign/clock.py's SCHEDULE, by name) this deployment's clocks leave
    # out. The bench leaves out the two that would rewrite its seeded campaigns mid-run.
    CLOCK_SKIP: tuple[str, ...] = ()
    # A request to fold confirmed supports into the counts stands this long: under load, one
    # fold job a second serves them all (0: each fold clears it as it starts).
    FOLD_REQUEST_SECONDS = 1.0
    # Confirmation emails: a signature asks for the dispatcher unless a request stands; a
    # request stands CONFIRMATION_DISPATCH_SECONDS, renewed by the dispatcher while it runs,
    # which stays that long once nothing is owed (0: every signature asks; the tests). It
    # claims CONFIRMATION_BATCH owed emails at a time (on PostgreSQL by their rows' locks,
    # gone with a dead worker's transaction), and on SQLite takes back a claim older than
    # CONFIRMATION_CLAIM_SECONDS (its worker died before marking the batch sent).
    CONFIRMATION_DISPATCH_SECONDS = 1.0
    CONFIRMATION_BATCH = 200
    CONFIRMATION_CLAIM_SECONDS = 120
    # A dispatcher that has run this long hands over to a new one (a job of its own) after
    # its batch: well within RQ's job timeout (180 s), however long a surge lasts.
    CONFIRMATION_DISPATCHER_SECONDS = 60.0
    # Supporters' personal details are anonymised this many days after a campaign ends.
    ANONYMISE_AFTER_DAYS = 182
    PRIVACY_TOKEN_MAX_AGE = int(timedelta(days=1).total_seconds())
    # Where delivery packages are kept (a shared volume when workers run on several hosts).
    DELIVERY_STORAGE: str | None = None
    # Private links to a delivery keep working this long.
    DELIVERY_LINK_MAX_AGE = int(timedelta(days=365).total_seconds())
    # The Ed25519 key that signs delivery statements and the public log: a PEM private key
    # or the base64 of its 32 bytes (``flask signing-key`` prints a new one).
    SIGNING_KEY: str | None = None
    # Where pictures and logos are kept, re-encoded, under content-hash names (a volume
    # shared by every web process in production).
    MEDIA_STORAGE: str | None = None
    # An upload is refused above this many bytes or pixels (a small file can unpack to a
    # huge image: a decompression bomb).
    MEDIA_MAX_BYTES = 10 * 1024 * 1024
    MEDIA_MAX_PIXELS = 40_000_000

    def finalise(self, app) -> None:
        """Fill in values that depend on the instance folder or the environment."""


class DevelopmentConfig(Config):
    ENV_NAME = "development"
    SHOW_OUTBOX = True

    def finalise(self, app) -> None:
        instance = Path(app.instance_path)
        instance.mkdir(parents=True, exist_ok=True)
        if not app.config.get("SECRET_KEY"):
            app.config["SECRET_KEY"] = _instance_secret(instance / "secret_key")
        app.config.setdefault("SQLALCHEMY_DATABASE_URI", None)
        if not app.config.get("SQLALCHEMY_DATABASE_URI"):
            app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{instance / 'groundswell.db'}"
        if not app.config.get("REDIS_URL"):
            app.config["REDIS_URL"] = f"unix://{instance / 'redis.sock'}"
        if not app.config.get("MAIL_URL"):
            app.config["MAIL_URL"] = f"file://{instance / 'outbox'}"
        if not app.config.get("DELIVERY_STORAGE"):
            app.config["DELIVERY_STORAGE"] = str(instance / "deliveries")
        if not app.config.get("SIGNING_KEY"):
            app.config["SIGNING_KEY"] = instance_key(instance / "signing_key.pem")
        if not app.config.get("MEDIA_STORAGE"):
            app.config["MEDIA_STORAGE"] = str(instance / "media")


class TestingConfig(DevelopmentConfig):
    ENV_NAME = "testing"
    TESTING = True
    WTF_CSRF_ENABLED = True
    RATELIMIT_ENABLED = False
    # Password hashing dominates a test run otherwise; production keeps Werkzeug's default.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
    # Each test reads what it just wrote; the cache's own tests turn it on.
    HOT_CACHE_SECONDS = 0.0
    FOLD_REQUEST_SECONDS = 0.0
    CONFIRMATION_DISPATCH_SECONDS = 0.0


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    PREFERRED_URL_SCHEME = "https"

    def finalise(self, app) -> None:
        missing = [
            name
            for name in (
                "SECRET_KEY",
                "SQLALCHEMY_DATABASE_URI",
                "MAIL_URL",
                "DELIVERY_STORAGE",
                "MEDIA_STORAGE",
                "SIGNING_KEY",
                "TRUSTED_HOSTS",
            )
            if not app.config.get(name)
        ]
        if not (app.config.get("REDIS_URL") or app.config.get("REDIS_SENTINELS")):
            missing.append("REDIS_URL")
        if missing:
            raise RuntimeError(
                "Production configuration is missing: "
                + ", ".join(_ENV_NAMES.get(name, name) for name in missing)
            )


_ENV_NAMES = {"SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}

CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}

# Settings read from the environment, by variable name, with the converter to apply.
_FROM_ENV = {
    "SECRET_KEY": ("SECRET_KEY", str),
    "DATABASE_URL": ("SQLALCHEMY_DATABASE_URI", str),
    "REDIS_URL": ("REDIS_URL", str),
    "REDIS_SENTINELS": ("REDIS_SENTINELS", lambda v: parse_host_ports(v, 26379)),
    "REDIS_SERVICE": ("REDIS_SERVICE", str),
    "DATABASE_REPLICA_URL": ("DATABASE_REPLICA_URL", str),
    "REPLICA_MAX_LAG_SECONDS": ("REPLICA_MAX_LAG_SECONDS", float),
    "REPLICA_READ_YOUR_WRITES_SECONDS": ("REPLICA_READ_YOUR_WRITES_SECONDS", int),
    "MAIL_URL": ("MAIL_URL", str),
    "MAIL_FROM": ("MAIL_FROM", str),
    "MAIL_CLAIM_SECONDS": ("MAIL_CLAIM_SECONDS", int),
    "PUBLIC_URL": ("PUBLIC_URL", str),
    "DELIVERY_STORAGE": ("DELIVERY_STORAGE", str),
    "SIGNING_KEY": ("SIGNING_KEY", str),
    "MEDIA_STORAGE": ("MEDIA_STORAGE", str),
    "RATELIMIT_ENABLED": ("RATELIMIT_ENABLED", lambda v: v.lower() in {"1", "true", "yes"}),
    "RATELIMIT_SUPPORT": ("RATELIMIT_SUPPORT", str),
    "RATELIMIT_SIGNUP": ("RATELIMIT_SIGNUP", str),
    "RATELIMIT_LOGIN": ("RATELIMIT_LOGIN", str),
    "RATELIMIT_CAMPAIGN_CREATE": ("RATELIMIT_CAMPAIGN_CREATE", str),
    "RATELIMIT_COMMENT": ("RATELIMIT_COMMENT", str),
    "RATELIMIT_LOGIN_ACCOUNT": ("RATELIMIT_LOGIN_ACCOUNT", str),
    "RATELIMIT_LOGIN_ACCOUNT_ANYWHERE": ("RATELIMIT_LOGIN_ACCOUNT_ANYWHERE", str),
    "RATELIMIT_SIGNUP_ACCOUNT": ("RATELIMIT_SIGNUP_ACCOUNT", str),
    "RATELIMIT_RESET_ACCOUNT": ("RATELIMIT_RESET_ACCOUNT", str),
    "RATELIMIT_CONFIRMATION_MAILBOX": ("RATELIMIT_CONFIRMATION_MAILBOX", str),
    "RATELIMIT_CONFIRMATION_IP": ("RATELIMIT_CONFIRMATION_IP", str),
    "ABUSE_REPORT_THRESHOLD": ("ABUSE_REPORT_THRESHOLD", int),
    "ABUSE_SPREAD_THRESHOLD": ("ABUSE_SPREAD_THRESHOLD", int),
    "RATELIMIT_STALL": ("RATELIMIT_STALL", str),
    "PROXY_FIX": ("PROXY_FIX", int),
    "ANONYMISE_AFTER_DAYS": ("ANONYMISE_AFTER_DAYS", int),
    "HOT_CACHE_SECONDS": ("HOT_CACHE_SECONDS", float),
    "CARD_CACHE_SIZE": ("CARD_CACHE_SIZE", int),
    "SWEEP_EVERY_SECONDS": ("SWEEP_EVERY_SECONDS", int),
    "CLOCK_SKIP": ("CLOCK_SKIP", lambda v: tuple(n.strip() for n in v.split(",") if n.strip())),
    "SWEEP_AFTER_SECONDS": ("SWEEP_AFTER_SECONDS", int),
    "FOLD_REQUEST_SECONDS": ("FOLD_REQUEST_SECONDS", float),
    "CONFIRMATION_DISPATCH_SECONDS": ("CONFIRMATION_DISPATCH_SECONDS", float),
    "CONFIRMATION_BATCH": ("CONFIRMATION_BATCH", int),
    "CONFIRMATION_CLAIM_SECONDS": ("CONFIRMATION_CLAIM_SECONDS", int),
    "CONFIRMATION_DISPATCHER_SECONDS": ("CONFIRMATION_DISPATCHER_SECONDS", float),
    "TRUSTED_HOSTS": ("TRUSTED_HOSTS", lambda v: [h.strip() for h in v.split(",") if h.strip()]),
    "HSTS_INCLUDE_SUBDOMAINS": ("HSTS_INCLUDE_SUBDOMAINS", lambda v: v.lower() in {"1", "true", "yes"}),
    "HSTS_PRELOAD": ("HSTS_PRELOAD", lambda v: v.lower() in {"1", "true", "yes"}),
}


def config_class(name: str | None = None) -> type[Config]:
    """The config class for ``name`` or ``GROUNDSWELL_ENV`` (default: development)."""
    name = name or os.environ.get("GROUNDSWELL_ENV", "development")
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"GROUNDSWELL_ENV={name!r} is not one of: {', '.join(CONFIGS)}") from None


def load_environment(app) -> None:
    """Copy the documented environment variables into ``app.config``."""
    for env_name, (key, convert) in _FROM_ENV.items():
        value = os.environ.get(env_name)
        if value:
            app.config[key] = convert(value)
    # Connections each web process keeps (SQLAlchemy's default: 5): at least the requests
    # it serves at once, or each one over it opens and closes a connection of its own (an
    # async worker serving many requests at once needs more).
    pool_size = os.environ.get("DATABASE_POOL_SIZE")
    if pool_size:
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **app.config["SQLALCHEMY_ENGINE_OPTIONS"],
            "pool_size": int(pool_size),
        }
    for key in ("SQLALCHEMY_DATABASE_URI", "DATABASE_REPLICA_URL"):
        if app.config.get(key):
            app.config[key] = sqlalchemy_url(app.config[key])


def sqlalchemy_url(url: str) -> str:
    """A PostgreSQL URL naming psycopg 3 (Heroku-style URLs name the old driver)."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def parse_host_ports(value: str, default_port: int) -> list[tuple[str, int]]:
    """``"a:26379,b"`` → ``[("a", 26379), ("b", default_port)]``."""
    pairs = []
    for item in value.split(","):
        host, _, port = item.strip().rpartition(":") if ":" in item else (item.strip(), "", "")
        if host:
            pairs.append((host, int(port) if port else default_port))
    return pairs


def _instance_secret(path: Path) -> str:
    """Read the development secret from ``path``, creating it once."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process of the launcher wrote it first
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key
