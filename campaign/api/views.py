"""The public, read-only JSON API, version 1. Every error is JSON with its HTTP status."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, jsonify, request, url_for
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from campaign import hot_cache, hot_count
from campaign.extensions import db
from campaign.models import (
    PUBLIC_STATES,
    Brand,
    Buycott,
    Campaign,
    CampaignKind,
    CampaignState,
    CountryCount,
    Endorsement,
    Topic,
)
from campaign.search import SORTS, Filters, browse_page, count_campaigns
from campaign.supports.forms import COUNTRY_NAMES
from campaign.urls import campaign_url

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_PER_PAGE = 100
#: ``total`` counts matches up to this many (``total_exact`` is false beyond): an exact
#: count of every match would grow with the table.
MAX_TOTAL = 1_000


class BadParameter(Exception):
    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name = name
        self.message = message


@bp.errorhandler(BadParameter)
def bad_parameter(exc: BadParameter):
    return jsonify(error={"status": 400, "message": exc.message, "parameter": exc.name}), 400


def _int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, f"{name} must be a whole number") from None
    if not low <= value <= high:
        raise BadParameter(name, f"{name} must be between {low} and {high}")
    return value


def _enum_arg(name: str, enum_cls):
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return enum_cls(raw)
    except ValueError:
        allowed = ", ".join(m.value for m in enum_cls)
        raise BadParameter(name, f"{name} must be one of: {allowed}") from None


def campaign_summary(campaign: Campaign) -> dict:
    return {
        "slug": campaign.slug,
        "kind": campaign.kind.value,
        "title": campaign.title,
        "summary": campaign.summary,
        "state": campaign.state.value,
        "goal": campaign.goal,
        "count": campaign.confirmed_count,
        "brands": [{"name": b.name, "slug": b.slug} for b in campaign.brands()],
        "published_at": campaign.published_at.isoformat() if campaign.published_at else None,
        "closes_at": campaign.closes_at.isoformat() if campaign.closes_at else None,
        "url": campaign_url(campaign, _external=True),
        "api_url": url_for("api.campaign", slug=campaign.slug, _external=True),
    }


def _with_brands(campaigns: list[Campaign]) -> list[Campaign]:
    """``campaigns``, the brands their summaries name read for all of them at once: a
    buycott's are those it endorses, which ``brands()`` would read one buycott at a time.
    One query of the endorsements (with their brands), set as each buycott's loaded list."""
    buycotts = {c.id: c for c in campaigns if isinstance(c, Buycott)}
    if buycotts:
        endorsed: dict[int, list[Endorsement]] = {campaign_id: [] for campaign_id in buycotts}
        rows = db.session.execute(
            select(Endorsement)
            .where(Endorsement.campaign_id.in_(buycotts))
            .options(joinedload(Endorsement.brand))
            .order_by(Endorsement.id)  # the relationship's own order
        ).scalars()
        for endorsement in rows:
            endorsed[endorsement.campaign_id].append(endorsement)
        for campaign_id, buycott in buycotts.items():
            set_committed_value(buycott, "endorsements", endorsed[campaign_id])
    return campaigns


def _public_campaign(slug: str) -> Campaign:
    campaign = db.session.execute(
        select(Campaign).where(Campaign.slug == slug, Campaign.state.in_(PUBLIC_STATES))
    ).scalar_one_or_none()
    if campaign is None:
        abort(404, description=f"No public campaign has the slug {slug!r}.")
    return campaign


