"""Links to pages: a campaign's (one helper for every kind), and absolute links for emails,
built without a request from ``PUBLIC_URL``."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request, url_for


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


#: Links the same on every page, by (script root, endpoint, static file): see template_url_for.
_SAME_EVERYWHERE: dict[tuple[str, str, str | None], str] = {}


def template_url_for(endpoint: str, **values) -> str:
    """``url_for`` for templates. In a request, a link that is the same on every page (an
    endpoint without values, such as the layout's navigation, or a static file) is built
    once per process and site root; building one costs about as much as rendering a line
    of the page, and the layout has twenty. Anything else is built as ``url_for`` does."""
    if not has_request_context() or endpoint.startswith(".") or (values and endpoint != "static"):
        return url_for(endpoint, **values)
    filename = values.pop("filename", None)
    if values or (endpoint == "static" and not isinstance(filename, str)):
        return url_for(endpoint, filename=filename, **values)
    key = (request.script_root, endpoint, filename)
    url = _SAME_EVERYWHERE.get(key)
    if url is None:
        url = url_for(endpoint, filename=filename) if filename is not None else url_for(endpoint)
        if len(_SAME_EVERYWHERE) < 1000:
            _SAME_EVERYWHERE[key] = url
    return url
