"""Simulated supporters: each has its own browser session, CSRF token and client address.

The session cookie and CSRF token are made by the app's own code (Flask's session serializer
and Flask-WTF's ``generate_csrf``) with the production secret key, exactly as the sign form's
GET would hand them out, so the POST goes through the real CSRF check. Each supporter gets a
distinct ``X-Forwarded-For`` address (the app trusts one proxy hop with ``PROXY_FIX=1``), so
the per-address rate limit stays on and is never hit by two supporters sharing an address.
Addresses come from 198.18.0.0/15 (RFC 2544, set aside for benchmarks), then 2001:db8::/32
(documentation): they only ever appear in a header; all traffic is to 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from urllib.parse import urlencode

from flask import Flask, g, session
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select

from campaign.extensions import db
from campaign.jobs.supports import support_token
from campaign.models import Support

_BENCH_V4 = ipaddress.IPv4Network("198.18.0.0/15")
_DOC_V6 = ipaddress.IPv6Network("2001:db8::/32")

Request = tuple[str, str, str, dict[str, str]]


def client_address(i: int) -> str:
    """The ``i``-th supporter's own address, as the per-IP limit counts them: an IPv4
    address of the benchmarking block, then (past its 131,070) an IPv6 /64 each, since the
    limit counts an IPv6 address's /64 (campaign.services.abuse.limit_key). Addresses in
    one /64 made every signature past the first five over the limit, held by a second
    statement: the end-to-end surge, whose addresses come after the others', was all such."""
    if i < _BENCH_V4.num_addresses - 2:
        return str(_BENCH_V4.network_address + 1 + i)
    return str(_DOC_V6.network_address + ((1 + i) << 64) + 1)


def sign_form(prefix: str, i: int, token: str) -> str:
    return urlencode(
        {
            "csrf_token": token,
            "name": f"Supporter {prefix} {i}",
            "email": f"{prefix}.{i}@bench.example",
            "country": "GB",
            "is_public": "y",
            "consents_to_updates": "y",
            "submit": "Sign",
        }
    )


def sign_requests(
    app: Flask, slug: str, prefix: str, count: int, first_address: int, base_url: str
) -> Iterator[Request]:
    """POSTs of the real sign form by ``count`` distinct supporters of campaign ``slug``."""
    cookie_name = app.config["SESSION_COOKIE_NAME"]
    serializer = app.session_interface.get_signing_serializer(app)
    page = f"/petitions/{slug}"
    with app.test_request_context(page):
        for i in range(count):
            session.pop("csrf_token", None)
            g.pop("csrf_token", None)
            token = generate_csrf()
            cookie = serializer.dumps(dict(session))
            yield (
                "POST",
                f"{page}/support",
                sign_form(prefix, i, token),
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "Cookie": f"{cookie_name}={cookie}",
                    "Referer": f"{base_url}{page}",
                    "X-Forwarded-For": client_address(first_address + i),
                },
            )


def bare_sign_requests(
    slug: str, prefix: str, count: int, first_address: int, base_url: str, route: str = "support"
) -> Iterator[Request]:
    """The same POSTs, as many bytes, to the bare ceiling (which reads no cookie or token);
    ``route``: ``support``, or ``support-owed`` (the support marked as owed its email)."""
    page = f"/bare/{slug}"
    filler_cookie = "session=" + "x" * 120
    filler_token = "y" * 86
    for i in range(count):
        yield (
            "POST",
            f"{page}/{route}",
            sign_form(prefix, i, filler_token),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "Cookie": filler_cookie,
                "Referer": f"{base_url}{page}",
                "X-Forwarded-For": client_address(first_address + i),
            },
        )


def pending_supports(campaign_id: int) -> list[Support]:
    return list(
        db.session.execute(
            select(Support)
            .where(Support.campaign_id == campaign_id, Support.confirmed_at.is_(None))
            .order_by(Support.id)
        ).scalars()
    )


def confirm_requests(campaign_id: int) -> list[Request]:
    """The emailed confirmation links of every pending support of a campaign, opened."""
    return [
        ("GET", f"/supports/confirm/{support_token('confirm-support', s)}", "", {})
        for s in pending_supports(campaign_id)
    ]


def lean_confirm_requests(campaign_id: int) -> list[Request]:
    """The app's confirmation links of a campaign's pending supports, for the lean prototype."""
    return [
        ("GET", f"/lean/confirm/{support_token('confirm-support', s)}", "", {})
        for s in pending_supports(campaign_id)
    ]


def bare_confirm_requests(campaign_id: int) -> list[Request]:
    return [("GET", f"/bare/confirm/{s.id}", "", {}) for s in pending_supports(campaign_id)]