@bp.route("/campaigns")
def campaigns():
    """Public campaigns. Filters: kind, state, brand (slug; with every brand it owns), topic
    (slug), country (where supporters are), q (the site's search); sort (trending, newest,
    supported, closing, won; by default newest, or best match with q); paging."""
    page = _int_arg("page", 1, 1, 10_000)
    per_page = _int_arg("per_page", 20, 1, MAX_PER_PAGE)
    filters = Filters(
        kind=_enum_arg("kind", CampaignKind),
        state=_enum_arg("state", CampaignState),
        query=request.args.get("q", "").strip()[:100],
    )
    if filters.state is not None and filters.state not in PUBLIC_STATES:
        raise BadParameter("state", "state must be one of: open, won, closed")
    brand_slug = request.args.get("brand")
    if brand_slug:
        # A brand suggested but not approved is answered as an unknown one: it is not public.
        filters.brand = db.session.execute(
            select(Brand).filter_by(slug=brand_slug).where(Brand.approved_at.is_not(None))
        ).scalar_one_or_none()
        if filters.brand is None:
            raise BadParameter("brand", f"no brand has the slug {brand_slug!r}")
    topic_slug = request.args.get("topic")
    if topic_slug:
        filters.topic = db.session.execute(select(Topic).filter_by(slug=topic_slug)).scalar_one_or_none()
        if filters.topic is None:
            raise BadParameter("topic", f"no topic has the slug {topic_slug!r}")
    country = request.args.get("country")
    if country:
        if country.upper() not in COUNTRY_NAMES:
            raise BadParameter("country", "country must be a two-letter ISO 3166 code")
        filters.country = country.upper()
    sort = request.args.get("sort")
    if sort and sort not in SORTS:
        raise BadParameter("sort", "sort must be one of: " + ", ".join(SORTS))
    filters.sort = sort or (None if filters.query else "newest")
    result = browse_page(filters, page, per_page)
    total = count_campaigns(filters, MAX_TOTAL)
    # Keys starting with "_" mean something to url_for (_external, _anchor): never pass them.
    args = {k: v for k, v in request.args.items() if k != "page" and not k.startswith("_")}
    return jsonify(
        campaigns=[campaign_summary(c) for c in _with_brands(result.items)],
        page=page,
        per_page=per_page,
        total=min(total, MAX_TOTAL),
        total_exact=total <= MAX_TOTAL,
        next=url_for("api.campaigns", page=page + 1, _external=True, **args) if result.has_next else None,
        prev=url_for("api.campaigns", page=page - 1, _external=True, **args) if result.has_prev else None,
    )


@bp.route("/campaigns/<slug>")
def campaign(slug: str):
    campaign = _public_campaign(slug)
    by_country = dict(
        db.session.execute(
            select(CountryCount.country, CountryCount.count)
            .where(CountryCount.campaign_id == campaign.id, CountryCount.count > 0)
            .order_by(CountryCount.count.desc(), CountryCount.country)
        ).all()
    )
    return jsonify(campaign=campaign_summary(campaign), counts_by_country=by_country)


@bp.route("/campaigns/<slug>/count.json")
def count(slug: str):
    """The cached count: cheap enough to poll while a campaign surges.

    Each process reads it at most once per ``HOT_CACHE_SECONDS``: thousands of watchers
    polling cost one query a second, and the count is folded in seconds anyway. Visitors
    without a session are mostly answered before Flask, from the same cache
    (:mod:`campaign.hot_count`), with the same headers.
    """
    cached = hot_cache.cached(hot_count.cache_key(slug), lambda: _count_body(slug))
    if cached is None:
        abort(404, description=f"No public campaign has the slug {slug!r}.")
    response = current_app.response_class(cached.body, mimetype="application/json")
    response.headers["Cache-Control"] = hot_count.CACHE_CONTROL
    response.set_etag(cached.etag)
    return response.make_conditional(request)


def _count_body(slug: str) -> hot_count.CountBody | None:
    row = db.session.execute(
        select(Campaign.confirmed_count, Campaign.goal).where(
            Campaign.slug == slug, Campaign.state.in_(PUBLIC_STATES)
        )
    ).first()
    if row is None:
        return None
    body = json.dumps({"count": row.confirmed_count, "goal": row.goal, "slug": slug}, separators=(",", ":"))
    return hot_count.CountBody.of(body.encode() + b"\n")
