"""The home page."""

from flask import Blueprint, Response, current_app, render_template
from sqlalchemy import func, text
from sqlalchemy.exc import DBAPIError

from campaign.extensions import db
from campaign.kinds import KINDS
from campaign.models import (
    PUBLIC_STATES,
    Brand,
    Campaign,
    CampaignState,
    utcnow,
)
from campaign.services.campaigns import timeline

bp = Blueprint("main", __name__)


@bp.route("/")
def home():
    latest = (
        db.session.execute(
            db.select(Campaign)
            .filter_by(state=CampaignState.OPEN)
            .order_by(Campaign.published_at.desc(), Campaign.id.desc())
            .limit(8)
        )
        .scalars()
        .all()
    )
    counts = dict(
        db.session.execute(
            db.select(Campaign.kind, func.count()).filter_by(state=CampaignState.OPEN).group_by(Campaign.kind)
        ).all()
    )
    # Momentum (supports of the last seven days, kept on the row), not recency: one index.
    trending = (
        db.session.execute(
            db.select(Campaign)
            .where(Campaign.state == CampaignState.OPEN, Campaign.momentum > 0)
            .order_by(Campaign.momentum.desc(), Campaign.id.desc())
            .limit(4)
        )
        .scalars()
        .all()
    )
    victories = (
        db.session.execute(
            db.select(Campaign).filter_by(state=CampaignState.WON).order_by(Campaign.won_at.desc()).limit(3)
        )
        .scalars()
        .all()
    )
    asked = db.session.execute(
        db.select(Brand, func.count(Campaign.id).label("n"))
        .join(Campaign, Campaign.target_brand_id == Brand.id)
        .where(Campaign.state.in_(PUBLIC_STATES))
        .group_by(Brand.id)
        .order_by(func.count(Campaign.id).desc(), Brand.name)
        .limit(5)
    ).all()
    return render_template(
        "main/home.html",
        latest=latest,
        counts=counts,
        kinds=KINDS,
        trending=trending,
        victories=victories,
        asked=asked,
    )


@bp.route("/victories.atom")
def victories_feed():
    won = (
        db.session.execute(
            db.select(Campaign).filter_by(state=CampaignState.WON).order_by(Campaign.won_at.desc()).limit(50)
        )
        .scalars()
        .all()
    )

    body = render_template("feeds/victories.atom.xml", won=won, updated=won[0].won_at if won else utcnow())
    return Response(body, mimetype="application/atom+xml")


@bp.route("/victories")
def victories():
    """Campaigns won: the story, the brand's words and the timeline."""
    won = (
        db.session.execute(
            db.select(Campaign).filter_by(state=CampaignState.WON).order_by(Campaign.won_at.desc()).limit(50)
        )
        .scalars()
        .all()
    )
    return render_template("main/victories.html", won=won, timeline=timeline)


@bp.route("/healthz")
def health():
    """For a load balancer's health check: 200 while this host reaches its database, else
    503, so a host cut off from the database is taken out of rotation."""
    try:
        db.session.execute(text("SELECT 1"))
    except DBAPIError:
        db.session.rollback()
        return current_app.response_class("database unreachable\n", status=503, mimetype="text/plain")
    response = current_app.response_class("ok\n", mimetype="text/plain")
    response.cache_control.no_store = True
    return response
