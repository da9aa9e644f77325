"""Styled error pages; a 500 rolls back whatever the request left half-done, and an outage
of the database or Redis is a 503 that says to try again, never a 500."""

import logging

from flask import (
    Flask,
    current_app,
    g,
    has_request_context,
    jsonify,
    make_response,
    message_flashed,
    render_template,
    request,
    url_for,
)
from flask.globals import request_ctx
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

from campaign.extensions import db

log = logging.getLogger(__name__)

#: What a restart or failover of PostgreSQL or Redis raises in a request: the service is
#: briefly unreachable, not broken, and the request changed nothing that was not committed.
OUTAGES = (OperationalError, InterfaceError, PoolTimeoutError, RedisConnectionError, RedisTimeoutError)
RETRY_AFTER_SECONDS = 5

# Pages show these in the visitor's language; the JSON API answers in English.
MESSAGES = {
    400: (_l("Something was wrong with that request"), _l("Please go back and try again.")),
    403: (_l("You can’t do that here"), _l("This page is for someone with a different role or account.")),
    404: (_l("Page not found"), _l("The page you asked for isn’t here. It may have moved or never existed.")),
    405: (_l("Not allowed"), _l("That page can’t be used that way.")),
    413: (
        _l("That was too large"),
        _l("What you sent is over the size limit (5 MB for a form, 10 MB for a picture). Nothing was saved."),
    ),
    429: (
        _l("Slow down a little"),
        _l(
            "Too many requests came from you in a short time. "
            "Wait a minute, then try again. Nothing was saved."
        ),
    ),
    503: (
        _l("Back in a moment"),
        _l(
            "Groundswell is briefly unavailable, perhaps for maintenance. "
            "Nothing you sent was half-saved: please try again in a "
            "minute."
        ),
    ),
    500: (
        _l("Something went wrong on our side"),
        _l("We have been told. Nothing you sent was half-saved; please try again in a moment."),
    ),
}


LOGIN_LIMITED = _l(
    "Too many wrong passwords were tried for this account. You can still get "
    "in now: a password reset link, sent by email, logs you in."
)


def render_error(code: int, detail: str | None = None, action: tuple | None = None):
    title, text = MESSAGES.get(code, MESSAGES[500])
    if request.path.startswith("/api/"):
        with force_locale("en"):
            message = str(detail or title)
        return jsonify(error={"status": code, "message": message}), code
    if has_request_context() and request_ctx.url_adapter is None:
        # A request refused before routing (a Host not in TRUSTED_HOSTS) has no URL adapter:
        # the page's links cannot be built, so the answer is plain text.
        return current_app.response_class(f"{title}\n", status=code, mimetype="text/plain")
    return render_template(
        "errors/error.html", code=code, title=title, text=detail or text, action=action
    ), code


def register(app: Flask) -> None:
    def handle(exc: HTTPException):
        # Our own abort(…, description=…) messages are meant for people; Werkzeug's defaults
        # are replaced by ours.
        own = exc.description if exc.description != type(exc).description and exc.code != 429 else None
        if exc.code == 429 and request.endpoint == "auth.login":
            return render_error(
                429, LOGIN_LIMITED, action=(_l("Email me a reset link"), url_for("auth.request_reset"))
            )
        return render_error(exc.code, own)

    for code in (400, 403, 404, 405, 413, 429):
        app.register_error_handler(code, handle)

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_error(
            400,
            _l(
                "This form had expired or came from another site. Nothing "
                "was saved: reload the page and send it again."
            ),
        )

    @app.errorhandler(500)
    def server_error(exc):
        db.session.rollback()
        return render_error(500)

    for outage in OUTAGES:
        app.register_error_handler(outage, unavailable)

    register_sent_back(app)


def form_sent_back() -> str:
    """Mark this response as a form sent back with its mistakes (it will answer 400).

    The error summary macro calls it whenever it lists errors, so every form page does it.
    """
    g.form_sent_back = True
    return ""


def register_sent_back(app: Flask) -> None:
    """A form sent back with mistakes answers 400, on every page: the error summary marks it,
    and so does an error flashed while answering a POST with a page instead of a redirect
    (a service refused what the form asked)."""
    app.add_template_global(form_sent_back)

    def error_flashed(sender, message, category, **extra):
        if category == "error" and request.method == "POST":
            g.form_sent_back = True

    message_flashed.connect(error_flashed, app)

    @app.after_request
    def sent_back_is_400(response):
        if g.get("form_sent_back") and response.status_code == 200:
            response.status_code = 400
        return response


def unavailable(exc: Exception):
    """503 with ``Retry-After`` when the database or Redis cannot be reached.

    The page is standalone: the usual layout asks the database who is logged in, which is
    what just failed. Whatever the request had begun is rolled back (or already gone with the
    connection).
    """
    log.warning(
        "service unavailable for %s %s: %s: %s",
        request.method,
        request.path,
        type(exc).__name__,
        str(exc).splitlines()[0] if str(exc) else "",
    )
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone: nothing to roll back
        db.session().invalidate()
    title, text = MESSAGES[503]
    if request.path.startswith("/api/"):
        with force_locale("en"):
            title = str(title)
        response = jsonify(error={"status": 503, "message": title, "retry_after": RETRY_AFTER_SECONDS})
    else:
        response = make_response(render_template("errors/unavailable.html", title=title, text=text))
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response
