"""``count.json`` for anonymous pollers, answered before Flask's request machinery.

A surge is watched by thousands of pages polling a campaign's count. What they get is the
same for all of them and already in this process's hot cache; a Flask request would still
build a request context, open the session, ask Flask-Login, negotiate a language and run
every ``before_request`` and ``after_request`` hook, which cost more than the answer. So a
small WSGI middleware recognises ``GET``/``HEAD /api/v1/campaigns/<slug>/count.json`` from a
visitor who carries no session, login or read-your-writes cookie, and answers it from the
hot cache, with its ``ETag`` (and ``304`` when ``If-None-Match`` matches), the
``Cache-Control`` and the security headers the app sends. Everything else falls through to
Flask: members, a count not in the cache (Flask's view reads it and fills the cache, at most
once per ``HOT_CACHE_SECONDS`` per process), an unknown campaign (its JSON 404), a Host the
app does not trust, a query string with a NUL byte. With ``HOT_CACHE_SECONDS`` 0 nothing is
cached, so every request falls through.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from typing import NamedTuple

from flask import Flask
from werkzeug.http import parse_etags

from campaign import hot_cache, security
from campaign.before_flask import Visitors

PATH = re.compile(r"/api/v1/campaigns/([^/]+)/count\.json")
#: What the count may be kept for by browsers and shared caches (and served stale meanwhile).
MAX_AGE = 2
STALE_WHILE_REVALIDATE = 30
CACHE_CONTROL = f"public, max-age={MAX_AGE}, stale-while-revalidate={STALE_WHILE_REVALIDATE}"


class CountBody(NamedTuple):
    """A campaign's ``count.json`` as sent, with its strong ETag."""

    body: bytes
    etag: str

    @classmethod
    def of(cls, body: bytes) -> CountBody:
        return cls(body, hashlib.blake2b(body, digest_size=8).hexdigest())


def cache_key(slug: str) -> tuple[str, str]:
    return ("count.json", slug)


class HotCountMiddleware:
    """Wraps ``app.wsgi_app``: answers anonymous ``count.json`` requests from the hot cache."""

    def __init__(self, app: Flask, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app
        config = app.config
        self.visitors = Visitors(config)
        self.headers = [
            ("Content-Type", "application/json"),
            ("Cache-Control", CACHE_CONTROL),
            ("Vary", "Cookie"),
            *security.baseline_headers(config),
        ]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        hit = self._cached(environ)
        if hit is None:
            return self.wsgi_app(environ, start_response)
        etag = f'"{hit.etag}"'
        headers = [*self.headers, ("ETag", etag)]
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and parse_etags(if_none_match).contains_weak(hit.etag):
            start_response("304 NOT MODIFIED", [h for h in headers if h[0] != "Content-Type"])
            return []
        headers.append(("Content-Length", str(len(hit.body))))
        start_response("200 OK", headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [hit.body]

    def _cached(self, environ: dict) -> CountBody | None:
        """The cached count this request may be answered with, or None to let Flask answer."""
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
            return None
        match = PATH.fullmatch(environ.get("PATH_INFO", ""))
        if match is None:
            return None
        body = hot_cache.peek(cache_key(match.group(1)))
        if not isinstance(body, CountBody):
            return None  # not cached now, or not a public campaign: Flask says which
        if "%00" in environ.get("QUERY_STRING", ""):
            return None  # Flask refuses NUL bytes with a 400
        if not self.visitors.may_answer(environ):
            return None
        return body
