"""The home page."""

from flask import Blueprint, render_template
from sqlalchemy import func

from campaign.extensions import db
from campaign.models import CAMPAIGN_CLASSES, Campaign, CampaignState

bp = Blueprint("main", __name__)


@bp.route("/")
def home():
    latest = db.session.execute(
        db.select(Campaign).filter_by(state=CampaignState.OPEN)
        .order_by(Campaign.published_at.desc(), Campaign.id.desc()).limit(8)
    ).scalars().all()
    counts = dict(db.session.execute(
        db.select(Campaign.kind, func.count()).filter_by(state=CampaignState.OPEN)
        .group_by(Campaign.kind)
    ).all())
    return render_template("main/home.html", latest=latest, counts=counts,
                           kinds=CAMPAIGN_CLASSES)


@bp.route("/victories.atom")
def victories_feed():
    from flask import Response

    won = db.session.execute(
        db.select(Campaign).filter_by(state=CampaignState.WON)
        .order_by(Campaign.won_at.desc()).limit(50)).scalars().all()
    from campaign.models import utcnow

    body = render_template("feeds/victories.atom.xml", won=won,
                           updated=won[0].won_at if won else utcnow())
    return Response(body, mimetype="application/atom+xml")


@bp.route("/victories")
def victories():
    """Campaigns won: the story, the brand's words and the timeline."""
    from campaign.packages import timeline

    won = db.session.execute(
        db.select(Campaign).filter_by(state=CampaignState.WON)
        .order_by(Campaign.won_at.desc()).limit(50)
    ).scalars().all()
    return render_template("main/victories.html", won=won, timeline=timeline)
