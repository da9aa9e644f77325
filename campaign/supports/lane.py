"""Confirmation links opened without a session, answered before Flask's request machinery.

A surge of signatures is followed by a surge of confirmations: each supporter opens the link
we emailed, most of them in a mail app or a browser that has not been to the site. The pages
they get differ only in the supporter's name, referral code (in the share prompt's links) and
withdraw link, and in the link's own token (in the language switcher's return path). A Flask
request would open the session, ask Flask-Login, run the limiter's and the other hooks and
render the page's template: more CPU than the confirmation itself. So a small WSGI middleware
(beside :mod:`campaign.hot_count`) recognises ``GET`` and ``HEAD /supports/confirm/<token>``
from a visitor who carries no session, login or read-your-writes cookie, confirms with the
view's own service call, and answers with the page rendered once per process for the
campaign, language and outcome with blanks (:mod:`campaign.stencils`; a page has no text part,
so its text is empty), filled with the supporter's values.

A render with blanks is used only once proven: a made-up supporter whose name needs escaping,
rendered alone, must come out as the render filled with their values. The key of a render is
everything the page reads that is not a blank (the site's address, the language, the
campaign's title, address, kind and visibility, the outcome, and for a pledge still waiting
for its threshold the threshold and the count), so a page is never filled for a campaign or
outcome it was not rendered for. Where no render with blanks can stand for the page (a blank a
template changed, or a supporter's value that is empty), it is rendered for that supporter
alone, in a request context, as the view does.

Everything else falls through to Flask: a link that is forged, stale or for a support that is
gone (the view finds the same and answers with its 400 page; nothing was written), a database
or Redis error (the app's 503 page; confirming is idempotent, so running it again is safe),
members and anyone with a session, a Host the app does not trust, a link with a query string
(emailed links have none).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from flask import Flask
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import LanguageAccept
from werkzeug.http import parse_accept_header, parse_cookie
from werkzeug.wsgi import get_host

from campaign import security
from campaign.before_flask import Visitors
from campaign.i18n import COOKIE, locale_for
from campaign.services import supports as service
from campaign.sharing import referral_code
from campaign.stencils import PROBE_ID, PROBE_NAME, Blanks, Stencil
from campaign.supports.views import render_confirmed
from campaign.tokens import TokenError

log = logging.getLogger(__name__)

PREFIX = "/supports/confirm/"
#: The characters of a signed token (URL-safe base64 and its separators): HTML escaping and
#: URL quoting leave them as they are, so a token fills a blank in a path or a query alike.
TOKEN_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
#: Renders kept per process (a page is about 10 KB); when full, the oldest half goes.
PAGES_KEPT = 500
#: The blanks a confirmation page may have; a render with any other is refused.
BLANKS = frozenset({"support_name", "share_code", "withdraw_token", "confirm_token"})
#: The made-up supporter's values, besides the name (any code or token of the right characters).
_PROBE_VALUES = {
    "share_code": "probe0code",
    "withdraw_token": "probe-withdraw.token",
    "confirm_token": "probe-confirm.token",
}


class ConfirmLane:
    """Wraps ``app.wsgi_app``: confirms links opened without a session and answers with the
    page from a render with blanks."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        config = app.config
        self.visitors = Visitors(config)
        self.headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Vary", "Accept-Language, Cookie"),
            *security.baseline_headers(config),
        ]
        #: render key -> the proven render with blanks, or None where none can stand
        self.pages: dict[tuple, Stencil | None] = {}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        token = self._token(environ)
        page = None if token is None else self._confirmed_page(environ, token)
        if page is None:
            return self.wsgi_app(environ, start_response)
        body = page.encode()
        start_response("200 OK", [*self.headers, ("Content-Length", str(len(body)))])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]

    def _token(self, environ: dict) -> str | None:
        """The token of a confirmation link this lane may answer, or None to let Flask."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return None
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return None
        token = path[len(PREFIX) :]
        if not token or not TOKEN_CHARACTERS.issuperset(token):
            return None
        if environ.get("QUERY_STRING"):
            return None  # the switcher's return path would carry it: not in the render's key
        if not self.visitors.may_answer(environ):
            return None
        return token

    def _confirmed_page(self, environ: dict, token: str) -> str | None:
        """Confirm, and the page for it; None (nothing written) to let Flask answer."""
        try:
            with self.app.app_context():
                support, confirmed_now = service.confirm(token)
                values = {
                    "support_name": support.name,
                    "share_code": referral_code(support.id),
                    "withdraw_token": service.support_token("withdraw", support),
                    "confirm_token": token,
                }
        except (TokenError, SQLAlchemyError, RedisError):
            return None
        key = self._key(environ, support, confirmed_now)
        if key not in self.pages:
            if len(self.pages) >= PAGES_KEPT:
                for old in list(self.pages)[: PAGES_KEPT // 2]:
                    self.pages.pop(old, None)  # another thread may have taken it out
            self.pages[key] = self._stencil(environ, support, confirmed_now)
        stencil = self.pages[key]
        filled = stencil.fill(values) if stencil is not None else None
        if filled is None:
            return self._render(environ, support, confirmed_now, values)
        return filled[1]

    @staticmethod
    def _key(environ: dict, support, confirmed_now: bool) -> tuple:
        """Everything the page reads that is not a blank."""
        cookies = parse_cookie(environ.get("HTTP_COOKIE", ""))
        accepted = parse_accept_header(environ.get("HTTP_ACCEPT_LANGUAGE"), LanguageAccept)
        card = support.campaign
        if support.withdrawn_at:
            outcome: tuple = ("withdrawn",)
        elif not confirmed_now:
            outcome = ("already",)
        elif support.condition_threshold and not support.condition_met_at:
            outcome = ("waiting", support.condition_threshold, card.confirmed_count)
        else:
            outcome = ("now",)
        return (
            environ.get("wsgi.url_scheme"),
            get_host(environ),
            environ.get("SCRIPT_NAME", ""),
            locale_for(cookies.get(COOKIE), accepted),
            card.id,
            card.title,
            card.slug,
            card.blueprint,
            card.is_public,
            outcome,
        )

    def _stencil(self, environ: dict, support, confirmed_now: bool) -> Stencil | None:
        """The page rendered with blanks for ``support``'s key, proven; None if none can stand
        for it (told once in the log)."""
        blanks = Blanks()
        values = {name: blanks(name) for name in BLANKS}
        stand_in = support._replace(
            name=values["support_name"], email_canonical=blanks("email"), id=blanks("support_id")
        )
        stencil = blanks.stencil("", self._render(environ, stand_in, confirmed_now, values))
        if stencil is None or not stencil.names <= BLANKS:
            log.warning("the confirmation page cannot be rendered with blanks: it is rendered for each")
            return None
        probe = {"support_name": PROBE_NAME, **_PROBE_VALUES}
        alone = self._render(environ, support._replace(name=PROBE_NAME, id=PROBE_ID), confirmed_now, probe)
        if stencil.fill(probe) != ("", alone):
            log.warning(
                "the confirmation page rendered with blanks differs from its proof: rendered for each"
            )
            return None
        return stencil

    def _render(self, environ: dict, support, confirmed_now: bool, values: dict[str, str]) -> str:
        """The page as the view renders it, in a request for the link of ``values``' token."""
        path = PREFIX + values["confirm_token"]
        link = {**environ, "PATH_INFO": path, "REQUEST_URI": path, "RAW_URI": path}
        with self.app.request_context(link):
            return render_confirmed(support, confirmed_now, values["share_code"], values["withdraw_token"])
