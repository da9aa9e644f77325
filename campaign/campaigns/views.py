"""Browsing campaigns of every kind, and choosing which kind to start."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for

from campaign.extensions import db
from campaign.models import CAMPAIGN_CLASSES, PUBLIC_STATES, Campaign, CampaignKind, CampaignState
from campaign.search import matching_text, page_number

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")


@bp.route("/")
def browse():
    kind_name = request.args.get("kind", "")
    query = request.args.get("q", "").strip()[:100]
    page = page_number()
    stmt = db.select(Campaign).where(Campaign.state.in_(PUBLIC_STATES))
    kind = None
    if kind_name:
        try:
            kind = CampaignKind(kind_name)
        except ValueError:
            abort(404)
        stmt = stmt.where(Campaign.kind == kind)
    if query:
        stmt = matching_text(stmt, query)
    # Open campaigns first, newest first.
    stmt = stmt.order_by((Campaign.state == CampaignState.OPEN).desc(),
                         Campaign.published_at.desc(), Campaign.id.desc())
    pagination = db.paginate(stmt, page=page, per_page=current_app.config["CAMPAIGNS_PER_PAGE"],
                             error_out=False)
    return render_template("campaigns/browse.html", pagination=pagination, kind=kind,
                           query=query, kinds=CAMPAIGN_CLASSES)


@bp.route("/new")
def choose_kind():
    return render_template("campaigns/choose.html", kinds=CAMPAIGN_CLASSES)


@bp.route("/<slug>")
def by_slug(slug: str):
    """A kind-neutral address that forwards to the campaign's own page."""
    from campaign.campaigns.kinds import can_view

    campaign = db.session.execute(db.select(Campaign).filter_by(slug=slug)).scalar_one_or_none()
    if campaign is None or not can_view(campaign):
        abort(404)
    return redirect(url_for(f"{campaign.blueprint}.show", slug=slug), 301)
