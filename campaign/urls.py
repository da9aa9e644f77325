"""Links to pages: a campaign's (one helper for every kind), and absolute links for emails,
built without a request from ``PUBLIC_URL``."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import current_app, url_for


def external_url(endpoint: str, **values) -> str:
    """The absolute URL of ``endpoint`` under the configured ``PUBLIC_URL``."""
    base = urlsplit(current_app.config["PUBLIC_URL"])
    adapter = current_app.url_map.bind(
        base.netloc, url_scheme=base.scheme, script_name=base.path.rstrip("/") or "/"
    )
    return adapter.build(endpoint, values, force_external=True)


#: what a URL carries as it is, in a path or a query (RFC 3986's unreserved characters)
_UNRESERVED = re.compile(r"[A-Za-z0-9._~-]+")


def external_url_maker(endpoint: str, name: str, **values) -> Callable[[str], str]:
    """``lambda value: external_url(endpoint, **{name: value}, **values)``, for a batch's many
    links that differ in one value (a signed token): the URL is built once, and each value
    that needs no quoting is put in its place (any other is built as usual)."""
    marker = secrets.token_hex(8)
    before, after = external_url(endpoint, **{name: marker}, **values).split(marker)

    def url(value: str) -> str:
        if _UNRESERVED.fullmatch(value):
            return before + value + after
        return external_url(endpoint, **{name: value}, **values)

    return url


def campaign_url(campaign, endpoint: str = "show", **values) -> str:
    """The URL of one of ``campaign``'s pages (``show``, ``edit``, ``supporters``…) under its
    kind's blueprint; ``_external=True`` for an absolute one (in a request)."""
    return url_for(f"{campaign.blueprint}.{endpoint}", slug=campaign.slug, **values)


def campaign_external_url(campaign, endpoint: str = "show", **values) -> str:
    """The absolute URL of one of ``campaign``'s pages under ``PUBLIC_URL``, for emails and
    jobs (no request needed)."""
    return external_url(f"{campaign.blueprint}.{endpoint}", slug=campaign.slug, **values)
