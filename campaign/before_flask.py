"""What a WSGI middleware answering some requests before Flask (:mod:`campaign.hot_count`,
:mod:`campaign.supports.lane`) must check first: that the visitor carries nothing for which
Flask would answer otherwise (a session, a login, the read-your-writes cookie), and that the
request's Host is one the app trusts (Flask answers 400 otherwise; the sign form's lane,
:mod:`campaign.supports.sign_lane`, which takes a session, checks the Host alone)."""

from __future__ import annotations

from flask import Config
from werkzeug.exceptions import SecurityError
from werkzeug.http import parse_cookie
from werkzeug.wsgi import get_host

from campaign import replica


class Visitors:
    """The app's private cookies and trusted hosts, read once from its config."""

    def __init__(self, config: Config) -> None:
        self.private_cookies = {
            config["SESSION_COOKIE_NAME"],
            config.get("REMEMBER_COOKIE_NAME", "remember_token"),
            replica.FRESH_COOKIE,
        }
        self.trusted_hosts = config.get("TRUSTED_HOSTS")

    def may_answer(self, environ: dict) -> bool:
        """Whether a request with this environ may be answered before Flask."""
        cookies = environ.get("HTTP_COOKIE")
        if cookies and not self.private_cookies.isdisjoint(parse_cookie(cookies)):
            return False
        return self.trusts_host(environ)

    def trusts_host(self, environ: dict) -> bool:
        """Whether the request's Host is one the app trusts (any, when none is set)."""
        if self.trusted_hosts:
            try:
                get_host(environ, self.trusted_hosts)
            except SecurityError:
                return False  # Flask answers 400
        return True
