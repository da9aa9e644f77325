"""The campaign page as every visitor who is not logged in sees it, cached whole.

In a surge most of a campaign's readers are visitors refreshing its page. Their page is the
same for all of them but for one thing: the support form's CSRF token, which is personal.
So their page carries no token (and is public and cacheable); ``static/js/csrf.js`` fetches
the visitor's own token from ``supports.form_token`` when they start filling in the form.
Without script, the first POST is answered with the form again, filled in and now with a
token, and nothing saved (see ``supports.views``). A page with a token stays ``no-store``.

Members, visitors with a message waiting (a flash) and visitors arriving from a share (a
valid ``?ref=``, remembered in their session) get the page rendered for them, as before.
Query parameters the page does not use are ignored: they cannot make a visitor's request
miss the cache. The page of comments (``?comments=``) is part of the cached page's key.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, current_app, make_response, request, session
from flask_babel import get_locale

from campaign import hot_cache

#: Seconds browsers and shared caches may keep the public page, and serve it stale meanwhile.
MAX_AGE = 2
STALE_WHILE_REVALIDATE = 30


def same_for_every_visitor() -> bool:
    """True when this request would get the page any visitor who is not logged in gets."""
    return (
        request.method in ("GET", "HEAD")
        and "_user_id" not in session
        and "_flashes" not in session
        # A browser that supported sees the page say so: its own page, not the shared one.
        and "last_support" not in session
        and current_app.config.get("REMEMBER_COOKIE_NAME", "remember_token") not in request.cookies
    )


def response(blueprint: str, slug: str, render: Callable[[], str], variant=None) -> Response:
    """The public page of ``slug``, rendered by ``render()`` at most once per
    ``HOT_CACHE_SECONDS`` in this process (per host and language: links and words differ;
    per ``variant``, what the page reads from its query string)."""
    key = ("page", blueprint, slug, request.host_url, _locale(), variant)
    page = make_response(hot_cache.cached(key, render))
    if session.modified:
        # Rendering touched this visitor's own session (Flask-Login marks it): not for sharing.
        page.cache_control.private = True
    else:
        page.cache_control.public = True
        page.cache_control.max_age = MAX_AGE
        page.cache_control.stale_while_revalidate = STALE_WHILE_REVALIDATE
    return page


def _locale() -> str:
    return str(get_locale())
